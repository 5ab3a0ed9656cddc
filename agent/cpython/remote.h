/* SPDX-License-Identifier: Apache-2.0 */
/*
 * remote.h - the one way agent/cpython reads another process's memory
 * (internal). Everything goes through remote_read() / remote_readv(), thin
 * wrappers of process_vm_readv(2) that never accept a short read.
 *
 * Errors: -ESRCH the process is gone, -EPERM not allowed (ptrace access
 * mode: CAP_SYS_PTRACE or same uid, and Yama), -EFAULT the range is not
 * (wholly) mapped, -EINVAL bad arguments, other -errno as is.
 */
#ifndef BLOCKSNOOP_CPYTHON_REMOTE_H
#define BLOCKSNOOP_CPYTHON_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct remote {
	pid_t pid; /* blocksnoop's PID namespace */
};

/* A remote range to read into a local buffer (see remote_readv). */
struct remote_iov {
	uint64_t addr;
	void *buf;
	size_t len;
};

/* Copy len bytes at addr in r's process into buf: 0 or -errno. */
int remote_read(const struct remote *r, uint64_t addr, void *buf, size_t len);

/*
 * Several ranges in one system call (at most REMOTE_IOV_MAX): 0 only if
 * every byte of every range was read.
 */
#define REMOTE_IOV_MAX 256
int remote_readv(const struct remote *r, const struct remote_iov *iov, int n);

/* Typed reads of one value at addr. */
int remote_u64(const struct remote *r, uint64_t addr, uint64_t *out);
int remote_i32(const struct remote *r, uint64_t addr, int32_t *out);

/*
 * A remote pointer is plausible if it is non-NULL, 8-byte aligned and in
 * the user half of a 64-bit address space (x86_64/aarch64 48-bit user VA,
 * up to 57 bits with 5-level paging).
 */
static inline int remote_ptr_ok(uint64_t p)
{
	return p != 0 && (p & 7) == 0 && p < (1ULL << 57);
}

#endif
