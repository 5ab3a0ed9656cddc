// SPDX-License-Identifier: Apache-2.0
/*
 * sink_console.c - the human report on stderr:
 *
 *   [  1.23s] #1  BLOCKED  302.1ms  pid=1234 (gunicorn) tid=1234
 *       task checkout-42 (handle_order) ← awaited by main (main)
 *       Python stack (most recent call last), 3 of 3 samples: ...
 *
 * and, in stats mode, a distribution redrawn in place every second (one
 * line per second when stderr is not a terminal).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anatomy.h"
#include "gil_wait.h"
#include "record.h"
#include "sink.h"
#include "stacks.h"
#include "tasks.h"

#define RED_BOLD "\033[1;31m"
#define YELLOW "\033[33m"
#define DIM "\033[2m"
#define RESET "\033[0m"

struct console_sink {
	struct sink base;
	int fd;
	bool color;
	bool summary_only;
	bool is_tty;
	int stats_lines; /* lines of the last in-place stats frame */
};

/* Format into one buffer and write it with one write(2). */
static void say(struct console_sink *cs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(struct console_sink *cs, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	sink_write_all(cs->fd, buf, n);
}

static const char *c(const struct console_sink *cs, const char *code)
{
	return cs->color ? code : "";
}

static void console_start(struct sink *s, const struct session_info *si, const cJSON *rec)
{
	struct console_sink *cs = (struct console_sink *)s;
	char what[96];

	(void)rec;
	if (si->all_threads)
		snprintf(what, sizeof(what), "PID %d (every thread)", si->pid);
	else
		snprintf(what, sizeof(what), "PID %d thread %d", si->pid, si->tid);
	if (si->stats)
		say(cs, "blocksnoop: measuring epoll gaps of %s%s%s... Ctrl-C to stop\n",
		    what, si->follow ? " and every process it starts" : "",
		    si->threshold_ms > 0 ? " over the threshold" : "");
	else
		say(cs, "blocksnoop: watching %s%s for blocks >= %.1f ms... Ctrl-C to stop\n",
		    what, si->follow ? " and every process it starts" : "", si->threshold_ms);
}



/* At most this many distinct stacks are printed per event. */
#define CONSOLE_MAX_STACKS 3

/* Append to buf at *used, never overflowing (output is cut instead). */
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*used >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *used, len - *used, fmt, ap);
	va_end(ap);
	if (n > 0)
		*used = *used + n < len ? *used + n : len - 1;
}

/* Which process and thread: "pid=1234 (gunicorn) tid=1235". The name is
 * printable already (procfs_comm). */
static void append_ids(char *buf, size_t len, size_t *used, pid_t pid, const char *name,
		       pid_t tid)
{
	if (name && name[0])
		append(buf, len, used, "pid=%d (%s) tid=%d\n", pid, name, tid);
	else
		append(buf, len, used, "pid=%d tid=%d\n", pid, tid);
}

/*
 * One stack, Python-traceback style (most recent call last), with the event
 * loop's own frames (asyncio, selectors, threading) left out and counted.
 */
static void format_stack(const struct console_sink *cs, char *buf, size_t len,
			 size_t *used, const struct stack_count *sc, unsigned total)
{
	const struct stack *st = &sc->stack;
	int hidden = 0;

	append(buf, len, used, "    Python stack (most recent call last), %u of %u samples:\n",
	       sc->samples, total);
	for (int i = st->depth - 1; i >= 0; i--) {
		const struct frame *f = &st->frames[i];

		if (frame_is_loop_machinery(f)) {
			hidden++;
			continue;
		}
		append(buf, len, used, "      %s:%d in %s%s%s\n", f->file, f->line,
		       c(cs, "\033[1m"), f->function, c(cs, RESET));
		if (f->source)
			append(buf, len, used, "        %s%s%s\n", c(cs, DIM), f->source,
			       c(cs, RESET));
	}
	if (st->truncated)
		append(buf, len, used, "      ... (outer frames beyond the depth limit)\n");
	if (hidden)
		append(buf, len, used, "      %s(%d asyncio/selectors/threading frame%s hidden; --json has them)%s\n",
		       c(cs, DIM), hidden, hidden == 1 ? "" : "s", c(cs, RESET));
}

/*
 * The asyncio task the block ran in, on its own line under the header:
 * "task checkout-42 (handle_order) ← awaited by main (main)". Nothing when
 * no task could be looked for (no sampler, no stack, or a sampler that
 * does not read tasks): the stack line says why already.
 */
