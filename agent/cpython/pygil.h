/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pygil.h - who holds the GIL of a thread's interpreter, read from the
 * target's memory (the layout: pyoffsets.h, "the GIL"). Used with the
 * samples of a blocked loop thread, to name the thread it waits for.
 */
#ifndef BLOCKSNOOP_CPYTHON_PYGIL_H
#define BLOCKSNOOP_CPYTHON_PYGIL_H

#include <stdint.h>
#include <sys/types.h>

struct py_process;

enum py_gil_state {
	PY_GIL_FREE,     /* nobody holds it */
	PY_GIL_MINE,     /* the thread asked about holds it */
	PY_GIL_OTHER,    /* another thread of the process holds it: holder_tid */
};

struct py_gil {
	enum py_gil_state state;
	pid_t holder_tid; /* OTHER: its TID in blocksnoop's PID namespace */
	uint64_t addr;    /* where the GIL is (its mutexes and condition variables,
			   * which a thread waiting for it sleeps on, lie in its
			   * first PY_GIL_SPAN bytes) */
};

/* sizeof(struct _gil_runtime_state) is 208 in 3.11-3.13 (offsetof() on
 * their headers); what a waiter sleeps on lies within this many bytes. */
#define PY_GIL_SPAN 256

/*
 * Who holds the GIL that thread tid of p's process runs under, into *out.
 * Call it right after a py_process_sample() of the same tid that returned
 * 0. The holder is believed only if it is a thread state of the process's
 * own thread lists (re-scanned at most as often as a sample may scan), so
 * a last_holder pointing anywhere else is "unknown", not followed.
 * Returns 0, or:
 *   -ENOTSUP this interpreter's GIL is not read (a free-threaded build, or
 *            before 3.11): py_process_gil_why() says why;
 *   -ENOENT  the holder is not a thread state the reader knows (torn, or a
 *            corrupted GIL state), or has no TID here;
 *   -EAGAIN  the GIL state was implausible (locked neither 0 nor 1);
 *   other -errno of a failed read (-ESRCH, -ESTALE as py_process_sample()).
 * A few reads: the GIL pointer (3.12+), the GIL struct, and for a holder
 * not seen before a thread scan and, in another PID namespace, the
 * target's task list.
 */
int py_process_gil(struct py_process *p, pid_t tid, struct py_gil *out);

/* Why py_process_gil() says -ENOTSUP for p ("" otherwise). Never NULL. */
const char *py_process_gil_why(const struct py_process *p);

#endif
