// SPDX-License-Identifier: Apache-2.0
/*
 * test_summary.c - a run's running totals (agent/summary.c): counts,
 * blocked time, and the call sites the closing summary ranks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "stacks.h"
#include "summary.h"

#define APP "/srv/app.py"
#define ASYNCIO "/usr/lib/python3.11/asyncio/events.py"

/*
 * Count an event of ms with one stack: frames (function, file, line)
 * innermost first, `depth` of them; no stack if depth is 0.
 */
static void add(struct session_summary *s, double ms, bool is_error, int depth,
		const char *const fn[], const char *const file[], const int line[])
{
	struct frame frames[4];
	struct stack st = { .depth = depth, .frames = frames };
	struct stack_count sc = { .samples = 1 };
	struct stack_set set = { .total_samples = 1, .nstacks = 1, .stacks = &sc };
	struct blocking_event e = { .duration_ms = ms, .is_error = is_error,
				    .stacks = depth ? &set : NULL };

	for (int i = 0; i < depth; i++)
		frames[i] = (struct frame){ .function = intern(fn[i]), .file = intern(file[i]),
					    .line = line[i] };
	assert_int_equal(stack_copy(&sc.stack, &st), 0);
	stack_release(&st);
	summary_add_event(s, &e);
	stack_free(&sc.stack);
}

static void add_at(struct session_summary *s, double ms, const char *fn, int line)
{
	add(s, ms, false, 1, (const char *const[]){ fn }, (const char *const[]){ APP },
	    (const int[]){ line });
}

static void test_totals(void **state)
{
	struct session_summary s;

	(void)state;
	memset(&s, 0, sizeof(s));
	add(&s, 120, false, 0, NULL, NULL, NULL);
	add(&s, 700, true, 0, NULL, NULL, NULL);
	add(&s, 300, false, 0, NULL, NULL, NULL);
	assert_int_equal(s.event_count, 3);
	assert_int_equal(s.error_event_count, 1);
	assert_true(s.total_blocked_ms == 1120);
	assert_true(s.max_blocked_ms == 700);
	/* no stacks: no call site */
	assert_int_equal(s.nsites, 0);
	assert_int_equal(summary_top_call_sites(&s, 5), 0);
	summary_release(&s);
}

/* A call site is the innermost frame that is not the loop's machinery. */
static void test_call_site_skips_loop_machinery(void **state)
{
	const char *const fn[] = { "_run", "handler", "main" };
	const char *const file[] = { ASYNCIO, APP, APP };
	const int line[] = { 80, 12, 40 };
	struct session_summary s;

	(void)state;
	memset(&s, 0, sizeof(s));
	add(&s, 200, false, 3, fn, file, line);
	add(&s, 400, false, 3, fn, file, line);
	assert_int_equal(s.nsites, 1);
	assert_string_equal(s.sites[0].frame.function, "handler");
	assert_int_equal(s.sites[0].frame.line, 12);
	assert_int_equal(s.sites[0].count, 2);
	assert_true(s.sites[0].total_blocked_ms == 600);
	assert_true(s.sites[0].max_blocked_ms == 400);
	/* only loop machinery: the innermost frame stands for it */
	add(&s, 100, false, 1, fn, file, line);
	assert_int_equal(s.nsites, 2);
	assert_string_equal(s.sites[1].frame.function, "_run");
	summary_release(&s);
	assert_int_equal(intern_count(), 0);
}

/* Ranked by total blocked time, then by count; at most max reported. */
static void test_ranking(void **state)
{
	struct session_summary s;

	(void)state;
	memset(&s, 0, sizeof(s));
	add_at(&s, 100, "few_long", 1);      /* 1 x 300 ms */
	add_at(&s, 200, "few_long", 1);
	add_at(&s, 100, "many_short", 2);    /* 3 x 100 ms: the same total, more often */
	add_at(&s, 100, "many_short", 2);
	add_at(&s, 100, "many_short", 2);
	add_at(&s, 50, "small", 3);
	add_at(&s, 900, "heavy", 4);
	/* the same function on another line is another site */
	add_at(&s, 10, "heavy", 5);
	assert_int_equal(s.nsites, 5);

	assert_int_equal(summary_top_call_sites(&s, 3), 3);
	assert_string_equal(s.sites[0].frame.function, "heavy");
	assert_int_equal(s.sites[0].frame.line, 4);
	assert_string_equal(s.sites[1].frame.function, "many_short");
	assert_string_equal(s.sites[2].frame.function, "few_long");
	assert_string_equal(s.sites[3].frame.function, "small");
	assert_int_equal(s.sites[4].frame.line, 5);
	assert_int_equal(summary_top_call_sites(&s, 10), 5);
	summary_release(&s);
	assert_int_equal(s.nsites, 0);
	assert_int_equal(intern_count(), 0);
}

