// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_procfs - the NSpid line of a /proc/<pid>/status text (agent/
 * procfs.c): a target names itself and so shapes the text around it. Any
 * bytes: no read past the text; an accepted line gives 1 to
 * PROCFS_MAX_NS_LEVELS positive ids.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pid_t ids[PROCFS_MAX_NS_LEVELS];
	char *text = malloc(size + 1);
	int n, i;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	n = procfs_parse_nspid(text, ids);
	if (n != -22 && (n < 1 || n > PROCFS_MAX_NS_LEVELS))
		abort();
	for (i = 0; i < n; i++)
		if (ids[i] < 1)
			abort();
	free(text);
	return 0;
}
