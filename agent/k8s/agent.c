// SPDX-License-Identifier: Apache-2.0
/*
 * agent.c - `blocksnoop agent`: every Python process of every opted-in pod
 * on this node, watched by one engine (engine.h), as the command line's
 * one process is.
 *
 * The engine runs the loop, the detector and the sampler, numbers and
 * reports the events, and says when a watched process exits. The agent
 * adds its own fds to the engine's loop: a timerfd for the next kubelet
 * poll, the kubelet client's fd, and the metrics server's; and its own
 * once-a-second work (rescans of /proc, suppressed-event records).
 *
 * Model. The kubelet's pod list says which containers to watch: for every
 * opted-in pod, each selected container that has a runtime ID becomes a
 * `target` (pod UID + container name + ID; a restart brings a new ID and so
 * a new target). A scan of /proc finds each target's processes through
 * their cgroup; every Python one gets its main thread watched (`watched`,
 * an engine watch tagged with its target's pod metadata and thresholds).
 * A new pod list reconciles the targets: gone
 * ones are detached, new ones created, and /proc is scanned again. While
 * the kubelet cannot be reached, the last list stays in force and /proc is
 * still scanned every poll interval, so known pods stay watched and their
 * new worker processes are picked up.
 *
 * A pod must not flood the node: its threshold annotation has a floor
 * (podlist.c) and its events a rate limit (a token bucket per pod, in
 * `pod_state`, asked by the engine's admit hook). Events over it are
 * counted, not reported: per container in
 * /metrics, per pod in an events_suppressed record at most once a second,
 * and in the session summary. What a pod names is shown on the console and
 * in log lines only through k8s_printable().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "compat.h"
#include "engine.h"
#include "exit_codes.h"
#include "k8s/agent.h"
#include "k8s/agent_options.h"
#include "k8s/kubelet.h"
#include "listen_addr.h"
#include "histogram.h"
#include "k8s/metrics.h"
#include "k8s/podlist.h"
#include "k8s/procscan.h"
#include "k8s/ratelimit.h"
#include "log.h"
#include "metrics_http.h"
#include "procfs.h"
#include "record.h"
#include "timeutil.h"

struct pod_state;

/* One container instance to watch: a selected container of an opted-in
 * pod, with the runtime ID it has now. */
struct target {
	struct target *next;
	char *pod_uid, *namespace, *pod, *container, *container_id, *service;
	char *label;                    /* "ns/pod container c", printable: for log lines */
	struct pod_state *pod_state;    /* its pod's; NULL when out of memory */
	double threshold_ms, error_threshold_ms;
	enum sampler_kind sampler;      /* its pod's: one the engine runs, or none */
	struct k8s_meta k8s;            /* points into the strings above */
	struct target_meta meta;
	struct metrics_series *series;
	int nprocs;
	bool live;                      /* still in the latest pod list */
};

/* One watched process (its main thread). */
struct watched {
	struct watched *next;
	struct target *t;
	pid_t pid;                      /* in the agent's PID namespace */
	struct engine_watch *watch;
	/* Its loop histogram as last added into its container's series. */
	struct loop_hist loop_seen;
};

/* What the agent keeps about a pod between polls: the config errors
 * already reported, so that each is said once (and again only if it goes
 * away and comes back), and its event rate limit. A pod has one while it
 * is opted in (or has config errors); a target's pod_state outlives it
 * (reconcile() drops dead targets before dead pod states). */
struct pod_state {
	struct pod_state *next;
	char *uid, *namespace, *name;
	char *service;                  /* as in its records; NULL: --service */
	char *label;                    /* "ns/name", printable: for log lines */
	char **keys;                    /* "annotation\x1fvalue" */
	size_t nkeys;
	struct rate_limit limit;
	uint64_t suppressed;            /* since its last events_suppressed record */
	uint64_t suppressed_total;
	uint64_t reported_ns;           /* when that record was made; 0: never */
	bool warned_flood;              /* said on stderr that it is over the limit */
	bool live;
};

struct agent {
	const struct agent_options *o;
	struct engine *engine;
	struct kubelet *kubelet;
	struct metrics *metrics;
	struct metrics_http *http;
	int pollfd;                     /* timerfd: the next kubelet poll */
	uint64_t interval_ns;

	struct target *targets;
	struct watched *watched;
	unsigned nwatched;
	struct pod_state *pod_states;
	struct k8s_podlist *pods;       /* the kubelet's last list; NULL before one */
	unsigned watched_pods;

	unsigned failures;              /* consecutive failed polls */
	uint64_t failing_since_ns;
	bool ever_ok;
	double last_ok_unix;
	char last_error[1536];
	uint64_t last_scan_ns;
	bool warned_full;
};

static const char *node_name(const struct agent *a)
{
	return a->o->node_name;
}

static double unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double random01(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)mono_now_ns();
	return (double)r / 4294967296.0;
}

