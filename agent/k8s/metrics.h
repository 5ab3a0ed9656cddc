/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s/metrics.h - the agent's counters and their Prometheus text form
 * (text exposition format 0.0.4). Pure: no I/O, no clock; the HTTP side is
 * metrics_http.h. Unit-tested (tests/unit/test_k8s_metrics.c).
 *
 * Series per watched container are keyed by (namespace, pod, container):
 * a restarted container (new ID) keeps counting in the same series. A
 * series lives while its container is selected in the kubelet's pod list
 * (metrics_sweep_begin/metrics_series/metrics_sweep_end), so it disappears
 * with its pod, as Prometheus expects of a gone target.
 */
#ifndef BLOCKSNOOP_K8S_METRICS_H
#define BLOCKSNOOP_K8S_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gap_hist.h" /* struct loop_hist */
#include "options.h"  /* enum sampler_kind */

/* Why a poll of the kubelet failed: the reason label of
 * blocksnoop_kubelet_errors_total. */
enum kubelet_error_reason {
	KUBELET_ERR_CONNECT,      /* no connection (refused, unreachable, reset) */
	KUBELET_ERR_TIMEOUT,      /* no complete answer in time */
	KUBELET_ERR_TLS,          /* handshake or certificate verification failed */
	KUBELET_ERR_UNAUTHORIZED, /* HTTP 401: bad or missing token */
	KUBELET_ERR_FORBIDDEN,    /* HTTP 403: RBAC */
	KUBELET_ERR_HTTP,         /* any other non-200 status */
	KUBELET_ERR_PARSE,        /* 200 but not a PodList */
	KUBELET_ERR_TOKEN,        /* the token file cannot be read */
	KUBELET_ERR_OTHER,
	KUBELET_ERR_COUNT,
};

/* The label value of a reason ("connect", "timeout", ...). */
const char *kubelet_error_reason_name(enum kubelet_error_reason r);

struct metrics;

/* One container's series. Owned by the registry. */
struct metrics_series {
	char *namespace, *pod, *container;
	uint64_t events;          /* blocking events */
	uint64_t error_events;    /* of which at level error */
	double blocked_seconds;   /* sum of their durations */
	uint64_t still_blocked;   /* still_blocked reports */
	uint64_t suppressed;      /* blocking events over the pod's rate limit, not reported */
	int watched;              /* processes watched now */
	/* Its stack samplers' news, by sampler (enum sampler_kind below
	 * SAMPLER_NONE), shown for those that ever sampled one of its
	 * processes (sampler_used): a bounded label. */
	bool sampler_used[SAMPLER_NONE];
	uint64_t sampler_samples[SAMPLER_NONE];
	uint64_t sampler_restarts[SAMPLER_NONE];  /* Austin started again after it ended */
	uint64_t sampler_failures[SAMPLER_NONE];
	/* Every gap of its watched processes' loops (blocksnoop_loop_gap_seconds),
	 * added up as they are read (metrics_loop_gaps). */
	struct loop_hist loop;
	bool live;                /* marked in the current sweep */
};

/* An empty registry, or NULL when out of memory. Free with metrics_free. */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/*
 * The series of (namespace, pod, container), created (zero) if missing and
 * marked live for the current sweep. NULL when out of memory. The pointer
 * is valid until a metrics_sweep_end() that does not see it marked.
 */
struct metrics_series *metrics_series(struct metrics *m, const char *namespace,
				      const char *pod, const char *container);

/* Start a sweep: every series is unmarked. */
void metrics_sweep_begin(struct metrics *m);
/* End a sweep: series not marked since metrics_sweep_begin (and watching
 * no process) are freed. */
void metrics_sweep_end(struct metrics *m);

/* Count one blocking event of duration_ms into s. */
void metrics_event(struct metrics_series *s, double duration_ms, bool is_error);

/* Add gaps counted since the last call for the same process into s's
 * loop histogram. */
void metrics_loop_gaps(struct metrics_series *s, const struct loop_hist *gaps);

/* Count one still_blocked report into s. */
void metrics_still_blocked(struct metrics_series *s);

/* Count one blocking event into s that was suppressed (not reported). */
void metrics_suppressed(struct metrics_series *s);

/* A process of s is sampled by kind (SAMPLER_NONE: by none, nothing to
 * count): its sampler series appear in the registry's text. */
void metrics_sampler_used(struct metrics_series *s, enum sampler_kind kind);

/* Count into s's series of sampler kind: n samples, one restart of its
 * helper, one failure. Kinds out of range (SAMPLER_NONE) are ignored. */
void metrics_sampler_samples(struct metrics_series *s, enum sampler_kind kind, uint64_t n);
void metrics_sampler_restart(struct metrics_series *s, enum sampler_kind kind);
void metrics_sampler_failure(struct metrics_series *s, enum sampler_kind kind);

/* The agent-wide numbers. */
void metrics_kubelet_poll(struct metrics *m, bool ok, enum kubelet_error_reason reason,
			  double unix_time);
void metrics_config_error(struct metrics *m);
void metrics_set_lost_events(struct metrics *m, uint64_t lost);
void metrics_set_pods(struct metrics *m, unsigned watched_pods);

/*
 * The whole registry in the Prometheus text format, as a malloc'd
 * NUL-terminated string the caller frees (free()); its length in *len.
 * NULL when out of memory. Label values are escaped (\\, \", \n).
 */
char *metrics_render(const struct metrics *m, const char *version, size_t *len);

#endif
