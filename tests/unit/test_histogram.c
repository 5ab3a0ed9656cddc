// SPDX-License-Identifier: Apache-2.0
/*
 * test_histogram.c - the log-linear gap histogram (bpf/gap_hist.h) and the
 * percentiles read from it (agent/histogram.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "unit_helpers.h"

/* ---- helpers ---------------------------------------------------------- */

/* A fixed-seed PRNG (xorshift64*), so every run sees the same data. */
static uint64_t rng_state;

static void rng_seed(uint64_t seed) { rng_state = seed ? seed : 1; }

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* Uniform in [0, 1). */
static double rng_unit(void)
{
	return (double)(rng_next() >> 11) / 9007199254740992.0;
}

/* Count one gap the way the BPF program does. */
static void count_gap(struct gap_stats *st, uint64_t ns)
{
	if (!st->count || ns < st->min_ns)
		st->min_ns = ns;
	if (ns > st->max_ns)
		st->max_ns = ns;
	st->count++;
	st->sum_ns += ns;
	st->buckets[hist_bucket(ns)]++;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Exact nearest-rank percentile of sorted values; p in tenths of a percent
 * so that the rank is computed in integers. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, unsigned p10)
{
	uint64_t rank = ((uint64_t)p10 * n + 999) / 1000;

	if (rank < 1)
		rank = 1;
	return sorted[rank - 1];
}

/* The reference log2 the branch-free hist_log2 must match. */
static uint32_t slow_log2(uint64_t v)
{
	uint32_t r = 0;

	while (v >>= 1)
		r++;
	return r;
}

static struct gap_stats *new_stats(void)
{
	struct gap_stats *st = calloc(1, sizeof(*st));

	assert_non_null(st);
	return st;
}

/* ---- bucket layout ----------------------------------------------------- */

/* The values the bucket tests probe: small ones, 2^k-1, 2^k, 2^k+1, a few
 * in between, and far beyond the resolved range. */
static size_t probe_values(uint64_t *out, size_t max)
{
	static const uint64_t fixed[] = {
		0, 1, 2, 3, 30, 31, 32, 33, 34, 62, 63, 64, 65, 66, 67, 95, 96, 97,
		100, 1000, 999999, 1000000, 1000001, 123456789, 4398046511103ULL,
		4398046511104ULL, 4398046511105ULL, 8796093022207ULL, 8796093022208ULL,
		1ULL << 50, (1ULL << 63) - 1, 1ULL << 63, UINT64_MAX - 1, UINT64_MAX,
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) && n < max; i++)
		out[n++] = fixed[i];
	for (int k = 1; k < 64 && n + 6 <= max; k++) {
		uint64_t p = 1ULL << k;

		out[n++] = p - 1;
		out[n++] = p;
		out[n++] = p + 1;
		out[n++] = p + p / 3;
		out[n++] = p + p / 2;
		out[n++] = p + p - p / 64;
	}
	rng_seed(42);
	while (n < max)
		out[n++] = rng_next() >> (rng_next() % 64);
	return n;
}

static void test_log2_matches_reference(void **state)
{
	uint64_t v[2000];
	size_t n = probe_values(v, 2000);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		if (!v[i])
			continue;
		if (hist_log2(v[i]) != slow_log2(v[i]))
			fail_msg("hist_log2(%llu) = %u, want %u", (unsigned long long)v[i],
				 hist_log2(v[i]), slow_log2(v[i]));
	}
}

/* bucket_low(bucket(v)) <= v < bucket_low(bucket(v) + 1), and values past
 * 2^(HIST_MAX_EXP+1) are clamped into the last bucket. */
