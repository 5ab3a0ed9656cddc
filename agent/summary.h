/* SPDX-License-Identifier: Apache-2.0 */
/*
 * summary.h - running totals of a session, for the closing summary and for
 * --fail-on. Pure.
 */
#ifndef BLOCKSNOOP_SUMMARY_H
#define BLOCKSNOOP_SUMMARY_H

#include <stdint.h>
#include <sys/types.h>

#include "anatomy.h"
#include "event.h"
#include "stacks.h"

/* Where blocks happened: the innermost application frame of the stack
 * most sampled during each event. */
struct call_site {
	struct frame frame;   /* interned strings, referenced (no source) */
	uint64_t count;
	double total_blocked_ms;
	double max_blocked_ms;
	/* Its events' time per anatomy class (events without an anatomy
	 * add nothing). */
	double class_ms[ANATOMY_CLASSES];
};

/* The class that took most of a call site's measured time ("cpu",
 * "sleep", ...), or NULL if none of its events had an anatomy. */
const char *summary_site_class(const struct call_site *site);

/* Records a JSON output could not write (a full disk, a closed pipe). */
struct dropped_records {
	const char *output; /* "stdout" or "log_file"; static */
	uint64_t count;
};

/* JSON outputs a session can have: stdout and a log file, with room. */
#define SUMMARY_MAX_OUTPUTS 4

#define SUMMARY_MAX_SITES 1024

/* The blocks of one process (the events' pid, as records give it). */
struct process_blocks {
	pid_t pid;
	char name[PROCESS_NAME_LEN]; /* its name at its latest event */
	uint64_t event_count;
	uint64_t error_event_count;
	double total_blocked_ms;
	double max_blocked_ms;
};

/* Processes with a place of their own in the summary: a target that forks
 * without end must not grow it. */
#define SUMMARY_MAX_PROCESSES 64

struct session_summary {
	double duration_s;
	uint64_t event_count;
	uint64_t error_event_count;
	double total_blocked_ms;
	double max_blocked_ms;
	uint64_t lost_event_count;
	/* Per JSON output in use, as the reporter collected them from its
	 * sinks just before the summary (reporter_session_end). */
	struct dropped_records dropped[SUMMARY_MAX_OUTPUTS];
	size_t noutputs;
	/* Agent mode: blocking events over their pod's rate limit, counted
	 * here instead of reported (not in event_count). */
	uint64_t suppressed_event_count;
	/* Why the session ended: "target_exit", "duration", "signal",
	 * "runtime_error"; and the outcome: "completed", "interrupted",
	 * "failed". Static strings. */
	const char *termination_reason;
	const char *status;
	/* The call sites seen (at most SUMMARY_MAX_SITES: then a new one
	 * replaces the one with the least blocked time);
	 * summary_top_call_sites() ranks them. */
	struct call_site *sites;
	size_t nsites, sites_cap;
	/* Blocks per process: at most SUMMARY_MAX_PROCESSES places; when they
	 * are taken, a new process replaces the one with the least blocked
	 * time, whose counts go to other_processes (pid 0, no name): the
	 * places and other_processes always add up to the totals above.
	 * summary_top_processes() ranks them. */
	struct process_blocks processes[SUMMARY_MAX_PROCESSES];
	size_t nprocesses;
	struct process_blocks other_processes;
};

/* Count one event into s (and its call site, if it has stacks). Out of
 * memory only loses the call site. */
void summary_add_event(struct session_summary *s, const struct blocking_event *e);

/* Sort s's call sites by total blocked time (then count), descending, and
 * return how many there are, at most max. */
size_t summary_top_call_sites(struct session_summary *s, size_t max);

/* Sort s's processes by total blocked time (then count), descending, and
 * return how many there are, at most max. */
size_t summary_top_processes(struct session_summary *s, size_t max);

/* Free the call sites (and give back their strings). */
void summary_release(struct session_summary *s);

#endif
