/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detector.h - user-space half of the gap detector (bpf/gap_detector.bpf.c):
 * loads and attaches it, manages the set of watched threads, and delivers
 * gaps. One detector serves any number of watched threads, each with its own
 * threshold; threads can be added and removed while it runs.
 *
 * Thread ids are in blocksnoop's own PID namespace throughout.
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

/*
 * Load the BPF programs and attach one enter/exit pair per epoll variant the
 * kernel has (at least one pair is needed), mounting tracefs if it is
 * missing. On success returns 0 and *out; the caller frees it with
 * detector_free(). On failure returns EXIT_PRIVILEGE or EXIT_RUNTIME
 * (exit_codes.h) with a one-line reason in err, and nothing stays loaded.
 */
int detector_open(struct detector **out, char *err, size_t errlen);

/* Detach and unload everything. Accepts NULL. */
void detector_free(struct detector *d);

/*
 * Watch thread tid of process pid. Gaps shorter than threshold_ns are not
 * reported; with WATCH_F_HISTOGRAM in flags gaps are counted into the stats
 * histogram instead of being sent as events. Returns the slot (>= 0) that
 * events of this thread will carry, or -EEXIST (already watched), -ENOSPC
 * (MAX_WATCHED_THREADS reached) or another -errno.
 */
int detector_watch(struct detector *d, pid_t pid, pid_t tid,
		   uint64_t threshold_ns, uint32_t flags);

/* Stop watching a slot returned by detector_watch(). Idempotent. */
void detector_unwatch(struct detector *d, int slot);

/* The pid and tid a slot was watched with; 0 if the slot is free. */
pid_t detector_slot_pid(const struct detector *d, int slot);
pid_t detector_slot_tid(const struct detector *d, int slot);

/*
 * When the slot's thread last left epoll (CLOCK_MONOTONIC ns), or 0 while
 * it is waiting inside epoll. A plain memory read: cheap enough to poll.
 */
uint64_t detector_gap_open_since(const struct detector *d, int slot);

/* An fd that becomes readable when events are waiting (for epoll/poll). */
int detector_events_fd(const struct detector *d);

typedef void (*detector_event_fn)(void *ctx, const struct gap_event *e);

/*
 * Deliver every event waiting in the ring buffer to fn, without blocking.
 * Events of slots unwatched since are dropped. Returns the number
 * delivered or -errno.
 */
int detector_consume(struct detector *d, detector_event_fn fn, void *ctx);

/* Events the kernel side could not queue (ring buffer full) since open. */
uint64_t detector_lost_events(const struct detector *d);

/* The stats-mode histogram summed over all CPUs into *out. */
int detector_read_stats(const struct detector *d, struct gap_stats *out);

/* Which epoll variants are attached, as a bitmask of 1 << enum epoll_variant. */
unsigned int detector_attached_variants(const struct detector *d);

#endif