static void format_task(const struct console_sink *cs, char *buf, size_t len, size_t *used,
			const struct stack_set *set, int sampler)
{
	const struct task_seen *t;
	const char *why;
	char chain[1024];

	t = event_task(set, sampler, &why);
	if (t && t->state == TASK_RUNNING) {
		task_format_chain(t, chain, sizeof(chain));
		append(buf, len, used, "    task %s\n", chain);
	} else if (t) {
		append(buf, len, used, "    %sno task: a bare callback, not a task step%s\n",
		       c(cs, DIM), c(cs, RESET));
	} else if (set && set->nstacks && set->stacks[0].stack.task.state == TASK_UNAVAILABLE) {
		append(buf, len, used, "    %stask unavailable: %s%s\n", c(cs, DIM), why,
		       c(cs, RESET));
	}
}

static void format_stacks(const struct console_sink *cs, char *buf, size_t len,
			  size_t *used, const struct stack_set *set)
{
	unsigned shown;

	if (!set || !set->nstacks) {
		append(buf, len, used, "    %sno Python stack: %s%s\n", c(cs, DIM),
		       stack_set_why_none(set), c(cs, RESET));
		return;
	}
	shown = set->nstacks < CONSOLE_MAX_STACKS ? set->nstacks : CONSOLE_MAX_STACKS;
	for (unsigned i = 0; i < shown; i++) {
		if (i)
			append(buf, len, used, "    ---\n");
		format_stack(cs, buf, len, used, &set->stacks[i], set->total_samples);
	}
	if (set->nstacks > shown)
		append(buf, len, used, "    (%u more stack%s; --json has them)\n",
		       set->nstacks - shown, set->nstacks - shown == 1 ? "" : "s");
}

/*
 * Under the anatomy, the thread it waited for the GIL for, if it did:
 *   waiting for the GIL held by thread 4242 in compute_digest() (48% of the block)
 */
static void format_gil(char *buf, size_t len, size_t *used, const struct stack_set *set)
{
	const struct gil_wait *w = set ? set->gil : NULL;
	const struct frame *f;

	if (!w)
		return;
	append(buf, len, used, "    waiting for the GIL held by thread %d", w->holder_tid);
	f = stack_culprit(&w->stack);
	if (f && f->function)
		append(buf, len, used, " in %s()", f->function);
	append(buf, len, used, " (%.0f%% of the block)\n", 100 * w->share);
}

/*
 * The anatomy a of a gap of gap_ms (an event's, or a block's so far) in
 * one line: its class and that class's share, the split of the gap, and
 * the wait that took longest; then the GIL holder of stacks, if any:
 *   sleep 97%: on-CPU 3%, off-CPU 96% — 290.1 ms in clock_nanosleep
 */
static void format_anatomy(char *buf, size_t len, size_t *used, const struct event_anatomy *a,
			   double gap_ms, const struct stack_set *stacks)
{
	double gap = gap_ms > 0 ? gap_ms : 1;
	char wait[256];

	if (!a)
		return;
	append(buf, len, used, "    %s %.0f%%: on-CPU %.0f%%", anatomy_class_name(a->dominant),
	       100 * a->share_ms[a->dominant] / gap, 100 * a->on_cpu_ms / gap);
	if (a->runqueue_ms >= gap / 100)
		append(buf, len, used, ", run queue %.0f%%", 100 * a->runqueue_ms / gap);
	if (a->throttled_ms >= gap / 100 || a->throttled)
		append(buf, len, used, ", throttled %.0f%%", 100 * a->throttled_ms / gap);
	append(buf, len, used, ", off-CPU %.0f%%", 100 * a->off_cpu_ms / gap);
	if (a->off_cpu_ms >= gap / 100 && anatomy_main_wait(a, wait, sizeof(wait))[0])
		append(buf, len, used, " \u2014 %s", wait);
	append(buf, len, used, "\n");
	format_gil(buf, len, used, stacks);
}

static void console_event(struct sink *s, const struct session_info *si,
			  const struct blocking_event *e, const cJSON *rec)
{
	struct console_sink *cs = (struct console_sink *)s;
	char buf[16384];
	size_t used = 0;

	(void)si; (void)rec;
	if (cs->summary_only)
		return;
	append(buf, sizeof(buf), &used, "[%7.2fs] #%llu  %sBLOCKED%s  %.1fms  ",
	       e->timestamp_s, (unsigned long long)e->number,
	       c(cs, e->is_error ? RED_BOLD : YELLOW), c(cs, RESET), e->duration_ms);
	append_ids(buf, sizeof(buf), &used, e->pid, e->process_name, e->tid);
	format_anatomy(buf, sizeof(buf), &used, e->anatomy, e->duration_ms, e->stacks);
	format_task(cs, buf, sizeof(buf), &used, e->stacks, e->sampler);
	format_stacks(cs, buf, sizeof(buf), &used, e->stacks);
	sink_write_all(cs->fd, buf, used);
}

