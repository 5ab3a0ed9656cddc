// SPDX-License-Identifier: Apache-2.0
/*
 * pygil.c - py_process_gil() (see pygil.h): who holds the GIL. The target
 * controls every byte read here: the GIL pointer is checked before it is
 * followed, the struct is read whole into a bounded buffer and taken apart
 * with rbuf_*(), and the holder it names is believed only if it is one of
 * the thread states the thread scan found in the interpreters' own lists
 * (never followed as a pointer).
 */
#include <errno.h>

#include "pygil.h"
#include "pyprocess.h"
#include "pythread.h"

const char *py_process_gil_why(const struct py_process *p)
{
	return p->gil.home == PY_GIL_NONE ? p->gil_why : "";
}

/* The address of the GIL of interpreter interp: 0, or -errno. */
static int gil_address(struct py_process *p, uint64_t interp, uint64_t *gil)
{
	int err;

	if (p->gil.home == PY_GIL_IN_RUNTIME) {
		*gil = p->runtime + p->gil.gil_at;
		return 0;
	}
	if (!remote_ptr_ok(interp))
		return -ENOENT;
	err = remote_u64(&p->r, interp + p->gil.gil_at, gil);
	if (err)
		return err;
	return remote_ptr_ok(*gil) ? 0 : -EAGAIN;
}

int py_process_gil(struct py_process *p, pid_t tid, struct py_gil *out)
{
	uint8_t buf[PYOFF_GIL_READ];
	const struct pythread *me, *holder;
	uint64_t gil, last;
	struct rbuf rb;
	int32_t locked;
	pid_t ns;
	int err;

	out->state = PY_GIL_FREE;
	out->holder_tid = 0;
	out->addr = 0;
	if (p->gil.home == PY_GIL_NONE)
		return -ENOTSUP;
	err = py_ns_tid_of(p, tid, &ns);
	if (err)
		return err;
	me = py_thread_find(p, ns);
	if (!me)
		return -ENOENT;
	err = gil_address(p, me->interp, &gil);
	if (!err)
		err = remote_read(&p->r, gil, buf, sizeof(buf));
	if (err)
		return py_read_failure(p, err);
	out->addr = gil;
	rb = rbuf_of(buf, sizeof(buf));
	locked = rbuf_i32(&rb, p->gil.gil_locked);
	last = rbuf_u64(&rb, p->gil.gil_holder);
	if (rb.bad || (locked != 0 && locked != 1))
		return -EAGAIN;
	if (!locked)
		return 0;
	if (last == me->tstate) {
		out->state = PY_GIL_MINE;
		return 0;
	}
	holder = py_thread_at(p, last);
	if (!holder) {
		/* A thread started since the last scan, or no thread at all. */
		err = py_scan_threads(p, false);
		if (err && err != -ENOENT && err != -EAGAIN)
			return py_read_failure(p, err);
		holder = py_thread_at(p, last);
	}
	if (!holder || holder->ns_tid <= 0)
		return -ENOENT;
	err = py_host_tid_of(p, holder->ns_tid, &out->holder_tid);
	if (err)
		return err;
	out->state = PY_GIL_OTHER;
	return 0;
}
