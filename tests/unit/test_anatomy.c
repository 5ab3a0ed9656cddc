// SPDX-License-Identifier: Apache-2.0
/*
 * test_anatomy.c - agent/anatomy.h, syscalls.h and fd_describe.h: the
 * kernel's gap anatomy turned into classes, shares and named waits; the
 * event record's anatomy object; fds described from this process's /proc.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "anatomy.h"
#include "fd_describe.h"
#include "options.h"
#include "record.h"
#include "syscalls.h"

#define MS 1000000ULL

static void test_unmeasured(void **state)
{
	struct gap_anatomy k = { .on_cpu_ns = 5 * MS };
	struct event_anatomy a;

	(void)state;
	assert_false(anatomy_from_kernel(&a, &k, 5 * MS));
}

/* Each wait lands in its class; shares cover the gap; waits sorted by time,
 * the overflow ("other") last and counted as io. */
static void test_classes_and_shares(void **state)
{
	struct gap_anatomy k = {
		.flags = GAP_ANATOMY_F_MEASURED,
		.on_cpu_ns = 10 * MS,
		.runqueue_ns = 5 * MS,
		.throttled_ns = 0,
		.off_cpu_ns = 290 * MS + 280 * MS + 180 * MS + 7 * MS + 3 * MS,
		.other_wait_ns = 3 * MS,
		.nwaits = 4,
		.waits = {
			{ SYS_clock_nanosleep, 1, 290 * MS },
			{ SYS_futex, 0x7f0000001000ULL, 180 * MS },
			{ SYS_recvfrom, 7, 280 * MS },
			{ GAP_WAIT_NO_SYSCALL, 0, 7 * MS },
		},
	};
	struct event_anatomy a;
	double sum = 0;

	(void)state;
	assert_true(anatomy_from_kernel(&a, &k, 775 * MS));
	assert_int_equal(a.dominant, ANATOMY_SLEEP);
	assert_true(fabs(a.share_ms[ANATOMY_SLEEP] - 290) < 1e-9);
	assert_true(fabs(a.share_ms[ANATOMY_IO] - 290) < 1e-9); /* 280 + 7 + 3 */
	assert_true(fabs(a.share_ms[ANATOMY_LOCK] - 180) < 1e-9);
	assert_true(fabs(a.share_ms[ANATOMY_CPU] - 10) < 1e-9);
	assert_true(fabs(a.share_ms[ANATOMY_RUNQUEUE] - 5) < 1e-9);
	for (int c = 0; c < ANATOMY_CLASSES; c++)
		sum += a.share_ms[c];
	assert_true(fabs(sum - 775) < 1e-9);
	assert_int_equal(a.nwaits, 5);
	assert_string_equal(a.waits[0].name, "clock_nanosleep");
	assert_int_equal(a.waits[0].fd, -1);
	assert_string_equal(a.waits[1].name, "recvfrom");
	assert_int_equal(a.waits[1].fd, 7);
	assert_string_equal(a.waits[2].name, "futex");
	assert_int_equal(a.waits[2].class, ANATOMY_LOCK);
	assert_string_equal(a.waits[3].name, "no syscall");
	assert_string_equal(a.waits[4].name, "other");
	assert_false(a.throttled);
}

/* select/poll on no fds (Python before 3.11 sleeps so) is a sleep; on fds, io. */
static void test_select_sleeps(void **state)
{
	(void)state;
	assert_int_equal(syscall_wait_kind(SYS_pselect6, 0), WAIT_SLEEP);
	assert_int_equal(syscall_wait_kind(SYS_pselect6, 5), WAIT_IO);
	assert_int_equal(syscall_wait_kind(SYS_ppoll, 0), WAIT_SLEEP);
#ifdef SYS_select
	assert_int_equal(syscall_wait_kind(SYS_select, 0), WAIT_SLEEP);
#endif
	assert_int_equal(syscall_wait_kind(SYS_futex, 1234), WAIT_LOCK);
	assert_int_equal(syscall_wait_kind(99999, 0), WAIT_IO);
	assert_true(syscall_arg_is_fd(SYS_read));
	assert_false(syscall_arg_is_fd(SYS_futex));
}

static void test_syscall_describe(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(syscall_describe(SYS_recvfrom, buf, sizeof(buf)), "recvfrom");
	assert_string_equal(syscall_describe(99999, buf, sizeof(buf)), "syscall 99999");
	assert_string_equal(syscall_describe(-1, buf, sizeof(buf)), "no syscall");
	assert_null(syscall_name(99999));
}

