// SPDX-License-Identifier: Apache-2.0
/*
 * config_record.c - the agent's "config_error" record: a pod annotation
 * whose value cannot be used (docs/kubernetes.md). Shaped like every
 * blocksnoop/v1 record (schema, type, session_id, time) and carrying the
 * pod's service and k8s metadata like its events (container and
 * container_id empty: annotations are the pod's).
 */
#include <stdio.h>
#include <time.h>

#include "k8s/agent.h"
#include "record.h"
#include "timeutil.h"

cJSON *agent_record_config_error(const struct session_info *s, const struct target_meta *meta,
				 const char *annotation, const char *value, const char *message)
{
	const struct k8s_meta *k = meta ? meta->k8s : NULL;
	struct timespec now;
	char iso[40];
	cJSON *r = cJSON_CreateObject(), *o;
	bool ok;

	if (!r)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &now);
	format_iso8601(&now, iso, sizeof(iso));
	ok = cJSON_AddStringToObject(r, "schema", RECORD_SCHEMA) &&
	     cJSON_AddStringToObject(r, "type", "config_error") &&
	     cJSON_AddStringToObject(r, "session_id", s->id) &&
	     cJSON_AddStringToObject(r, "time", iso) &&
	     cJSON_AddStringToObject(r, "level", "warning") &&
	     cJSON_AddStringToObject(r, "annotation", annotation) &&
	     cJSON_AddStringToObject(r, "value", value) &&
	     cJSON_AddStringToObject(r, "error", message);
	if (ok && meta && meta->service)
		ok = cJSON_AddStringToObject(r, "service", meta->service) != NULL;
	if (ok && k) {
		o = cJSON_AddObjectToObject(r, "k8s");
		ok = o &&
		     cJSON_AddStringToObject(o, "node", k->node ? k->node : "") &&
		     cJSON_AddStringToObject(o, "namespace", k->namespace ? k->namespace : "") &&
		     cJSON_AddStringToObject(o, "pod", k->pod ? k->pod : "") &&
		     cJSON_AddStringToObject(o, "pod_uid", k->pod_uid ? k->pod_uid : "") &&
		     cJSON_AddStringToObject(o, "container", k->container ? k->container : "") &&
		     cJSON_AddStringToObject(o, "container_id",
					     k->container_id ? k->container_id : "");
	}
	if (!ok) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}
