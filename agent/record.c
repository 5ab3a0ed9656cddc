// SPDX-License-Identifier: Apache-2.0
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anatomy.h"
#include "gil_wait.h"
#include "options.h"
#include "record.h"
#include "stacks.h"
#include "tasks.h"
#include "timeutil.h"

/* Milliseconds and seconds are reported to the microsecond / millisecond:
 * more digits are noise, and fewer keep lines short. */
static double round3(double v)
{
	return round(v * 1000.0) / 1000.0;
}

/* cJSON keeps numbers as doubles, exact only up to 2^53: kernel
 * nanosecond timestamps pass that after 104 days of uptime, so they are
 * written as raw integer text. */
static cJSON *add_u64(cJSON *obj, const char *name, uint64_t v)
{
	char text[24];

	snprintf(text, sizeof(text), "%" PRIu64, v);
	return cJSON_AddRawToObject(obj, name, text);
}

static cJSON *new_record(const struct session_info *s, const char *type,
			 const struct timespec *when)
{
	char iso[40];
	cJSON *r = cJSON_CreateObject();

	if (!r)
		return NULL;
	format_iso8601(when, iso, sizeof(iso));
	if (!cJSON_AddStringToObject(r, "schema", RECORD_SCHEMA) ||
	    !cJSON_AddNumberToObject(r, "schema_version", RECORD_SCHEMA_VERSION) ||
	    !cJSON_AddStringToObject(r, "type", type) ||
	    !cJSON_AddStringToObject(r, "session_id", s->id) ||
	    !cJSON_AddStringToObject(r, "time", iso)) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

static struct timespec wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

cJSON *record_session_start(const struct session_info *s)
{
	cJSON *r = new_record(s, "session_start", &s->start_wall);
	cJSON *cmd;
	bool ok;

	if (!r)
		return NULL;
	ok = cJSON_AddStringToObject(r, "version", BLOCKSNOOP_VERSION) &&
	     cJSON_AddStringToObject(r, "mode", s->mode) &&
	     cJSON_AddNumberToObject(r, "pid", s->pid) &&
	     cJSON_AddNumberToObject(r, "tid", s->tid) &&
	     cJSON_AddBoolToObject(r, "follow", s->follow) &&
	     cJSON_AddBoolToObject(r, "all_threads", s->all_threads) &&
	     cJSON_AddNumberToObject(r, "threshold_ms", round3(s->threshold_ms)) &&
	     cJSON_AddNumberToObject(r, "error_threshold_ms", round3(s->error_threshold_ms)) &&
	     cJSON_AddBoolToObject(r, "stats", s->stats);
	if (ok && s->command) {
		cmd = cJSON_AddArrayToObject(r, "command");
		ok = cmd != NULL;
		for (char *const *a = s->command; ok && *a; a++) {
			cJSON *item = cJSON_CreateString(*a);
			ok = item && cJSON_AddItemToArray(cmd, item);
			if (!ok)
				cJSON_Delete(item);
		}
	}
	if (!ok) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

/* The target's own tags: its service and, in Kubernetes, where it runs. */
static bool add_meta(cJSON *r, const struct target_meta *m)
{
	const struct k8s_meta *k;
	cJSON *o;

	if (!m)
		return true;
	if (m->service && !cJSON_AddStringToObject(r, "service", m->service))
		return false;
	k = m->k8s;
	if (!k)
		return true;
	o = cJSON_AddObjectToObject(r, "k8s");
	return o &&
	       cJSON_AddStringToObject(o, "node", k->node ? k->node : "") &&
	       cJSON_AddStringToObject(o, "namespace", k->namespace ? k->namespace : "") &&
	       cJSON_AddStringToObject(o, "pod", k->pod ? k->pod : "") &&
	       cJSON_AddStringToObject(o, "pod_uid", k->pod_uid ? k->pod_uid : "") &&
	       cJSON_AddStringToObject(o, "container", k->container ? k->container : "") &&
	       cJSON_AddStringToObject(o, "container_id", k->container_id ? k->container_id : "");
}

cJSON *record_config_error(const struct session_info *s, const struct target_meta *meta,
			   const char *annotation, const char *value, const char *message)
{
	struct timespec now = wall_now();
	cJSON *r = new_record(s, "config_error", &now);

	if (!r)
		return NULL;
	if (!cJSON_AddStringToObject(r, "level", "warning") ||
	    !cJSON_AddStringToObject(r, "annotation", annotation) ||
	    !cJSON_AddStringToObject(r, "value", value) ||
	    !cJSON_AddStringToObject(r, "error", message) ||
	    !add_meta(r, meta)) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

cJSON *record_events_suppressed(const struct session_info *s, const struct target_meta *meta,
				 uint64_t count, uint64_t total, double max_per_s,
				 unsigned burst)
{
	struct timespec now = wall_now();
	cJSON *r = new_record(s, "events_suppressed", &now);

	if (!r)
		return NULL;
	if (!cJSON_AddStringToObject(r, "level", "warning") ||
	    !cJSON_AddNumberToObject(r, "count", (double)count) ||
	    !cJSON_AddNumberToObject(r, "total", (double)total) ||
	    !cJSON_AddNumberToObject(r, "max_events_per_s", round3(max_per_s)) ||
	    !cJSON_AddNumberToObject(r, "burst", burst) ||
	    !add_meta(r, meta)) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

static cJSON *frame_json(const struct frame *f)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "function", f->function ? f->function : "") ||
	    !cJSON_AddStringToObject(o, "file", f->file ? f->file : "") ||
	    !cJSON_AddNumberToObject(o, "line", f->line) ||
	    !(f->source ? cJSON_AddStringToObject(o, "source", f->source)
			: cJSON_AddNullToObject(o, "source"))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/*
 * python_stacks: null, or the distinct stacks most sampled first, each a list
 * of frames innermost first (the shape the earlier Python blocksnoop used);
 * stack_samples: how many samples each stack got; samples: the total;
 * stack_unavailable: with null stacks only, why there are none.
 */
static bool add_stacks(cJSON *r, const struct stack_set *set)
{
	cJSON *stacks, *counts;

	if (!set || !set->nstacks)
		return cJSON_AddNullToObject(r, "python_stacks") &&
		       cJSON_AddArrayToObject(r, "stack_samples") &&
		       cJSON_AddNumberToObject(r, "samples", set ? set->total_samples : 0) &&
		       cJSON_AddStringToObject(r, "stack_unavailable", stack_set_why_none(set));
	stacks = cJSON_AddArrayToObject(r, "python_stacks");
	counts = cJSON_AddArrayToObject(r, "stack_samples");
	if (!stacks || !counts)
		return false;
	for (unsigned i = 0; i < set->nstacks; i++) {
		const struct stack *st = &set->stacks[i].stack;
		cJSON *frames = cJSON_CreateArray(), *n;

		if (!frames || !cJSON_AddItemToArray(stacks, frames))
			return cJSON_Delete(frames), false;
		for (int f = 0; f < st->depth; f++) {
			cJSON *fj = frame_json(&st->frames[f]);

			if (!fj || !cJSON_AddItemToArray(frames, fj))
				return cJSON_Delete(fj), false;
		}
		n = cJSON_CreateNumber(set->stacks[i].samples);
		if (!n || !cJSON_AddItemToArray(counts, n))
			return cJSON_Delete(n), false;
	}
	return cJSON_AddNumberToObject(r, "samples", set->total_samples) != NULL;
}

/*
 * task: the asyncio task the block ran in (of its most sampled stack):
 * state "running" (name, coro, awaited_by: the tasks awaiting it, nearest
 * first, up to the root), "no_task" (a bare callback) or "unavailable"
 * (reason). Every key is always there; null where it does not apply.
 */
static bool add_task(cJSON *r, const struct stack_set *set, int sampler)
{
	const struct task_seen *t;
	cJSON *o = cJSON_AddObjectToObject(r, "task"), *by;
	const char *why;
	bool running;

	if (!o)
		return false;
	t = event_task(set, sampler, &why);
	running = t && t->state == TASK_RUNNING;
	if (!cJSON_AddStringToObject(o, "state", task_state_name(t ? t->state : TASK_UNAVAILABLE)) ||
	    !(running ? cJSON_AddStringToObject(o, "name", t->chain[0].name)
		      : cJSON_AddNullToObject(o, "name")) ||
	    !(running ? cJSON_AddStringToObject(o, "coro", t->chain[0].coro)
		      : cJSON_AddNullToObject(o, "coro")) ||
	    !(by = cJSON_AddArrayToObject(o, "awaited_by")) ||
	    !cJSON_AddBoolToObject(o, "awaited_by_truncated", running && t->truncated) ||
	    !(why ? cJSON_AddStringToObject(o, "reason", why) : cJSON_AddNullToObject(o, "reason")))
		return false;
	for (int i = 1; running && i < t->depth; i++) {
		cJSON *link = cJSON_CreateObject();

		if (!link || !cJSON_AddItemToArray(by, link))
			return cJSON_Delete(link), false;
		if (!cJSON_AddStringToObject(link, "name", t->chain[i].name) ||
		    !cJSON_AddStringToObject(link, "coro", t->chain[i].coro))
			return false;
	}
	return true;
}

/* sampler: which sampler the event's thread has ("builtin", "austin"), or
 * null for none. */
static bool add_sampler(cJSON *r, int kind)
{
	const char *name = sampler_kind_name(kind);

	return name ? cJSON_AddStringToObject(r, "sampler", name) != NULL
		    : cJSON_AddNullToObject(r, "sampler") != NULL;
}

static bool add_wait(cJSON *waits, const struct anatomy_wait *w)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddItemToArray(waits, o)) {
		cJSON_Delete(o);
		return false;
	}
	return cJSON_AddStringToObject(o, "syscall", w->name) &&
	       cJSON_AddStringToObject(o, "class", anatomy_class_name(w->class)) &&
	       cJSON_AddNumberToObject(o, "ms", round3(w->ms)) &&
	       (w->fd < 0 || cJSON_AddNumberToObject(o, "fd", w->fd)) &&
	       (!w->what[0] || cJSON_AddStringToObject(o, "what", w->what));
}

/* anatomy.gil: the thread the loop thread waited for the GIL for
 * (gil_wait.h), or null. */
static bool add_gil(cJSON *o, const struct stack_set *set)
{
	const struct gil_wait *w = set ? set->gil : NULL;
	cJSON *g, *frames;

	if (!w)
		return cJSON_AddNullToObject(o, "gil") != NULL;
	g = cJSON_AddObjectToObject(o, "gil");
	if (!g || !cJSON_AddNumberToObject(g, "holder_tid", w->holder_tid) ||
	    !cJSON_AddNumberToObject(g, "share", round(w->share * 1e4) / 1e4) ||
	    !(frames = cJSON_AddArrayToObject(g, "stack")))
		return false;
	for (int f = 0; f < w->stack.depth; f++) {
		cJSON *fj = frame_json(&w->stack.frames[f]);

		if (!fj || !cJSON_AddItemToArray(frames, fj))
			return cJSON_Delete(fj), false;
	}
	return true;
}

/* anatomy: where the time of a gap of gap_ms went (docs/output-schema.md),
 * with the GIL holder of stacks; absent when not measured (a NULL). Shares
 * are fractions of the gap. */
static bool add_anatomy(cJSON *r, const struct event_anatomy *a, double gap_ms,
			const struct stack_set *stacks)
{
	cJSON *o, *shares, *waits;

	if (!a)
		return true;
	o = cJSON_AddObjectToObject(r, "anatomy");
	if (!o || !cJSON_AddStringToObject(o, "class", anatomy_class_name(a->dominant)))
		return false;
	shares = cJSON_AddObjectToObject(o, "shares");
	if (!shares)
		return false;
	for (int c = 0; c < ANATOMY_CLASSES; c++) {
		double f = gap_ms > 0 ? a->share_ms[c] / gap_ms : 0;

		if (!cJSON_AddNumberToObject(shares, anatomy_class_name(c), round(f * 1e4) / 1e4))
			return false;
	}
	if (!cJSON_AddNumberToObject(o, "on_cpu_ms", round3(a->on_cpu_ms)) ||
	    !cJSON_AddNumberToObject(o, "off_cpu_ms", round3(a->off_cpu_ms)) ||
	    !cJSON_AddNumberToObject(o, "runqueue_ms", round3(a->runqueue_ms)) ||
	    !cJSON_AddNumberToObject(o, "throttled_ms", round3(a->throttled_ms)) ||
	    !cJSON_AddBoolToObject(o, "throttled", a->throttled))
		return false;
	waits = cJSON_AddArrayToObject(o, "waits");
	if (!waits)
		return false;
	for (size_t i = 0; i < a->nwaits; i++)
		if (!add_wait(waits, &a->waits[i]))
			return false;
	return add_gil(o, stacks);
}

cJSON *record_blocking_event(const struct session_info *s,
			     const struct blocking_event *e)
{
	cJSON *r = new_record(s, "blocking_event", &e->wall_start);
	bool ok;

	if (!r)
		return NULL;
	ok = cJSON_AddNumberToObject(r, "event_number", (double)e->number) &&
	     cJSON_AddNumberToObject(r, "timestamp_s", round(e->timestamp_s * 1e6) / 1e6) &&
	     add_u64(r, "start_ns", e->start_ns) &&
	     add_u64(r, "end_ns", e->end_ns) &&
	     cJSON_AddNumberToObject(r, "duration_ms", round3(e->duration_ms)) &&
	     cJSON_AddNumberToObject(r, "pid", e->pid) &&
	     cJSON_AddNumberToObject(r, "tid", e->tid) &&
	     cJSON_AddStringToObject(r, "process_name", e->process_name ? e->process_name : "") &&
	     cJSON_AddStringToObject(r, "level", e->is_error ? "error" : "warning") &&
	     add_stacks(r, e->stacks) &&
	     add_task(r, e->stacks, e->sampler) &&
	     add_sampler(r, e->sampler) &&
	     add_meta(r, e->meta) &&
	     add_anatomy(r, e->anatomy, e->duration_ms, e->stacks);
	if (!ok) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

cJSON *record_still_blocked(const struct session_info *s, const struct still_blocked *b)
{
	cJSON *r = new_record(s, "still_blocked", &b->wall_start);
	bool ok;

	if (!r)
		return NULL;
	ok = cJSON_AddNumberToObject(r, "timestamp_s", round(b->timestamp_s * 1e6) / 1e6) &&
	     add_u64(r, "start_ns", b->start_ns) &&
	     add_u64(r, "now_ns", b->now_ns) &&
	     cJSON_AddNumberToObject(r, "blocked_ms", round3(b->blocked_ms)) &&
	     cJSON_AddNumberToObject(r, "pid", b->pid) &&
	     cJSON_AddNumberToObject(r, "tid", b->tid) &&
	     cJSON_AddStringToObject(r, "process_name", b->process_name ? b->process_name : "") &&
	     cJSON_AddStringToObject(r, "level", b->is_error ? "error" : "warning") &&
	     add_stacks(r, b->stacks) &&
	     add_task(r, b->stacks, -1) &&
	     add_meta(r, b->meta) &&
	     add_anatomy(r, b->anatomy, b->blocked_ms, b->stacks);
	if (!ok) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

/* The distribution fields shared by stats records and the stats summary. */
static bool add_distribution(cJSON *r, const struct stats_snapshot *snap)
{
	static const char *const names[] = {
		"min_ms", "avg_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms",
	};
	const double values[] = {
		snap->min_ms, snap->avg_ms, snap->p50_ms, snap->p90_ms,
		snap->p95_ms, snap->p99_ms, snap->max_ms,
	};
	bool ok = cJSON_AddNumberToObject(r, "elapsed_s", round3(snap->elapsed_s)) &&
		  cJSON_AddNumberToObject(r, "count", (double)snap->count) &&
		  cJSON_AddNumberToObject(r, "rate", round3(snap->rate));

	for (size_t i = 0; ok && i < sizeof(names) / sizeof(names[0]); i++)
		ok = snap->count ? cJSON_AddNumberToObject(r, names[i], round3(values[i])) != NULL
				 : cJSON_AddNullToObject(r, names[i]) != NULL;
	return ok;
}

cJSON *record_stats(const struct session_info *s, const struct stats_snapshot *snap)
{
	struct timespec now = wall_now();
	cJSON *r = new_record(s, "stats", &now);

	if (!r)
		return NULL;
	if (!cJSON_AddNumberToObject(r, "pid", s->pid) ||
	    !cJSON_AddNumberToObject(r, "tid", s->tid) ||
	    !add_distribution(r, snap)) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

/* The ranked call sites (the caller sorted them: summary_top_call_sites). */
static bool add_call_sites(cJSON *r, const struct session_summary *sum)
{
	cJSON *sites = cJSON_AddArrayToObject(r, "top_call_sites");
	size_t n = sum->nsites < RECORD_TOP_CALL_SITES ? sum->nsites : RECORD_TOP_CALL_SITES;

	if (!sites)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct call_site *c = &sum->sites[i];
		const char *class = summary_site_class(c);
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(sites, o))
			return cJSON_Delete(o), false;
		if (!cJSON_AddStringToObject(o, "function", c->frame.function) ||
		    !cJSON_AddStringToObject(o, "file", c->frame.file) ||
		    !cJSON_AddNumberToObject(o, "line", c->frame.line) ||
		    !cJSON_AddNumberToObject(o, "count", (double)c->count) ||
		    !cJSON_AddNumberToObject(o, "total_blocked_ms", round3(c->total_blocked_ms)) ||
		    !cJSON_AddNumberToObject(o, "max_blocked_ms", round3(c->max_blocked_ms)) ||
		    !(class ? cJSON_AddStringToObject(o, "class", class)
			    : cJSON_AddNullToObject(o, "class")))
			return false;
	}
	return true;
}

static bool add_process_counts(cJSON *o, const struct process_blocks *p)
{
	return cJSON_AddNumberToObject(o, "event_count", (double)p->event_count) &&
	       cJSON_AddNumberToObject(o, "error_event_count", (double)p->error_event_count) &&
	       cJSON_AddNumberToObject(o, "total_blocked_ms", round3(p->total_blocked_ms)) &&
	       cJSON_AddNumberToObject(o, "max_blocked_ms", round3(p->max_blocked_ms));
}

/* The blocks of each process, ranked (the caller sorted them:
 * summary_top_processes), and of those that had no place. */
static bool add_processes(cJSON *r, const struct session_summary *sum)
{
	cJSON *list = cJSON_AddArrayToObject(r, "processes"), *other;

	if (!list)
		return false;
	for (size_t i = 0; i < sum->nprocesses; i++) {
		const struct process_blocks *p = &sum->processes[i];
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(list, o))
			return cJSON_Delete(o), false;
		if (!cJSON_AddNumberToObject(o, "pid", p->pid) ||
		    !cJSON_AddStringToObject(o, "process_name", p->name) ||
		    !add_process_counts(o, p))
			return false;
	}
	other = cJSON_AddObjectToObject(r, "other_processes");
	return other && add_process_counts(other, &sum->other_processes);
}

/* {"log_file": 2, "stdout": 0}: the records each JSON output missed. */
static bool add_dropped(cJSON *r, const struct session_summary *sum)
{
	cJSON *dropped = cJSON_AddObjectToObject(r, "dropped_records");

	if (!dropped)
		return false;
	for (size_t i = 0; i < sum->noutputs; i++)
		if (!add_u64(dropped, sum->dropped[i].output, sum->dropped[i].count))
			return false;
	return true;
}

cJSON *record_session_summary(const struct session_info *s,
			      const struct session_summary *sum,
			      const struct stats_snapshot *stats)
{
	struct timespec now = wall_now();
	cJSON *r = new_record(s, "session_summary", &now);
	cJSON *dist;
	bool ok;

	if (!r)
		return NULL;
	ok = cJSON_AddNumberToObject(r, "pid", s->pid) &&
	     cJSON_AddNumberToObject(r, "tid", s->tid) &&
	     cJSON_AddNumberToObject(r, "duration_s", round3(sum->duration_s)) &&
	     cJSON_AddNumberToObject(r, "event_count", (double)sum->event_count) &&
	     cJSON_AddNumberToObject(r, "error_event_count", (double)sum->error_event_count) &&
	     cJSON_AddNumberToObject(r, "total_blocked_ms", round3(sum->total_blocked_ms)) &&
	     cJSON_AddNumberToObject(r, "max_blocked_ms", round3(sum->max_blocked_ms)) &&
	     cJSON_AddNumberToObject(r, "lost_event_count", (double)sum->lost_event_count) &&
	     (!s->mode || strcmp(s->mode, "agent") ||
	      cJSON_AddNumberToObject(r, "suppressed_event_count",
				      (double)sum->suppressed_event_count)) &&
	     cJSON_AddStringToObject(r, "termination_reason", sum->termination_reason) &&
	     cJSON_AddStringToObject(r, "status", sum->status) &&
	     add_call_sites(r, sum) &&
	     /* The agent counts per pod (/metrics); pids alone would not say
	      * which pod's. */
	     (!s->mode || !strcmp(s->mode, "agent") || add_processes(r, sum)) &&
	     add_dropped(r, sum);
	if (ok && stats) {
		/* The fields of a stats record, so one parser reads both. */
		dist = cJSON_AddObjectToObject(r, "stats");
		ok = dist && cJSON_AddNumberToObject(dist, "pid", s->pid) &&
		     cJSON_AddNumberToObject(dist, "tid", s->tid) &&
		     add_distribution(dist, stats);
	}
	if (!ok) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

static const char *string_field(const cJSON *r, const char *name)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(r, name);

	return cJSON_IsString(f) ? f->valuestring : "";
}

static double number_field(const cJSON *r, const char *name)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(r, name);

	return cJSON_IsNumber(f) ? f->valuedouble : 0;
}

