// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "compat.h"
#include "target_fs.h"

/* Reading more of a mount table than this refuses what it was read for. */
#define MOUNTINFO_MAX (64u << 20)

static int proc_errno(int e)
{
	if (e == ENOENT || e == ESRCH)
		return -ESRCH;
	if (e == EACCES)
		return -EPERM;
	return -e;
}

/* ---- file systems ---- */

/*
 * Types (as /proc/<pid>/mountinfo names them) whose files are never read:
 * those whose every operation may wait for a server or a daemon that need
 * not answer (FUSE daemons may belong to the target), and pseudo file
 * systems whose "files" describe the reader or the kernel rather than hold
 * a target's data (a target's code object named "/proc/self/environ" would
 * otherwise show blocksnoop's own environment).
 */
static const char *const refused_types[] = {
	"fuse", "fuseblk", "fusectl", "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph",
	"afs", "coda", "lustre", "autofs", "proc", "sysfs", "devtmpfs", "devpts", "debugfs",
	"tracefs", "securityfs", "cgroup", "cgroup2", "bpf", "configfs", "efivarfs", "pstore",
	"selinuxfs", "smackfs", "binder", "nsfs", "mqueue", "rpc_pipefs", "hugetlbfs",
};

static bool type_refused(const char *type)
{
	size_t i;

	if (strncmp(type, "fuse.", 5) == 0) /* fuse.sshfs, fuse.gcsfuse, ... */
		return true;
	for (i = 0; i < sizeof(refused_types) / sizeof(refused_types[0]); i++)
		if (strcmp(type, refused_types[i]) == 0)
			return true;
	return false;
}

/* The same rule by statfs magic, checked again on the open file. */
static bool magic_refused(unsigned long magic)
{
	static const unsigned long refused[] = {
		FUSE_SUPER_MAGIC, NFS_SUPER_MAGIC, CIFS_SUPER_MAGIC, SMB2_SUPER_MAGIC,
		SMB_SUPER_MAGIC, V9FS_MAGIC, CEPH_SUPER_MAGIC, AUTOFS_SUPER_MAGIC,
		PROC_SUPER_MAGIC, SYSFS_MAGIC, DEVPTS_SUPER_MAGIC, DEBUGFS_MAGIC, TRACEFS_MAGIC,
		SECURITYFS_MAGIC, CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, BPF_FS_MAGIC,
		EFIVARFS_MAGIC, PSTOREFS_MAGIC, SELINUX_MAGIC, SMACK_MAGIC, BINDERFS_SUPER_MAGIC,
		NSFS_MAGIC, 0x62656570 /* configfs */,
	};
	size_t i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (magic == refused[i])
			return true;
	return false;
}

/* ---- the mount table ---- */

/* Undo mountinfo's octal escapes (\040 for a space, ...) in place. */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* Which mounts a scan of a mount table looks at. */
struct mount_match {
	const char *point; /* the mounts on this mount point, or */
	int id;            /* the mount with this id (point NULL, id >= 0), or */
	unsigned major, minor; /* the mounts of the file system with this device (id < 0) */
};

/*
 * One mountinfo line: "36 35 98:0 /root /mount/point opts [tags] - type src
 * sopts". Whether it is a mount m looks at; *type points into line
 * (modified) then.
 */
static bool line_matches(char *line, const struct mount_match *m, char **type)
{
	char *save = NULL, *f[5], *sep;
	unsigned major, minor;
	int i;

	sep = strstr(line, " - ");
	if (!sep)
		return false;
	*sep = '\0';
	for (i = 0; i < 5; i++) {
		f[i] = strtok_r(i ? NULL : line, " ", &save);
		if (!f[i])
			return false;
	}
	*type = strtok_r(sep + 3, " \n", &save);
	if (!*type)
		return false;
	if (m->point) {
		unescape(f[4]);
		return strcmp(f[4], m->point) == 0;
	}
	if (m->id >= 0)
		return atoi(f[0]) == m->id;
	return sscanf(f[2], "%u:%u", &major, &minor) == 2 && major == m->major &&
	       minor == m->minor;
}

/*
 * Go through the mount table open on fd (from its start) for the mounts m
 * looks at. 1 = found, all of them allowed; 0 = none found; -EXDEV =
 * one found is of a refused type (or the table is too big to read);
 * -errno.
 */
static int scan_mounts(int fd, const struct mount_match *m)
{
	size_t cap = 0, total = 0;
	char *line = NULL;
	int found = 0, dup_fd;
	ssize_t n;
	FILE *f;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return -errno;
	f = fdopen(dup_fd, "r");
	if (!f) {
		close(dup_fd);
		return -ENOMEM;
	}
	while (found >= 0 && (n = getline(&line, &cap, f)) > 0) {
		char *type;

		total += (size_t)n;
		if (total > MOUNTINFO_MAX) {
			found = -EXDEV;
			break;
		}
		if (line_matches(line, m, &type))
			found = type_refused(type) ? -EXDEV : 1;
	}
	free(line);
	fclose(f);
	return found;
}

