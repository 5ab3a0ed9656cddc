/* SPDX-License-Identifier: Apache-2.0 */
/*
 * target_fs.h - open files as a target process sees them (internal to
 * agent/cpython). The only place agent/cpython opens a target's files.
 *
 * Every open goes through /proc/<pid>/root with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS): absolute symlinks and ".." are resolved inside the
 * target's root, so a symlink planted in a container cannot make blocksnoop
 * read a host file, and /proc magic links are refused. Only regular files
 * are opened (a FIFO or a device planted at a path cannot block or flood
 * the reader).
 */
#ifndef BLOCKSNOOP_CPYTHON_TARGET_FS_H
#define BLOCKSNOOP_CPYTHON_TARGET_FS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * An O_PATH directory fd of /proc/<pid>/root (pid in blocksnoop's
 * namespace), or -ESRCH (gone), -EPERM (no ptrace access), -errno.
 */
int tfs_root_open(pid_t pid);

/*
 * Open path (absolute or relative, both taken from the root) read-only
 * below rootfd: an fd, or -errno (-EXDEV/-ELOOP for refused magic links,
 * -EINVAL if it is not a regular file, -ENOENT, ...).
 */
int tfs_open(int rootfd, const char *path);

/*
 * Turn a path as blocksnoop's /proc shows it for the target (in
 * /proc/<pid>/maps, or /proc/<pid>/exe) into a path inside the target's
 * root. /proc shows paths relative to blocksnoop's own root, so for a target
 * chroot'ed (or pivot'ed) below it they start with the target's root as
 * /proc/<pid>/root reads: that prefix is removed. A " (deleted)" suffix is
 * removed too. 0 or -errno (-ENAMETOOLONG).
 */
int tfs_target_path(pid_t pid, const char *shown, char *out, size_t outlen);

/*
 * Read the whole of fd (at most max bytes, else -EFBIG) into a malloc'd
 * buffer, NUL-terminated; *len is the size without the NUL. 0 or -errno.
 */
int tfs_read_all(int fd, size_t max, char **out, size_t *len);

#endif
