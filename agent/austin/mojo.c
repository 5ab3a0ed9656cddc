// SPDX-License-Identifier: Apache-2.0
/*
 * mojo.c - Austin's binary MOJO format, versions 1 to 4.
 *
 * Stream: "MOJ", the version (a MOJO integer), then events, each an id byte
 * and its fields:
 *
 *   id  event          fields
 *    1  METADATA       key\0 value\0
 *    2  STACK          pid, iid (v3+), thread\0 (hex tid, or a name)
 *    3  FRAME          key, filename (string ref), scope (string ref), line,
 *                      and from v2 line_end, column, column_end
 *    4  FRAME_INVALID  -
 *    5  FRAME_REF      key
 *    6  FRAME_KERNEL   scope\0
 *    7  GC             -
 *    8  IDLE           -
 *    9  METRIC_TIME    microseconds
 *   10  METRIC_MEMORY  bytes (signed)
 *   11  STRING         key, value\0
 *   12  STRING_REF     key
 *   13  STACK_REPEAT   - (v4)
 *   14  TASK_STACK     task id, name key (v4)
 *   15  TASK_WAITER    task id, waiter id (v4)
 *
 * A MOJO integer: the first byte holds the low 6 bits of the magnitude
 * (bit 6: negative, bit 7: more bytes follow), each further byte 7 more
 * bits (bit 7: more). A sample is a STACK, the FRAME_REFs of its frames
 * root first (with the FRAME and STRING definitions they need, the first
 * time they are used, interleaved), an optional GC, then its metric(s):
 * METRIC_TIME, or METRIC_MEMORY, or in full mode METRIC_TIME [IDLE]
 * METRIC_MEMORY. A sample is delivered at its (last) metric, so that a
 * reader streaming from a pipe need not wait for the next one.
 *
 * Frame and string keys are per process (keyed here on (pid, key)) and may
 * be defined again after Austin evicts them from its caches (upsert).
 * STACK_REPEAT says that the frames so far are the innermost part of the
 * stack and that the thread's previous stack, without its innermost native
 * frames, is the rest. TASK_STACK starts the stack of a suspended asyncio
 * task (FRAME_REFs and one METRIC_TIME of its own), which is not a thread's
 * and is skipped here.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "austin_parse.h"

enum {
	EV_METADATA = 1, EV_STACK, EV_FRAME, EV_FRAME_INVALID, EV_FRAME_REF,
	EV_FRAME_KERNEL, EV_GC, EV_IDLE, EV_METRIC_TIME, EV_METRIC_MEMORY,
	EV_STRING, EV_STRING_REF, EV_STACK_REPEAT, EV_TASK_STACK, EV_TASK_WAITER,
};

#define MOJO_MAX_VERSION 4
/* Definitions kept per table; past that the table is emptied (later
 * references to what was dropped read "<unknown>"). */
#define MAX_ENTRIES (1u << 20)
/* Frames in one sample, however deep: past this the stream is refused. */
#define MAX_STACK 65536
/* Threads whose last stack is kept for STACK_REPEAT (v4). */
#define MAX_PREV 1024

enum { NEED_MORE = 0, OK = 1, BAD = -1 };

/* An open-addressing table from (pid, key) to an index into items. */
struct table {
	uint64_t *pids, *keys;
	uint32_t *slots;       /* index + 1; 0 = empty */
	uint32_t cap;          /* power of two */
	uint32_t count;
};

struct string_item {
	char *value;
};

struct frame_item {
	uint64_t file, scope;  /* string keys */
	int line;
};

enum mframe_kind { MF_REF, MF_INVALID, MF_KERNEL };

struct mframe {
	enum mframe_kind kind;
	uint64_t key;          /* MF_REF */
	char *name;            /* MF_KERNEL, owned */
};

struct frame_list {
	struct mframe *v;
	size_t n, cap;
};

struct prev_stack {
	uint64_t pid;
	char *thread;
	struct frame_list frames;
};

struct austin_mojo {
	struct austin_parse_cb cb;
	uint8_t *buf;          /* bytes not parsed yet */
	size_t len, cap;
	uint64_t offset;       /* of buf[0] in the stream */
	int version;           /* 0 until the header is read */
	bool full_mode;
	bool failed;
	char err[AUSTIN_ERR_MAX];

	struct table strings, frames;
	struct string_item *string_items;
	struct frame_item *frame_items;
	uint32_t string_items_cap, frame_items_cap;

