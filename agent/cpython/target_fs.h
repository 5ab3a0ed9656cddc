/* SPDX-License-Identifier: Apache-2.0 */
/*
 * target_fs.h - open files as a target process would (internal to
 * agent/cpython). The only place agent/cpython opens a target's files:
 * its ELF files (pyreader.c) and its sources (pysource.c).
 *
 * A target chooses the paths (its code objects name any file they like),
 * the files (symlinks, FIFOs, devices, a /proc of its own) and, in a user
 * namespace, its mounts. So a file is opened only
 *   - inside the target's root: the path is walked one component at a time
 *     from /proc/<pid>/root, ".." stopping at that root, symlinks (absolute
 *     ones from that root) followed by this walk, never by the kernel, and
 *     /proc magic links never followed;
 *   - with the target's credentials (target_creds.h): what it could not
 *     open, blocksnoop does not open for it; if blocksnoop cannot take
 *     them, it opens nothing;
 *   - on a file system that cannot block blocksnoop and is not a window
 *     on blocksnoop itself: every mount the walk enters (and the root's)
 *     is looked up in the target's mount table BEFORE anything below it is
 *     touched, and FUSE (whose daemon may be the target's and may never
 *     answer), network file systems, /proc, /sys, devtmpfs and the other
 *     pseudo file systems are refused; fstatfs() on the file checks again;
 *   - if it is a regular file: the walk looks at the file (O_PATH, no
 *     open) before it opens it (O_NONBLOCK | O_NOCTTY), so a FIFO or a
 *     device is never opened.
 */
#ifndef BLOCKSNOOP_CPYTHON_TARGET_FS_H
#define BLOCKSNOOP_CPYTHON_TARGET_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "target_creds.h"

/* Longest symlink chain followed, as the kernel's MAXSYMLINKS. */
#define TFS_MAX_LINKS 40
/* Deepest directory nesting walked. */
#define TFS_MAX_DEPTH 256

/*
 * A handle on the target pid (in blocksnoop's PID namespace) for
 * tfs_open(): an O_PATH directory fd of /proc/<pid> (it stops working
 * once the process is gone, even if its PID is reused). Close it with
 * close(). An fd, or -ESRCH (gone), -errno.
 */
int tfs_root_open(pid_t pid);

/*
 * Open path (absolute or relative, both from the target's root) read-only
 * as the target of handle (tfs_root_open()) would. An fd, or -errno:
 *   -ENOENT / -ENOTDIR / -ELOOP  as the kernel would say (-ELOOP also for
 *                more than TFS_MAX_LINKS symlinks), -ENOENT for "";
 *   -EACCES      the target could not open it;
 *   -EINVAL      not a regular file;
 *   -EXDEV       on a file system that is refused (see above), as openat2's
 *                RESOLVE_NO_XDEV refuses to cross a mount;
 *   -EPERM       blocksnoop cannot take the target's credentials (it
 *                lacks CAP_SETUID / CAP_SETGID): nothing was opened;
 *   -ESRCH       the target is gone.
 */
int tfs_open(int handle, const char *path);

/* What tfs_open_as() needs of a target, kept to open several files. */
struct tfs_target {
	int rootfd;       /* O_PATH directory: the target's root */
	int mountinfo;    /* its /proc/<pid>/mountinfo, opened by blocksnoop */
	int own_mountinfo; /* blocksnoop's, for a root below a mount's root */
	dev_t root_dev;   /* the root directory's identity */
	ino_t root_ino;
	struct tcreds creds;
};

/* Fill t for pid. 0, -ESRCH, -EPERM (no access to its root), -errno. */
int tfs_target_open(pid_t pid, struct tfs_target *t);

/* Release what t holds. Accepts a t whose fds are -1. */
void tfs_target_close(struct tfs_target *t);

/* tfs_open() with a target already looked up; the same results. */
int tfs_open_as(const struct tfs_target *t, const char *path);

/*
 * Turn a path as blocksnoop's /proc shows it for the target (in
 * /proc/<pid>/maps, or /proc/<pid>/exe) into a path inside the target's
 * root. /proc shows paths relative to blocksnoop's own root, so for a target
 * chroot'ed (or pivot'ed) below it they start with the target's root as
 * /proc/<pid>/root reads: that prefix is removed. A " (deleted)" suffix is
 * removed too. 0 or -errno (-ENAMETOOLONG).
 */
int tfs_target_path(pid_t pid, const char *shown, char *out, size_t outlen);

#endif
