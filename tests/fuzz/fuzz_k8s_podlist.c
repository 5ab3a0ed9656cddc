// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_k8s_podlist - the kubelet's PodList and the blocksnoop.io/
 * annotations from arbitrary bytes (agent/k8s/podlist.c), passed with
 * their exact length and no terminator. A parsed list must be internally
 * sound: every pod has uid, name and namespace; settings are within their
 * limits (thresholds at or over the floor, service names valid); selected
 * containers have names; config errors are complete, bounded and printable;
 * and every pod can be found again by its UID.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/podlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct k8s_pod_defaults defaults = {
		.threshold_ms = 100, .error_threshold_ms = 500, .min_threshold_ms = 10,
		/* Austin not run: blocksnoop.io/sampler takes both paths. */
		.sampler = SAMPLER_BUILTIN, .runs = { [SAMPLER_BUILTIN] = true },
	};
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
		size_t selected = 0;

		assert(p->uid[0] && p->name[0] && p->namespace[0]);
		assert(k8s_podlist_find(list, p->uid) != NULL);
		assert(p->threshold_ms >= defaults.min_threshold_ms &&
		       p->threshold_ms <= K8S_MAX_THRESHOLD_MS);
		assert(p->error_threshold_ms >= 0 && p->error_threshold_ms <= K8S_MAX_THRESHOLD_MS);
		assert(!p->service || k8s_service_name_is_valid(p->service));
		for (size_t c = 0; c < p->ncontainers; c++) {
			const struct k8s_container *ct = &p->containers[c];

			assert(ct->name && ct->name[0]);
			assert(!ct->selected || p->enabled);
			selected += ct->selected;
			assert(!ct->id || ct->id[0]);
		}
		assert(selected <= K8S_MAX_WATCHED_CONTAINERS);
		for (size_t e = 0; e < p->nerrors; e++) {
			assert(p->errors[e].annotation && p->errors[e].value && p->errors[e].message &&
			       !strncmp(p->errors[e].annotation, K8S_ANNOTATION_PREFIX,
					strlen(K8S_ANNOTATION_PREFIX)));
			assert(strlen(p->errors[e].value) <= K8S_MAX_ECHOED_VALUE + 3);
			for (const char *m = p->errors[e].message; *m; m++)
				assert(*m >= 0x20 && *m < 0x7f);
		}
	}
	k8s_podlist_free(list);
	return 0;
}
