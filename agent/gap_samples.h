/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gap_samples.h - what the samplers keep per watched thread: the distinct
 * stacks seen during each recent block (gap), with sample counts, until the
 * block's event claims them. Their frames hold references on their interned
 * strings (stacks.h): a gap cleared or recycled gives them back, so the
 * strings alive are those of at most GAPS_KEPT gaps per watched thread and
 * of the events being reported. Shared by every sampler, so both attribute and
 * aggregate samples the same way.
 */
#ifndef BLOCKSNOOP_GAP_SAMPLES_H
#define BLOCKSNOOP_GAP_SAMPLES_H

#include <stdint.h>
#include <sys/types.h>

#include "gil_wait.h"
#include "stacks.h"

/* Distinct stacks kept per gap; further ones are counted, not kept. */
#define GAP_MAX_STACKS 16
/* Gaps kept per thread until their event claims them: the event of a gap
 * arrives after the gap closes, possibly after the next one has begun. */
#define GAPS_KEPT 4

struct gap_samples {
	uint64_t gap_start_ns;           /* the detector's gap start; 0 = unused */
	unsigned total;                  /* samples counted */
	unsigned nstacks;
	struct stack_count stacks[GAP_MAX_STACKS];
	int last;                        /* index of the most recent stack */
	uint64_t last_report_ns;         /* still-blocked report; 0 = none yet */
	struct gil_tally gil;            /* who held the GIL while it was sampled */
};

/* Free g's stacks and mark it unused. */
void gap_samples_clear(struct gap_samples *g);

/* The entry of gaps[GAPS_KEPT] for the gap that began at gap_start_ns,
 * recycling the oldest entry if there is none yet. Cannot fail. */
struct gap_samples *gap_samples_for(struct gap_samples gaps[GAPS_KEPT],
				    uint64_t gap_start_ns);

/*
 * Count one sample: st's frames (innermost first), whose string references
 * (from intern()) the caller hands over: they are kept with the stack, or
 * given back if an equal stack is kept already; st is left empty. Out of
 * memory only loses the stack, not the count.
 */
void gap_samples_add(struct gap_samples *g, struct stack *st);

/*
 * Count one sample of g in which thread holder_tid held the GIL (at
 * gil_addr), with its
 * stack st (handed over as for gap_samples_add(); may have depth 0). The
 * sample itself is counted by gap_samples_add().
 */
void gap_samples_add_gil(struct gap_samples *g, pid_t holder_tid, uint64_t gil_addr,
			 struct stack *st);

/*
 * The stacks of g (or only its stack number `only`, if >= 0), with source
 * lines read from process pid's files, most sampled first, and the GIL
 * holder all of g's samples saw most (gil_tally_candidate()). Owned by
 * the caller (stack_set_free); NULL when out of memory.
 */
struct stack_set *gap_samples_to_set(const struct gap_samples *g, int only, pid_t pid);

#endif
