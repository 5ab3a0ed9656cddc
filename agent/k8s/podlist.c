// SPDX-License-Identifier: Apache-2.0
/*
 * podlist.c - the kubelet's PodList and blocksnoop's pod annotations.
 *
 * The kubelet encodes /pods as a v1 PodList ({"kind":"PodList",
 * "apiVersion":"v1","metadata":{},"items":[...]}); kubectl's "-o json" of
 * several objects says "kind":"List". Only "items" is relied on. Fields read
 * (docs/kubernetes.md has an example):
 *   metadata.{uid,name,namespace,labels,annotations,ownerReferences}
 *   spec.{nodeName,containers[].name,initContainers[].name}
 *   status.{phase,containerStatuses[],initContainerStatuses[]}.{name,containerID}
 * Anything else may be absent, null or of another type: such a field is
 * ignored, never trusted.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "podlist.h"

#define K8S_STR_(x) #x
#define K8S_STR(x) K8S_STR_(x)

struct parse {
	const struct k8s_pod_defaults *defaults;
	bool oom;
};

static char *dup_or_oom(struct parse *p, const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		p->oom = true;
	return d;
}

/* obj[name] if it is a string, else NULL. */
static const char *str_item(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

static bool nonempty(const char *s)
{
	return s && *s;
}

/* How much of a value a message quotes. */
#define QUOTED 64

const char *k8s_printable(const char *s, size_t max_chars, char *buf, size_t len)
{
	size_t used = 0, i;

	if (len < 4) {
		if (len)
			buf[0] = '\0';
		return buf;
	}
	for (i = 0; s[i] && i < max_chars; i++) {
		unsigned char c = (unsigned char)s[i];
		bool plain = c >= 0x20 && c < 0x7f;

		/* Keep room for this character, "..." and the NUL. */
		if (used + (plain ? 1 : 4) + 4 > len)
			break;
		if (plain)
			buf[used++] = (char)c;
		else
			used += (size_t)snprintf(buf + used, len - used, "\\x%02x", c);
	}
	if (s[i]) {
		memcpy(buf + used, "...", 3);
		used += 3;
	}
	buf[used] = '\0';
	return buf;
}

bool k8s_service_name_is_valid(const char *s)
{
	size_t n = 0;

	for (; s && s[n]; n++)
		if (n >= K8S_MAX_SERVICE_LEN || (unsigned char)s[n] < 0x20 ||
		    (unsigned char)s[n] >= 0x7f)
			return false;
	return n > 0;
}

/* A value as messages quote it: printable, at most QUOTED characters. */
struct quoted {
	char text[4 * QUOTED + 4];
};

static const char *quote(struct quoted *q, const char *value)
{
	return k8s_printable(value, QUOTED, q->text, sizeof(q->text));
}

/* A value as a config error echoes it: at most K8S_MAX_ECHOED_VALUE bytes,
 * cut before a UTF-8 continuation byte, then "..." if cut. */
static char *echoed_value(struct parse *p, const char *value)
{
	size_t n = strlen(value);
	char *d;

	if (n <= K8S_MAX_ECHOED_VALUE)
		return dup_or_oom(p, value);
	n = K8S_MAX_ECHOED_VALUE;
	while (n && ((unsigned char)value[n] & 0xc0) == 0x80)
		n--;
	d = malloc(n + sizeof("..."));
	if (!d) {
		p->oom = true;
		return NULL;
	}
	memcpy(d, value, n);
	memcpy(d + n, "...", sizeof("..."));
	return d;
}

int k8s_parse_ms(const char *text, double min_ms, bool min_exclusive, double *ms)
{
	size_t len, digits = 0, dots = 0;
	char buf[32], *end;
	double v;

	while (*text == ' ' || *text == '\t')
		text++;
	len = strlen(text);
	while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (!len || len >= sizeof(buf))
		return -EINVAL;
	/* Plain decimals only: no sign, exponent, hex, inf or nan. */
	for (size_t i = 0; i < len; i++) {
		if (text[i] >= '0' && text[i] <= '9')
			digits++;
		else if (text[i] == '.')
			dots++;
		else
			return -EINVAL;
	}
	if (!digits || dots > 1)
		return -EINVAL;
	memcpy(buf, text, len);
	buf[len] = '\0';
	errno = 0;
	v = strtod(buf, &end);
	if (errno || *end || v > K8S_MAX_THRESHOLD_MS || v < min_ms ||
	    (min_exclusive && v == min_ms))
		return -EINVAL;
	*ms = v;
	return 0;
}

/* Record a bad annotation on pod. */
static void config_error(struct parse *p, struct k8s_pod *pod, const char *key,
			 const cJSON *value, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void config_error(struct parse *p, struct k8s_pod *pod, const char *key,
			 const cJSON *value, const char *fmt, ...)
{
	struct k8s_config_error *errs, *e;
	char raw[768], message[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* Names from the annotation are in it too: printable only. */
	k8s_printable(raw, sizeof(raw), message, sizeof(message));
	errs = realloc(pod->errors, (pod->nerrors + 1) * sizeof(*errs));
	if (!errs) {
		p->oom = true;
		return;
	}
	pod->errors = errs;
	e = &errs[pod->nerrors++];
	e->annotation = dup_or_oom(p, key);
	e->value = echoed_value(p, cJSON_IsString(value) && value->valuestring
					   ? value->valuestring : "");
	e->message = dup_or_oom(p, message);
}

/* "containerd://<id>" into runtime and id (lower case). */
static void set_container_id(struct parse *p, struct k8s_container *c, const char *cid)
{
	const char *sep;

	if (!nonempty(cid))
		return;
	sep = strstr(cid, "://");
	if (sep) {
		c->runtime = strndup(cid, (size_t)(sep - cid));
		if (!c->runtime)
			p->oom = true;
		cid = sep + 3;
	}
	if (!*cid)
		return;
	c->id = dup_or_oom(p, cid);
	for (char *q = c->id; q && *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
}

/* The containerID of container name in a *ContainerStatuses array. */
static const char *status_id(const cJSON *statuses, const char *name)
{
	const cJSON *s;

	cJSON_ArrayForEach(s, statuses) {
		const char *n = str_item(s, "name");

		if (n && !strcmp(n, name))
			return str_item(s, "containerID");
	}
	return NULL;
}

static void add_containers(struct parse *p, struct k8s_pod *pod, const cJSON *specs,
			   const cJSON *statuses, bool init)
{
	const cJSON *spec;
	int n = cJSON_GetArraySize(specs);
	struct k8s_container *cs;

	if (!cJSON_IsArray(specs) || n <= 0)
		return;
	cs = realloc(pod->containers, (pod->ncontainers + (size_t)n) * sizeof(*cs));
	if (!cs) {
		p->oom = true;
		return;
	}
	pod->containers = cs;
	cJSON_ArrayForEach(spec, specs) {
		const char *name = str_item(spec, "name");
		struct k8s_container *c;

		if (!nonempty(name))
			continue;
		c = &pod->containers[pod->ncontainers++];
		memset(c, 0, sizeof(*c));
		c->name = dup_or_oom(p, name);
		c->init = init;
		if (cJSON_IsArray(statuses))
			set_container_id(p, c, status_id(statuses, name));
	}
}

static struct k8s_container *container_named(struct k8s_pod *pod, const char *name, size_t len)
{
	for (size_t i = 0; i < pod->ncontainers; i++)
		if (pod->containers[i].name && strlen(pod->containers[i].name) == len &&
		    !strncmp(pod->containers[i].name, name, len))
			return &pod->containers[i];
	return NULL;
}

/* Append s to buf (a ", "-separated list), never overflowing. */
static void list_append(char *buf, size_t len, const char *s, size_t slen)
{
	size_t used = strlen(buf);

	if (used + 1 >= len)
		return;
	snprintf(buf + used, len - used, "%s%.*s", used ? ", " : "", (int)slen, s);
}

/* The app containers (spec.containers), as text for messages. */
static void app_container_names(const struct k8s_pod *pod, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < pod->ncontainers; i++)
		if (!pod->containers[i].init && pod->containers[i].name)
			list_append(buf, len, pod->containers[i].name, strlen(pod->containers[i].name));
	if (!buf[0])
		snprintf(buf, len, "none");
}

/* A blocksnoop.io/containers value longer or with more names than a pod
 * can have: said, and true (the default applies). */
static bool oversized_list_refused(struct parse *p, struct k8s_pod *pod, const cJSON *value)
{
	const char *text = value->valuestring;
	size_t len = strlen(text), names = 1;

	for (const char *c = text; *c; c++)
		names += *c == ',';
	if (len <= K8S_MAX_CONTAINERS_LEN && names <= K8S_MAX_CONTAINER_NAMES)
		return false;
	config_error(p, pod, K8S_ANNOTATION_CONTAINERS, value,
		     "the list is %zu bytes with %zu names, more than a pod can have (at most %d bytes, %d names); watching every app container",
		     len, names, K8S_MAX_CONTAINERS_LEN, K8S_MAX_CONTAINER_NAMES);
	return true;
}

/* At most K8S_MAX_WATCHED_CONTAINERS containers of a pod are watched: the
 * first ones selected. */
static void limit_selected(struct parse *p, struct k8s_pod *pod, const cJSON *value)
{
	size_t selected = 0;

	for (size_t i = 0; i < pod->ncontainers; i++) {
		if (!pod->containers[i].selected)
			continue;
		if (++selected > K8S_MAX_WATCHED_CONTAINERS)
			pod->containers[i].selected = false;
	}
	if (selected > K8S_MAX_WATCHED_CONTAINERS)
		config_error(p, pod, K8S_ANNOTATION_CONTAINERS, value,
			     "%zu containers selected; watching the first %d", selected,
			     K8S_MAX_WATCHED_CONTAINERS);
}

/* blocksnoop.io/containers; default: every app container. */
static void select_containers(struct parse *p, struct k8s_pod *pod, const cJSON *value)
{
	char unknown[256] = "", chosen[256] = "", all[256];
	const char *text, *at;
	size_t known = 0;

	if (value && cJSON_IsString(value) && value->valuestring &&
	    oversized_list_refused(p, pod, value))
		value = NULL; /* said why; the default applies */
	for (size_t i = 0; value && i < pod->ncontainers; i++)
		pod->containers[i].selected = false;
	if (value && cJSON_IsString(value) && value->valuestring) {
		text = value->valuestring;
		for (at = text; *at;) {
			const char *end = strchr(at, ','), *s = at, *e;
			struct k8s_container *c;

			if (!end)
				end = at + strlen(at);
			e = end;
			while (s < e && (*s == ' ' || *s == '\t'))
				s++;
			while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			if (e > s) {
				c = container_named(pod, s, (size_t)(e - s));
				if (c) {
					if (!c->selected)
						list_append(chosen, sizeof(chosen), s, (size_t)(e - s));
					c->selected = true;
					known++;
				} else {
					list_append(unknown, sizeof(unknown), s, (size_t)(e - s));
				}
			}
			at = *end ? end + 1 : end;
		}
	}
	if (value && known && !unknown[0]) {
		limit_selected(p, pod, value);
		return;
	}
	app_container_names(pod, all, sizeof(all));
	if (value && known) {
		config_error(p, pod, K8S_ANNOTATION_CONTAINERS, value,
			     "no container named %s in the pod (its containers: %s); watching %s",
			     unknown, all, chosen);
		limit_selected(p, pod, value);
		return;
	}
	if (value) {
		if (!cJSON_IsString(value))
			config_error(p, pod, K8S_ANNOTATION_CONTAINERS, value,
				     "the value is not a string; watching every app container (%s)", all);
		else if (unknown[0])
			config_error(p, pod, K8S_ANNOTATION_CONTAINERS, value,
				     "no container named %s in the pod (its containers: %s); watching every app container",
				     unknown, all);
		else
			config_error(p, pod, K8S_ANNOTATION_CONTAINERS, value,
				     "names no container; watching every app container (%s)", all);
	}
	for (size_t i = 0; i < pod->ncontainers; i++)
		pod->containers[i].selected = !pod->containers[i].init;
	limit_selected(p, pod, value);
}

/* The name of the pod's owner (its controller if it has one); a
 * ReplicaSet's pod-template-hash suffix is dropped, which gives the name of
 * the Deployment that owns it. */
static char *owner_name(struct parse *p, const cJSON *meta, const cJSON *labels)
{
	const cJSON *refs = cJSON_GetObjectItemCaseSensitive(meta, "ownerReferences"), *r;
	const cJSON *chosen = NULL;
	const cJSON *list = cJSON_IsArray(refs) ? refs : NULL;
	const char *name, *kind, *hash;
	size_t nlen, hlen;

	cJSON_ArrayForEach(r, list) {
		if (!cJSON_IsObject(r) || !nonempty(str_item(r, "name")))
			continue;
		if (!chosen || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "controller"))) {
			bool controller = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "controller"));

			chosen = r;
			if (controller)
				break;
		}
	}
	if (!chosen)
		return NULL;
	name = str_item(chosen, "name");
	kind = str_item(chosen, "kind");
	if (!k8s_service_name_is_valid(name))
		return NULL;
	hash = str_item(labels, "pod-template-hash");
	nlen = strlen(name);
	if (kind && !strcmp(kind, "ReplicaSet") && nonempty(hash)) {
		hlen = strlen(hash);
		if (nlen > hlen + 1 && name[nlen - hlen - 1] == '-' &&
		    !strcmp(name + nlen - hlen, hash)) {
			char *d = strndup(name, nlen - hlen - 1);

			if (!d)
				p->oom = true;
			return d;
		}
	}
	return dup_or_oom(p, name);
}

