/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * gap_hist.h - the log-linear histogram of gap durations used by stats mode.
 * Shared by the kernel side (which counts) and user space (which reads
 * percentiles), so the bucket layout has exactly one definition.
 *
 * Layout: values below 2^HIST_SUB_BITS ns get a bucket each. Above that,
 * every power of two [2^e, 2^(e+1)) is cut into 2^HIST_SUB_BITS equal
 * sub-buckets, so a bucket is at most 1/32 (3.1%) of its lower bound wide and
 * the bucket midpoint is within 1.6% of any value in it. Durations up to
 * 2^HIST_MAX_EXP ns (~73 minutes) are resolved; longer ones land in the last
 * bucket, and the exact maximum is kept beside the histogram.
 *
 * The loop histogram (struct loop_hist, below) is a coarser cut of the same
 * layout, one per watch that asks for it: the Prometheus metric.
 */
#ifndef BLOCKSNOOP_GAP_HIST_H
#define BLOCKSNOOP_GAP_HIST_H

/* The BPF side gets these types from vmlinux.h, user space from UAPI. */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define HIST_SUB_BITS 5
#define HIST_SUB_COUNT (1u << HIST_SUB_BITS)
#define HIST_MAX_EXP 42
#define HIST_BUCKETS ((HIST_MAX_EXP - HIST_SUB_BITS + 2) * HIST_SUB_COUNT)

/* Per-CPU gap statistics; user space adds up the CPUs. */
struct gap_stats {
	__u64 count;
	__u64 sum_ns;
	__u64 min_ns; /* 0 until the first gap */
	__u64 max_ns;
	__u64 buckets[HIST_BUCKETS];
};

/* floor(log2(v)) for v > 0, without loops (the BPF verifier likes it). */
static inline __u32 hist_log2(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xFFFFFFFFULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (__u32)(v >> 1);
	return r;
}

/* The bucket that counts a gap of ns nanoseconds. Always < HIST_BUCKETS. */
static inline __u32 hist_bucket(__u64 ns)
{
	__u32 exp;

	if (ns < HIST_SUB_COUNT)
		return (__u32)ns;
	exp = hist_log2(ns);
	if (exp > HIST_MAX_EXP)
		return HIST_BUCKETS - 1;
	return (exp - HIST_SUB_BITS + 1) * HIST_SUB_COUNT +
	       (__u32)((ns >> (exp - HIST_SUB_BITS)) & (HIST_SUB_COUNT - 1));
}

/* The smallest value that lands in bucket b (inverse of hist_bucket). */
static inline __u64 hist_bucket_low(__u32 b)
{
	__u32 octave = b / HIST_SUB_COUNT, sub = b % HIST_SUB_COUNT;

	if (octave == 0)
		return b;
	return (__u64)(HIST_SUB_COUNT + sub) << (octave - 1);
}

/*
 * The loop histogram: every gap of one watch (WATCH_F_LOOP_HIST), for the
 * Prometheus metric blocksnoop_loop_gap_seconds. The same log-linear cut
 * with 2^LOOP_HIST_SUB_BITS sub-buckets per power of two, over the range a
 * loop's lag is watched in: bucket 0 holds gaps below 2^LOOP_HIST_MIN_EXP ns
 * (262 us); buckets 1.. cut [2^e, 2^(e+1)) at 2^e and 1.5 * 2^e for e from
 * LOOP_HIST_MIN_EXP to LOOP_HIST_MAX_EXP; the last holds 2^(MAX_EXP+1) ns
 * (17.2 s) and over. A bucket is at most half its lower bound wide, and
 * every bucket boundary is a Prometheus `le` bound. 288 bytes per watch.
 */
#define LOOP_HIST_SUB_BITS 1
#define LOOP_HIST_SUB_COUNT (1u << LOOP_HIST_SUB_BITS)
#define LOOP_HIST_MIN_EXP 18
#define LOOP_HIST_MAX_EXP 33
#define LOOP_HIST_BUCKETS \
	(2 + (LOOP_HIST_MAX_EXP - LOOP_HIST_MIN_EXP + 1) * LOOP_HIST_SUB_COUNT)

/* Counted by every CPU at once (atomic adds); user space reads it as is.
 * The number of gaps is the sum of the buckets. */
struct loop_hist {
	__u64 sum_ns;
	__u64 pad;
	__u64 buckets[LOOP_HIST_BUCKETS];
};

/* The loop histogram's bucket of a gap of ns. Always < LOOP_HIST_BUCKETS. */
static inline __u32 loop_hist_bucket(__u64 ns)
{
	__u32 exp;

	if (ns < (1ULL << LOOP_HIST_MIN_EXP))
		return 0;
	exp = hist_log2(ns);
	if (exp > LOOP_HIST_MAX_EXP)
		return LOOP_HIST_BUCKETS - 1;
	return 1 + ((exp - LOOP_HIST_MIN_EXP) << LOOP_HIST_SUB_BITS) +
	       (__u32)((ns >> (exp - LOOP_HIST_SUB_BITS)) & (LOOP_HIST_SUB_COUNT - 1));
}

/* The smallest gap in loop histogram bucket b (0 < b < LOOP_HIST_BUCKETS):
 * the upper bound of bucket b - 1. */
static inline __u64 loop_hist_bucket_low(__u32 b)
{
	__u32 i = b - 1;

	return (__u64)(LOOP_HIST_SUB_COUNT + (i & (LOOP_HIST_SUB_COUNT - 1)))
	       << (LOOP_HIST_MIN_EXP + (i >> LOOP_HIST_SUB_BITS) - LOOP_HIST_SUB_BITS);
}

#endif /* BLOCKSNOOP_GAP_HIST_H */
