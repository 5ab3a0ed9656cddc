// SPDX-License-Identifier: Apache-2.0
/*
 * test_gap_samples.c - the samples of a thread's recent gaps
 * (agent/gap_samples.c): which entry a gap gets, how samples are counted
 * into distinct stacks, and the stack set an event is given.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sys/syscall.h>

#include "anatomy.h"
#include "cpython/pygil.h"
#include "gap_samples.h"
#include "gil_wait.h"
#include "stacks.h"
#include "unit_helpers.h"

/* One sample: frames "inner"/"outer" of app.py, the inner one at line. */
static void add_sample(struct gap_samples *g, const char *file, int line)
{
	struct frame frames[2];
	struct stack st = { .depth = 2, .frames = frames };

	frames[0] = (struct frame){ .function = intern("inner"), .file = intern(file), .line = line };
	frames[1] = (struct frame){ .function = intern("outer"), .file = intern(file), .line = 1 };
	gap_samples_add(g, &st);
	/* the references went to g */
	assert_int_equal(st.depth, 0);
}

static void clear_all(struct gap_samples gaps[GAPS_KEPT])
{
	for (int i = 0; i < GAPS_KEPT; i++)
		gap_samples_clear(&gaps[i]);
	assert_int_equal(intern_count(), 0);
}

/* A gap keeps its entry; a new one takes an unused entry, then the one of
 * the oldest gap, whose samples are dropped. */
static void test_entry_per_gap(void **state)
{
	struct gap_samples gaps[GAPS_KEPT];
	struct gap_samples *first;

	(void)state;
	memset(gaps, 0, sizeof(gaps));
	first = gap_samples_for(gaps, 1000);
	assert_int_equal(first->gap_start_ns, 1000);
	add_sample(first, "/srv/app.py", 5);
	assert_ptr_equal(gap_samples_for(gaps, 1000), first);
	assert_int_equal(first->total, 1);

	for (int i = 1; i < GAPS_KEPT; i++) {
		struct gap_samples *g = gap_samples_for(gaps, 1000 + (uint64_t)i * 10);

		assert_ptr_not_equal(g, first);
		assert_int_equal(g->total, 0);
		add_sample(g, "/srv/app.py", 6);
	}
	/* every entry is in use: the next gap recycles the oldest (1000) */
	assert_ptr_equal(gap_samples_for(gaps, 5000), first);
	assert_int_equal(first->gap_start_ns, 5000);
	assert_int_equal(first->total, 0);
	assert_int_equal(first->nstacks, 0);
	/* the others are untouched */
	for (int i = 1; i < GAPS_KEPT; i++)
		assert_int_equal(gap_samples_for(gaps, 1000 + (uint64_t)i * 10)->total, 1);
	clear_all(gaps);
}

/* Equal stacks are counted together; a different line is another stack;
 * `last` follows the most recent sample. */
static void test_distinct_stacks(void **state)
{
	struct gap_samples gaps[GAPS_KEPT];
	struct gap_samples *g;

	(void)state;
	memset(gaps, 0, sizeof(gaps));
	g = gap_samples_for(gaps, 42);
	add_sample(g, "/srv/app.py", 5);
	add_sample(g, "/srv/app.py", 5);
	add_sample(g, "/srv/app.py", 9);
	assert_int_equal(g->total, 3);
	assert_int_equal(g->nstacks, 2);
	assert_int_equal(g->stacks[0].samples, 2);
	assert_int_equal(g->stacks[1].samples, 1);
	assert_int_equal(g->last, 1);
	add_sample(g, "/srv/app.py", 5);
	assert_int_equal(g->last, 0);
	assert_int_equal(g->stacks[0].samples, 3);
	/* one copy of each string, however many samples */
	assert_int_equal(intern_count(), 3);
	clear_all(gaps);
}

