// SPDX-License-Identifier: Apache-2.0
/*
 * codecache.c - the bounded code-object cache (see codecache.h): open
 * addressing by address, linear probing, backward-shift deletion.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codecache.h"

static size_t slot_of(uint64_t addr, size_t cap)
{
	return (size_t)((addr >> 4) * 0x9E3779B97F4A7C15ULL) & (cap - 1);
}

static void entry_clear(struct code_entry *e)
{
	free(e->table);
	memset(e, 0, sizeof(*e));
}

void codecache_free(struct code_cache *c)
{
	size_t i;

	for (i = 0; i < c->cap; i++)
		if (c->slots[i].addr)
			entry_clear(&c->slots[i]);
	free(c->slots);
	strpool_free(&c->pool);
	memset(c, 0, sizeof(*c));
}

void codecache_begin_sample(struct code_cache *c)
{
	c->sample++;
}

static struct code_entry *lookup(const struct code_cache *c, uint64_t addr)
{
	size_t i;

	if (!c->cap)
		return NULL;
	for (i = slot_of(addr, c->cap); c->slots[i].addr; i = (i + 1) & (c->cap - 1))
		if (c->slots[i].addr == addr)
			return &c->slots[i];
	return NULL;
}

struct code_entry *codecache_find(struct code_cache *c, uint64_t addr)
{
	struct code_entry *e = lookup(c, addr);

	if (e)
		e->sample = c->sample;
	return e;
}

size_t codecache_bytes(const struct code_cache *c)
{
	return c->table_bytes + c->pool.bytes;
}

size_t codecache_table_room(const struct code_cache *c)
{
	size_t used = codecache_bytes(c);

	return used < CODE_CACHE_BYTES ? CODE_CACHE_BYTES - used : 0;
}

/* Put entry e (moved, not copied) into slots of capacity cap. */
static void place(struct code_entry *slots, size_t cap, const struct code_entry *e)
{
	size_t i;

	for (i = slot_of(e->addr, cap); slots[i].addr; i = (i + 1) & (cap - 1))
		;
	slots[i] = *e;
}

/*
 * Move the entries used since sample `since` (0: all) into fresh slots of
 * capacity cap (>= 2 x what is kept). With new_pool, their strings move to
 * a new pool and the strings of every entry dropped or removed
 * (codecache_remove()) since the last one go; otherwise the pool stays.
 * 0, or -ENOMEM (then the cache is empty).
 */
static int rehash(struct code_cache *c, size_t cap, uint64_t since, bool new_pool)
{
	struct code_entry *slots = calloc(cap, sizeof(*slots));
	struct strpool pool = { 0 };
	size_t i, used = 0, table_bytes = 0;
	int err = slots ? 0 : -ENOMEM;

	for (i = 0; i < c->cap; i++) {
		struct code_entry e = c->slots[i];

		if (!e.addr)
			continue;
		if (err || e.sample < since) {
			entry_clear(&c->slots[i]);
			continue;
		}
		if (new_pool && e.valid) {
			e.function = strpool_intern(&pool, e.function);
			e.file = strpool_intern(&pool, e.file);
			if (!e.function || !e.file) {
				err = -ENOMEM;
				entry_clear(&c->slots[i]);
				continue;
			}
		}
		place(slots, cap, &e);
		used++;
		table_bytes += e.tablen;
	}
	free(c->slots);
	if (new_pool || err)
		strpool_free(&c->pool);
	if (new_pool)
		c->pool = pool;
	if (err) {
		/* Free what was moved already: the cache starts over, empty. */
		for (i = 0; slots && i < cap; i++)
			if (slots[i].addr)
				entry_clear(&slots[i]);
		free(slots);
		strpool_free(&pool);
		c->slots = NULL;
		c->cap = c->used = c->table_bytes = 0;
		c->pool = (struct strpool){ 0 };
		return err;
	}
	c->slots = slots;
	c->cap = cap;
	c->used = used;
	c->table_bytes = table_bytes;
	return 0;
}

/* The capacity for n entries: a power of two, at least 64, at most half full. */
static size_t capacity_for(size_t n)
{
	size_t cap = 64;

	while (n * 2 > cap)
		cap *= 2;
	return cap;
}

/* How many entries were used since sample `since`. */
static size_t used_since(const struct code_cache *c, uint64_t since)
{
	size_t i, n = 0;

	for (i = 0; i < c->cap; i++)
		n += c->slots[i].addr && c->slots[i].sample >= since;
	return n;
}

int codecache_reserve(struct code_cache *c, size_t n)
{
	uint64_t since = 0;

	if (c->used + n > CODE_CACHE_ENTRIES || codecache_bytes(c) > CODE_CACHE_BYTES / 2) {
		/* Full: keep only what this sample uses, a new generation
		 * (unless it uses everything: a deep stack with big tables). */
		since = c->sample;
	} else if (c->sample - c->swept >= CODE_CACHE_AGE) {
		/* Now and then: drop what no recent sample used (code the
		 * target no longer runs, or freed). */
		since = c->sample - CODE_CACHE_AGE + 1;
		c->swept = c->sample;
	}
	if (since) {
		size_t keep = used_since(c, since);

		if (keep < c->used)
			return rehash(c, capacity_for(keep + n), since, true);
	}
	/*
	 * Code objects freed and their addresses reused (as by a target that
	 * makes a function per call) are removed one by one, but their
	 * strings stay in the pool: rebuild it once they are most of it.
	 */
	if (c->pool.used > 2 * (c->used + n) + 256)
		return rehash(c, capacity_for(c->used + n), 0, true);
	if ((c->used + n) * 2 <= c->cap)
		return 0;
	return rehash(c, capacity_for(c->used + n), 0, false);
}

struct code_entry *codecache_add(struct code_cache *c, const struct code_entry *e,
				 const char *function, const char *file)
{
	struct code_entry n = *e;
	size_t i;

	n.function = n.file = NULL;
	/* codecache_reserve() made room: never fill the slots past half. */
	if (!c->cap || (c->used + 1) * 2 > c->cap) {
		free(n.table);
		return NULL;
	}
	if (n.valid) {
		n.function = strpool_intern(&c->pool, function);
		n.file = strpool_intern(&c->pool, file);
		if (!n.function || !n.file) {
			free(n.table);
			return NULL;
		}
	}
	n.sample = c->sample;
	for (i = slot_of(n.addr, c->cap); c->slots[i].addr; i = (i + 1) & (c->cap - 1))
		;
	c->slots[i] = n;
	c->used++;
	c->table_bytes += n.tablen;
	return &c->slots[i];
}

void codecache_remove(struct code_cache *c, struct code_entry *e)
{
	size_t mask = c->cap - 1, i = e - c->slots, j;

	c->table_bytes -= e->tablen;
	entry_clear(e);
	c->used--;
	/* Backward shift: keep every probe chain whole. */
	for (j = (i + 1) & mask; c->slots[j].addr; j = (j + 1) & mask) {
		struct code_entry moved = c->slots[j];

		memset(&c->slots[j], 0, sizeof(c->slots[j]));
		place(c->slots, c->cap, &moved);
	}
}
