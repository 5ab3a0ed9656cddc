// SPDX-License-Identifier: Apache-2.0
/*
 * pysource.c - py_source_line() (see pyreader.h): source lines as the
 * target sees them, through target_fs (its root, symlinks resolved inside
 * it), cached per (root, path).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pyreader.h"
#include "target_fs.h"

#define SRC_CACHE_MAX 64
#define SRC_MAX_SIZE (16u << 20)
/* A cached file is re-checked (stat) at most this often. */
#define SRC_RECHECK_NS 1000000000ULL

struct src_entry {
	/* key: the target's root directory and the path inside it */
	dev_t root_dev;
	ino_t root_ino;
	char *path; /* NULL = free slot */
	/* what was read, to notice a changed file */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	char *text;
	size_t len;
	size_t *starts; /* offset of each line */
	size_t nlines;
	uint64_t checked_ns, used;
};

static pthread_mutex_t src_lock = PTHREAD_MUTEX_INITIALIZER;
static struct src_entry src_cache[SRC_CACHE_MAX];
static uint64_t src_clock;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void entry_clear(struct src_entry *e)
{
	free(e->path);
	free(e->text);
	free(e->starts);
	memset(e, 0, sizeof(*e));
}

static bool same_file(const struct src_entry *e, const struct stat *st)
{
	return e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
	       e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Read fd into e (whose key is set) and index its lines. */
static int entry_load(struct src_entry *e, int fd, const struct stat *st)
{
	size_t i, n = 1, k = 0;
	char *text;
	size_t len;
	int err;

	err = tfs_read_all(fd, SRC_MAX_SIZE, &text, &len);
	if (err)
		return err;
	for (i = 0; i < len; i++)
		if (text[i] == '\n')
			n++;
	free(e->text);
	free(e->starts);
	e->text = text;
	e->len = len;
	e->starts = malloc(n * sizeof(*e->starts));
	if (!e->starts) {
		e->text = NULL;
		free(text);
		return -ENOMEM;
	}
	e->starts[k++] = 0;
	for (i = 0; i < len; i++)
		if (text[i] == '\n' && k < n)
			e->starts[k++] = i + 1;
	/* A final newline does not start a line. */
	e->nlines = (len > 0 && text[len - 1] == '\n') ? k - 1 : k;
	if (len == 0)
		e->nlines = 0;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->size = st->st_size;
	e->mtime = st->st_mtim;
	return 0;
}

/* The path inside the target's root: relative files are from its cwd. */
static int target_file(pid_t pid, const char *file, char *out, size_t outlen)
{
	char link[64], shown[PATH_MAX], cwd[PATH_MAX];
	ssize_t n;
	int err;

	if (file[0] == '/') {
		if (strlen(file) + 1 > outlen)
			return -ENAMETOOLONG;
		strcpy(out, file);
		return 0;
	}
	snprintf(link, sizeof(link), "/proc/%d/cwd", pid);
	n = readlink(link, shown, sizeof(shown) - 1);
	if (n < 0)
		return errno == ENOENT ? -ESRCH : (errno == EACCES ? -EPERM : -errno);
	shown[n] = '\0';
	err = tfs_target_path(pid, shown, cwd, sizeof(cwd));
	if (err)
		return err;
	if ((size_t)snprintf(out, outlen, "%s/%s", strcmp(cwd, "/") ? cwd : "", file) >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

/* Copy line (1-based) of e, trimmed, into buf (cut at a UTF-8 boundary). */
static int copy_line(const struct src_entry *e, int line, char *buf, size_t len)
{
	const char *s, *end;
	size_t n;

	if ((size_t)line > e->nlines)
		return -ERANGE;
	s = e->text + e->starts[line - 1];
	end = memchr(s, '\n', e->text + e->len - s);
	if (!end)
		end = e->text + e->len;
	if (line == 1 && end - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3; /* UTF-8 BOM */
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\f' || *s == '\v' || *s == '\r'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\f' ||
			   end[-1] == '\v' || end[-1] == '\r'))
		end--;
	n = end - s;
	if (n > len - 1) {
		n = len - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

int py_source_line(pid_t pid, const char *file, int line, char *buf, size_t len)
{
	struct src_entry *e = NULL, *victim = NULL;
	char path[PATH_MAX];
	struct stat rst, st;
	int rootfd, fd = -1, err, i;
	uint64_t now;

	if (!buf || len < 1 || !file || !*file || line < 1 || pid <= 0)
		return -EINVAL;
	buf[0] = '\0';
	err = target_file(pid, file, path, sizeof(path));
	if (err)
		return err;
	rootfd = tfs_root_open(pid);
	if (rootfd < 0)
		return rootfd;
	if (fstat(rootfd, &rst) < 0) {
		err = -errno;
		close(rootfd);
		return err;
	}

	pthread_mutex_lock(&src_lock);
	now = now_ns();
	for (i = 0; i < SRC_CACHE_MAX; i++) {
		struct src_entry *c = &src_cache[i];

		if (c->path && c->root_dev == rst.st_dev && c->root_ino == rst.st_ino &&
		    strcmp(c->path, path) == 0) {
			e = c;
			break;
		}
		if (!victim || !c->path || (victim->path && c->used < victim->used))
			victim = c;
	}
	if (e && now - e->checked_ns < SRC_RECHECK_NS)
		goto found;

	fd = tfs_open(rootfd, path);
	if (fd < 0) {
		err = fd;
		if (e)
			entry_clear(e);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if (e && same_file(e, &st)) {
		e->checked_ns = now;
		goto found;
	}
	if (!e) {
		e = victim;
		entry_clear(e);
		e->path = strdup(path);
		if (!e->path) {
			err = -ENOMEM;
			goto out;
		}
		e->root_dev = rst.st_dev;
		e->root_ino = rst.st_ino;
	}
	err = entry_load(e, fd, &st);
	if (err) {
		entry_clear(e);
		goto out;
	}
	e->checked_ns = now;
found:
	e->used = ++src_clock;
	err = copy_line(e, line, buf, len);
out:
	pthread_mutex_unlock(&src_lock);
	if (fd >= 0)
		close(fd);
	close(rootfd);
	return err;
}