static void arm_once(int fd, uint64_t delay_ns)
{
	struct itimerspec its = { 0 };

	if (!delay_ns)
		delay_ns = 1;
	its.it_value.tv_sec = (time_t)(delay_ns / 1000000000ULL);
	its.it_value.tv_nsec = (long)(delay_ns % 1000000000ULL);
	timerfd_settime(fd, 0, &its, NULL);
}

/* ---- watched processes ---------------------------------------------------- */

/* Whether the agent serves /metrics, and so keeps loop histograms. */
static bool serves_metrics(const struct agent_options *o)
{
	return o->metrics_addr && o->metrics_addr[0];
}

/* Add what w's loop histogram counted since the last time into its
 * container's series. */
static void add_loop_gaps(struct agent *a, struct watched *w)
{
	struct loop_hist now, delta;

	if (engine_loop_hist(a->engine, w->watch, &now))
		return;
	loop_hist_since(&delta, &now, &w->loop_seen);
	metrics_loop_gaps(w->t->series, &delta);
}

/* Forget w, which the engine is about to stop watching or has. */
static void forget(struct agent *a, struct watched *w, const char *why)
{
	struct target *t = w->t;

	log_info("stopped watching PID %d (%s): %s", w->pid, t->label, why);
	for (struct watched **link = &a->watched; *link; link = &(*link)->next)
		if (*link == w) {
			*link = w->next;
			break;
		}
	a->nwatched--;
	t->nprocs--;
	if (t->series)
		t->series->watched--;
	free(w);
}

static void detach(struct agent *a, struct watched *w, const char *why)
{
	struct engine_watch *watch = w->watch;

	/* Its last gaps are counted before the watch ends. */
	add_loop_gaps(a, w);
	forget(a, w, why);
	engine_unwatch(a->engine, watch);
}

static bool is_watched(const struct agent *a, pid_t pid)
{
	for (const struct watched *w = a->watched; w; w = w->next)
		if (w->pid == pid)
			return true;
	return false;
}

static struct target *target_of(const struct agent *a, const struct k8s_cgroup_ids *ids)
{
	for (struct target *t = a->targets; t; t = t->next)
		if (!strcmp(t->container_id, ids->container_id) &&
		    (!ids->pod_uid[0] || !strcmp(t->pod_uid, ids->pod_uid)))
			return t;
	return NULL;
}

static void attach(struct agent *a, struct target *t, pid_t pid)
{
	struct engine_watch_config wc = {
		.pid = pid,
		.tid = pid,
		.threshold_ms = t->threshold_ms,
		.error_threshold_ms = t->error_threshold_ms,
		.sampler = t->sampler,
		/* The process's own numbering: the main thread's TID is its PID. */
		.ids_in_own_ns = true,
		.meta = &t->meta,
		.loop_hist = serves_metrics(a->o),
	};
	struct k8s_cgroup_ids again;
	struct watched *w;
	int pidfd, ret;

	/* Pin the process, then check it is still the one we looked at (a
	 * PID can be recycled between reading its cgroup and opening it). */
	pidfd = sys_pidfd_open(pid, 0);
	if (pidfd < 0)
		return;
	if (procscan_cgroup("/proc", pid, &again) || strcmp(again.container_id, t->container_id) ||
	    !procfs_is_python(pid)) {
		close(pidfd);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		close(pidfd);
		return;
	}
	wc.ctx = w;
	ret = engine_watch(a->engine, &wc, pidfd, &w->watch);
	if (ret) {
		if (ret != -ENOSPC || !a->warned_full)
			log_warn("cannot watch PID %d of %s: %s", pid, t->label, strerror(-ret));
		a->warned_full |= ret == -ENOSPC;
		free(w);
		return;
	}
	w->t = t;
	w->pid = pid;
	w->next = a->watched;
	a->watched = w;
	a->nwatched++;
	t->nprocs++;
	if (t->series)
		t->series->watched++;
	metrics_sampler_used(t->series, t->sampler);
	log_info("watching PID %d (PID %d in its namespace) of %s for blocks >= %.1f ms, stacks: %s",
		 pid, procfs_tid_in_own_ns(pid, pid), t->label, t->threshold_ms,
		 t->sampler == SAMPLER_NONE ? "none" : sampler_kind_name(t->sampler));
}

static void on_process(void *ctx, pid_t pid, const struct k8s_cgroup_ids *ids)
{
	struct agent *a = ctx;
	struct target *t;

	if (pid == getpid() || is_watched(a, pid))
		return;
	t = target_of(a, ids);
	if (t)
		attach(a, t, pid);
}

/* Find the processes of every target that are not watched yet. */
static void scan(struct agent *a)
{
	int n;

	a->last_scan_ns = mono_now_ns();
	if (!a->targets)
		return;
	n = procscan_containers("/proc", on_process, a);
	if (n < 0)
		log_warn("cannot list processes in /proc: %s", strerror(-n));
}

/* ---- targets ------------------------------------------------------------------ */