static void console_still_blocked(struct sink *s, const struct session_info *si,
				  const struct still_blocked *b, const cJSON *rec)
{
	struct console_sink *cs = (struct console_sink *)s;
	char buf[16384];
	size_t used = 0;

	(void)si; (void)rec;
	if (cs->summary_only)
		return;
	append(buf, sizeof(buf), &used, "[%7.2fs]     %sSTILL BLOCKED%s  %.1fms so far  ",
	       b->timestamp_s, c(cs, b->is_error ? RED_BOLD : YELLOW), c(cs, RESET),
	       b->blocked_ms);
	append_ids(buf, sizeof(buf), &used, b->pid, b->process_name, b->tid);
	format_anatomy(buf, sizeof(buf), &used, b->anatomy, b->blocked_ms, b->stacks);
	format_task(cs, buf, sizeof(buf), &used, b->stacks, -1);
	format_stacks(cs, buf, sizeof(buf), &used, b->stacks);
	sink_write_all(cs->fd, buf, used);
}

static int format_distribution(char *buf, size_t len, const struct stats_snapshot *snap)
{
	if (!snap->count)
		return snprintf(buf, len, "  no gaps yet\n");
	return snprintf(buf, len,
			"  %-9s %-9s %-9s %-9s %-9s %-9s %-9s\n"
			"  %-9.3f %-9.3f %-9.3f %-9.3f %-9.3f %-9.3f %-9.3f (ms)\n",
			"min", "avg", "p50", "p90", "p95", "p99", "max",
			snap->min_ms, snap->avg_ms, snap->p50_ms, snap->p90_ms,
			snap->p95_ms, snap->p99_ms, snap->max_ms);
}

static void console_stats(struct sink *s, const struct session_info *si,
			  const struct stats_snapshot *snap, const cJSON *rec)
{
	struct console_sink *cs = (struct console_sink *)s;
	char frame[1024], dist[512];
	int n = 0;

	(void)rec;
	if (cs->summary_only)
		return;
	if (!cs->is_tty) {
		say(cs, "blocksnoop stats: pid=%d elapsed=%.1fs count=%llu rate=%.0f/s "
			"min=%.3f avg=%.3f p50=%.3f p90=%.3f p95=%.3f p99=%.3f max=%.3f ms\n",
		    si->pid, snap->elapsed_s, (unsigned long long)snap->count, snap->rate,
		    snap->min_ms, snap->avg_ms, snap->p50_ms, snap->p90_ms, snap->p95_ms,
		    snap->p99_ms, snap->max_ms);
		return;
	}
	/* Move up over the previous frame and clear it, in the same write as
	 * the new frame so the terminal never shows a half-drawn one. */
	if (cs->stats_lines)
		n = snprintf(frame, sizeof(frame), "\033[%dA\033[J", cs->stats_lines);
	format_distribution(dist, sizeof(dist), snap);
	n += snprintf(frame + n, sizeof(frame) - n,
		      "%sblocksnoop stats — PID %d — %.1fs — %llu events (%.0f/s)%s\n%s",
		      c(cs, "\033[1m"), si->pid, snap->elapsed_s,
		      (unsigned long long)snap->count, snap->rate, c(cs, RESET), dist);
	sink_write_all(cs->fd, frame, strlen(frame));
	cs->stats_lines = 1;
	for (const char *p = dist; *p; p++)
		cs->stats_lines += *p == '\n';
}

/* Processes listed in the console's summary (--json lists them all). */
#define CONSOLE_TOP_PROCESSES 10

/*
 * The blocks of each process, when more than one had any (the caller
 * sorted them): the top CONSOLE_TOP_PROCESSES, then the rest in one line.
 * Not in agent mode, as in the record: a pid there does not say which
 * pod's.
 */