static char *default_service(struct parse *p, const cJSON *meta, const cJSON *labels)
{
	const char *v = str_item(labels, "app.kubernetes.io/name");

	if (!k8s_service_name_is_valid(v))
		v = str_item(labels, "app");
	if (k8s_service_name_is_valid(v))
		return dup_or_oom(p, v);
	return owner_name(p, meta, labels);
}

/* A threshold annotation: a number of ms (> 0 if exclusive, else >= 0),
 * raised to floor_ms if below it. */
static void threshold_annotation(struct parse *p, struct k8s_pod *pod, const cJSON *annotations,
				 const char *key, bool exclusive, double dflt, double floor_ms,
				 double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(annotations, key);
	const char *text = cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
	struct quoted q;
	double ms;

	*out = dflt;
	if (!v)
		return;
	if (text && !k8s_parse_ms(text, 0, exclusive, &ms)) {
		if (ms >= floor_ms) {
			*out = ms;
			return;
		}
		/* The agent's floor, not the pod's wish: one pod must not make
		 * every short gap of its loop an event. */
		*out = floor_ms;
		config_error(p, pod, key, v,
			     "'%s' is below the agent's minimum of %g ms (--min-threshold); using %g",
			     quote(&q, text), floor_ms, floor_ms);
		return;
	}
	config_error(p, pod, key, v,
		     "'%s' is not a number of milliseconds %s 0 and <= %.0f; using %g",
		     text ? quote(&q, text) : "(not a string)",
		     exclusive ? ">" : ">=", K8S_MAX_THRESHOLD_MS, dflt);
}