/* "ns/name" (and " container c"), printable, malloc'd; NULL when out of
 * memory. */
static char *label_of(const char *namespace, const char *name, const char *container)
{
	char ns[256], pod[1024], ct[256], *label;

	k8s_printable(namespace, 63, ns, sizeof(ns));
	k8s_printable(name, 253, pod, sizeof(pod));
	if (container)
		k8s_printable(container, 63, ct, sizeof(ct));
	if (asprintf(&label, "%s/%s%s%s", ns, pod, container ? " container " : "",
		     container ? ct : "") < 0)
		return NULL;
	return label;
}

static void target_free(struct target *t)
{
	free(t->pod_uid);
	free(t->namespace);
	free(t->pod);
	free(t->container);
	free(t->container_id);
	free(t->service);
	free(t->label);
	free(t);
}

static bool same_str(const char *x, const char *y)
{
	return (!x && !y) || (x && y && !strcmp(x, y));
}

static struct target *find_target(struct agent *a, const struct k8s_pod *p,
				  const struct k8s_container *c)
{
	for (struct target *t = a->targets; t; t = t->next)
		if (!strcmp(t->pod_uid, p->uid) && !strcmp(t->container, c->name) &&
		    !strcmp(t->container_id, c->id) && !strcmp(t->namespace, p->namespace) &&
		    !strcmp(t->pod, p->name) && same_str(t->service, p->service) &&
		    t->threshold_ms == p->threshold_ms &&
		    t->error_threshold_ms == p->error_threshold_ms && t->sampler == p->sampler)
			return t;
	return NULL;
}

static struct target *new_target(struct agent *a, const struct k8s_pod *p,
				 const struct k8s_container *c)
{
	struct target *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->pod_uid = strdup(p->uid);
	t->namespace = strdup(p->namespace);
	t->pod = strdup(p->name);
	t->container = strdup(c->name);
	t->container_id = strdup(c->id);
	t->service = p->service ? strdup(p->service) : NULL;
	t->label = label_of(p->namespace, p->name, c->name);
	if (!t->pod_uid || !t->namespace || !t->pod || !t->container || !t->container_id ||
	    (p->service && !t->service) || !t->label) {
		target_free(t);
		return NULL;
	}
	t->threshold_ms = p->threshold_ms;
	t->error_threshold_ms = p->error_threshold_ms;
	t->sampler = p->sampler;
	t->k8s = (struct k8s_meta){
		.node = node_name(a), .namespace = t->namespace, .pod = t->pod,
		.pod_uid = t->pod_uid, .container = t->container, .container_id = t->container_id,
	};
	t->meta = (struct target_meta){ .service = t->service, .k8s = &t->k8s };
	t->next = a->targets;
	a->targets = t;
	log_info("pod %s (%s): looking for its Python processes", t->label, t->container_id);
	return t;
}

/* Detach and free every target not marked live. */
static void drop_dead_targets(struct agent *a)
{
	struct target **link = &a->targets;

	while (*link) {
		struct target *t = *link;

		if (t->live) {
			link = &t->next;
			continue;
		}
		for (struct watched *w = a->watched, *next; w && t->nprocs > 0; w = next) {
			next = w->next;
			if (w->t == t)
				detach(a, w, "its container is gone from the pod list");
		}
		log_info("pod %s (%s): no longer watched", t->label, t->container_id);
		*link = t->next;
		target_free(t);
	}
}

/* ---- pod states: config errors, rate limits ------------------------------------ */

static void pod_state_clear(struct pod_state *ps)
{
	for (size_t i = 0; i < ps->nkeys; i++)
		free(ps->keys[i]);
	free(ps->keys);
	ps->keys = NULL;
	ps->nkeys = 0;
}

static void pod_state_free(struct pod_state *ps)
{
	pod_state_clear(ps);
	free(ps->uid);
	free(ps->namespace);
	free(ps->name);
	free(ps->service);
	free(ps->label);
	free(ps);
}

/* The state of pod p, made (with a full bucket) if it has none; its
 * service follows the pod's. NULL when out of memory. */
static struct pod_state *pod_state(struct agent *a, const struct k8s_pod *p)
{
	struct pod_state *ps;

	for (ps = a->pod_states; ps; ps = ps->next)
		if (!strcmp(ps->uid, p->uid))
			break;
	if (!ps) {
		ps = calloc(1, sizeof(*ps));
		if (!ps)
			return NULL;
		ps->uid = strdup(p->uid);
		ps->namespace = strdup(p->namespace);
		ps->name = strdup(p->name);
		ps->label = label_of(p->namespace, p->name, NULL);
		if (!ps->uid || !ps->namespace || !ps->name || !ps->label) {
			pod_state_free(ps);
			return NULL;
		}
		rate_limit_init(&ps->limit, a->o->max_events_per_pod, a->o->max_events_burst,
				mono_now_ns());
		ps->next = a->pod_states;
		a->pod_states = ps;
	}
	if (!same_str(ps->service, p->service)) {
		char *service = p->service ? strdup(p->service) : NULL;

		if (!p->service || service) {
			free(ps->service);
			ps->service = service;
		}
	}
	return ps;
}

