// SPDX-License-Identifier: Apache-2.0
/*
 * agent_console.c - the console report in agent mode: the ordinary console
 * sink (sink_console.c), with the agent's own start line and each event
 * introduced by the pod and container it happened in:
 *
 *   == shop/checkout-7d9c6b5f4-x2x8q  container app  service checkout
 *   [  1.23s] #1  BLOCKED  302.1ms  pid=7 (python3) tid=7
 *       Python stack (most recent call last), ...
 *
 * The pod's names are shown through k8s_printable(): a pod cannot write
 * escape sequences to the operator's terminal. The summary says how many
 * events the pods' rate limits suppressed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/agent.h"
#include "k8s/podlist.h"
#include "sink.h"

struct agent_console {
	struct sink base;
	struct sink *inner;   /* the ordinary console sink */
	int fd;
	bool color;
	char *start_line;
};

static void where(struct agent_console *ac, const struct session_info *si,
		  const struct target_meta *m)
{
	char buf[2048], ns[256], pod[1024], ct[256], service[512];
	const struct k8s_meta *k = m ? m->k8s : NULL;
	int n;

	if (!k)
		return;
	n = snprintf(buf, sizeof(buf), "%s== %s/%s  container %s  service %s%s\n",
		     ac->color ? "\033[1m" : "",
		     k8s_printable(k->namespace ? k->namespace : "?", 63, ns, sizeof(ns)),
		     k8s_printable(k->pod ? k->pod : "?", 253, pod, sizeof(pod)),
		     k8s_printable(k->container ? k->container : "?", 63, ct, sizeof(ct)),
		     k8s_printable(m->service ? m->service : si->service, K8S_MAX_SERVICE_LEN,
				   service, sizeof(service)),
		     ac->color ? "\033[0m" : "");
	if (n > 0)
		sink_write_all(ac->fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void ac_start(struct sink *s, const struct session_info *si, const cJSON *rec)
{
	struct agent_console *ac = (struct agent_console *)s;

	(void)si; (void)rec;
	sink_write_all(ac->fd, ac->start_line, strlen(ac->start_line));
}

static void ac_event(struct sink *s, const struct session_info *si,
		     const struct blocking_event *e, const cJSON *rec)
{
	struct agent_console *ac = (struct agent_console *)s;

	where(ac, si, e->meta);
	ac->inner->ops->event(ac->inner, si, e, rec);
}

static void ac_still_blocked(struct sink *s, const struct session_info *si,
			     const struct still_blocked *b, const cJSON *rec)
{
	struct agent_console *ac = (struct agent_console *)s;

	where(ac, si, b->meta);
	ac->inner->ops->still_blocked(ac->inner, si, b, rec);
}

static void ac_stats(struct sink *s, const struct session_info *si,
		     const struct stats_snapshot *snap, const cJSON *rec)
{
	(void)s; (void)si; (void)snap; (void)rec; /* no stats mode in the agent */
}

static void ac_summary(struct sink *s, const struct session_info *si,
		       const struct session_summary *sum, const struct stats_snapshot *snap,
		       const cJSON *rec)
{
	struct agent_console *ac = (struct agent_console *)s;
	char line[160];
	int n;

	ac->inner->ops->summary(ac->inner, si, sum, snap, rec);
	n = snprintf(line, sizeof(line), "Suppressed:      %llu events over a pod's rate limit%s\n",
		     (unsigned long long)sum->suppressed_event_count,
		     sum->suppressed_event_count ? " (see --max-events-per-pod)" : "");
	if (n > 0)
		sink_write_all(ac->fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void ac_destroy(struct sink *s)
{
	struct agent_console *ac = (struct agent_console *)s;

	ac->inner->ops->destroy(ac->inner);
	free(ac->start_line);
	free(ac);
}

static const struct sink_ops agent_console_ops = {
	.session_start = ac_start,
	.event = ac_event,
	.still_blocked = ac_still_blocked,
	.stats = ac_stats,
	.summary = ac_summary,
	.destroy = ac_destroy,
};

struct sink *agent_console_new(int fd, bool color, const char *start_line)
{
	struct agent_console *ac = calloc(1, sizeof(*ac));

	if (!ac)
		return NULL;
	ac->inner = sink_console_new(fd, color, false);
	ac->start_line = strdup(start_line);
	if (!ac->inner || !ac->start_line) {
		if (ac->inner)
			ac->inner->ops->destroy(ac->inner);
		free(ac->start_line);
		free(ac);
		return NULL;
	}
	ac->base.ops = &agent_console_ops;
	ac->fd = fd;
	ac->color = color;
	return &ac->base;
}
