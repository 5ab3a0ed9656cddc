// SPDX-License-Identifier: Apache-2.0
#include <stdlib.h>
#include <string.h>

#include "cpython/pyreader.h"
#include "gap_samples.h"

void gap_samples_clear(struct gap_samples *g)
{
	for (unsigned i = 0; i < g->nstacks; i++)
		stack_free(&g->stacks[i].stack);
	gil_tally_clear(&g->gil);
	memset(g, 0, sizeof(*g));
}

struct gap_samples *gap_samples_for(struct gap_samples gaps[GAPS_KEPT],
				    uint64_t gap_start_ns)
{
	struct gap_samples *oldest = &gaps[0];

	for (int i = 0; i < GAPS_KEPT; i++) {
		if (gaps[i].gap_start_ns == gap_start_ns)
			return &gaps[i];
		if (gaps[i].gap_start_ns < oldest->gap_start_ns)
			oldest = &gaps[i];
	}
	gap_samples_clear(oldest);
	oldest->gap_start_ns = gap_start_ns;
	return oldest;
}

void gap_samples_add(struct gap_samples *g, struct stack *st)
{
	g->total++;
	for (unsigned i = 0; i < g->nstacks; i++) {
		if (stack_equal(&g->stacks[i].stack, st)) {
			g->stacks[i].samples++;
			g->last = (int)i;
			stack_release(st);
			return;
		}
	}
	if (g->nstacks == GAP_MAX_STACKS) {
		stack_release(st); /* counted in total, shown as "other" */
		return;
	}
	if (stack_take(&g->stacks[g->nstacks].stack, st))
		return;
	g->stacks[g->nstacks].samples = 1;
	g->last = (int)g->nstacks++;
}

void gap_samples_add_gil(struct gap_samples *g, pid_t holder_tid, uint64_t gil_addr,
			 struct stack *st)
{
	gil_tally_add(&g->gil, holder_tid, gil_addr, st);
}

struct stack_set *gap_samples_to_set(const struct gap_samples *g, int only, pid_t pid)
{
	struct stack_set *set = calloc(1, sizeof(*set));
	unsigned n = only >= 0 ? 1 : g->nstacks;
	char line[512];

	if (!set)
		return NULL;
	set->stacks = calloc(n ? n : 1, sizeof(*set->stacks));
	if (!set->stacks) {
		free(set);
		return NULL;
	}
	set->total_samples = g->total;
	for (unsigned i = 0; i < n; i++) {
		const struct stack_count *src = &g->stacks[only >= 0 ? (unsigned)only : i];
		struct stack_count *dst = &set->stacks[set->nstacks];

		if (stack_copy(&dst->stack, &src->stack))
			break;
		dst->samples = src->samples;
		/* Source lines as the target sees them (through its root). */
		for (int f = 0; f < dst->stack.depth; f++) {
			struct frame *fr = &dst->stack.frames[f];

			if (fr->line > 0 && !fr->source &&
			    !py_source_line(pid, fr->file, fr->line, line, sizeof(line)))
				fr->source = intern(line); /* the set's stack holds it */
		}
		set->nstacks++;
	}
	/* Most sampled first; ties keep the order they were first seen. */
	for (unsigned i = 1; i < set->nstacks; i++) {
		struct stack_count key = set->stacks[i];
		unsigned j = i;

		for (; j > 0 && set->stacks[j - 1].samples < key.samples; j--)
			set->stacks[j] = set->stacks[j - 1];
		set->stacks[j] = key;
	}
	set->gil = gil_tally_candidate(&g->gil);
	return set;
}
