/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s/podlist.h - the kubelet's GET /pods answer (a v1 PodList) and the
 * blocksnoop.io/ annotations of its pods, parsed with cJSON into what the
 * agent needs. Pure: text in, structs out, no I/O. Fuzzed
 * (tests/fuzz/fuzz_k8s_podlist.c) and unit-tested (test_k8s_podlist.c).
 *
 * Annotations (values are strings, as Kubernetes requires):
 *   blocksnoop.io/enabled             "true" opts the pod in ("false": out)
 *   blocksnoop.io/containers          "app,worker": which containers; default
 *                                     every app container (spec.containers)
 *   blocksnoop.io/threshold-ms        report blocks of at least this (> 0)
 *   blocksnoop.io/error-threshold-ms  blocks of at least this are "error" (>= 0)
 *   blocksnoop.io/service             the service field of its records;
 *                                     default: label app.kubernetes.io/name,
 *                                     then label app, then the owner's name
 *   blocksnoop.io/sampler             "builtin", "austin" or "none": how its
 *                                     stacks are read; default the agent's
 *                                     --sampler. One the agent does not run
 *                                     is a config error, and the default
 *                                     applies.
 * A value that cannot be used becomes a k8s_config_error of the pod and the
 * default applies. Only "enabled" is looked at on pods that are not opted in.
 *
 * Every annotation is the target's to choose, so each is bounded: a
 * threshold below the agent's floor is raised to it, a service name is
 * 1..K8S_MAX_SERVICE_LEN printable ASCII characters, a container list at
 * most K8S_MAX_CONTAINERS_LEN bytes and K8S_MAX_CONTAINER_NAMES names, a pod
 * gets at most K8S_MAX_WATCHED_CONTAINERS containers watched and at most
 * K8S_MAX_UNKNOWN_REPORTED unknown blocksnoop.io/ keys reported one by one.
 * Config errors echo a value cut to K8S_MAX_ECHOED_VALUE bytes, and their
 * messages are printable ASCII (k8s_printable): safe on a terminal.
 */
#ifndef BLOCKSNOOP_K8S_PODLIST_H
#define BLOCKSNOOP_K8S_PODLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "options.h" /* enum sampler_kind */

#define K8S_ANNOTATION_PREFIX "blocksnoop.io/"
#define K8S_ANNOTATION_ENABLED K8S_ANNOTATION_PREFIX "enabled"
#define K8S_ANNOTATION_CONTAINERS K8S_ANNOTATION_PREFIX "containers"
#define K8S_ANNOTATION_THRESHOLD K8S_ANNOTATION_PREFIX "threshold-ms"
#define K8S_ANNOTATION_ERROR_THRESHOLD K8S_ANNOTATION_PREFIX "error-threshold-ms"
#define K8S_ANNOTATION_SERVICE K8S_ANNOTATION_PREFIX "service"
#define K8S_ANNOTATION_SAMPLER K8S_ANNOTATION_PREFIX "sampler"

/* Thresholds from annotations are at most an hour. */
#define K8S_MAX_THRESHOLD_MS 3600000.0
/* Bounds on what a pod's annotations can make the agent hold or say. */
#define K8S_MAX_SERVICE_LEN 100
#define K8S_MAX_CONTAINERS_LEN 4096
#define K8S_MAX_CONTAINER_NAMES 64
#define K8S_MAX_WATCHED_CONTAINERS 64
#define K8S_MAX_UNKNOWN_REPORTED 8
#define K8S_MAX_ECHOED_VALUE 256

struct k8s_container {
	char *name;
	/* The runtime's ID from status.*ContainerStatuses[].containerID, after
	 * "<runtime>://" and in lower case (64 hex for containerd, CRI-O and
	 * docker); NULL while the container has none (Waiting). */
	char *id;
	char *runtime;     /* "containerd", "cri-o", "docker"...; NULL with id */
	bool init;         /* from spec.initContainers */
	bool selected;     /* to be watched (opted-in pods only) */
};

