/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pythread.h - the target's Python threads (internal to agent/cpython):
 * which thread state belongs to an OS thread. Host TIDs are translated to
 * the target's PID namespace (NSpid), thread states are found by scanning
 * every interpreter's list (bounded, and not repeated for an unknown TID
 * before a delay proportional to the last scan's cost), and a thread
 * state's TID is native_thread_id (3.11+) or read from glibc's struct
 * pthread at an offset inferred from the target's memory (3.8-3.10).
 */
#ifndef BLOCKSNOOP_CPYTHON_PYTHREAD_H
#define BLOCKSNOOP_CPYTHON_PYTHREAD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pyprocess.h"

/*
 * Host TID tid -> TID in the target's PID namespace (cached): 0, -ENOENT
 * (not a thread of the target), other -errno.
 */
int py_ns_tid_of(struct py_process *p, pid_t tid, pid_t *ns);

/*
 * TID ns in the target's PID namespace -> host TID (the inverse of
 * py_ns_tid_of(), through its cache; on a miss, by translating the
 * process's tasks, at most REMOTE_MAX_TASKS): 0, -ENOENT, other -errno.
 */
int py_host_tid_of(struct py_process *p, pid_t ns, pid_t *host);

/* Forget the translation of host TID tid (it may be recycled). */
void py_tidmap_drop(struct py_process *p, pid_t tid);

/*
 * Scan every interpreter's thread list into p->threads, unless a scan was
 * made a moment ago: then its answer stands, the TID was not found
 * (-ENOENT) or the list was torn (-EAGAIN); retry: a torn scan may be
 * retried at once, once. A scan reads at most 4096 thread states; the next
 * may come after a delay proportional to this one's reads. 0, -EFAULT (a
 * torn list), other -errno of a failed read.
 */
int py_scan_threads(struct py_process *p, bool retry);

/* The thread state the last scan found at address tstate, or NULL. */
struct pythread *py_thread_at(struct py_process *p, uint64_t tstate);

/* The thread state the last scan found for namespace TID ns_tid, or NULL. */
struct pythread *py_thread_find(struct py_process *p, pid_t ns_tid);

/*
 * Re-read thread state t (through the page cache) and check that it still
 * is ns_tid's, in the same interpreter; its frame root (the ts_frame field)
 * into *root. 0, -ENOENT if it no longer is, other -errno.
 */
int py_thread_check(struct py_process *p, const struct pythread *t, pid_t ns_tid,
		    uint64_t *root);

#endif
