// SPDX-License-Identifier: Apache-2.0
/*
 * pyreader.c - the CPython stack reader (see pyreader.h).
 *
 * The chain, in every version:
 *   _PyRuntime -> interpreters.head (->next) -> threads.head (->next)
 *   -> current frame -> previous frame ... -> code object
 * with the offsets of struct py_offsets (pyoffsets.c, the one home of
 * version drift). Every remote pointer is checked before it is followed,
 * walks are bounded (frames, threads, interpreters) and cycles are caught.
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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "linetable.h"
#include "procmaps.h"
#include "pyelf.h"
#include "pyoffsets.h"
#include "pyreader.h"
#include "pystr.h"
#include "pytid.h"
#include "remote.h"
#include "strpool.h"
#include "target_fs.h"
#include "procfs.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define MAX_INTERPS 64
#define MAX_THREADS 4096
/* Frames visited per sample, shim frames included. */
#define MAX_WALK (4 * PY_MAX_DEPTH)
/* Largest line table copied (bigger ones give line 0). */
#define MAX_TABLE (1u << 20)
/* Code objects cached before the cache is emptied (strings stay). */
#define CODE_CACHE_MAX 8192
/* Longest UTF-8 of a PYSTR_MAX_CHARS string. */
#define STR_BUF (PYSTR_MAX_CHARS * 4 + 1)
#define MAX_TYPES 32
/* A failed struct pthread inference is retried at most this often. */
#define INFER_RETRY_NS 1000000000ULL
/* Pages kept by the per-sample page cache. */
#define PC_PAGES 32
#define PC_PAGE 4096u

enum obkind { KIND_OTHER, KIND_CODE, KIND_STR, KIND_BYTES };

/* A cached code object (or a known non-code "executable", valid == false). */
struct code_entry {
	uint64_t addr; /* 0 = free slot */
	/* What identifies it: compared with the target on every sample. */
	uint64_t type, filename, name, qualname, linetable;
	int32_t firstlineno;
	bool valid;
	const char *function, *file; /* in the string pool */
	uint8_t *table;
	size_t tablen;
};

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
	pid_t pid;
	struct remote r;
	struct py_offsets off;
	char version[24];
	uint64_t runtime; /* run-time address of _PyRuntime */
	int memfd;        /* /proc/<pid>/mem: bound to the mm it was opened on */
	int pidfd;
	bool same_pidns;
	pid_t ns_pid; /* the target's PID in its own namespace */

	struct pythread *threads;
	size_t nthreads, threads_cap;
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

	struct code_entry *codes;
	size_t codes_cap, codes_used;
	struct strpool pool;

	uint8_t *scratch; /* code headers for the batched check */
	char *strbuf;     /* STR_BUF */

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