/* Beyond GAP_MAX_STACKS distinct stacks, samples are counted, not kept. */
static void test_stack_bound(void **state)
{
	struct gap_samples gaps[GAPS_KEPT];
	struct gap_samples *g;

	(void)state;
	memset(gaps, 0, sizeof(gaps));
	g = gap_samples_for(gaps, 7);
	for (int line = 1; line <= GAP_MAX_STACKS + 10; line++)
		add_sample(g, "/srv/app.py", line);
	assert_int_equal(g->nstacks, GAP_MAX_STACKS);
	assert_int_equal(g->total, GAP_MAX_STACKS + 10);
	/* the strings of the stacks not kept are given back */
	assert_int_equal(intern_count(), 3);
	/* a kept stack still counts */
	add_sample(g, "/srv/app.py", 1);
	assert_int_equal(g->stacks[0].samples, 2);
	assert_int_equal(g->last, 0);
	clear_all(gaps);
}

/* The set: most sampled first (ties as first seen), the total kept, one
 * stack only when asked, source lines read from the process's files. */
static void test_to_set(void **state)
{
	struct gap_samples gaps[GAPS_KEPT];
	struct gap_samples *g;
	struct stack_set *set;
	char dir[64], file[128];

	(void)state;
	assert_int_equal(uh_mkdtemp(dir, sizeof(dir)), 0);
	snprintf(file, sizeof(file), "%s/app.py", dir);
	assert_int_equal(uh_write_file(file, "import time\ndef inner():\n    time.sleep(1)\n"), 0);

	memset(gaps, 0, sizeof(gaps));
	g = gap_samples_for(gaps, 99);
	add_sample(g, file, 2);
	add_sample(g, file, 3);
	add_sample(g, file, 3);
	add_sample(g, file, 4);

	set = gap_samples_to_set(g, -1, getpid());
	assert_non_null(set);
	assert_int_equal(set->total_samples, 4);
	assert_int_equal(set->nstacks, 3);
	assert_int_equal(set->stacks[0].samples, 2);
	assert_int_equal(set->stacks[0].stack.frames[0].line, 3);
	assert_string_equal(set->stacks[0].stack.frames[0].source, "time.sleep(1)");
	assert_int_equal(set->stacks[1].stack.frames[0].line, 2); /* seen before line 4 */
	assert_string_equal(set->stacks[1].stack.frames[0].source, "def inner():");
	assert_int_equal(set->stacks[2].stack.frames[0].line, 4);
	assert_null(set->stacks[2].stack.frames[0].source); /* the file has 3 lines */
	stack_set_free(set);

	/* only the most recent: what a still-blocked report shows */
	set = gap_samples_to_set(g, g->last, getpid());
	assert_non_null(set);
	assert_int_equal(set->nstacks, 1);
	assert_int_equal(set->total_samples, 4);
	assert_int_equal(set->stacks[0].stack.frames[0].line, 4);
	stack_set_free(set);

	/* the gap keeps its samples until cleared */
	assert_int_equal(g->total, 4);
	clear_all(gaps);
	uh_rmtree(dir);
}

#define GIL_AT 0x7f0000001000ULL

/* A sample in which thread tid held the GIL running holder_fn (NULL: its
 * stack could not be read). */
static void add_gil(struct gap_samples *g, pid_t tid, const char *holder_fn)
{
	struct frame frames[1];
	struct stack st = { .frames = frames };

	if (holder_fn) {
		frames[0] = (struct frame){ .function = intern(holder_fn), .file = intern("w.py"),
					    .line = 7 };
		st.depth = 1;
	}
	gap_samples_add_gil(g, tid, GIL_AT, &st);
	assert_int_equal(st.depth, 0);
}

/* An anatomy of a 100 ms gap with futex waits on these addresses. */
static void anatomy_of(struct event_anatomy *a, const uint64_t *args, const double *ms, int n)
{
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < n; i++)
		a->waits[a->nwaits++] = (struct anatomy_wait){ .syscall = SYS_futex,
							       .arg = args[i], .ms = ms[i],
							       .class = ANATOMY_LOCK };
}

