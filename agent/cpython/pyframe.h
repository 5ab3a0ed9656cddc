/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pyframe.h - a thread's frames (internal to agent/cpython): walking them
 * from the thread's current frame, innermost first, and the line a frame
 * is at. Shim frames (the eval loop's entry frames and the like) are
 * skipped; a walk that cannot be a whole stack is a torn read.
 */
#ifndef BLOCKSNOOP_CPYTHON_PYFRAME_H
#define BLOCKSNOOP_CPYTHON_PYFRAME_H

#include <stdbool.h>
#include <stdint.h>

#include "codecache.h"
#include "pyprocess.h"

/* A frame as walked, before its code object is resolved. */
struct raw_frame {
	uint64_t addr; /* the frame itself (for pytask.c: which coroutine runs) */
	uint64_t code;
	int64_t where; /* byte offset (PyFrameObject) or instruction pointer */
};

/*
 * Walk the frames from `frame` (0: none), innermost first, skipping shim
 * frames, into raw[] (PY_MAX_DEPTH + 1 entries: a deeper stack sets
 * *more). Frames are read through p's page cache. 0, -EFAULT for a walk
 * that is not a whole stack (garbage, a cycle, a stack that ends where no
 * thread's first frame can be: see pyoffsets.h), other -errno of a read.
 */
int py_walk(struct py_process *p, uint64_t frame, struct raw_frame *raw, int *n, bool *more);

/*
 * The line of frame rf, whose code object is e (0 if its instruction has
 * none, or the table is unknown), or -1 if the code object and the
 * instruction pointer cannot belong together: a torn read.
 */
int py_frame_line(const struct py_process *p, const struct code_entry *e,
		  const struct raw_frame *rf);

#endif
