// SPDX-License-Identifier: Apache-2.0
/*
 * test_k8s_ratelimit.c - agent/k8s/ratelimit.h: the token bucket that keeps
 * one pod from flooding the node's output.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "k8s/ratelimit.h"

#define MS 1000000ULL
#define S 1000000000ULL

static unsigned take_n(struct rate_limit *rl, unsigned n, uint64_t at_ns)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++)
		ok += rate_limit_take(rl, at_ns);
	return ok;
}

static void test_burst_then_rate(void **state)
{
	struct rate_limit rl;

	(void)state;
	rate_limit_init(&rl, 10, 5, 100 * S);
	/* A full bucket: the burst, then nothing at the same instant. */
	assert_int_equal(take_n(&rl, 20, 100 * S), 5);
	/* 10 a second: one every 100 ms. */
	assert_false(rate_limit_take(&rl, 100 * S + 99 * MS));
	assert_true(rate_limit_take(&rl, 100 * S + 100 * MS));
	assert_false(rate_limit_take(&rl, 100 * S + 150 * MS));
	/* A long pause refills to the burst, not beyond. */
	assert_int_equal(take_n(&rl, 100, 200 * S), 5);
}

static void test_bound_over_any_span(void **state)
{
	struct rate_limit rl;
	unsigned passed = 0;
	uint64_t t0 = 5 * S, t;

	(void)state;
	/* An event every millisecond for 3 s: burst + rate * 3 s get through. */
	rate_limit_init(&rl, 10, 50, t0);
	for (t = t0; t <= t0 + 3 * S; t += MS)
		passed += rate_limit_take(&rl, t);
	assert_int_equal(passed, 50 + 30);
}

static void test_time_going_backwards_adds_nothing(void **state)
{
	struct rate_limit rl;

	(void)state;
	rate_limit_init(&rl, 1, 1, 10 * S);
	assert_true(rate_limit_take(&rl, 10 * S));
	assert_false(rate_limit_take(&rl, 9 * S));
	assert_false(rate_limit_take(&rl, 10 * S + 500 * MS));
	assert_true(rate_limit_take(&rl, 11 * S));
}

static void test_no_limit_and_degenerate_settings(void **state)
{
	struct rate_limit rl;

	(void)state;
	rate_limit_init(&rl, 0, 1, 0);
	assert_int_equal(take_n(&rl, 10000, 1), 10000);
	rate_limit_init(&rl, -3, 1, 0);
	assert_int_equal(take_n(&rl, 100, 1), 100);
	/* A burst of 0 is 1: the first event always goes through. */
	rate_limit_init(&rl, 0.5, 0, 0);
	assert_int_equal(take_n(&rl, 10, 0), 1);
	assert_false(rate_limit_take(&rl, S));
	assert_true(rate_limit_take(&rl, 2 * S));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_bound_over_any_span),
		cmocka_unit_test(test_time_going_backwards_adds_nothing),
		cmocka_unit_test(test_no_limit_and_degenerate_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
