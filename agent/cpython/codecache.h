/* SPDX-License-Identifier: Apache-2.0 */
/*
 * codecache.h - the code objects a reader has resolved, by their address in
 * the target, with their names, file names and line tables (internal to
 * agent/cpython; pyreader.c reads the objects, this file keeps them).
 *
 * Bounded whatever the target does: a target can make a new code object,
 * with new names, for every call, and an agent runs for months. The cache
 * holds at most CODE_CACHE_ENTRIES entries, and keeps a line table only
 * while all tables and strings stay within CODE_CACHE_BYTES (a frame whose
 * table is not kept gets line 0). It works in samples: every entry a
 * sample uses is marked; when a sample needs room (codecache_reserve),
 * every entry it does not use is dropped and the string pool is rebuilt
 * from the entries that stay, a new generation; and every CODE_CACHE_AGE
 * samples, the entries none of the last CODE_CACHE_AGE samples used go
 * (so a target whose code comes and goes keeps the cache small). The pool
 * is rebuilt too once most of its strings belong to entries removed since
 * (code objects freed and their addresses reused). So the strings of an
 * entry are valid until the next codecache_reserve() only.
 *
 * Not thread-safe (one per struct py_process). No function here reads the
 * target.
 */
#ifndef BLOCKSNOOP_CPYTHON_CODECACHE_H
#define BLOCKSNOOP_CPYTHON_CODECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strpool.h"

#define CODE_CACHE_ENTRIES 1024
#define CODE_CACHE_BYTES (4u << 20)
/* Entries no sample has used for this many samples are dropped. */
#define CODE_CACHE_AGE 1024

/* A code object (or a known non-code "executable": valid == false). */
struct code_entry {
	uint64_t addr; /* 0 = free slot */
	/* What identifies it: compared with the target on every sample. */
	uint64_t type, filename, name, qualname, linetable;
	int32_t firstlineno;
	bool valid;
	const char *function, *file; /* in the cache's pool; NULL if !valid */
	uint8_t *table;              /* line table, NULL if none or not kept */
	size_t tablen;
	uint64_t sample;             /* the last sample that used it */
};

struct code_cache {
	struct code_entry *slots; /* open addressing; cap a power of two */
	size_t cap, used;
	size_t table_bytes;       /* of all entries' tables */
	struct strpool pool;      /* their strings */
	uint64_t sample;          /* the current sample */
	uint64_t swept;           /* when old entries were last dropped */
};

/* Free everything; the cache is then empty and reusable. */
void codecache_free(struct code_cache *c);

/* Start a sample: what it finds or adds is marked as used by it. */
void codecache_begin_sample(struct code_cache *c);

/* The entry for addr, marked as used by this sample; NULL if none. */
struct code_entry *codecache_find(struct code_cache *c, uint64_t addr);

/*
 * Make room for up to n new entries (n <= CODE_CACHE_ENTRIES / 4) before
 * adding them: if the cache is full, or half its bytes are used, every
 * entry this sample has not used is dropped; old entries may be dropped
 * and the pool rebuilt.
 * Entry pointers and strings from before are then invalid: find them
 * again. 0, or -ENOMEM (the cache is then empty).
 */
int codecache_reserve(struct code_cache *c, size_t n);

/* How many bytes of line table a new entry may still keep (0: none). */
size_t codecache_table_room(const struct code_cache *c);

/*
 * Add a copy of *e (e->addr not cached yet; room reserved), with function
 * and file interned into the pool (ignored if !e->valid), taking over
 * e->table. The entry, or NULL if out of memory (e->table is freed).
 */
struct code_entry *codecache_add(struct code_cache *c, const struct code_entry *e,
				 const char *function, const char *file);

/* Drop entry e (found in c): its address was freed and reused. */
void codecache_remove(struct code_cache *c, struct code_entry *e);

/* Bytes kept: line tables and strings (for tests and the bound). */
size_t codecache_bytes(const struct code_cache *c);

#endif
