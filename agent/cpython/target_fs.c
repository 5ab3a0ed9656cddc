// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "target_fs.h"

#ifndef SYS_openat2
#define SYS_openat2 437 /* the same number on every architecture */
#endif

static int proc_errno(int e)
{
	if (e == ENOENT)
		return -ESRCH;
	if (e == EACCES)
		return -EPERM;
	return -e;
}

int tfs_root_open(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/root", pid);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? proc_errno(errno) : fd;
}

int tfs_open(int rootfd, const char *path)
{
	struct open_how how = {
		/* O_NONBLOCK: opening a FIFO must not wait for a writer */
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	struct stat st;
	int fd;

	if (!path || !*path)
		return -ENOENT;
	fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

int tfs_target_path(pid_t pid, const char *shown, char *out, size_t outlen)
{
	static const char deleted[] = " (deleted)";
	char link[64], root[PATH_MAX];
	size_t n = strlen(shown), rn;
	ssize_t len;

	if (n >= sizeof(deleted) && strcmp(shown + n - (sizeof(deleted) - 1), deleted) == 0)
		n -= sizeof(deleted) - 1;
	snprintf(link, sizeof(link), "/proc/%d/root", pid);
	len = readlink(link, root, sizeof(root) - 1);
	if (len < 0)
		return proc_errno(errno);
	root[len] = '\0';
	rn = (size_t)len;
	/* Strip the root prefix ("/" strips nothing). */
	if (rn > 1 && n > rn && strncmp(shown, root, rn) == 0 && shown[rn] == '/') {
		shown += rn;
		n -= rn;
	}
	if (n + 1 > outlen)
		return -ENAMETOOLONG;
	memcpy(out, shown, n);
	out[n] = '\0';
	return 0;
}

int tfs_read_all(int fd, size_t max, char **out, size_t *len)
{
	size_t used = 0, cap = max < 4096 ? max : 4096;
	char *buf = malloc(cap + 1);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (used == cap) {
			char *bigger;

			if (cap >= max) {
				char probe;

				do
					n = read(fd, &probe, 1);
				while (n < 0 && errno == EINTR);
				if (n == 0)
					break; /* exactly max bytes */
				n = n < 0 ? -errno : -EFBIG;
				free(buf);
				return (int)n;
			}
			cap = cap * 2 > max ? max : cap * 2;
			bigger = realloc(buf, cap + 1);
			if (!bigger) {
				free(buf);
				return -ENOMEM;
			}
			buf = bigger;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;

			free(buf);
			return e;
		}
		if (n == 0)
			break;
		used += n;
	}
	buf[used] = '\0';
	*out = buf;
	*len = used;
	return 0;
}
