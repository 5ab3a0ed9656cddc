/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stacks.h - Python stacks as the rest of blocksnoop keeps them: frames
 * whose strings are interned for the whole session (so they outlive the
 * target process they were read from), and sets of distinct stacks with
 * how many samples each got.
 */
#ifndef BLOCKSNOOP_STACKS_H
#define BLOCKSNOOP_STACKS_H

#include <stdbool.h>
#include <stddef.h>

struct frame {
	const char *function; /* qualified name where the interpreter has one */
	const char *file;
	int line;             /* 0 if unknown */
	const char *source;   /* the source line, NULL if unknown */
};

struct stack {
	int depth;
	bool truncated;       /* deeper than the reader follows */
	struct frame *frames; /* innermost first; owned */
};

struct stack_count {
	struct stack stack;
	unsigned samples;
};

/* What was seen on a thread during one block: its distinct stacks, most
 * sampled first. */
struct stack_set {
	unsigned total_samples;
	unsigned nstacks;
	struct stack_count *stacks; /* owned */
};

/*
 * A copy of s that lives until the process exits (or NULL if s is NULL).
 * Equal strings share one copy. NULL when out of memory.
 */
const char *intern(const char *s);

/* Whether two stacks have the same frames (function, file, line). */
bool stack_equal(const struct stack *a, const struct stack *b);

/* Deep copy (the frames array; strings are interned). 0 or -ENOMEM. */
int stack_copy(struct stack *dst, const struct stack *src);

void stack_free(struct stack *s);

/* Free a set and everything in it. Accepts NULL. */
void stack_set_free(struct stack_set *set);

/*
 * Whether a frame is the event loop's own machinery (asyncio, selectors,
 * threading in the standard library) rather than application code. Only
 * files inside a .../lib/pythonX.Y/ directory count, so an application's
 * own "asyncio/" package is never hidden.
 */
bool frame_is_loop_machinery(const struct frame *f);

/* The innermost frame that is not loop machinery, or the innermost frame
 * if all are; NULL for an empty stack. */
const struct frame *stack_culprit(const struct stack *s);

#endif
