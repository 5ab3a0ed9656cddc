// SPDX-License-Identifier: Apache-2.0
/*
 * pagecache.c - the per-sample page cache (see pagecache.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "pagecache.h"

/* The pages are a mapping of their own rather than malloc'd: the kernel
 * backs only those a sample touches, so a process never sampled (an idle
 * loop) costs no resident memory. From the heap they would often reuse
 * memory earlier freed and still resident, 128 KiB for every process or
 * thread watched. */
int pagecache_init(struct page_cache *c)
{
	void *pages = mmap(NULL, sizeof(*c->data) * PC_PAGES, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	c->n = 0;
	c->data = pages == MAP_FAILED ? NULL : pages;
	return c->data ? 0 : -ENOMEM;
}

void pagecache_free(struct page_cache *c)
{
	if (c->data)
		munmap(c->data, sizeof(*c->data) * PC_PAGES);
	c->data = NULL;
	c->n = 0;
}

static int find(const struct page_cache *c, uint64_t page)
{
	int i;

	for (i = 0; i < c->n; i++)
		if (c->addr[i] == page)
			return i;
	return -1;
}

int pagecache_read(struct page_cache *c, const struct remote *r, uint64_t addr, void *buf,
		   size_t len)
{
	uint64_t first = addr & ~(uint64_t)(PC_PAGE - 1), page;
	struct remote_iov iov[2];
	int slot[2], npages, i, nmiss = 0, err;
	size_t done = 0;

	if (len == 0 || len > PC_PAGE || addr + len < addr)
		return -EFAULT;
	npages = ((addr + len - 1) & ~(uint64_t)(PC_PAGE - 1)) == first ? 1 : 2;
	for (i = 0; i < npages; i++) {
		page = first + (uint64_t)i * PC_PAGE;
		slot[i] = find(c, page);
		if (slot[i] >= 0)
			continue;
		if (c->n + 2 > PC_PAGES) {
			/* Full: start over (keeping a page this read needs). */
			if (i == 1 && slot[0] >= 0) {
				c->addr[0] = c->addr[slot[0]];
				memcpy(c->data[0], c->data[slot[0]], PC_PAGE);
				slot[0] = 0;
				c->n = 1;
			} else {
				c->n = 0;
			}
		}
		slot[i] = c->n;
		iov[nmiss++] = (struct remote_iov){ .addr = page, .buf = c->data[c->n],
						    .len = PC_PAGE };
		c->addr[c->n++] = page;
	}
	if (nmiss) {
		err = remote_readv(r, iov, nmiss);
		if (err) {
			/* Forget the pages that were not read. */
			c->n -= nmiss;
			return err;
		}
	}
	for (i = 0; i < npages; i++) {
		size_t from = i == 0 ? addr - first : 0;
		size_t n = PC_PAGE - from;

		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)buf + done, c->data[slot[i]] + from, n);
		done += n;
	}
	return 0;
}
