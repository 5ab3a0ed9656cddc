// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/metrics.h"
#include "prom_text.h"

struct metrics {
	struct metrics_series **series;
	size_t nseries, cap;
	uint64_t kubelet_polls;
	uint64_t kubelet_errors[KUBELET_ERR_COUNT];
	bool kubelet_up;
	double kubelet_last_success; /* unix time; 0 = never */
	uint64_t config_errors;
	uint64_t lost_events;
	unsigned watched_pods;
};

static const char *const reason_names[KUBELET_ERR_COUNT] = {
	[KUBELET_ERR_CONNECT] = "connect",
	[KUBELET_ERR_TIMEOUT] = "timeout",
	[KUBELET_ERR_TLS] = "tls",
	[KUBELET_ERR_UNAUTHORIZED] = "unauthorized",
	[KUBELET_ERR_FORBIDDEN] = "forbidden",
	[KUBELET_ERR_HTTP] = "http",
	[KUBELET_ERR_PARSE] = "parse",
	[KUBELET_ERR_TOKEN] = "token",
	[KUBELET_ERR_OTHER] = "other",
};

const char *kubelet_error_reason_name(enum kubelet_error_reason r)
{
	return r >= 0 && r < KUBELET_ERR_COUNT ? reason_names[r] : "other";
}

struct metrics *metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

static void series_free(struct metrics_series *s)
{
	if (!s)
		return;
	free(s->namespace);
	free(s->pod);
	free(s->container);
	free(s);
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nseries; i++)
		series_free(m->series[i]);
	free(m->series);
	free(m);
}

struct metrics_series *metrics_series(struct metrics *m, const char *namespace,
				      const char *pod, const char *container)
{
	struct metrics_series *s;

	for (size_t i = 0; i < m->nseries; i++) {
		s = m->series[i];
		if (!strcmp(s->namespace, namespace) && !strcmp(s->pod, pod) &&
		    !strcmp(s->container, container)) {
			s->live = true;
			return s;
		}
	}
	if (m->nseries == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct metrics_series **bigger = realloc(m->series, cap * sizeof(*bigger));

		if (!bigger)
			return NULL;
		m->series = bigger;
		m->cap = cap;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->namespace = strdup(namespace)) || !(s->pod = strdup(pod)) ||
	    !(s->container = strdup(container))) {
		series_free(s);
		return NULL;
	}
	s->live = true;
	m->series[m->nseries++] = s;
	return s;
}

void metrics_sweep_begin(struct metrics *m)
{
	for (size_t i = 0; i < m->nseries; i++)
		m->series[i]->live = false;
}

void metrics_sweep_end(struct metrics *m)
{
	size_t kept = 0;

	for (size_t i = 0; i < m->nseries; i++) {
		struct metrics_series *s = m->series[i];

		if (s->live || s->watched > 0)
			m->series[kept++] = s;
		else
			series_free(s);
	}
	m->nseries = kept;
}

void metrics_event(struct metrics_series *s, double duration_ms, bool is_error)
{
	if (!s)
		return;
	s->events++;
	s->error_events += is_error;
	s->blocked_seconds += duration_ms / 1e3;
}

void metrics_loop_gaps(struct metrics_series *s, const struct loop_hist *gaps)
{
	if (!s)
		return;
	s->loop.sum_ns += gaps->sum_ns;
	for (unsigned int b = 0; b < LOOP_HIST_BUCKETS; b++)
		s->loop.buckets[b] += gaps->buckets[b];
}

void metrics_still_blocked(struct metrics_series *s)
{
	if (s)
		s->still_blocked++;
}

void metrics_suppressed(struct metrics_series *s)
{
	if (s)
		s->suppressed++;
}

static bool is_sampler(enum sampler_kind kind)
{
	return kind >= 0 && kind < SAMPLER_NONE;
}

void metrics_sampler_used(struct metrics_series *s, enum sampler_kind kind)
{
	if (s && is_sampler(kind))
		s->sampler_used[kind] = true;
}

void metrics_sampler_samples(struct metrics_series *s, enum sampler_kind kind, uint64_t n)
{
	if (s && is_sampler(kind))
		s->sampler_samples[kind] += n;
}

void metrics_sampler_restart(struct metrics_series *s, enum sampler_kind kind)
{
	if (s && is_sampler(kind))
		s->sampler_restarts[kind]++;
}

