// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procmaps.h"

/* Hex number; advances *p. -1 if there are no digits or too many. */
static int hex(const char **p, uint64_t *out)
{
	uint64_t v = 0;
	int n = 0;

	for (;; n++) {
		char c = (*p)[0];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		if (n >= 16)
			return -1;
		v = v << 4 | d;
		(*p)++;
	}
	*out = v;
	return n ? 0 : -1;
}

static int dec(const char **p, uint64_t *out)
{
	uint64_t v = 0;
	int n = 0;

	for (; (*p)[0] >= '0' && (*p)[0] <= '9'; n++, (*p)++) {
		if (n >= 19)
			return -1;
		v = v * 10 + ((*p)[0] - '0');
	}
	*out = v;
	return n ? 0 : -1;
}

static int expect(const char **p, char c)
{
	if ((*p)[0] != c)
		return -1;
	(*p)++;
	return 0;
}

int pmap_parse_line(const char *line, struct pmap *out)
{
	const char *p = line;
	uint64_t major, minor;
	int i;

	if (hex(&p, &out->start) || expect(&p, '-') || hex(&p, &out->end) ||
	    expect(&p, ' '))
		return -1;
	for (i = 0; i < 4; i++) {
		if (!p[0] || p[0] == ' ')
			return -1;
		out->perms[i] = *p++;
	}
	out->perms[4] = '\0';
	if (expect(&p, ' ') || hex(&p, &out->offset) || expect(&p, ' ') ||
	    hex(&p, &major) || expect(&p, ':') || hex(&p, &minor) || expect(&p, ' ') ||
	    dec(&p, &out->inode))
		return -1;
	if (out->end < out->start || major > UINT32_MAX || minor > UINT32_MAX)
		return -1;
	out->dev_major = major;
	out->dev_minor = minor;
	while (*p == ' ')
		p++;
	out->path = p;
	return 0;
}

void pmap_free(struct pmap_list *l)
{
	free(l->text);
	free(l->maps);
	l->text = NULL;
	l->maps = NULL;
	l->n = 0;
}

/* The whole of /proc/<pid>/maps, NUL-terminated (malloc'd). */
static int read_maps(pid_t pid, char **out)
{
	size_t used = 0, cap = 1 << 16;
	char path[64], *buf;
	ssize_t n;
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : errno == EACCES ? -EPERM : -errno;
	buf = malloc(cap + 1);
	while (buf) {
		if (used == cap) {
			char *bigger = cap < (64u << 20) ? realloc(buf, cap * 2 + 1) : NULL;

			if (!bigger) {
				err = -ENOMEM;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno == EACCES ? -EPERM : errno == ESRCH ? -ESRCH : -errno;
			break;
		}
		if (n == 0)
			break;
		used += n;
	}
	close(fd);
	if (!buf)
		return -ENOMEM;
	if (err) {
		free(buf);
		return err;
	}
	buf[used] = '\0';
	*out = buf;
	return 0;
}

int pmap_read(pid_t pid, struct pmap_list *out)
{
	char *line, *nl;
	size_t cap = 0;
	int err;

	memset(out, 0, sizeof(*out));
	err = read_maps(pid, &out->text);
	if (err)
		return err;
	for (line = out->text; *line; line = nl + 1) {
		struct pmap m;

		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (pmap_parse_line(line, &m) == 0) {
			if (out->n == cap) {
				size_t ncap = cap ? cap * 2 : 256;
				struct pmap *bigger = realloc(out->maps, ncap * sizeof(*bigger));

				if (!bigger) {
					pmap_free(out);
					return -ENOMEM;
				}
				out->maps = bigger;
				cap = ncap;
			}
			out->maps[out->n++] = m;
		}
		if (!nl)
			break;
	}
	if (out->n == 0) {
		/* A kernel thread or a process that is exiting. */
		pmap_free(out);
		return -ESRCH;
	}
	return 0;
}

bool pmap_same_file(const struct pmap *a, const struct pmap *b)
{
	return a->inode == b->inode && a->dev_major == b->dev_major &&
	       a->dev_minor == b->dev_minor && strcmp(a->path, b->path) == 0;
}

size_t pmap_files(const struct pmap_list *maps, bool (*want)(const struct pmap *m, void *ctx),
		  void *ctx, const struct pmap **out, size_t max, bool *more)
{
	size_t i, k, n = 0;

	*more = false;
	for (i = 0; i < maps->n; i++) {
		const struct pmap *m = &maps->maps[i];

		if (!want(m, ctx))
			continue;
		for (k = 0; k < n && !pmap_same_file(out[k], m); k++)
			;
		if (k < n)
			continue;
		if (n == max) {
			*more = true;
			continue;
		}
		out[n++] = m;
	}
	/* Each file's lowest mapping, which want() may not have matched. */
	for (i = 0; i < maps->n && n; i++) {
		const struct pmap *m = &maps->maps[i];

		for (k = 0; k < n; k++)
			if (m->start < out[k]->start && pmap_same_file(out[k], m))
				out[k] = m;
	}
	return n;
}
