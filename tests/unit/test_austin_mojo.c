// SPDX-License-Identifier: Apache-2.0
/*
 * test_austin_mojo.c - the MOJO parser (agent/austin/mojo.c).
 *
 * Real MOJO v3 comes from Austin 3.7.0 run with -b against a pyenv 3.11
 * target (tests/fixtures/austin_mojo_v3.bin, captured by
 * tests/fixtures/austin_capture.sh). Austin 4 (the only source of v4, and
 * of v1/v2 from older 3.x releases) cannot be installed here, so the other
 * streams are built below, event by event, from the format as documented
 * in docs/austin.md: the encoder is written independently of the parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "austin/austin_parse.h"
#include "unit_helpers.h"

/* ---- building streams --------------------------------------------------- */

struct buf {
	unsigned char d[1 << 16];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->d));
	memcpy(b->d + b->n, p, n);
	b->n += n;
}

static void byte(struct buf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;

	put(b, &c, 1);
}

/* A MOJO integer: 6 bits, sign, continue; then 7 bits and continue. */
static void integer(struct buf *b, long long v)
{
	unsigned long long m = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	unsigned first = (unsigned)(m & 0x3f) | (v < 0 ? 0x40 : 0);

	m >>= 6;
	byte(b, first | (m ? 0x80 : 0));
	while (m) {
		unsigned next = (unsigned)(m & 0x7f);

		m >>= 7;
		byte(b, next | (m ? 0x80 : 0));
	}
}

static void uinteger(struct buf *b, unsigned long long m)
{
	byte(b, (unsigned)(m & 0x3f) | (m >> 6 ? 0x80 : 0));
	m >>= 6;
	while (m) {
		unsigned next = (unsigned)(m & 0x7f);

		m >>= 7;
		byte(b, next | (m ? 0x80 : 0));
	}
}

static void str(struct buf *b, const char *s)
{
	put(b, s, strlen(s) + 1);
}

static void header(struct buf *b, int version)
{
	put(b, "MOJ", 3);
	integer(b, version);
}

static void metadata(struct buf *b, const char *k, const char *v)
{
	byte(b, 1);
	str(b, k);
	str(b, v);
}

static void stack(struct buf *b, int version, long long pid, long long iid, const char *tid)
{
	byte(b, 2);
	integer(b, pid);
	if (version >= 3)
		integer(b, iid);
	str(b, tid);
}

static void string(struct buf *b, unsigned long long key, const char *v)
{
	byte(b, 11);
	uinteger(b, key);
	str(b, v);
}

static void frame(struct buf *b, int version, unsigned long long key, unsigned long long file,
		  unsigned long long scope, unsigned long long line)
{
	byte(b, 3);
	uinteger(b, key);
	uinteger(b, file);
	uinteger(b, scope);
	uinteger(b, line);
	if (version >= 2) {
		uinteger(b, line + 2); /* line_end */
		uinteger(b, 4);        /* column */
		uinteger(b, 20);       /* column_end */
	}
}

static void frame_ref(struct buf *b, unsigned long long key)
{
	byte(b, 5);
	uinteger(b, key);
}

static void metric_time(struct buf *b, long long us)
{
	byte(b, 9);
	integer(b, us);
}

static void metric_memory(struct buf *b, long long bytes)
{
	byte(b, 10);
	integer(b, bytes);
}

/* ---- collecting ------------------------------------------------------------ */

struct got {
	char lines[64][8192];
	size_t n;
	char meta[1024];
	size_t meta_len;
};

static void on_sample(void *ctx, const struct austin_sample *s)
{
	struct got *g = ctx;
	char *l;
	size_t w = 0, cap = sizeof(g->lines[0]);

	if (g->n == sizeof(g->lines) / sizeof(g->lines[0]))
		return;
	l = g->lines[g->n++];
	w += (size_t)snprintf(l + w, cap - w, "%lld %lld %s %lld |", s->pid, s->iid, s->thread,
			      s->tid);
	for (int i = 0; i < s->depth && w < cap; i++)
		w += (size_t)snprintf(l + w, cap - w, "%s%s@%s:%d", i ? " < " : " ",
				      s->frames[i].function, s->frames[i].file, s->frames[i].line);
	if (w < cap && s->has_time)
		w += (size_t)snprintf(l + w, cap - w, " | t=%lld", s->time_us);
	if (w < cap && s->has_memory)
		w += (size_t)snprintf(l + w, cap - w, " | m=%lld", s->memory);
	if (w < cap)
		snprintf(l + w, cap - w, "%s%s%s%s", s->invalid ? " INVALID" : "",
			 s->gc ? " GC" : "", s->idle ? " IDLE" : "",
			 s->truncated ? " TRUNCATED" : "");
}

