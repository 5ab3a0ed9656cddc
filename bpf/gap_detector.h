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
 */
#ifndef BLOCKSNOOP_GAP_DETECTOR_H
#define BLOCKSNOOP_GAP_DETECTOR_H

/* The BPF side gets these types from vmlinux.h, user space from UAPI. */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* How many threads one loaded detector can watch at once. */
#define MAX_WATCHED_THREADS 4096

/* Which syscall opened or closed a gap. */
enum epoll_variant {
	EPOLL_VARIANT_WAIT = 0,
	EPOLL_VARIANT_PWAIT = 1,
	EPOLL_VARIANT_PWAIT2 = 2,
	EPOLL_VARIANT_COUNT = 3,
};

/* watch_slot.flags */
enum watch_flags {
	/* The slot is in use; the kernel side ignores slots without it. */
	WATCH_F_ACTIVE = 1u << 0,
	/* Stats mode: count the gap in gap_stats instead of sending an event. */
	WATCH_F_HISTOGRAM = 1u << 1,
};

/*
 * One watched thread. The slots live in the program's .bss, which user space
 * maps into its own memory: writing the configuration and reading the
 * "out of epoll since" state cost no syscall.
 *
 * Ownership: user space writes tid, threshold_ns and flags before it
 * publishes the slot (watched_tids map) and never changes them while the slot
 * is published. The kernel side owns gap_start_ns, gap_variant and
 * lost_events.
 */
struct watch_slot {
	/* CLOCK_MONOTONIC time the thread last returned from epoll; 0 while
	 * the thread is inside epoll, or before it first returns from it. */
	__u64 gap_start_ns;
	/* Gaps shorter than this are not reported. */
	__u64 threshold_ns;
	/* Events that did not fit into the ring buffer. */
	__u64 lost_events;
	/* The thread, as numbered in blocksnoop's own PID namespace. */
	__u32 tid;
	__u32 flags;
	/* enum epoll_variant that opened the current gap. */
	__u32 gap_variant;
	__u32 pad;
};

/* A gap at or over its slot's threshold, sent through the ring buffer. */
struct gap_event {
	__u64 start_ns; /* return from epoll, CLOCK_MONOTONIC */
	__u64 end_ns;   /* next entry into epoll, CLOCK_MONOTONIC */
	__u32 slot;     /* index into watch_slots */
	__u32 tid;      /* in blocksnoop's PID namespace */
	__u32 start_variant; /* enum epoll_variant returned from */
	__u32 end_variant;   /* enum epoll_variant entered */
};

#endif /* BLOCKSNOOP_GAP_DETECTOR_H */
