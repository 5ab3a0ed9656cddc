/* SPDX-License-Identifier: Apache-2.0 */
/*
 * remote.h - the target process as agent/cpython sees it (internal): its
 * memory, whether it still runs the image it was opened on, and the IDs of
 * its threads in its own PID namespace. Everything the reader learns about
 * a target at run time comes through these functions, and remote.c is the
 * only file that implements them (process_vm_readv, /proc/<pid>/mem, a
 * pidfd, /proc/<pid>/task).
 *
 * That makes remote.c the seam for tests: a test build links its own
 * implementation of this header instead (tests/unit/fake_remote.h: a fake
 * address space built in memory), and the real stack walker runs on it
 * unchanged, with no conditional code in the reader.
 *
 * Errors: -ESRCH the process is gone, -EPERM not allowed (ptrace access
 * mode: CAP_SYS_PTRACE or same uid, and Yama), -EFAULT the range is not
 * (wholly) mapped, -EINVAL bad arguments, other -errno as is.
 */
#ifndef BLOCKSNOOP_CPYTHON_REMOTE_H
#define BLOCKSNOOP_CPYTHON_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

struct remote {
	pid_t pid;       /* blocksnoop's PID namespace */
	pid_t ns_pid;    /* the same process in its own PID namespace */
	bool same_pidns; /* its TIDs are ours: no translation */
	int memfd;       /* /proc/<pid>/mem: bound to the image it was opened on */
	int pidfd;
	void *fake;      /* for a test implementation; NULL in remote.c */
};

/*
 * Open process pid: 0, or -ESRCH (no such process), -EPERM, other -errno.
 * remote_close() releases what remote_open() took (also after a failure,
 * and on a zeroed struct with fds -1).
 */
int remote_open(pid_t pid, struct remote *r);
void remote_close(struct remote *r);

/* A remote range to read into a local buffer (see remote_readv). */
struct remote_iov {
	uint64_t addr;
	void *buf;
	size_t len;
};

/*
 * The one memory primitive: copy several ranges (at most REMOTE_IOV_MAX)
 * in one system call; 0 only if every byte of every range was read, never
 * half a range.
 */
#define REMOTE_IOV_MAX 256
int remote_readv(const struct remote *r, const struct remote_iov *iov, int n);

/* Copy len bytes at addr into buf: 0 or -errno (see remote_readv). */
static inline int remote_read(const struct remote *r, uint64_t addr, void *buf, size_t len)
{
	struct remote_iov iov = { .addr = addr, .buf = buf, .len = len };

	return remote_readv(r, &iov, 1);
}

/* Typed reads of one value at addr. */
static inline int remote_u64(const struct remote *r, uint64_t addr, uint64_t *out)
{
	return remote_read(r, addr, out, sizeof(*out));
}

static inline int remote_i32(const struct remote *r, uint64_t addr, int32_t *out)
{
	return remote_read(r, addr, out, sizeof(*out));
}

/*
 * Whether the process still runs the image r was opened on, proved by
 * reading a byte at addr (an address of that image) through /proc/<pid>/mem,
 * which stays bound to the memory it was opened on: 0, -ESRCH (exited) or
 * -ESTALE (exec'ed, or addr is no longer mapped).
 */
int remote_check_alive(const struct remote *r, uint64_t addr);

/*
 * Thread tid (blocksnoop's namespace) of the process -> its TID in the
 * process's own PID namespace: 0, -ENOENT (not a thread of it), -errno.
 * In blocksnoop's own namespace this is the identity, unchecked (no system
 * call: it is on every sample's path).
 */
int remote_ns_tid(const struct remote *r, pid_t tid, pid_t *ns);

/*
 * Every TID of the process in its own namespace, malloc'd into *out (*n of
 * them; free() it): 0 or -errno. At most REMOTE_MAX_TASKS.
 */
#define REMOTE_MAX_TASKS 4096
int remote_ns_tids(const struct remote *r, pid_t **out, int *n);

/*
 * A remote pointer is plausible if it is non-NULL, 8-byte aligned and in
 * the user half of a 64-bit address space (x86_64/aarch64 48-bit user VA,
 * up to 57 bits with 5-level paging).
 */
static inline bool remote_ptr_ok(uint64_t p)
{
	return p != 0 && (p & 7) == 0 && p < (1ULL << 57);
}

/*
 * Bytes copied from the target. Offsets into them come from layout tables,
 * and for 3.13+ those come from the target itself, so a field is taken out
 * only through rbuf_u64/i32/u8, which check offset + width <= len (the
 * bytes really read). An offset out of range reads as 0 and marks the
 * buffer bad: check rb.bad before trusting what was read from it.
 */
struct rbuf {
	const uint8_t *data;
	size_t len; /* bytes read into data */
	bool bad;   /* some field was out of range */
};

static inline struct rbuf rbuf_of(const void *data, size_t len)
{
	return (struct rbuf){ .data = data, .len = len };
}

static inline bool rbuf_has(struct rbuf *b, uint32_t off, size_t width)
{
	if (off > b->len || b->len - off < width) {
		b->bad = true;
		return false;
	}
	return true;
}

static inline uint64_t rbuf_u64(struct rbuf *b, uint32_t off)
{
	uint64_t v = 0;

	if (rbuf_has(b, off, sizeof(v)))
		memcpy(&v, b->data + off, sizeof(v));
	return v;
}

static inline int64_t rbuf_i64(struct rbuf *b, uint32_t off)
{
	return (int64_t)rbuf_u64(b, off);
}

static inline int32_t rbuf_i32(struct rbuf *b, uint32_t off)
{
	int32_t v = 0;

	if (rbuf_has(b, off, sizeof(v)))
		memcpy(&v, b->data + off, sizeof(v));
	return v;
}

static inline uint8_t rbuf_u8(struct rbuf *b, uint32_t off)
{
	return rbuf_has(b, off, 1) ? b->data[off] : 0;
}

#endif
