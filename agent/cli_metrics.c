// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_metrics.h"
#include "engine.h"
#include "exit_codes.h"
#include "listen_addr.h"
#include "log.h"
#include "metrics_http.h"
#include "procfs.h"
#include "prom_text.h"

struct cli_metrics {
	struct engine *engine;
	struct metrics_http *http;
	struct engine_watch *watch; /* NULL before cli_metrics_watch and once gone */
	pid_t pid;
	char comm[64];
	/* The last counts read: what is served once the watch is gone. */
	struct loop_hist loop;
};

/* A counter of the run's target. */
static void put_counter(struct prom_text *t, const char *name, const char *help,
			const char *labels, uint64_t value)
{
	prom_head(t, name, "counter", help);
	prom_put(t, "%s{%s} %llu\n", name, labels, (unsigned long long)value);
}

char *cli_metrics_render(const struct cli_metrics_view *v, size_t *len)
{
	struct prom_text labels = { 0 }, t = { 0 };
	char pid[16], *l;
	size_t llen;

	snprintf(pid, sizeof(pid), "%d", (int)v->pid);
	prom_label(&labels, "pid", pid, false);
	prom_label(&labels, "comm", v->comm, true);
	l = prom_finish(&labels, &llen);
	if (!l)
		return NULL;
	prom_head(&t, PROM_LOOP_GAP, "histogram", PROM_LOOP_GAP_HELP);
	prom_loop_hist(&t, PROM_LOOP_GAP, l, v->loop);
	put_counter(&t, "blocksnoop_blocking_events_total",
		    "Blocks of the event loop at or over the threshold (reported events).", l,
		    v->events);
	put_counter(&t, "blocksnoop_blocking_error_events_total",
		    "Blocking events at level error (at or over the error threshold).", l,
		    v->error_events);
	prom_head(&t, "blocksnoop_lost_events_total", "counter",
		  "Blocking events the kernel could not queue (ring buffer full).");
	prom_put(&t, "blocksnoop_lost_events_total %llu\n", (unsigned long long)v->lost_events);
	prom_head(&t, "blocksnoop_build_info", "gauge", "blocksnoop's version.");
	prom_put(&t, "blocksnoop_build_info{");
	prom_label(&t, "version", v->version ? v->version : "", true);
	prom_put(&t, "} 1\n");
	free(l);
	return prom_finish(&t, len);
}

static char *render_metrics(void *ctx, size_t *len)
{
	struct cli_metrics *m = ctx;
	struct loop_hist now;
	struct cli_metrics_view v = {
		.pid = m->pid,
		.comm = m->comm,
		.loop = &m->loop,
		.events = engine_event_count(m->engine),
		.error_events = engine_error_event_count(m->engine),
		.lost_events = engine_lost_events(m->engine),
		.version = BLOCKSNOOP_VERSION,
	};

	if (m->watch && !engine_loop_hist(m->engine, m->watch, &now))
		m->loop = now;
	return cli_metrics_render(&v, len);
}

static int render_health(void *ctx, char *buf, size_t len)
{
	struct cli_metrics *m = ctx;

	if (!m->pid) {
		snprintf(buf, len, "ok\nstarting\n");
		return 200;
	}
	snprintf(buf, len, "ok\nPID %d %s\n", (int)m->pid, m->watch ? "watched" : "has exited");
	return 200;
}

int cli_metrics_start(struct engine *e, const char *addr, struct cli_metrics **out)
{
	struct metrics_http_handlers h = { .metrics = render_metrics, .health = render_health };
	struct sockaddr_storage ss;
	struct cli_metrics *m;
	socklen_t len;
	char err[256];
	int ret;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m) {
		log_error("out of memory");
		return EXIT_RUNTIME;
	}
	m->engine = e;
	h.ctx = m;
	if (listen_addr_parse(addr, &ss, &len)) {
		log_error("invalid --metrics-addr '%s': expected ADDR:PORT such as 127.0.0.1:9464",
			  addr);
		free(m);
		return EXIT_USAGE;
	}
	ret = metrics_http_start((struct sockaddr *)&ss, len, &h, &m->http, err, sizeof(err));
	if (!ret) {
		ret = metrics_http_join(m->http, e);
		if (ret)
			snprintf(err, sizeof(err), "%s", strerror(-ret));
	}
	if (ret) {
		/* -ENOENT: libmicrohttpd is missing, and err says which package. */
		log_error("cannot serve /metrics on %s: %s%s", addr, err,
			  ret == -ENOENT ? "" : " (choose another --metrics-addr)");
		cli_metrics_free(m);
		return EXIT_RUNTIME;
	}
	log_info("serving /metrics and /healthz on %s (port %d)", addr,
		 metrics_http_port(m->http));
	*out = m;
	return 0;
}

void cli_metrics_watch(struct cli_metrics *m, struct engine_watch *w, pid_t pid)
{
	m->watch = w;
	m->pid = pid;
	procfs_comm(pid, m->comm, sizeof(m->comm));
}

void cli_metrics_watch_gone(struct cli_metrics *m)
{
	struct loop_hist now;

	if (!m || !m->watch)
		return;
	if (!engine_loop_hist(m->engine, m->watch, &now))
		m->loop = now;
	m->watch = NULL;
}

void cli_metrics_free(struct cli_metrics *m)
{
	if (!m)
		return;
	metrics_http_stop(m->http);
	free(m);
}