/* An event of ms in process pid named name, without a stack. */
static void add_in(struct session_summary *s, pid_t pid, const char *name, double ms,
		   bool is_error)
{
	struct blocking_event e = { .pid = pid, .tid = pid, .process_name = name,
				    .duration_ms = ms, .is_error = is_error };

	summary_add_event(s, &e);
}

/* The sum of the places and other_processes is the run's totals. */
static void assert_processes_add_up(const struct session_summary *s)
{
	uint64_t events = s->other_processes.event_count;
	uint64_t errors = s->other_processes.error_event_count;
	double ms = s->other_processes.total_blocked_ms;

	for (size_t i = 0; i < s->nprocesses; i++) {
		events += s->processes[i].event_count;
		errors += s->processes[i].error_event_count;
		ms += s->processes[i].total_blocked_ms;
	}
	assert_int_equal(events, s->event_count);
	assert_int_equal(errors, s->error_event_count);
	assert_true(ms > s->total_blocked_ms - 1e-6 && ms < s->total_blocked_ms + 1e-6);
}

/* Each process counted on its own, with the name of its latest event;
 * ranked by blocked time. */
static void test_per_process(void **state)
{
	struct session_summary s;

	(void)state;
	memset(&s, 0, sizeof(s));
	add_in(&s, 100, "gunicorn", 50, false);
	add_in(&s, 101, "gunicorn", 200, false);
	add_in(&s, 101, "gunicorn", 600, true);
	add_in(&s, 102, "python3", 70, false);
	add_in(&s, 102, "worker", 80, false); /* renamed (exec, prctl) */
	add_in(&s, 103, NULL, 60, false);
	assert_int_equal(s.nprocesses, 4);
	assert_int_equal(summary_top_processes(&s, 2), 2);
	assert_int_equal(s.processes[0].pid, 101);
	assert_int_equal(s.processes[0].event_count, 2);
	assert_int_equal(s.processes[0].error_event_count, 1);
	assert_true(s.processes[0].total_blocked_ms == 800);
	assert_true(s.processes[0].max_blocked_ms == 600);
	assert_string_equal(s.processes[0].name, "gunicorn");
	assert_int_equal(s.processes[1].pid, 102);
	assert_string_equal(s.processes[1].name, "worker");
	assert_int_equal(s.processes[2].pid, 103);
	assert_string_equal(s.processes[2].name, "");
	assert_int_equal(s.processes[3].pid, 100);
	assert_int_equal(s.other_processes.event_count, 0);
	assert_processes_add_up(&s);
	assert_int_equal(summary_top_processes(&s, 100), 4);
	summary_release(&s);
}

/* A target that forks without end: the table stays bounded, the processes
 * with the most blocked time keep their places, the rest is counted in
 * other_processes, and everything adds up. */
static void test_processes_bounded(void **state)
{
	struct session_summary s;

	(void)state;
	memset(&s, 0, sizeof(s));
	add_in(&s, 1, "master", 5000, true);
	for (pid_t pid = 2; pid < 10000; pid++)
		add_in(&s, pid, "child", 100 + pid % 7, false);
	add_in(&s, 1, "master", 1000, true);
	assert_int_equal(s.nprocesses, SUMMARY_MAX_PROCESSES);
	assert_int_equal(s.event_count, 10000);
	/* the master's two events and one each of the other places */
	assert_int_equal(s.other_processes.event_count, 10000 - 2 - (SUMMARY_MAX_PROCESSES - 1));
	assert_int_equal(s.other_processes.pid, 0);
	assert_processes_add_up(&s);
	summary_top_processes(&s, SUMMARY_MAX_PROCESSES);
	assert_int_equal(s.processes[0].pid, 1);
	assert_int_equal(s.processes[0].event_count, 2);
	assert_true(s.processes[0].total_blocked_ms == 6000);
	summary_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_totals),
		cmocka_unit_test(test_call_site_skips_loop_machinery),
		cmocka_unit_test(test_ranking),
		cmocka_unit_test(test_per_process),
		cmocka_unit_test(test_processes_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
