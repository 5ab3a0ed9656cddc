// SPDX-License-Identifier: Apache-2.0
/*
 * pyreader.c - the CPython stack reader (see pyreader.h): attaching to a
 * process whose _PyRuntime is known (pyruntime.c finds it), and sampling.
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codecache.h"
#include "linetable.h"
#include "pyattach.h"
#include "pyoffsets.h"
#include "pyreader.h"
#include "pystr.h"
#include "pytid.h"
#include "remote.h"

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
/* Frames visited per sample, shim frames included. */
#define MAX_WALK (4 * PY_MAX_DEPTH)
/* Largest line table copied (bigger ones give line 0): only module code of
 * data modules comes near it. */
#define MAX_TABLE (64u << 10)
/* Longest UTF-8 of a PYSTR_MAX_CHARS string. */
#define STR_BUF (PYSTR_MAX_CHARS * 4 + 1)
#define MAX_TYPES 32
/* A failed struct pthread inference is retried at most this often. */
#define INFER_RETRY_NS 1000000000ULL
/* Pages kept by the per-sample page cache. */
#define PC_PAGES 32
#define PC_PAGE 4096u

enum obkind { KIND_OTHER, KIND_CODE, KIND_STR, KIND_BYTES };

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
struct seen {
	uint64_t slot[2 * MAX_WALK];
};

/* A frame as walked, before its code object is resolved. */
struct raw_frame {
	uint64_t code;
	int64_t where; /* byte offset (PyFrameObject) or instruction pointer */
};

struct py_process {
	struct remote r;
	struct py_offsets off;
	char version[24];
	uint64_t runtime; /* run-time address of _PyRuntime */

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

	struct {
		uint64_t type;
		enum obkind kind;
	} types[MAX_TYPES];
	int ntypes;

	struct code_cache codes;

	uint8_t *scratch; /* code headers for the batched check */
	char *strbuf[2];  /* STR_BUF each: a code object's two names */

	/*
	 * Per-sample page cache for thread states and frames: 3.11+ frames
	 * sit next to each other in the thread's data stack, so one read of a
	 * page usually brings several. Emptied at the start of every sample.
	 */
	int pc_n;
	uint64_t pc_addr[PC_PAGES];
	uint8_t (*pc_data)[PC_PAGE];
	struct seen *seen;
};

/* ------------------------------------------------------------------ */
/* little helpers                                                       */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* process liveness: exit, exec                                         */

/*
 * Whether the process still runs the image p was opened on: 0, -ESRCH
 * (exited) or -ESTALE (exec'ed, or the runtime's memory went away).
 */
static int check_alive(const struct py_process *p)
{
	return remote_check_alive(&p->r, p->runtime);
}

/*
 * A failed read in the middle of a walk: the process went away, exec'ed,
 * or (most often) changed what we were reading.
 */
static int read_failure(const struct py_process *p, int err)
{
	int alive;

	if (err != -EFAULT && err != -ESRCH)
		return err;
	alive = check_alive(p);
	if (alive)
		return alive;
	return err == -ESRCH ? -ESRCH : -EAGAIN;
}

/* ------------------------------------------------------------------ */
/* the per-sample page cache                                            */

static int pc_find(const struct py_process *p, uint64_t page)
{
	int i;

	for (i = 0; i < p->pc_n; i++)
		if (p->pc_addr[i] == page)
			return i;
	return -1;
}

/*
 * Read len (<= PC_PAGE) bytes at addr through the page cache: the pages
 * holding them are read whole, in one call, if not cached yet.
 */
