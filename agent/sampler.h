/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sampler.h - the built-in Python stack sampler.
 *
 * It samples only watched threads, and only while they are blocked: on each
 * tick it reads every watched thread's "out of epoll since" time from the
 * detector (a memory read, no syscall) and samples the threads whose current
 * gap has lasted at least a quarter of their threshold. An idle loop, or
 * one whose callbacks are all short, costs one timer wake-up per interval.
 *
 * Samples are attributed to gaps exactly: a sample counts for the gap whose
 * start time the detector showed both before and after the read, and an
 * event collects the samples of the gap with its own start_ns. No time
 * windows, no guessing.
 */
#ifndef BLOCKSNOOP_SAMPLER_H
#define BLOCKSNOOP_SAMPLER_H

#include <stdint.h>
#include <sys/types.h>

#include "detector.h"
#include "stacks.h"

struct sampler;

/* The default interval for a threshold: threshold/10, within [0.5, 50] ms. */
uint64_t sampler_default_interval_ns(uint64_t threshold_ns);

/*
 * A sampler ticking every interval_ns, reading gap state from det (which
 * must outlive it). NULL with errno set on failure.
 */
struct sampler *sampler_new(struct detector *det, uint64_t interval_ns);

/* Stop and free everything. Accepts NULL. */
void sampler_free(struct sampler *s);

/*
 * Sample thread tid of pid, watched in detector slot `slot`, during its gaps
 * of at least threshold_ns / 4. The Python process is opened lazily (so a
 * launched command can first start its interpreter). 0 or -errno.
 */
int sampler_watch(struct sampler *s, int slot, pid_t pid, pid_t tid,
		  uint64_t threshold_ns);

/* Stop sampling a slot and drop its samples. Idempotent. */
void sampler_unwatch(struct sampler *s, int slot);

/* The timer fd to wait on; call sampler_tick() when it is readable. */
int sampler_fd(const struct sampler *s);

/*
 * Called while a block goes on: once it has lasted its threshold and at
 * least STILL_BLOCKED_AFTER_MIN_S, then every STILL_BLOCKED_EVERY_S seconds.
 * `current` holds the most recent stack.
 */
#define STILL_BLOCKED_AFTER_MIN_S 1
#define STILL_BLOCKED_EVERY_S 5
typedef void (*still_blocked_fn)(void *ctx, int slot, uint64_t gap_start_ns,
				 uint64_t now_ns, const struct stack_set *current);

/* Take the samples that are due. Never fails; problems reading a target
 * are reported once (on stderr) and the target is retried with backoff. */
void sampler_tick(struct sampler *s, still_blocked_fn fn, void *ctx);

/*
 * The stacks sampled during the gap of `slot` that began at start_ns (the
 * event's start_ns), with their source lines, most sampled first; the caller
 * owns the result (stack_set_free). NULL if no sample was taken in it.
 */
struct stack_set *sampler_take(struct sampler *s, int slot, uint64_t start_ns);

#endif