/* The pod's tags for its own records (not a container's). */
static void pod_meta(const struct agent *a, const struct pod_state *ps, struct k8s_meta *k8s,
		     struct target_meta *meta)
{
	*k8s = (struct k8s_meta){
		.node = node_name(a), .namespace = ps->namespace, .pod = ps->name,
		.pod_uid = ps->uid, .container = "", .container_id = "",
	};
	*meta = (struct target_meta){ .service = ps->service, .k8s = k8s };
}

/* A pod gets at most one events_suppressed record a second (and a last one). */
#define SUPPRESSED_EVERY_NS 1000000000ULL

/*
 * An events_suppressed record for what the pod suppressed since its last
 * one, if anything and if that one is a second old (or if final: the pod
 * or the agent is going, and nothing counted may be lost).
 */
static void report_suppressed(struct agent *a, struct pod_state *ps, bool final)
{
	uint64_t now = mono_now_ns();
	struct k8s_meta k8s;
	struct target_meta meta;
	cJSON *rec;

	if (!ps->suppressed ||
	    (!final && ps->reported_ns && now - ps->reported_ns < SUPPRESSED_EVERY_NS))
		return;
	pod_meta(a, ps, &k8s, &meta);
	rec = record_events_suppressed(engine_session(a->engine), &meta, ps->suppressed, ps->suppressed_total,
				       a->o->max_events_per_pod, a->o->max_events_burst);
	if (!rec)
		return; /* out of memory: kept for the next one */
	engine_report(a->engine, rec);
	cJSON_Delete(rec);
	ps->suppressed = 0;
	ps->reported_ns = now;
}

/* An event of target t over its pod's limit: counted, not reported (the
 * engine counts it in the summary). */
static void suppress(struct agent *a, struct target *t)
{
	struct pod_state *ps = t->pod_state;

	ps->suppressed++;
	ps->suppressed_total++;
	metrics_suppressed(t->series);
	/* Said as it happens, at most once a second (the tick says the rest). */
	report_suppressed(a, ps, false);
	if (!ps->warned_flood) {
		ps->warned_flood = true;
		log_warn("pod %s: more than %g blocking events a second (--max-events-per-pod, after a burst of %u): the rest are counted, not reported (events_suppressed records, blocksnoop_suppressed_events_total)",
			 ps->label, a->o->max_events_per_pod, a->o->max_events_burst);
	}
}

static void drop_dead_pod_states(struct agent *a)
{
	struct pod_state **link = &a->pod_states;

	while (*link) {
		struct pod_state *ps = *link;

		if (ps->live) {
			link = &ps->next;
			continue;
		}
		report_suppressed(a, ps, true); /* its last count is not lost */
		*link = ps->next;
		pod_state_free(ps);
	}
}

/* Report the pod's config errors that were not reported already. */
static void report_config_errors(struct agent *a, struct pod_state *ps, const struct k8s_pod *p)
{
	struct k8s_meta k8s;
	struct target_meta meta;
	char **keys;

	pod_meta(a, ps, &k8s, &meta);
	keys = calloc(p->nerrors ? p->nerrors : 1, sizeof(*keys));
	if (!keys)
		return;
	for (size_t i = 0; i < p->nerrors; i++) {
		const struct k8s_config_error *e = &p->errors[i];
		char annotation[256];
		bool seen = false;
		cJSON *rec;

		if (!e->annotation || !e->value || !e->message)
			continue;
		if (asprintf(&keys[i], "%s\x1f%s", e->annotation, e->value) < 0) {
			keys[i] = NULL;
			continue;
		}
		for (size_t j = 0; j < ps->nkeys; j++)
			seen = seen || (ps->keys[j] && !strcmp(ps->keys[j], keys[i]));
		if (seen)
			continue;
		log_warn("pod %s: annotation %s: %s", ps->label,
			 k8s_printable(e->annotation, 63, annotation, sizeof(annotation)), e->message);
		metrics_config_error(a->metrics);
		rec = record_config_error(engine_session(a->engine), &meta, e->annotation, e->value,
					  e->message);
		if (rec)
			engine_report(a->engine, rec);
		cJSON_Delete(rec);
	}
	pod_state_clear(ps);
	ps->keys = keys;
	ps->nkeys = p->nerrors;
}

/* ---- the kubelet's pod list --------------------------------------------------- */

static bool is_own_pod(const struct agent *a, const struct k8s_pod *p)
{
	return a->o->own_pod_uid && !strcmp(a->o->own_pod_uid, p->uid);
}

static bool pod_running_or_starting(const struct k8s_pod *p)
{
	return !p->phase || (strcmp(p->phase, "Succeeded") && strcmp(p->phase, "Failed"));
}

