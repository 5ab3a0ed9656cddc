// SPDX-License-Identifier: Apache-2.0
/*
 * test_stacks.c - interned strings and who holds them (agent/stacks.c,
 * agent/gap_samples.c, agent/summary.c): a target that names every
 * function anew must not grow what blocksnoop keeps. Strings live while a
 * pending gap, an event's stack set or a call site refers to them, and
 * stay valid for as long as they do.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gap_samples.h"
#include "stacks.h"
#include "summary.h"

static void test_intern_counts_references(void **state)
{
	char buf[32] = "handler";
	const char *a, *b;

	(void)state;
	assert_int_equal(intern_count(), 0);
	a = intern(buf);
	b = intern("handler");
	assert_ptr_equal(a, b);
	assert_ptr_not_equal(a, buf);
	assert_int_equal(intern_count(), 1);
	intern_put(a);
	assert_int_equal(intern_count(), 1);
	/* not interned: ignored, however equal */
	intern_put(buf);
	intern_put(NULL);
	assert_null(intern(NULL));
	assert_int_equal(intern_count(), 1);
	assert_string_equal(b, "handler");
	intern_put(b);
	assert_int_equal(intern_count(), 0);

	/* many at once, all given back: the table shrinks back and stays sound */
	for (int round = 0; round < 2; round++) {
		static const char *held[5000];

		for (int i = 0; i < 5000; i++) {
			snprintf(buf, sizeof(buf), "f%d", i);
			held[i] = intern(buf);
		}
		assert_int_equal(intern_count(), 5000);
		for (int i = 0; i < 5000; i += 2)
			intern_put(held[i]);
		for (int i = 1; i < 5000; i += 2) {
			snprintf(buf, sizeof(buf), "f%d", i);
			assert_ptr_equal(intern(buf), held[i]);
			intern_put(held[i]);
			intern_put(held[i]);
		}
		assert_int_equal(intern_count(), 0);
	}
}

/* One sample of a stack of depth 2 whose inner function is new, handed
 * over as the samplers do (strings from intern(), given to the gap). */
static void count_new_sample(struct gap_samples *g, int n)
{
	char name[64], file[64];
	struct frame frames[2];
	struct stack st = { .depth = 2, .frames = frames };

	snprintf(name, sizeof(name), "invented_%d", n);
	snprintf(file, sizeof(file), "/invented/%d.py", n);
	frames[0] = (struct frame){ .function = intern(name), .file = intern(file), .line = 3 };
	frames[1] = (struct frame){ .function = intern("main"), .file = intern("/srv/app.py"),
				    .line = 12 };
	gap_samples_add(g, &st);
	assert_int_equal(st.depth, 0);
}

/*
 * 10,000 gaps on one thread, each with new names, each claimed by its event
 * or left to be recycled: the strings alive stay those of the gaps kept and
 * the event being reported, and go to zero once all are gone. An event's
 * strings outlive the gap they came from.
 */
static void test_gaps_give_strings_back(void **state)
{
	struct gap_samples gaps[GAPS_KEPT];
	size_t most = 0;

	(void)state;
	memset(gaps, 0, sizeof(gaps));
	for (int n = 1; n <= 10000; n++) {
		struct gap_samples *g = gap_samples_for(gaps, (uint64_t)n * 1000);
		struct stack_set *set;

		count_new_sample(g, n);
		count_new_sample(g, n); /* the same stack again: one kept */
		assert_int_equal(g->nstacks, 1);
		assert_int_equal(g->total, 2);
		if (n % 3 == 0)
			continue; /* never claimed: recycled later */
		set = gap_samples_to_set(g, -1, getpid());
		assert_non_null(set);
		gap_samples_clear(g);
		/* the event's strings are its own */
		assert_int_equal(set->nstacks, 1);
		assert_int_equal(set->stacks[0].samples, 2);
		assert_non_null(strstr(set->stacks[0].stack.frames[0].function, "invented_"));
		assert_string_equal(set->stacks[0].stack.frames[1].file, "/srv/app.py");
		if (intern_count() > most)
			most = intern_count();
		stack_set_free(set);
	}
	/* GAPS_KEPT gaps of 2 new strings, the shared 2, and an event's */
	assert_true(most <= 2 * GAPS_KEPT + 2 + 2);
	for (int i = 0; i < GAPS_KEPT; i++)
		gap_samples_clear(&gaps[i]);
	assert_int_equal(intern_count(), 0);
}

/* A running task as a sample gives it: new references on its strings. */
static struct task_seen running(const char *name, const char *coro)
{
	struct task_seen t = { 0 }, raw = {
		.state = TASK_RUNNING, .depth = 2,
		.chain = { { name, coro }, { "Task-1", "main" } },
	};

