// SPDX-License-Identifier: Apache-2.0
/*
 * flame_speedscope.c - speedscope's file format (flame.h,
 * flame_speedscope()): the shared frames table, then one "sampled" profile
 * per thread loop whose samples are its distinct stacks (frame indices,
 * root first) and whose weights are their blocked milliseconds.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flame_internal.h"

#define SPEEDSCOPE_SCHEMA "https://www.speedscope.app/file-format-schema.json"

static cJSON *frames_table(const struct flame *f)
{
	cJSON *frames = cJSON_CreateArray();

	for (unsigned i = 0; frames && i < flame_nframes(f); i++) {
		cJSON *fr = cJSON_CreateObject();
		const char *name, *file;
		int line;

		flame_frame_at(f, i, &name, &file, &line);
		if (!fr || !cJSON_AddItemToArray(frames, fr) || !cJSON_AddStringToObject(fr, "name", name) ||
		    (file && !cJSON_AddStringToObject(fr, "file", file)) ||
		    (line > 0 && !cJSON_AddNumberToObject(fr, "line", line))) {
			cJSON_Delete(frames);
			return NULL;
		}
	}
	return frames;
}

static cJSON *profile(const struct flame *f, unsigned p)
{
	cJSON *prof = cJSON_CreateObject(), *samples, *weights;
	const char *comm;
	pid_t pid, tid;
	uint64_t us;
	char title[96];

	flame_profile_at(f, p, &pid, &tid, &comm, &us);
	if (!pid)
		snprintf(title, sizeof(title), "%s", FLAME_OTHER_THREADS);
	else
		snprintf(title, sizeof(title), "%s%spid %d tid %d", comm, comm[0] ? " " : "", pid, tid);
	if (!prof || !cJSON_AddStringToObject(prof, "type", "sampled") ||
	    !cJSON_AddStringToObject(prof, "name", title) ||
	    !cJSON_AddStringToObject(prof, "unit", "milliseconds") ||
	    !cJSON_AddNumberToObject(prof, "startValue", 0) ||
	    !cJSON_AddNumberToObject(prof, "endValue", (double)us / 1000.0) ||
	    !(samples = cJSON_AddArrayToObject(prof, "samples")) ||
	    !(weights = cJSON_AddArrayToObject(prof, "weights")))
		goto fail;
	for (unsigned i = 0; i < flame_nstacks(f); i++) {
		const uint32_t *frames;
		unsigned sp, depth;
		cJSON *stack;

		flame_stack_at(f, i, &sp, &frames, &depth, &us);
		if (sp != p)
			continue;
		stack = cJSON_CreateArray();
		if (!stack || !cJSON_AddItemToArray(samples, stack)) {
			cJSON_Delete(stack);
			goto fail;
		}
		for (unsigned d = 0; d < depth; d++)
			if (!cJSON_AddItemToArray(stack, cJSON_CreateNumber(frames[d])))
				goto fail;
		if (!cJSON_AddItemToArray(weights, cJSON_CreateNumber((double)us / 1000.0)))
			goto fail;
	}
	return prof;
fail:
	cJSON_Delete(prof);
	return NULL;
}

/* The profile with the most blocked time, which speedscope opens first. */
static unsigned busiest_profile(const struct flame *f)
{
	uint64_t best = 0, us;
	unsigned busiest = 0;
	const char *comm;
	pid_t pid, tid;

	for (unsigned p = 0; p < flame_nprofiles(f); p++) {
		flame_profile_at(f, p, &pid, &tid, &comm, &us);
		if (us > best)
			best = us, busiest = p;
	}
	return busiest;
}

char *flame_speedscope(const struct flame *f, const char *name, size_t *len)
{
	cJSON *file = cJSON_CreateObject(), *shared, *frames, *profiles;
	char *out = NULL;

	if (!file || !cJSON_AddStringToObject(file, "$schema", SPEEDSCOPE_SCHEMA) ||
	    !cJSON_AddStringToObject(file, "name", name) ||
	    !cJSON_AddStringToObject(file, "exporter", "blocksnoop " BLOCKSNOOP_VERSION) ||
	    !cJSON_AddNumberToObject(file, "activeProfileIndex", busiest_profile(f)) ||
	    !(shared = cJSON_AddObjectToObject(file, "shared")) ||
	    !(frames = frames_table(f)) || !cJSON_AddItemToObject(shared, "frames", frames) ||
	    !(profiles = cJSON_AddArrayToObject(file, "profiles")))
		goto out;
	for (unsigned p = 0; p < flame_nprofiles(f); p++) {
		cJSON *prof = profile(f, p);

		if (!prof || !cJSON_AddItemToArray(profiles, prof)) {
			cJSON_Delete(prof);
			goto out;
		}
	}
	out = cJSON_PrintUnformatted(file);
	if (out)
		*len = strlen(out);
out:
	cJSON_Delete(file);
	return out;
}
