/* SPDX-License-Identifier: Apache-2.0 */
/*
 * event.h - one blocking event as the rest of blocksnoop sees it: the
 * kernel's gap, numbered, placed in wall-clock time and levelled. Stack
 * samplers attach their findings through `stacks`.
 */
#ifndef BLOCKSNOOP_EVENT_H
#define BLOCKSNOOP_EVENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct stack_set; /* Python stacks seen during the event; see the samplers */
struct event_anatomy; /* where the gap's time went; see anatomy.h */

/* A process's name as the kernel keeps it (comm): at most 15 characters. */
#define PROCESS_NAME_LEN 16

/* Where a watched process runs, in Kubernetes agent mode. */
struct k8s_meta {
	const char *node, *namespace, *pod, *pod_uid, *container, *container_id;
};

/* Per-target tags; NULL fields fall back to the session's. */
struct target_meta {
	const char *service;         /* overrides --service for this target */
	const struct k8s_meta *k8s;  /* NULL outside Kubernetes */
};

struct blocking_event {
	uint64_t number;          /* 1, 2, ... within the session */
	uint64_t start_ns;        /* kernel CLOCK_MONOTONIC, return from epoll */
	uint64_t end_ns;          /* kernel CLOCK_MONOTONIC, next epoll entry */
	struct timespec wall_start; /* start_ns on CLOCK_REALTIME */
	double timestamp_s;       /* start, in seconds since the session began */
	double duration_ms;
	pid_t pid, tid;           /* in blocksnoop's PID namespace */
	/* Its process's name (comm), printable ASCII only; "" if unknown.
	 * Never NULL. */
	const char *process_name;
	bool is_error;            /* duration_ms >= --error-threshold */
	const struct stack_set *stacks; /* NULL: no stack captured */
	/* Which sampler its thread has (stacks or the reason for none came
	 * from it): an enum sampler_kind (options.h); SAMPLER_NONE: none. */
	int sampler;
	const struct target_meta *meta; /* NULL: the session's own target */
	/* Where the thread's time went (anatomy.h); NULL if not measured
	 * (stats mode, a kernel without the scheduler programs). */
	const struct event_anatomy *anatomy;
};

/*
 * A block still in progress, reported once it passes the threshold and every
 * few seconds after, so that a hung loop never goes unreported. The final
 * blocking_event follows when (if) the block ends.
 */
struct still_blocked {
	uint64_t start_ns;          /* kernel CLOCK_MONOTONIC, return from epoll */
	uint64_t now_ns;            /* when this report was made */
	struct timespec wall_start;
	double timestamp_s;         /* start, in seconds since the session began */
	double blocked_ms;          /* so far */
	pid_t pid, tid;
	const char *process_name;   /* as in struct blocking_event */
	bool is_error;
	/* The most recent stack, and (stacks->gil) the GIL holder if the
	 * block so far waited for the GIL; NULL if none. */
	const struct stack_set *stacks;
	const struct target_meta *meta; /* NULL: the session's own target */
	/* Where the thread's time went so far (anatomy.h); NULL as for
	 * struct blocking_event. */
	const struct event_anatomy *anatomy;
};

#endif