	assert_int_equal(task_seen_copy(&t, &raw), 0);
	return t;
}

/*
 * The task is part of a stack: the same frames under two tasks are two
 * stacks, the same task twice is one; copies, moves and releases carry
 * its references with the frames, and every string is given back.
 */
static void test_stack_tasks(void **state)
{
	struct gap_samples g = { .gap_start_ns = 1 };
	struct stack_set *set;
	char line[256];

	(void)state;
	assert_int_equal(intern_count(), 0);
	for (int i = 0; i < 3; i++) {
		struct frame f = { .function = intern("handler"), .file = intern("/srv/app.py"),
				   .line = 7 };
		struct stack st = { .depth = 1, .frames = &f };

		st.task = running(i == 2 ? "other-1" : "checkout-42", "handle_order");
		gap_samples_add(&g, &st);
	}
	assert_int_equal(g.nstacks, 2);
	assert_int_equal(g.stacks[0].samples, 2);
	assert_string_equal(g.stacks[1].stack.task.chain[0].name, "other-1");

	set = gap_samples_to_set(&g, -1, 0);
	assert_non_null(set);
	assert_int_equal(set->stacks[0].stack.task.state, TASK_RUNNING);
	assert_string_equal(set->stacks[0].stack.task.chain[0].name, "checkout-42");
	task_format_chain(&set->stacks[0].stack.task, line, sizeof(line));
	assert_string_equal(line, "checkout-42 (handle_order) \xe2\x86\x90 awaited by Task-1 (main)");
	gap_samples_clear(&g);
	/* the set holds its own references */
	assert_string_equal(set->stacks[0].stack.task.chain[1].coro, "main");
	stack_set_free(set);
	assert_int_equal(intern_count(), 0);

	/* A bare callback and an unreadable task differ from a running one
	 * and from each other. */
	{
		struct task_seen a = { .state = TASK_NONE }, b = { .state = TASK_UNAVAILABLE },
				 c = running("x", "y"), d = { 0 };

		assert_false(task_seen_equal(&a, &b));
		assert_false(task_seen_equal(&a, &c));
		assert_int_equal(task_seen_copy(&d, &c), 0);
		assert_true(task_seen_equal(&c, &d));
		task_seen_put(&c);
		task_seen_put(&d);
		assert_int_equal(d.state, TASK_NOT_READ);
	}
	assert_int_equal(intern_count(), 0);
}

/* An event with one stack whose culprit is function name in file. */
static void count_event(struct session_summary *s, const char *name, double ms)
{
	struct frame f = { .function = intern(name), .file = intern("/srv/app.py"), .line = 7 };
	struct stack_count sc = { .samples = 1 };
	struct stack_set set = { .total_samples = 1, .nstacks = 1, .stacks = &sc };
	struct blocking_event e = { .duration_ms = ms, .stacks = &set };
	struct stack st = { .depth = 1, .frames = &f };

	assert_int_equal(stack_copy(&sc.stack, &st), 0);
	stack_release(&st);
	summary_add_event(s, &e);
	stack_free(&sc.stack);
}

/*
 * Call sites of ever new functions: the summary keeps at most
 * SUMMARY_MAX_SITES (and their strings), the heaviest ones stay, and
 * releasing it gives every string back.
 */
static void test_summary_sites_bounded(void **state)
{
	struct session_summary s;
	char name[64];
	size_t n;

	(void)state;
	memset(&s, 0, sizeof(s));
	count_event(&s, "heavy", 500.0);
	for (int i = 0; i < 5 * SUMMARY_MAX_SITES; i++) {
		snprintf(name, sizeof(name), "invented_%d", i);
		count_event(&s, name, 12.0 + i % 7);
		if (i % 100 == 0)
			count_event(&s, "heavy", 500.0);
	}
	assert_int_equal(s.nsites, SUMMARY_MAX_SITES);
	assert_true(intern_count() <= SUMMARY_MAX_SITES + 1);
	n = summary_top_call_sites(&s, 5);
	assert_int_equal(n, 5);
	assert_string_equal(s.sites[0].frame.function, "heavy");
	assert_int_equal(s.sites[0].count, 1 + (5 * SUMMARY_MAX_SITES + 99) / 100);
	assert_int_equal(s.event_count, 1 + 5 * SUMMARY_MAX_SITES + (5 * SUMMARY_MAX_SITES + 99) / 100);
	summary_release(&s);
	assert_int_equal(intern_count(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intern_counts_references),
		cmocka_unit_test(test_gaps_give_strings_back),
		cmocka_unit_test(test_stack_tasks),
		cmocka_unit_test(test_summary_sites_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
