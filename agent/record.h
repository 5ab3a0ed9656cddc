/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record.h - the versioned JSON records blocksnoop emits (docs/output-schema.md).
 * Built once per occurrence and handed to every sink. Pure.
 *
 * Every function returns a new cJSON object owned by the caller
 * (cJSON_Delete), or NULL when out of memory.
 */
#ifndef BLOCKSNOOP_RECORD_H
#define BLOCKSNOOP_RECORD_H

#include <cjson/cJSON.h>

#include "event.h"
#include "histogram.h"
#include "session_info.h"
#include "summary.h"

#define RECORD_SCHEMA "blocksnoop/v1"
/*
 * schema_version, on every record beside schema: the number a reader of
 * the earlier Python blocksnoop compares (its records carried
 * "schema_version": 1). It moves with RECORD_SCHEMA: v1 is 1.
 */
#define RECORD_SCHEMA_VERSION 1
/* Call sites listed in a session summary. */
#define RECORD_TOP_CALL_SITES 5

/* type "session_start". */
cJSON *record_session_start(const struct session_info *s);

/* type "blocking_event". */
cJSON *record_blocking_event(const struct session_info *s,
			     const struct blocking_event *e);

/* type "still_blocked": a block in progress. */
cJSON *record_still_blocked(const struct session_info *s, const struct still_blocked *b);

/*
 * type "config_error" (agent mode): a pod annotation whose value cannot be
 * used (annotation, value, error), with the pod's service and k8s tags.
 */
cJSON *record_config_error(const struct session_info *s, const struct target_meta *meta,
			   const char *annotation, const char *value, const char *message);

/*
 * type "events_suppressed" (agent mode): count blocking events of a pod
 * were over its rate limit and not reported since its last such record
 * (total since the agent first saw the pod), with the limit and the pod's
 * service and k8s tags.
 */
cJSON *record_events_suppressed(const struct session_info *s, const struct target_meta *meta,
				 uint64_t count, uint64_t total, double max_per_s,
				 unsigned burst);

/* type "stats": one per second in stats mode. */
cJSON *record_stats(const struct session_info *s, const struct stats_snapshot *snap);

/* type "session_summary"; stats (may be NULL) adds the final distribution.
 * The call sites and processes must be sorted already
 * (summary_top_call_sites, summary_top_processes). */
cJSON *record_session_summary(const struct session_info *s,
			      const struct session_summary *sum,
			      const struct stats_snapshot *stats);

/*
 * The --log-file form of any record above: a copy with the fields log
 * shippers expect (timestamp, level, message, service, env, source, dd).
 */
cJSON *record_for_log(const struct session_info *s, const cJSON *record);

/* Serialise a record as one line ending in '\n'. Caller frees (free()). */
char *record_to_line(const cJSON *record);

#endif
