// SPDX-License-Identifier: Apache-2.0
/*
 * pycode.c - code objects (see pycode.h): a code object is identified by
 * its address and the fields that name it (type, file and function names,
 * line table, first line); an entry whose fields changed since it was
 * cached is a new object at a reused address.
 */
#include <errno.h>
#include <string.h>

#include "pycode.h"
#include "pyobject.h"

/* Largest line table copied (bigger ones give line 0): only module code of
 * data modules comes near it. */
#define MAX_TABLE (64u << 10)

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
	enum py_obkind kind;
	int err;

	if (hdr->bad)
		return -EFAULT;
	err = py_type_kind(p, e.type, &kind);
	if (err)
		return err;
	e.valid = kind == PY_KIND_CODE;
	if (e.valid) {
		err = py_read_str(p, e.filename, file);
		if (!err)
			err = py_read_str(p, e.qualname ? e.qualname : e.name, function);
		if (err)
			return err;
		/* A table the cache has no room for: lines 0, but a stack. */
		room = codecache_table_room(&p->codes);
		err = py_read_bytes(p, e.linetable, room < MAX_TABLE ? room : MAX_TABLE, &e.table,
				 &e.tablen);
		if (err)
			return err;
	} else {
		e.filename = e.name = e.qualname = e.linetable = 0;
		e.firstlineno = 0;
	}
	return codecache_add(&p->codes, &e, function, file) ? 0 : -ENOMEM;
}

int py_resolve_codes(struct py_process *p, const struct raw_frame *raw, int n,
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