void metrics_sampler_failure(struct metrics_series *s, enum sampler_kind kind)
{
	if (s && is_sampler(kind))
		s->sampler_failures[kind]++;
}

void metrics_kubelet_poll(struct metrics *m, bool ok, enum kubelet_error_reason reason,
			  double unix_time)
{
	m->kubelet_polls++;
	m->kubelet_up = ok;
	if (ok)
		m->kubelet_last_success = unix_time;
	else
		m->kubelet_errors[reason >= 0 && reason < KUBELET_ERR_COUNT ? reason
									   : KUBELET_ERR_OTHER]++;
}

void metrics_config_error(struct metrics *m)
{
	m->config_errors++;
}

void metrics_set_lost_events(struct metrics *m, uint64_t lost)
{
	m->lost_events = lost;
}

void metrics_set_pods(struct metrics *m, unsigned watched_pods)
{
	m->watched_pods = watched_pods;
}

enum series_field { F_EVENTS, F_ERRORS, F_SECONDS, F_STILL, F_SUPPRESSED, F_WATCHED };

static void put_series(struct prom_text *t, const struct metrics *m, const char *name,
		       enum series_field f)
{
	for (size_t i = 0; i < m->nseries; i++) {
		const struct metrics_series *s = m->series[i];

		prom_put(t, "%s{", name);
		prom_label(t, "namespace", s->namespace, false);
		prom_label(t, "pod", s->pod, false);
		prom_label(t, "container", s->container, true);
		switch (f) {
		case F_EVENTS: prom_put(t, "} %llu\n", (unsigned long long)s->events); break;
		case F_ERRORS: prom_put(t, "} %llu\n", (unsigned long long)s->error_events); break;
		case F_SECONDS: prom_put(t, "} %.6f\n", s->blocked_seconds); break;
		case F_STILL: prom_put(t, "} %llu\n", (unsigned long long)s->still_blocked); break;
		case F_SUPPRESSED: prom_put(t, "} %llu\n", (unsigned long long)s->suppressed); break;
		case F_WATCHED: prom_put(t, "} %d\n", s->watched); break;
		}
	}
}

/* Every series' loop histogram, labelled by container. */
static void put_loop_hists(struct prom_text *t, const struct metrics *m)
{
	for (size_t i = 0; i < m->nseries; i++) {
		const struct metrics_series *s = m->series[i];
		struct prom_text labels = { 0 };
		size_t len;
		char *text;

		prom_label(&labels, "namespace", s->namespace, false);
		prom_label(&labels, "pod", s->pod, false);
		prom_label(&labels, "container", s->container, true);
		text = prom_finish(&labels, &len);
		if (!text) {
			t->oom = true;
			return;
		}
		prom_loop_hist(t, PROM_LOOP_GAP, text, &s->loop);
		free(text);
	}
}

enum sampler_field { F_SAMPLES, F_RESTARTS, F_FAILURES };

/* A sampler counter of every series, for each sampler that series used. */
static void put_sampler_series(struct prom_text *t, const struct metrics *m, const char *name,
			       enum sampler_field f)
{
	for (size_t i = 0; i < m->nseries; i++) {
		const struct metrics_series *s = m->series[i];

		for (int k = 0; k < SAMPLER_NONE; k++) {
			uint64_t v = f == F_SAMPLES ? s->sampler_samples[k]
				     : f == F_RESTARTS ? s->sampler_restarts[k]
						       : s->sampler_failures[k];

			if (!s->sampler_used[k])
				continue;
			prom_put(t, "%s{", name);
			prom_label(t, "namespace", s->namespace, false);
			prom_label(t, "pod", s->pod, false);
			prom_label(t, "container", s->container, false);
			prom_label(t, "sampler", sampler_kind_name(k), true);
			prom_put(t, "} %llu\n", (unsigned long long)v);
		}
	}
}