/* Make the targets what the pod list says. */
static void reconcile(struct agent *a)
{
	const struct k8s_podlist *list = a->pods;
	unsigned pods = 0;

	for (struct target *t = a->targets; t; t = t->next)
		t->live = false;
	for (struct pod_state *ps = a->pod_states; ps; ps = ps->next)
		ps->live = false;
	metrics_sweep_begin(a->metrics);

	for (size_t i = 0; i < list->npods; i++) {
		const struct k8s_pod *p = &list->pods[i];
		bool watched = p->enabled && pod_running_or_starting(p);
		struct pod_state *ps = NULL;

		if (is_own_pod(a, p))
			continue;
		if (watched || p->nerrors) {
			ps = pod_state(a, p);
			if (ps) {
				ps->live = true;
				report_config_errors(a, ps, p);
			}
		}
		if (!watched)
			continue;
		pods++;
		for (size_t c = 0; c < p->ncontainers; c++) {
			const struct k8s_container *ct = &p->containers[c];
			struct metrics_series *series;
			struct target *t;

			if (!ct->selected)
				continue;
			series = metrics_series(a->metrics, p->namespace, p->name, ct->name);
			if (!ct->id)
				continue; /* not started yet */
			t = find_target(a, p, ct);
			if (!t)
				t = new_target(a, p, ct);
			if (!t)
				continue;
			t->live = true;
			t->series = series;
			t->pod_state = ps;
		}
	}
	drop_dead_targets(a);
	drop_dead_pod_states(a);
	metrics_sweep_end(a->metrics);
	if (pods != a->watched_pods)
		log_info("%u opted-in pod%s on node %s", pods, pods == 1 ? "" : "s", node_name(a));
	a->watched_pods = pods;
	metrics_set_pods(a->metrics, pods);
}

static void schedule_poll(struct agent *a)
{
	long ms = kubelet_next_delay_ms((long)(a->o->poll_interval_s * 1000), a->failures,
					random01());

	arm_once(a->pollfd, (uint64_t)ms * 1000000ULL);
}

static void poll_failed(struct agent *a, enum kubelet_error_reason reason, const char *message)
{
	if (!a->failures)
		a->failing_since_ns = mono_now_ns();
	a->failures++;
	metrics_kubelet_poll(a->metrics, false, reason, 0);
	/* Say each new problem once, not every poll. */
	if (strcmp(a->last_error, message)) {
		log_error("%s%s", message,
			  a->pods ? " (still watching the pods known so far)" : "");
		snprintf(a->last_error, sizeof(a->last_error), "%s", message);
	} else {
		log_info("kubelet poll failed again (%u in a row)", a->failures);
	}
}

static void on_poll_done(void *ctx, const struct kubelet_result *r)
{
	struct agent *a = ctx;
	struct k8s_pod_defaults defaults = {
		.threshold_ms = a->o->threshold_ms,
		.error_threshold_ms = a->o->error_threshold_ms,
		.min_threshold_ms = a->o->min_threshold_ms,
		.sampler = a->o->sampler,
		.runs = {
			[SAMPLER_BUILTIN] = agent_runs_builtin(a->o),
			[SAMPLER_AUSTIN] = agent_runs_austin(a->o),
		},
	};
	struct k8s_podlist *list = NULL;
	char err[256], message[1024];
	int ret;

	if (!r->ok) {
		poll_failed(a, r->reason, r->message);
		goto next;
	}
	ret = k8s_podlist_parse(r->body, r->len, &defaults, &list, err, sizeof(err));
	if (ret) {
		snprintf(message, sizeof(message), "the kubelet's answer to GET %s/pods is not a pod list: %s",
			 a->o->kubelet_url, err);
		poll_failed(a, ret == -ENOMEM ? KUBELET_ERR_OTHER : KUBELET_ERR_PARSE, message);
		goto next;
	}
	if (a->failures)
		log_warn("the kubelet at %s answers again, after %u failed poll%s over %.0f s",
			 a->o->kubelet_url, a->failures, a->failures == 1 ? "" : "s",
			 (double)(mono_now_ns() - a->failing_since_ns) / 1e9);
	else if (!a->ever_ok)
		log_info("the kubelet at %s lists %zu pods (%.3f s)", a->o->kubelet_url, list->npods,
			 r->seconds);
	a->failures = 0;
	a->last_error[0] = '\0';
	a->ever_ok = true;
	a->last_ok_unix = unix_now();
	metrics_kubelet_poll(a->metrics, true, KUBELET_ERR_OTHER, a->last_ok_unix);
	k8s_podlist_free(a->pods);
	a->pods = list;
	reconcile(a);
next:
	/* Also after a failure: known containers may have new processes. */
	scan(a);
	schedule_poll(a);
}

