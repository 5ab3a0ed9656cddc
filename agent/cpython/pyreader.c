// SPDX-License-Identifier: Apache-2.0
/*
 * pyreader.c - py_process_sample() (see pyreader.h): one stack of one
 * thread, from the parts the other files of this directory read (their
 * concerns are listed in pyprocess.h; attaching is pyproc.c's).
 *
 * The chain, in every version:
 *   _PyRuntime -> interpreters.head (->next) -> threads.head (->next)
 *   -> current frame -> previous frame ... -> code object
 * with the offsets of struct py_offsets (pyoffsets.c, the one home of
 * version drift). The target controls all of it, so:
 *   - every remote pointer is checked before it is followed, and every
 *     walk is bounded (frames, threads, interpreters) with cycles caught;
 *   - every field is taken out of a copy of remote memory with rbuf_*()
 *     (remote.h), which checks offset + width against the bytes read: an
 *     offset from the target's own _Py_DebugOffsets can never index past a
 *     buffer (pyoffsets_check() refuses such a layout up front, too);
 *   - what is kept is bounded: the code cache (codecache.h), the thread
 *     list, the types; and the work of a sample is bounded: a thread scan
 *     reads at most MAX_SCAN_TSTATES thread states, and a TID a scan did
 *     not find is not scanned for again until a delay proportional to that
 *     scan's cost has passed.
 *
 * Hot path of py_process_sample():
 *   host TID -> namespace TID (identity, or NSpid: cached)
 *   -> thread state (cached; re-checked against the thread state's own TID)
 *   -> frames, read a page at a time (3.11+ frames are contiguous in the
 *   thread's data stack, so a page brings several) -> code objects (cached
 *   by address; all the hits re-checked in one batched read) -> lines from
 *   the cached tables -> one read of /proc/<pid>/mem to prove the process
 *   did not exec.
 * The target is never stopped, so a walk can be torn by the target
 * changing its stack under it: cycles, frames that cannot start a stack,
 * instruction pointers outside their code and objects of the wrong type
 * are all taken as signs of that (-EAGAIN, retried once).
 */
#include <errno.h>
#include <stdbool.h>

#include "pycode.h"
#include "pyframe.h"
#include "pyprocess.h"
#include "pyreader.h"
#include "pythread.h"

static int sample(struct py_process *p, pid_t tid, bool retry, struct py_stack *out)
{
	const struct py_offsets *o = &p->off;
	struct raw_frame raw[PY_MAX_DEPTH + 1];
	struct code_entry *ents[PY_MAX_DEPTH + 1];
	struct pythread *t;
	uint64_t root = 0;
	pid_t ns;
	bool more;
	int n, i, err;

	out->depth = 0;
	out->truncated = false;
	p->walk_tid = 0;
	pagecache_reset(&p->pc); /* the target has moved on since the last sample */
	err = py_ns_tid_of(p, tid, &ns);
	if (err == -ENOENT) {
		/* Not its thread: unless the process is gone or another image. */
		int alive = py_check_alive(p);

		return alive ? alive : -ENOENT;
	}
	if (err)
		return err;

	t = py_thread_find(p, ns);
	err = t ? py_thread_check(p, t, ns, &root) : -ENOENT;
	if (err == -ENOENT) {
		err = py_scan_threads(p, retry);
		if (err == -ENOENT || err == -EAGAIN) {
			/* Scanned a moment ago: its answer stands, unless the
			 * process went away meanwhile. */
			int alive = py_check_alive(p);

			return alive ? alive : err;
		}
		if (err)
			return py_read_failure(p, err);
		pagecache_reset(&p->pc);
		t = py_thread_find(p, ns);
		if (!t) {
			/* Maybe a recycled host TID: translate afresh next time. */
			py_tidmap_drop(p, tid);
			err = py_check_alive(p);
			return err ? err : -ENOENT;
		}
		err = py_thread_check(p, t, ns, &root);
		if (err == -ENOENT)
			err = -EAGAIN;
	}
	if (err)
		return py_read_failure(p, err);

	if (o->frames == PY_FRAMES_CFRAME && root) {
		uint64_t cframe = root;

		root = 0;
		if (!remote_ptr_ok(cframe))
			return -EAGAIN;
		err = pagecache_read(&p->pc, &p->r, cframe + o->cframe_current_frame, &root, sizeof(root));
		if (err)
			return py_read_failure(p, err);
	}
	err = py_walk(p, root, raw, &n, &more);
	if (err)
		return py_read_failure(p, err);
	for (i = 0; i < n; i++)
		p->walk[i] = raw[i].addr;
	p->nwalk = n;
	err = py_resolve_codes(p, raw, n, ents);
	if (err)
		return py_read_failure(p, err);

	for (i = 0; i < n; i++) {
		struct py_frame *f;

		if (!ents[i])
			return -EAGAIN;
		if (!ents[i]->valid) {
			/* 3.13+: f_executable need not be code (shims): skip */
			if (o->frames == PY_FRAMES_DIRECT)
				continue;
			return -EAGAIN;
		}
		if (out->depth == PY_MAX_DEPTH) {
			more = true;
			break;
		}
		f = &out->frames[out->depth++];
		f->function = ents[i]->function;
		f->file = ents[i]->file;
		f->line = py_frame_line(p, ents[i], &raw[i]);
		if (f->line < 0)
			return -EAGAIN;
	}
	out->truncated = more;
	/* Everything above came from the image we opened, not an exec'ed one. */
	err = py_check_alive(p);
	if (!err)
		p->walk_tid = tid;
	return err;
}

int py_process_sample(struct py_process *p, pid_t tid, struct py_stack *out)
{
	int err, attempt;

	if (!out)
		return -EINVAL;
	out->depth = 0;
	out->truncated = false;
	if (!p || tid <= 0)
		return -EINVAL;
	/*
	 * A torn read (the target moved under the walk) is retried once at
	 * once: a fresh walk usually lands between two of its calls.
	 */
	for (attempt = 0; attempt < 2; attempt++) {
		err = sample(p, tid, attempt > 0, out);
		if (err != -EAGAIN)
			break;
	}
	/* Torn, unless it is not the process that was opened any more. */
	if (err == -EAGAIN) {
		int alive = py_check_alive(p);

		if (alive)
			err = alive;
	}
	if (err) {
		out->depth = 0;
		out->truncated = false;
	}
	return err;
}
