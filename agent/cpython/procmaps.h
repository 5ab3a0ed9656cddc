/* SPDX-License-Identifier: Apache-2.0 */
/*
 * procmaps.h - /proc/<pid>/maps (internal to agent/cpython).
 * pmap_parse_line() is pure and fuzzed.
 */
#ifndef BLOCKSNOOP_CPYTHON_PROCMAPS_H
#define BLOCKSNOOP_CPYTHON_PROCMAPS_H

#include <stdbool.h>
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

/* Whether two mappings are of the same file (device, inode and path). */
bool pmap_same_file(const struct pmap *a, const struct pmap *b);

/*
 * The distinct files of maps that have a mapping m with want(m, ctx), in
 * the order of their first such mapping, at most max of them into out[],
 * each given as its lowest mapping of all (maps is in address order: where
 * its ELF header is). Returns how many; *more says whether further files
 * were left out. O(maps->n x max) whatever the maps hold. Pure.
 */
size_t pmap_files(const struct pmap_list *maps, bool (*want)(const struct pmap *m, void *ctx),
		  void *ctx, const struct pmap **out, size_t max, bool *more);

#endif
