// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <sys/uio.h>

#include "remote.h"

/* Map process_vm_readv's failures onto the few the reader tells apart. */
static int map_errno(int e)
{
	switch (e) {
	case ESRCH:
		return -ESRCH;
	case EPERM:
	case EACCES:
		return -EPERM;
	case EFAULT:
	case ENOMEM: /* part of the remote range is not mapped */
		return -EFAULT;
	default:
		return -e;
	}
}

int remote_read(const struct remote *r, uint64_t addr, void *buf, size_t len)
{
	struct remote_iov iov = { .addr = addr, .buf = buf, .len = len };

	return remote_readv(r, &iov, 1);
}

int remote_readv(const struct remote *r, const struct remote_iov *iov, int n)
{
	struct iovec local[REMOTE_IOV_MAX], remote[REMOTE_IOV_MAX];
	size_t total = 0;
	ssize_t got;
	int i;

	if (n <= 0 || n > REMOTE_IOV_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (iov[i].len == 0 || iov[i].addr == 0 || iov[i].addr + iov[i].len < iov[i].addr)
			return -EFAULT;
		local[i].iov_base = iov[i].buf;
		local[i].iov_len = iov[i].len;
		remote[i].iov_base = (void *)(uintptr_t)iov[i].addr;
		remote[i].iov_len = iov[i].len;
		total += iov[i].len;
	}
	got = process_vm_readv(r->pid, local, n, remote, n, 0);
	if (got < 0)
		return map_errno(errno);
	/* A short read means part of a range was unmapped: never half a struct. */
	return (size_t)got == total ? 0 : -EFAULT;
}

int remote_u64(const struct remote *r, uint64_t addr, uint64_t *out)
{
	return remote_read(r, addr, out, sizeof(*out));
}

int remote_i32(const struct remote *r, uint64_t addr, int32_t *out)
{
	return remote_read(r, addr, out, sizeof(*out));
}
