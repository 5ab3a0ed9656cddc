/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fake_remote.h - a fake target process for the CPython reader: an
 * implementation of agent/cpython/remote.h over an address space built in
 * memory, so that the real stack walker (py_process_attach(),
 * py_process_sample()) runs on memory a test or a fuzzer makes up.
 *
 * Include it in exactly one file of a test binary: it defines remote.h's
 * functions, so the linker takes them instead of agent/cpython/remote.c
 * (which a fuzz target does not compile, and which is not pulled out of
 * libblocksnoop.a once every symbol it defines is defined here).
 *
 * The fake counts what the reader asks of it (reads, bytes), so tests can
 * bound the reader's work without timing it.
 */
#ifndef BLOCKSNOOP_TESTS_FAKE_REMOTE_H
#define BLOCKSNOOP_TESTS_FAKE_REMOTE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpython/remote.h"

#define FAKE_MAX_REGIONS 4096
#define FAKE_MAX_TIDS 64

/* A range of the fake address space; data is not owned. */
struct fake_region {
	uint64_t addr;
	size_t len;
	const uint8_t *data;
};

struct fake_proc {
	struct fake_region regions[FAKE_MAX_REGIONS]; /* sorted by addr */
	uint64_t maxend[FAKE_MAX_REGIONS]; /* highest end of regions[0..i] */
	int nregions;
	pid_t tids[FAKE_MAX_TIDS]; /* its threads, in its own namespace */
	int ntids;
	pid_t ns_pid;
	/* Its PID namespace is not ours: our TID = its TID + host_offset. */
	pid_t host_offset;
	bool exited;  /* -ESRCH for every read */
	bool execed;  /* remote_check_alive() says -ESTALE */
	/* what the reader asked for */
	unsigned long readv_calls, ranges, bytes;
};

/*
 * Map len bytes of data (kept, not copied) at addr. Regions may overlap: a
 * read is served by any one region that holds all of it. false if the
 * table is full or the range wraps.
 */
static inline bool fake_map(struct fake_proc *fp, uint64_t addr, const void *data, size_t len)
{
	int i;

	if (fp->nregions == FAKE_MAX_REGIONS || !len || addr + len < addr)
		return false;
	for (i = fp->nregions; i > 0 && fp->regions[i - 1].addr > addr; i--)
		fp->regions[i] = fp->regions[i - 1];
	fp->regions[i] = (struct fake_region){ addr, len, data };
	fp->nregions++;
	for (; i < fp->nregions; i++) {
		uint64_t end = fp->regions[i].addr + fp->regions[i].len;

		fp->maxend[i] = i && fp->maxend[i - 1] > end ? fp->maxend[i - 1] : end;
	}
	return true;
}

/* The bytes at [addr, addr + len), or NULL if no region holds them all. */
static inline const uint8_t *fake_at(const struct fake_proc *fp, uint64_t addr, size_t len)
{
	int lo = 0, hi = fp->nregions - 1, i = -1;

	/* The last region starting at or below addr, then back while any
	 * earlier region still reaches past addr. */
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (fp->regions[mid].addr <= addr) {
			i = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	for (; i >= 0 && fp->maxend[i] > addr; i--) {
		const struct fake_region *r = &fp->regions[i];

		if (addr - r->addr < r->len && len <= r->len - (addr - r->addr))
			return r->data + (addr - r->addr);
	}
	return NULL;
}

/* A struct remote for fp, as remote_open() would give for a real process. */
static inline struct remote fake_remote(struct fake_proc *fp, pid_t pid)
{
	return (struct remote){ .pid = pid, .ns_pid = fp->ns_pid, .same_pidns = !fp->host_offset,
				.memfd = -1, .pidfd = -1, .fake = fp };
}

int remote_open(pid_t pid, struct remote *r)
{
	*r = (struct remote){ .pid = pid, .memfd = -1, .pidfd = -1 };
	return -ENOSYS; /* a fake has no real processes */
}

void remote_close(struct remote *r)
{
	r->fake = NULL;
}

int remote_readv(const struct remote *r, const struct remote_iov *iov, int n)
{
	struct fake_proc *fp = r->fake;
	int i;

	if (n <= 0 || n > REMOTE_IOV_MAX)
		return -EINVAL;
	fp->readv_calls++;
	if (fp->exited)
		return -ESRCH;
	for (i = 0; i < n; i++) {
		if (iov[i].len == 0 || iov[i].addr == 0 || iov[i].addr + iov[i].len < iov[i].addr)
			return -EFAULT;
		if (!fake_at(fp, iov[i].addr, iov[i].len))
			return -EFAULT;
	}
	for (i = 0; i < n; i++) {
		memcpy(iov[i].buf, fake_at(fp, iov[i].addr, iov[i].len), iov[i].len);
		fp->ranges++;
		fp->bytes += iov[i].len;
	}
	return 0;
}

int remote_check_alive(const struct remote *r, uint64_t addr)
{
	const struct fake_proc *fp = r->fake;

	if (fp->exited)
		return -ESRCH;
	return !fp->execed && fake_at(fp, addr, 1) ? 0 : -ESTALE;
}

int remote_ns_tid(const struct remote *r, pid_t tid, pid_t *ns)
{
	const struct fake_proc *fp = r->fake;

	if ((int64_t)tid - fp->host_offset <= 0)
		return -ENOENT;
	*ns = tid - fp->host_offset;
	return 0;
}

int remote_ns_tids(const struct remote *r, pid_t **out, int *n)
{
	const struct fake_proc *fp = r->fake;

	*n = 0;
	*out = malloc((fp->ntids ? fp->ntids : 1) * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	memcpy(*out, fp->tids, fp->ntids * sizeof(**out));
	*n = fp->ntids;
	return 0;
}

#endif