static int pc_read(struct py_process *p, uint64_t addr, void *buf, size_t len)
{
	uint64_t first = addr & ~(uint64_t)(PC_PAGE - 1), page;
	struct remote_iov iov[2];
	int slot[2], npages, i, nmiss = 0, err;
	size_t done = 0;

	if (len == 0 || len > PC_PAGE || addr + len < addr)
		return -EFAULT;
	npages = ((addr + len - 1) & ~(uint64_t)(PC_PAGE - 1)) == first ? 1 : 2;
	for (i = 0; i < npages; i++) {
		page = first + (uint64_t)i * PC_PAGE;
		slot[i] = pc_find(p, page);
		if (slot[i] >= 0)
			continue;
		if (p->pc_n + 2 > PC_PAGES) {
			/* Full: start over (keeping a page this read needs). */
			if (i == 1 && slot[0] >= 0) {
				p->pc_addr[0] = p->pc_addr[slot[0]];
				memcpy(p->pc_data[0], p->pc_data[slot[0]], PC_PAGE);
				slot[0] = 0;
				p->pc_n = 1;
			} else {
				p->pc_n = 0;
			}
		}
		slot[i] = p->pc_n;
		iov[nmiss++] = (struct remote_iov){ .addr = page, .buf = p->pc_data[p->pc_n],
						    .len = PC_PAGE };
		p->pc_addr[p->pc_n++] = page;
	}
	if (nmiss) {
		err = remote_readv(&p->r, iov, nmiss);
		if (err) {
			/* Forget the pages that were not read. */
			p->pc_n -= nmiss;
			return err;
		}
	}
	for (i = 0; i < npages; i++) {
		size_t from = i == 0 ? addr - first : 0;
		size_t n = PC_PAGE - from;

		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)buf + done, p->pc_data[slot[i]] + from, n);
		done += n;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* objects: kinds, strings, bytes                                       */

/* Py_TPFLAGS_HEAPTYPE: a class made at run time, never a builtin type. */
#define TPFLAGS_HEAPTYPE (1UL << 9)

/*
 * What kind of object has type `type` (cached by address). The builtin
 * types are static objects named "code", "str" and "bytes"; a class of the
 * same name is a heap type, and each kind has one type only.
 */
static int type_kind(struct py_process *p, uint64_t type, enum obkind *kind)
{
	static const struct {
		const char *name;
		enum obkind kind;
	} known[] = { { "code", KIND_CODE }, { "str", KIND_STR }, { "bytes", KIND_BYTES } };
	const struct py_offsets *o = &p->off;
	uint8_t hdr[PYOFF_TYPE_MAX];
	uint64_t name_ptr, flags;
	struct rbuf rb;
	uint32_t hlen;
	char name[8];
	size_t i, n;
	int err, k;

	for (k = 0; k < p->ntypes; k++) {
		if (p->types[k].type == type) {
			*kind = p->types[k].kind;
			return 0;
		}
	}
	hlen = (o->type_tp_name > o->type_tp_flags ? o->type_tp_name : o->type_tp_flags) + 8;
	if (!remote_ptr_ok(type) || hlen > sizeof(hdr))
		return -EFAULT;
	err = remote_read(&p->r, type, hdr, hlen);
	if (err)
		return err;
	rb = rbuf_of(hdr, hlen);
	name_ptr = rbuf_u64(&rb, o->type_tp_name);
	flags = rbuf_u64(&rb, o->type_tp_flags);
	if (rb.bad || name_ptr == 0 || name_ptr >= (1ULL << 57))
		return -EFAULT;
	/* Up to 8 bytes, not past the end of the name's page. */
	n = 4096 - (name_ptr & 4095);
	if (n > sizeof(name))
		n = sizeof(name);
	err = remote_read(&p->r, name_ptr, name, n);
	if (err)
		return err;
	*kind = KIND_OTHER;
	if (memchr(name, '\0', n) && !(flags & TPFLAGS_HEAPTYPE)) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(name, known[i].name) == 0)
				*kind = known[i].kind;
	}
	for (k = 0; k < p->ntypes && *kind != KIND_OTHER; k++)
		if (p->types[k].kind == *kind)
			*kind = KIND_OTHER; /* the real one is known already */
	if (p->ntypes < MAX_TYPES) {
		p->types[p->ntypes].type = type;
		p->types[p->ntypes].kind = *kind;
		p->ntypes++;
	}
	return 0;
}

/*
 * The str object at addr as UTF-8 in out (STR_BUF bytes). -EFAULT for a
 * read that failed or an object that is not a str (torn or stale pointers).
 */
