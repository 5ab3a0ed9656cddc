// SPDX-License-Identifier: Apache-2.0
/*
 * test_numparse.c - agent/numparse.h: plain decimals, ranges at their
 * boundaries, unsigned integers, and the range in words.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <float.h>
#include <string.h>

#include "numparse.h"

static void expect_decimal(const char *text, double want)
{
	double v = -1;
	int rc = num_parse_decimal(text, &v);

	if (rc)
		fail_msg("'%s' was rejected (%d)", text, rc);
	if (v != want)
		fail_msg("'%s' read as %.17g, not %.17g", text, v, want);
}

static void expect_not_decimal(const char *text, int want_rc)
{
	double v = 42;
	int rc = num_parse_decimal(text, &v);

	if (rc != want_rc)
		fail_msg("'%s': %d, expected %d (value %.17g)", text, rc, want_rc, v);
	assert_true(v == 42); /* untouched */
}

static void test_plain_decimals(void **state)
{
	(void)state;
	expect_decimal("0", 0);
	expect_decimal("50", 50);
	expect_decimal("0.5", 0.5);
	expect_decimal(".5", 0.5);
	expect_decimal("5.", 5);
	expect_decimal("007", 7);
	expect_decimal("3600000", 3600000);
	/* A tiny value rounds towards 0 rather than failing. */
	expect_decimal("0.0000000000000000000000000000000000000000000000000000000000000000"
		       "00000000000000000000000000000000000000000000000000000000000000000"
		       "00000000000000000000000000000000000000000000000000000000000000000"
		       "00000000000000000000000000000000000000000000000000000000000000000"
		       "00000000000000000000000000000000000000000000000000000000000000000"
		       "000000000000000000000000000000000000000000000000000000000000000001", 0);
}

static void test_not_decimals(void **state)
{
	static const char *const bad[] = {
		"", ".", "..", "1..2", "1.2.3", "-1", "+1", " 1", "1 ", "1\n", "1e3", "1E3",
		"1e300", "0x10", "0X10", "0b1", "inf", "INF", "infinity", "nan", "NaN", "1,5",
		"50ms", "1_000", "\xef\xbc\x91" /* fullwidth 1 */, "-0", "0x", "e", "1e",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_not_decimal(bad[i], -EINVAL);
}

static void test_huge_decimal(void **state)
{
	char huge[400];

	(void)state;
	memset(huge, '9', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	/* 10^399 does not fit a double: out of range, not "not a number". */
	expect_not_decimal(huge, -ERANGE);
}

static void test_ranges(void **state)
{
	const struct num_range ms = { .min = 0, .max = 3600000, .unit = "milliseconds" };
	const struct num_range interval = { .min = 0.5, .max = 50, .unit = "milliseconds" };
	const struct num_range positive = { .min = 0, .min_excluded = true, .max = 10,
					    .unit = "seconds" };
	double v = -1;

	(void)state;
	assert_int_equal(num_parse_in("0", &ms, &v), 0);
	assert_true(v == 0);
	assert_int_equal(num_parse_in("3600000", &ms, &v), 0);
	assert_true(v == 3600000);
	assert_int_equal(num_parse_in("3600000.0", &ms, &v), 0);
	v = -1;
	assert_int_equal(num_parse_in("3600000.001", &ms, &v), -ERANGE);
	assert_int_equal(num_parse_in("20000000000000", &ms, &v), -ERANGE); /* 2e13 */
	assert_int_equal(num_parse_in("1e300", &ms, &v), -EINVAL);
	assert_int_equal(num_parse_in("-0.1", &ms, &v), -EINVAL);
	assert_true(v == -1);

	assert_int_equal(num_parse_in("0.5", &interval, &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(num_parse_in("50", &interval, &v), 0);
	assert_true(v == 50);
	assert_int_equal(num_parse_in("0.499", &interval, &v), -ERANGE);
	assert_int_equal(num_parse_in("0.000001", &interval, &v), -ERANGE);
	assert_int_equal(num_parse_in("50.001", &interval, &v), -ERANGE);

	assert_int_equal(num_parse_in("0", &positive, &v), -ERANGE);
	assert_int_equal(num_parse_in("0.000", &positive, &v), -ERANGE);
	assert_int_equal(num_parse_in("0.001", &positive, &v), 0);
	assert_int_equal(num_parse_in("10", &positive, &v), 0);
	assert_int_equal(num_parse_in("10.5", &positive, &v), -ERANGE);

	assert_true(num_in_range(5, &positive));
	assert_false(num_in_range(0.0 / 0.0, &positive));
	assert_false(num_in_range(1.0 / 0.0, &positive));
	assert_false(num_in_range(-DBL_MIN, &ms));
}

static void test_uints(void **state)
{
	uint64_t v = 7;

	(void)state;
	assert_int_equal(num_parse_uint("0", 0, 65535, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(num_parse_uint("65535", 0, 65535, &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(num_parse_uint("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	v = 7;
	assert_int_equal(num_parse_uint("65536", 0, 65535, &v), -ERANGE);
	assert_int_equal(num_parse_uint("0", 1, 10, &v), -ERANGE);
	assert_int_equal(num_parse_uint("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(num_parse_uint("99999999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(num_parse_uint("99999999999999999999999x", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(num_parse_uint("", 0, 10, &v), -EINVAL);
	assert_int_equal(num_parse_uint("-1", 0, 10, &v), -EINVAL);
	assert_int_equal(num_parse_uint("+1", 0, 10, &v), -EINVAL);
	assert_int_equal(num_parse_uint(" 1", 0, 10, &v), -EINVAL);
	assert_int_equal(num_parse_uint("0x1", 0, 10, &v), -EINVAL);
	assert_int_equal(num_parse_uint("1.0", 0, 10, &v), -EINVAL);
	assert_int_equal(v, 7);
}

static void test_describe(void **state)
{
	const struct num_range ms = { .min = 0, .max = 3600000, .unit = "milliseconds" };
	const struct num_range interval = { .min = 0.5, .max = 50, .unit = "milliseconds" };
	const struct num_range positive = { .min = 0, .min_excluded = true, .max = 31536000,
					    .unit = "seconds" };
	char buf[128], tiny[6];

	(void)state;
	num_range_describe(&ms, buf, sizeof(buf));
	assert_string_equal(buf, "from 0 to 3600000 milliseconds");
	num_range_describe(&interval, buf, sizeof(buf));
	assert_string_equal(buf, "from 0.5 to 50 milliseconds");
	num_range_describe(&positive, buf, sizeof(buf));
	assert_string_equal(buf, "more than 0 and at most 31536000 seconds");
	assert_int_equal(num_range_describe(&ms, tiny, sizeof(tiny)),
			 (int)strlen("from 0 to 3600000 milliseconds"));
	assert_string_equal(tiny, "from ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_decimals),
		cmocka_unit_test(test_not_decimals),
		cmocka_unit_test(test_huge_decimal),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_uints),
		cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