static uint64_t get_u64(const uint8_t *buf, uint32_t off)
{
	uint64_t v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

static int32_t get_i32(const uint8_t *buf, uint32_t off)
{
	int32_t v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
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

static bool process_exited(const struct py_process *p)
{
	struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };

	/* A pidfd polls readable once the process has exited. */
	return poll(&pfd, 1, 0) > 0;
}

/*
 * Whether the process still runs the image p was opened on: 0, -ESRCH
 * (exited) or -ESTALE (exec'ed, or the runtime's memory went away).
 * /proc/<pid>/mem stays bound to the mm it was opened on, so after an exec
 * it reads nothing.
 */
static int check_alive(const struct py_process *p)
{
	uint8_t b;
	ssize_t n;

	n = pread(p->memfd, &b, 1, (off_t)p->runtime);
	if (n == 1)
		return 0;
	if (process_exited(p))
		return -ESRCH;
	return -ESTALE;
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
	uint8_t hdr[2048];
	uint64_t name_ptr, flags;
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
	name_ptr = get_u64(hdr, o->type_tp_name);
	flags = get_u64(hdr, o->type_tp_flags);
	if (name_ptr == 0 || name_ptr >= (1ULL << 57))
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
 * The str object at addr as UTF-8 in p->strbuf. -EFAULT for a read that
 * failed or an object that is not a str (torn or stale pointers).
 */
static int read_str(struct py_process *p, uint64_t addr)
{
	const struct py_offsets *o = &p->off;
	uint8_t hdr[128];
	struct pystr_shape shape;
	uint64_t data, nbytes;
	enum obkind kind;
	int64_t length;
	uint8_t *chars;
	int err;

	if (!remote_ptr_ok(addr) || o->str_ascii_data > sizeof(hdr) ||
	    o->str_compact_data + 8 > sizeof(hdr))
		return -EFAULT;
	/* PyASCIIObject: the smallest any str is. */
	err = remote_read(&p->r, addr, hdr, o->str_ascii_data);
	if (err)
		return err;
	err = type_kind(p, get_u64(hdr, o->ob_type), &kind);
	if (err)
		return err;
	if (kind != KIND_STR)
		return -EFAULT;
	memcpy(&length, hdr + o->str_length, sizeof(length));
	if (length < 0 || pystr_shape(get_i32(hdr, o->str_state), &shape) < 0)
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
	p->strbuf[0] = '\0';
	if (nbytes == 0)
		return 0;
	chars = malloc(nbytes);
	if (!chars)
		return -ENOMEM;
	err = remote_read(&p->r, data, chars, nbytes);
	if (!err)
		pystr_to_utf8(&shape, chars, nbytes, (uint64_t)length, p->strbuf, STR_BUF);
	free(chars);
	return err;
}

/* The content of the bytes object at addr (malloc'd; NULL and 0 if empty). */
static int read_bytes(struct py_process *p, uint64_t addr, uint8_t **out, size_t *len)
{
	const struct py_offsets *o = &p->off;
	uint8_t hdr[64];
	enum obkind kind;
	int64_t size;
	int err;

	*out = NULL;
	*len = 0;
	if (!remote_ptr_ok(addr) || o->bytes_sval > sizeof(hdr))
		return -EFAULT;
	err = remote_read(&p->r, addr, hdr, o->bytes_sval);
	if (err)
		return err;
	err = type_kind(p, get_u64(hdr, o->ob_type), &kind);
	if (err)
		return err;
	if (kind != KIND_BYTES)
		return -EFAULT;
	memcpy(&size, hdr + o->bytes_size, sizeof(size));
	if (size < 0)
		return -EFAULT;
	if (size == 0 || size > MAX_TABLE)
		return 0; /* no table: lines will be 0 */
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
/* the code-object cache                                                */

static void code_entry_clear(struct code_entry *e)
{
	free(e->table);
	memset(e, 0, sizeof(*e));
}

static void code_cache_flush(struct py_process *p)
{
	size_t i;

	for (i = 0; i < p->codes_cap; i++)
		if (p->codes[i].addr)
			code_entry_clear(&p->codes[i]);
	p->codes_used = 0;
}

static size_t code_slot(uint64_t addr, size_t cap)
{
	return (size_t)((addr >> 4) * 0x9E3779B97F4A7C15ULL) & (cap - 1);
}

static struct code_entry *code_find(struct py_process *p, uint64_t addr)
{
	size_t i;

	if (!p->codes_cap)
		return NULL;
	for (i = code_slot(addr, p->codes_cap); p->codes[i].addr; i = (i + 1) & (p->codes_cap - 1))
		if (p->codes[i].addr == addr)
			return &p->codes[i];
	return NULL;
}

/* A free slot for addr (which is not cached), growing or emptying the cache. */
static struct code_entry *code_slot_for(struct py_process *p, uint64_t addr)
{
	size_t i;

	if ((p->codes_used + 1) * 2 > p->codes_cap) {
		if (p->codes_cap >= CODE_CACHE_MAX) {
			code_cache_flush(p);
		} else {
			size_t ncap = p->codes_cap ? p->codes_cap * 2 : 256;
			struct code_entry *n = calloc(ncap, sizeof(*n));

			if (!n)
				return NULL;
			for (i = 0; i < p->codes_cap; i++) {
				size_t j;

				if (!p->codes[i].addr)
					continue;
				for (j = code_slot(p->codes[i].addr, ncap); n[j].addr; j = (j + 1) & (ncap - 1))
					;
				n[j] = p->codes[i];
			}
			free(p->codes);
			p->codes = n;
			p->codes_cap = ncap;
		}
	}
	for (i = code_slot(addr, p->codes_cap); p->codes[i].addr; i = (i + 1) & (p->codes_cap - 1))
		;
	p->codes_used++;
	return &p->codes[i];
}

/* Remove e from the open-addressing table, keeping the probe chains whole. */
static void code_remove(struct py_process *p, struct code_entry *e)
{
	size_t mask = p->codes_cap - 1, i = e - p->codes, j;

	code_entry_clear(e);
	p->codes_used--;
	for (j = (i + 1) & mask; p->codes[j].addr; j = (j + 1) & mask) {
		struct code_entry moved = p->codes[j];
		size_t k;

		memset(&p->codes[j], 0, sizeof(p->codes[j]));
		for (k = code_slot(moved.addr, p->codes_cap); p->codes[k].addr; k = (k + 1) & mask)
			;
		p->codes[k] = moved;
	}
}

/* Whether the code header hdr (as just read) still describes e. */
static bool code_matches(const struct py_process *p, const struct code_entry *e, const uint8_t *hdr)
{
	const struct py_offsets *o = &p->off;

	if (get_u64(hdr, o->ob_type) != e->type)
		return false;
	if (!e->valid)
		return true;
	return get_u64(hdr, o->code_filename) == e->filename &&
	       get_u64(hdr, o->code_name) == e->name &&
	       (o->code_qualname == PYOFF_NONE || get_u64(hdr, o->code_qualname) == e->qualname) &&
	       get_u64(hdr, o->code_linetable) == e->linetable &&
	       get_i32(hdr, o->code_firstlineno) == e->firstlineno;
}

/* Read the code object at addr (header hdr already read) into a new entry. */
static int code_load(struct py_process *p, uint64_t addr, const uint8_t *hdr, struct code_entry **out)
{
	const struct py_offsets *o = &p->off;
	struct code_entry e = { .addr = addr };
	const char *file, *function;
	enum obkind kind;
	uint64_t fname;
	int err;

	e.type = get_u64(hdr, o->ob_type);
	err = type_kind(p, e.type, &kind);
	if (err)
		return err;
	if (kind == KIND_CODE) {
		e.valid = true;
		e.filename = get_u64(hdr, o->code_filename);
		e.name = get_u64(hdr, o->code_name);
		e.qualname = o->code_qualname == PYOFF_NONE ? 0 : get_u64(hdr, o->code_qualname);
		e.linetable = get_u64(hdr, o->code_linetable);
		e.firstlineno = get_i32(hdr, o->code_firstlineno);

		err = read_str(p, e.filename);
		if (err)
			return err;
		file = strpool_intern(&p->pool, p->strbuf);
		fname = e.qualname ? e.qualname : e.name;
		err = read_str(p, fname);
		if (err)
			return err;
		function = strpool_intern(&p->pool, p->strbuf);
		if (!file || !function)
			return -ENOMEM;
		e.file = file;
		e.function = function;
		err = read_bytes(p, e.linetable, &e.table, &e.tablen);
		if (err)
			return err;
	}
	*out = code_slot_for(p, addr);
	if (!*out) {
		free(e.table);
		return -ENOMEM;
	}
	**out = e;
	return 0;
}

/*
 * Resolve the code objects of n frames into ents[]: cached entries are
 * re-checked in one batched read, the rest (and any that changed) read.
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
	/* Make room first: the cache must not be emptied half-way through. */
	if ((p->codes_used + nuniq + 1) * 2 > CODE_CACHE_MAX)
		code_cache_flush(p);
	for (j = 0; j < nuniq; j++) {
		if (!remote_ptr_ok(addrs[j]))
			return -EFAULT;
		iov[j] = (struct remote_iov){ .addr = addrs[j], .buf = p->scratch + (size_t)j * hsize,
					     .len = hsize };
	}
	if (nuniq) {
		err = remote_readv(&p->r, iov, nuniq);
		if (err)
			return err;
	}
	for (j = 0; j < nuniq; j++) {
		const uint8_t *hdr = p->scratch + (size_t)j * hsize;
		struct code_entry *e = code_find(p, addrs[j]);

		if (e && !code_matches(p, e, hdr)) {
			/* Freed and its address reused: forget it. */
			code_remove(p, e);
			e = NULL;
		}
		if (!e) {
			err = code_load(p, addrs[j], hdr, &e);
			if (err)
				return err;
		}
	}
	/* Loading may have grown (moved) the table: look the entries up last. */
	for (i = 0; i < n; i++)
		ents[i] = code_find(p, raw[i].code);
	return 0;
}

/* ------------------------------------------------------------------ */
/* threads                                                              */

/* NSpid of /proc/<pid>/task/<tid>/status: the TID in the target's namespace. */
static int read_ns_tid(pid_t pid, pid_t tid, pid_t *ns)
{
	pid_t ids[PROCFS_MAX_NS_LEVELS];
	char path[96], buf[4096];
	ssize_t n;
	int fd, k;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ENOENT;
	buf[n] = '\0';
	k = procfs_parse_nspid(buf, ids);
	if (k < 1)
		return -ENOENT;
	*ns = ids[k - 1];
	return 0;
}

static int tidmap_add(struct py_process *p, pid_t host, pid_t ns)
{
	size_t i;

	for (i = 0; i < p->ntids; i++) {
		if (p->tids[i].host == host) {
			p->tids[i].ns = ns;
			return 0;
		}
	}
	if (p->ntids >= MAX_THREADS)
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

	if (p->same_pidns) {
		*ns = tid;
		return 0;
	}
	for (i = 0; i < p->ntids; i++) {
		if (p->tids[i].host == tid) {
			*ns = p->tids[i].ns;
			return 0;
		}
	}
	err = read_ns_tid(p->pid, tid, ns);
	if (err)
		return err;
	return tidmap_add(p, tid, *ns);
}

/* Every TID of the process, in its own namespace (malloc'd). */
static int list_ns_tids(struct py_process *p, pid_t **out, int *n)
{
	char path[64];
	struct dirent *d;
	int cap = 0, err = 0;
	DIR *dir;

	*out = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", p->pid);
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((d = readdir(dir))) {
		pid_t host = atoi(d->d_name), ns;

		if (host <= 0 || ns_tid_of(p, host, &ns) < 0)
			continue;
		if (*n == cap) {
			pid_t *bigger;

			cap = cap ? cap * 2 : 32;
			bigger = realloc(*out, cap * sizeof(*bigger));
			if (!bigger) {
				err = -ENOMEM;
				break;
			}
			*out = bigger;
		}
		(*out)[(*n)++] = ns;
	}
	closedir(dir);
	if (err) {
		free(*out);
		*out = NULL;
	}
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
static int infer_tid_offset(struct py_process *p)
{
	const uint8_t *wins[64];
	size_t lens[64];
	uint8_t *buf;
	pid_t *valid = NULL;
	int nvalid, nwin = 0, err, found;
	size_t i;

	if (p->nthreads == 0)
		return 0;
	err = list_ns_tids(p, &valid, &nvalid);
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
		err = read_pthread_window(p, p->threads[i].pthread, w, &lens[nwin]);
		if (err == -ESRCH || err == -EPERM)
			goto out;
		if (err)
			continue;
		wins[nwin++] = w;
	}
	err = 0;
	found = pytid_infer_offset(wins, lens, nwin, valid, nvalid, p->ns_pid,
				   pytid_preferred_offset(), &p->tid_off);
	/* Ambiguous is still a good guess; none is retried at the next scan. */
	p->tid_off_known = found > 0;
out:
	free(buf);
	free(valid);
	return err;
}

/* Scan every interpreter's thread list into p->threads. */
static int scan_threads(struct py_process *p)
{
	const struct py_offsets *o = &p->off;
	uint64_t interp, ts, tortoise;
	uint8_t tsbuf[1024];
	int ni, nt, err, power, lam;
	size_t i;

	p->nthreads = 0;
	if (o->ts_read > sizeof(tsbuf))
		return -EINVAL;
	err = remote_u64(&p->r, p->runtime + o->runtime_interp_head, &interp);
	if (err)
		return err;
	for (ni = 0; interp; ni++) {
		if (ni == MAX_INTERPS || !remote_ptr_ok(interp))
			return -EFAULT;
		err = remote_u64(&p->r, interp + o->interp_threads_head, &ts);
		if (err)
			return err;
		/* Brent's cycle detection: a torn list must not spin to MAX_THREADS. */
		tortoise = 0;
		power = 1;
		lam = 0;
		for (nt = 0; ts; nt++) {
			struct pythread *t;

			if (nt == MAX_THREADS || !remote_ptr_ok(ts) || ts == tortoise)
				return -EFAULT;
			if (++lam == power) {
				tortoise = ts;
				power *= 2;
				lam = 0;
			}
			err = remote_read(&p->r, ts, tsbuf, o->ts_read);
			if (err)
				return err;
			if (get_u64(tsbuf, o->ts_interp) != interp)
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
			t->pthread = get_u64(tsbuf, o->ts_thread_id);
			t->ns_tid = o->tids == PY_TID_NATIVE ? (pid_t)get_u64(tsbuf, o->ts_native_tid) : 0;
			ts = get_u64(tsbuf, o->ts_next);
		}
		err = remote_u64(&p->r, interp + o->interp_next, &interp);
		if (err)
			return err;
	}
	if (o->tids != PY_TID_PTHREAD)
		return 0;
	if (!p->tid_off_known) {
		if (now_ns() < p->infer_after_ns)
			return 0;
		err = infer_tid_offset(p);
		if (err)
			return err;
		if (!p->tid_off_known) {
			/* TIDs unknown for now (samples say -ENOENT): try again later. */
			p->infer_after_ns = now_ns() + INFER_RETRY_NS;
			return 0;
		}
	}
	for (i = 0; i < p->nthreads; i++) {
		int32_t tid;

		if (remote_ptr_ok(p->threads[i].pthread) &&
		    remote_i32(&p->r, p->threads[i].pthread + p->tid_off, &tid) == 0)
			p->threads[i].ns_tid = tid;
	}
	return 0;
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
	uint8_t tsbuf[1024];
	int32_t tid;
	int err;

	err = pc_read(p, t->tstate, tsbuf, o->ts_read);
	if (err)
		return err == -EFAULT ? -ENOENT : err;
	if (get_u64(tsbuf, o->ts_interp) != t->interp)
		return -ENOENT;
	if (o->tids == PY_TID_NATIVE) {
		if ((pid_t)get_u64(tsbuf, o->ts_native_tid) != ns_tid)
			return -ENOENT;
	} else {
		uint64_t pthread = get_u64(tsbuf, o->ts_thread_id);

		if (pthread != t->pthread || !remote_ptr_ok(pthread))
			return -ENOENT;
		err = pc_read(p, pthread + p->tid_off, &tid, sizeof(tid));
		if (err)
			return err == -EFAULT ? -ENOENT : err;
		if (tid != ns_tid)
			return -ENOENT;
	}
	*root = get_u64(tsbuf, o->ts_frame);
	return 0;
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
	uint8_t fbuf[512];
	int steps, err = 0;

	*n = 0;
	*more = false;
	if (o->frame_read > sizeof(fbuf))
		return -EINVAL;
	memset(seen, 0, sizeof(*seen));
	for (steps = 0; frame; steps++) {
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
		code = get_u64(fbuf, o->frame_code) & o->code_ptr_mask;
		if (o->frames == PY_FRAMES_OBJECT) {
			uint8_t state = fbuf[o->frame_state];

			raw[*n].code = code;
			raw[*n].where = (int64_t)get_i32(fbuf, o->frame_lasti) * o->lasti_scale;
			(*n)++;
			running = state < 8 && (o->frame_state_live & (1u << state));
		} else {
			shim = fbuf[o->frame_owner] >= o->owner_shim;
			if (!shim) {
				raw[*n].code = code;
				raw[*n].where = (int64_t)get_u64(fbuf, o->frame_lasti);
				(*n)++;
			}
			entry = o->frame_is_entry != PYOFF_NONE && fbuf[o->frame_is_entry];
		}
		frame = get_u64(fbuf, o->frame_back);
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

static int sample(struct py_process *p, pid_t tid, struct py_stack *out)
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
	if (err)
		return err == -ENOENT && process_exited(p) ? -ESRCH : err;

	t = thread_find(p, ns);
	err = t ? thread_check(p, t, ns, &root) : -ENOENT;
	if (err == -ENOENT) {
		err = scan_threads(p);
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
		err = sample(p, tid, out);
		if (err != -EAGAIN)
			break;
	}
	if (err) {
		out->depth = 0;
		out->truncated = false;
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* public: open / close                                                 */

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

static bool is_libpython(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strncmp(base, "libpython", 9) == 0;
}

/* Where _PyRuntime was found. */
struct runtime_loc {
	uint64_t runtime, py_version; /* run-time addresses; py_version 0 = none */
	char path[4096];              /* the file, as the target sees it */
	bool replaced;                /* the file on disk may not be the one mapped */
};

/*
 * Look for _PyRuntime in the file mapped as m->path (and its other
 * mappings in maps). 0 found, -ENOENT not there, other -errno.
 */
static int find_runtime_in(pid_t pid, int rootfd, const struct pmap_list *maps,
			   const struct pmap *m, struct runtime_loc *loc, char *err, size_t errlen)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), bias;
	struct pyelf elf;
	struct stat st;
	size_t i;
	int fd, rc;

	rc = tfs_target_path(pid, m->path, loc->path, sizeof(loc->path));
	if (rc)
		return rc;
	fd = tfs_open(rootfd, loc->path);
	if (fd < 0) {
		seterr(err, errlen, "cannot open %s in the target's root: %s", loc->path,
		       strerror(-fd));
		return fd == -EACCES ? -EPERM : -ENOENT;
	}
	/*
	 * Not the mapped file if it was replaced on disk since (an upgrade:
	 * maps says "(deleted)", or the inode differs). Overlay file systems
	 * may show other inode numbers for the same file, so a different
	 * inode alone does not refuse it: the layout checks that follow
	 * catch a file that does not match the memory.
	 */
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	loc->replaced = st.st_ino != m->inode || strstr(m->path, " (deleted)");
	rc = pyelf_inspect(fd, &elf, err, errlen);
	close(fd);
	if (rc)
		return rc == -ENOEXEC ? -ENOENT : rc;
	if (!elf.has_runtime)
		return -ENOENT;
	/* maps is sorted by address: the file's first mapping is its lowest. */
	for (i = 0; i < maps->n; i++) {
		const struct pmap *o = &maps->maps[i];

		if (o->inode != m->inode || strcmp(o->path, m->path) != 0)
			continue;
		if (pyelf_bias(&elf, o->start, o->offset, page, &bias) < 0)
			break;
		loc->runtime = elf.runtime + bias;
		loc->py_version = elf.has_py_version ? elf.py_version + bias : 0;
		return 0;
	}
	seterr(err, errlen, "%s: its mappings do not match its PT_LOAD segments", loc->path);
	return -ENOENT;
}

/* Find _PyRuntime in the executable, else in a mapped libpython. */
static int find_runtime(pid_t pid, struct runtime_loc *loc, char *err, size_t errlen)
{
	char link[64], exe[4096], why[256] = "";
	struct pmap_list maps;
	ssize_t n;
	size_t i;
	int rootfd, rc = -ENOENT, pass;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n < 0) {
		int e = errno;

		if (e == EACCES || e == EPERM)
			return -EPERM;
		snprintf(link, sizeof(link), "/proc/%d", pid);
		if (access(link, F_OK) != 0)
			return -ESRCH;
		/* A kernel thread or a zombie has no executable. */
		seterr(err, errlen, "process %d has no executable: %s", pid, strerror(e));
		return -ENOEXEC;
	}
	exe[n] = '\0';
	rootfd = tfs_root_open(pid);
	if (rootfd < 0)
		return rootfd;
	rc = pmap_read(pid, &maps);
	if (rc) {
		close(rootfd);
		return rc;
	}
	/* Pass 0: the executable; pass 1: libpython*; each file once. */
	rc = -ENOENT;
	for (pass = 0; pass < 2 && rc == -ENOENT; pass++) {
		for (i = 0; i < maps.n && rc == -ENOENT; i++) {
			const struct pmap *m = &maps.maps[i];
			size_t k;
			bool dup = false;

			if (m->path[0] != '/')
				continue;
			if (pass == 0 ? strcmp(m->path, exe) != 0 : !is_libpython(m->path))
				continue;
			for (k = 0; k < i && !dup; k++)
				dup = maps.maps[k].inode == m->inode && strcmp(maps.maps[k].path, m->path) == 0;
			if (dup)
				continue;
			rc = find_runtime_in(pid, rootfd, &maps, m, loc, why, sizeof(why));
		}
	}
	pmap_free(&maps);
	close(rootfd);
	if (rc == -ENOENT) {
		if (why[0])
			seterr(err, errlen, "process %d is not Python: no _PyRuntime in %s or a libpython (%s)",
			       pid, exe, why);
		else
			seterr(err, errlen, "process %d is not Python: no _PyRuntime in %s or a libpython",
			       pid, exe);
		return -ENOEXEC;
	}
	return rc;
}

/* Choose the layout: _Py_DebugOffsets, Py_Version, else the file name. */
static int choose_layout(struct py_process *p, const struct runtime_loc *loc, char *err,
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

static bool same_pid_namespace(pid_t pid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
	if (stat("/proc/self/ns/pid", &a) < 0 || stat(path, &b) < 0)
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
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

int py_process_open(pid_t pid, struct py_process **out, char *err, size_t errlen)
{
	struct runtime_loc *loc = NULL;
	struct py_process *p;
	char path[64];
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
	p = calloc(1, sizeof(*p));
	loc = calloc(1, sizeof(*loc));
	if (!p || !loc) {
		free(p);
		free(loc);
		return -ENOMEM;
	}
	p->pid = pid;
	p->r.pid = pid;
	p->memfd = -1;
	p->pidfd = -1;
	p->pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (p->pidfd < 0) {
		rc = errno == ESRCH ? -ESRCH : -errno;
		goto fail;
	}
	rc = find_runtime(pid, loc, err, errlen);
	if (rc)
		goto fail;
	p->runtime = loc->runtime;
	rc = choose_layout(p, loc, err, errlen);
	if (rc)
		goto fail;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	p->memfd = open(path, O_RDONLY | O_CLOEXEC);
	if (p->memfd < 0) {
		rc = errno == ENOENT ? -ESRCH : (errno == EACCES ? -EPERM : -errno);
		goto fail;
	}
	p->same_pidns = same_pid_namespace(pid);
	if (p->same_pidns) {
		p->ns_pid = pid;
	} else {
		rc = read_ns_tid(pid, pid, &p->ns_pid);
		if (rc) {
			rc = -ESRCH;
			goto fail;
		}
	}
	rc = check_layout(p, loc->replaced, err, errlen);
	if (rc)
		goto fail;
	p->scratch = malloc((size_t)(PY_MAX_DEPTH + 1) * p->off.code_read);
	p->strbuf = malloc(STR_BUF);
	p->pc_data = malloc(sizeof(*p->pc_data) * PC_PAGES);
	p->seen = malloc(sizeof(*p->seen));
	if (!p->scratch || !p->strbuf || !p->pc_data || !p->seen) {
		rc = -ENOMEM;
		goto fail;
	}
	free(loc);
	if (err && errlen)
		err[0] = '\0';
	*out = p;
	return 0;
fail:
	if (err && errlen && !err[0]) {
		if (rc == -ESRCH)
			seterr(err, errlen, "no process %d", pid);
		else if (rc == -EPERM)
			seterr(err, errlen, "no permission to read process %d (needs CAP_SYS_PTRACE)", pid);
		else
			seterr(err, errlen, "cannot read process %d: %s", pid, strerror(-rc));
	}
	free(loc);
	py_process_close(p);
	return rc;
}

void py_process_close(struct py_process *p)
{
	if (!p)
		return;
	if (p->codes) {
		code_cache_flush(p);
		free(p->codes);
	}
	strpool_free(&p->pool);
	free(p->threads);
	free(p->tids);
	free(p->scratch);
	free(p->strbuf);
	free(p->pc_data);
	free(p->seen);
	if (p->memfd >= 0)
		close(p->memfd);
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p);
}

const char *py_process_version(const struct py_process *p)
{
	return p ? p->version : "";
}