static void test_bucket_inverse(void **state)
{
	uint64_t v[4000];
	size_t n = probe_values(v, 4000);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		uint32_t b = hist_bucket(v[i]);

		if (b >= HIST_BUCKETS)
			fail_msg("hist_bucket(%llu) = %u, out of range", (unsigned long long)v[i], b);
		if (hist_bucket_low(b) > v[i])
			fail_msg("bucket_low(bucket(%llu)) = %llu > value", (unsigned long long)v[i],
				 (unsigned long long)hist_bucket_low(b));
		if (b + 1 < HIST_BUCKETS && v[i] >= hist_bucket_low(b + 1))
			fail_msg("%llu >= bucket_low(%u) = %llu", (unsigned long long)v[i], b + 1,
				 (unsigned long long)hist_bucket_low(b + 1));
	}
	/* Small values have a bucket each. */
	for (uint64_t x = 0; x < HIST_SUB_COUNT; x++)
		assert_int_equal(hist_bucket(x), x);
	assert_int_equal(hist_bucket(32), 32);
	assert_int_equal(hist_bucket(63), 63);
	assert_int_equal(hist_bucket(64), 64);
	assert_int_equal(hist_bucket(65), 64);
	assert_int_equal(hist_bucket(66), 65);
	/* Clamping: 2^43 and everything above share the last bucket. */
	assert_int_equal(hist_bucket((1ULL << (HIST_MAX_EXP + 1)) - 1), HIST_BUCKETS - 1);
	assert_int_equal(hist_bucket(1ULL << (HIST_MAX_EXP + 1)), HIST_BUCKETS - 1);
	assert_int_equal(hist_bucket(UINT64_MAX), HIST_BUCKETS - 1);
	assert_int_not_equal(hist_bucket(1ULL << HIST_MAX_EXP), HIST_BUCKETS - 1);
}

/* Every bucket: bucket(low(b)) == b, the lows strictly increase, and a
 * bucket above 32 ns is at most 1/32 of its lower bound wide. */
static void test_bucket_lows_and_width(void **state)
{
	(void)state;
	for (uint32_t b = 0; b < HIST_BUCKETS; b++) {
		uint64_t low = hist_bucket_low(b);

		if (hist_bucket(low) != b)
			fail_msg("bucket(bucket_low(%u) = %llu) = %u", b,
				 (unsigned long long)low, hist_bucket(low));
		if (low > 0 && hist_bucket(low - 1) != b - 1)
			fail_msg("bucket(%llu) should be %u", (unsigned long long)low - 1, b - 1);
		if (b + 1 < HIST_BUCKETS) {
			uint64_t high = hist_bucket_low(b + 1);

			assert_true(high > low);
			if (low >= HIST_SUB_COUNT && (high - low) * HIST_SUB_COUNT > low)
				fail_msg("bucket %u [%llu, %llu) wider than 1/32", b,
					 (unsigned long long)low, (unsigned long long)high);
		}
	}
	/* The layout covers 2^HIST_MAX_EXP exactly where documented. */
	assert_int_equal(hist_bucket_low((HIST_MAX_EXP - HIST_SUB_BITS + 1) * HIST_SUB_COUNT),
			 1ULL << HIST_MAX_EXP);
}

/* ---- percentiles --------------------------------------------------------- */

#define N_VALUES 20000

/* Check the usual percentiles of values[0..n) against the exact ones. */
static void check_percentiles(const char *name, uint64_t *values, size_t n)
{
	static const unsigned p10s[] = { 1, 10, 100, 250, 500, 750, 900, 950, 990, 1000 };
	struct gap_stats *st = new_stats();

	for (size_t i = 0; i < n; i++)
		count_gap(st, values[i]);
	qsort(values, n, sizeof(values[0]), cmp_u64);
	assert_int_equal(st->count, n);
	assert_int_equal(st->min_ns, values[0]);
	assert_int_equal(st->max_ns, values[n - 1]);
	for (size_t i = 0; i < sizeof(p10s) / sizeof(p10s[0]); i++) {
		double p = p10s[i] / 10.0;
		uint64_t want = exact_percentile(values, n, p10s[i]);
		uint64_t got = hist_percentile_ns(st, p);
		double rel = fabs((double)got - (double)want) / (double)want;

		if (rel > 0.02)
			fail_msg("%s p%.1f: got %llu ns, exact %llu ns (%.2f%% off)", name, p,
				 (unsigned long long)got, (unsigned long long)want, rel * 100);
	}
	/* Never outside the observed range. */
	assert_true(hist_percentile_ns(st, 100) <= values[n - 1]);
	assert_true(hist_percentile_ns(st, 0.001) >= values[0]);
	free(st);
}

static void test_percentile_uniform(void **state)
{
	uint64_t *v = malloc(N_VALUES * sizeof(*v));

	(void)state;
	assert_non_null(v);
	rng_seed(1);
	for (size_t i = 0; i < N_VALUES; i++) /* 10 us .. 500 ms */
		v[i] = 10000 + rng_next() % 500000000ULL;
	check_percentiles("uniform", v, N_VALUES);
	free(v);
}

static void test_percentile_exponential(void **state)
{
	uint64_t *v = malloc(N_VALUES * sizeof(*v));

	(void)state;
	assert_non_null(v);
	rng_seed(2);
	for (size_t i = 0; i < N_VALUES; i++) /* mean 2 ms */
		v[i] = 1 + (uint64_t)(-log(1.0 - rng_unit()) * 2e6);
	check_percentiles("exponential", v, N_VALUES);
	free(v);
}

