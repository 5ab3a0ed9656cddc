/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detector.h - user-space half of the gap detector (bpf/gap_detector.bpf.c):
 * loads and attaches it, runs its watches, and delivers gaps and what the
 * kernel side did on its own (task notices).
 *
 * A watch is what the caller asks for: a process (its main thread, one
 * chosen thread, or all its threads), a threshold, and whether the
 * processes it forks are followed. Every watched thread has a slot (an
 * index < MAX_WATCHED_THREADS) that events carry and the samplers poll.
 * Threads and processes the kernel side starts watching on its own (a
 * followed child, a new thread of an all-threads watch) are announced by
 * task notices, as are their exits.
 *
 * Process and thread ids are in blocksnoop's own PID namespace throughout.
 * Nothing here is thread-safe: one thread uses a detector.
 */
#ifndef BLOCKSNOOP_DETECTOR_H
#define BLOCKSNOOP_DETECTOR_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gap_detector.h"
#include "gap_hist.h"

struct detector;

/* How many tasks the kernel side follows at once by default. */
#define DETECTOR_FOLLOW_LIMIT 4096

struct detector_options {
	/* At most this many processes and threads followed by the kernel
	 * side at once (more are counted in follow_overflow); 0: the default,
	 * DETECTOR_FOLLOW_LIMIT. */
	uint32_t follow_limit;
	/* Run as on a kernel without task storage for tracing programs
	 * (thread-id lookups, nothing followed). For tests. */
	bool no_task_storage;
	/* Run as on a kernel without pidfds for threads (before 6.9): other
	 * threads than the main one are marked by thread id. For tests. */
	bool no_thread_pidfd;
	/* Keep a loop histogram for each watch with WATCH_F_LOOP_HIST: a
	 * map of MAX_WATCHES * sizeof(struct loop_hist) (1.1 MiB), made only
	 * when asked for. */
	bool loop_hists;
	/* Leave the gap anatomy out (stats mode): no scheduler programs, and
	 * every gap_event's anatomy is zero (not GAP_ANATOMY_F_MEASURED).
	 * Without task storage it is always left out. */
	bool no_anatomy;
	/* Load what wakes the built-in sampler when a gap reaches its
	 * sampling point (detector_wake_fd()). Where the kernel cannot (no
	 * task storage, no BTF tracepoints for hrtimer_expire_entry and
	 * sched_switch, no BPF timers), or without this, the sampler polls. */
	bool sampler_wake;
};

/*
 * Load the BPF programs and attach one enter/exit pair per epoll variant the
 * kernel has (at least one pair is needed), mounting tracefs if it is
 * missing. Where the kernel has BTF tracepoints and task storage for
 * tracing programs, the programs find watched threads in task storage and
 * follow processes (detector_can_follow()); elsewhere they look threads up
 * by id and follow nothing. With task storage, unless o says no_anatomy,
 * a sched_switch program measures each gap's anatomy (gap_event.anatomy);
 * a kernel that refuses it gets the rest without it (said on stderr).
 * o may be NULL (defaults). On success returns 0
 * and *out; the caller frees it with detector_free(). On failure returns
 * EXIT_PRIVILEGE or EXIT_RUNTIME (exit_codes.h) with a one-line reason in
 * err, and nothing stays loaded.
 */
int detector_open_with(struct detector **out, const struct detector_options *o,
		       char *err, size_t errlen);

/* detector_open_with() with the default options. */
int detector_open(struct detector **out, char *err, size_t errlen);

/* Detach and unload everything. Accepts NULL. */
void detector_free(struct detector *d);

/* Whether WATCH_F_FOLLOW and WATCH_F_ALL_THREADS work on this kernel. */
bool detector_can_follow(const struct detector *d);