static int read_str(struct py_process *p, uint64_t addr, char *out)
{
	const struct py_offsets *o = &p->off;
	uint8_t hdr[PYOFF_STR_MAX], *chars;
	struct pystr_shape shape;
	uint64_t data, nbytes, type;
	enum obkind kind;
	struct rbuf rb;
	int64_t length;
	uint32_t state;
	int err;

	out[0] = '\0';
	if (!remote_ptr_ok(addr) || o->str_ascii_data > sizeof(hdr))
		return -EFAULT;
	/* PyASCIIObject: the smallest any str is. */
	err = remote_read(&p->r, addr, hdr, o->str_ascii_data);
	if (err)
		return err;
	rb = rbuf_of(hdr, o->str_ascii_data);
	type = rbuf_u64(&rb, o->ob_type);
	length = rbuf_i64(&rb, o->str_length);
	state = (uint32_t)rbuf_i32(&rb, o->str_state);
	if (rb.bad)
		return -EFAULT;
	err = type_kind(p, type, &kind);
	if (err)
		return err;
	if (kind != KIND_STR)
		return -EFAULT;
	if (length < 0 || pystr_shape(state, &shape) < 0)
		return -EFAULT;
	if (shape.ascii) {
		data = addr + o->str_ascii_data;
	} else if (shape.compact) {
		data = addr + o->str_compact_data;
	} else {
		/* A legacy string: data.any points to the characters. */
		err = remote_u64(&p->r, addr + o->str_compact_data, &data);
		if (err)
			return err;
		if (!data || data >= (1ULL << 57))
			return -EFAULT;
	}
	if (length > PYSTR_MAX_CHARS)
		length = PYSTR_MAX_CHARS;
	nbytes = (uint64_t)length * shape.kind;
	if (nbytes == 0)
		return 0;
	chars = malloc(nbytes);
	if (!chars)
		return -ENOMEM;
	err = remote_read(&p->r, data, chars, nbytes);
	if (!err)
		pystr_to_utf8(&shape, chars, nbytes, (uint64_t)length, out, STR_BUF);
	free(chars);
	return err;
}

/*
 * The content of the bytes object at addr (malloc'd), if it is at most
 * max bytes long; else, or if empty, NULL and 0 (no line table: lines 0).
 */
static int read_bytes(struct py_process *p, uint64_t addr, size_t max, uint8_t **out,
		      size_t *len)
{
	const struct py_offsets *o = &p->off;
	uint8_t hdr[PYOFF_BYTES_MAX];
	uint64_t type;
	enum obkind kind;
	struct rbuf rb;
	int64_t size;
	int err;

	*out = NULL;
	*len = 0;
	if (!remote_ptr_ok(addr) || o->bytes_sval > sizeof(hdr))
		return -EFAULT;
	err = remote_read(&p->r, addr, hdr, o->bytes_sval);
	if (err)
		return err;
	rb = rbuf_of(hdr, o->bytes_sval);
	type = rbuf_u64(&rb, o->ob_type);
	size = rbuf_i64(&rb, o->bytes_size);
	if (rb.bad)
		return -EFAULT;
	err = type_kind(p, type, &kind);
	if (err)
		return err;
	if (kind != KIND_BYTES || size < 0)
		return -EFAULT;
	if (size == 0 || (uint64_t)size > max)
		return 0;
	*out = malloc(size);
	if (!*out)
		return -ENOMEM;
	err = remote_read(&p->r, addr + o->bytes_sval, *out, size);
	if (err) {
		free(*out);
		*out = NULL;
		return err;
	}
	*len = size;
	return 0;
}

/* ------------------------------------------------------------------ */
/* code objects                                                         */

/* The fields that identify a code object, from its header hdr. */
static struct code_entry code_fields(const struct py_process *p, uint64_t addr,
				     struct rbuf *hdr)
{
	const struct py_offsets *o = &p->off;
	struct code_entry e = { .addr = addr };

	e.type = rbuf_u64(hdr, o->ob_type);
	e.filename = rbuf_u64(hdr, o->code_filename);
	e.name = rbuf_u64(hdr, o->code_name);
	e.qualname = o->code_qualname == PYOFF_NONE ? 0 : rbuf_u64(hdr, o->code_qualname);
	e.linetable = rbuf_u64(hdr, o->code_linetable);
	e.firstlineno = rbuf_i32(hdr, o->code_firstlineno);
	return e;
}

/* Whether the code header hdr (as just read) still describes e. */
static bool code_matches(const struct py_process *p, const struct code_entry *e,
			 struct rbuf *hdr)
{
	struct code_entry now = code_fields(p, e->addr, hdr);

