/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * gap_detector.h - what the kernel side and user space of the gap detector
 * agree on. Fixed-width types only, no pointers: this header is compiled by
 * clang -target bpf and by the host compiler alike.
 *
 * A "gap" is the time a thread spends between returning from one of the
 * epoll_wait family of syscalls and entering the next one. For an asyncio
 * event loop that is the time spent running callbacks: the time the loop was
 * not able to react to I/O.
 *
 * Three kinds of state (docs/architecture.md, "The kernel side"):
 *   - watches: what user space asked for (threshold, flags), inherited by
 *     every process and thread the kernel side follows on its own;
 *   - slots: one per watched thread, its live gap state, read by user space
 *     from the mapped .bss without a syscall;
 *   - marks: per task, "this task belongs to watch W (and has slot S)",
 *     kept in task-local storage (or, where a task cannot be named by a
 *     pidfd or the kernel has no task storage, in a hash map by thread id).
 */
#ifndef BLOCKSNOOP_GAP_DETECTOR_H
#define BLOCKSNOOP_GAP_DETECTOR_H

/* The BPF side gets these types from vmlinux.h, user space from UAPI. */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* How many threads one loaded detector can watch at once. */
#define MAX_WATCHED_THREADS 4096
/* How many watches can exist at once (as many as threads: a watch has one
 * at least). A power of two: watch id N lives in watches[N % MAX_WATCHES]. */
#define MAX_WATCHES 4096
/* task_mark.slot of a thread that has no slot (yet). */
#define NO_SLOT 0xffffffffu

/* Which syscall opened or closed a gap. */
enum epoll_variant {
	EPOLL_VARIANT_WAIT = 0,
	EPOLL_VARIANT_PWAIT = 1,
	EPOLL_VARIANT_PWAIT2 = 2,
	EPOLL_VARIANT_COUNT = 3,
};

/* watch_config.flags, and (ACTIVE, USER, SLOT_WATCH_FLAGS) watch_slot.flags */
enum watch_flags {
	/* In use; the kernel side ignores watches and slots without it. */
	WATCH_F_ACTIVE = 1u << 0,
	/* Stats mode: count the gap in gap_stats instead of sending an event. */
	WATCH_F_HISTOGRAM = 1u << 1,
	/* Every process a member process forks joins the watch, from its
	 * first instruction (its main thread, or all its threads). */
	WATCH_F_FOLLOW = 1u << 2,
	/* Every thread of a member process is watched once it returns from
	 * epoll, also threads created later, not only the main thread. */
	WATCH_F_ALL_THREADS = 1u << 3,
	/* Slot only: user space allocated it and alone frees it; the kernel
	 * side only deactivates it when its thread exits. */
	WATCH_F_USER = 1u << 4,
	/* Count every gap of the watch, whatever its length, into its loop
	 * histogram (loop_hists, gap_hist.h), besides what else it does. */
	WATCH_F_LOOP_HIST = 1u << 5,
};

/* The watch's flags its slots carry too, so that a gap is opened and
 * closed by looking at the slot alone. */
#define SLOT_WATCH_FLAGS (WATCH_F_HISTOGRAM | WATCH_F_LOOP_HIST)

/*
 * One watch, in watches[id % MAX_WATCHES]. User space writes threshold_ns and
 * flags, then id last; it clears flags to end the watch. The kernel side
 * copies threshold_ns and SLOT_WATCH_FLAGS into each slot it gives out.
 */
struct watch_config {
	__u64 threshold_ns;
	__u32 id;    /* 0: unused; ids are never reused by one detector */
	__u32 flags; /* enum watch_flags */
};

/*
 * A slot's flags and generation as one word, changed with compare-and-swap
 * only: a slot is freed once, by whoever wins, and a generation that moved
 * on (the slot was freed and given to another thread) makes the swap fail.
 */
union watch_slot_state {
	struct {
		__u32 flags; /* enum watch_flags: ACTIVE, HISTOGRAM, USER */
		__u32 gen;   /* +1 each time the slot is given out; never 0 then */
	};
	__u64 word;
};

