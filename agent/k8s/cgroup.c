// SPDX-License-Identifier: Apache-2.0
/*
 * cgroup.c - container and pod of a process from its /proc/<pid>/cgroup.
 *
 * Regex-free, after SPIRE's containerinfo/extract.go (walk each path from
 * its end; the first 64-hex run is the container; "pod<UID>" before it is
 * the pod) and Falco's prefix/suffix matchers. Every byte is bounds-checked
 * against len: the text may be anything (see the fuzz target).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "cgroup.h"

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Where the last run of exactly 64 hex digits in s[0..n) starts, or -1. */
static long last_id_run(const char *s, size_t n)
{
	long found = -1;
	size_t i = 0, j;

	while (i < n) {
		if (!is_hex(s[i])) {
			i++;
			continue;
		}
		for (j = i; j < n && is_hex(s[j]); j++)
			;
		if (j - i == K8S_CONTAINER_ID_LEN)
			found = (long)i;
		i = j;
	}
	return found;
}

static bool hex_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_hex(s[i]))
			return false;
	return true;
}

/*
 * A pod UID at s[0..n): 8-4-4-4-12 hex digits separated by '-' or '_'
 * (systemd escapes '-' as '_'), or 32 hex digits (a static pod's config
 * hash), followed by the end or a character that cannot continue it.
 * Writes the normalised UID (lower case, '-') to uid and returns its
 * length in s, or 0.
 */
static size_t match_uid(const char *s, size_t n, char uid[K8S_POD_UID_MAX + 1])
{
	static const size_t groups[] = { 8, 4, 4, 4, 12 };
	size_t at = 0, out = 0;

	if (n >= 36) {
		bool ok = true;

		for (size_t g = 0; ok && g < 5; g++) {
			if (g) {
				ok = s[at] == '-' || s[at] == '_';
				uid[out++] = '-';
				at++;
			}
			ok = ok && hex_run(s + at, groups[g]);
			for (size_t k = 0; ok && k < groups[g]; k++)
				uid[out++] = lower(s[at + k]);
			at += groups[g];
		}
		if (ok && (at == n || !(is_hex(s[at]) || s[at] == '-' || s[at] == '_'))) {
			uid[out] = '\0';
			return at;
		}
	}
	if (n >= 32 && hex_run(s, 32) && (n == 32 || !(is_hex(s[32]) || s[32] == '-' ||
						       s[32] == '_'))) {
		for (size_t k = 0; k < 32; k++)
			uid[k] = lower(s[k]);
		uid[32] = '\0';
		return 32;
	}
	uid[0] = '\0';
	return 0;
}

static bool is_sep(char c)
{
	return c == '/' || c == '-' || c == '_' || c == '.' || c == ':';
}

/* The last "pod<UID>" in s[0..n) that starts it or follows a separator
 * ("kubepods-burstable-pod<UID_>.slice", "/pod<UID>/"). */
static bool find_pod_uid(const char *s, size_t n, char uid[K8S_POD_UID_MAX + 1])
{
	uid[0] = '\0';
	if (n < 3)
		return false;
	for (size_t i = n - 3 + 1; i-- > 0;) {
		if (memcmp(s + i, "pod", 3) != 0 || (i > 0 && !is_sep(s[i - 1])))
			continue;
		if (match_uid(s + i + 3, n - i - 3, uid))
			return true;
	}
	return false;
}

/* One path: 1 and *ids if it names a container, else 0. */
static int parse_path(const char *p, size_t n, struct k8s_cgroup_ids *ids)
{
	size_t end = n;

	memset(ids, 0, sizeof(*ids));
	while (end > 0) {
		size_t start = end;
		long at;

		while (start > 0 && p[start - 1] != '/')
			start--;
		/* CRI-O's container monitor lives in its own scope beside the
		 * container's: it is not the container. */
		if (end - start >= 12 && !memcmp(p + start, "crio-conmon-", 12))
			return 0;
		at = last_id_run(p + start, end - start);
		if (at >= 0) {
			size_t id_at = start + (size_t)at;

			for (size_t k = 0; k < K8S_CONTAINER_ID_LEN; k++)
				ids->container_id[k] = lower(p[id_at + k]);
			find_pod_uid(p, id_at, ids->pod_uid);
			return 1;
		}
		/* A pod's own slice below any container: this process is in
		 * the pod but in no container of it (an outer ID further up,
		 * e.g. a kind node's, is not its container). */
		{
			char uid[K8S_POD_UID_MAX + 1];

			if (find_pod_uid(p + start, end - start, uid))
				return 0;
		}
		end = start > 0 ? start - 1 : 0;
	}
	return 0;
}

static bool same(const struct k8s_cgroup_ids *a, const struct k8s_cgroup_ids *b)
{
	return !strcmp(a->container_id, b->container_id) && !strcmp(a->pod_uid, b->pod_uid);
}

int k8s_cgroup_parse(const char *text, size_t len, struct k8s_cgroup_ids *out)
{
	struct k8s_cgroup_ids with_pod, without_pod, line_ids;
	bool have_with = false, have_without = false;
	bool conflict_with = false, conflict_without = false;
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		const char *c1, *c2;

		pos += n + 1;
		/* "hierarchy-ID:controller-list:path"; the path may hold colons. */
		c1 = memchr(line, ':', n);
		c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - line)) : NULL;
		if (!c2)
			continue;
		c2++;
		if (!parse_path(c2, n - (size_t)(c2 - line), &line_ids))
			continue;
		if (line_ids.pod_uid[0]) {
			if (!have_with)
				with_pod = line_ids;
			else if (!same(&with_pod, &line_ids))
				conflict_with = true;
			have_with = true;
		} else {
			if (!have_without)
				without_pod = line_ids;
			else if (!same(&without_pod, &line_ids))
				conflict_without = true;
			have_without = true;
		}
	}
	if (have_with) {
		if (conflict_with)
			return -EINVAL;
		*out = with_pod;
		return 0;
	}
	if (have_without) {
		if (conflict_without)
			return -EINVAL;
		*out = without_pod;
		return 0;
	}
	return -ENOENT;
}