	if (hdr->bad || now.type != e->type)
		return false;
	if (!e->valid)
		return true;
	return now.filename == e->filename && now.name == e->name &&
	       now.qualname == e->qualname && now.linetable == e->linetable &&
	       now.firstlineno == e->firstlineno;
}

/* Read the code object at addr (header hdr already read) into the cache. */
static int code_load(struct py_process *p, uint64_t addr, struct rbuf *hdr)
{
	struct code_entry e = code_fields(p, addr, hdr);
	char *file = p->strbuf[0], *function = p->strbuf[1];
	size_t room;
	enum obkind kind;
	int err;

	if (hdr->bad)
		return -EFAULT;
	err = type_kind(p, e.type, &kind);
	if (err)
		return err;
	e.valid = kind == KIND_CODE;
	if (e.valid) {
		err = read_str(p, e.filename, file);
		if (!err)
			err = read_str(p, e.qualname ? e.qualname : e.name, function);
		if (err)
			return err;
		/* A table the cache has no room for: lines 0, but a stack. */
		room = codecache_table_room(&p->codes);
		err = read_bytes(p, e.linetable, room < MAX_TABLE ? room : MAX_TABLE, &e.table,
				 &e.tablen);
		if (err)
			return err;
	} else {
		e.filename = e.name = e.qualname = e.linetable = 0;
		e.firstlineno = 0;
	}
	return codecache_add(&p->codes, &e, function, file) ? 0 : -ENOMEM;
}

/*
 * Resolve the code objects of n frames into ents[]: cached entries are
 * re-checked in one batched read, the rest (and any that changed) read.
 * The entries are valid until the next sample.
 */
static int resolve_codes(struct py_process *p, const struct raw_frame *raw, int n,
			 struct code_entry **ents)
{
	const uint32_t hsize = p->off.code_read;
	struct remote_iov iov[PY_MAX_DEPTH + 1];
	uint64_t addrs[PY_MAX_DEPTH + 1];
	int nuniq = 0, i, j, err;

	/* The distinct code addresses, in first-seen order. */
	for (i = 0; i < n; i++) {
		for (j = 0; j < nuniq && addrs[j] != raw[i].code; j++)
			;
		if (j == nuniq)
			addrs[nuniq++] = raw[i].code;
	}
	codecache_begin_sample(&p->codes);
	for (j = 0; j < nuniq; j++) {
		if (!remote_ptr_ok(addrs[j]))
			return -EFAULT;
		codecache_find(&p->codes, addrs[j]); /* marks the hits as in use */
		iov[j] = (struct remote_iov){ .addr = addrs[j], .buf = p->scratch + (size_t)j * hsize,
					     .len = hsize };
	}
	/* Room for all: the cache must not be emptied half-way through. */
	err = codecache_reserve(&p->codes, nuniq);
	if (err)
		return err;
	if (nuniq) {
		err = remote_readv(&p->r, iov, nuniq);
		if (err)
			return err;
	}
	for (j = 0; j < nuniq; j++) {
		struct rbuf hdr = rbuf_of(p->scratch + (size_t)j * hsize, hsize);
		struct code_entry *e = codecache_find(&p->codes, addrs[j]);

		if (e && !code_matches(p, e, &hdr)) {
			/* Freed and its address reused: forget it. */
			codecache_remove(&p->codes, e);
			e = NULL;
		}
		if (!e) {
			hdr.bad = false;
			err = code_load(p, addrs[j], &hdr);
			if (err)
				return err;
		}
	}
	/* Removing moves entries: look them up last. */
	for (i = 0; i < n; i++)
		ents[i] = codecache_find(&p->codes, raw[i].code);
	return 0;
}

/* ------------------------------------------------------------------ */
/* threads                                                              */

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

static void tidmap_drop(struct py_process *p, pid_t host)
{
	size_t i;

	for (i = 0; i < p->ntids; i++) {
		if (p->tids[i].host == host) {
			p->tids[i] = p->tids[--p->ntids];
			return;
		}
	}
}

