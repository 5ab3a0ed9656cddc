// SPDX-License-Identifier: Apache-2.0
#include <math.h>

#include "histogram.h"

void hist_accumulate(struct gap_stats *sum, const struct gap_stats *cpu)
{
	if (!cpu->count)
		return;
	if (!sum->count || cpu->min_ns < sum->min_ns)
		sum->min_ns = cpu->min_ns;
	if (cpu->max_ns > sum->max_ns)
		sum->max_ns = cpu->max_ns;
	sum->count += cpu->count;
	sum->sum_ns += cpu->sum_ns;
	for (unsigned int b = 0; b < HIST_BUCKETS; b++)
		sum->buckets[b] += cpu->buckets[b];
}

uint64_t hist_percentile_ns(const struct gap_stats *st, double p)
{
	uint64_t rank, seen = 0;
	uint64_t low, high, mid;

	if (!st->count)
		return 0;
	/* Nearest rank: the smallest value with at least p% at or below it. */
	rank = (uint64_t)ceil(p * (double)st->count / 100.0);
	if (rank < 1)
		rank = 1;
	if (rank > st->count)
		rank = st->count;
	for (unsigned int b = 0; b < HIST_BUCKETS; b++) {
		seen += st->buckets[b];
		if (seen < rank)
			continue;
		low = hist_bucket_low(b);
		high = b + 1 < HIST_BUCKETS ? hist_bucket_low(b + 1) : st->max_ns + 1;
		mid = low + (high - low) / 2;
		if (mid < st->min_ns)
			mid = st->min_ns;
		if (mid > st->max_ns)
			mid = st->max_ns;
		return mid;
	}
	return st->max_ns; /* buckets and count disagree (racing reads) */
}

void hist_snapshot(const struct gap_stats *st, double elapsed_s,
		   struct stats_snapshot *snap)
{
	*snap = (struct stats_snapshot){ .elapsed_s = elapsed_s, .count = st->count };
	snap->rate = elapsed_s > 0 ? (double)st->count / elapsed_s : 0;
	if (!st->count)
		return;
	snap->min_ms = st->min_ns / 1e6;
	snap->max_ms = st->max_ns / 1e6;
	snap->avg_ms = (double)st->sum_ns / (double)st->count / 1e6;
	snap->p50_ms = hist_percentile_ns(st, 50) / 1e6;
	snap->p90_ms = hist_percentile_ns(st, 90) / 1e6;
	snap->p95_ms = hist_percentile_ns(st, 95) / 1e6;
	snap->p99_ms = hist_percentile_ns(st, 99) / 1e6;
}

static uint64_t grown(uint64_t now, uint64_t seen)
{
	return now > seen ? now - seen : 0;
}

void loop_hist_since(struct loop_hist *delta, const struct loop_hist *now,
		     struct loop_hist *seen)
{
	delta->sum_ns = grown(now->sum_ns, seen->sum_ns);
	delta->pad = 0;
	for (unsigned int b = 0; b < LOOP_HIST_BUCKETS; b++)
		delta->buckets[b] = grown(now->buckets[b], seen->buckets[b]);
	*seen = *now;
}