struct watch_spec {
	pid_t pid;             /* the process */
	pid_t tid;             /* its thread to watch; 0: the main thread */
	uint64_t threshold_ns; /* gaps shorter than this are not reported */
	/* WATCH_F_HISTOGRAM: count gaps into the stats histogram instead of
	 * sending events. WATCH_F_ALL_THREADS: every thread of the process,
	 * now and later, once it returns from epoll (tid is ignored).
	 * WATCH_F_FOLLOW: every process a member process forks from now on
	 * joins the watch before its first instruction (its main thread, or
	 * all its threads), also across exec. WATCH_F_LOOP_HIST: every gap
	 * of the watch is counted into its loop histogram (needs
	 * detector_options.loop_hists). The flags, threshold and watch id are
	 * inherited. */
	uint32_t flags;
};

/*
 * Start a watch. Without WATCH_F_ALL_THREADS the chosen thread gets a slot
 * now, stored in *slot (may be NULL); the caller owns that slot until the
 * watch ends (its thread exiting only deactivates it). Every other slot of
 * the watch is given out by the kernel side (TASK_NOTICE_THREAD_ADDED) and
 * taken back when its thread exits (TASK_NOTICE_THREAD_GONE); *slot is -1
 * with WATCH_F_ALL_THREADS.
 * Returns the watch id (> 0), or -EEXIST (the thread is watched already),
 * -ENOSPC (no free slot or watch), -EOPNOTSUPP (FOLLOW or ALL_THREADS, and
 * !detector_can_follow(); LOOP_HIST without detector_options.loop_hists), -EINVAL (other flags), -ESRCH (the process is
 * gone; only with FOLLOW or ALL_THREADS: a plain watch of a thread that
 * does not exist is kept in case its id appears), or another -errno.
 */
int detector_add_watch(struct detector *d, const struct watch_spec *spec, int *slot);

/*
 * Make the existing process pid a member of a watch, as the kernel side does
 * for a process a member forks: its main thread (or, with ALL_THREADS, each
 * of its threads) gets a slot from the kernel side on its first return from
 * epoll. Returns 0, -EEXIST (already a member of a watch), -ESRCH, -ENOENT
 * (no such watch), -EOPNOTSUPP (!detector_can_follow()), or -errno.
 */
int detector_add_process(struct detector *d, int watch, pid_t pid);

/*
 * Make every descendant of member process pid that exists now a member of
 * its watch (WATCH_F_FOLLOW): children are listed from
 * /proc/PID/task/TID/children only after their parent became a member, so a
 * process forked during the walk is either listed or followed by the
 * kernel side. A process whose parent exits during the walk is reparented
 * out of the tree and not added. At most follow_limit processes are added.
 * Returns how many were added, or -errno.
 */
int detector_add_descendants(struct detector *d, int watch, pid_t pid);

/*
 * End a watch: its slots are freed, its marks are dropped (the kernel side
 * drops each when it next sees it), and its events and notices still queued
 * are not delivered. Idempotent; accepts ids that are not watches.
 */
void detector_remove_watch(struct detector *d, int watch);

/*
 * The watch a slot belongs to, and the pid and tid it watches; 0 if the slot
 * is free. A caller's own slot keeps its values until its watch ends; a
 * slot of the kernel side's until its THREAD_GONE notice is delivered.
 */
int detector_slot_watch(const struct detector *d, int slot);
pid_t detector_slot_pid(const struct detector *d, int slot);
pid_t detector_slot_tid(const struct detector *d, int slot);

/*
 * When the slot's thread last left epoll (CLOCK_MONOTONIC ns), or 0 while
 * it is waiting inside epoll or the slot is not in use. A plain memory
 * read: cheap enough to poll.
 */
uint64_t detector_gap_open_since(const struct detector *d, int slot);

