// SPDX-License-Identifier: Apache-2.0
/*
 * test_detector_tables.c - the detector's view of the slot table, watch ids,
 * children lists and stat lines (agent/detector_tables.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "detector_tables.h"

#define NSLOTS 8

static struct slot_view views[NSLOTS];
static struct watch_slot slots[NSLOTS];
static struct task_notice made[4 * NSLOTS];
static int nmade;

static int reset(void **state)
{
	(void)state;
	memset(views, 0, sizeof(views));
	memset(slots, 0, sizeof(slots));
	nmade = 0;
	return 0;
}

static void collect(void *ctx, const struct task_notice *n)
{
	(void)ctx;
	assert_true(nmade < (int)(sizeof(made) / sizeof(made[0])));
	made[nmade++] = *n;
}

static struct task_notice notice(uint32_t kind, uint32_t slot, uint32_t gen, pid_t tid)
{
	return (struct task_notice){
		.kind = kind, .slot = slot, .gen = gen, .watch = 7, .pid = 100,
		.tid = (uint32_t)tid,
	};
}

/* The kernel side gives slot i to thread tid (as give_slot() does). */
static void kernel_gives(uint32_t i, pid_t tid)
{
	slots[i].gen++;
	slots[i].flags = WATCH_F_ACTIVE;
	slots[i].pid = 100;
	slots[i].tid = (uint32_t)tid;
	slots[i].watch = 7;
}

static void kernel_frees(uint32_t i)
{
	slots[i].flags = 0;
}

/* ---- slot_view_apply -------------------------------------------------- */

static void test_added_then_gone(void **state)
{
	struct task_notice n = notice(TASK_NOTICE_THREAD_ADDED, 3, 1, 42);

	(void)state;
	assert_true(slot_view_apply(views, NSLOTS, &n));
	assert_true(views[3].live);
	assert_int_equal(views[3].tid, 42);
	assert_int_equal(views[3].watch, 7);
	/* The same notice twice is news once. */
	assert_false(slot_view_apply(views, NSLOTS, &n));
	n.kind = TASK_NOTICE_THREAD_GONE;
	assert_true(slot_view_apply(views, NSLOTS, &n));
	assert_false(views[3].live);
	assert_false(slot_view_apply(views, NSLOTS, &n));
}

static void test_gone_of_another_incarnation_ignored(void **state)
{
	struct task_notice added = notice(TASK_NOTICE_THREAD_ADDED, 1, 5, 42);
	struct task_notice old_gone = notice(TASK_NOTICE_THREAD_GONE, 1, 4, 41);

	(void)state;
	assert_true(slot_view_apply(views, NSLOTS, &added));
	assert_false(slot_view_apply(views, NSLOTS, &old_gone));
	assert_true(views[1].live);
	assert_int_equal(views[1].tid, 42);
}

static void test_older_added_after_newer_ignored(void **state)
{
	struct task_notice newer = notice(TASK_NOTICE_THREAD_ADDED, 2, 9, 50);
	struct task_notice older = notice(TASK_NOTICE_THREAD_ADDED, 2, 8, 49);

	(void)state;
	assert_true(slot_view_apply(views, NSLOTS, &newer));
	assert_false(slot_view_apply(views, NSLOTS, &older));
	assert_int_equal(views[2].tid, 50);
	/* Generations wrap: 1 comes after 0xffffffff. */
	newer.gen = 0xffffffffu;
	newer.slot = 4;
	older = newer;
	older.gen = 1;
	older.tid = 51;
	assert_true(slot_view_apply(views, NSLOTS, &newer));
	assert_true(slot_view_apply(views, NSLOTS, &older));
	assert_int_equal(views[4].tid, 51);
}

static void test_out_of_range_and_process_notices(void **state)
{
	struct task_notice n = notice(TASK_NOTICE_THREAD_ADDED, NSLOTS, 1, 42);

	(void)state;
	assert_false(slot_view_apply(views, NSLOTS, &n));
	n.slot = NO_SLOT;
	assert_false(slot_view_apply(views, NSLOTS, &n));
	/* Process notices are not about slots: always news. */
	n.kind = TASK_NOTICE_PROCESS_ADDED;
	assert_true(slot_view_apply(views, NSLOTS, &n));
	n.kind = TASK_NOTICE_PROCESS_GONE;
	assert_true(slot_view_apply(views, NSLOTS, &n));
}

