/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pagecache.h - a per-sample cache of whole remote pages (internal to
 * agent/cpython). 3.11+ frames sit next to each other in a thread's data
 * stack, so reading the page that holds one usually brings several: a walk
 * costs a system call per page rather than per frame. The target moves on
 * between samples, so the cache is emptied at the start of each
 * (pagecache_reset()); within a sample each page is one snapshot.
 */
#ifndef BLOCKSNOOP_CPYTHON_PAGECACHE_H
#define BLOCKSNOOP_CPYTHON_PAGECACHE_H

#include <stddef.h>
#include <stdint.h>

#include "remote.h"

/* Pages kept, and their size. */
#define PC_PAGES 32
#define PC_PAGE 4096u

struct page_cache {
	int n;
	uint64_t addr[PC_PAGES];
	uint8_t (*data)[PC_PAGE]; /* PC_PAGES pages */
};

/* Allocate c's pages: 0 or -ENOMEM. */
int pagecache_init(struct page_cache *c);

/* Free c's pages. Accepts a cache never initialised (zeroed). */
void pagecache_free(struct page_cache *c);

/* Forget every page: the target has moved on. Cannot fail. */
static inline void pagecache_reset(struct page_cache *c)
{
	c->n = 0;
}

/*
 * Copy len (1..PC_PAGE) bytes at addr into buf: the one or two pages that
 * hold them are read whole from r, in one call, unless cached. 0, or as
 * remote_readv() (-EFAULT also for a bad length or an address that wraps);
 * pages that were not read are not kept.
 */
int pagecache_read(struct page_cache *c, const struct remote *r, uint64_t addr, void *buf,
		   size_t len);

#endif