/* Host TID -> TID in the target's PID namespace: 0, -ENOENT (not its thread). */
static int ns_tid_of(struct py_process *p, pid_t tid, pid_t *ns)
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
static int scan_threads(struct py_process *p, unsigned *reads)
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
		if (now_ns() < p->infer_after_ns)
			return 0;
		err = infer_tid_offset(p, reads);
		if (err)
			return err;
		if (!p->tid_off_known) {
			/* TIDs unknown for now (samples say -ENOENT): try again later. */
			p->infer_after_ns = now_ns() + INFER_RETRY_NS;
			return 0;
		}
	}
	read_pthread_tids(p, reads);
	return 0;
}

/*
 * Scan, unless a scan was made a moment ago: then its answer stands, the
 * TID was not found (-ENOENT) or the list was torn (-EAGAIN). The next
 * scan may come after a delay proportional to this one's reads. Otherwise
 * returns as scan_threads().
 */
static int scan_threads_bounded(struct py_process *p, bool retry)
{
	uint64_t now = now_ns(), delay;
	unsigned reads = 0;
	int err;

	/* A torn scan may be retried at once, once (py_process_sample). */
	if (now < p->scan_not_before_ns && !(retry && p->last_scan_torn))
		return p->last_scan_torn ? -EAGAIN : -ENOENT;
	err = scan_threads(p, &reads);
	p->scans++;
	p->last_scan_torn = err == -EFAULT;
	delay = (uint64_t)reads * SCAN_NS_PER_READ;
	p->scan_not_before_ns = now_ns() + (delay > SCAN_RETRY_MIN_NS ? delay : SCAN_RETRY_MIN_NS);
	return err;
}

static struct pythread *thread_find(struct py_process *p, pid_t ns_tid)
{
	size_t i;

	for (i = 0; i < p->nthreads; i++)
		if (p->threads[i].ns_tid == ns_tid)
			return &p->threads[i];
	return NULL;
}

/*
 * Re-read thread state t and check it still is ns_tid's, in the same
 * interpreter; its frame root (ts_frame field) into *root. -ENOENT if it
 * no longer is.
 */
static int thread_check(struct py_process *p, const struct pythread *t, pid_t ns_tid,
			uint64_t *root)
{
	const struct py_offsets *o = &p->off;
	uint8_t tsbuf[PYOFF_TS_MAX];
	struct rbuf rb;
	int32_t tid;
	int err;

	if (o->ts_read > sizeof(tsbuf))
		return -EINVAL;
	err = pc_read(p, t->tstate, tsbuf, o->ts_read);
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
		err = pc_read(p, pthread + p->tid_off, &tid, sizeof(tid));
		if (err)
			return err == -EFAULT ? -ENOENT : err;
		if (tid != ns_tid)
			return -ENOENT;
	}
	*root = rbuf_u64(&rb, o->ts_frame);
	return rb.bad ? -ENOENT : 0;
}

/* ------------------------------------------------------------------ */
/* frames                                                               */

static bool seen_add(struct seen *s, uint64_t addr)
{
	const size_t n = sizeof(s->slot) / sizeof(s->slot[0]);
	size_t i = (size_t)((addr >> 3) * 0x9E3779B97F4A7C15ULL) & (n - 1);

	for (; s->slot[i]; i = (i + 1) & (n - 1))
		if (s->slot[i] == addr)
			return false;
	s->slot[i] = addr;
	return true;
}

/*
 * Walk the frames from `frame`, innermost first, skipping shim frames, into
 * raw[] (at most PY_MAX_DEPTH + 1, so a deeper stack shows as more).
 */