/* The human "message" of a log line. */
static void log_message(const cJSON *r, char *buf, size_t len)
{
	const char *type = string_field(r, "type");

	if (!strcmp(type, "still_blocked"))
		snprintf(buf, len, "Event loop still blocked: %.1fms so far on tid=%.0f",
			 number_field(r, "blocked_ms"), number_field(r, "tid"));
	else if (!strcmp(type, "blocking_event"))
		snprintf(buf, len, "Blocking call detected: %.1fms on tid=%.0f",
			 number_field(r, "duration_ms"), number_field(r, "tid"));
	else if (!strcmp(type, "session_start"))
		snprintf(buf, len, "blocksnoop session started: watching pid=%.0f tid=%.0f",
			 number_field(r, "pid"), number_field(r, "tid"));
	else if (!strcmp(type, "config_error"))
		snprintf(buf, len, "blocksnoop configuration error: %s: %s",
			 string_field(r, "annotation"), string_field(r, "error"));
	else if (!strcmp(type, "events_suppressed"))
		snprintf(buf, len, "Blocking events suppressed: %.0f over the pod's rate limit",
			 number_field(r, "count"));
	else if (!strcmp(type, "session_summary"))
		snprintf(buf, len, "blocksnoop session ended: %.0f blocking events in %.1fs",
			 number_field(r, "event_count"), number_field(r, "duration_s"));
	else
		snprintf(buf, len, "blocksnoop %s", type);
}

