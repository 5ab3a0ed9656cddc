/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detector_tables.h - the pure parts of the detector's user-space half
 * (detector.c): its view of the slot table the kernel side changes, watch
 * ids, and the children lists it walks. No syscalls, no BPF: unit-tested.
 */
#ifndef BLOCKSNOOP_DETECTOR_TABLES_H
#define BLOCKSNOOP_DETECTOR_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gap_detector.h"

/* What user space was told about one slot. */
struct slot_view {
	uint32_t gen;   /* the incarnation told about; 0: never */
	uint32_t watch; /* watch id */
	pid_t pid;
	pid_t tid;
	bool live;      /* announced (or taken by user space) and not gone */
	bool user;      /* taken by user space: held until its watch ends */
};

/*
 * Apply a THREAD_ADDED or THREAD_GONE notice to views[n->slot] (other kinds
 * and slots >= nslots are ignored, returning true for the other kinds).
 * Returns whether it is news: false for a notice already made up for by
 * slot_views_reconcile(), or for one about an incarnation that is over.
 */
bool slot_view_apply(struct slot_view *views, size_t nslots, const struct task_notice *n);

/*
 * Compare views with the kernel side's slots (read with atomic loads: they
 * change under us) and, for each difference, update the view and call fn
 * with the THREAD_GONE and THREAD_ADDED notices that would have told it
 * (time_ns 0). For notices lost to a full ring.
 */
void slot_views_reconcile(struct slot_view *views, const struct watch_slot *slots,
			  size_t nslots,
			  void (*fn)(void *ctx, const struct task_notice *n), void *ctx);

/*
 * The next watch id from *next on (skipping 0) whose place in watches
 * (id % MAX_WATCHES) holds no active watch; advances *next past it.
 * Returns 0 if all MAX_WATCHES places are taken.
 */
uint32_t watch_id_take(uint32_t *next, const struct watch_config watches[MAX_WATCHES]);

/*
 * Parse a /proc/PID/task/TID/children text ("12 34 56 ") into at most max
 * pids. Returns how many there are (which may be more than max; only max
 * are stored), or -EINVAL if the text is not a list of positive pids.
 */
int parse_children(const char *text, pid_t *out, size_t max);

/*
 * The parent pid in a /proc/PID/stat text (the field after the state, after
 * the command name's last ')': a name may hold anything). -EINVAL if the
 * text is not a stat line.
 */
int parse_stat_ppid(const char *text);

#endif