static int walk(struct py_process *p, uint64_t frame, struct raw_frame *raw, int *n,
		bool *more)
{
	const struct py_offsets *o = &p->off;
	struct seen *seen = p->seen;
	bool shim = false, entry = false, running = false;
	uint8_t fbuf[PYOFF_FRAME_MAX];
	int steps, err = 0;

	*n = 0;
	*more = false;
	if (o->frame_read > sizeof(fbuf))
		return -EINVAL;
	memset(seen, 0, sizeof(*seen));
	for (steps = 0; frame; steps++) {
		struct rbuf fb;
		uint64_t code;

		if (steps == MAX_WALK || *n == PY_MAX_DEPTH + 1) {
			*more = true;
			break;
		}
		if (!remote_ptr_ok(frame) || !seen_add(seen, frame)) {
			err = -EFAULT; /* garbage or a cycle: a torn read */
			break;
		}
		err = pc_read(p, frame, fbuf, o->frame_read);
		if (err)
			break;
		fb = rbuf_of(fbuf, o->frame_read);
		code = rbuf_u64(&fb, o->frame_code) & o->code_ptr_mask;
		if (o->frames == PY_FRAMES_OBJECT) {
			uint8_t state = rbuf_u8(&fb, o->frame_state);

			raw[*n].code = code;
			raw[*n].where = (int64_t)rbuf_i32(&fb, o->frame_lasti) * o->lasti_scale;
			(*n)++;
			running = state < 8 && (o->frame_state_live & (1u << state));
		} else {
			shim = rbuf_u8(&fb, o->frame_owner) >= o->owner_shim;
			if (!shim) {
				raw[*n].code = code;
				raw[*n].where = (int64_t)rbuf_u64(&fb, o->frame_lasti);
				(*n)++;
			}
			entry = o->frame_is_entry != PYOFF_NONE && rbuf_u8(&fb, o->frame_is_entry);
		}
		frame = rbuf_u64(&fb, o->frame_back);
		if (fb.bad) {
			err = -EFAULT;
			break;
		}
	}
	/*
	 * A stack that ends at a frame that cannot be a thread's first was
	 * caught half-way through a call or a return (see pyoffsets.h).
	 */
	if (!err && !*more && steps > 0 &&
	    ((o->bottom_is_shim && !shim) || (o->frame_is_entry != PYOFF_NONE && !entry) ||
	     (o->frame_state != PYOFF_NONE && !running)))
		err = -EFAULT;
	return err;
}

/*
 * The line of a frame (0 if its instruction has none), or -1 if its code
 * object and instruction pointer cannot belong together: a torn read.
 */
static int frame_line(const struct py_process *p, const struct code_entry *e,
		      const struct raw_frame *rf)
{
	const struct py_offsets *o = &p->off;
	int line = PYLINE_NONE;

	if (!e->table)
		return 0; /* no (or an oversized) table */
	switch (o->lines) {
	case PY_LINES_LNOTAB:
		line = pyline_lnotab(e->table, e->tablen, e->firstlineno, rf->where);
		break;
	case PY_LINES_310:
		line = pyline_linetable310(e->table, e->tablen, e->firstlineno, rf->where);
		break;
	case PY_LINES_LOCATIONS: {
		uint64_t base = e->addr + o->code_adaptive, ip = (uint64_t)rf->where;

		/*
		 * 3.11/3.12 start a frame at prev_instr = first instruction - 1;
		 * anything else before the code, or far after it, is another
		 * frame's pointer.
		 */
		if (ip == base - 2)
			return e->firstlineno;
		if (ip < base || ip - base > (1ULL << 32))
			return -1;
		line = pyline_locations(e->table, e->tablen, e->firstlineno, (int64_t)((ip - base) / 2));
		break;
	}
	}
	if (line == PYLINE_OUTSIDE)
		return -1;
	return line == PYLINE_NONE || line < 0 ? 0 : line;
}