char *metrics_render(const struct metrics *m, const char *version, size_t *len)
{
	struct prom_text t = { 0 };
	int watched = 0;

	prom_head(&t, "blocksnoop_blocking_events_total", "counter",
		 "Blocks of an event loop at or over its threshold, by container.");
	put_series(&t, m, "blocksnoop_blocking_events_total", F_EVENTS);
	prom_head(&t, "blocksnoop_blocking_error_events_total", "counter",
		 "Blocking events at level error (at or over the error threshold).");
	put_series(&t, m, "blocksnoop_blocking_error_events_total", F_ERRORS);
	prom_head(&t, "blocksnoop_blocked_seconds_total", "counter",
		 "Time event loops were blocked, summed over blocking events.");
	put_series(&t, m, "blocksnoop_blocked_seconds_total", F_SECONDS);
	prom_head(&t, "blocksnoop_still_blocked_total", "counter",
		 "Reports of a block still in progress.");
	put_series(&t, m, "blocksnoop_still_blocked_total", F_STILL);
	prom_head(&t, "blocksnoop_suppressed_events_total", "counter",
		 "Blocking events not reported: over their pod's --max-events-per-pod.");
	put_series(&t, m, "blocksnoop_suppressed_events_total", F_SUPPRESSED);
	prom_head(&t, PROM_LOOP_GAP, "histogram", PROM_LOOP_GAP_HELP);
	put_loop_hists(&t, m);
	prom_head(&t, "blocksnoop_watched_processes", "gauge",
		 "Python processes whose event loop is watched, by container.");
	put_series(&t, m, "blocksnoop_watched_processes", F_WATCHED);
	prom_head(&t, "blocksnoop_sampler_samples_total", "counter",
		 "Python stack samples taken of watched threads, by container and sampler.");
	put_sampler_series(&t, m, "blocksnoop_sampler_samples_total", F_SAMPLES);
	prom_head(&t, "blocksnoop_sampler_restarts_total", "counter",
		 "Austin started again for a watched process after it ended, by container.");
	put_sampler_series(&t, m, "blocksnoop_sampler_restarts_total", F_RESTARTS);
	prom_head(&t, "blocksnoop_sampler_failures_total", "counter",
		 "Failures to sample a watched process (the reason is in the agent's log), by container.");
	put_sampler_series(&t, m, "blocksnoop_sampler_failures_total", F_FAILURES);
	for (size_t i = 0; i < m->nseries; i++)
		watched += m->series[i]->watched;
	prom_head(&t, "blocksnoop_watched_processes_all", "gauge",
		 "Python processes whose event loop is watched, on this node.");
	prom_put(&t, "blocksnoop_watched_processes_all %d\n", watched);
	prom_head(&t, "blocksnoop_watched_pods", "gauge", "Opted-in pods known to the agent.");
	prom_put(&t, "blocksnoop_watched_pods %u\n", m->watched_pods);
	prom_head(&t, "blocksnoop_lost_events_total", "counter",
		 "Blocking events the kernel could not queue (ring buffer full).");
	prom_put(&t, "blocksnoop_lost_events_total %llu\n", (unsigned long long)m->lost_events);
	prom_head(&t, "blocksnoop_config_errors_total", "counter",
		 "Pod annotations whose value could not be used (config_error records).");
	prom_put(&t, "blocksnoop_config_errors_total %llu\n", (unsigned long long)m->config_errors);
	prom_head(&t, "blocksnoop_kubelet_polls_total", "counter", "Polls of the kubelet's /pods.");
	prom_put(&t, "blocksnoop_kubelet_polls_total %llu\n", (unsigned long long)m->kubelet_polls);
	prom_head(&t, "blocksnoop_kubelet_errors_total", "counter",
		 "Failed polls of the kubelet's /pods, by reason.");
	for (int r = 0; r < KUBELET_ERR_COUNT; r++)
		prom_put(&t, "blocksnoop_kubelet_errors_total{reason=\"%s\"} %llu\n", reason_names[r],
		    (unsigned long long)m->kubelet_errors[r]);
	prom_head(&t, "blocksnoop_kubelet_up", "gauge", "1 if the last poll of the kubelet succeeded.");
	prom_put(&t, "blocksnoop_kubelet_up %d\n", m->kubelet_up ? 1 : 0);
	prom_head(&t, "blocksnoop_kubelet_last_success_timestamp_seconds", "gauge",
		 "When the kubelet last answered with a pod list (0: never).");
	prom_put(&t, "blocksnoop_kubelet_last_success_timestamp_seconds %.3f\n", m->kubelet_last_success);
	prom_head(&t, "blocksnoop_build_info", "gauge", "blocksnoop's version.");
	prom_put(&t, "blocksnoop_build_info{");
	prom_label(&t, "version", version ? version : "", true);
	prom_put(&t, "} 1\n");
	return prom_finish(&t, len);
}