/*
 * What the kernel measured so far of slot's gap that began at gap_start_ns
 * (its entry in the anatomy_slots map, gap_detector.h) into *out, the
 * slot's generation into *gen, and the CLOCK_MONOTONIC time it was read
 * into *read_ns: anatomy_so_far() (anatomy.h) makes the anatomy of the gap
 * up to *read_ns from them. The kernel updates the entry at each of the
 * thread's context switches, without a lock: a copy that changed while it
 * was read is read again. Returns 0; -ESTALE if that gap was no longer
 * open once the entry was read (its event will have its anatomy);
 * -ENODATA if gaps have no anatomy here (detector_options.no_anatomy, or
 * the scheduler programs could not be loaded); -EINVAL for a slot out of
 * range; -EAGAIN if no stable copy could be read; or -errno of the lookup.
 */
int detector_read_anatomy(const struct detector *d, int slot, uint64_t gap_start_ns,
			  struct anatomy_slot *out, uint32_t *gen, uint64_t *read_ns);

/*
 * Waking the built-in sampler (docs/architecture.md, "Waking the sampler").
 * detector_wake_fd() is an fd that becomes readable when a gap of a slot
 * given to detector_wake_slot() reaches its sampling point
 * (WAKE_SAMPLING_POINT of its threshold), once per gap; -1 if the kernel
 * side cannot wake anyone here, with why in *why (for -v; may be NULL).
 */
int detector_wake_fd(const struct detector *d, const char **why);

/* Wake (on) for the gaps of slot's thread from now on, until the slot is
 * given to another thread, or no longer (!on). Without detector_wake_fd(),
 * does nothing. */
void detector_wake_slot(struct detector *d, int slot, bool on);

/* Forget the wakes waiting (their fd is then no longer readable until the
 * next one). Returns how many there were, or -errno. */
int detector_wake_drain(struct detector *d);

/* An fd that becomes readable when events or notices are waiting. */
int detector_events_fd(const struct detector *d);

struct detector_handlers {
	/* A gap at or over its watch's threshold. */
	void (*gap)(void *ctx, const struct gap_event *e);
	/* What the kernel side did on its own; NULL if not wanted. A
	 * thread's THREAD_ADDED comes before its first gap; a gap may come
	 * after its THREAD_GONE (it was queued before). Notices lost to a
	 * full ring are made up for from the slots (THREAD_* only, with
	 * time_ns 0); lost process notices are only counted. */
	void (*task)(void *ctx, const struct task_notice *n);
};

/*
 * Deliver every event and notice waiting, without blocking; events and
 * notices of watches ended since are dropped. Returns the number of events
 * delivered, or -errno.
 */
int detector_dispatch(struct detector *d, const struct detector_handlers *h, void *ctx);

struct detector_counts {
	uint64_t lost_events;     /* gap events the events ring had no room for */
	uint64_t lost_notices;    /* notices the notices ring had no room for */
	uint64_t follow_overflow; /* forks and clones not followed (follow_limit) */
	uint64_t slot_overflow;   /* member threads that found no free slot */
	uint32_t followed;        /* tasks followed by the kernel side now */
	uint32_t slots_in_use;    /* slots out of the free queue now */
	uint64_t wake_arms;       /* sampler wake timers set */
	uint64_t wakes_sent;      /* sampler wakes sent */
	uint64_t wakes_failed;    /* ... not sent (full ring) or timers not set */
};

/* The counters, from memory (no syscall). */
void detector_read_counts(const struct detector *d, struct detector_counts *out);

/* Events the kernel side could not queue (ring buffer full) since open. */
uint64_t detector_lost_events(const struct detector *d);

/* The stats-mode histogram summed over all CPUs into *out. */
int detector_read_stats(const struct detector *d, struct gap_stats *out);

/*
 * The loop histogram of a live watch with WATCH_F_LOOP_HIST, as counted so
 * far, into *out (from memory, no syscall: works without capabilities).
 * Each count only grows while the watch lives; it starts from zero. 0, or
 * -ENOENT (no such watch, or it keeps no histogram).
 */
int detector_read_loop_hist(const struct detector *d, int watch, struct loop_hist *out);

/* Which epoll variants are attached, as a bitmask of 1 << enum epoll_variant. */
unsigned int detector_attached_variants(const struct detector *d);

#endif
