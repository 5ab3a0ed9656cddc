/* SPDX-License-Identifier: Apache-2.0 */
/*
 * atomic_file.h - replace a file whole or not at all: the new content goes
 * to a temporary file beside it, is synced, and is renamed over the old
 * name, so a reader (or a crash) sees the old file or the new one, never
 * half of one.
 */
#ifndef BLOCKSNOOP_ATOMIC_FILE_H
#define BLOCKSNOOP_ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The longest name atomic_file_write() takes (its temporary's name is
 * "." name ".tmp"). */
#define ATOMIC_FILE_MAX_NAME 240

/*
 * Write len bytes of data as the file name (one component: no '/', not ""
 * "." or "..", at most ATOMIC_FILE_MAX_NAME bytes) in the directory dirfd,
 * with mode (for a new file). Nothing is followed: the temporary is
 * created O_EXCL | O_NOFOLLOW (one left by a crash is removed first), and
 * rename(2) replaces whatever name is (a symbolic link itself, never what
 * it points to). 0, or -errno (-EINVAL for a bad name, -EISDIR if name is
 * a directory); on failure the old file, if any, is unchanged and no
 * temporary is left.
 */
int atomic_file_write(int dirfd, const char *name, const char *data, size_t len, mode_t mode);

/* Whether name is one such component. */
bool atomic_file_name_ok(const char *name);

#endif