/* The agent's sampler flags, as its options name them. */
static const char *sampler_option(enum sampler_kind kind)
{
	return kind == SAMPLER_AUSTIN ? "--sampler austin, or make Austin available with --austin or --austin-root"
				      : "--sampler builtin or --sampler austin";
}

/* blocksnoop.io/sampler: one of the samplers the agent runs; default the
 * agent's. */
static void sampler_annotation(struct parse *p, struct k8s_pod *pod, const cJSON *annotations)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(annotations, K8S_ANNOTATION_SAMPLER);
	const char *text = cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
	const char *dflt = sampler_kind_name(p->defaults->sampler);
	enum sampler_kind kind;
	struct quoted q;

	pod->sampler = p->defaults->sampler;
	if (!v)
		return;
	if (!text || !sampler_kind_parse(text, &kind)) {
		config_error(p, pod, K8S_ANNOTATION_SAMPLER, v,
			     "'%s' is not builtin, austin or none; using the agent's default (%s)",
			     text ? quote(&q, text) : "(not a string)", dflt ? dflt : "none");
		return;
	}
	if (kind != SAMPLER_NONE && !p->defaults->runs[kind]) {
		config_error(p, pod, K8S_ANNOTATION_SAMPLER, v,
			     "this agent does not run the %s sampler (it would with %s); using the agent's default (%s)",
			     sampler_kind_name(kind), sampler_option(kind), dflt ? dflt : "none");
		return;
	}
	pod->sampler = kind;
}

