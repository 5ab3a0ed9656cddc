// SPDX-License-Identifier: Apache-2.0
/*
 * pytask.c - py_process_task() (see pytask.h): the asyncio task a thread is
 * running, its name, its coroutine and who awaits it.
 *
 * Where a version keeps the running task, and the layouts read, are in
 * pyoffsets.h ("asyncio tasks"). The target controls every byte read here,
 * so as in the stack walk: every pointer is checked before it is followed,
 * every field is taken out of a bounded copy with rbuf_*(), every loop has a
 * fixed bound (dict entries, set entries, chain links) and a chain that
 * comes back to a task already seen stops. An object that is not what it
 * should be (a name that is neither str nor int, a dict that is not a dict)
 * makes the task "unavailable", with the reason, never a guess.
 *
 * 3.11-3.13 keep no per-thread task: the running tasks of all loops are in
 * asyncio.tasks._current_tasks, found once through sys.modules (at most
 * MAX_MODULES entries read) and remembered; the thread's is the one whose
 * coroutine frame (it lives inside the coroutine object) is among the
 * frames its sample walked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procmaps.h"
#include "pyelf.h"
#include "pyobject.h"
#include "pyprocess.h"
#include "pytask.h"
#include "pythread.h"
#include "target_fs.h"

/* Look for where tasks are kept again after a failed look, not before. */
#define FIND_RETRY_NS 1000000000ULL
/* sys.modules entries read to find asyncio.tasks (and a module's dict). */
#define MAX_MODULES 8192
/* _current_tasks entries read: one per loop running a task step. */
#define MAX_LOOPS 64
/* Entries of an awaited_by set tried for an awaiting task. */
#define MAX_SET_TRIES 8
/* Set table entries read (of mask + 1). */
#define MAX_SET_ENTRIES 64

struct py_tasks {
	bool chosen;                 /* toff set */
	struct py_task_offsets toff;
	char why[160];               /* toff could not be set: why */
	uint64_t retry_ns;           /* choose (or find) again not before */
	uint64_t current_tasks;      /* 3.11-3.13: the dict; 0 = not found yet */
	uint64_t find_retry_ns;      /* ... looked for again not before */
	uint64_t ctask_type;         /* 3.11-3.13: asyncio's C Task type; 0 = none */
	bool no_asyncio;             /* 3.11-3.13: sys.modules has no asyncio.tasks */
	char *str;                   /* PY_STR_BUF scratch */
};

void py_tasks_free(struct py_tasks *t)
{
	if (!t)
		return;
	free(t->str);
	free(t);
}

static void unavailable(struct py_task *out, const char *fmt, const char *what)
{
	out->state = PY_TASK_UNAVAILABLE;
	out->depth = 0;
	snprintf(out->why, sizeof(out->why), fmt, what);
}

