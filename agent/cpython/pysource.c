// SPDX-License-Identifier: Apache-2.0
/*
 * pysource.c - py_source_line() (see pyreader.h): source lines as the
 * target sees them and may read them, through target_fs (its root, its
 * credentials, file systems that cannot block).
 *
 * Only the lines asked for are kept, never whole files: a file is read
 * from its start through a small buffer up to the wanted line (srcline.h),
 * and that line's first SRC_LINE_MAX bytes are cached. The cache is
 * bounded in bytes (SRC_CACHE_BYTES, least recently used first out), and
 * so is the reading: at most SRC_SCAN_MAX bytes to reach a line, at most
 * SRC_SCAN_PER_SEC bytes a second for all lookups together, so a target
 * whose frames name many lines of huge files costs little CPU.
 *
 * A line is cached for one view of the file: the target's root and
 * credentials are part of the key, so what one target may read is never
 * shown for another that may not.
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
#include "srcline.h"
#include "target_fs.h"

#define SRC_CACHE_BYTES (2u << 20)
#define SRC_LINE_MAX 1024
#define SRC_SCAN_MAX (16u << 20)
#define SRC_SCAN_PER_SEC (64u << 20)
#define SRC_READ_CHUNK (64u << 10)
#define SRC_BUCKETS 1024
/* A cached line is re-checked (its file opened as the target and stat'ed)
 * at most this often. */
#define SRC_RECHECK_NS 1000000000ULL

struct src_line {
	struct src_line *hash_next;
	struct src_line *lru_prev, *lru_next; /* lru_next: less recently used */
	uint64_t hash;
	/* key: the view (root, credentials), the path in it, the line */
	dev_t root_dev;
	ino_t root_ino;
	uid_t fsuid;
	gid_t fsgid;
	uint64_t caps;
	size_t ngroups;
	const gid_t *groups; /* in this allocation */
	const char *path;    /* in this allocation */
	int line;
	/* the file it was read from, to notice a change */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	uint64_t checked_ns;
	int result;          /* 0, -ERANGE (no such line) or -EFBIG (too far in) */
	size_t bytes;        /* the whole allocation, counted in src_bytes */
	char text[];         /* the trimmed line; then path and groups */
};

static pthread_mutex_t src_lock = PTHREAD_MUTEX_INITIALIZER;
static struct src_line *src_hash[SRC_BUCKETS];
static struct src_line *src_mru, *src_lru;
static size_t src_bytes;
static uint64_t scan_window_ns, scan_window_bytes;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- the cache (callers hold src_lock) ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

static uint64_t key_hash(const struct tfs_target *t, const char *path, int line)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = fnv(h, &t->root_dev, sizeof(t->root_dev));
	h = fnv(h, &t->root_ino, sizeof(t->root_ino));
	h = fnv(h, &t->creds.fsuid, sizeof(t->creds.fsuid));
	h = fnv(h, &t->creds.fsgid, sizeof(t->creds.fsgid));
	h = fnv(h, &t->creds.caps, sizeof(t->creds.caps));
	h = fnv(h, t->creds.groups, t->creds.ngroups * sizeof(gid_t));
	h = fnv(h, path, strlen(path));
	return fnv(h, &line, sizeof(line));
}

static bool key_equal(const struct src_line *e, uint64_t hash, const struct tfs_target *t,
		      const char *path, int line)
{
	const struct tcreds *c = &t->creds;

	return e->hash == hash && e->line == line && e->root_dev == t->root_dev &&
	       e->root_ino == t->root_ino && e->fsuid == c->fsuid && e->fsgid == c->fsgid &&
	       e->caps == c->caps && e->ngroups == c->ngroups &&
	       (!c->ngroups || memcmp(e->groups, c->groups, c->ngroups * sizeof(gid_t)) == 0) &&
	       strcmp(e->path, path) == 0;
}

static struct src_line *cache_find(uint64_t hash, const struct tfs_target *t, const char *path,
				   int line)
{
	struct src_line *e;

	for (e = src_hash[hash % SRC_BUCKETS]; e; e = e->hash_next)
		if (key_equal(e, hash, t, path, line))
			return e;
	return NULL;
}