/*
 * One watched thread. The slots live in the program's .bss, which user space
 * maps into its own memory: writing the configuration and reading the
 * "out of epoll since" state cost no syscall.
 *
 * Life: a free slot's index waits in the free_slots queue. Whoever pops it
 * (user space, or the kernel side for a thread it follows) owns it, fills it
 * in, and publishes it by storing state (ACTIVE, new gen) last; only then
 * does a mark name it. It is freed by swapping state to inactive and pushing
 * the index back. The kernel side checks a mark's slot_gen against the
 * slot's gen on every use, so a recycled slot is never misattributed.
 *
 * One cache line each: an epoll call touches one line of the array, and
 * the threads of a busy process, writing their gap starts on several CPUs,
 * do not share lines.
 */
struct __attribute__((aligned(64))) watch_slot {
	/* CLOCK_MONOTONIC time the thread last returned from epoll; 0 while
	 * the thread is inside epoll, or before it first returns from it. */
	__u64 gap_start_ns;
	/* Gaps shorter than this are not reported. */
	__u64 threshold_ns;
	/* Events that did not fit into the ring buffer. */
	__u64 lost_events;
	/* The same layout as union watch_slot_state. */
	union {
		struct {
			__u32 flags;
			__u32 gen;
		};
		__u64 state;
	};
	/* The thread and its process, numbered in blocksnoop's PID namespace. */
	__u32 tid;
	__u32 pid;
	/* The watch id the thread belongs to. */
	__u32 watch;
	/* enum epoll_variant that opened the current gap. */
	__u32 gap_variant;
};

/* task_mark.flags */
enum mark_flags {
	/* The task's own epoll calls are watched (it gets a slot on its first
	 * return from epoll if it has none). */
	MARK_F_THREAD = 1u << 0,
	/* On a thread group leader: its process is a member of the watch: its
	 * forks (FOLLOW), new threads (ALL_THREADS), exec and exit are seen. */
	MARK_F_PROCESS = 1u << 1,
	/* Made by the kernel side on its own: counts against follow_limit. */
	MARK_F_FOLLOWED = 1u << 2,
	/* slot_overflow was counted for this task already. */
	MARK_F_OVERFLOWED = 1u << 3,
};

/*
 * What a task is to the detector: the value of the task_marks task storage
 * and of the tid_marks hash map. A mark whose watch has ended, or whose slot
 * moved on to another thread, is stale and dropped when next seen.
 */
struct task_mark {
	__u32 slot;     /* index into watch_slots, or NO_SLOT */
	__u32 slot_gen; /* the slot's gen when it was given to this task */
	__u32 watch;    /* watch id */
	__u32 flags;    /* enum mark_flags */
	__u32 pid;      /* the task's process, in blocksnoop's PID namespace */
	__u32 pad;
};

/* Counters in .bss; user space reads them without a syscall. */
struct detector_counters {
	/* Gap events that did not fit into the events ring buffer. */
	__u64 lost_events;
	/* Task notices that did not fit into the notices ring buffer. */
	__u64 lost_notices;
	/* Forks and clones not followed: follow_limit reached, or no memory
	 * for the task's mark. */
	__u64 follow_overflow;
	/* Threads that returned from epoll but got no slot: all in use. */
	__u64 slot_overflow;
	/* Tasks the kernel side follows on its own now (MARK_F_FOLLOWED). */
	__u32 followed;
	/* Slots out of the free_slots queue now, taken by either side. */
	__u32 slots_out;
	/* Entries in tid_marks; the programs look there only if non-zero. */
	__s32 tid_marks;
	/* Entries in exec_handover; looked at only if non-zero. */
	__s32 handovers;
	__u32 pad;
	/* Waking the sampler: timers set, wakes sent, and wakes that could
	 * not be sent or set (a full wakes ring: user space is due to wake
	 * anyway; a timer that failed to start). */
	__u64 wake_arms;
	__u64 wakes_sent;
	__u64 wakes_failed;
};

