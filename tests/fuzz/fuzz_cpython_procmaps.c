// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_cpython_procmaps - one /proc/<pid>/maps line (agent/cpython/
 * procmaps.c). The path of an accepted line must point into it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpython/procmaps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pmap m;
	char *line = malloc(size + 1);

	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (pmap_parse_line(line, &m) == 0) {
		if (m.path < line || m.path > line + strlen(line) || m.end < m.start ||
		    strlen(m.perms) != 4)
			abort();
	}
	free(line);
	return 0;
}
