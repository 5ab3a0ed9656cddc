// SPDX-License-Identifier: Apache-2.0
/*
 * flame_folded.c - the collapsed-stack format (flame.h, flame_folded()):
 * "root;...;leaf WEIGHT" per line, as FlameGraph's stackcollapse scripts
 * write it. Their readers take whole numbers (inferno truncates fractions),
 * so weights are whole milliseconds, rounded by largest remainders.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flame_internal.h"

struct folded_line {
	const uint32_t *frames;
	unsigned depth;
	uint64_t us;    /* the same stack's time in every profile */
	uint64_t ms;    /* its weight */
};

static int by_frames(const void *a, const void *b)
{
	const struct folded_line *x = a, *y = b;
	unsigned n = x->depth < y->depth ? x->depth : y->depth;

	for (unsigned i = 0; i < n; i++)
		if (x->frames[i] != y->frames[i])
			return x->frames[i] < y->frames[i] ? -1 : 1;
	return (x->depth > y->depth) - (x->depth < y->depth);
}

static int by_remainder(const void *a, const void *b)
{
	const struct folded_line *x = *(struct folded_line *const *)a;
	const struct folded_line *y = *(struct folded_line *const *)b;
	uint64_t rx = x->us % 1000, ry = y->us % 1000;

	return (rx < ry) - (rx > ry);
}

/* Whole milliseconds that add up to the total rounded: each line's floor,
 * and one more for the lines with the largest remainders. */
static int round_weights(struct folded_line *lines, unsigned n)
{
	struct folded_line **order = calloc(n ? n : 1, sizeof(*order));
	uint64_t total = 0, given = 0;

	if (!order)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		total += lines[i].us;
		lines[i].ms = lines[i].us / 1000;
		given += lines[i].ms;
		order[i] = &lines[i];
	}
	qsort(order, n, sizeof(*order), by_remainder);
	for (unsigned i = 0; i < n && given < (total + 500) / 1000; i++, given++)
		order[i]->ms++;
	free(order);
	return 0;
}

char *flame_folded(const struct flame *f, size_t *len)
{
	unsigned n = flame_nstacks(f), merged = 0;
	struct folded_line *lines = calloc(n ? n : 1, sizeof(*lines));
	char *out = NULL;
	FILE *mem = NULL;

	if (!lines)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		unsigned profile;

		flame_stack_at(f, i, &profile, &lines[i].frames, &lines[i].depth, &lines[i].us);
	}
	/* One line per stack, whichever threads it blocked. */
	qsort(lines, n, sizeof(*lines), by_frames);
	for (unsigned i = 0; i < n; i++) {
		if (merged && !by_frames(&lines[merged - 1], &lines[i]))
			lines[merged - 1].us += lines[i].us;
		else
			lines[merged++] = lines[i];
	}
	if (round_weights(lines, merged))
		goto out;
	mem = open_memstream(&out, len);
	if (!mem)
		goto out;
	for (unsigned i = 0; i < merged; i++) {
		if (!lines[i].ms)
			continue;
		for (unsigned d = 0; d < lines[i].depth; d++) {
			const char *name, *file;
			int line;

			flame_frame_at(f, lines[i].frames[d], &name, &file, &line);
			fprintf(mem, "%s%s", d ? ";" : "", name);
		}
		fprintf(mem, " %llu\n", (unsigned long long)lines[i].ms);
	}
	if (ferror(mem)) {
		fclose(mem);
		free(out);
		out = NULL;
		goto out;
	}
	if (fclose(mem)) {
		free(out);
		out = NULL;
	}
out:
	free(lines);
	return out;
}
