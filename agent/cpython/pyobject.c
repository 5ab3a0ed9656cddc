// SPDX-License-Identifier: Apache-2.0
/*
 * pyobject.c - types, str and bytes objects of the target (see pyobject.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pyobject.h"
#include "pystr.h"

/* Py_TPFLAGS_HEAPTYPE: a class made at run time, never a builtin type. */
#define TPFLAGS_HEAPTYPE (1UL << 9)

int py_type_kind(struct py_process *p, uint64_t type, enum py_obkind *kind)
{
	static const struct {
		const char *name;
		enum py_obkind kind;
	} known[] = { { "code", PY_KIND_CODE }, { "str", PY_KIND_STR }, { "bytes", PY_KIND_BYTES },
		      { "int", PY_KIND_INT }, { "dict", PY_KIND_DICT } };
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
	*kind = PY_KIND_OTHER;
	if (memchr(name, '\0', n) && !(flags & TPFLAGS_HEAPTYPE)) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(name, known[i].name) == 0)
				*kind = known[i].kind;
	}
	for (k = 0; k < p->ntypes && *kind != PY_KIND_OTHER; k++)
		if (p->types[k].kind == *kind)
			*kind = PY_KIND_OTHER; /* the real one is known already */
	if (p->ntypes < PY_MAX_TYPES) {
		p->types[p->ntypes].type = type;
		p->types[p->ntypes].kind = *kind;
		p->ntypes++;
	}
	return 0;
}

int py_read_str(struct py_process *p, uint64_t addr, char *out)
{
	const struct py_offsets *o = &p->off;
	uint8_t hdr[PYOFF_STR_MAX], *chars;
	struct pystr_shape shape;
	uint64_t data, nbytes, type;
	enum py_obkind kind;
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
	err = py_type_kind(p, type, &kind);
	if (err)
		return err;
	if (kind != PY_KIND_STR)
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
		pystr_to_utf8(&shape, chars, nbytes, (uint64_t)length, out, PY_STR_BUF);
	free(chars);
	return err;
}

int py_read_bytes(struct py_process *p, uint64_t addr, size_t max, uint8_t **out,
		  size_t *len)
{
	const struct py_offsets *o = &p->off;
	uint8_t hdr[PYOFF_BYTES_MAX];
	uint64_t type;
	enum py_obkind kind;
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
	err = py_type_kind(p, type, &kind);
	if (err)
		return err;
	if (kind != PY_KIND_BYTES || size < 0)
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