static void start_poll(struct agent *a)
{
	int ret = kubelet_poll(a->kubelet);
	char message[256];

	if (ret == -EBUSY)
		return;
	if (ret) {
		snprintf(message, sizeof(message), "cannot start a kubelet poll: %s", strerror(-ret));
		poll_failed(a, KUBELET_ERR_OTHER, message);
		schedule_poll(a);
	}
}

/* ---- what the engine tells us ------------------------------------------------ */

/* A block of watched process w: within its pod's rate limit? The
 * kernel's own clock of the event keeps the limit exact. */
static bool admit(void *client, void *watch, uint64_t end_ns)
{
	struct agent *a = client;
	struct watched *w = watch;

	if (!w->t->pod_state || rate_limit_take(&w->t->pod_state->limit, end_ns))
		return true;
	suppress(a, w->t);
	return false;
}

static void on_event(void *client, void *watch, const struct blocking_event *e)
{
	struct watched *w = watch;

	(void)client;
	metrics_event(w->t->series, e->duration_ms, e->is_error);
}

static void on_still_blocked(void *client, void *watch, const struct still_blocked *b)
{
	struct watched *w = watch;

	(void)client;
	(void)b;
	metrics_still_blocked(w->t->series);
}

/* What a watched process's sampler did: counted for its container. The
 * sampler has said on stderr what needed saying (naming the pod, through
 * describe()). */
static void on_sampler_news(void *client, void *watch, pid_t pid, enum sampler_kind kind,
			    enum sampler_news what, uint64_t n, const char *why)
{
	struct watched *w = watch;

	(void)client;
	(void)pid;
	(void)why;
	switch (what) {
	case SAMPLER_NEWS_SAMPLES:
		metrics_sampler_samples(w->t->series, kind, n);
		break;
	case SAMPLER_NEWS_RESTART:
		metrics_sampler_restart(w->t->series, kind);
		break;
	case SAMPLER_NEWS_FAILURE:
		metrics_sampler_failure(w->t->series, kind);
		break;
	}
}

/* A sampler's warnings about a watched process name its pod and container. */
static void describe(void *client, void *watch, char *buf, size_t len)
{
	const struct watched *w = watch;

	(void)client;
	snprintf(buf, len, "pod %s", w->t->label);
}

static void on_gone(void *client, void *watch, enum engine_gone why)
{
	(void)why; /* only main threads are watched: their process exited */
	add_loop_gaps(client, watch);
	forget(client, watch, "it exited");
}

static void on_tick(void *client)
{
	struct agent *a = client;

	metrics_set_lost_events(a->metrics, engine_lost_events(a->engine));
	for (struct pod_state *ps = a->pod_states; ps; ps = ps->next)
		report_suppressed(a, ps, false);
	/* While polls fail (and back off), keep finding new processes of the
	 * containers already known. */
	if (a->pods && mono_now_ns() - a->last_scan_ns >= a->interval_ns)
		scan(a);
}

/* The last records before the summary: what each pod suppressed since its
 * last events_suppressed record. */
static void on_closing(void *client)
{
	struct agent *a = client;

	for (struct pod_state *ps = a->pod_states; ps; ps = ps->next)
		report_suppressed(a, ps, true);
}

/* The agent's own fds in the engine's loop. */
static void on_poll_timer(void *ctx)
{
	struct agent *a = ctx;
	uint64_t expirations;

	while (read(a->pollfd, &expirations, sizeof(expirations)) < 0 && errno == EINTR)
		;
	start_poll(a);
}

static void on_kubelet(void *ctx)
{
	struct agent *a = ctx;

	kubelet_ready(a->kubelet, on_poll_done, a);
}

/* ---- /metrics and /healthz ---------------------------------------------------- */

static char *render_metrics(void *ctx, size_t *len)
{
	struct agent *a = ctx;

	metrics_set_lost_events(a->metrics, engine_lost_events(a->engine));
	for (struct watched *w = a->watched; w; w = w->next)
		add_loop_gaps(a, w);
	return metrics_render(a->metrics, BLOCKSNOOP_VERSION, len);
}

static int render_health(void *ctx, char *buf, size_t len)
{
	struct agent *a = ctx;
	unsigned procs = a->nwatched;

	if (!a->ever_ok)
		snprintf(buf, len, "ok\nkubelet: no answer yet%s\nwatched processes: %u\n",
			 a->failures ? " (polls failing)" : "", procs);
	else
		snprintf(buf, len, "ok\nkubelet: %s, last answer %.0f s ago\nwatched pods: %u\nwatched processes: %u\n",
			 a->failures ? "failing" : "up", unix_now() - a->last_ok_unix,
			 a->watched_pods, procs);
	return 200;
}

/* ---- set-up ------------------------------------------------------------------- */

/* Per-pod flame graphs in --flame-dir (sink_flame_pods_new()). */
static int add_flame_sink(struct agent *a)
{
	char err[512];
	struct sink *sink = sink_flame_pods_new(a->o->flame_dir, err, sizeof(err));
	int code;

	if (!sink) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	code = engine_add_sink(a->engine, sink);
	if (!code)
		engine_add_output_dir(a->engine, a->o->flame_dir);
	return code;
}