/* ---- slot_views_reconcile --------------------------------------------- */

static void test_reconcile_makes_up_lost_notices(void **state)
{
	struct task_notice n;

	(void)state;
	/* Slot 0: announced, then freed and given again, both notices lost.
	 * Slot 1: given, its notice lost. Slot 2: announced and freed, the
	 * gone notice lost. Slot 3: announced and still there. */
	kernel_gives(0, 10);
	n = notice(TASK_NOTICE_THREAD_ADDED, 0, 1, 10);
	slot_view_apply(views, NSLOTS, &n);
	kernel_frees(0);
	kernel_gives(0, 11);
	kernel_gives(1, 12);
	kernel_gives(2, 13);
	n = notice(TASK_NOTICE_THREAD_ADDED, 2, 1, 13);
	slot_view_apply(views, NSLOTS, &n);
	kernel_frees(2);
	kernel_gives(3, 14);
	n = notice(TASK_NOTICE_THREAD_ADDED, 3, 1, 14);
	slot_view_apply(views, NSLOTS, &n);

	slot_views_reconcile(views, slots, NSLOTS, collect, NULL);
	assert_int_equal(nmade, 4);
	assert_int_equal(made[0].kind, TASK_NOTICE_THREAD_GONE);
	assert_int_equal(made[0].slot, 0);
	assert_int_equal(made[0].tid, 10);
	assert_int_equal(made[0].gen, 1);
	assert_int_equal(made[1].kind, TASK_NOTICE_THREAD_ADDED);
	assert_int_equal(made[1].slot, 0);
	assert_int_equal(made[1].tid, 11);
	assert_int_equal(made[1].gen, 2);
	assert_int_equal(made[2].kind, TASK_NOTICE_THREAD_ADDED);
	assert_int_equal(made[2].slot, 1);
	assert_int_equal(made[2].tid, 12);
	assert_int_equal(made[3].kind, TASK_NOTICE_THREAD_GONE);
	assert_int_equal(made[3].slot, 2);
	assert_int_equal(made[3].tid, 13);

	/* Nothing more to make up; the lost notices, arriving late after
	 * all, are no news. */
	nmade = 0;
	slot_views_reconcile(views, slots, NSLOTS, collect, NULL);
	assert_int_equal(nmade, 0);
	n = notice(TASK_NOTICE_THREAD_ADDED, 1, 1, 12);
	assert_false(slot_view_apply(views, NSLOTS, &n));
	n = notice(TASK_NOTICE_THREAD_GONE, 2, 1, 13);
	assert_false(slot_view_apply(views, NSLOTS, &n));
}

static void test_reconcile_user_slots(void **state)
{
	(void)state;
	/* A slot user space took is never announced; its thread's exit
	 * (the kernel side clears ACTIVE, keeps USER) is. */
	slots[5].gen = 1;
	slots[5].flags = WATCH_F_ACTIVE | WATCH_F_USER;
	slots[5].tid = 77;
	views[5] = (struct slot_view){ .gen = 1, .watch = 7, .pid = 77, .tid = 77,
				       .live = true, .user = true };
	slot_views_reconcile(views, slots, NSLOTS, collect, NULL);
	assert_int_equal(nmade, 0);
	slots[5].flags = WATCH_F_USER;
	slot_views_reconcile(views, slots, NSLOTS, collect, NULL);
	assert_int_equal(nmade, 1);
	assert_int_equal(made[0].kind, TASK_NOTICE_THREAD_GONE);
	assert_int_equal(made[0].tid, 77);
	assert_true(views[5].user);
	assert_false(views[5].live);
}

/* ---- watch_id_take ------------------------------------------------------ */

