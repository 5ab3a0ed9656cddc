/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strpool.h - interned strings that live as long as their pool (internal to
 * agent/cpython): the names and file names of the code cache's entries
 * (codecache.h), which bounds the pool by rebuilding it.
 */
#ifndef BLOCKSNOOP_CPYTHON_STRPOOL_H
#define BLOCKSNOOP_CPYTHON_STRPOOL_H

#include <stddef.h>

struct strpool {
	char **slots; /* open addressing, NULL = empty */
	size_t cap, used;
	size_t bytes; /* of the strings, NULs included */
};

/*
 * The pool's copy of s (the same pointer for equal strings), or NULL if out
 * of memory. The copy lives until strpool_free().
 */
const char *strpool_intern(struct strpool *sp, const char *s);

/* Free every string; the pool is then empty and reusable. */
void strpool_free(struct strpool *sp);

#endif
