// SPDX-License-Identifier: Apache-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procfs.h"

bool procfs_process_exists(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	return access(path, F_OK) == 0;
}

bool procfs_is_thread_of(pid_t pid, pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d", pid, tid);
	return access(path, F_OK) == 0;
}

int procfs_each_thread(pid_t pid, int (*fn)(void *ctx, pid_t tid), void *ctx)
{
	char path[64];
	struct dirent *de;
	DIR *dir;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while (!ret && (de = readdir(dir))) {
		pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);

		if (tid > 0)
			ret = fn(ctx, tid);
	}
	closedir(dir);
	return ret;
}

/* Read a whole small /proc file into buf (NUL-terminated). */
static int read_text(const char *path, char *buf, size_t len)
{
	size_t used = 0;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (used + 1 < len) {
		n = read(fd, buf + used, len - 1 - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		used += n;
	}
	buf[used] = '\0';
	close(fd);
	return err;
}

static bool name_is_python(const char *name)
{
	return strncmp(name, "python", 6) == 0;
}

bool procfs_is_python(pid_t pid)
{
	char path[64], exe[PATH_MAX], line[PATH_MAX + 256];
	const char *base;
	bool found = false;
	ssize_t n;
	FILE *maps;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		base = strrchr(exe, '/');
		if (name_is_python(base ? base + 1 : exe))
			return true;
	}
	/* Embedded interpreters and renamed binaries: look for libpython. */
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	if (!maps)
		return false;
	while (!found && fgets(line, sizeof(line), maps))
		found = strstr(line, "/libpython") != NULL;
	fclose(maps);
	return found;
}

void procfs_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (read_text(path, buf, len) < 0)
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	/* The target names itself: no escape sequence reaches a terminal,
	 * no byte that is not UTF-8 a JSON line. */
	for (char *c = buf; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
}

int procfs_parse_nspid(const char *status, pid_t ids[PROCFS_MAX_NS_LEVELS])
{
	const char *p = status;
	int count = 0;

	while (p && strncmp(p, "NSpid:", 6) != 0) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p)
		return -EINVAL;
	p += 6;
	while (count < PROCFS_MAX_NS_LEVELS) {
		char *end;
		long v;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			break;
		v = strtol(p, &end, 10);
		if (v < 1 || v > INT_MAX)
			return -EINVAL;
		ids[count++] = (pid_t)v;
		p = end;
	}
	return count ? count : -EINVAL;
}

static int nspid_of(const char *path, pid_t ids[PROCFS_MAX_NS_LEVELS])
{
	char status[8192];
	int err = read_text(path, status, sizeof(status));

	return err ? err : procfs_parse_nspid(status, ids);
}

int procfs_nspid(pid_t pid, pid_t ids[PROCFS_MAX_NS_LEVELS])
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	return nspid_of(path, ids);
}

int procfs_thread_nspid(pid_t pid, pid_t tid, pid_t ids[PROCFS_MAX_NS_LEVELS])
{
	char path[80];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	return nspid_of(path, ids);
}

pid_t procfs_tid_in_own_ns(pid_t pid, pid_t tid)
{
	pid_t ids[PROCFS_MAX_NS_LEVELS];
	int n = procfs_thread_nspid(pid, tid, ids);

	return n > 0 ? ids[n - 1] : tid;
}

int procfs_ns_id(const char *path, uint64_t *dev, uint64_t *ino)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -errno;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}
