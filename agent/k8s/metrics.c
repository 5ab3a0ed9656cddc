// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/metrics.h"

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

/* A growing text buffer; on out of memory it stops growing and says so. */
struct text {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	if (!t->buf) {
		t->buf = malloc(4096);
		if (!t->buf) {
			t->oom = true;
			return;
		}
		t->cap = 4096;
	}
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		{
			size_t cap = (t->cap + (size_t)n + 1) * 2;
			char *bigger = realloc(t->buf, cap);

			if (!bigger) {
				t->oom = true;
				return;
			}
			t->buf = bigger;
			t->cap = cap;
		}
	}
}

/* A label value, escaped as the text format requires. */
static void put_label(struct text *t, const char *name, const char *value, bool last)
{
	put(t, "%s=\"", name);
	for (const char *p = value; *p; p++) {
		if (*p == '\\')
			put(t, "\\\\");
		else if (*p == '"')
			put(t, "\\\"");
		else if (*p == '\n')
			put(t, "\\n");
		else
			put(t, "%c", *p);
	}
	put(t, "\"%s", last ? "" : ",");
}

static void put_head(struct text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

enum series_field { F_EVENTS, F_ERRORS, F_SECONDS, F_STILL, F_SUPPRESSED, F_WATCHED };

static void put_series(struct text *t, const struct metrics *m, const char *name,
		       enum series_field f)
{
	for (size_t i = 0; i < m->nseries; i++) {
		const struct metrics_series *s = m->series[i];

		put(t, "%s{", name);
		put_label(t, "namespace", s->namespace, false);
		put_label(t, "pod", s->pod, false);
		put_label(t, "container", s->container, true);
		switch (f) {
		case F_EVENTS: put(t, "} %llu\n", (unsigned long long)s->events); break;
		case F_ERRORS: put(t, "} %llu\n", (unsigned long long)s->error_events); break;
		case F_SECONDS: put(t, "} %.6f\n", s->blocked_seconds); break;
		case F_STILL: put(t, "} %llu\n", (unsigned long long)s->still_blocked); break;
		case F_SUPPRESSED: put(t, "} %llu\n", (unsigned long long)s->suppressed); break;
		case F_WATCHED: put(t, "} %d\n", s->watched); break;
		}
	}
}

enum sampler_field { F_SAMPLES, F_RESTARTS, F_FAILURES };

/* A sampler counter of every series, for each sampler that series used. */
static void put_sampler_series(struct text *t, const struct metrics *m, const char *name,
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
			put(t, "%s{", name);
			put_label(t, "namespace", s->namespace, false);
			put_label(t, "pod", s->pod, false);
			put_label(t, "container", s->container, false);
			put_label(t, "sampler", sampler_kind_name(k), true);
			put(t, "} %llu\n", (unsigned long long)v);
		}
	}
}

char *metrics_render(const struct metrics *m, const char *version, size_t *len)
{
	struct text t = { 0 };
	int watched = 0;

	put_head(&t, "blocksnoop_blocking_events_total", "counter",
		 "Blocks of an event loop at or over its threshold, by container.");
	put_series(&t, m, "blocksnoop_blocking_events_total", F_EVENTS);
	put_head(&t, "blocksnoop_blocking_error_events_total", "counter",
		 "Blocking events at level error (at or over the error threshold).");
	put_series(&t, m, "blocksnoop_blocking_error_events_total", F_ERRORS);
	put_head(&t, "blocksnoop_blocked_seconds_total", "counter",
		 "Time event loops were blocked, summed over blocking events.");
	put_series(&t, m, "blocksnoop_blocked_seconds_total", F_SECONDS);
	put_head(&t, "blocksnoop_still_blocked_total", "counter",
		 "Reports of a block still in progress.");
	put_series(&t, m, "blocksnoop_still_blocked_total", F_STILL);
	put_head(&t, "blocksnoop_suppressed_events_total", "counter",
		 "Blocking events not reported: over their pod's --max-events-per-pod.");
	put_series(&t, m, "blocksnoop_suppressed_events_total", F_SUPPRESSED);
	put_head(&t, "blocksnoop_watched_processes", "gauge",
		 "Python processes whose event loop is watched, by container.");
	put_series(&t, m, "blocksnoop_watched_processes", F_WATCHED);
	put_head(&t, "blocksnoop_sampler_samples_total", "counter",
		 "Python stack samples taken of watched threads, by container and sampler.");
	put_sampler_series(&t, m, "blocksnoop_sampler_samples_total", F_SAMPLES);
	put_head(&t, "blocksnoop_sampler_restarts_total", "counter",
		 "Austin started again for a watched process after it ended, by container.");
	put_sampler_series(&t, m, "blocksnoop_sampler_restarts_total", F_RESTARTS);
	put_head(&t, "blocksnoop_sampler_failures_total", "counter",
		 "Failures to sample a watched process (the reason is in the agent's log), by container.");
	put_sampler_series(&t, m, "blocksnoop_sampler_failures_total", F_FAILURES);
	for (size_t i = 0; i < m->nseries; i++)
		watched += m->series[i]->watched;
	put_head(&t, "blocksnoop_watched_processes_all", "gauge",
		 "Python processes whose event loop is watched, on this node.");
	put(&t, "blocksnoop_watched_processes_all %d\n", watched);
	put_head(&t, "blocksnoop_watched_pods", "gauge", "Opted-in pods known to the agent.");
	put(&t, "blocksnoop_watched_pods %u\n", m->watched_pods);
	put_head(&t, "blocksnoop_lost_events_total", "counter",
		 "Blocking events the kernel could not queue (ring buffer full).");
	put(&t, "blocksnoop_lost_events_total %llu\n", (unsigned long long)m->lost_events);
	put_head(&t, "blocksnoop_config_errors_total", "counter",
		 "Pod annotations whose value could not be used (config_error records).");
	put(&t, "blocksnoop_config_errors_total %llu\n", (unsigned long long)m->config_errors);
	put_head(&t, "blocksnoop_kubelet_polls_total", "counter", "Polls of the kubelet's /pods.");
	put(&t, "blocksnoop_kubelet_polls_total %llu\n", (unsigned long long)m->kubelet_polls);
	put_head(&t, "blocksnoop_kubelet_errors_total", "counter",
		 "Failed polls of the kubelet's /pods, by reason.");
	for (int r = 0; r < KUBELET_ERR_COUNT; r++)
		put(&t, "blocksnoop_kubelet_errors_total{reason=\"%s\"} %llu\n", reason_names[r],
		    (unsigned long long)m->kubelet_errors[r]);
	put_head(&t, "blocksnoop_kubelet_up", "gauge", "1 if the last poll of the kubelet succeeded.");
	put(&t, "blocksnoop_kubelet_up %d\n", m->kubelet_up ? 1 : 0);
	put_head(&t, "blocksnoop_kubelet_last_success_timestamp_seconds", "gauge",
		 "When the kubelet last answered with a pod list (0: never).");
	put(&t, "blocksnoop_kubelet_last_success_timestamp_seconds %.3f\n", m->kubelet_last_success);
	put_head(&t, "blocksnoop_build_info", "gauge", "blocksnoop's version.");
	put(&t, "blocksnoop_build_info{");
	put_label(&t, "version", version ? version : "", true);
	put(&t, "} 1\n");
	if (t.oom) {
		free(t.buf);
		return NULL;
	}
	*len = t.len;
	return t.buf;
}