/* A blocksnoop.io/ annotation whose value cannot be used. */
struct k8s_config_error {
	char *annotation;  /* the key */
	char *value;       /* as given, cut to K8S_MAX_ECHOED_VALUE bytes (then
			    * "..." added); "" for a value that is not a string */
	char *message;     /* what is wrong and what is used instead; printable ASCII */
};

struct k8s_pod {
	char *uid, *namespace, *name;
	char *node;        /* spec.nodeName; NULL if absent */
	char *phase;       /* status.phase; NULL if absent */
	bool enabled;      /* blocksnoop.io/enabled: "true" */
	/* Opted-in pods only (defaults otherwise): */
	char *service;     /* NULL: no annotation, label or owner to name it */
	double threshold_ms, error_threshold_ms;
	enum sampler_kind sampler; /* one the agent runs, or SAMPLER_NONE */
	/* spec.containers, then spec.initContainers. */
	struct k8s_container *containers;
	size_t ncontainers;
	struct k8s_config_error *errors;
	size_t nerrors;
};

struct k8s_podlist {
	struct k8s_pod *pods;
	size_t npods;
	size_t skipped;    /* items that were not pods (no uid, name, namespace) */
};

/* What an annotation that is absent or bad falls back to. */
struct k8s_pod_defaults {
	double threshold_ms;
	double error_threshold_ms;
	/* A threshold annotation below this is raised to it (a config error
	 * says so); 0: no floor. */
	double min_threshold_ms;
	/* The agent's --sampler, and which samplers it runs (indexed by enum
	 * sampler_kind; SAMPLER_NONE is always possible): a pod asking for
	 * one it does not run gets a config error and the default. */
	enum sampler_kind sampler;
	bool runs[SAMPLER_NONE];
};

/*
 * Parse len bytes of a GET /pods answer. The document must be a JSON
 * object with an "items" array (null counts as empty); its "kind", if
 * present, must be "PodList" or "List" (kubectl's form). Items without a
 * uid, name or namespace are skipped and counted.
 *
 * On success returns 0 and *out, owned by the caller (k8s_podlist_free).
 * Returns -EINVAL with a one-line reason in err (no trailing newline) for
 * a document that is not a pod list, -ENOMEM when out of memory; *out is
 * then NULL.
 */
int k8s_podlist_parse(const char *json, size_t len, const struct k8s_pod_defaults *defaults,
		      struct k8s_podlist **out, char *err, size_t errlen);

/* Free a list from k8s_podlist_parse(). Accepts NULL. */
void k8s_podlist_free(struct k8s_podlist *list);

/* The pod with this UID, or NULL. The pointer is valid until list is freed. */
const struct k8s_pod *k8s_podlist_find(const struct k8s_podlist *list, const char *uid);

/*
 * Pure helper, exported for tests: a threshold annotation's value as
 * milliseconds. Accepts a plain decimal number (fractions allowed), at
 * least min_ms (exclusive if min_exclusive), at most K8S_MAX_THRESHOLD_MS.
 * Returns 0 and *ms, or -EINVAL.
 */
int k8s_parse_ms(const char *text, double min_ms, bool min_exclusive, double *ms);

/*
 * Pure. s as text that is safe on a terminal and in a log line: every byte
 * outside printable ASCII (0x20-0x7e) becomes "\xNN"; at most max_chars
 * bytes of s are shown, then "..." if there was more. Always fits in buf
 * (len >= 4) and NUL-terminates it, cutting with "..." if it must. Returns
 * buf. The pod names, values and messages this module hands out are the
 * target's: show them through this.
 */
const char *k8s_printable(const char *s, size_t max_chars, char *buf, size_t len);

/* Pure. Whether s can be a service name: 1..K8S_MAX_SERVICE_LEN bytes of
 * printable ASCII. */
bool k8s_service_name_is_valid(const char *s);

#endif