/*
 * Whether the mount fd is on may be read. It is looked up by its id, then
 * by its file system's device, in the target's mount table, then in
 * blocksnoop's: a target chroot'ed below a mount's root does not see that
 * mount in its own table, and a mount namespace made from ours holds
 * copies of our mounts (other ids, the same file systems). Ids are unique
 * while fd holds the mount, devices while the file system is mounted.
 * AT_STATX_DONT_SYNC: FUSE and network file systems answer from what they
 * have, without asking their server. 0 or -EXDEV.
 */
static int vet_mount_of(const struct tfs_target *t, int fd)
{
	struct mount_match by_id = { .id = -1 }, by_dev = { .id = -1 };
	struct statx stx;
	int rc;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_MNT_ID,
		  &stx) < 0)
		return -errno;
	if (!(stx.stx_mask & STATX_MNT_ID))
		return -EXDEV; /* before Linux 5.8: cannot tell */
	by_id.id = (int)stx.stx_mnt_id;
	by_dev.major = stx.stx_dev_major;
	by_dev.minor = stx.stx_dev_minor;
	rc = scan_mounts(t->mountinfo, &by_id);
	if (rc == 0)
		rc = scan_mounts(t->mountinfo, &by_dev);
	if (rc == 0)
		rc = scan_mounts(t->own_mountinfo, &by_id);
	if (rc == 0)
		rc = scan_mounts(t->own_mountinfo, &by_dev);
	if (rc < 0)
		return rc;
	return rc == 1 ? 0 : -EXDEV;
}

/* ---- the walk ---- */

struct walk {
	const struct tfs_target *t;
	int dirs[TFS_MAX_DEPTH + 1]; /* dirs[0] is the root (not ours to close) */
	int depth;
	char where[PATH_MAX];        /* the path of dirs[depth] from the root ("" = root) */
};

static void walk_pop(struct walk *w)
{
	char *slash;

	if (w->depth == 0)
		return; /* ".." at the root stays there */
	close(w->dirs[w->depth--]);
	slash = strrchr(w->where, '/');
	*slash = '\0';
}

static void walk_to_root(struct walk *w)
{
	while (w->depth > 0)
		walk_pop(w);
}

static int openat2_path(int dir, const char *name, unsigned long long resolve)
{
	struct open_how how = {
		.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		.resolve = resolve,
	};
	int fd = sys_openat2(dir, name, &how);

	return fd < 0 ? -errno : fd;
}

/*
 * What name in the current directory refers to, as an O_PATH fd (a symlink
 * itself, not followed). A mount point is crossed only once the mounts on
 * it are known to be allowed: looking at the mount's root does not reach
 * its file system (no FUSE request, no network round trip).
 */
static int walk_step(struct walk *w, const char *name)
{
	const unsigned long long beneath = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	char point[PATH_MAX];
	int fd, rc;

	fd = openat2_path(w->dirs[w->depth], name, beneath | RESOLVE_NO_XDEV);
	if (fd != -EXDEV)
		return fd;
	if ((size_t)snprintf(point, sizeof(point), "%s/%s", w->where, name) >= sizeof(point))
		return -ENAMETOOLONG;
	rc = scan_mounts(w->t->mountinfo, &(struct mount_match){ .point = point });
	if (rc <= 0)
		return rc < 0 ? rc : -EXDEV; /* a mount it does not list */
	fd = openat2_path(w->dirs[w->depth], name, beneath);
	if (fd < 0)
		return fd;
	/* A mount may have been put there since: check the one reached. */
	rc = vet_mount_of(w->t, fd);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

/*
 * Walk path from the root: an O_PATH fd of the regular file it names, or
 * -errno. Symlinks are followed here, inside the root.
 */
static int walk(struct walk *w, const char *path)
{
	char rest[PATH_MAX], link[PATH_MAX], name[NAME_MAX + 1];
	int links = 0, fd;
	const char *p;

	if (strlen(path) >= sizeof(rest))
		return -ENAMETOOLONG;
	strcpy(rest, path);
	p = rest;
	for (;;) {
		struct stat st;
		size_t len;
		bool last;
		ssize_t n;

		while (*p == '/')
			p++;
		if (!*p)
			return -ENOENT; /* "" or "/": no file */
		len = strcspn(p, "/");
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, p, len);
		name[len] = '\0';
		p += len;
		last = p[strspn(p, "/")] == '\0';
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
			if (name[1])
				walk_pop(w);
			if (last)
				return -EINVAL; /* a directory */
			continue;
		}
		fd = walk_step(w, name);
		if (fd < 0)
			return fd;
		if (fstat(fd, &st) < 0) {
			int e = -errno;

			close(fd);
			return e;
		}
		if (S_ISLNK(st.st_mode)) {
			if (++links > TFS_MAX_LINKS) {
				close(fd);
				return -ELOOP;
			}
			n = readlinkat(fd, "", link, sizeof(link));
			close(fd);
			if (n < 0)
				return -errno;
			if ((size_t)n >= sizeof(link) || (size_t)n + strlen(p) >= sizeof(rest))
				return -ENAMETOOLONG;
			/* rest = the link's text, then what followed the link ("/..." or "") */
			memmove(rest + n, p, strlen(p) + 1);
			memcpy(rest, link, (size_t)n);
			p = rest;
			if (link[0] == '/')
				walk_to_root(w);
			continue;
		}
		if (last && *p == '\0')
			return fd;
		/* More follows ("name/" or "name/more"): name must be a directory. */
		if (!S_ISDIR(st.st_mode) || w->depth == TFS_MAX_DEPTH ||
		    strlen(w->where) + 1 + strlen(name) >= sizeof(w->where)) {
			close(fd);
			return S_ISDIR(st.st_mode) ? -ENAMETOOLONG : -ENOTDIR;
		}
		if (last) {
			close(fd);
			return -EINVAL; /* "name/" is a directory */
		}
		w->dirs[++w->depth] = fd;
		strcat(w->where, "/");
		strcat(w->where, name);
	}
}

