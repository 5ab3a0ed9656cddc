// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_cpython_procmaps - a /proc/<pid>/maps text (agent/cpython/
 * procmaps.c): every line, then the distinct files of what parsed
 * (pmap_files(), as used to pick where _PyRuntime may be). The path of an
 * accepted line must point into it; pmap_files() must give at most max
 * distinct files, each as its lowest mapping.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpython/procmaps.h"

#define MAX_LINES 4096

static bool wanted(const struct pmap *m, void *ctx)
{
	(void)ctx;
	return m->perms[2] == 'x' || strstr(m->path, "lib");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pmap maps[MAX_LINES];
	const struct pmap *out[8];
	struct pmap_list l = { .maps = maps };
	char *text = malloc(size + 1), *line, *nl;
	size_t n, i, j, max = size ? 1 + data[0] % 8 : 1;
	bool more;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = text; l.n < MAX_LINES; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (pmap_parse_line(line, &maps[l.n]) == 0) {
			const struct pmap *m = &maps[l.n];

			if (m->path < line || m->path > line + strlen(line) || m->end < m->start ||
			    strlen(m->perms) != 4)
				abort();
			l.n++;
		}
		if (!nl)
			break;
	}
	n = pmap_files(&l, wanted, NULL, out, max, &more);
	if (n > max)
		abort();
	for (i = 0; i < n; i++) {
		if (out[i] < maps || out[i] >= maps + l.n)
			abort();
		for (j = 0; j < l.n; j++)
			if (pmap_same_file(&maps[j], out[i]) && maps[j].start < out[i]->start)
				abort(); /* not its lowest mapping */
		for (j = 0; j < i; j++)
			if (pmap_same_file(out[j], out[i]))
				abort(); /* not distinct */
	}
	free(text);
	return 0;
}
