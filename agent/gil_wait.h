/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gil_wait.h - whether a blocked loop thread was waiting for the GIL, and
 * for which thread: what the samples of one gap saw of the GIL (a tally,
 * kept beside the gap's stacks in gap_samples.h), and the verdict an event
 * carries (struct stack_set.gil).
 *
 * The rule: a gap waited for the GIL held by thread T when
 *   - the kernel saw the loop thread asleep in futex on the GIL itself (a
 *     first argument inside the GIL's struct, whose address the samples
 *     read) for at least GIL_SHARE_MIN of the gap (its anatomy), and
 *   - T is the thread the samples found holding it most often (at least
 *     once: the GIL locked, its last holder T's thread state, not the loop
 *     thread's).
 * Why the kernel's time and not a share of samples: sampling at a fixed
 * interval against a GIL switched at a fixed interval can lock in phase
 * and see one side only; and a thread asleep on a threading.Lock while
 * another runs Python would look like a GIL wait to samples alone. Why a
 * tenth and not a majority: a loop thread taking turns with one CPU-bound
 * thread waits for the GIL at most half of the time, asleep for less (it
 * is woken to take it and then waits for a CPU, runnable, not asleep).
 * The holder is named only if some sample caught the loop thread waiting:
 * a sampler whose interval is a multiple of the GIL's switch interval (10
 * ms against the default 5 ms) can stay in phase with the switches for a
 * whole block and see only the loop thread's turns; the event then has no
 * holder.
 */
#ifndef BLOCKSNOOP_GIL_WAIT_H
#define BLOCKSNOOP_GIL_WAIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "stacks.h"

#define GIL_SHARE_MIN 0.1
/* Distinct holders tallied per gap; further ones are not. */
#define GIL_HOLDERS_KEPT 4

struct gil_holder {
	pid_t tid;          /* blocksnoop's PID namespace; 0 = unused */
	unsigned samples;   /* samples in which it held the GIL */
	struct stack stack; /* its most recent stack (owned; depth 0: none read) */
};

struct gil_tally {
	uint64_t gil_addr;  /* where the GIL was, as last read */
	unsigned nholders;
	struct gil_holder holders[GIL_HOLDERS_KEPT];
};

/* What an event says of the GIL: the thread its loop thread waited for. */
struct gil_wait {
	pid_t holder_tid;
	unsigned samples;   /* samples in which it held the GIL */
	uint64_t gil_addr;
	double share;       /* of the gap asleep on the GIL (gil_wait_confirm) */
	struct stack stack; /* its stack (owned; depth 0 if it could not be read) */
};

/*
 * Count a sample in which thread tid held the GIL at gil_addr, with its
 * stack st (innermost first; its references are handed over, st is left
 * empty, as gap_samples_add(); st may have depth 0). Out of memory loses
 * the stack, not the count.
 */
void gil_tally_add(struct gil_tally *t, pid_t tid, uint64_t gil_addr, struct stack *st);

/* Give back every stack; t becomes empty. */
void gil_tally_clear(struct gil_tally *t);

/*
 * The candidate of tally t: a new gil_wait for the holder seen most often
 * (share 0 until confirmed; free it with gil_wait_free()), or NULL if no
 * sample saw another holder (or out of memory).
 */
struct gil_wait *gil_tally_candidate(const struct gil_tally *t);

struct event_anatomy;

/*
 * Keep *w only if the rule above holds for a gap of gap_ms with anatomy a
 * (NULL: not measured, so nothing is kept): its share is then the gap's
 * time asleep in futex inside the GIL; else *w is freed and NULL.
 */
void gil_wait_confirm(struct gil_wait **w, const struct event_anatomy *a, double gap_ms);

/* Free w and its stack. Accepts NULL. */
void gil_wait_free(struct gil_wait *w);

#endif