/* The settings of an opted-in pod. */
static void pod_settings(struct parse *p, struct k8s_pod *pod, const cJSON *meta,
			 const cJSON *labels, const cJSON *annotations)
{
	static const char *const known[] = {
		K8S_ANNOTATION_ENABLED, K8S_ANNOTATION_CONTAINERS, K8S_ANNOTATION_THRESHOLD,
		K8S_ANNOTATION_ERROR_THRESHOLD, K8S_ANNOTATION_SERVICE, K8S_ANNOTATION_SAMPLER,
	};
	const size_t prefix = strlen(K8S_ANNOTATION_PREFIX);
	const cJSON *a, *service;
	size_t unknown = 0;

	threshold_annotation(p, pod, annotations, K8S_ANNOTATION_THRESHOLD, true,
			     p->defaults->threshold_ms, p->defaults->min_threshold_ms,
			     &pod->threshold_ms);
	threshold_annotation(p, pod, annotations, K8S_ANNOTATION_ERROR_THRESHOLD, false,
			     p->defaults->error_threshold_ms, 0, &pod->error_threshold_ms);
	sampler_annotation(p, pod, annotations);

	pod->service = default_service(p, meta, labels);
	service = cJSON_GetObjectItemCaseSensitive(annotations, K8S_ANNOTATION_SERVICE);
	if (service) {
		const char *s = cJSON_IsString(service) ? service->valuestring : NULL;

		while (s && (*s == ' ' || *s == '\t'))
			s++;
		if (k8s_service_name_is_valid(s)) {
			free(pod->service);
			pod->service = dup_or_oom(p, s);
		} else {
			config_error(p, pod, K8S_ANNOTATION_SERVICE, service,
				     "%s; using %s",
				     !s ? "the value is not a string"
					: !*s ? "the service name is empty"
					      : "not a service name (1 to " K8S_STR(K8S_MAX_SERVICE_LEN)
						" printable ASCII characters)",
				     pod->service ? pod->service : "the agent's --service");
		}
	}

	select_containers(p, pod, cJSON_GetObjectItemCaseSensitive(annotations,
								    K8S_ANNOTATION_CONTAINERS));

	cJSON_ArrayForEach(a, annotations) {
		bool ok = false;

		if (!a->string || strncmp(a->string, K8S_ANNOTATION_PREFIX, prefix) != 0)
			continue;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok = ok || !strcmp(a->string, known[i]);
		if (!ok && ++unknown <= K8S_MAX_UNKNOWN_REPORTED)
			config_error(p, pod, a->string, a,
				     "unknown annotation (blocksnoop.io/ knows enabled, containers, threshold-ms, error-threshold-ms, service and sampler); ignored");
	}
	/* Each is said once, but a pod could have thousands. */
	if (unknown > K8S_MAX_UNKNOWN_REPORTED)
		config_error(p, pod, K8S_ANNOTATION_PREFIX "*", NULL,
			     "%zu more unknown blocksnoop.io/ annotations; ignored",
			     unknown - K8S_MAX_UNKNOWN_REPORTED);
}

