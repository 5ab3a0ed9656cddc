/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flame.h - blocked time by Python stack, for flame graphs (--folded,
 * --speedscope, the agent's --flame-dir; docs/flamegraphs.md).
 *
 * A block's duration is shared among the stacks sampled during it, in
 * proportion to their samples (to the microsecond, the shares adding up to
 * the duration exactly); a block with no stack counts whole under one
 * frame, FLAME_NO_STACK. Time is summed per distinct stack and per thread
 * loop (pid, tid): one profile each. Frames are named as the console shows
 * them, "function (file:line)", with every byte a flame graph format could
 * misread escaped (flame_frame_name()).
 *
 * Bounded whatever the target's names: a frame name is cut to
 * FLAME_MAX_NAME bytes, and the limits given to flame_new() cap the
 * distinct stacks (further ones count under FLAME_OTHER_STACKS) and frames
 * (further ones are named FLAME_OTHER_FRAME); threads beyond
 * FLAME_MAX_PROFILES share the profile FLAME_OTHER_THREADS. One thread.
 */
#ifndef BLOCKSNOOP_FLAME_H
#define BLOCKSNOOP_FLAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

#define FLAME_MAX_NAME 512         /* bytes of a frame name, escaped, NUL excluded */
#define FLAME_MAX_DEPTH 256        /* frames of a stack kept (the innermost) */
#define FLAME_MAX_PROFILES 64      /* thread loops with a profile of their own */
#define FLAME_NO_STACK "[no Python stack]"
#define FLAME_TRUNCATED "[outer frames not read]"
#define FLAME_OTHER_STACKS "[more distinct stacks than kept]"
#define FLAME_OTHER_FRAME "[more distinct frames than kept]"
#define FLAME_OTHER_THREADS "other threads"

struct flame_limits {
	unsigned max_stacks; /* distinct stacks over all profiles, >= 1 */
	unsigned max_frames; /* distinct frames, >= 8 (the bracketed ones need room) */
};

struct flame;

/* An empty collection, or NULL when out of memory. */
struct flame *flame_new(const struct flame_limits *limits);

/* Accepts NULL. */
void flame_free(struct flame *f);

/*
 * Count event e: its duration over its stacks (or FLAME_NO_STACK), in the
 * profile of its (pid, tid). 0, or -ENOMEM (then nothing of e is counted).
 */
int flame_add_event(struct flame *f, const struct blocking_event *e);

/* Whether any block has been counted. */
bool flame_is_empty(const struct flame *f);

/* Blocked time counted, in microseconds (each block rounded to the µs). */
uint64_t flame_total_us(const struct flame *f);

/*
 * The collapsed-stack format that FlameGraph, inferno and speedscope read:
 * "root;...;leaf WEIGHT\n" per distinct stack, all profiles merged, WEIGHT
 * in whole milliseconds (largest remainders, so that the weights add up to
 * the total blocked time rounded to the millisecond; a stack whose share
 * rounds to 0 is left out). A new NUL-terminated string (free()), its
 * length in *len; NULL when out of memory.
 */
char *flame_folded(const struct flame *f, size_t *len);

/*
 * speedscope's file format (https://www.speedscope.app/file-format-schema.json):
 * the frames table, and one "sampled" profile per thread loop, weights in
 * milliseconds. name: the file's name (and the first profile's title);
 * copied. A new string (free()), its length in *len; NULL when out of memory.
 */
char *flame_speedscope(const struct flame *f, const char *name, size_t *len);

/*
 * A frame's name as both formats show it, "function (file:line)" (line 0:
 * "function (file)"), into out (FLAME_MAX_NAME + 1 bytes). Escaped: '\\'
 * as "\\\\", ';' (the folded format's separator), control characters
 * (newlines among them) and bytes that are not UTF-8 as "\\xNN"; cut at a
 * character boundary to FLAME_MAX_NAME bytes, ending in "..." if cut.
 * NULL strings read as "?". Returns the length.
 */
size_t flame_frame_name(const char *function, const char *file, int line, char *out);

#endif
