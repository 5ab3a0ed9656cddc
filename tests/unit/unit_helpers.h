/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unit_helpers.h - small file helpers shared by the unit tests.
 * Header-only (static functions), so each test binary stays one .c file.
 */
#ifndef BLOCKSNOOP_UNIT_HELPERS_H
#define BLOCKSNOOP_UNIT_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The whole content of path as a malloc'd NUL-terminated string, or NULL. */
static inline char *uh_read_file(const char *path)
{
	size_t used = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;
	int fd;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	for (;;) {
		if (used + 1 >= cap) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger)
				break;
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + used, cap - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += n;
	}
	buf[used] = '\0';
	close(fd);
	return buf;
}

/* Everything readable from fd now, from offset 0 (regular files). */
static inline char *uh_read_fd_file(int fd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return uh_read_file(path);
}

/* How many '\n' a string holds. */
static inline size_t uh_count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Create a fresh private directory under /tmp into dir (>= 64 bytes). */
static inline int uh_mkdtemp(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/blocksnoop-unit-XXXXXX");
	return mkdtemp(dir) ? 0 : -errno;
}

/* Write text to path (created or truncated). */
static inline int uh_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t len = strlen(text);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

static inline int uh_rm_one(const char *path, const struct stat *st, int flag,
			    struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* rm -rf dir (for the directories made by uh_mkdtemp). */
static inline void uh_rmtree(const char *dir)
{
	nftw(dir, uh_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* |a - b| <= eps for doubles (cmocka 1.1 only compares floats). */
#define assert_near(a, b, eps) do {                                        \
		double a_ = (a), b_ = (b), e_ = (eps);                      \
		if (!(__builtin_fabs(a_ - b_) <= e_))                       \
			fail_msg("%s = %.17g, want %.17g (+-%g)", #a, a_, b_, e_); \
	} while (0)

#endif