/* A negative or huge first argument of an fd syscall is no fd. */
static void test_bad_fd_arg(void **state)
{
	struct gap_anatomy k = {
		.flags = GAP_ANATOMY_F_MEASURED,
		.off_cpu_ns = 2 * MS,
		.nwaits = 2,
		.waits = { { SYS_read, 0xffffffffffffffffULL, MS }, { SYS_read, 1ULL << 40, MS } },
	};
	struct event_anatomy a;

	(void)state;
	assert_true(anatomy_from_kernel(&a, &k, 2 * MS));
	assert_int_equal(a.waits[0].fd, -1);
	assert_int_equal(a.waits[1].fd, -1);
}

static void test_inet_lines(void **state)
{
	char buf[128];

	(void)state;
	assert_int_equal(fd_link_socket_inode("socket:[12345]"), 12345);
	assert_int_equal(fd_link_socket_inode("socket:[12345"), 0);
	assert_int_equal(fd_link_socket_inode("socket:[]"), 0);
	assert_int_equal(fd_link_socket_inode("/tmp/socket:[1]"), 0);
	assert_int_equal(fd_describe_inet_line(
		"   3: 0100007F:A8CA 0100007F:1538 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 20 4 30 10 -1",
		4242, "TCP", 0, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "TCP 127.0.0.1:43210 \u2192 127.0.0.1:5432");
	/* Another inode, or garbage: no. */
	assert_int_equal(fd_describe_inet_line(
		"   3: 0100007F:A8CA 0100007F:1538 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1",
		4243, "TCP", 0, buf, sizeof(buf)), 0);
	assert_int_equal(fd_describe_inet_line("   3: ZZZZZZZZ:A8CA 0100007F:1538 01 00000000:00000000 00:00000000 00000000 0 0 7",
					       7, "TCP", 0, buf, sizeof(buf)), 0);
	assert_int_equal(fd_describe_inet_line("", 7, "TCP", 0, buf, sizeof(buf)), 0);
	assert_int_equal(fd_describe_inet_line(
		"   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1",
		99, "TCP", 1, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "TCP [::1]:8080 \u2192 [::]:0");
}

/* This process's own connected socket, and a file with an unprintable name. */
static void test_describe_real_fds(void **state)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	char want[128], buf[160], path[] = "/tmp/anatomy-\x01\x1b[31m-XXXXXX";
	int lfd, cfd, ffd;

	(void)state;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&addr, &alen), 0);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(fd_describe(getpid(), cfd, buf, sizeof(buf)), 0);
	snprintf(want, sizeof(want), "\u2192 127.0.0.1:%u", ntohs(addr.sin_port));
	assert_non_null(strstr(buf, want));
	assert_int_equal(strncmp(buf, "TCP 127.0.0.1:", 14), 0);

	ffd = mkstemp(path);
	assert_true(ffd >= 0);
	assert_int_equal(fd_describe(getpid(), ffd, buf, sizeof(buf)), 0);
	assert_int_equal(strncmp(buf, "/tmp/anatomy-??[31m-", 20), 0);
	unlink(path);

	assert_true(fd_describe(getpid(), 1000000, buf, sizeof(buf)) < 0);
	assert_string_equal(buf, "");
	close(ffd);
	close(cfd);
	close(lfd);
}

/* The event record's anatomy object: class, shares as fractions of the gap,
 * the split, and the waits with fd and what where known. */
