// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <sys/random.h>

#include "timeutil.h"

uint64_t mono_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

struct timespec mono_to_wall(uint64_t mono_ns)
{
	struct timespec real;
	uint64_t now_mono = mono_now_ns(), real_ns;

	clock_gettime(CLOCK_REALTIME, &real);
	real_ns = (uint64_t)real.tv_sec * 1000000000ULL + real.tv_nsec;
	real_ns -= now_mono > mono_ns ? now_mono - mono_ns : 0;
	return (struct timespec){ .tv_sec = real_ns / 1000000000ULL,
				  .tv_nsec = real_ns % 1000000000ULL };
}

void format_iso8601(const struct timespec *ts, char *buf, size_t len)
{
	struct tm tm;
	char date[24];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06ldZ", date, ts->tv_nsec / 1000);
}

void uuid4(char *buf, size_t len)
{
	unsigned char b[16] = { 0 };

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		/* No entropy yet (very early boot): fall back to the clock,
		 * uniqueness per host is all a session id needs. */
		uint64_t t = mono_now_ns();
		for (int i = 0; i < 8; i++)
			b[i] = t >> (8 * i);
	}
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	snprintf(buf, len,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
		 b[11], b[12], b[13], b[14], b[15]);
}