static int add_sinks(struct agent *a)
{
	const struct agent_options *o = a->o;
	struct sink *sink;
	char line[1024], limit[96];
	int code;

	if (o->max_events_per_pod > 0)
		snprintf(limit, sizeof(limit), "at most %g events/s per pod (burst %u)",
			 o->max_events_per_pod, o->max_events_burst);
	else
		snprintf(limit, sizeof(limit), "no limit on events per pod");
	if (o->json) {
		sink = sink_json_new(STDOUT_FILENO, false);
	} else {
		snprintf(line, sizeof(line),
			 "blocksnoop: agent on node %s: watching pods annotated blocksnoop.io/enabled=\"true\" "
			 "(kubelet %s, every %gs), blocks >= %.1f ms unless a pod says otherwise (not below %g ms), %s... Ctrl-C to stop\n",
			 o->node_name, o->kubelet_url, o->poll_interval_s, o->threshold_ms,
			 o->min_threshold_ms, limit);
		sink = agent_console_new(STDERR_FILENO, !o->no_color && isatty(STDERR_FILENO), line);
	}
	code = engine_add_sink(a->engine, sink);
	if (!code && o->log_file)
		code = engine_add_log_file(a->engine, o->log_file);
	if (!code && o->flame_dir)
		code = add_flame_sink(a);
	return code;
}

/* Which credential files to use; an explicitly given one must be readable. */
static int check_files(struct agent_options *o)
{
	if (o->ca_file && access(o->ca_file, R_OK)) {
		if (o->ca_file_given) {
			log_error("cannot read --kubelet-ca-file %s: %m", o->ca_file);
			return EXIT_USAGE;
		}
		log_info("no service-account CA at %s: verifying the kubelet with the system's CAs",
			 o->ca_file);
		o->ca_file = NULL;
	}
	if (o->token_file && access(o->token_file, R_OK)) {
		if (o->token_file_given) {
			log_error("cannot read --kubelet-token-file %s: %m", o->token_file);
			return EXIT_USAGE;
		}
		log_warn("no service-account token at %s: asking the kubelet without one (see --kubelet-token-file)",
			 o->token_file);
		o->token_file = NULL;
	}
	if (o->insecure_skip_verify)
		log_warn("TLS VERIFICATION OF THE KUBELET IS OFF (--kubelet-insecure-skip-tls-verify): "
			 "whoever can intercept traffic to %s can impersonate it, feed the agent pod metadata%s",
			 o->kubelet_url, o->token_file ? " and read its service-account token" : "");
	return 0;
}

static int start_metrics(struct agent *a)
{
	struct metrics_http_handlers h = {
		.metrics = render_metrics, .health = render_health, .ctx = a,
	};
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256];
	int ret;

	if (!serves_metrics(a->o))
		return 0;
	if (listen_addr_parse(a->o->metrics_addr, &ss, &len)) {
		log_error("invalid --metrics-addr '%s'", a->o->metrics_addr);
		return EXIT_USAGE;
	}
	ret = metrics_http_start((struct sockaddr *)&ss, len, &h, &a->http, err, sizeof(err));
	if (ret) {
		/* -ENOENT: libmicrohttpd is missing, and err says which package. */
		log_error("cannot serve /metrics on %s: %s (%s, or \"\" to serve none)",
			  a->o->metrics_addr, err,
			  ret == -ENOENT ? "install it" : "choose another --metrics-addr");
		return EXIT_RUNTIME;
	}
	log_info("serving /metrics and /healthz on %s (port %d)", a->o->metrics_addr,
		 metrics_http_port(a->http));
	return 0;
}

/* The agent's fds in the engine's loop: the next poll's timer, the
 * kubelet client, the metrics server. */
static int add_fds(struct agent *a)
{
	int err = 0;

	a->pollfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (a->pollfd < 0)
		return -errno;
	err = engine_add_fd(a->engine, a->pollfd, on_poll_timer, NULL, a);
	if (!err)
		err = engine_add_fd(a->engine, kubelet_fd(a->kubelet), on_kubelet, NULL, a);
	if (!err && a->http)
		err = metrics_http_join(a->http, a->engine);
	return err;
}

static void cleanup(struct agent *a)
{
	while (a->watched)
		detach(a, a->watched, "the agent is stopping");
	while (a->targets) {
		struct target *t = a->targets;

		a->targets = t->next;
		target_free(t);
	}
	for (struct pod_state *ps = a->pod_states; ps;) {
		struct pod_state *next = ps->next;

		pod_state_free(ps);
		ps = next;
	}
	k8s_podlist_free(a->pods);
	metrics_http_stop(a->http);
	kubelet_free(a->kubelet);
	engine_free(a->engine);
	metrics_free(a->metrics);
	if (a->pollfd >= 0)
		close(a->pollfd);
}

