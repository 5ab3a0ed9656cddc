// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_k8s_cgroup - container and pod of a process from arbitrary
 * /proc/<pid>/cgroup text (agent/k8s/cgroup.c). The input is passed with
 * its exact length and no terminator, so any read past it is caught. On
 * success the IDs must be what the header promises: 64 lower-case hex
 * digits, and a pod UID that is 32 hex digits or 8-4-4-4-12 with '-'.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/cgroup.h"

static int lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_cgroup_ids ids;
	char *copy = malloc(size ? size : 1);
	size_t n;
	int ret;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	ret = k8s_cgroup_parse(copy, size, &ids);
	free(copy);
	assert(ret == 0 || ret == -ENOENT || ret == -EINVAL);
	if (ret) {
		assert(!ids.container_id[0] && !ids.pod_uid[0]);
		return 0;
	}
	assert(strlen(ids.container_id) == K8S_CONTAINER_ID_LEN);
	assert(lower_hex(ids.container_id, K8S_CONTAINER_ID_LEN));
	n = strlen(ids.pod_uid);
	assert(n == 0 || n == 32 || n == 36);
	if (n == 32)
		assert(lower_hex(ids.pod_uid, 32));
	if (n == 36)
		for (size_t i = 0; i < 36; i++)
			assert((i == 8 || i == 13 || i == 18 || i == 23) ? ids.pod_uid[i] == '-'
									 : lower_hex(ids.pod_uid + i, 1));
	return 0;
}