static void pod_free(struct k8s_pod *pod)
{
	for (size_t i = 0; i < pod->ncontainers; i++) {
		free(pod->containers[i].name);
		free(pod->containers[i].id);
		free(pod->containers[i].runtime);
	}
	free(pod->containers);
	for (size_t i = 0; i < pod->nerrors; i++) {
		free(pod->errors[i].annotation);
		free(pod->errors[i].value);
		free(pod->errors[i].message);
	}
	free(pod->errors);
	free(pod->uid);
	free(pod->namespace);
	free(pod->name);
	free(pod->node);
	free(pod->phase);
	free(pod->service);
}

/* One item into pod; false if it is not a pod (skipped). */
static bool parse_pod(struct parse *p, const cJSON *item, struct k8s_pod *pod)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(item, "metadata");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(item, "spec");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(item, "status");
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(meta, "labels");
	const cJSON *annotations = cJSON_GetObjectItemCaseSensitive(meta, "annotations");
	const cJSON *enabled;
	const char *uid = str_item(meta, "uid"), *name = str_item(meta, "name");
	const char *ns = str_item(meta, "namespace");

	memset(pod, 0, sizeof(*pod));
	if (!cJSON_IsObject(item) || !nonempty(uid) || !nonempty(name) || !nonempty(ns))
		return false;
	if (!cJSON_IsObject(labels))
		labels = NULL;
	if (!cJSON_IsObject(annotations))
		annotations = NULL;
	pod->uid = dup_or_oom(p, uid);
	pod->name = dup_or_oom(p, name);
	pod->namespace = dup_or_oom(p, ns);
	pod->node = dup_or_oom(p, str_item(spec, "nodeName"));
	pod->phase = dup_or_oom(p, str_item(status, "phase"));
	pod->threshold_ms = p->defaults->threshold_ms;
	pod->error_threshold_ms = p->defaults->error_threshold_ms;
	pod->sampler = p->defaults->sampler;
	add_containers(p, pod, cJSON_GetObjectItemCaseSensitive(spec, "containers"),
		       cJSON_GetObjectItemCaseSensitive(status, "containerStatuses"), false);
	add_containers(p, pod, cJSON_GetObjectItemCaseSensitive(spec, "initContainers"),
		       cJSON_GetObjectItemCaseSensitive(status, "initContainerStatuses"), true);

	enabled = cJSON_GetObjectItemCaseSensitive(annotations, K8S_ANNOTATION_ENABLED);
	if (enabled) {
		const char *v = cJSON_IsString(enabled) ? enabled->valuestring : NULL;

		struct quoted q;

		if (v && !strcasecmp(v, "true"))
			pod->enabled = true;
		else if (!v || strcasecmp(v, "false") != 0)
			config_error(p, pod, K8S_ANNOTATION_ENABLED, enabled,
				     "'%s' is neither \"true\" nor \"false\"; the pod is not watched",
				     v ? quote(&q, v) : "(not a string)");
	}
	if (pod->enabled)
		pod_settings(p, pod, meta, labels, annotations);
	return true;
}