static void test_watch_ids(void **state)
{
	static struct watch_config watches[MAX_WATCHES];
	uint32_t next = 1, id;

	(void)state;
	assert_int_equal(watch_id_take(&next, watches), 1);
	assert_int_equal(watch_id_take(&next, watches), 2);
	/* A place taken is skipped. */
	watches[3].flags = WATCH_F_ACTIVE;
	assert_int_equal(watch_id_take(&next, watches), 4);
	/* Ids are not reused after wrapping round a place: 3 + MAX_WATCHES
	 * lands on place 3 again, which is still taken. */
	next = 3 + MAX_WATCHES;
	assert_int_equal(watch_id_take(&next, watches), 4 + MAX_WATCHES);
	/* 0 is never an id. */
	next = 0;
	id = watch_id_take(&next, watches);
	assert_int_equal(id, 1);
	next = 0xffffffffu;
	assert_int_equal(watch_id_take(&next, watches), 0xffffffffu);
	assert_int_equal(watch_id_take(&next, watches), 1);
	/* Every place taken: none. */
	for (int i = 0; i < MAX_WATCHES; i++)
		watches[i].flags = WATCH_F_ACTIVE;
	assert_int_equal(watch_id_take(&next, watches), 0);
}

/* ---- parse_children ----------------------------------------------------- */

static void test_children(void **state)
{
	pid_t out[4];

	(void)state;
	assert_int_equal(parse_children("", out, 4), 0);
	assert_int_equal(parse_children("12 34 56 ", out, 4), 3);
	assert_int_equal(out[0], 12);
	assert_int_equal(out[1], 34);
	assert_int_equal(out[2], 56);
	/* More than room: counted, not stored. */
	assert_int_equal(parse_children("1 2 3 4 5 6 ", out, 4), 6);
	assert_int_equal(out[3], 4);
	assert_int_equal(parse_children("7 8", NULL, 0), 2);
	assert_int_equal(parse_children("2147483647 ", out, 4), 1);
	assert_int_equal(out[0], 2147483647);
	assert_int_equal(parse_children("2147483648 ", out, 4), -EINVAL);
	assert_int_equal(parse_children("99999999999999999999 ", out, 4), -EINVAL);
	assert_int_equal(parse_children("12 x ", out, 4), -EINVAL);
	assert_int_equal(parse_children("-3 ", out, 4), -EINVAL);
	assert_int_equal(parse_children("0 ", out, 4), -EINVAL);
	assert_int_equal(parse_children("12a ", out, 4), -EINVAL);
}

static void test_stat_ppid(void **state)
{
	(void)state;
	assert_int_equal(parse_stat_ppid("1234 (python3) S 1 1234 1234 0 -1"), 1);
	/* A name may hold ") S 99 " itself: the last ')' counts. */
	assert_int_equal(parse_stat_ppid("77 (a) S 99 (b)) R 4321 77 77 0"), 4321);
	assert_int_equal(parse_stat_ppid("77 (x y) Z 0 0 0"), 0);
	assert_int_equal(parse_stat_ppid("77 (a) S 2147483647 1"), 2147483647);
	assert_int_equal(parse_stat_ppid("77 (a) S 2147483648 1"), -EINVAL);
	assert_int_equal(parse_stat_ppid("77 (a) S -1 1"), -EINVAL);
	assert_int_equal(parse_stat_ppid("77 (a) S 12"), -EINVAL);
	assert_int_equal(parse_stat_ppid("77 (a)"), -EINVAL);
	assert_int_equal(parse_stat_ppid("77 a S 1 2"), -EINVAL);
	assert_int_equal(parse_stat_ppid(""), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_added_then_gone, reset),
		cmocka_unit_test_setup(test_gone_of_another_incarnation_ignored, reset),
		cmocka_unit_test_setup(test_older_added_after_newer_ignored, reset),
		cmocka_unit_test_setup(test_out_of_range_and_process_notices, reset),
		cmocka_unit_test_setup(test_reconcile_makes_up_lost_notices, reset),
		cmocka_unit_test_setup(test_reconcile_user_slots, reset),
		cmocka_unit_test(test_watch_ids),
		cmocka_unit_test(test_children),
		cmocka_unit_test(test_stat_ppid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
