/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s/ratelimit.h - a token bucket: on average at most `rate` events a
 * second, after a burst of up to `burst`. The agent keeps one per pod, so
 * that a pod whose loop blocks all the time cannot flood the node's output.
 * Pure: the caller gives the time (any monotonic clock in ns, e.g. the
 * kernel's timestamps of the events themselves). Unit-tested
 * (tests/unit/test_k8s_ratelimit.c).
 *
 * Over any span of time from t0 to t1, no more than
 * burst + rate * (t1 - t0) events are let through.
 */
#ifndef BLOCKSNOOP_K8S_RATELIMIT_H
#define BLOCKSNOOP_K8S_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct rate_limit {
	double rate;        /* tokens added per second; 0: no limit */
	double burst;       /* most tokens held */
	double tokens;
	uint64_t last_ns;   /* when tokens was last brought up to date */
};

/* A full bucket at now_ns. rate < 0 counts as 0 (no limit), burst 0 as 1.
 * Cannot fail. */
void rate_limit_init(struct rate_limit *rl, double rate, unsigned burst, uint64_t now_ns);

/*
 * One event at now_ns: true if it may go through (a token was taken),
 * false if it is over the limit. A time before the last one seen adds no
 * tokens (events may come a little out of order).
 */
bool rate_limit_take(struct rate_limit *rl, uint64_t now_ns);

#endif
