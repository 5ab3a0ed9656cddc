// SPDX-License-Identifier: Apache-2.0
/* flame_output.c - flame graph files, replaced whole (flame_output.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "flame_output.h"
#include "log.h"

int flame_write_at(int dirfd, const char *name, enum flame_format format, const struct flame *f,
		   const char *title)
{
	size_t len = 0;
	char *text = format == FLAME_FOLDED ? flame_folded(f, &len) : flame_speedscope(f, title, &len);
	int err;

	if (!text)
		return -ENOMEM;
	err = atomic_file_write(dirfd, name, text, len, FLAME_FILE_MODE);
	free(text);
	return err;
}

void flame_file_init(struct flame_file *ff, enum flame_format format)
{
	*ff = (struct flame_file){ .format = format, .dirfd = -1 };
}

int flame_file_open(struct flame_file *ff, const char *path, char *err, size_t errlen)
{
	char *dir_copy = strdup(path), *base_copy = strdup(path);
	const char *dir, *base;
	struct stat st;
	int ret = -1;

	if (!dir_copy || !base_copy) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	dir = dirname(dir_copy);
	base = basename(base_copy);
	if (!path[0] || path[strlen(path) - 1] == '/' || !atomic_file_name_ok(base)) {
		snprintf(err, errlen, "cannot write %s: give the path of a file", path);
		goto out;
	}
	ff->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ff->dirfd < 0) {
		snprintf(err, errlen, "cannot write %s: its directory %s: %s", path, dir,
			 strerror(errno));
		goto out;
	}
	if (!fstatat(ff->dirfd, base, &st, AT_SYMLINK_NOFOLLOW) && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "cannot write %s: it is a directory; give the path of a file", path);
		goto out;
	}
	ff->name = strdup(base);
	ff->path = strdup(path);
	if (!ff->name || !ff->path) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	ret = 0;
out:
	free(dir_copy);
	free(base_copy);
	return ret;
}

int flame_file_write_first(struct flame_file *ff, const struct flame *f, char *err, size_t errlen)
{
	int ret;

	if (ff->dirfd < 0)
		return 0;
	ret = flame_write_at(ff->dirfd, ff->name, ff->format, f, FLAME_TITLE);
	if (ret) {
		snprintf(err, errlen, "cannot write %s: %s: check the path and its directory's permissions",
			 ff->path, strerror(-ret));
		return -1;
	}
	return 0;
}

void flame_file_write(struct flame_file *ff, const struct flame *f)
{
	int ret;

	if (ff->dirfd < 0)
		return;
	ret = flame_write_at(ff->dirfd, ff->name, ff->format, f, FLAME_TITLE);
	if (ret && !ff->failing)
		log_warn("cannot write %s: %s (the file keeps its last content; trying again later)",
			 ff->path, strerror(-ret));
	else if (!ret && ff->failing)
		log_info("%s written again", ff->path);
	ff->failing = ret != 0;
}

void flame_file_close(struct flame_file *ff)
{
	if (ff->dirfd >= 0)
		close(ff->dirfd);
	free(ff->name);
	free(ff->path);
	flame_file_init(ff, ff->format);
}