/* The candidate: the holder seen most, with its latest readable stack. */
static void test_gil_candidate(void **state)
{
	struct gap_samples gaps[GAPS_KEPT];
	struct gap_samples *g;
	struct stack_set *set;

	(void)state;
	memset(gaps, 0, sizeof(gaps));
	g = gap_samples_for(gaps, 7);
	for (int i = 0; i < 8; i++)
		add_sample(g, "app.py", 3);
	set = gap_samples_to_set(g, -1, getpid());
	assert_null(set->gil); /* no other holder seen */
	stack_set_free(set);
	add_gil(g, 41, "other");
	add_gil(g, 42, "compute_digest");
	add_gil(g, 42, NULL); /* a holder stack not read keeps the one before */
	add_gil(g, 42, "digest_more");
	add_gil(g, 42, NULL);
	for (pid_t t = 100; t < 110; t++) /* more holders than are kept */
		add_gil(g, t, "x");
	assert_int_equal(g->gil.nholders, GIL_HOLDERS_KEPT);

	set = gap_samples_to_set(g, -1, getpid());
	assert_non_null(set);
	assert_non_null(set->gil);
	assert_int_equal(set->gil->holder_tid, 42);
	assert_int_equal(set->gil->samples, 4);
	assert_true(set->gil->gil_addr == GIL_AT);
	assert_int_equal(set->gil->stack.depth, 1);
	assert_string_equal(set->gil->stack.frames[0].function, "digest_more");
	stack_set_free(set);

	/* a still-blocked report's set (its latest stack) carries the
	 * candidate of the whole block so far */
	set = gap_samples_to_set(g, g->last, getpid());
	assert_int_equal(set->nstacks, 1);
	assert_non_null(set->gil);
	assert_int_equal(set->gil->holder_tid, 42);
	stack_set_free(set);
	clear_all(gaps);
}

/* Confirmed only by the kernel's time asleep in futex inside the GIL. */
static void test_gil_confirm(void **state)
{
	const uint64_t inside[] = { GIL_AT + 32, GIL_AT + 80 }, outside[] = { GIL_AT + PY_GIL_SPAN,
									   GIL_AT - 8 };
	const double ms[] = { 20, 10 };
	struct event_anatomy a;
	struct gap_samples gaps[GAPS_KEPT];
	struct gap_samples *g;
	struct stack_set *set;

	(void)state;
	memset(gaps, 0, sizeof(gaps));
	g = gap_samples_for(gaps, 9);
	add_sample(g, "app.py", 3);
	add_gil(g, 42, "compute_digest");

	/* 30 of 100 ms on the GIL's cond and mutex: kept, share 0.3 */
	set = gap_samples_to_set(g, -1, getpid());
	anatomy_of(&a, inside, ms, 2);
	gil_wait_confirm(&set->gil, &a, 100);
	assert_non_null(set->gil);
	assert_true(set->gil->share > 0.299 && set->gil->share < 0.301);
	stack_set_free(set);

	/* 9 of 100 ms: below GIL_SHARE_MIN */
	set = gap_samples_to_set(g, -1, getpid());
	anatomy_of(&a, inside, (const double[]){ 9, 0 }, 1);
	gil_wait_confirm(&set->gil, &a, 100);
	assert_null(set->gil);
	stack_set_free(set);

	/* futex waits elsewhere (a threading.Lock), however long */
	set = gap_samples_to_set(g, -1, getpid());
	anatomy_of(&a, outside, (const double[]){ 90, 90 }, 2);
	gil_wait_confirm(&set->gil, &a, 100);
	assert_null(set->gil);
	stack_set_free(set);

	/* not futex, or no anatomy */
	set = gap_samples_to_set(g, -1, getpid());
	anatomy_of(&a, inside, (const double[]){ 90, 0 }, 1);
	a.waits[0].syscall = SYS_read;
	gil_wait_confirm(&set->gil, &a, 100);
	assert_null(set->gil);
	stack_set_free(set);
	set = gap_samples_to_set(g, -1, getpid());
	gil_wait_confirm(&set->gil, NULL, 100);
	assert_null(set->gil);
	stack_set_free(set);
	clear_all(gaps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_per_gap),
		cmocka_unit_test(test_distinct_stacks),
		cmocka_unit_test(test_stack_bound),
		cmocka_unit_test(test_to_set),
		cmocka_unit_test(test_gil_candidate),
		cmocka_unit_test(test_gil_confirm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