/* ------------------------------------------------------------------ */
/* public: sample                                                       */

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
	p->pc_n = 0; /* the target has moved on since the last sample */
	err = ns_tid_of(p, tid, &ns);
	if (err == -ENOENT) {
		/* Not its thread: unless the process is gone or another image. */
		int alive = check_alive(p);

		return alive ? alive : -ENOENT;
	}
	if (err)
		return err;

	t = thread_find(p, ns);
	err = t ? thread_check(p, t, ns, &root) : -ENOENT;
	if (err == -ENOENT) {
		err = scan_threads_bounded(p, retry);
		if (err == -ENOENT || err == -EAGAIN) {
			/* Scanned a moment ago: its answer stands, unless the
			 * process went away meanwhile. */
			int alive = check_alive(p);

			return alive ? alive : err;
		}
		if (err)
			return read_failure(p, err);
		p->pc_n = 0;
		t = thread_find(p, ns);
		if (!t) {
			/* Maybe a recycled host TID: translate afresh next time. */
			tidmap_drop(p, tid);
			err = check_alive(p);
			return err ? err : -ENOENT;
		}
		err = thread_check(p, t, ns, &root);
		if (err == -ENOENT)
			err = -EAGAIN;
	}
	if (err)
		return read_failure(p, err);

	if (o->frames == PY_FRAMES_CFRAME && root) {
		uint64_t cframe = root;

		root = 0;
		if (!remote_ptr_ok(cframe))
			return -EAGAIN;
		err = pc_read(p, cframe + o->cframe_current_frame, &root, sizeof(root));
		if (err)
			return read_failure(p, err);
	}
	err = walk(p, root, raw, &n, &more);
	if (err)
		return read_failure(p, err);
	err = resolve_codes(p, raw, n, ents);
	if (err)
		return read_failure(p, err);

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
		f->line = frame_line(p, ents[i], &raw[i]);
		if (f->line < 0)
			return -EAGAIN;
	}
	out->truncated = more;
	/* Everything above came from the image we opened, not an exec'ed one. */
	return check_alive(p);
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
		int alive = check_alive(p);

		if (alive)
			err = alive;
	}
	if (err) {
		out->depth = 0;
		out->truncated = false;
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* public: attach, open, close                                          */

/* "3.9" from ".../libpython3.9.so.1.0" or ".../python3.9": 0, or -1. */
static int version_from_name(const char *path, int *major, int *minor)
{
	const char *base = strrchr(path, '/'), *s;

	base = base ? base + 1 : path;
	for (s = strstr(base, "python"); s; s = strstr(s + 1, "python")) {
		int ma, mi, n = 0;

		if (sscanf(s + 6, "%d.%d%n", &ma, &mi, &n) == 2 && n > 0 && ma == 3) {
			*major = ma;
			*minor = mi;
			return 0;
		}
	}
	return -1;
}

/* Choose the layout: _Py_DebugOffsets, Py_Version, else the file name. */
static int choose_layout(struct py_process *p, const struct py_runtime_loc *loc, char *err,
			 size_t errlen)
{
	uint8_t dbg[PY_DEBUG_OFFSETS_MAX];
	int major = 0, minor = 0, micro = -1, rc;
	uint32_t hex;

	rc = remote_read(&p->r, p->runtime, dbg, sizeof(dbg));
	if (rc == -EFAULT)
		rc = remote_read(&p->r, p->runtime, dbg, 16);
	if (rc == -EFAULT) {
		seterr(err, errlen, "cannot read _PyRuntime at 0x%llx%s", (unsigned long long)p->runtime,
		       loc->replaced ? " (its file was replaced since it was loaded)" : "");
		return -ENOEXEC;
	}
	if (rc)
		return rc;
	if (pyoffsets_has_cookie(dbg, sizeof(dbg))) {
		if (pyoffsets_from_debug(dbg, sizeof(dbg), &p->off, &hex, err, errlen) < 0)
			return -ENOEXEC;
		snprintf(p->version, sizeof(p->version), "%u.%u.%u", hex >> 24, (hex >> 16) & 0xff,
			 (hex >> 8) & 0xff);
		return 0;
	}
	if (loc->py_version) {
		uint64_t v;

		rc = remote_u64(&p->r, loc->py_version, &v);
		if (rc && rc != -EFAULT)
			return rc;
		if (!rc) {
			major = (v >> 24) & 0xff;
			minor = (v >> 16) & 0xff;
			micro = (v >> 8) & 0xff;
		}
	}
	if (!major && version_from_name(loc->path, &major, &minor) < 0) {
		seterr(err, errlen, "cannot tell the Python version of %s", loc->path);
		return -ENOEXEC;
	}
	if (major != 3 || minor < 8 || minor > 14) {
		seterr(err, errlen, "Python %d.%d is not supported (3.8 to 3.14 are)", major, minor);
		return -ENOEXEC;
	}
	if (pyoffsets_builtin(minor, &p->off) < 0) {
		seterr(err, errlen, "Python %d.%d without _Py_DebugOffsets is not supported",
		       major, minor);
		return -ENOEXEC;
	}
	if (micro >= 0)
		snprintf(p->version, sizeof(p->version), "%d.%d.%d", major, minor, micro);
	else
		snprintf(p->version, sizeof(p->version), "%d.%d", major, minor);
	return 0;
}

/*
 * If the interpreter is up, check that the layout fits: the first thread
 * state must point back at its interpreter.
 */
static int check_layout(struct py_process *p, bool replaced, char *err, size_t errlen)
{
	const struct py_offsets *o = &p->off;
	uint64_t interp, ts, back;
	int rc;

	rc = remote_u64(&p->r, p->runtime + o->runtime_interp_head, &interp);
	if (!rc && interp) {
		if (!remote_ptr_ok(interp))
			rc = -EFAULT;
		else
			rc = remote_u64(&p->r, interp + o->interp_threads_head, &ts);
		if (!rc && ts) {
			if (!remote_ptr_ok(ts))
				rc = -EFAULT;
			else
				rc = remote_u64(&p->r, ts + o->ts_interp, &back);
			if (!rc && back != interp)
				rc = -EFAULT;
		}
	}
	if (rc == -EFAULT) {
		seterr(err, errlen, "the interpreter state does not match the Python %s layout%s",
		       p->version, replaced ? " (its file was replaced since it was loaded)" : "");
		return -ENOEXEC;
	}
	return rc;
}

/* The message for a failure that has none yet. */
static void default_error(pid_t pid, int rc, char *err, size_t errlen)
{
	if (!err || !errlen || err[0])
		return;
	if (rc == -ESRCH)
		seterr(err, errlen, "no process %d", pid);
	else if (rc == -EPERM)
		seterr(err, errlen, "no permission to read process %d (needs CAP_SYS_PTRACE)", pid);
	else
		seterr(err, errlen, "cannot read process %d: %s", pid, strerror(-rc));
}

int py_process_attach(struct remote *r, const struct py_runtime_loc *loc,
		      struct py_process **out, char *err, size_t errlen)
{
	struct py_process *p;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		remote_close(r);
		return -ENOMEM;
	}
	p->r = *r;
	p->runtime = loc->runtime;
	rc = choose_layout(p, loc, err, errlen);
	if (!rc)
		rc = check_layout(p, loc->replaced, err, errlen);
	if (rc)
		goto fail;
	p->scratch = malloc((size_t)(PY_MAX_DEPTH + 1) * p->off.code_read);
	p->strbuf[0] = malloc(STR_BUF);
	p->strbuf[1] = malloc(STR_BUF);
	p->pc_data = malloc(sizeof(*p->pc_data) * PC_PAGES);
	p->seen = malloc(sizeof(*p->seen));
	if (!p->scratch || !p->strbuf[0] || !p->strbuf[1] || !p->pc_data || !p->seen) {
		rc = -ENOMEM;
		goto fail;
	}
	*out = p;
	return 0;
fail:
	default_error(r->pid, rc, err, errlen);
	py_process_close(p);
	return rc;
}

