// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_k8s_podlist - the kubelet's PodList and the blocksnoop.io/
 * annotations from arbitrary bytes (agent/k8s/podlist.c), passed with
 * their exact length and no terminator. A parsed list must be internally
 * sound: every pod has uid, name and namespace; settings are within their
 * limits; selected containers have names; config errors are complete; and
 * every pod can be found again by its UID.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/podlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct k8s_pod_defaults defaults = { 100, 500 };
	struct k8s_podlist *list = NULL;
	char err[256], *copy = malloc(size ? size : 1);
	int ret;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	ret = k8s_podlist_parse(copy, size, &defaults, &list, err, sizeof(err));
	free(copy);
	assert(ret == 0 || ret == -EINVAL || ret == -ENOMEM);
	if (ret) {
		assert(!list && err[0]);
		return 0;
	}
	for (size_t i = 0; i < list->npods; i++) {
		const struct k8s_pod *p = &list->pods[i];

		assert(p->uid[0] && p->name[0] && p->namespace[0]);
		assert(k8s_podlist_find(list, p->uid) != NULL);
		assert(p->threshold_ms > 0 && p->threshold_ms <= K8S_MAX_THRESHOLD_MS);
		assert(p->error_threshold_ms >= 0 && p->error_threshold_ms <= K8S_MAX_THRESHOLD_MS);
		assert(!p->service || p->service[0]);
		for (size_t c = 0; c < p->ncontainers; c++) {
			const struct k8s_container *ct = &p->containers[c];

			assert(ct->name && ct->name[0]);
			assert(!ct->selected || p->enabled);
			assert(!ct->id || ct->id[0]);
		}
		for (size_t e = 0; e < p->nerrors; e++)
			assert(p->errors[e].annotation && p->errors[e].value && p->errors[e].message &&
			       !strncmp(p->errors[e].annotation, K8S_ANNOTATION_PREFIX,
					strlen(K8S_ANNOTATION_PREFIX)));
	}
	k8s_podlist_free(list);
	return 0;
}
