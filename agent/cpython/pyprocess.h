/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pyprocess.h - what a reader keeps about one target process (internal to
 * agent/cpython): struct py_process, shared by the files that each handle
 * one concern of reading it:
 *
 *   pyproc.c     its life: attaching (choosing and checking the layout),
 *                opening, closing; whether it still runs the same image
 *   pagecache.c  the per-sample page cache its frames are read through
 *   pyobject.c   the objects a frame leads to: types, str, bytes
 *   pycode.c     code objects, resolved into the code cache
 *   pythread.c   its Python threads and their OS TIDs
 *   pyframe.c    walking a thread's frames, and a frame's line
 *   pyreader.c   py_process_sample(): the above put together
 *   pytask.c     py_process_task(): the asyncio task a thread runs
 *   pygil.c      py_process_gil(): who holds the GIL
 *
 * Everything the target controls is checked where it is read (see the
 * top of pyreader.c).
 */
#ifndef BLOCKSNOOP_CPYTHON_PYPROCESS_H
#define BLOCKSNOOP_CPYTHON_PYPROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "codecache.h"
#include "pagecache.h"
#include "pyelf.h"
#include "pyoffsets.h"
#include "pyreader.h"
#include "pystr.h"
#include "remote.h"

/* Longest UTF-8 of a PYSTR_MAX_CHARS string. */
#define PY_STR_BUF (PYSTR_MAX_CHARS * 4 + 1)
/* Frames visited per sample, shim frames included. */
#define PY_MAX_WALK (4 * PY_MAX_DEPTH)
/* Object types whose kind is remembered. */
#define PY_MAX_TYPES 32

enum py_obkind { PY_KIND_OTHER, PY_KIND_CODE, PY_KIND_STR, PY_KIND_BYTES, PY_KIND_INT, PY_KIND_DICT };

/* A Python thread state found by the last scan. */
struct pythread {
	pid_t ns_tid; /* 0 = unknown */
	uint64_t tstate, interp, pthread;
};

/* Host TID -> TID in the target's PID namespace. */
struct tidmap {
	pid_t host, ns;
};

/* A small set of frame addresses, to catch cycles. */
struct py_seen {
	uint64_t slot[2 * PY_MAX_WALK];
};

struct py_process {
	struct remote r;
	struct py_offsets off;
	char version[24];
	uint64_t runtime; /* run-time address of _PyRuntime */
	/* pygil.c: where its GIL is (home PY_GIL_NONE: not read, gil_why) */
	struct py_gil_offsets gil;
	char gil_why[128];

	/* pythread.c */
	struct pythread *threads;
	size_t nthreads, threads_cap;
	uint64_t scan_not_before_ns; /* no scan for an unknown TID before */
	bool last_scan_torn;
	unsigned scans;
	struct tidmap *tids;
	size_t ntids, tids_cap;
	bool tid_off_known;
	uint32_t tid_off;
	uint64_t infer_after_ns; /* no new inference before (it reads /proc) */

	/* pyobject.c */
	struct {
		uint64_t type;
		enum py_obkind kind;
	} types[PY_MAX_TYPES];
	int ntypes;

	/* pycode.c */
	struct code_cache codes;
	uint8_t *scratch; /* code headers for the batched check */
	char *strbuf[2];  /* PY_STR_BUF each: a code object's two names */

	/* pyframe.c */
	struct page_cache pc; /* thread states and frames, per sample */
	struct py_seen *seen;

	/* pyreader.c: the frames the last sample walked, for pytask.c */
	pid_t walk_tid; /* 0: none */
	int nwalk;
	uint64_t walk[PY_MAX_DEPTH + 1];

	/* pytask.c: where its asyncio tasks are (NULL until first asked) */
	struct py_tasks *tasks;
	/* the executable's .AsyncioDebug section (3.15: _asyncio built in) */
	uint8_t exe_asyncio_debug[PYELF_ASYNCIO_DEBUG_MAX];
	size_t exe_asyncio_debug_len;
};

/* pytask.c: free what p->tasks holds. Accepts NULL. */
struct py_tasks;
void py_tasks_free(struct py_tasks *t);

/* CLOCK_MONOTONIC in ns. */
uint64_t py_now_ns(void);

/* printf into err (errlen > 0), or nothing if err is NULL. */
void py_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Whether the process still runs the image p was opened on: 0, -ESRCH
 * (exited) or -ESTALE (exec'ed, or the runtime's memory went away).
 */
int py_check_alive(const struct py_process *p);

/*
 * What a failed read in the middle of a walk means: the process went away
 * (-ESRCH), exec'ed (-ESTALE), or (most often) changed what was being read
 * (-EAGAIN). Errors other than -EFAULT and -ESRCH are returned as they are.
 */
int py_read_failure(const struct py_process *p, int err);

#endif