cJSON *record_for_log(const struct session_info *s, const cJSON *record)
{
	cJSON *r = cJSON_Duplicate(record, true), *dd;
	/* A target's own service (agent mode) wins over --service. */
	const char *service = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(record, "service"))
				      ? string_field(record, "service") : s->service;
	char message[160];
	bool ok;

	if (!r)
		return NULL;
	log_message(record, message, sizeof(message));
	ok = cJSON_AddStringToObject(r, "timestamp", string_field(record, "time")) &&
	     (cJSON_GetObjectItemCaseSensitive(r, "level") ||
	      cJSON_AddStringToObject(r, "level", "info")) &&
	     cJSON_AddStringToObject(r, "message", message) &&
	     (cJSON_GetObjectItemCaseSensitive(r, "service") ||
	      cJSON_AddStringToObject(r, "service", service)) &&
	     cJSON_AddStringToObject(r, "env", s->env) &&
	     cJSON_AddStringToObject(r, "source", "blocksnoop") &&
	     (dd = cJSON_AddObjectToObject(r, "dd")) &&
	     cJSON_AddStringToObject(dd, "service", service) &&
	     cJSON_AddStringToObject(dd, "env", s->env);
	if (!ok) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

char *record_to_line(const cJSON *record)
{
	char *text = cJSON_PrintUnformatted(record), *line;
	size_t len;

	if (!text)
		return NULL;
	len = strlen(text);
	line = realloc(text, len + 2);
	if (!line) {
		free(text);
		return NULL;
	}
	line[len] = '\n';
	line[len + 1] = '\0';
	return line;
}
