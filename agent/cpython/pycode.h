/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pycode.h - the code objects a walk found, resolved into the reader's
 * code cache (internal to agent/cpython; the cache itself is codecache.h).
 */
#ifndef BLOCKSNOOP_CPYTHON_PYCODE_H
#define BLOCKSNOOP_CPYTHON_PYCODE_H

#include <stdint.h>

#include "codecache.h"
#include "pyframe.h"
#include "pyprocess.h"

/*
 * Resolve the code objects of the n frames raw[] into ents[] (same
 * indexes): cached entries are re-checked against the target in one
 * batched read (a code object freed and its address reused is noticed),
 * the others (and any that changed) read and added. An entry whose object
 * is not a code object is kept as such (valid false). The entries are
 * valid until the next call. 0, or -errno of a failed read (-EFAULT for a
 * bad pointer: a torn walk), -ENOMEM.
 */
int py_resolve_codes(struct py_process *p, const struct raw_frame *raw, int n,
		     struct code_entry **ents);

#endif
