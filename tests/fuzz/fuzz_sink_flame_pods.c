// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_sink_flame_pods - the file names of a pod's flame graphs
 * (sink_flame_pod_base(), agent/sink_flame_pods.c) from any namespace and
 * pod name a kubelet could report. The input is up to four NUL-separated
 * strings: namespace and pod of one pod, then of another. Each name must
 * be one safe component (no '/', not hidden, so never "." or ".."; only
 * name bytes and '_'), bounded, still a name atomic_file_write() takes with
 * either suffix, and two different pods must never share a name, however
 * alike their names sanitise.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "sink.h"

/* The next NUL-terminated string of the input (the rest if no NUL); "" once
 * it is used up. */
static const char *next_string(const char **p, const char *end)
{
	const char *s = *p;

	if (s >= end)
		return "";
	*p = s + strlen(s) + 1;
	return s;
}

static void check_base(const char *base)
{
	size_t n = strnlen(base, SINK_FLAME_BASE_LEN);
	char name[SINK_FLAME_BASE_LEN + 32];

	assert(n > 0 && n < SINK_FLAME_BASE_LEN);
	/* 63 + "_" + 100 + "_x" + 16 hex digits. */
	assert(n <= 63 + 1 + 100 + 2 + 16);
	assert(base[0] != '.');
	assert(strcmp(base, ".") && strcmp(base, ".."));
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)base[i];

		assert((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		       c == '-' || c == '.' || c == '_');
	}
	snprintf(name, sizeof(name), "%s.folded", base);
	assert(atomic_file_name_ok(name));
	snprintf(name, sizeof(name), "%s.speedscope.json", base);
	assert(atomic_file_name_ok(name));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	const char *p = copy, *end = copy + size;
	const char *ns1, *pod1, *ns2, *pod2;
	char base1[SINK_FLAME_BASE_LEN], base2[SINK_FLAME_BASE_LEN], again[SINK_FLAME_BASE_LEN];

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	ns1 = next_string(&p, end);
	pod1 = next_string(&p, end);
	ns2 = next_string(&p, end);
	pod2 = next_string(&p, end);
	sink_flame_pod_base(ns1, pod1, base1);
	sink_flame_pod_base(ns2, pod2, base2);
	check_base(base1);
	check_base(base2);
	/* Pure: the same pod, the same files. */
	sink_flame_pod_base(ns1, pod1, again);
	assert(!strcmp(base1, again));
	/* Two pods, two names (a 64-bit hash apart when their names are
	 * changed; a fuzzer does not find a collision of it). */
	assert(!strcmp(ns1, ns2) && !strcmp(pod1, pod2) ? !strcmp(base1, base2) : strcmp(base1, base2));
	free(copy);
	return 0;
}
