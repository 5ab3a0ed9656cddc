/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pyobject.h - the objects a frame leads to, copied out of the target
 * (internal to agent/cpython): what kind an object is (by its type), and
 * the content of str and bytes objects. Every read is bounded, every
 * header field bounds-checked (rbuf), and an object of the wrong type is
 * refused, since a torn read or a stale pointer can lead anywhere.
 */
#ifndef BLOCKSNOOP_CPYTHON_PYOBJECT_H
#define BLOCKSNOOP_CPYTHON_PYOBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "pyprocess.h"

/*
 * What kind of object has type `type` (remembered by address, at most
 * PY_MAX_TYPES). The builtin types are static objects named "code", "str",
 * "bytes", "int" and "dict"; a class of the same name is a heap type, and each kind has
 * one type only. 0, or -errno of a failed read (-EFAULT for a bad pointer).
 */
int py_type_kind(struct py_process *p, uint64_t type, enum py_obkind *kind);

/*
 * The str object at addr as UTF-8 in out (PY_STR_BUF bytes; at most
 * PYSTR_MAX_CHARS characters). -EFAULT for a read that failed or an object
 * that is not a str (torn or stale pointers), other -errno.
 */
int py_read_str(struct py_process *p, uint64_t addr, char *out);

/*
 * The content of the bytes object at addr (malloc'd, the caller frees it),
 * if it is at most max bytes long; else, or if empty, NULL and 0 (no line
 * table: lines 0). -EFAULT if it is not a bytes object, other -errno.
 */
int py_read_bytes(struct py_process *p, uint64_t addr, size_t max, uint8_t **out, size_t *len);

#endif