int py_process_open(pid_t pid, struct py_process **out, char *err, size_t errlen)
{
	struct py_runtime_loc *loc;
	struct remote r;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (pid <= 0) {
		seterr(err, errlen, "invalid pid %d", pid);
		return -EINVAL;
	}
	loc = calloc(1, sizeof(*loc));
	if (!loc)
		return -ENOMEM;
	rc = remote_open(pid, &r);
	if (!rc)
		rc = py_find_runtime(pid, loc, err, errlen);
	if (rc) {
		remote_close(&r);
		default_error(pid, rc, err, errlen);
	} else {
		rc = py_process_attach(&r, loc, out, err, errlen);
	}
	free(loc);
	return rc;
}

void py_process_close(struct py_process *p)
{
	if (!p)
		return;
	codecache_free(&p->codes);
	free(p->threads);
	free(p->tids);
	free(p->scratch);
	free(p->strbuf[0]);
	free(p->strbuf[1]);
	free(p->pc_data);
	free(p->seen);
	remote_close(&p->r);
	free(p);
}

void py_process_stats(const struct py_process *p, struct py_process_stats *out)
{
	*out = (struct py_process_stats){
		.codes = p->codes.used,
		.code_bytes = codecache_bytes(&p->codes),
		.threads = p->nthreads,
		.scans = p->scans,
	};
}

const char *py_process_version(const struct py_process *p)
{
	return p ? p->version : "";
}