static void on_meta(void *ctx, const char *key, const char *value)
{
	struct got *g = ctx;

	g->meta_len += (size_t)snprintf(g->meta + g->meta_len, sizeof(g->meta) - g->meta_len,
					"%s=%s;", key, value);
}

/* Parse in chunks (0: at once); returns the parser's result, err its message. */
static int parse(const void *data, size_t len, size_t chunk, struct got *g, char *err,
		 size_t errlen)
{
	struct austin_parse_cb cb = { on_sample, on_meta, g };
	struct austin_mojo *p = austin_mojo_new(&cb);
	const unsigned char *d = data;
	int ret = 0;

	assert_non_null(p);
	memset(g, 0, sizeof(*g));
	for (size_t off = 0; off < len && !ret;) {
		size_t n = chunk && chunk < len - off ? chunk : len - off;

		ret = austin_mojo_feed(p, d + off, n);
		off += n;
	}
	if (!ret)
		ret = austin_mojo_finish(p);
	snprintf(err, errlen, "%s", austin_mojo_error(p));
	austin_mojo_free(p);
	return ret;
}

/* Whole, byte by byte and in odd chunks: the same samples. */
static void parse_all_ways(const void *data, size_t len, struct got *g)
{
	static const size_t chunks[] = { 1, 2, 3, 5, 17, 4096 };
	char err[AUSTIN_ERR_MAX];
	struct got *other = malloc(sizeof(*other));

	assert_int_equal(parse(data, len, 0, g, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		assert_int_equal(parse(data, len, chunks[c], other, err, sizeof(err)), 0);
		assert_int_equal(other->n, g->n);
		for (size_t i = 0; i < g->n; i++)
			assert_string_equal(other->lines[i], g->lines[i]);
		assert_string_equal(other->meta, g->meta);
	}
	free(other);
}

/* ---- the captured v3 stream ---------------------------------------------------- */

static void test_captured_v3(void **state)
{
	struct got *g = malloc(sizeof(*g));
	FILE *f = fopen("tests/fixtures/austin_mojo_v3.bin", "rb");
	static unsigned char data[1 << 16];
	unsigned main_thread = 0, worker = 0;
	long long pid = -1;
	size_t len;

	(void)state;
	if (!f)
		fail_msg("cannot read tests/fixtures/austin_mojo_v3.bin (run from the top directory)");
	len = fread(data, 1, sizeof(data), f);
	fclose(f);
	assert_memory_equal(data, "MOJ\x03", 4);
	parse_all_ways(data, len, g);
	assert_non_null(strstr(g->meta, "austin=3.7.0;interval=100000;mode=wall;python=3.11.7;"));
	assert_non_null(strstr(g->meta, "duration="));
	assert_true(g->n > 4);
	for (size_t i = 0; i < g->n; i++) {
		long long p, iid, tid;
		char thread[32];

		assert_int_equal(sscanf(g->lines[i], "%lld %lld %31s %lld", &p, &iid, thread, &tid), 4);
		if (pid < 0)
			pid = p;
		assert_int_equal(p, pid);
		assert_int_equal(iid, 0);
		/* Hexadecimal TIDs. */
		assert_int_equal(strtoll(thread, NULL, 16), tid);
		assert_non_null(strstr(g->lines[i], " | t="));
		if (tid == pid) {
			assert_non_null(strstr(g->lines[i], "< <module>@/work/main/tests/fixtures/austin_capture_target.py:42 | t="));
			main_thread++;
		} else {
			assert_non_null(strstr(g->lines[i], "| worker@/work/main/tests/fixtures/austin_capture_target.py:17 < Thread.run@/root/.pyenv/versions/3.11.7/lib/python3.11/threading.py:"));
			worker++;
		}
	}
	assert_true(main_thread > 0 && worker > 0);
	free(g);
}

/* Header and footer only (a full-mode run without samples). */
static void test_captured_v3_no_samples(void **state)
{
	struct got *g = malloc(sizeof(*g));
	FILE *f = fopen("tests/fixtures/austin_mojo_v3_full.bin", "rb");
	unsigned char data[4096];
	size_t len;

	(void)state;
	assert_non_null(f);
	len = fread(data, 1, sizeof(data), f);
	fclose(f);
	parse_all_ways(data, len, g);
	assert_int_equal(g->n, 0);
	assert_non_null(strstr(g->meta, "mode=full;"));
	free(g);
}

/* ---- built streams, one per version -------------------------------------------- */

/* Two samples of two threads, then a redefinition and a frame reused. */
static void build_basic(struct buf *b, int v)
{
	header(b, v);
	metadata(b, "austin", v >= 4 ? "4.0.0" : "3.5.0");
	metadata(b, "mode", "wall");
	metadata(b, "python", "3.12.1");
	stack(b, v, 4242, 0, "1092"); /* 0x1092 = 4242 */
	string(b, 0x100, "/app/a.py");
	string(b, 0x101, "<module>");
	frame(b, v, 0x1000000001ULL, 0x100, 0x101, 9);
	frame_ref(b, 0x1000000001ULL);
	string(b, 0x102, "Handler.block");
	frame(b, v, 0x1000000002ULL, 0x100, 0x102, 31);
	frame_ref(b, 0x1000000002ULL);
	metric_time(b, 33407);
	stack(b, v, 4242, 0, "109a");
	frame_ref(b, 0x1000000001ULL);
	metric_time(b, 12);
	/* The same key defined again (Austin's cache evicted it). */
	stack(b, v, 4242, 0, "1092");
	string(b, 0x102, "Handler.spin");
	frame(b, v, 0x1000000002ULL, 0x100, 0x102, 40);
	frame_ref(b, 0x1000000001ULL);
	frame_ref(b, 0x1000000002ULL);
	metric_time(b, 7);
	metadata(b, "duration", "100");
}

static void check_basic(const struct got *g, int v)
{
	const char *iid = v >= 3 ? "0" : "-1";
	char want[256];

	assert_int_equal(g->n, 3);
	snprintf(want, sizeof(want),
		 "4242 %s 1092 4242 | Handler.block@/app/a.py:31 < <module>@/app/a.py:9 | t=33407", iid);
	assert_string_equal(g->lines[0], want);
	snprintf(want, sizeof(want), "4242 %s 109a 4250 | <module>@/app/a.py:9 | t=12", iid);
	assert_string_equal(g->lines[1], want);
	snprintf(want, sizeof(want),
		 "4242 %s 1092 4242 | Handler.spin@/app/a.py:40 < <module>@/app/a.py:9 | t=7", iid);
	assert_string_equal(g->lines[2], want);
	assert_non_null(strstr(g->meta, "mode=wall;python=3.12.1;duration=100;"));
}

static void test_versions_1_to_4(void **state)
{
	(void)state;
	for (int v = 1; v <= 4; v++) {
		struct buf *b = calloc(1, sizeof(*b));
		struct got *g = malloc(sizeof(*g));

		build_basic(b, v);
		parse_all_ways(b->d, b->n, g);
		check_basic(g, v);
		free(b);
		free(g);
	}
}

/* Full mode ends a sample at its memory metric; IDLE, GC, INVALID and
 * kernel frames; negative metrics; a sample ended by the next STACK or by
 * the end of the stream without a metric. */
static void test_special_events(void **state)
{
	struct buf *b = calloc(1, sizeof(*b));
	struct got *g = malloc(sizeof(*g));

	(void)state;
	header(b, 3);
	metadata(b, "mode", "full");
	stack(b, 3, 7, 0, "7");
	string(b, 1, "ignored: key 1 as defined");
	string(b, 5, "/x.py");
	string(b, 6, "f");
	frame(b, 3, 77, 5, 6, 3);
	frame_ref(b, 77);
	byte(b, 4); /* FRAME_INVALID */
	byte(b, 7); /* GC */
	metric_time(b, 100);
	byte(b, 8); /* IDLE */
	metric_memory(b, -4096);
	stack(b, 3, 7, 0, "8");
	frame_ref(b, 77);
	byte(b, 6); /* FRAME_KERNEL */
	str(b, "do_syscall_64");
	metric_time(b, 5);
	metric_memory(b, 0);
	/* unknown frame and string references */
	stack(b, 3, 7, 0, "7");
	frame_ref(b, 999);
	frame(b, 3, 78, 0, 12345, 0xFFFFFFFFFFFFFFFFULL); /* file key 0, line -1 */
	frame_ref(b, 78);
	stack(b, 3, 7, -1, "MainThread"); /* a name; a negative iid */
	frame_ref(b, 77);
	parse_all_ways(b->d, b->n, g);
	assert_int_equal(g->n, 4);
	assert_string_equal(g->lines[0], "7 0 7 7 | INVALID@:0 < f@/x.py:3 | t=100 | m=-4096 INVALID GC IDLE");
	assert_string_equal(g->lines[1], "7 0 8 8 | do_syscall_64@kernel:0 < f@/x.py:3 | t=5 | m=0");
	assert_string_equal(g->lines[2], "7 0 7 7 | <unknown>@:0 < <unknown>@<unknown>:0");
	assert_string_equal(g->lines[3], "7 -1 MainThread -1 | f@/x.py:3");
	free(b);
	free(g);
}

/* Keys are per process: the same key means different things in two PIDs. */
static void test_keys_per_process(void **state)
{
	struct buf *b = calloc(1, sizeof(*b));
	struct got *g = malloc(sizeof(*g));

	(void)state;
	header(b, 3);
	stack(b, 3, 1, 0, "1");
	string(b, 9, "/one.py");
	frame(b, 3, 50, 9, 9, 1);
	frame_ref(b, 50);
	metric_time(b, 1);
	stack(b, 3, 2, 0, "2");
	string(b, 9, "/two.py");
	frame(b, 3, 50, 9, 9, 2);
	frame_ref(b, 50);
	metric_time(b, 1);
	stack(b, 3, 1, 0, "1");
	frame_ref(b, 50);
	metric_time(b, 1);
	parse_all_ways(b->d, b->n, g);
	assert_int_equal(g->n, 3);
	assert_string_equal(g->lines[0], "1 0 1 1 | /one.py@/one.py:1 | t=1");
	assert_string_equal(g->lines[1], "2 0 2 2 | /two.py@/two.py:2 | t=1");
	assert_string_equal(g->lines[2], "1 0 1 1 | /one.py@/one.py:1 | t=1");
	free(b);
	free(g);
}

/* v4: STACK_REPEAT takes the thread's previous stack, without its
 * innermost native frames, as the outer part; TASK_STACK's frames and
 * metric are the task's, not the thread's; TASK_WAITER is skipped. */
static void test_v4_events(void **state)
{
	struct buf *b = calloc(1, sizeof(*b));
	struct got *g = malloc(sizeof(*g));

	(void)state;
	header(b, 4);
	stack(b, 4, 10, 0, "a");
	string(b, 1000, "/m.py");
	string(b, 1001, "main");
	string(b, 1002, "run");
	string(b, 1003, "libc.so.6");
	string(b, 1004, "epoll_wait");
	frame(b, 4, 1, 1000, 1001, 5);
	frame(b, 4, 2, 1000, 1002, 8);
	frame(b, 4, 3, 1003, 1004, 0);
	frame_ref(b, 1);
	frame_ref(b, 2);
	frame_ref(b, 3);
	metric_time(b, 10);
	/* another thread in between must not disturb thread "a" */
	stack(b, 4, 10, 0, "b");
	frame_ref(b, 2);
	metric_time(b, 10);
	stack(b, 4, 10, 0, "a");
	string(b, 1005, "inner");
	frame(b, 4, 4, 1000, 1005, 12);
	frame_ref(b, 4);
	byte(b, 13); /* STACK_REPEAT */
	metric_time(b, 11);
	byte(b, 14); /* TASK_STACK */
	uinteger(b, 0xabc);
	uinteger(b, 1001);
	frame_ref(b, 1);
	metric_time(b, 999);
	byte(b, 15); /* TASK_WAITER */
	uinteger(b, 0xabc);
	uinteger(b, 0xdef);
	stack(b, 4, 10, 0, "a");
	byte(b, 13); /* the same stack again */
	metric_time(b, 12);
	parse_all_ways(b->d, b->n, g);
	assert_int_equal(g->n, 4);
	assert_string_equal(g->lines[0], "10 0 a 10 | epoll_wait@libc.so.6:0 < run@/m.py:8 < main@/m.py:5 | t=10");
	assert_string_equal(g->lines[1], "10 0 b 11 | run@/m.py:8 | t=10");
	assert_string_equal(g->lines[2], "10 0 a 10 | inner@/m.py:12 < run@/m.py:8 < main@/m.py:5 | t=11");
	assert_string_equal(g->lines[3], "10 0 a 10 | inner@/m.py:12 < run@/m.py:8 < main@/m.py:5 | t=12");
	free(b);
	free(g);
}

/* Frames beyond AUSTIN_MAX_FRAMES: the innermost are kept. */
static void test_deep(void **state)
{
	struct buf *b = calloc(1, sizeof(*b));
	struct got *g = malloc(sizeof(*g));

	(void)state;
	header(b, 2);
	stack(b, 2, 1, 0, "1");
	string(b, 1, "/d.py");
	for (int i = 0; i < AUSTIN_MAX_FRAMES + 5; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%d", i);
		string(b, 100 + (unsigned)i, name);
		frame(b, 2, 1000 + (unsigned)i, 1, 100 + (unsigned)i, (unsigned)i + 1);
		frame_ref(b, 1000 + (unsigned)i);
	}
	metric_time(b, 1);
	parse_all_ways(b->d, b->n, g);
	assert_int_equal(g->n, 1);
	assert_non_null(strstr(g->lines[0], "| f132@/d.py:133 < f131@"));
	assert_non_null(strstr(g->lines[0], "< f5@/d.py:6 | t=1 TRUNCATED"));
	free(b);
	free(g);
}

static void expect_error(const void *data, size_t len, const char *want)
{
	struct got *g = malloc(sizeof(*g));
	char err[AUSTIN_ERR_MAX];

	assert_int_equal(parse(data, len, 0, g, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("error '%s' does not say '%s'", err, want);
	assert_null(strchr(err, '\n'));
	free(g);
}

static void test_errors(void **state)
{
	struct buf *b = calloc(1, sizeof(*b));
	unsigned char big[12];

	(void)state;
	expect_error("MOX\x01", 4, "not a MOJO stream");
	expect_error("MOJ\x05", 4, "MOJO version 5");
	expect_error("MOJ\x00", 4, "MOJO version 0");
	expect_error("MOJ", 3, "truncated");
	expect_error("MOJ\x03\x01" "austin", 11, "truncated");
	expect_error("MOJ\x03\x00", 5, "unknown MOJO event 0 at offset 4");
	expect_error("MOJ\x03\x20", 5, "unknown MOJO event 32");
	expect_error("MOJ\x03\x0d", 5, "needs MOJO version 4");
	/* an integer of more than 64 bits */
	memcpy(big, "MOJ\x03\x09", 5);
	memset(big + 5, 0xff, 7);
	expect_error(big, 12, "truncated");
	b->n = 0;
	header(b, 3);
	byte(b, 9);
	for (int i = 0; i < 11; i++)
		byte(b, 0xff);
	byte(b, 0x01);
	expect_error(b->d, b->n, "more than 64 bits");
	/* negative where it may not be */
	b->n = 0;
	header(b, 3);
	byte(b, 2);
	integer(b, -5);
	expect_error(b->d, b->n, "negative");
	free(b);
}

static void test_string_too_long(void **state)
{
	struct austin_parse_cb cb = { 0 };
	struct austin_mojo *p = austin_mojo_new(&cb);
	char *s = malloc(AUSTIN_MAX_STRING + 16);

	(void)state;
	memset(s, 'a', AUSTIN_MAX_STRING + 16);
	assert_int_equal(austin_mojo_feed(p, "MOJ\x03\x01", 5), 0);
	assert_int_equal(austin_mojo_feed(p, s, AUSTIN_MAX_STRING), 0);
	assert_int_equal(austin_mojo_feed(p, s, 16), -1);
	assert_non_null(strstr(austin_mojo_error(p), "longer than"));
	assert_int_equal(austin_mojo_version(p), 3);
	austin_mojo_free(p);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_captured_v3),
		cmocka_unit_test(test_captured_v3_no_samples),
		cmocka_unit_test(test_versions_1_to_4),
		cmocka_unit_test(test_special_events),
		cmocka_unit_test(test_keys_per_process),
		cmocka_unit_test(test_v4_events),
		cmocka_unit_test(test_deep),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_string_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