int k8s_podlist_parse(const char *json, size_t len, const struct k8s_pod_defaults *defaults,
		      struct k8s_podlist **out, char *err, size_t errlen)
{
	struct parse p = { .defaults = defaults };
	struct k8s_podlist *list = NULL;
	const cJSON *kind, *items, *item;
	cJSON *doc;
	int n, ret = 0;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	doc = cJSON_ParseWithLength(json, len);
	if (!doc) {
		snprintf(err, errlen, "the answer is not JSON (%zu bytes)", len);
		return -EINVAL;
	}
	if (!cJSON_IsObject(doc)) {
		snprintf(err, errlen, "the answer is not a JSON object");
		ret = -EINVAL;
		goto out;
	}
	kind = cJSON_GetObjectItemCaseSensitive(doc, "kind");
	if (kind && (!cJSON_IsString(kind) ||
		     (strcmp(kind->valuestring, "PodList") && strcmp(kind->valuestring, "List")))) {
		snprintf(err, errlen, "the answer is a %.64s, not a PodList",
			 cJSON_IsString(kind) ? kind->valuestring : "document of unknown kind");
		ret = -EINVAL;
		goto out;
	}
	items = cJSON_GetObjectItemCaseSensitive(doc, "items");
	if (!items || (!cJSON_IsArray(items) && !cJSON_IsNull(items))) {
		snprintf(err, errlen, "the answer has no \"items\" list");
		ret = -EINVAL;
		goto out;
	}
	list = calloc(1, sizeof(*list));
	n = cJSON_IsArray(items) ? cJSON_GetArraySize(items) : 0;
	if (!list || (n > 0 && !(list->pods = calloc((size_t)n, sizeof(*list->pods))))) {
		ret = -ENOMEM;
		goto out;
	}
	if (!cJSON_IsArray(items))
		items = NULL;
	cJSON_ArrayForEach(item, items) {
		struct k8s_pod *pod = &list->pods[list->npods];

		if (parse_pod(&p, item, pod)) {
			list->npods++;
		} else {
			pod_free(pod);
			list->skipped++;
		}
		if (p.oom)
			break;
	}
	if (p.oom)
		ret = -ENOMEM;
out:
	cJSON_Delete(doc);
	if (ret) {
		if (ret == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		k8s_podlist_free(list);
		return ret;
	}
	*out = list;
	return 0;
}

void k8s_podlist_free(struct k8s_podlist *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->npods; i++)
		pod_free(&list->pods[i]);
	free(list->pods);
	free(list);
}

const struct k8s_pod *k8s_podlist_find(const struct k8s_podlist *list, const char *uid)
{
	for (size_t i = 0; list && i < list->npods; i++)
		if (!strcmp(list->pods[i].uid, uid))
			return &list->pods[i];
	return NULL;
}
