/* SPDX-License-Identifier: Apache-2.0 */
/*
 * timeutil.h - clocks. Kernel timestamps (bpf_ktime_get_ns) are
 * CLOCK_MONOTONIC; records also carry wall-clock time for humans and log
 * pipelines.
 */
#ifndef BLOCKSNOOP_TIMEUTIL_H
#define BLOCKSNOOP_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC now, in ns: the clock of bpf_ktime_get_ns(). */
uint64_t mono_now_ns(void);

/* The CLOCK_REALTIME instant of a CLOCK_MONOTONIC timestamp, using the
 * clocks' offset right now (so NTP steps since then are honoured). */
struct timespec mono_to_wall(uint64_t mono_ns);

/* "2026-11-27T15:01:15.123456Z" into buf (at least 32 bytes). */
void format_iso8601(const struct timespec *ts, char *buf, size_t len);

/* A random version-4 UUID string into buf (at least 37 bytes). */
void uuid4(char *buf, size_t len);

#endif