static void lru_unlink(struct src_line *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		src_mru = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		src_lru = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push(struct src_line *e)
{
	e->lru_prev = NULL;
	e->lru_next = src_mru;
	if (src_mru)
		src_mru->lru_prev = e;
	src_mru = e;
	if (!src_lru)
		src_lru = e;
}

static void touch(struct src_line *e)
{
	lru_unlink(e);
	lru_push(e);
}

static void cache_remove(struct src_line *e)
{
	struct src_line **pp = &src_hash[e->hash % SRC_BUCKETS];

	while (*pp != e)
		pp = &(*pp)->hash_next;
	*pp = e->hash_next;
	lru_unlink(e);
	src_bytes -= e->bytes;
	free(e);
}

/* Insert e (not yet in the cache), evicting the least recently used
 * lines to stay within SRC_CACHE_BYTES. */
static void cache_insert(struct src_line *e)
{
	while (src_lru && src_bytes + e->bytes > SRC_CACHE_BYTES)
		cache_remove(src_lru);
	e->hash_next = src_hash[e->hash % SRC_BUCKETS];
	src_hash[e->hash % SRC_BUCKETS] = e;
	lru_push(e);
	src_bytes += e->bytes;
}

/* Whether SRC_SCAN_PER_SEC allows reading n more bytes now. */
static bool scan_allowed(uint64_t now)
{
	if (now - scan_window_ns >= 1000000000ULL) {
		scan_window_ns = now;
		scan_window_bytes = 0;
	}
	return scan_window_bytes < SRC_SCAN_PER_SEC;
}

/* ---- reading ---- */

static bool same_file(const struct src_line *e, const struct stat *st)
{
	return e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
	       e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/*
 * Read fd from its start up to line `line`: 0, -ERANGE, -EFBIG (not within
 * SRC_SCAN_MAX bytes) or -errno; *read_bytes says how much was read.
 */
static int scan(int fd, int line, char *text, size_t textlen, size_t *read_bytes)
{
	struct srcline s;
	char *buf = malloc(SRC_READ_CHUNK);
	size_t total = 0;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	srcline_init(&s, line, text, textlen);
	for (;;) {
		/* Up to one byte past the limit: that tells a file of exactly
		 * SRC_SCAN_MAX bytes (fine) from a longer one. */
		size_t want = SRC_SCAN_MAX + 1 - total;
		ssize_t n;

		n = read(fd, buf, want < SRC_READ_CHUNK ? want : SRC_READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		if (total + (size_t)n > SRC_SCAN_MAX) {
			/* The line had to be within the first SRC_SCAN_MAX bytes. */
			if (!srcline_feed(&s, buf, SRC_SCAN_MAX - total))
				err = -EFBIG;
			total += (size_t)n;
			break;
		}
		total += (size_t)n;
		if (srcline_feed(&s, buf, (size_t)n))
			break;
	}
	free(buf);
	*read_bytes = total;
	if (err) {
		text[0] = '\0';
		return err;
	}
	return srcline_finish(&s);
}

/* A cache entry for what scan() found (not in the cache yet). */
static struct src_line *entry_new(uint64_t hash, const struct tfs_target *t, const char *path,
				  int line, const struct stat *st, int result, const char *text)
{
	size_t tlen = strlen(text) + 1, plen = strlen(path) + 1;
	size_t glen = t->creds.ngroups * sizeof(gid_t);
	size_t bytes = sizeof(struct src_line) + tlen + plen + glen + sizeof(gid_t);
	struct src_line *e = calloc(1, bytes);
	char *p;

	if (!e)
		return NULL;
	memcpy(e->text, text, tlen);
	p = e->text + tlen;
	memcpy(p, path, plen);
	e->path = p;
	p += plen;
	/* groups last, aligned */
	p = (char *)(((uintptr_t)p + sizeof(gid_t) - 1) & ~(uintptr_t)(sizeof(gid_t) - 1));
	if (glen)
		memcpy(p, t->creds.groups, glen);
	e->groups = (const gid_t *)p;
	e->hash = hash;
	e->root_dev = t->root_dev;
	e->root_ino = t->root_ino;
	e->fsuid = t->creds.fsuid;
	e->fsgid = t->creds.fsgid;
	e->caps = t->creds.caps;
	e->ngroups = t->creds.ngroups;
	e->line = line;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->size = st->st_size;
	e->mtime = st->st_mtim;
	e->result = result;
	e->bytes = bytes;
	return e;
}

/* What a cached line gives the caller: its result, the text in buf. */
static int copy_out(const struct src_line *e, char *buf, size_t len)
{
	size_t n;

	if (e->result) {
		buf[0] = '\0';
		return e->result;
	}
	n = srcline_utf8_cut(e->text, strlen(e->text), len - 1);
	memcpy(buf, e->text, n);
	buf[n] = '\0';
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

/* Look the line up (cached, or read it now); the lock is not held. */
static int lookup(const struct tfs_target *t, const char *path, int line, char *buf, size_t len)
{
	uint64_t hash = key_hash(t, path, line), now = now_ns();
	char text[SRC_LINE_MAX + 1];
	struct src_line *e, *fresh;
	size_t read_bytes = 0;
	struct stat st;
	int fd, err;

	pthread_mutex_lock(&src_lock);
	e = cache_find(hash, t, path, line);
	if (e && now - e->checked_ns < SRC_RECHECK_NS) {
		touch(e);
		err = copy_out(e, buf, len);
		pthread_mutex_unlock(&src_lock);
		return err;
	}
	pthread_mutex_unlock(&src_lock);

	/* Open it as the target every time it is re-checked: a file it may
	 * no longer read is no longer shown. */
	fd = tfs_open_as(t, path);
	if (fd < 0) {
		err = fd;
		goto forget;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto forget;
	}

	pthread_mutex_lock(&src_lock);
	e = cache_find(hash, t, path, line);
	if (e && same_file(e, &st)) {
		e->checked_ns = now;
		touch(e);
		err = copy_out(e, buf, len);
		pthread_mutex_unlock(&src_lock);
		close(fd);
		return err;
	}
	if (!scan_allowed(now)) {
		pthread_mutex_unlock(&src_lock);
		close(fd);
		return -EBUSY;
	}
	pthread_mutex_unlock(&src_lock);

	err = scan(fd, line, text, sizeof(text), &read_bytes);
	close(fd);
	fd = -1;
	if (err && err != -ERANGE && err != -EFBIG) {
		pthread_mutex_lock(&src_lock);
		scan_window_bytes += read_bytes;
		pthread_mutex_unlock(&src_lock);
		goto forget;
	}
	fresh = entry_new(hash, t, path, line, &st, err, text);

	pthread_mutex_lock(&src_lock);
	scan_window_bytes += read_bytes;
	e = cache_find(hash, t, path, line);
	if (e)
		cache_remove(e);
	if (fresh) {
		fresh->checked_ns = now;
		cache_insert(fresh);
		err = copy_out(fresh, buf, len);
	} else {
		err = -ENOMEM;
	}
	pthread_mutex_unlock(&src_lock);
	return err;

forget:
	/* Gone, or not readable by the target any more: not shown again. */
	if (fd >= 0)
		close(fd);
	pthread_mutex_lock(&src_lock);
	e = cache_find(hash, t, path, line);
	if (e)
		cache_remove(e);
	pthread_mutex_unlock(&src_lock);
	buf[0] = '\0';
	return err;
}

int py_source_line(pid_t pid, const char *file, int line, char *buf, size_t len)
{
	struct tfs_target t;
	char path[PATH_MAX];
	int err;

	if (!buf || len < 1 || !file || !*file || line < 1 || pid <= 0)
		return -EINVAL;
	buf[0] = '\0';
	err = target_file(pid, file, path, sizeof(path));
	if (err)
		return err;
	err = tfs_target_open(pid, &t);
	if (err)
		return err;
	err = lookup(&t, path, line, buf, len);
	tfs_target_close(&t);
	return err;
}