/* Copy a UTF-8 string into dst (PY_TASK_NAME_MAX), cut at a character. */
static void copy_name(char *dst, const char *src)
{
	size_t n = strlen(src);

	if (n >= PY_TASK_NAME_MAX) {
		n = PY_TASK_NAME_MAX - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * The .AsyncioDebug section of the _asyncio extension module the target
 * has loaded (3.14: lib-dynload/_asyncio.cpython-314-*.so), read from its
 * file through the target's root. 0 and buf filled, -ENOENT (not loaded,
 * or no section), other -errno.
 */
static bool is_asyncio_module(const struct pmap *m, void *unused)
{
	const char *base = strrchr(m->path, '/');

	(void)unused;
	return base && strncmp(base + 1, "_asyncio.", 9) == 0 && m->perms[2] == 'x';
}

static int find_asyncio_section(struct py_process *p, uint8_t *buf, size_t *len)
{
	const struct pmap *files[1];
	char path[4096], err[128];
	struct pmap_list maps;
	struct pyelf *elf = NULL;
	bool more;
	int rootfd = -1, fd = -1, rc;

	rc = pmap_read(p->r.pid, &maps);
	if (rc)
		return rc;
	if (pmap_files(&maps, is_asyncio_module, NULL, files, 1, &more) == 0) {
		rc = -ENOENT;
		goto out;
	}
	rc = tfs_target_path(p->r.pid, files[0]->path, path, sizeof(path));
	if (rc)
		goto out;
	rootfd = tfs_root_open(p->r.pid);
	if (rootfd < 0) {
		rc = rootfd;
		goto out;
	}
	fd = tfs_open(rootfd, path);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	elf = malloc(sizeof(*elf));
	if (!elf) {
		rc = -ENOMEM;
		goto out;
	}
	rc = pyelf_inspect(fd, elf, err, sizeof(err));
	if (rc)
		goto out;
	if (!elf->asyncio_debug_len) {
		rc = -ENOENT;
		goto out;
	}
	memcpy(buf, elf->asyncio_debug, elf->asyncio_debug_len);
	*len = elf->asyncio_debug_len;
out:
	free(elf);
	if (fd >= 0)
		close(fd);
	if (rootfd >= 0)
		close(rootfd);
	pmap_free(&maps);
	return rc;
}

/* Choose the task layout (once it can be): 0, or -1 with tasks->why. */
static int choose(struct py_process *p, struct py_tasks *tasks)
{
	uint8_t dbg[PY_TASK_DEBUG_PREFIX], adbg[PYELF_ASYNCIO_DEBUG_MAX];
	const uint8_t *dp = NULL, *ap = NULL;
	size_t alen = 0;
	uint64_t now;
	int rc;

	if (tasks->chosen)
		return 0;
	now = py_now_ns();
	if (now < tasks->retry_ns)
		return -1;
	tasks->retry_ns = now + FIND_RETRY_NS;
	if (p->off.minor == 13 && remote_read(&p->r, p->runtime, dbg, sizeof(dbg)) == 0)
		dp = dbg;
	if (p->off.minor >= 14) {
		if (p->exe_asyncio_debug_len) {
			ap = p->exe_asyncio_debug;
			alen = p->exe_asyncio_debug_len;
		} else if (find_asyncio_section(p, adbg, &alen) == 0) {
			ap = adbg;
		}
	}
	rc = pyoffsets_tasks(p->off.minor, p->off.free_threaded, dp, dp ? sizeof(dbg) : 0, ap,
			     alen, &tasks->toff, tasks->why, sizeof(tasks->why));
	if (rc)
		return -1;
	tasks->chosen = true;
	return 0;
}

/* One entry of a dict's table. */
struct dict_entry {
	uint64_t key, value;
};

/* Dict entries copied per read (on the stack: no allocation per sample). */
#define DICT_CHUNK 64

/*
 * The used entries of the dict at addr (combined tables only: a split table
 * is an instance's, never one of those read here), of its first max
 * entries, into out[max]; *more says whether it has more. 0, -EFAULT (not
 * a dict, or a torn or implausible table), other -errno.
 */
static int read_dict(struct py_process *p, const struct py_task_offsets *t, uint64_t addr,
		     struct dict_entry *out, size_t max, size_t *n, bool *more)
{
	uint8_t hdr[48], khdr[32], raw[DICT_CHUNK * 24];
	uint64_t keys, type, entries, esize;
	unsigned log2_size, log2_index;
	enum py_obkind kind;
	struct rbuf rb;
	int64_t nentries;
	size_t done, i;
	int err;

	*n = 0;
	*more = false;
	if (!remote_ptr_ok(addr) || t->dict_keys + 16 > sizeof(hdr))
		return -EFAULT;
	err = remote_read(&p->r, addr, hdr, t->dict_keys + 16);
	if (err)
		return err;
	rb = rbuf_of(hdr, t->dict_keys + 16);
	type = rbuf_u64(&rb, p->off.ob_type);
	keys = rbuf_u64(&rb, t->dict_keys);
	if (rb.bad || rbuf_u64(&rb, t->dict_keys + 8) != 0) /* ma_values: split */
		return -EFAULT;
	err = py_type_kind(p, type, &kind);
	if (err)
		return err;
	if (kind != PY_KIND_DICT || !remote_ptr_ok(keys))
		return -EFAULT;
	err = remote_read(&p->r, keys, khdr, sizeof(khdr));
	if (err)
		return err;
	/* PyDictKeysObject: dk_log2_size, dk_log2_index_bytes, dk_kind at 8,
	 * 9, 10; dk_nentries at 24; the indices from 32, then the entries:
	 * {hash, key, value} (DICT_KEYS_GENERAL, 0) or {key, value} (UNICODE, 1) */
	rb = rbuf_of(khdr, sizeof(khdr));
	log2_size = rbuf_u8(&rb, 8);
	log2_index = rbuf_u8(&rb, 9);
	nentries = rbuf_i64(&rb, 24);
	if (log2_size > 30 || log2_index > 33 || nentries < 0 || nentries > (1LL << log2_size) ||
	    rbuf_u8(&rb, 10) > 1)
		return -EFAULT;
	esize = rbuf_u8(&rb, 10) == 0 ? 24 : 16;
	if ((size_t)nentries > max) {
		nentries = (int64_t)max;
		*more = true;
	}
	entries = keys + 32 + (1ULL << log2_index);
	for (done = 0; done < (size_t)nentries; done += DICT_CHUNK) {
		size_t chunk = (size_t)nentries - done < DICT_CHUNK ? (size_t)nentries - done
								    : DICT_CHUNK;

		err = remote_read(&p->r, entries + done * esize, raw, chunk * esize);
		if (err)
			return err;
		for (i = 0; i < chunk; i++) {
			const uint8_t *e = raw + i * esize + (esize == 24 ? 8 : 0);
			struct dict_entry de;

			memcpy(&de.key, e, 8);
			memcpy(&de.value, e + 8, 8);
			if (de.key && de.value)
				out[(*n)++] = de;
		}
	}
	return 0;
}

/* The value of key `name` (a str) in the dict at addr: 0 = none. */
static int dict_lookup(struct py_process *p, struct py_tasks *tasks, uint64_t addr,
		       const char *name, uint64_t *value)
{
	struct dict_entry *e = malloc(MAX_MODULES * sizeof(*e));
	size_t n, i;
	bool more;
	int err;

	*value = 0;
	if (!e)
		return -ENOMEM;
	err = read_dict(p, &tasks->toff, addr, e, MAX_MODULES, &n, &more);
	if (err) {
		free(e);
		return err;
	}
	for (i = 0; i < n && !*value; i++)
		if (py_read_str(p, e[i].key, tasks->str) == 0 && strcmp(tasks->str, name) == 0)
			*value = e[i].value;
	free(e);
	return 0;
}

/* 3.11-3.13: find asyncio.tasks._current_tasks through sys.modules. */
static int find_current_tasks(struct py_process *p, struct py_tasks *tasks)
{
	const struct py_task_offsets *t = &tasks->toff;
	uint64_t interp, modules, mod, md_dict, dict, now = py_now_ns();
	int err;

	if (tasks->current_tasks)
		return 0;
	if (now < tasks->find_retry_ns)
		return -EAGAIN;
	tasks->find_retry_ns = now + FIND_RETRY_NS;
	tasks->no_asyncio = false;
	err = remote_u64(&p->r, p->runtime + p->off.runtime_interp_head, &interp);
	if (!err && !remote_ptr_ok(interp))
		err = -EFAULT;
	if (!err)
		err = remote_u64(&p->r, interp + t->interp_modules, &modules);
	if (!err)
		err = dict_lookup(p, tasks, modules, "asyncio.tasks", &mod);
	if (err)
		return err;
	if (!mod) {
		tasks->no_asyncio = true;
		return -ENOENT;
	}
	err = remote_u64(&p->r, mod + t->module_dict, &md_dict);
	if (!err)
		err = dict_lookup(p, tasks, md_dict, "_current_tasks", &dict);
	/* Tasks are _CTask (the C module's) unless asyncio runs without it. */
	if (!err)
		err = dict_lookup(p, tasks, md_dict, "_CTask", &tasks->ctask_type);
	if (err)
		return err;
	if (!dict)
		return -EFAULT;
	tasks->current_tasks = dict;
	return 0;
}

/* Whether the frame at addr is one the last sample walked. */
static bool walked(const struct py_process *p, uint64_t addr)
{
	for (int i = 0; i < p->nwalk; i++)
		if (p->walk[i] == addr)
			return true;
	return false;
}

/* Decode a non-negative int of at most 2 digits (a task's number). */
static int read_small_int(struct py_process *p, const struct py_task_offsets *t, uint64_t addr,
			  unsigned long long *v)
{
	uint8_t buf[40];
	struct rbuf rb;
	int64_t size;
	uint32_t d0, d1;
	int err;

	if (t->long_digits + 8 > sizeof(buf))
		return -EFAULT;
	err = remote_read(&p->r, addr, buf, t->long_digits + 8);
	if (err)
		return err;
	rb = rbuf_of(buf, t->long_digits + 8);
	size = rbuf_i64(&rb, t->long_size);
	d0 = (uint32_t)rbuf_i32(&rb, t->long_digits);
	d1 = (uint32_t)rbuf_i32(&rb, t->long_digits + 4);
	if (rb.bad)
		return -EFAULT;
	if (t->long_tagged) {
		/* lv_tag: digits << 3 | sign (0 positive, 1 zero, 2 negative) */
		if ((size & 3) == 1) {
			*v = 0;
			return 0;
		}
		if ((size & 3) != 0)
			return -EFAULT;
		size >>= 3;
	}
	if (size < 0 || size > 2 || d0 >= (1u << 30) || d1 >= (1u << 30))
		return -EFAULT;
	*v = size == 0 ? 0 : size == 1 ? d0 : ((unsigned long long)d1 << 30) + d0;
	return 0;
}

/*
 * One task's name and coroutine into *link; *coro_out gets the coroutine's
 * address, *hdr (task_read bytes) the task's own fields. 0, or -EFAULT
 * (not a task this reader can read), other -errno.
 */
static int read_task(struct py_process *p, struct py_tasks *tasks, uint64_t task,
		     struct py_task_link *link, uint64_t *coro_out, uint8_t *hdr)
{
	const struct py_task_offsets *t = &tasks->toff;
	uint64_t name, coro, name_type, qualname;
	enum py_obkind kind;
	struct rbuf rb;
	int err;

	if (!remote_ptr_ok(task) || t->task_read > PYOFF_TASK_MAX)
		return -EFAULT;
	err = remote_read(&p->r, task, hdr, t->task_read);
	if (err)
		return err;
	rb = rbuf_of(hdr, t->task_read);
	name = rbuf_u64(&rb, t->task_name);
	coro = rbuf_u64(&rb, t->task_coro);
	if (rb.bad || !remote_ptr_ok(name) || !remote_ptr_ok(coro))
		return -EFAULT;
	*coro_out = coro;
	err = remote_u64(&p->r, name + p->off.ob_type, &name_type);
	if (!err)
		err = py_type_kind(p, name_type, &kind);
	if (err)
		return err;
	if (kind == PY_KIND_STR) {
		err = py_read_str(p, name, tasks->str);
		if (err)
			return err;
		copy_name(link->name, tasks->str);
	} else if (kind == PY_KIND_INT) {
		/* 3.12+ keep a default name as its number until it is asked for */
		unsigned long long n;

		err = read_small_int(p, t, name, &n);
		if (err)
			return err;
		snprintf(link->name, sizeof(link->name), "Task-%llu", n);
	} else {
		return -EFAULT;
	}
	err = remote_u64(&p->r, coro + t->gen_qualname, &qualname);
	if (!err)
		err = py_read_str(p, qualname, tasks->str);
	if (err)
		return err;
	copy_name(link->coro, tasks->str);
	return 0;
}

/* 3.14+: the task awaiting the one whose fields are in hdr; 0 = none. */
static uint64_t awaiter_of(struct py_process *p, struct py_tasks *tasks, const uint8_t *hdr,
			   struct py_task_link *link, uint64_t *coro, uint8_t *scratch)
{
	const struct py_task_offsets *t = &tasks->toff;
	struct rbuf rb = rbuf_of(hdr, t->task_read);
	uint64_t by = rbuf_u64(&rb, t->task_awaited_by), mask, table;
	uint8_t is_set = rbuf_u8(&rb, t->task_awaited_by_is_set), sh[48];
	uint8_t entries[MAX_SET_ENTRIES * 16];
	size_t n, i;
	int tries = 0;

	if (rb.bad || !by)
		return 0;
	if (!is_set)
		return read_task(p, tasks, by, link, coro, scratch) == 0 ? by : 0;
	/* A set of awaiting tasks: PySetObject {.., mask, table}, entries {key, hash} */
	if (!remote_ptr_ok(by) || t->set_table + 8 > sizeof(sh) ||
	    remote_read(&p->r, by, sh, t->set_table + 8))
		return 0;
	rb = rbuf_of(sh, t->set_table + 8);
	mask = rbuf_u64(&rb, t->set_mask);
	table = rbuf_u64(&rb, t->set_table);
	if (rb.bad || !remote_ptr_ok(table) || mask >= (1u << 30))
		return 0;
	n = mask + 1 < MAX_SET_ENTRIES ? mask + 1 : MAX_SET_ENTRIES;
	if (remote_read(&p->r, table, entries, n * 16))
		return 0;
	for (i = 0; i < n && tries < MAX_SET_TRIES; i++) {
		uint64_t key;

		memcpy(&key, entries + i * 16, 8);
		if (!key)
			continue;
		tries++; /* a removed entry's key is a dummy: not a task */
		if (read_task(p, tasks, key, link, coro, scratch) == 0)
			return key;
	}
	return 0;
}

/* The running task is at task: fill out's chain. */
static void fill_chain(struct py_process *p, struct py_tasks *tasks, uint64_t task,
		       struct py_task *out)
{
	uint8_t hdr[PYOFF_TASK_MAX], next_hdr[PYOFF_TASK_MAX];
	uint64_t seen[PY_TASK_CHAIN_MAX], coro;
	int err;

	err = read_task(p, tasks, task, &out->chain[0], &coro, hdr);
	if (err) {
		unavailable(out, "%s", err == -EFAULT ? "the running task's name or coroutine "
			    "could not be read (not a str, or memory changed under the read)" :
			    strerror(-err));
		return;
	}
	out->state = PY_TASK_RUNNING;
	out->depth = 1;
	seen[0] = task;
	if (tasks->toff.task_awaited_by == PYOFF_NONE)
		return;
	for (;;) {
		uint64_t next;
		int i;

		if (out->depth == PY_TASK_CHAIN_MAX) {
			/* More only if there is an awaiter still. */
			struct py_task_link spare;

			out->truncated = awaiter_of(p, tasks, hdr, &spare, &coro, next_hdr) != 0;
			return;
		}
		next = awaiter_of(p, tasks, hdr, &out->chain[out->depth], &coro, next_hdr);
		if (!next)
			return;
		for (i = 0; i < out->depth; i++) {
			if (seen[i] == next) {
				out->truncated = true; /* a cycle: only a corrupt target has one */
				return;
			}
		}
		seen[out->depth++] = next;
		memcpy(hdr, next_hdr, tasks->toff.task_read);
	}
}

/*
 * 3.11-3.13: the task of _current_tasks whose coroutine the thread runs
 * (0: none). Any entry is tried (a class derived from the C Task has its
 * layout), but with none found, -E2BIG says there were more entries than
 * read and -EPROTOTYPE that some were not the C Task (the pure-Python
 * Task's coroutine is not where the C Task keeps it): a target cannot make
 * a task it runs look absent.
 */
static int task_from_dict(struct py_process *p, struct py_tasks *tasks, uint64_t *task)
{
	struct dict_entry e[MAX_LOOPS];
	size_t n, i, others = 0;
	bool more;
	int err;

	*task = 0;
	err = read_dict(p, &tasks->toff, tasks->current_tasks, e, MAX_LOOPS, &n, &more);
	if (err)
		return err;
	for (i = 0; i < n && !*task; i++) {
		uint64_t coro, type = 0;

		if (!remote_ptr_ok(e[i].value) ||
		    remote_u64(&p->r, e[i].value + p->off.ob_type, &type) ||
		    type != tasks->ctask_type || !type)
			others++;
		if (!remote_ptr_ok(e[i].value) ||
		    remote_u64(&p->r, e[i].value + tasks->toff.task_coro, &coro))
			continue;
		if (remote_ptr_ok(coro) && walked(p, coro + tasks->toff.gen_iframe))
			*task = e[i].value;
	}
	if (!*task && more)
		return -E2BIG;
	return !*task && others ? -EPROTOTYPE : 0;
}

int py_process_task(struct py_process *p, pid_t tid, struct py_task *out)
{
	struct py_tasks *tasks;
	struct pythread *th;
	uint64_t task = 0;
	pid_t ns;
	int err;

	memset(out, 0, sizeof(*out));
	out->state = PY_TASK_UNAVAILABLE;
	if (!p || tid <= 0 || p->walk_tid != tid) {
		unavailable(out, "%s", "no stack sample of the thread to read it with");
		return 0;
	}
	if (!p->tasks) {
		p->tasks = calloc(1, sizeof(*p->tasks));
		if (p->tasks)
			p->tasks->str = malloc(PY_STR_BUF);
		if (!p->tasks || !p->tasks->str) {
			py_tasks_free(p->tasks);
			p->tasks = NULL;
			unavailable(out, "%s", strerror(ENOMEM));
			return 0;
		}
	}
	tasks = p->tasks;
	if (choose(p, tasks) < 0) {
		unavailable(out, "asyncio tasks: %s", tasks->why);
		return 0;
	}
	if (tasks->toff.style == PY_TASKS_THREAD_STATE) {
		if (py_ns_tid_of(p, tid, &ns) || !(th = py_thread_find(p, ns))) {
			unavailable(out, "%s", "the thread's state was not found");
			return 0;
		}
		err = remote_u64(&p->r, th->tstate + tasks->toff.ts_running_task, &task);
	} else {
		err = find_current_tasks(p, tasks);
		if (err == -ENOENT && tasks->no_asyncio) {
			out->state = PY_TASK_NONE; /* asyncio is not even imported */
			return 0;
		}
		if (err == -EAGAIN) {
			unavailable(out, "%s", "asyncio.tasks._current_tasks was not found (it is "
				    "looked for again in a second)");
			return 0;
		}
		if (!err)
			err = task_from_dict(p, tasks, &task);
		if (err == -E2BIG) {
			out->state = PY_TASK_UNAVAILABLE;
			snprintf(out->why, sizeof(out->why), "more than %d loops run a task step at "
				 "once (not all read)", MAX_LOOPS);
			return 0;
		}
		if (err == -EPROTOTYPE) {
			unavailable(out, "%s", "a task that is not asyncio's C Task is running (the "
				    "pure-Python Task, or a class of its own): it is not read");
			return 0;
		}
		if (err) {
			/* Maybe no longer the dict it was: look for it again. */
			tasks->current_tasks = 0;
		}
	}
	if (err) {
		int why = py_read_failure(p, err);

		if (why == -ESRCH || why == -ESTALE) {
			unavailable(out, "%s", why == -ESRCH ? "the target exited" :
				    "the target exec'ed");
			return why;
		}
		unavailable(out, "%s", "the running task could not be read (memory changed "
			    "under the read)");
		return 0;
	}
	if (!task) {
		out->state = PY_TASK_NONE;
		return 0;
	}
	fill_chain(p, tasks, task, out);
	return 0;
}
