/* SPDX-License-Identifier: Apache-2.0 */
/*
 * summary.h - running totals of a session, for the closing summary and for
 * --fail-on. Pure.
 */
#ifndef BLOCKSNOOP_SUMMARY_H
#define BLOCKSNOOP_SUMMARY_H

#include <stdint.h>

#include "event.h"

struct session_summary {
	double duration_s;
	uint64_t event_count;
	uint64_t error_event_count;
	double total_blocked_ms;
	double max_blocked_ms;
	uint64_t lost_event_count;
	/* Why the session ended: "target_exit", "duration", "signal",
	 * "runtime_error"; and the outcome: "completed", "interrupted",
	 * "failed". Static strings. */
	const char *termination_reason;
	const char *status;
};

/* Count one event into s. Cannot fail. */
void summary_add_event(struct session_summary *s, const struct blocking_event *e);

#endif