/* Two far-apart modes; p90 sits on the last value of the low mode and p95
 * inside the high one, so a rank off by one would show. */
static void test_percentile_bimodal(void **state)
{
	uint64_t *v = malloc(N_VALUES * sizeof(*v));

	(void)state;
	assert_non_null(v);
	rng_seed(3);
	for (size_t i = 0; i < N_VALUES; i++) {
		if (i < N_VALUES * 9 / 10) /* ~50 us epoll turnarounds */
			v[i] = 40000 + rng_next() % 20000;
		else                        /* ~200 ms blocking calls */
			v[i] = 150000000 + rng_next() % 100000000;
	}
	check_percentiles("bimodal", v, N_VALUES);
	free(v);
}

/* Very small values (exact buckets) and very large ones (near 2^42). */
static void test_percentile_extremes(void **state)
{
	uint64_t small[1000], large[1000];

	(void)state;
	rng_seed(4);
	for (size_t i = 0; i < 1000; i++) {
		small[i] = 1 + rng_next() % 200;
		large[i] = (1ULL << 41) + rng_next() % (1ULL << 41);
	}
	check_percentiles("small", small, 1000);
	check_percentiles("large", large, 1000);
}

static void test_percentile_single_value(void **state)
{
	struct gap_stats *st = new_stats();

	(void)state;
	for (int i = 0; i < 7; i++)
		count_gap(st, 123456789);
	/* Clamping to [min, max] makes every percentile exact. */
	assert_int_equal(hist_percentile_ns(st, 0.1), 123456789);
	assert_int_equal(hist_percentile_ns(st, 50), 123456789);
	assert_int_equal(hist_percentile_ns(st, 99), 123456789);
	assert_int_equal(hist_percentile_ns(st, 100), 123456789);

	/* Also one value beyond the resolved range (last bucket). */
	memset(st, 0, sizeof(*st));
	count_gap(st, 1ULL << 50);
	assert_int_equal(hist_percentile_ns(st, 50), 1ULL << 50);
	free(st);
}

static void test_percentile_empty(void **state)
{
	struct gap_stats *st = new_stats();

	(void)state;
	assert_int_equal(hist_percentile_ns(st, 50), 0);
	assert_int_equal(hist_percentile_ns(st, 100), 0);
	free(st);
}

/* Nearest rank on a tiny set: with values 1..100 ns the p-th percentile
 * is the value p, and the buckets are narrow enough to see a rank off by
 * one: 1 ns wide below 64, 2 ns wide ([2k, 2k+2), midpoint 2k+1) above. */
static void test_percentile_rank_exact(void **state)
{
	static struct gap_stats stats; /* static: ~10 KB, off the stack */
	struct gap_stats *st = &stats;

	(void)state;
	memset(st, 0, sizeof(*st));
	for (uint64_t v = 1; v <= 100; v++)
		count_gap(st, v);
	/* The percentiles blocksnoop reports. */
	assert_int_equal(hist_percentile_ns(st, 50), 50);
	assert_int_equal(hist_percentile_ns(st, 90), 91); /* [90, 92) */
	assert_int_equal(hist_percentile_ns(st, 95), 95);
	assert_int_equal(hist_percentile_ns(st, 99), 99);
	assert_int_equal(hist_percentile_ns(st, 100), 100); /* 101 clamped */
	assert_int_equal(hist_percentile_ns(st, 1), 1);
	/* Every integer p. */
	for (unsigned p = 1; p <= 100; p++) {
		uint64_t got = hist_percentile_ns(st, p);
		uint64_t want = p < 64 ? p : p == 100 ? 100 : (p & ~1u) + 1;

		if (got != want)
			fail_msg("p%u of 1..100: got %llu, want %llu", p,
				 (unsigned long long)got, (unsigned long long)want);
	}
}

/* ---- accumulate and snapshot --------------------------------------------- */

/* Summing per-CPU stats, including empty CPUs (min_ns 0) anywhere, gives
 * exactly the stats of all values counted together. */