static void format_processes(char *buf, size_t len, size_t *used, const struct session_info *si,
			     const struct session_summary *sum)
{
	size_t shown = sum->nprocesses < CONSOLE_TOP_PROCESSES ? sum->nprocesses
							       : CONSOLE_TOP_PROCESSES;
	struct process_blocks rest = sum->other_processes;

	if (sum->nprocesses + !!rest.event_count < 2 || (si->mode && !strcmp(si->mode, "agent")))
		return;
	append(buf, len, used, "Blocks by process:\n");
	for (size_t i = 0; i < shown; i++) {
		const struct process_blocks *p = &sum->processes[i];

		append(buf, len, used, "  %8.1f ms  %4llux  pid %d%s%s%s\n", p->total_blocked_ms,
		       (unsigned long long)p->event_count, p->pid, p->name[0] ? " (" : "",
		       p->name, p->name[0] ? ")" : "");
	}
	for (size_t i = shown; i < sum->nprocesses; i++) {
		rest.event_count += sum->processes[i].event_count;
		rest.total_blocked_ms += sum->processes[i].total_blocked_ms;
	}
	if (rest.event_count)
		append(buf, len, used, "  %8.1f ms  %4llux  other processes\n",
		       rest.total_blocked_ms, (unsigned long long)rest.event_count);
}

/* Records a JSON output missed: said only when there are some. */
static void say_dropped(struct console_sink *cs, const struct session_summary *sum)
{
	for (size_t i = 0; i < sum->noutputs; i++)
		if (sum->dropped[i].count)
			say(cs, "%sDropped records: %llu not written to %s (see the errors above)%s\n",
			    c(cs, YELLOW), (unsigned long long)sum->dropped[i].count,
			    strcmp(sum->dropped[i].output, "log_file") ? sum->dropped[i].output
								       : "the log file",
			    c(cs, RESET));
}

static void console_summary(struct sink *s, const struct session_info *si,
			    const struct session_summary *sum,
			    const struct stats_snapshot *snap, const cJSON *rec)
{
	struct console_sink *cs = (struct console_sink *)s;
	char dist[512];

	(void)rec;
	if (si->stats && snap) {
		format_distribution(dist, sizeof(dist), snap);
		say(cs, "\n%s--- blocksnoop session ---%s\n"
			"Duration:      %.1fs\n"
			"Gaps measured: %llu (%.0f/s)\n%s",
		    c(cs, "\033[1m"), c(cs, RESET), sum->duration_s,
		    (unsigned long long)snap->count, snap->rate, dist);
		say_dropped(cs, sum);
		return;
	}
	char buf[8192];
	size_t used = 0, sites;

	append(buf, sizeof(buf), &used, "\n%s--- blocksnoop session ---%s\n"
	       "Duration:        %.1fs\n"
	       "Blocking events: %llu (%llu at error level)\n"
	       "Blocked time:    total %.1f ms, longest %.1f ms\n"
	       "Lost events:     %llu%s\n",
	       c(cs, "\033[1m"), c(cs, RESET), sum->duration_s,
	       (unsigned long long)sum->event_count,
	       (unsigned long long)sum->error_event_count,
	       sum->total_blocked_ms, sum->max_blocked_ms,
	       (unsigned long long)sum->lost_event_count,
	       sum->lost_event_count ? " (the ring buffer was full: raise -t)" : "");
	/* The caller sorted the call sites. */
	sites = sum->nsites < RECORD_TOP_CALL_SITES ? sum->nsites : RECORD_TOP_CALL_SITES;
	if (sites)
		append(buf, sizeof(buf), &used, "Top blocking call sites:\n");
	for (size_t i = 0; i < sites; i++) {
		const struct call_site *site = &sum->sites[i];
		const char *class = summary_site_class(site);

		append(buf, sizeof(buf), &used, "  %8.1f ms  %4llux  ", site->total_blocked_ms,
		       (unsigned long long)site->count);
		if (class)
			append(buf, sizeof(buf), &used, "%-9s  ", class);
		append(buf, sizeof(buf), &used, "%s:%d in %s\n", site->frame.file,
		       site->frame.line, site->frame.function);
	}
	format_processes(buf, sizeof(buf), &used, si, sum);
	sink_write_all(cs->fd, buf, used);
	say_dropped(cs, sum);
}

static void console_destroy(struct sink *s)
{
	free(s);
}

static const struct sink_ops console_ops = {
	.session_start = console_start,
	.event = console_event,
	.still_blocked = console_still_blocked,
	.stats = console_stats,
	.summary = console_summary,
	.destroy = console_destroy,
};

struct sink *sink_console_new(int fd, bool color, bool summary_only)
{
	struct console_sink *cs = calloc(1, sizeof(*cs));

	if (!cs)
		return NULL;
	cs->base.ops = &console_ops;
	cs->fd = fd;
	cs->color = color;
	cs->summary_only = summary_only;
	cs->is_tty = isatty(fd);
	return &cs->base;
}
