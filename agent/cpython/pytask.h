/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pytask.h - which asyncio task a thread of a CPython target is running,
 * read from outside as its stacks are (the second public header of
 * agent/cpython, beside pyreader.h).
 *
 * The task is the one whose step the thread is in: its name (the name
 * given to create_task(), or "Task-N"), its coroutine's qualified name, and
 * from 3.14 on the tasks that await it, up to the root task, as
 * `python -m asyncio pstree` shows them. How each version keeps it is in
 * pyoffsets.h ("asyncio tasks"); everything read is bounded and checked as
 * the stack walk's reads are, and whatever fails says "unavailable" with a
 * reason rather than a guess.
 */
#ifndef BLOCKSNOOP_CPYTHON_PYTASK_H
#define BLOCKSNOOP_CPYTHON_PYTASK_H

#include <stdbool.h>
#include <sys/types.h>

#include "pyreader.h"

/* Longest name or coroutine kept (bytes with the NUL; cut at a character). */
#define PY_TASK_NAME_MAX 128
/* Tasks of a chain: the running one and those awaiting it, up to the root. */
#define PY_TASK_CHAIN_MAX 8

enum py_task_state {
	PY_TASK_UNAVAILABLE, /* it could not be read: why says why */
	PY_TASK_RUNNING,     /* chain[0] is running */
	PY_TASK_NONE,        /* the thread runs no task (a bare callback, or not asyncio) */
};

struct py_task_link {
	char name[PY_TASK_NAME_MAX]; /* "checkout-42", "Task-7" */
	char coro[PY_TASK_NAME_MAX]; /* its coroutine's __qualname__: "handle_order" */
};

struct py_task {
	enum py_task_state state;
	/* RUNNING: links used, at least 1: [0] the running task, [i + 1] a task
	 * awaiting [i] (the first one found if several do), the last the root */
	int depth;
	bool truncated; /* the chain went on past PY_TASK_CHAIN_MAX, or looped */
	struct py_task_link chain[PY_TASK_CHAIN_MAX];
	char why[192];  /* UNAVAILABLE: one line; "" otherwise */
};

/*
 * The task thread tid of p's process is running, into *out (always set).
 * Call it right after a py_process_sample() of the same tid that returned 0
 * (3.11-3.13 tell the thread's task by the frames that sample walked).
 * Returns 0 whatever the answer (out->state says it), or -ESRCH / -ESTALE
 * as py_process_sample() would (the process went away or exec'ed; out says
 * unavailable). Never more than a bounded number of reads: a few for
 * 3.14+, a few more per loop running a task for 3.11-3.13; finding where
 * tasks are kept (sys.modules for 3.11-3.13, the _asyncio module's ELF
 * file for 3.14) is done once, and retried at most once a second while it
 * fails.
 */
int py_process_task(struct py_process *p, pid_t tid, struct py_task *out);

#endif