static void test_accumulate(void **state)
{
	enum { CPUS = 6 };
	struct gap_stats *cpu[CPUS], *all = new_stats(), *sum = new_stats();

	(void)state;
	for (int c = 0; c < CPUS; c++)
		cpu[c] = new_stats();
	rng_seed(5);
	for (int i = 0; i < 5000; i++) {
		uint64_t v = 1000 + rng_next() % 100000000;
		int c = 1 + (int)(rng_next() % 3) * 2; /* CPUs 1, 3, 5 only */

		count_gap(cpu[c], v);
		count_gap(all, v);
	}
	for (int c = 0; c < CPUS; c++) /* CPU 0 (empty) comes first */
		hist_accumulate(sum, cpu[c]);
	assert_int_equal(sum->count, all->count);
	assert_int_equal(sum->sum_ns, all->sum_ns);
	assert_int_equal(sum->min_ns, all->min_ns);
	assert_int_equal(sum->max_ns, all->max_ns);
	assert_memory_equal(sum->buckets, all->buckets, sizeof(all->buckets));

	/* All CPUs empty: the sum stays empty. */
	memset(sum, 0, sizeof(*sum));
	hist_accumulate(sum, cpu[0]);
	hist_accumulate(sum, cpu[2]);
	assert_int_equal(sum->count, 0);
	assert_int_equal(sum->min_ns, 0);
	assert_int_equal(hist_percentile_ns(sum, 50), 0);

	/* The smallest minimum wins whichever CPU holds it. */
	memset(sum, 0, sizeof(*sum));
	memset(cpu[0], 0, sizeof(*cpu[0]));
	memset(cpu[2], 0, sizeof(*cpu[2]));
	count_gap(cpu[0], 900);
	count_gap(cpu[2], 50);
	count_gap(cpu[2], 7000);
	hist_accumulate(sum, cpu[0]);
	hist_accumulate(sum, cpu[4]); /* empty in between */
	hist_accumulate(sum, cpu[2]);
	assert_int_equal(sum->count, 3);
	assert_int_equal(sum->min_ns, 50);
	assert_int_equal(sum->max_ns, 7000);
	assert_int_equal(sum->sum_ns, 7950);

	for (int c = 0; c < CPUS; c++)
		free(cpu[c]);
	free(all);
	free(sum);
}

static void test_snapshot(void **state)
{
	struct gap_stats *st = new_stats();
	struct stats_snapshot snap;

	(void)state;
	/* Empty: count and rate 0, the rest left 0. */
	memset(&snap, 0x55, sizeof(snap));
	hist_snapshot(st, 2.0, &snap);
	assert_true(snap.elapsed_s == 2.0);
	assert_int_equal(snap.count, 0);
	assert_true(snap.rate == 0);
	assert_true(snap.min_ms == 0 && snap.max_ms == 0 && snap.p99_ms == 0);

	/* 1..1000 us: min, max and avg are exact, percentiles within 2%. */
	for (uint64_t us = 1; us <= 1000; us++)
		count_gap(st, us * 1000);
	hist_snapshot(st, 4.0, &snap);
	assert_true(snap.elapsed_s == 4.0);
	assert_int_equal(snap.count, 1000);
	assert_near(snap.rate, 250.0, 1e-9);
	assert_near(snap.min_ms, 0.001, 1e-12);
	assert_near(snap.max_ms, 1.0, 1e-12);
	assert_near(snap.avg_ms, 0.5005, 1e-12);
	assert_near(snap.p50_ms, 0.500, 0.500 * 0.02);
	assert_near(snap.p90_ms, 0.900, 0.900 * 0.02);
	assert_near(snap.p95_ms, 0.950, 0.950 * 0.02);
	assert_near(snap.p99_ms, 0.990, 0.990 * 0.02);
	assert_true(snap.p50_ms <= snap.p90_ms && snap.p90_ms <= snap.p95_ms &&
		    snap.p95_ms <= snap.p99_ms && snap.p99_ms <= snap.max_ms);
	assert_near(snap.p50_ms * 1e6, (double)hist_percentile_ns(st, 50), 1e-3);

	/* No elapsed time yet: no division by zero. */
	hist_snapshot(st, 0, &snap);
	assert_true(snap.rate == 0);
	assert_int_equal(snap.count, 1000);
	free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log2_matches_reference),
		cmocka_unit_test(test_bucket_inverse),
		cmocka_unit_test(test_bucket_lows_and_width),
		cmocka_unit_test(test_percentile_uniform),
		cmocka_unit_test(test_percentile_exponential),
		cmocka_unit_test(test_percentile_bimodal),
		cmocka_unit_test(test_percentile_extremes),
		cmocka_unit_test(test_percentile_single_value),
		cmocka_unit_test(test_percentile_empty),
		cmocka_unit_test(test_percentile_rank_exact),
		cmocka_unit_test(test_accumulate),
		cmocka_unit_test(test_snapshot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
