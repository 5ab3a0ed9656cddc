/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stacks.h - Python stacks as the rest of blocksnoop keeps them: frames
 * whose strings are interned and counted (so they outlive the target
 * process they were read from, and no longer than the last frame that
 * shows them), and sets of distinct stacks with how many samples each got.
 */
#ifndef BLOCKSNOOP_STACKS_H
#define BLOCKSNOOP_STACKS_H

#include <stdbool.h>
#include <stddef.h>

#include "tasks.h"

/*
 * A frame's strings are interned (intern() below) and the frame holds one
 * reference on each: whoever frees a frame gives them back (stack_free(),
 * stack_release()).
 */
struct frame {
	const char *function; /* qualified name where the interpreter has one */
	const char *file;
	int line;             /* 0 if unknown */
	const char *source;   /* the source line, NULL if unknown */
};

struct stack {
	int depth;
	bool truncated;       /* deeper than the reader follows */
	struct frame *frames; /* innermost first; owned, with their references */
	/* The asyncio task running when it was sampled (tasks.h), with its own
	 * references: part of what makes two stacks equal, moved, copied and
	 * given back with the frames. */
	struct task_seen task;
};

struct stack_count {
	struct stack stack;
	unsigned samples;
};

/* What was seen on a thread during one block: its distinct stacks, most
 * sampled first; or, with none, why there is none. */
struct stack_set {
	unsigned total_samples;
	unsigned nstacks;
	struct stack_count *stacks; /* owned */
	char *unavailable;          /* owned; why nstacks is 0 (NULL: not said) */
	/* The thread the blocked thread waited for the GIL for (gil_wait.h),
	 * owned; NULL: it did not, or the sampler does not read the GIL. */
	struct gil_wait *gil;
};

/*
 * A reference to the one shared copy of s (equal strings share it, so
 * interned strings compare by pointer), or NULL if s is NULL or out of
 * memory. Give every reference back with intern_put(): a copy lives while
 * it has references, so what is kept is what pending gaps, events and call
 * sites still show, however many names a target invents. One thread only.
 */
const char *intern(const char *s);

/* Give back a reference from intern(). Accepts NULL; ignores a string that
 * is not interned. */
void intern_put(const char *s);

/* How many distinct interned strings are alive (for tests). */
size_t intern_count(void);

/* Whether two stacks have the same frames (function, file, line) and task. */
bool stack_equal(const struct stack *a, const struct stack *b);

/* Deep copy: a new frames array, with new references on the strings.
 * 0 or -ENOMEM (dst is then empty). */
int stack_copy(struct stack *dst, const struct stack *src);

/*
 * Move src's frames, with their references, into dst (a new frames array);
 * src is left empty and its frames array is not freed (it may live on the
 * C stack). 0, or -ENOMEM (src's references are then given back, dst is
 * empty).
 */
int stack_take(struct stack *dst, struct stack *src);

/* Give back the references of s's frames; s->frames is not freed. */
void stack_release(struct stack *s);

/* Give back the references and free the frames array. */
void stack_free(struct stack *s);

/* Free a set and everything in it. Accepts NULL. */
void stack_set_free(struct stack_set *set);

/*
 * A set with no stack that says why (a copy of why, one line, e.g.
 * "process 42 is not Python: ..."), after total_samples samples that gave
 * none. Owned by the caller (stack_set_free); NULL when out of memory.
 */
struct stack_set *stack_set_unavailable(unsigned total_samples, const char *why);

/*
 * Why an event with this set has no Python stack, for records and the
 * console: the set's own reason, or for no set at all (no sampler ran)
 * STACKS_SAMPLING_OFF. NULL if the set has stacks. Valid as long as set.
 */
#define STACKS_SAMPLING_OFF "stack sampling is off"
const char *stack_set_why_none(const struct stack_set *set);

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