static const char *env_get(const char *name)
{
	return getenv(name);
}

/* The engine's view of the agent's options. */
static void engine_config_of(const struct agent_options *o, struct engine_config *cfg)
{
	*cfg = (struct engine_config){
		.mode = "agent",
		.threshold_ms = o->threshold_ms,
		.error_threshold_ms = o->error_threshold_ms,
		.service = o->service,
		.env = o->env,
		.duration_s = o->duration_s,
		.interval_ms = o->interval_ms,
		.austin = o->austin,
		.austin_root = o->austin_root,
		.loop_hists = serves_metrics(o),
		/* For tests: poll as on a kernel that cannot wake the sampler. */
		.sampler_poll = sampler_poll_forced(),
	};
	/* What a pod may choose from (agent_options.h): a sampler not run
	 * here costs no capability and no helper. */
	cfg->samplers[SAMPLER_BUILTIN] = agent_runs_builtin(o);
	cfg->samplers[SAMPLER_AUSTIN] = agent_runs_austin(o);
}

int agent_main(int argc, char **argv)
{
	static struct agent_options opts;
	static struct agent agent;
	const struct engine_hooks hooks = {
		.gone = on_gone, .admit = admit, .event = on_event,
		.still_blocked = on_still_blocked, .sampler_news = on_sampler_news,
		.describe = describe, .tick = on_tick, .closing = on_closing,
	};
	struct agent *a = &agent;
	struct engine_config cfg;
	struct kubelet_config kc;
	char err[512], missing[256], ua[64];
	int code, ret;

	code = agent_options_parse(argc, argv, env_get, &opts, err, sizeof(err));
	if (code) {
		log_error("%s", err);
		return code;
	}
	if (opts.command == AGENT_HELP) {
		fputs(agent_usage, stdout);
		return EXIT_OK;
	}
	log_set_verbose(opts.verbose);

	memset(a, 0, sizeof(*a));
	a->o = &opts;
	a->pollfd = -1;
	a->interval_ns = (uint64_t)(opts.poll_interval_s * 1e9);

	/* Check what can be checked before loading anything. */
	code = check_files(&opts);
	if (code)
		goto out;
	{
		uint64_t dev, ino;

		if (!procfs_ns_id("/proc/self/ns/pid", &dev, &ino) && ino != PROC_PID_INIT_INO)
			log_warn("not in the host's PID namespace: only the processes of this pod are visible (a DaemonSet needs hostPID: true)");
	}
	if (!caps_can_trace(missing, sizeof(missing))) {
		log_error("missing capabilities %s: run as root (in a pod: runAsUser 0 with the capabilities of docs/kubernetes.md), or see 'blocksnoop doctor'",
			  missing);
		code = EXIT_PRIVILEGE;
		goto out;
	}
	a->metrics = metrics_new();
	if (!a->metrics) {
		log_error("out of memory");
		code = EXIT_RUNTIME;
		goto out;
	}

	/* Outputs, then the detector, the sampler and the loop. */
	engine_config_of(&opts, &cfg);
	a->engine = engine_new(&cfg, &hooks, a);
	if (!a->engine) {
		code = EXIT_RUNTIME;
		goto out;
	}
	code = add_sinks(a);
	if (!code)
		code = engine_open(a->engine);
	if (code)
		goto out;
	/* Bind the port while privileged (a port below 1024 needs it). */
	code = start_metrics(a);
	if (code)
		goto out;

	snprintf(ua, sizeof(ua), "blocksnoop/%s", BLOCKSNOOP_VERSION);
	kc = (struct kubelet_config){
		.url = opts.kubelet_url,
		.host_ip = opts.kubelet_host_ip,
		.token_file = opts.token_file,
		.ca_file = opts.ca_file,
		.insecure = opts.insecure_skip_verify,
		/* A poll must end before the next is due, within 2..30 s. */
		.timeout_ms = opts.poll_interval_s < 2 ? 2000
			      : opts.poll_interval_s > 30 ? 30000 : (long)(opts.poll_interval_s * 1000),
		.user_agent = ua,
	};
	ret = kubelet_new(&kc, &a->kubelet, err, sizeof(err));
	if (ret) {
		log_error("%s", err);
		code = EXIT_RUNTIME;
		goto out;
	}
	ret = add_fds(a);
	if (ret) {
		log_error("cannot set up the event loop: %s", strerror(-ret));
		code = EXIT_RUNTIME;
		goto out;
	}

	/* Everything privileged is done: from here on, only what watching
	 * new processes needs. No other thread exists yet. */
	engine_drop_privileges(a->engine, (struct caps_run_needs){ .find_processes = true });

	engine_start(a->engine, 0, 0);
	arm_once(a->pollfd, 0); /* the first poll at once */
	engine_run(a->engine);
	engine_end(a->engine);
	code = engine_failed(a->engine) ? EXIT_RUNTIME : 0;

out:
	cleanup(a);
	return code;
}
