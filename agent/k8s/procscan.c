// SPDX-License-Identifier: Apache-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "k8s/procscan.h"

/* /proc/<pid>/cgroup is a line per hierarchy: a few hundred bytes, a few
 * KB on hosts with long v1 paths. What does not fit is not looked at. */
#define CGROUP_TEXT_MAX 16384

int procscan_cgroup(const char *proc_root, pid_t pid, struct k8s_cgroup_ids *ids)
{
	char path[256], *buf;
	size_t used = 0;
	ssize_t n;
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%d/cgroup", proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
	buf = malloc(CGROUP_TEXT_MAX);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (used < CGROUP_TEXT_MAX && (n = read(fd, buf + used, CGROUP_TEXT_MAX - used)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = errno == ESRCH ? -ENOENT : -errno;
			close(fd);
			free(buf);
			return ret;
		}
		used += (size_t)n;
	}
	close(fd);
	ret = k8s_cgroup_parse(buf, used, ids);
	free(buf);
	return ret;
}

int procscan_containers(const char *proc_root, procscan_fn fn, void *ctx)
{
	struct k8s_cgroup_ids ids;
	struct dirent *de;
	int count = 0;
	DIR *d = opendir(proc_root);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		long pid;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid > 0x7fffffff)
			continue;
		count++;
		if (!procscan_cgroup(proc_root, (pid_t)pid, &ids))
			fn(ctx, (pid_t)pid, &ids);
	}
	closedir(d);
	return count;
}