static void test_record_anatomy(void **state)
{
	struct session_info s = { .id = "abc", .mode = "attach" };
	struct gap_anatomy k = {
		.flags = GAP_ANATOMY_F_MEASURED | GAP_ANATOMY_F_THROTTLED,
		.on_cpu_ns = 20 * MS,
		.throttled_ns = 60 * MS,
		.off_cpu_ns = 20 * MS,
		.nwaits = 1,
		.waits = { { SYS_recvfrom, 7, 20 * MS } },
	};
	struct event_anatomy a;
	struct blocking_event e = { .number = 1, .duration_ms = 100, .process_name = "p",
				    .sampler = SAMPLER_NONE };
	const cJSON *o, *w, *sh;
	cJSON *r;

	(void)state;
	assert_true(anatomy_from_kernel(&a, &k, 100 * MS));
	snprintf(a.waits[0].what, sizeof(a.waits[0].what), "TCP 1.2.3.4:5 \u2192 6.7.8.9:10");
	e.anatomy = &a;
	r = record_blocking_event(&s, &e);
	assert_non_null(r);
	o = cJSON_GetObjectItemCaseSensitive(r, "anatomy");
	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItem(o, "class")->valuestring, "throttled");
	sh = cJSON_GetObjectItem(o, "shares");
	assert_true(fabs(cJSON_GetObjectItem(sh, "throttled")->valuedouble - 0.6) < 1e-9);
	assert_true(fabs(cJSON_GetObjectItem(sh, "cpu")->valuedouble - 0.2) < 1e-9);
	assert_true(fabs(cJSON_GetObjectItem(sh, "io")->valuedouble - 0.2) < 1e-9);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "throttled")));
	w = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "waits"), 0);
	assert_string_equal(cJSON_GetObjectItem(w, "syscall")->valuestring, "recvfrom");
	assert_int_equal(cJSON_GetObjectItem(w, "fd")->valueint, 7);
	assert_string_equal(cJSON_GetObjectItem(w, "what")->valuestring,
			    "TCP 1.2.3.4:5 \u2192 6.7.8.9:10");
	cJSON_Delete(r);

	/* No anatomy: no object. */
	e.anatomy = NULL;
	r = record_blocking_event(&s, &e);
	assert_null(cJSON_GetObjectItemCaseSensitive(r, "anatomy"));
	cJSON_Delete(r);
}

/* A kernel entry of the gap that began at START, generation GEN, last
 * switched at 2000 ms into state (a sleep in clock_nanosleep, say). */
#define START (1000 * MS)
#define GEN 7
static struct anatomy_slot open_entry(uint32_t state, int64_t nr, uint64_t arg)
{
	return (struct anatomy_slot){
		.gap_start_ns = START, .gen = GEN, .state = state, .since_ns = START + 2000 * MS,
		.wait_syscall = nr, .wait_arg = arg, .last_sleep = ANATOMY_NO_SLEEP,
		.a = {
			.flags = GAP_ANATOMY_F_MEASURED,
			.on_cpu_ns = 100 * MS,
			.runqueue_ns = 100 * MS,
			.off_cpu_ns = 1800 * MS,
			.nwaits = 1,
			.waits = { { SYS_clock_nanosleep, 1, 1800 * MS } },
		},
	};
}

static double share_sum(const struct event_anatomy *a)
{
	double sum = 0;

	for (int c = 0; c < ANATOMY_CLASSES; c++)
		sum += a->share_ms[c];
	return sum;
}

/* The open state's time since the last switch is counted as the kernel
 * counts it at the gap's end, so the shares cover the block so far. */
static void test_so_far_folds_open_state(void **state)
{
	struct anatomy_slot as = open_entry(ANATOMY_OFF_CPU, SYS_clock_nanosleep, 1);
	struct event_anatomy a;

	(void)state;
	/* Asleep in the same call: its wait grows. */
	assert_true(anatomy_so_far(&a, &as, START, GEN, START + 3000 * MS));
	assert_int_equal(a.dominant, ANATOMY_SLEEP);
	assert_int_equal(a.nwaits, 1);
	assert_true(fabs(a.waits[0].ms - 2800) < 1e-6);
	assert_true(fabs(a.off_cpu_ms - 2800) < 1e-6);
	assert_true(fabs(share_sum(&a) - 3000) < 1e-6);

	/* Asleep in another: a new wait. */
	as = open_entry(ANATOMY_OFF_CPU, SYS_recvfrom, 7);
	assert_true(anatomy_so_far(&a, &as, START, GEN, START + 3000 * MS));
	assert_int_equal(a.nwaits, 2);
	assert_string_equal(a.waits[1].name, "recvfrom");
	assert_int_equal(a.waits[1].fd, 7);
	assert_true(fabs(a.waits[1].ms - 1000) < 1e-6);
	assert_true(fabs(a.share_ms[ANATOMY_IO] - 1000) < 1e-6);
	assert_true(fabs(share_sum(&a) - 3000) < 1e-6);

	/* On CPU, runnable, runnable in a throttled group. */
	as = open_entry(ANATOMY_ON_CPU, 0, 0);
	assert_true(anatomy_so_far(&a, &as, START, GEN, START + 3000 * MS));
	assert_true(fabs(a.on_cpu_ms - 1100) < 1e-6);
	as = open_entry(ANATOMY_RUNNABLE, 0, 0);
	assert_true(anatomy_so_far(&a, &as, START, GEN, START + 3000 * MS));
	assert_true(fabs(a.runqueue_ms - 1100) < 1e-6);
	assert_false(a.throttled);
	as.throttled = 1;
	assert_true(anatomy_so_far(&a, &as, START, GEN, START + 3000 * MS));
	assert_true(fabs(a.throttled_ms - 1000) < 1e-6);
	assert_true(fabs(a.runqueue_ms - 100) < 1e-6);
	assert_true(a.throttled);
	assert_true(fabs(share_sum(&a) - 3000) < 1e-6);

	/* A report made before the last switch's time counts nothing open. */
	as = open_entry(ANATOMY_OFF_CPU, SYS_clock_nanosleep, 1);
	assert_true(anatomy_so_far(&a, &as, START, GEN, START + 1500 * MS));
	assert_true(fabs(a.off_cpu_ms - 1800) < 1e-6);
}