	/* The sample being read. */
	bool active;           /* a STACK was read, its sample not delivered */
	bool in_task;          /* reading a TASK_STACK's frames */
	uint64_t pid, last_pid;
	long long iid;
	char *thread;
	struct frame_list cur;
	bool invalid, gc, idle, has_time, has_memory;
	long long time_us, memory;

	struct prev_stack prev[MAX_PREV];
	unsigned nprev;

	struct austin_frame out[AUSTIN_MAX_FRAMES];
};

static int fail(struct austin_mojo *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct austin_mojo *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	p->failed = true;
	return BAD;
}

/* ---- tables ------------------------------------------------------------- */

static uint32_t hash(uint64_t pid, uint64_t key)
{
	uint64_t h = key * 0x9E3779B97F4A7C15ULL ^ (pid + 0x632BE59BD9B4E019ULL) * 0xC2B2AE3D27D4EB4FULL;

	return (uint32_t)(h ^ h >> 32);
}

static void table_clear(struct table *t)
{
	free(t->pids);
	free(t->keys);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* The slot of (pid, key): where it is, or where it would go. */
static uint32_t table_slot(const struct table *t, uint64_t pid, uint64_t key)
{
	uint32_t i = hash(pid, key) & (t->cap - 1);

	while (t->slots[i] && (t->pids[i] != pid || t->keys[i] != key))
		i = (i + 1) & (t->cap - 1);
	return i;
}

/* The index stored for (pid, key), or -1. */
static long table_get(const struct table *t, uint64_t pid, uint64_t key)
{
	uint32_t i;

	if (!t->cap)
		return -1;
	i = table_slot(t, pid, key);
	return t->slots[i] ? (long)t->slots[i] - 1 : -1;
}

static int table_grow(struct table *t)
{
	struct table n = { .cap = t->cap ? t->cap * 2 : 256 };

	n.pids = malloc(n.cap * sizeof(*n.pids));
	n.keys = malloc(n.cap * sizeof(*n.keys));
	n.slots = calloc(n.cap, sizeof(*n.slots));
	if (!n.pids || !n.keys || !n.slots) {
		table_clear(&n);
		return -1;
	}
	for (uint32_t i = 0; i < t->cap; i++) {
		uint32_t j;

		if (!t->slots[i])
			continue;
		j = table_slot(&n, t->pids[i], t->keys[i]);
		n.pids[j] = t->pids[i];
		n.keys[j] = t->keys[i];
		n.slots[j] = t->slots[i];
	}
	n.count = t->count;
	table_clear(t);
	*t = n;
	return 0;
}

/* The index for (pid, key), added as the next index (t->count) if new;
 * *added says which. -1 when out of memory. */
static long table_put(struct table *t, uint64_t pid, uint64_t key, bool *added)
{
	uint32_t i;

	*added = false;
	if ((t->count + 1) * 2 > t->cap && table_grow(t))
		return -1;
	i = table_slot(t, pid, key);
	if (t->slots[i])
		return (long)t->slots[i] - 1;
	t->pids[i] = pid;
	t->keys[i] = key;
	t->slots[i] = ++t->count;
	*added = true;
	return (long)t->count - 1;
}

static void strings_clear(struct austin_mojo *p)
{
	for (uint32_t i = 0; i < p->strings.count; i++)
		free(p->string_items[i].value);
	table_clear(&p->strings);
}

static int string_put(struct austin_mojo *p, uint64_t key, const char *value)
{
	char *copy = strdup(value);
	bool added;
	long i;

	if (!copy)
		return fail(p, "out of memory");
	if (p->strings.count >= MAX_ENTRIES)
		strings_clear(p);
	i = table_put(&p->strings, p->pid, key, &added);
	if (i < 0) {
		free(copy);
		return fail(p, "out of memory");
	}
	if (added && (uint32_t)i >= p->string_items_cap) {
		uint32_t cap = p->string_items_cap ? p->string_items_cap * 2 : 256;
		struct string_item *bigger = realloc(p->string_items, cap * sizeof(*bigger));

		if (!bigger) {
			free(copy);
			p->strings.count--; /* keep items and table in step */
			strings_clear(p);
			return fail(p, "out of memory");
		}
		p->string_items = bigger;
		p->string_items_cap = cap;
	}
	if (!added)
		free(p->string_items[i].value);
	p->string_items[i].value = copy;
	return OK;
}

static const char *string_get(const struct austin_mojo *p, uint64_t pid, uint64_t key)
{
	long i = table_get(&p->strings, pid, key);

	if (i >= 0)
		return p->string_items[i].value;
	return key == 0 ? "" : "<unknown>";
}

static int frame_put(struct austin_mojo *p, uint64_t key, uint64_t file, uint64_t scope,
		     int line)
{
	bool added;
	long i;

	if (p->frames.count >= MAX_ENTRIES)
		table_clear(&p->frames);
	i = table_put(&p->frames, p->pid, key, &added);
	if (i < 0)
		return fail(p, "out of memory");
	if (added && (uint32_t)i >= p->frame_items_cap) {
		uint32_t cap = p->frame_items_cap ? p->frame_items_cap * 2 : 256;
		struct frame_item *bigger = realloc(p->frame_items, cap * sizeof(*bigger));

		if (!bigger) {
			table_clear(&p->frames);
			return fail(p, "out of memory");
		}
		p->frame_items = bigger;
		p->frame_items_cap = cap;
	}
	p->frame_items[i] = (struct frame_item){ .file = file, .scope = scope, .line = line };
	return OK;
}

/* ---- frame lists ---------------------------------------------------------- */

static void list_clear(struct frame_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	l->n = 0;
}

static void list_free(struct frame_list *l)
{
	list_clear(l);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int list_push(struct austin_mojo *p, struct frame_list *l, struct mframe f)
{
	if (l->n == MAX_STACK) {
		free(f.name);
		return fail(p, "a stack deeper than %d frames", MAX_STACK);
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct mframe *bigger = realloc(l->v, cap * sizeof(*bigger));

		if (!bigger) {
			free(f.name);
			return fail(p, "out of memory");
		}
		l->v = bigger;
		l->cap = cap;
	}
	l->v[l->n++] = f;
	return OK;
}

/* dst = a copy of src[0..n) followed by dst's own frames. */
static int list_prepend_copy(struct austin_mojo *p, struct frame_list *dst,
			     const struct mframe *src, size_t n)
{
	size_t old = dst->n;

	if (!n)
		return OK;
	if (old + n > MAX_STACK)
		return fail(p, "a stack deeper than %d frames", MAX_STACK);
	for (size_t i = 0; i < n; i++)
		if (list_push(p, dst, (struct mframe){ .kind = MF_INVALID }) != OK)
			return BAD;
	memmove(dst->v + n, dst->v, old * sizeof(*dst->v));
	for (size_t i = 0; i < n; i++) {
		dst->v[i] = src[i];
		dst->v[i].name = NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (src[i].name && !(dst->v[i].name = strdup(src[i].name)))
			return fail(p, "out of memory");
	return OK;
}

static void resolve(const struct austin_mojo *p, uint64_t pid, const struct mframe *m,
		    struct austin_frame *f)
{
	long i;

	switch (m->kind) {
	case MF_INVALID:
		*f = (struct austin_frame){ .function = "INVALID", .file = "" };
		return;
	case MF_KERNEL:
		*f = (struct austin_frame){ .function = m->name, .file = "kernel" };
		return;
	case MF_REF:
		break;
	}
	i = table_get(&p->frames, pid, m->key);
	if (i < 0) {
		*f = (struct austin_frame){ .function = "<unknown>", .file = "<unknown>" };
		return;
	}
	f->file = string_get(p, pid, p->frame_items[i].file);
	f->function = string_get(p, pid, p->frame_items[i].scope);
	f->line = p->frame_items[i].line;
}

/* Native frames (of austinp) are neither Python files nor "<...>" ones. */
static bool is_native(const struct austin_mojo *p, uint64_t pid, const struct mframe *m)
{
	struct austin_frame f;
	size_t n;

	if (m->kind == MF_KERNEL)
		return true;
	if (m->kind == MF_INVALID)
		return false;
	resolve(p, pid, m, &f);
	n = strlen(f.file);
	if (n >= 3 && !strcmp(f.file + n - 3, ".py"))
		return false;
	return !(n >= 2 && f.file[0] == '<' && f.file[n - 1] == '>');
}

static struct prev_stack *prev_find(struct austin_mojo *p, uint64_t pid, const char *thread)
{
	for (unsigned i = 0; i < p->nprev; i++)
		if (p->prev[i].pid == pid && !strcmp(p->prev[i].thread, thread))
			return &p->prev[i];
	return NULL;
}

static void prev_clear(struct austin_mojo *p)
{
	for (unsigned i = 0; i < p->nprev; i++) {
		free(p->prev[i].thread);
		list_free(&p->prev[i].frames);
	}
	p->nprev = 0;
}

/* Keep the delivered sample's frames for a later STACK_REPEAT. */
static int prev_save(struct austin_mojo *p)
{
	struct prev_stack *ps = prev_find(p, p->pid, p->thread);

	if (!ps) {
		if (p->nprev == MAX_PREV)
			prev_clear(p);
		ps = &p->prev[p->nprev];
		*ps = (struct prev_stack){ .pid = p->pid, .thread = strdup(p->thread) };
		if (!ps->thread)
			return fail(p, "out of memory");
		p->nprev++;
	}
	list_clear(&ps->frames);
	return list_prepend_copy(p, &ps->frames, p->cur.v, p->cur.n);
}

/* ---- samples -------------------------------------------------------------- */

static void sample_reset(struct austin_mojo *p)
{
	p->active = false;
	p->in_task = false;
	free(p->thread);
	p->thread = NULL;
	list_clear(&p->cur);
	p->invalid = p->gc = p->idle = p->has_time = p->has_memory = false;
	p->time_us = p->memory = 0;
}

/* Hand the sample being read to the callback. */
static int deliver(struct austin_mojo *p)
{
	struct austin_sample s = {
		.pid = (long long)p->pid, .iid = p->iid, .thread = p->thread, .tid = -1,
		.frames = p->out, .invalid = p->invalid, .gc = p->gc, .idle = p->idle,
		.has_time = p->has_time, .has_memory = p->has_memory,
		.time_us = p->time_us, .memory = p->memory,
	};
	size_t n = p->cur.n, keep = n < AUSTIN_MAX_FRAMES ? n : AUSTIN_MAX_FRAMES;
	const char *t = p->thread;
	size_t tl;

	if (!p->active)
		return OK;
	tl = strlen(t);
	/* The thread is hexadecimal (Austin's "%lx" of the TID) or a name. */
	if (tl >= 1 && tl <= 15 && strspn(t, "0123456789abcdefABCDEF") == tl)
		s.tid = strtoll(t, NULL, 16);
	for (size_t i = 0; i < keep; i++)
		resolve(p, p->pid, &p->cur.v[n - 1 - i], &p->out[i]);
	s.depth = (int)keep;
	s.truncated = n > keep;
	if (p->cb.sample)
		p->cb.sample(p->cb.ctx, &s);
	if (p->version >= 4 && prev_save(p) != OK)
		return BAD;
	sample_reset(p);
	return OK;
}

/* ---- reading fields ------------------------------------------------------- */

struct reader {
	uint8_t *p;
	size_t n, off;
};

/* A MOJO integer as magnitude and sign. */
static int rd_int(struct austin_mojo *p, struct reader *r, uint64_t *mag, bool *neg)
{
	uint64_t v;
	unsigned shift = 6;
	uint8_t b;

	if (r->off >= r->n)
		return NEED_MORE;
	b = r->p[r->off++];
	v = b & 0x3f;
	*neg = b & 0x40;
	while (b & 0x80) {
		uint64_t bits;

		if (r->off >= r->n)
			return NEED_MORE;
		b = r->p[r->off++];
		bits = b & 0x7f;
		if (shift >= 64 || (shift > 57 && bits >> (64 - shift)))
			return fail(p, "bad MOJO integer at offset %llu: more than 64 bits",
				    (unsigned long long)(p->offset + r->off));
		v |= bits << shift;
		shift += 7;
	}
	*mag = v;
	return OK;
}

/* A MOJO integer that must not be negative (ids, keys, lines). */
static int rd_uint(struct austin_mojo *p, struct reader *r, uint64_t *v)
{
	bool neg;
	int ret = rd_int(p, r, v, &neg);

	if (ret == OK && neg && *v)
		return fail(p, "negative MOJO integer at offset %llu where none may be",
			    (unsigned long long)(p->offset + r->off));
	return ret;
}

static int rd_sint(struct austin_mojo *p, struct reader *r, long long *v)
{
	uint64_t mag;
	bool neg;
	int ret = rd_int(p, r, &mag, &neg);

	if (ret != OK)
		return ret;
	if (mag > (uint64_t)LLONG_MAX)
		mag = (uint64_t)LLONG_MAX;
	*v = neg ? -(long long)mag : (long long)mag;
	return OK;
}

/* A NUL-terminated string, in place. */
static int rd_str(struct austin_mojo *p, struct reader *r, const char **s)
{
	size_t avail = r->n - r->off;
	uint8_t *nul = memchr(r->p + r->off, '\0',
			      avail < AUSTIN_MAX_STRING + 1 ? avail : AUSTIN_MAX_STRING + 1);

	if (!nul) {
		if (avail > AUSTIN_MAX_STRING)
			return fail(p, "MOJO string longer than %d bytes at offset %llu",
				    AUSTIN_MAX_STRING, (unsigned long long)(p->offset + r->off));
		return NEED_MORE;
	}
	*s = (const char *)r->p + r->off;
	r->off = (size_t)(nul - r->p) + 1;
	return OK;
}

static int line_of(uint64_t v)
{
	/* Austin writes CPython's "no line" (-1) as an unsigned integer. */
	return v > INT_MAX ? 0 : (int)v;
}

#define TRY(x)                          \
	do {                            \
		int ret_ = (x);         \
		if (ret_ != OK)         \
			return ret_;    \
	} while (0)

/* Parse the event at r->off, which is complete or NEED_MORE: nothing is
 * changed until all its fields have been read. */
static int parse_event(struct austin_mojo *p, struct reader *r)
{
	uint64_t key, a, b, c, line;
	const char *s1, *s2;
	long long v;
	uint8_t id;

	if (r->off >= r->n)
		return NEED_MORE;
	id = r->p[r->off++];
	if (id >= EV_STACK_REPEAT && id <= EV_TASK_WAITER && p->version < 4)
		return fail(p, "MOJO event %u at offset %llu needs MOJO version 4, the stream is version %d",
			    id, (unsigned long long)(p->offset + r->off - 1), p->version);
	switch (id) {
	case EV_METADATA:
		TRY(rd_str(p, r, &s1));
		TRY(rd_str(p, r, &s2));
		TRY(deliver(p));
		if (!strcmp(s1, "mode"))
			p->full_mode = !strcmp(s2, "full");
		if (p->cb.meta)
			p->cb.meta(p->cb.ctx, s1, s2);
		return OK;
	case EV_STACK: {
		long long iid = -1;
		char *thread;

		TRY(rd_uint(p, r, &a));
		if (p->version >= 3)
			TRY(rd_sint(p, r, &iid));
		TRY(rd_str(p, r, &s1));
		TRY(deliver(p));
		sample_reset(p);
		thread = strdup(s1);
		if (!thread)
			return fail(p, "out of memory");
		p->active = true;
		p->pid = p->last_pid = a;
		p->iid = iid;
		p->thread = thread;
		return OK;
	}
	case EV_FRAME:
		TRY(rd_uint(p, r, &key));
		TRY(rd_uint(p, r, &a));
		TRY(rd_uint(p, r, &b));
		TRY(rd_uint(p, r, &line));
		if (p->version >= 2) {
			TRY(rd_uint(p, r, &c)); /* line_end */
			TRY(rd_uint(p, r, &c)); /* column */
			TRY(rd_uint(p, r, &c)); /* column_end */
		}
		p->pid = p->active ? p->pid : p->last_pid;
		return frame_put(p, key, a, b, line_of(line));
	case EV_FRAME_INVALID:
		if (!p->active || p->in_task)
			return OK;
		p->invalid = true;
		return list_push(p, &p->cur, (struct mframe){ .kind = MF_INVALID });
	case EV_FRAME_REF:
		TRY(rd_uint(p, r, &key));
		if (!p->active || p->in_task)
			return OK;
		return list_push(p, &p->cur, (struct mframe){ .kind = MF_REF, .key = key });
	case EV_FRAME_KERNEL: {
		char *name;

		TRY(rd_str(p, r, &s1));
		if (!p->active || p->in_task)
			return OK;
		name = strdup(s1);
		if (!name)
			return fail(p, "out of memory");
		return list_push(p, &p->cur, (struct mframe){ .kind = MF_KERNEL, .name = name });
	}
	case EV_GC:
		p->gc = p->active;
		return OK;
	case EV_IDLE:
		p->idle = p->active;
		return OK;
	case EV_METRIC_TIME:
		TRY(rd_sint(p, r, &v));
		if (p->in_task) {
			p->in_task = false; /* the task's own metric */
			return OK;
		}
		p->has_time = true;
		p->time_us = v;
		return p->full_mode ? OK : deliver(p);
	case EV_METRIC_MEMORY:
		TRY(rd_sint(p, r, &v));
		p->has_memory = true;
		p->memory = v;
		return deliver(p);
	case EV_STRING:
		TRY(rd_uint(p, r, &key));
		TRY(rd_str(p, r, &s1));
		p->pid = p->active ? p->pid : p->last_pid;
		return string_put(p, key, s1);
	case EV_STRING_REF:
		TRY(rd_uint(p, r, &key));
		return OK;
	case EV_STACK_REPEAT: {
		struct prev_stack *ps;
		size_t n;

		if (!p->active)
			return OK;
		ps = prev_find(p, p->pid, p->thread);
		if (!ps)
			return OK;
		n = ps->frames.n;
		while (n && is_native(p, p->pid, &ps->frames.v[n - 1]))
			n--;
		return list_prepend_copy(p, &p->cur, ps->frames.v, n);
	}
	case EV_TASK_STACK:
		TRY(rd_uint(p, r, &a));
		TRY(rd_uint(p, r, &b));
		p->in_task = true;
		return OK;
	case EV_TASK_WAITER:
		TRY(rd_uint(p, r, &a));
		TRY(rd_uint(p, r, &b));
		return OK;
	default:
		return fail(p, "unknown MOJO event %u at offset %llu: not a MOJO stream, or a newer version than blocksnoop reads",
			    id, (unsigned long long)(p->offset + r->off - 1));
	}
}

static int parse_header(struct austin_mojo *p, struct reader *r)
{
	uint64_t version;

	if (r->n < 3)
		return memcmp(r->p, "MOJ", r->n) ? fail(p, "not a MOJO stream") : NEED_MORE;
	if (memcmp(r->p, "MOJ", 3))
		return fail(p, "not a MOJO stream");
	r->off = 3;
	TRY(rd_uint(p, r, &version));
	if (version < 1 || version > MOJO_MAX_VERSION)
		return fail(p, "MOJO version %llu: blocksnoop reads versions 1 to %d",
			    (unsigned long long)version, MOJO_MAX_VERSION);
	p->version = (int)version;
	return OK;
}

/* ---- API ------------------------------------------------------------------- */

struct austin_mojo *austin_mojo_new(const struct austin_parse_cb *cb)
{
	struct austin_mojo *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->cb = *cb;
	p->iid = -1;
	return p;
}

void austin_mojo_free(struct austin_mojo *p)
{
	if (!p)
		return;
	sample_reset(p);
	list_free(&p->cur);
	prev_clear(p);
	strings_clear(p);
	free(p->string_items);
	table_clear(&p->frames);
	free(p->frame_items);
	free(p->buf);
	free(p);
}

int austin_mojo_feed(struct austin_mojo *p, const void *data, size_t n)
{
	struct reader r;
	int ret = OK;

	if (p->failed)
		return -1;
	if (!n)
		return 0;
	if (p->len + n > p->cap) {
		size_t cap = p->cap ? p->cap : 4096;
		uint8_t *bigger;

		while (cap < p->len + n)
			cap *= 2;
		bigger = realloc(p->buf, cap);
		if (!bigger)
			return fail(p, "out of memory"), -1;
		p->buf = bigger;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, data, n);
	p->len += n;

	r = (struct reader){ .p = p->buf, .n = p->len };
	if (!p->version) {
		ret = parse_header(p, &r);
		if (ret != OK)
			return ret == BAD ? -1 : 0;
	}
	for (;;) {
		size_t start = r.off;

		ret = parse_event(p, &r);
		if (ret != OK) {
			r.off = start;
			break;
		}
	}
	if (ret == BAD)
		return -1;
	memmove(p->buf, p->buf + r.off, p->len - r.off);
	p->len -= r.off;
	p->offset += r.off;
	return 0;
}

int austin_mojo_finish(struct austin_mojo *p)
{
	if (p->failed)
		return -1;
	if (p->len || !p->version)
		return fail(p, p->version ? "truncated: the MOJO stream ends in the middle of an event"
					  : "truncated: the MOJO stream ends in its header"), -1;
	return deliver(p) == OK ? 0 : -1;
}

const char *austin_mojo_error(const struct austin_mojo *p)
{
	return p->err;
}

int austin_mojo_version(const struct austin_mojo *p)
{
	return p->version;
}
