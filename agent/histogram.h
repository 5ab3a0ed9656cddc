/* SPDX-License-Identifier: Apache-2.0 */
/*
 * histogram.h - percentiles from the kernel's log-linear gap histogram
 * (bpf/gap_hist.h). Pure.
 */
#ifndef BLOCKSNOOP_HISTOGRAM_H
#define BLOCKSNOOP_HISTOGRAM_H

#include <linux/types.h>
#include <stdint.h>

#include "gap_hist.h"

struct stats_snapshot {
	double elapsed_s;
	uint64_t count;
	double rate;      /* count / elapsed_s */
	/* The rest are meaningful only when count > 0. */
	double min_ms, avg_ms, p50_ms, p90_ms, p95_ms, p99_ms, max_ms;
};

/* Add the per-CPU values of one CPU into *sum (zero *sum first). */
void hist_accumulate(struct gap_stats *sum, const struct gap_stats *cpu);

/*
 * The p-th percentile (0 < p <= 100, nearest rank) in nanoseconds: the
 * midpoint of the bucket holding that rank, clamped to [min_ns, max_ns].
 * Within 1.6% of the true value. Returns 0 when st->count is 0.
 */
uint64_t hist_percentile_ns(const struct gap_stats *st, double p);

/*
 * What a loop histogram counted since *seen was taken: *delta = *now -
 * *seen, each count at least 0, then *seen = *now. For adding a watch's
 * counts into a total that outlives the watch. Cannot fail.
 */
void loop_hist_since(struct loop_hist *delta, const struct loop_hist *now,
		     struct loop_hist *seen);

/* Fill *snap from the summed stats. Cannot fail. */
void hist_snapshot(const struct gap_stats *st, double elapsed_s,
		   struct stats_snapshot *snap);

#endif
