/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gil_wait.h - whether a blocked loop thread was waiting for the GIL, and
 * for which thread: what the samples of one gap saw of the GIL (a tally,
 * kept beside the gap's stacks in gap_samples.h), and the verdict an event
 * carries (struct stack_set.gil).
 *
 * The rule: a gap waited for the GIL held by thread T when T held it (the
 * GIL locked, its last holder T's thread state, T not the loop thread) in
 * at least GIL_SHARE_MIN of the gap's samples, T being the thread seen
 * holding it most often. Why not a majority: a loop thread that shares the
 * GIL with one CPU-bound thread holds it half of the time and waits the
 * other half (each keeps it for the switch interval), so a majority rule
 * would never name the commonest culprit.
 */
#ifndef BLOCKSNOOP_GIL_WAIT_H
#define BLOCKSNOOP_GIL_WAIT_H

#include <stdbool.h>
#include <sys/types.h>

#include "stacks.h"

#define GIL_SHARE_MIN 0.25
/* Distinct holders tallied per gap; further ones are not. */
#define GIL_HOLDERS_KEPT 4

struct gil_holder {
	pid_t tid;          /* blocksnoop's PID namespace; 0 = unused */
	unsigned samples;   /* samples in which it held the GIL */
	struct stack stack; /* its most recent stack (owned; depth 0: none read) */
};

struct gil_tally {
	unsigned nholders;
	struct gil_holder holders[GIL_HOLDERS_KEPT];
};

/* What an event says of the GIL: the thread its loop thread waited for. */
struct gil_wait {
	pid_t holder_tid;
	double share;       /* of the gap's samples in which it held the GIL */
	struct stack stack; /* its stack (owned; depth 0 if it could not be read) */
};

/*
 * Count a sample in which thread tid held the GIL, with its stack st
 * (innermost first; its references are handed over, st is left empty, as
 * gap_samples_add(); st may have depth 0). Out of memory loses the stack,
 * not the count.
 */
void gil_tally_add(struct gil_tally *t, pid_t tid, struct stack *st);

/* Give back every stack; t becomes empty. */
void gil_tally_clear(struct gil_tally *t);

/*
 * The verdict for a gap of total samples with tally t: a new gil_wait
 * (free it with gil_wait_free()), or NULL if the rule above names nobody
 * (or out of memory).
 */
struct gil_wait *gil_tally_verdict(const struct gil_tally *t, unsigned total);

/* Free w and its stack. Accepts NULL. */
void gil_wait_free(struct gil_wait *w);

#endif
