// SPDX-License-Identifier: Apache-2.0
/*
 * test_sampler.c - what every stack sampler shares (agent/sampler.c): the
 * default interval, the samples each watched thread keeps until its
 * event takes them, and when a block is reported as still going on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "sampler.h"

#define MS 1000000ULL
#define S 1000000000ULL

static void test_default_interval(void **state)
{
	(void)state;
	assert_int_equal(sampler_default_interval_ns(100 * MS), 10 * MS);
	assert_int_equal(sampler_default_interval_ns(0), MS / 2);
	assert_int_equal(sampler_default_interval_ns(2 * MS), MS / 2);
	assert_int_equal(sampler_default_interval_ns(10 * S), 50 * MS);
}

static void test_frame_names(void **state)
{
	struct frame f = sampler_frame(NULL, "/srv/app.py", 7);
	struct frame g = sampler_frame("handler", NULL, 0);

	(void)state;
	assert_string_equal(f.function, "?");
	assert_string_equal(f.file, "/srv/app.py");
	assert_int_equal(f.line, 7);
	assert_null(f.source);
	assert_string_equal(g.function, "handler");
	assert_string_equal(g.file, "?");
	/* interned: equal names are one string */
	assert_ptr_equal(f.function, g.file);
	intern_put(f.function);
	intern_put(f.file);
	intern_put(g.function);
	intern_put(g.file);
	assert_int_equal(intern_count(), 0);
}

/* One sample of a one-frame stack, the frame at line. */
static void count(struct sampled_thread *t, uint64_t gap, uint64_t now, int line,
		  still_blocked_fn fn, void *ctx)
{
	struct frame frames[1] = { sampler_frame("handler", "/srv/app.py", line) };
	struct stack st = { .depth = 1, .frames = frames };

	sampled_thread_count(t, gap, now, &st, fn, ctx);
	assert_int_equal(st.depth, 0);
}

/* An event takes the samples of its own gap, once. */
static void test_take(void **state)
{
	struct sampled_thread t;
	struct stack_set *set;

	(void)state;
	sampled_thread_init(&t, 3, getpid(), getpid(), 100 * MS);
	assert_int_equal(t.slot, 3);
	/* nothing sampled yet: no memory for gaps, and nothing to take */
	assert_null(t.gaps);
	assert_null(sampled_thread_take(&t, 1 * S));
	count(&t, 1 * S, 1 * S + 30 * MS, 10, NULL, NULL);
	assert_non_null(t.gaps);
	count(&t, 1 * S, 1 * S + 40 * MS, 10, NULL, NULL);
	count(&t, 2 * S, 2 * S + 30 * MS, 20, NULL, NULL);

	set = sampled_thread_take(&t, 1 * S);
	assert_non_null(set);
	assert_int_equal(set->total_samples, 2);
	assert_int_equal(set->nstacks, 1);
	assert_int_equal(set->stacks[0].stack.frames[0].line, 10);
	stack_set_free(set);
	/* taken: a second event of that start gets nothing */
	assert_null(sampled_thread_take(&t, 1 * S));
	/* a gap never sampled */
	assert_null(sampled_thread_take(&t, 5 * S));

	set = sampled_thread_take(&t, 2 * S);
	assert_non_null(set);
	assert_int_equal(set->stacks[0].stack.frames[0].line, 20);
	stack_set_free(set);
	sampled_thread_clear(&t);
	assert_int_equal(intern_count(), 0);
}

/* Clearing drops every gap's samples (an unwatched thread). */
static void test_clear(void **state)
{
	struct sampled_thread t;

	(void)state;
	sampled_thread_init(&t, 0, getpid(), getpid(), 100 * MS);
	count(&t, 1 * S, 1 * S + 30 * MS, 10, NULL, NULL);
	sampled_thread_clear(&t);
	assert_null(t.gaps);
	assert_int_equal(intern_count(), 0);
	assert_null(sampled_thread_take(&t, 1 * S));
	/* and it stays usable */
	count(&t, 2 * S, 2 * S + 30 * MS, 10, NULL, NULL);
	sampled_thread_clear(&t);
	assert_int_equal(intern_count(), 0);
}

struct report {
	int calls;
	int slot;
	uint64_t gap, now;
	int line;           /* of the stack handed over */
	unsigned nstacks;
};

static void on_still_blocked(void *ctx, int slot, uint64_t gap_start_ns, uint64_t now_ns,
			     struct stack_set *current)
{
	struct report *r = ctx;

	r->calls++;
	r->slot = slot;
	r->gap = gap_start_ns;
	r->now = now_ns;
	r->nstacks = current ? current->nstacks : 0;
	r->line = current && current->nstacks ? current->stacks[0].stack.frames[0].line : 0;
}

/*
 * A short threshold: the first report once the block has lasted a second
 * (STILL_BLOCKED_AFTER_MIN_S), with the most recent stack only, then every
 * STILL_BLOCKED_EVERY_S seconds.
 */
static void test_still_blocked_short_threshold(void **state)
{
	struct sampled_thread t;
	struct report r = { 0 };
	const uint64_t gap = 10 * S;

	(void)state;
	sampled_thread_init(&t, 5, getpid(), getpid(), 100 * MS);
	count(&t, gap, gap + 200 * MS, 11, on_still_blocked, &r);
	count(&t, gap, gap + 999 * MS, 12, on_still_blocked, &r);
	assert_int_equal(r.calls, 0);
	count(&t, gap, gap + 1 * S, 13, on_still_blocked, &r);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.slot, 5);
	assert_int_equal(r.gap, gap);
	assert_int_equal(r.now, gap + 1 * S);
	assert_int_equal(r.nstacks, 1);
	assert_int_equal(r.line, 13);
	/* not again for STILL_BLOCKED_EVERY_S */
	count(&t, gap, gap + 1 * S + STILL_BLOCKED_EVERY_S * S - 1, 14, on_still_blocked, &r);
	assert_int_equal(r.calls, 1);
	count(&t, gap, gap + 1 * S + STILL_BLOCKED_EVERY_S * S, 11, on_still_blocked, &r);
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.line, 11);
	/* the event still gets every sample of the gap */
	{
		struct stack_set *set = sampled_thread_take(&t, gap);

		assert_non_null(set);
		assert_int_equal(set->total_samples, 5);
		assert_int_equal(set->nstacks, 4);
		stack_set_free(set);
	}
	sampled_thread_clear(&t);
	assert_int_equal(intern_count(), 0);
}

/* A threshold over a second: reported once the threshold is reached; a
 * new gap starts its own schedule; without a callback, nothing. */
static void test_still_blocked_long_threshold(void **state)
{
	struct sampled_thread t;
	struct report r = { 0 };

	(void)state;
	sampled_thread_init(&t, 0, getpid(), getpid(), 3 * S);
	count(&t, 1 * S, 1 * S + 2 * S, 1, on_still_blocked, &r);
	assert_int_equal(r.calls, 0);
	count(&t, 1 * S, 1 * S + 3 * S, 2, on_still_blocked, &r);
	assert_int_equal(r.calls, 1);
	count(&t, 10 * S, 10 * S + 3 * S, 3, on_still_blocked, &r);
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.gap, 10 * S);
	count(&t, 20 * S, 20 * S + 60 * S, 4, NULL, &r);
	assert_int_equal(r.calls, 2);
	sampled_thread_clear(&t);
	assert_int_equal(intern_count(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_interval),
		cmocka_unit_test(test_frame_names),
		cmocka_unit_test(test_take),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_still_blocked_short_threshold),
		cmocka_unit_test(test_still_blocked_long_threshold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
