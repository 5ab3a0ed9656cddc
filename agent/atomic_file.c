// SPDX-License-Identifier: Apache-2.0
/* atomic_file.c - replace a file whole or not at all (atomic_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "sink.h"

bool atomic_file_name_ok(const char *name)
{
	size_t len = strlen(name);

	return len && len <= ATOMIC_FILE_MAX_NAME && !strchr(name, '/') &&
	       strcmp(name, ".") && strcmp(name, "..");
}

int atomic_file_write(int dirfd, const char *name, const char *data, size_t len, mode_t mode)
{
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
	char tmp[ATOMIC_FILE_MAX_NAME + 8];
	int fd, err;

	if (!atomic_file_name_ok(name))
		return -EINVAL;
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	fd = openat(dirfd, tmp, flags, mode);
	if (fd < 0 && errno == EEXIST) {
		/* Left by a run that ended before renaming it. unlinkat
		 * removes a link itself, and fails on a directory. */
		if (unlinkat(dirfd, tmp, 0))
			return -errno;
		fd = openat(dirfd, tmp, flags, mode);
	}
	if (fd < 0)
		return -errno;
	err = sink_write_all(fd, data, len);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && renameat(dirfd, tmp, dirfd, name))
		err = -errno;
	if (err)
		unlinkat(dirfd, tmp, 0);
	return err;
}
