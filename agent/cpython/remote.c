// SPDX-License-Identifier: Apache-2.0
/*
 * remote.c - the real target process (see remote.h): process_vm_readv(2)
 * for its memory, /proc/<pid>/mem and a pidfd for its life, /proc for its
 * threads.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "compat.h"
#include "procfs.h"
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

/* Whether the process has exited. */
static bool exited(const struct remote *r)
{
	struct pollfd pfd = { .fd = r->pidfd, .events = POLLIN };

	/* A pidfd polls readable once the process has exited. */
	return poll(&pfd, 1, 0) > 0;
}

int remote_check_alive(const struct remote *r, uint64_t addr)
{
	uint8_t b;

	if (pread(r->memfd, &b, 1, (off_t)addr) == 1)
		return 0;
	return exited(r) ? -ESRCH : -ESTALE;
}

/* NSpid of /proc/<pid>/task/<tid>/status: the TID in the target's namespace. */
static int read_ns_tid(pid_t pid, pid_t tid, pid_t *ns)
{
	pid_t ids[PROCFS_MAX_NS_LEVELS];
	char path[96], buf[4096];
	ssize_t n;
	int fd, k;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ENOENT;
	buf[n] = '\0';
	k = procfs_parse_nspid(buf, ids);
	if (k < 1)
		return -ENOENT;
	*ns = ids[k - 1];
	return 0;
}

int remote_ns_tid(const struct remote *r, pid_t tid, pid_t *ns)
{
	if (r->same_pidns) {
		*ns = tid; /* the hot path: no system call */
		return 0;
	}
	return read_ns_tid(r->pid, tid, ns);
}

int remote_ns_tids(const struct remote *r, pid_t **out, int *n)
{
	char path[64];
	struct dirent *d;
	int cap = 0, err = 0;
	DIR *dir;

	*out = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", r->pid);
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((d = readdir(dir)) && *n < REMOTE_MAX_TASKS) {
		pid_t host = atoi(d->d_name), ns;

		if (host <= 0)
			continue;
		if (r->same_pidns)
			ns = host;
		else if (read_ns_tid(r->pid, host, &ns) < 0)
			continue;
		if (*n == cap) {
			pid_t *bigger;

			cap = cap ? cap * 2 : 32;
			bigger = realloc(*out, cap * sizeof(*bigger));
			if (!bigger) {
				err = -ENOMEM;
				break;
			}
			*out = bigger;
		}
		(*out)[(*n)++] = ns;
	}
	closedir(dir);
	if (err) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return err;
}

static bool same_pid_namespace(pid_t pid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
	if (stat("/proc/self/ns/pid", &a) < 0 || stat(path, &b) < 0)
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int remote_open(pid_t pid, struct remote *r)
{
	char path[64];
	int err;

	*r = (struct remote){ .pid = pid, .memfd = -1, .pidfd = -1 };
	r->pidfd = sys_pidfd_open(pid, 0);
	if (r->pidfd < 0)
		return errno == ESRCH ? -ESRCH : -errno;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	r->memfd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->memfd < 0)
		return errno == ENOENT ? -ESRCH : (errno == EACCES ? -EPERM : -errno);
	r->same_pidns = same_pid_namespace(pid);
	if (r->same_pidns) {
		r->ns_pid = pid;
		return 0;
	}
	err = read_ns_tid(pid, pid, &r->ns_pid);
	return err ? -ESRCH : 0;
}

void remote_close(struct remote *r)
{
	if (r->memfd >= 0)
		close(r->memfd);
	if (r->pidfd >= 0)
		close(r->pidfd);
	r->memfd = r->pidfd = -1;
}