/* Open the file the O_PATH fd pathfd refers to, for reading. */
static int reopen(int pathfd)
{
	char self[64];
	struct stat before, after;
	struct statfs sfs;
	int fd, err;

	if (fstat(pathfd, &before) < 0)
		return -errno;
	if (!S_ISREG(before.st_mode))
		return -EINVAL; /* never opened: a FIFO cannot block, a device do nothing */
	/* Through our own /proc: the exact file the walk found, permission
	 * checked for the credentials in force. */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pathfd);
	fd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &after) < 0 || fstatfs(fd, &sfs) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (after.st_dev != before.st_dev || after.st_ino != before.st_ino ||
	    !S_ISREG(after.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (magic_refused((unsigned long)sfs.f_type)) {
		close(fd);
		return -EXDEV;
	}
	return fd;
}

/* The walk and the open, with the credentials in force. */
static int open_in_root(const struct tfs_target *t, const char *path)
{
	struct walk w = { .t = t, .dirs = { t->rootfd } };
	int pathfd, fd;

	fd = vet_mount_of(t, t->rootfd);
	if (fd)
		return fd;
	pathfd = walk(&w, path);
	walk_to_root(&w);
	if (pathfd < 0)
		return pathfd;
	fd = reopen(pathfd);
	close(pathfd);
	return fd;
}

int tfs_open_as(const struct tfs_target *t, const char *path)
{
	struct tcreds_saved saved;
	int fd;

	if (!path || !*path)
		return -ENOENT;
	fd = tcreds_become(&t->creds, &saved);
	if (fd)
		return fd; /* never with our own rights instead */
	fd = open_in_root(t, path);
	tcreds_restore(&saved);
	return fd;
}

/* ---- targets ---- */

int tfs_root_open(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? proc_errno(errno) : fd;
}

static int target_from_proc(int procfd, struct tfs_target *t)
{
	struct stat st;
	int err;

	memset(t, 0, sizeof(*t));
	t->mountinfo = t->own_mountinfo = -1;
	t->rootfd = openat(procfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (t->rootfd < 0) {
		err = proc_errno(errno);
		goto fail;
	}
	t->mountinfo = openat(procfd, "mountinfo", O_RDONLY | O_CLOEXEC);
	if (t->mountinfo < 0) {
		err = proc_errno(errno);
		goto fail;
	}
	t->own_mountinfo = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (t->own_mountinfo < 0 || fstat(t->rootfd, &st) < 0) {
		err = -errno;
		goto fail;
	}
	t->root_dev = st.st_dev;
	t->root_ino = st.st_ino;
	err = tcreds_read(procfd, &t->creds);
	if (err)
		goto fail;
	return 0;
fail:
	tfs_target_close(t);
	return err;
}

int tfs_target_open(pid_t pid, struct tfs_target *t)
{
	int procfd = tfs_root_open(pid), err;

	if (procfd < 0) {
		memset(t, 0, sizeof(*t));
		t->rootfd = t->mountinfo = t->own_mountinfo = -1;
		return procfd;
	}
	err = target_from_proc(procfd, t);
	close(procfd);
	return err;
}

void tfs_target_close(struct tfs_target *t)
{
	if (t->rootfd >= 0)
		close(t->rootfd);
	if (t->mountinfo >= 0)
		close(t->mountinfo);
	if (t->own_mountinfo >= 0)
		close(t->own_mountinfo);
	tcreds_free(&t->creds);
	t->rootfd = t->mountinfo = t->own_mountinfo = -1;
}

int tfs_open(int handle, const char *path)
{
	struct tfs_target t;
	int fd;

	if (!path || !*path)
		return -ENOENT;
	fd = target_from_proc(handle, &t);
	if (fd)
		return fd;
	fd = tfs_open_as(&t, path);
	tfs_target_close(&t);
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