/* Once waits is full, a new wait goes to "other", as in the kernel. */
static void test_so_far_full_waits(void **state)
{
	struct anatomy_slot as = open_entry(ANATOMY_OFF_CPU, SYS_recvfrom, 99);
	struct event_anatomy a;

	(void)state;
	as.a.nwaits = GAP_WAITS_MAX;
	for (int i = 0; i < GAP_WAITS_MAX; i++)
		as.a.waits[i] = (struct gap_wait){ SYS_read, (uint64_t)i, 300 * MS };
	assert_true(anatomy_so_far(&a, &as, START, GEN, START + 3000 * MS));
	assert_int_equal(a.nwaits, GAP_WAITS_MAX + 1);
	assert_int_equal(a.waits[GAP_WAITS_MAX].syscall, ANATOMY_OTHER_WAITS);
	assert_true(fabs(a.waits[GAP_WAITS_MAX].ms - 1000) < 1e-6);
}

/* An entry of another gap, or of the slot's previous thread: no switch
 * came in this gap yet, so the thread has been on CPU throughout. */
static void test_so_far_stale_entry(void **state)
{
	struct anatomy_slot as = open_entry(ANATOMY_OFF_CPU, SYS_clock_nanosleep, 1);
	struct event_anatomy a;

	(void)state;
	assert_true(anatomy_so_far(&a, &as, START + 1, GEN, START + 1 + 3000 * MS));
	assert_int_equal(a.dominant, ANATOMY_CPU);
	assert_int_equal(a.nwaits, 0);
	assert_true(fabs(a.on_cpu_ms - 3000) < 1e-6);
	assert_true(anatomy_so_far(&a, &as, START, GEN + 1, START + 3000 * MS));
	assert_int_equal(a.nwaits, 0);
	assert_true(fabs(a.on_cpu_ms - 3000) < 1e-6);
}

/* A still-blocked record carries the anatomy so far, shares of the time
 * blocked so far; none without one. */
static void test_record_still_blocked_anatomy(void **state)
{
	struct session_info s = { .id = "abc", .mode = "attach" };
	struct anatomy_slot as = open_entry(ANATOMY_OFF_CPU, SYS_clock_nanosleep, 1);
	struct event_anatomy a;
	struct still_blocked b = { .blocked_ms = 3000, .process_name = "p" };
	const cJSON *o, *sh;
	cJSON *r;

	(void)state;
	assert_true(anatomy_so_far(&a, &as, START, GEN, START + 3000 * MS));
	b.anatomy = &a;
	r = record_still_blocked(&s, &b);
	assert_non_null(r);
	o = cJSON_GetObjectItemCaseSensitive(r, "anatomy");
	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItem(o, "class")->valuestring, "sleep");
	sh = cJSON_GetObjectItem(o, "shares");
	assert_true(fabs(cJSON_GetObjectItem(sh, "sleep")->valuedouble - 2800.0 / 3000) < 1e-4);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "gil")));
	cJSON_Delete(r);

	b.anatomy = NULL;
	r = record_still_blocked(&s, &b);
	assert_null(cJSON_GetObjectItemCaseSensitive(r, "anatomy"));
	cJSON_Delete(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unmeasured),
		cmocka_unit_test(test_classes_and_shares),
		cmocka_unit_test(test_select_sleeps),
		cmocka_unit_test(test_syscall_describe),
		cmocka_unit_test(test_bad_fd_arg),
		cmocka_unit_test(test_inet_lines),
		cmocka_unit_test(test_describe_real_fds),
		cmocka_unit_test(test_record_anatomy),
		cmocka_unit_test(test_so_far_folds_open_state),
		cmocka_unit_test(test_so_far_full_waits),
		cmocka_unit_test(test_so_far_stale_entry),
		cmocka_unit_test(test_record_still_blocked_anatomy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
