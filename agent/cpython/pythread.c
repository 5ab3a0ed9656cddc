// SPDX-License-Identifier: Apache-2.0
/*
 * pythread.c - the target's Python threads (see pythread.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pytid.h"
#include "pythread.h"

#define MAX_INTERPS 64
/* Thread states read by one scan, over all interpreters (the newest first). */
#define MAX_SCAN_TSTATES 4096
/*
 * After a scan, a TID it did not find is not scanned for again for
 * SCAN_NS_PER_READ per remote read that scan made (at least
 * SCAN_RETRY_MIN_NS): however many threads the target makes, scanning
 * takes a small share of the time.
 */
#define SCAN_RETRY_MIN_NS 5000000ULL
#define SCAN_NS_PER_READ 50000ULL
/* A failed struct pthread inference is retried at most this often. */
#define INFER_RETRY_NS 1000000000ULL

static int tidmap_add(struct py_process *p, pid_t host, pid_t ns)
{
	size_t i;

	for (i = 0; i < p->ntids; i++) {
		if (p->tids[i].host == host) {
			p->tids[i].ns = ns;
			return 0;
		}
	}
	if (p->ntids >= REMOTE_MAX_TASKS)
		p->ntids = 0; /* threads come and go: forget the old ones */
	if (p->ntids == p->tids_cap) {
		size_t ncap = p->tids_cap ? p->tids_cap * 2 : 16;
		struct tidmap *n = realloc(p->tids, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->tids = n;
		p->tids_cap = ncap;
	}
	p->tids[p->ntids++] = (struct tidmap){ host, ns };
	return 0;
}

void py_tidmap_drop(struct py_process *p, pid_t host)
{
	size_t i;

	for (i = 0; i < p->ntids; i++) {
		if (p->tids[i].host == host) {
			p->tids[i] = p->tids[--p->ntids];
			return;
		}
	}
}

int py_ns_tid_of(struct py_process *p, pid_t tid, pid_t *ns)
{
	size_t i;
	int err;

	if (p->r.same_pidns)
		return remote_ns_tid(&p->r, tid, ns);
	for (i = 0; i < p->ntids; i++) {
		if (p->tids[i].host == tid) {
			*ns = p->tids[i].ns;
			return 0;
		}
	}
	err = remote_ns_tid(&p->r, tid, ns);
	if (err)
		return err;
	return tidmap_add(p, tid, *ns);
}

int py_host_tid_of(struct py_process *p, pid_t ns, pid_t *host)
{
	char path[64];
	struct dirent *d;
	unsigned tasks = 0;
	int err = -ENOENT;
	size_t i;
	DIR *dir;

	if (p->r.same_pidns) {
		*host = ns;
		return 0;
	}
	for (i = 0; i < p->ntids; i++) {
		if (p->tids[i].ns == ns) {
			*host = p->tids[i].host;
			return 0;
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/task", p->r.pid);
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((d = readdir(dir)) && tasks++ < REMOTE_MAX_TASKS) {
		pid_t h = atoi(d->d_name), n;

		if (h <= 0 || py_ns_tid_of(p, h, &n) < 0 || n != ns)
			continue;
		*host = h;
		err = 0;
		break;
	}
	closedir(dir);
	return err;
}

/* Read a window of struct pthread; smaller if the end is not mapped. */
static int read_pthread_window(struct py_process *p, uint64_t pthread, uint8_t *buf, size_t *len)
{
	static const size_t sizes[] = { PYTID_WINDOW, 1024, 768 };
	size_t i;
	int err = -EFAULT;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		err = remote_read(&p->r, pthread, buf, sizes[i]);
		if (err != -EFAULT)
			break;
	}
	*len = err ? 0 : sizes[i];
	return err;
}

/* 3.8-3.10: infer where struct pthread keeps the TID (see pytid.h). */
static int infer_tid_offset(struct py_process *p, unsigned *reads)
{
	const uint8_t *wins[64];
	size_t lens[64];
	uint8_t *buf;
	pid_t *valid = NULL;
	int nvalid, nwin = 0, err, found;
	size_t i;

	if (p->nthreads == 0)
		return 0;
	err = remote_ns_tids(&p->r, &valid, &nvalid);
	if (err)
		return err;
	buf = malloc(64 * PYTID_WINDOW);
	if (!buf) {
		free(valid);
		return -ENOMEM;
	}
	for (i = 0; i < p->nthreads && nwin < 64; i++) {
		uint8_t *w = buf + (size_t)nwin * PYTID_WINDOW;

		if (!remote_ptr_ok(p->threads[i].pthread))
			continue;
		(*reads)++;
		err = read_pthread_window(p, p->threads[i].pthread, w, &lens[nwin]);
		if (err == -ESRCH || err == -EPERM)
			goto out;
		if (err)
			continue;
		wins[nwin++] = w;
	}
	err = 0;
	found = pytid_infer_offset(wins, lens, nwin, valid, nvalid, p->r.ns_pid,
				   pytid_preferred_offset(), &p->tid_off);
	/* Ambiguous is still a good guess; none is retried at the next scan. */
	p->tid_off_known = found > 0;
out:
	free(buf);
	free(valid);
	return err;
}

/*
 * 3.8-3.10: each thread's TID, from its struct pthread at tid_off, in
 * batches of one system call. A batch with an unreadable pthread is read
 * one by one.
 */
static void read_pthread_tids(struct py_process *p, unsigned *reads)
{
	struct remote_iov iov[REMOTE_IOV_MAX];
	int32_t tids[REMOTE_IOV_MAX];
	size_t idx[REMOTE_IOV_MAX], i = 0;

	while (i < p->nthreads) {
		int n = 0, k;

		for (; i < p->nthreads && n < REMOTE_IOV_MAX; i++) {
			if (!remote_ptr_ok(p->threads[i].pthread))
				continue;
			idx[n] = i;
			iov[n] = (struct remote_iov){ .addr = p->threads[i].pthread + p->tid_off,
						      .buf = &tids[n], .len = sizeof(tids[n]) };
			n++;
		}
		if (!n)
			break;
		(*reads)++;
		if (remote_readv(&p->r, iov, n) == 0) {
			for (k = 0; k < n; k++)
				p->threads[idx[k]].ns_tid = tids[k];
			continue;
		}
		for (k = 0; k < n; k++) {
			(*reads)++;
			if (remote_readv(&p->r, &iov[k], 1) == 0)
				p->threads[idx[k]].ns_tid = tids[k];
		}
	}
}

/*
 * Scan every interpreter's thread list into p->threads: at most
 * MAX_SCAN_TSTATES thread states over all interpreters (each list starts
 * with its newest thread; a process with more keeps its oldest unfound).
 * *reads counts the remote reads made.
 */
static int scan(struct py_process *p, unsigned *reads)
{
	const struct py_offsets *o = &p->off;
	uint64_t interp, ts, tortoise;
	uint8_t tsbuf[PYOFF_TS_MAX];
	int ni, err, power, lam;

	p->nthreads = 0;
	if (o->ts_read > sizeof(tsbuf))
		return -EINVAL;
	(*reads)++;
	err = remote_u64(&p->r, p->runtime + o->runtime_interp_head, &interp);
	if (err)
		return err;
	for (ni = 0; interp; ni++) {
		if (ni == MAX_INTERPS || !remote_ptr_ok(interp))
			return -EFAULT;
		(*reads)++;
		err = remote_u64(&p->r, interp + o->interp_threads_head, &ts);
		if (err)
			return err;
		/* Brent's cycle detection: a torn list must not spin to the bound. */
		tortoise = 0;
		power = 1;
		lam = 0;
		while (ts && p->nthreads < MAX_SCAN_TSTATES) {
			struct pythread *t;
			struct rbuf rb;

			if (!remote_ptr_ok(ts) || ts == tortoise)
				return -EFAULT;
			if (++lam == power) {
				tortoise = ts;
				power *= 2;
				lam = 0;
			}
			(*reads)++;
			err = remote_read(&p->r, ts, tsbuf, o->ts_read);
			if (err)
				return err;
			rb = rbuf_of(tsbuf, o->ts_read);
			if (rbuf_u64(&rb, o->ts_interp) != interp || rb.bad)
				return -EFAULT; /* torn, or not a thread state */
			if (p->nthreads == p->threads_cap) {
				size_t ncap = p->threads_cap ? p->threads_cap * 2 : 16;
				struct pythread *n = realloc(p->threads, ncap * sizeof(*n));

				if (!n)
					return -ENOMEM;
				p->threads = n;
				p->threads_cap = ncap;
			}
			t = &p->threads[p->nthreads++];
			t->tstate = ts;
			t->interp = interp;
			t->pthread = rbuf_u64(&rb, o->ts_thread_id);
			t->ns_tid = o->tids == PY_TID_NATIVE ? (pid_t)rbuf_u64(&rb, o->ts_native_tid) : 0;
			ts = rbuf_u64(&rb, o->ts_next);
			if (rb.bad)
				return -EFAULT;
		}
		if (p->nthreads == MAX_SCAN_TSTATES)
			break;
		(*reads)++;
		err = remote_u64(&p->r, interp + o->interp_next, &interp);
		if (err)
			return err;
	}
	if (o->tids != PY_TID_PTHREAD)
		return 0;
	if (!p->tid_off_known) {
		if (py_now_ns() < p->infer_after_ns)
			return 0;
		err = infer_tid_offset(p, reads);
		if (err)
			return err;
		if (!p->tid_off_known) {
			/* TIDs unknown for now (samples say -ENOENT): try again later. */
			p->infer_after_ns = py_now_ns() + INFER_RETRY_NS;
			return 0;
		}
	}
	read_pthread_tids(p, reads);
	return 0;
}

int py_scan_threads(struct py_process *p, bool retry)
{
	uint64_t now = py_now_ns(), delay;
	unsigned reads = 0;
	int err;

	/* A torn scan may be retried at once, once (py_process_sample). */
	if (now < p->scan_not_before_ns && !(retry && p->last_scan_torn))
		return p->last_scan_torn ? -EAGAIN : -ENOENT;
	err = scan(p, &reads);
	p->scans++;
	p->last_scan_torn = err == -EFAULT;
	delay = (uint64_t)reads * SCAN_NS_PER_READ;
	p->scan_not_before_ns = py_now_ns() + (delay > SCAN_RETRY_MIN_NS ? delay : SCAN_RETRY_MIN_NS);
	return err;
}

struct pythread *py_thread_at(struct py_process *p, uint64_t tstate)
{
	size_t i;

	for (i = 0; i < p->nthreads; i++)
		if (p->threads[i].tstate == tstate)
			return &p->threads[i];
	return NULL;
}

struct pythread *py_thread_find(struct py_process *p, pid_t ns_tid)
{
	size_t i;

	for (i = 0; i < p->nthreads; i++)
		if (p->threads[i].ns_tid == ns_tid)
			return &p->threads[i];
	return NULL;
}

int py_thread_check(struct py_process *p, const struct pythread *t, pid_t ns_tid,
		    uint64_t *root)
{
	const struct py_offsets *o = &p->off;
	uint8_t tsbuf[PYOFF_TS_MAX];
	struct rbuf rb;
	int32_t tid;
	int err;

	if (o->ts_read > sizeof(tsbuf))
		return -EINVAL;
	err = pagecache_read(&p->pc, &p->r, t->tstate, tsbuf, o->ts_read);
	if (err)
		return err == -EFAULT ? -ENOENT : err;
	rb = rbuf_of(tsbuf, o->ts_read);
	if (rbuf_u64(&rb, o->ts_interp) != t->interp)
		return -ENOENT;
	if (o->tids == PY_TID_NATIVE) {
		if ((pid_t)rbuf_u64(&rb, o->ts_native_tid) != ns_tid)
			return -ENOENT;
	} else {
		uint64_t pthread = rbuf_u64(&rb, o->ts_thread_id);

		if (pthread != t->pthread || !remote_ptr_ok(pthread))
			return -ENOENT;
		err = pagecache_read(&p->pc, &p->r, pthread + p->tid_off, &tid, sizeof(tid));
		if (err)
			return err == -EFAULT ? -ENOENT : err;
		if (tid != ns_tid)
			return -ENOENT;
	}
	*root = rbuf_u64(&rb, o->ts_frame);
	return rb.bad ? -ENOENT : 0;
}
