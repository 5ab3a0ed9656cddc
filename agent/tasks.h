/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tasks.h - the asyncio task a sample found running, as the rest of
 * blocksnoop keeps it: beside a stack (struct stack.task), with its strings
 * interned and counted like a frame's (stacks.h), so that it lives exactly
 * as long as the stack it came with. An event's task is the task of its
 * most sampled stack (event_task()).
 */
#ifndef BLOCKSNOOP_TASKS_H
#define BLOCKSNOOP_TASKS_H

#include <stdbool.h>
#include <stddef.h>

/* Tasks of a chain kept: the running one and those awaiting it. */
#define TASK_CHAIN_MAX 8

enum task_state {
	TASK_NOT_READ = 0, /* the sampler does not read tasks (Austin), or no sample */
	TASK_RUNNING,      /* chain[0] was running */
	TASK_NONE,         /* no task was running: a bare callback (or not asyncio) */
	TASK_UNAVAILABLE,  /* it could not be read: why */
};

struct task_link {
	const char *name, *coro; /* interned references; never NULL in a used link */
};

struct task_seen {
	enum task_state state;
	int depth;                 /* RUNNING: links used (>= 1): [0] running, then who awaits it */
	bool truncated;            /* the chain went on beyond what is kept */
	struct task_link chain[TASK_CHAIN_MAX];
	const char *why;           /* UNAVAILABLE: interned reference */
};

/* Whether a and b say the same (interned strings compare by pointer). */
bool task_seen_equal(const struct task_seen *a, const struct task_seen *b);

/* dst = src with new references: 0, or -ENOMEM (dst is then TASK_NOT_READ). */
int task_seen_copy(struct task_seen *dst, const struct task_seen *src);

/* Give back t's references; t becomes TASK_NOT_READ. */
void task_seen_put(struct task_seen *t);

/* "state" as the JSON record names it: "running", "no_task", "unavailable". */
const char *task_state_name(enum task_state s);

/*
 * The chain of a RUNNING task as one line, "checkout-42 (handle_order) ←
 * awaited by main (main)", into buf (always NUL-terminated, len > 0).
 */
void task_format_chain(const struct task_seen *t, char *buf, size_t len);

struct py_task;

/*
 * What the built-in reader found (cpython/pytask.h) as a task_seen with its
 * own references. Out of memory leaves dst UNAVAILABLE, saying so if it can.
 * Cannot fail otherwise.
 */
void task_seen_from_py(struct task_seen *dst, const struct py_task *src);

struct stack_set;

/*
 * The task of an event or still-blocked report whose stacks are set
 * (NULL: no sampler ran), from a sampler of kind `sampler` (enum
 * sampler_kind, or -1 when not known): the task of its most sampled stack
 * (*why NULL), or NULL with *why saying why there is none (never NULL then).
 */
const struct task_seen *event_task(const struct stack_set *set, int sampler, const char **why);

#endif
