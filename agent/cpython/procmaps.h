/* SPDX-License-Identifier: Apache-2.0 */
/*
 * procmaps.h - /proc/<pid>/maps (internal to agent/cpython).
 * pmap_parse_line() is pure and fuzzed.
 */
#ifndef BLOCKSNOOP_CPYTHON_PROCMAPS_H
#define BLOCKSNOOP_CPYTHON_PROCMAPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pmap {
	uint64_t start, end, offset, inode;
	unsigned dev_major, dev_minor;
	char perms[5];    /* "r-xp" */
	const char *path; /* into the parsed text; "" for anonymous mappings */
};

/*
 * Parse one line (no newline; NUL-terminated) of a maps file. 0, or -1 if
 * it is not a maps line. out->path points into line.
 */
int pmap_parse_line(const char *line, struct pmap *out);

struct pmap_list {
	char *text;        /* the file, lines NUL-terminated in place */
	struct pmap *maps;
	size_t n;
};

/* Read and parse /proc/<pid>/maps: 0 or -errno (-ESRCH gone, -EPERM). */
int pmap_read(pid_t pid, struct pmap_list *out);
void pmap_free(struct pmap_list *l);

#endif
