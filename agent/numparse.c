// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numparse.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Digits with at most one '.', at least one digit, nothing else. */
static bool is_plain_decimal(const char *text)
{
	size_t digits = 0, dots = 0;

	for (const char *p = text; *p; p++) {
		if (is_digit(*p))
			digits++;
		else if (*p == '.' && !dots)
			dots++;
		else
			return false;
	}
	return digits > 0;
}

int num_parse_decimal(const char *text, double *out)
{
	char *end;
	double v;

	if (!is_plain_decimal(text))
		return -EINVAL;
	/* Only digits and one '.' reach strtod, so it reads all of them
	 * as a decimal; ERANGE for a tiny value just means it rounded to
	 * (nearly) 0, which is what the digits say. */
	errno = 0;
	v = strtod(text, &end);
	if (*end)
		return -EINVAL;
	if (!isfinite(v))
		return -ERANGE;
	*out = v;
	return 0;
}

bool num_in_range(double v, const struct num_range *r)
{
	if (isnan(v) || v < r->min || v > r->max)
		return false;
	return !(r->min_excluded && v == r->min);
}

int num_parse_in(const char *text, const struct num_range *r, double *out)
{
	double v;
	int err = num_parse_decimal(text, &v);

	if (err)
		return err;
	if (!num_in_range(v, r))
		return -ERANGE;
	*out = v;
	return 0;
}

int num_parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	bool overflow = false;

	if (!*text)
		return -EINVAL;
	for (const char *p = text; *p; p++) {
		if (!is_digit(*p))
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			overflow = true; /* keep checking that the rest is digits */
		else
			v = v * 10 + (uint64_t)(*p - '0');
	}
	if (overflow || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int num_range_describe(const struct num_range *r, char *buf, size_t len)
{
	/* %.15g prints 3600000 and 0.5 as such, not 3.6e+06. */
	if (r->min_excluded)
		return snprintf(buf, len, "more than %.15g and at most %.15g %s", r->min, r->max,
				r->unit);
	return snprintf(buf, len, "from %.15g to %.15g %s", r->min, r->max, r->unit);
}
