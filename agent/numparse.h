/* SPDX-License-Identifier: Apache-2.0 */
/*
 * numparse.h - the one home for the numbers blocksnoop reads from people:
 * its command line, the agent's flags and environment, pod annotations.
 * Pure, unit-tested (tests/unit/test_numparse.c) and fuzzed through the
 * option parsers.
 *
 * A number is a plain decimal: digits with at most one '.', and at least
 * one digit ("50", "0.5", ".5", "5."). No sign, exponent, hex, inf, nan,
 * spaces or trailing text: what a person types for milliseconds or
 * seconds, and nothing strtod would read as something else ("0x10" is 16
 * to strtod, "1e300" overflows every later conversion).
 *
 * Every number also has a range, checked here, so that the conversions
 * that follow (to u64 nanoseconds for the kernel, to an int epoll timeout)
 * cannot overflow.
 */
#ifndef BLOCKSNOOP_NUMPARSE_H
#define BLOCKSNOOP_NUMPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct num_range {
	double min;
	double max;
	bool min_excluded; /* min itself is out of range (a duration > 0) */
	const char *unit;  /* "milliseconds", "seconds": for messages */
};

/*
 * text as a plain decimal into *out. Returns 0, or -EINVAL if text is not
 * a plain decimal, or -ERANGE if it is one too large for a double. *out is
 * written only on success.
 */
int num_parse_decimal(const char *text, double *out);

/*
 * A plain decimal within r. Returns 0, -EINVAL (not a plain decimal) or
 * -ERANGE (outside r). *out is written only on success.
 */
int num_parse_in(const char *text, const struct num_range *r, double *out);

/*
 * Whether v lies within r (v may be anything, NaN and infinities are not
 * within any range).
 */
bool num_in_range(double v, const struct num_range *r);

/*
 * An unsigned integer: decimal digits only (no sign, space or "0x"),
 * within [min, max]. Returns 0, -EINVAL (not digits only, or empty) or
 * -ERANGE (outside [min, max], however many digits). *out is written only
 * on success.
 */
int num_parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out);

/*
 * r in words for messages: "from 0 to 3600000 milliseconds", "more than 0
 * and at most 31536000 seconds". Truncates to fit len (always
 * NUL-terminated if len > 0); returns what snprintf returns.
 */
int num_range_describe(const struct num_range *r, char *buf, size_t len);

#endif