/*
 * Gap anatomy (bpf/gap_anatomy.bpf.h): where a watched thread's time went
 * during one gap, from the scheduler's point of view. Every nanosecond of
 * the gap is in exactly one of on_cpu_ns, runqueue_ns, throttled_ns or
 * off_cpu_ns; off_cpu_ns is split over waits[] and other_wait_ns.
 */
#define GAP_WAITS_MAX 6
/* gap_wait.syscall of a thread that went to sleep outside a syscall (a
 * page fault, say). */
#define GAP_WAIT_NO_SYSCALL (-1)

/* Time spent off CPU in one syscall with one first argument. */
struct gap_wait {
	__s64 syscall;  /* the number, as the kernel's architecture numbers it */
	__u64 arg;      /* its first argument (an fd, a futex address, ...) */
	__u64 ns;
};

/* gap_anatomy.flags */
enum gap_anatomy_flags {
	/* Measured: the scheduler programs ran (not so in stats mode, or
	 * where they could not be loaded). */
	GAP_ANATOMY_F_MEASURED = 1u << 0,
	/* The thread's CPU controller group (or an ancestor) was throttled
	 * while the thread waited runnable. */
	GAP_ANATOMY_F_THROTTLED = 1u << 1,
};

struct gap_anatomy {
	__u64 on_cpu_ns;
	__u64 runqueue_ns;   /* runnable, waiting for a CPU */
	__u64 throttled_ns;  /* runnable, held back by CPU bandwidth control */
	__u64 off_cpu_ns;    /* sleeping (voluntarily off CPU) */
	__u64 other_wait_ns; /* the part of off_cpu_ns that found no place in waits */
	__u32 nwaits;        /* entries used in waits, in order of first wait */
	__u32 flags;         /* enum gap_anatomy_flags */
	struct gap_wait waits[GAP_WAITS_MAX];
};

/* Off-CPU time in one syscall and argument: its entry in waits, or
 * other_wait_ns once waits is full. The kernel adds each sleep so, and
 * user space the sleep a block still in progress is in (anatomy_so_far()). */
static inline __s32 anatomy_add_wait(struct gap_anatomy *a, __s64 nr, __u64 arg, __u64 ns)
{
	__u32 n = a->nwaits;

	a->off_cpu_ns += ns;
	for (__u32 i = 0; i < GAP_WAITS_MAX; i++) {
		if (i >= n)
			break;
		if (a->waits[i].syscall == nr && a->waits[i].arg == arg) {
			a->waits[i].ns += ns;
			return i;
		}
	}
	if (n < GAP_WAITS_MAX) {
		a->waits[n].syscall = nr;
		a->waits[n].arg = arg;
		a->waits[n].ns = ns;
		a->nwaits = n + 1;
		return n;
	}
	a->other_wait_ns += ns;
	return GAP_WAITS_MAX;
}

/*
 * The scheduler's view of a slot's gap while it is open (the anatomy_slots
 * map, by slot index): what was measured so far, and the state the thread
 * has been in since since_ns, not yet counted. User space reads it for a
 * block still in progress (anatomy_so_far() in agent/anatomy.h counts the
 * open state as the kernel does at the gap's end).
 */
enum anatomy_state {
	ANATOMY_ON_CPU = 0,
	ANATOMY_RUNNABLE = 1,
	ANATOMY_OFF_CPU = 2,
};

/* anatomy_slot.last_sleep: no sleep waits to be settled. */
#define ANATOMY_NO_SLEEP (-1)

struct anatomy_slot {
	__u64 gap_start_ns; /* the gap it is of: the slot's gap_start_ns then */
	__u32 gen;          /* and the slot's generation */
	__u32 state;        /* enum anatomy_state, since since_ns */
	__u64 since_ns;
	__s64 wait_syscall; /* OFF_CPU: the syscall it sleeps in */
	__u64 wait_arg;     /* and its first argument */
	__u64 throttles;    /* anatomy_throttle_events() at the switch-out */
	__u32 throttled;    /* RUNNABLE: its group was throttled at the switch-out */
	/* The last sleep, not settled yet: where it went in waits
	 * (GAP_WAITS_MAX: other_wait_ns), how long, and whether its group
	 * was throttled meanwhile; or ANATOMY_NO_SLEEP. */
	__s32 last_sleep;
	__u64 last_sleep_ns;
	__u32 last_sleep_throttled;
	__u32 pad;
	__u64 run_delay;    /* the thread's sched_info.run_delay when last settled */
	struct gap_anatomy a;
};

/* A gap at or over its slot's threshold, sent through the events ring. */
struct gap_event {
	__u64 start_ns; /* return from epoll, CLOCK_MONOTONIC */
	__u64 end_ns;   /* next entry into epoll, CLOCK_MONOTONIC */
	__u32 slot;     /* index into watch_slots */
	__u32 tid;      /* in blocksnoop's PID namespace */
	__u32 start_variant; /* enum epoll_variant returned from */
	__u32 end_variant;   /* enum epoll_variant entered */
	__u32 pid;      /* the thread's process, in blocksnoop's PID namespace */
	__u32 watch;    /* watch id */
	__u32 gen;      /* the slot's generation */
	__u32 pad;
	struct gap_anatomy anatomy;
};

/* task_notice.kind */
enum task_notice_kind {
	/* A member process forked: the child joined the watch (FOLLOW).
	 * pid = tid = the child, ppid = the parent; no slot yet. */
	TASK_NOTICE_PROCESS_ADDED = 1,
	/* The kernel side gave a thread a slot (its first return from epoll
	 * as a member). */
	TASK_NOTICE_THREAD_ADDED = 2,
	/* A thread with a slot exited, or exec'ed from a non-main thread
	 * (its thread id changed): the slot is no longer its. */
	TASK_NOTICE_THREAD_GONE = 3,
	/* A member process exec'ed; it stays a member. */
	TASK_NOTICE_PROCESS_EXEC = 4,
	/* The last thread of a member process exited. */
	TASK_NOTICE_PROCESS_GONE = 5,
};

/* What the kernel side did on its own, sent through the notices ring. */
struct task_notice {
	__u64 time_ns;  /* CLOCK_MONOTONIC */
	__u32 kind;     /* enum task_notice_kind */
	__u32 watch;    /* watch id */
	__u32 pid;      /* process, in blocksnoop's PID namespace */
	__u32 tid;      /* thread (= pid for process notices) */
	__u32 ppid;     /* PROCESS_ADDED: the parent process; else 0 */
	__u32 slot;     /* THREAD_*: the slot; else NO_SLOT */
	__u32 gen;      /* THREAD_*: the slot's generation; else 0 */
	__u32 pad;
};

/*
 * Waking the built-in sampler (gap_detector.bpf.c, "waking the sampler").
 * A gap of a slot the sampler wants woken (slot_wake.want_gen) is first
 * worth a sample a quarter of its threshold in (its sampling point): a
 * kernel timer set only once a gap is seen open sends one sampler_wake
 * through the wakes ring then, and user space, woken, samples the gap every
 * interval while it stays open.
 */
#define WAKE_SAMPLING_POINT(threshold_ns) ((threshold_ns) / 4)
/* How many timers the slots share (slot i's is i % WAKE_TIMERS): a timer
 * costs kernel memory that BPF programs get without waiting for it, so
 * there are few, set up at load; two gaps being timed on one is rare and
 * correct (its callback looks at the slots that share it). A power of two. */
#define WAKE_TIMERS 64

/* Per slot, in slot_wakes[] (.bss). Gaps are known by their start time,
 * which only grows for a slot, also across its recycling. */
struct slot_wake {
	/* The gap the slot's timer was last set for: kicks skip it. */
	__u64 armed_start;
	/* The gap a wake was last sent for: nothing more is sent for it. */
	__u64 sent_start;
	/* Written by user space: the slot's generation the sampler watches
	 * (its gaps are woken); 0 or another generation: none. */
	__u32 want_gen;
	__u32 pad;
};

/* One wake, through the wakes ring: gap of slot (gen) reached its sampling
 * point. The record itself is what wakes user space. */
struct sampler_wake {
	__u64 gap_start_ns;
	__u32 slot;
	__u32 gen;
};

#endif /* BLOCKSNOOP_GAP_DETECTOR_H */
