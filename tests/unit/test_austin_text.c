// SPDX-License-Identifier: Apache-2.0
/*
 * test_austin_text.c - the Austin 3.x text parser (agent/austin/text.c) and
 * the format dispatch (agent/austin/stream.c), on real Austin 3.7.0 output
 * captured by tests/fixtures/austin_capture.sh (tests/fixtures/austin_text_*)
 * and on hand-written lines for the corners: the pre-3.6 "T<tid>" form,
 * :INVALID: frames, empty stacks, memory and full metrics, spaces and
 * colons in file names, truncation and garbage.
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

#define FIXTURES "tests/fixtures/"

/* ---- a collector: every sample as one line of text ------------------------ */

struct got {
	char **lines;
	size_t n;
	char meta[4096];
	size_t meta_len;
	unsigned samples, invalid, empty, gc, idle;
};

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->lines[i]);
	free(g->lines);
	memset(g, 0, sizeof(*g));
}

/* "pid iid thread tid | f1@file:line < f2@... | t=.. m=.. [flags]",
 * frames innermost first. */
static void on_sample(void *ctx, const struct austin_sample *s)
{
	struct got *g = ctx;
	char buf[65536];
	size_t w = 0;

	w += (size_t)snprintf(buf + w, sizeof(buf) - w, "%lld %lld %s %lld |", s->pid, s->iid,
			      s->thread, s->tid);
	for (int i = 0; i < s->depth && w < sizeof(buf); i++)
		w += (size_t)snprintf(buf + w, sizeof(buf) - w, "%s%s@%s:%d", i ? " < " : " ",
				      s->frames[i].function, s->frames[i].file, s->frames[i].line);
	if (w < sizeof(buf) && s->has_time)
		w += (size_t)snprintf(buf + w, sizeof(buf) - w, " | t=%lld", s->time_us);
	if (w < sizeof(buf) && s->has_memory)
		w += (size_t)snprintf(buf + w, sizeof(buf) - w, " | m=%lld", s->memory);
	if (w < sizeof(buf))
		snprintf(buf + w, sizeof(buf) - w, "%s%s%s%s", s->invalid ? " INVALID" : "",
			 s->gc ? " GC" : "", s->idle ? " IDLE" : "",
			 s->truncated ? " TRUNCATED" : "");
	g->lines = realloc(g->lines, (g->n + 1) * sizeof(*g->lines));
	assert_non_null(g->lines);
	g->lines[g->n++] = strdup(buf);
	g->samples++;
	g->invalid += s->invalid;
	g->empty += !s->depth;
	g->gc += s->gc;
	g->idle += s->idle;
	assert_true(s->depth >= 0 && s->depth <= AUSTIN_MAX_FRAMES);
	for (int i = 0; i < s->depth; i++) {
		assert_non_null(s->frames[i].function);
		assert_non_null(s->frames[i].file);
	}
}

static void on_meta(void *ctx, const char *key, const char *value)
{
	struct got *g = ctx;

	g->meta_len += (size_t)snprintf(g->meta + g->meta_len, sizeof(g->meta) - g->meta_len,
					"%s=%s;", key, value);
}

/* Parse text through the stream dispatcher in chunks of `chunk` bytes
 * (0: at once). Returns the parser's result; error message in err. */
static int parse(const char *text, size_t len, size_t chunk, struct got *g, char *err,
		 size_t errlen)
{
	struct austin_parse_cb cb = { on_sample, on_meta, g };
	struct austin_stream *s = austin_stream_new(&cb);
	int ret = 0;

	assert_non_null(s);
	memset(g, 0, sizeof(*g));
	for (size_t off = 0; off < len && !ret;) {
		size_t n = chunk && chunk < len - off ? chunk : len - off;

		ret = austin_stream_feed(s, text + off, n);
		off += n;
	}
	if (!ret)
		ret = austin_stream_finish(s);
	if (ret)
		assert_int_equal(austin_stream_format(s) == AUSTIN_FORMAT_MOJO, 0);
	snprintf(err, errlen, "%s", austin_stream_error(s));
	austin_stream_free(s);
	return ret;
}

static int parse_str(const char *text, struct got *g, char *err, size_t errlen)
{
	return parse(text, strlen(text), 0, g, err, errlen);
}

static char *fixture(const char *name, size_t *len)
{
	char path[256];
	char *text;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	text = uh_read_file(path);
	if (!text)
		fail_msg("cannot read %s (run the unit tests from the repository's top directory)",
			 path);
	*len = strlen(text);
	return text;
}

static unsigned count_lines_starting(const char *text, char c)
{
	unsigned n = 0;

	for (const char *p = text; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
		n += *p == c;
	return n;
}

static unsigned count_substr(const char *text, const char *what)
{
	unsigned n = 0;

	for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

/* ---- captured output ---------------------------------------------------------- */

/* Every captured file parses whole and in small chunks, to the same result,
 * with one sample per "P" line and the header's metadata. */
static void check_capture(const char *name, const char *python)
{
	static const size_t chunks[] = { 0, 1, 2, 3, 7, 64, 4095 };
	char err[AUSTIN_ERR_MAX], want[64];
	struct got whole, part;
	size_t len;
	char *text = fixture(name, &len);

	assert_int_equal(parse(text, len, 0, &whole, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(whole.samples, count_lines_starting(text, 'P'));
	assert_true(whole.samples > 0);
	assert_non_null(strstr(whole.meta, "austin=3.7.0;"));
	snprintf(want, sizeof(want), "python=%s;", python);
	assert_non_null(strstr(whole.meta, want));
	for (size_t c = 1; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		assert_int_equal(parse(text, len, chunks[c], &part, err, sizeof(err)), 0);
		assert_int_equal(part.n, whole.n);
		for (size_t i = 0; i < whole.n; i++)
			assert_string_equal(part.lines[i], whole.lines[i]);
		assert_string_equal(part.meta, whole.meta);
		got_free(&part);
	}
	got_free(&whole);
	free(text);
}

static void test_capture_311(void **state)
{
	(void)state;
	check_capture("austin_text_3.11.7.txt", "3.11.7");
}

static void test_capture_313(void **state)
{
	(void)state;
	check_capture("austin_text_3.13.0.txt", "3.13.0");
}

static void test_capture_38(void **state)
{
	(void)state;
	/* Austin cannot tell 3.8's patch level: "3.8.0". */
	check_capture("austin_text_3.8.18.txt", "3.8.0");
}

static void test_capture_others(void **state)
{
	(void)state;
	check_capture("austin_text_full.txt", "3.11.7");
	check_capture("austin_text_gc.txt", "3.11.7");
	check_capture("austin_text_children.txt", "3.11.7");
	check_capture("austin_text_startup.txt", "3.13.0");
}

/* What the captured 3.11 samples say: the main thread (pid == tid) in the
 * target's own frames, innermost first, with qualified names; the worker
 * thread in worker(); every thread numbered as the target's TIDs. */
static void test_capture_311_content(void **state)
{
	char err[AUSTIN_ERR_MAX];
	struct got g;
	size_t len;
	char *text = fixture("austin_text_3.11.7.txt", &len);
	unsigned main_block = 0, main_spin = 0, main_idle = 0, worker = 0;
	long long pid = -1;

	(void)state;
	assert_int_equal(parse(text, len, 0, &g, err, sizeof(err)), 0);
	assert_non_null(strstr(g.meta, "interval=100000;mode=wall;"));
	assert_non_null(strstr(g.meta, "duration="));
	assert_non_null(strstr(g.meta, "errors="));
	for (size_t i = 0; i < g.n; i++) {
		const char *l = g.lines[i];
		long long p, iid, tid;
		char thread[32];

		assert_int_equal(sscanf(l, "%lld %lld %31s %lld", &p, &iid, thread, &tid), 4);
		if (pid < 0)
			pid = p;
		assert_int_equal(p, pid);
		assert_int_equal(iid, 0);
		assert_int_equal(atoll(thread), tid);
		if (tid == pid) {
			/* root: <module> of the target, last before the metric */
			assert_non_null(strstr(l, "<module>@/work/main/tests/fixtures/austin_capture_target.py:42 | t="));
			if (strstr(l, "| Handler.block@/work/main/tests/fixtures/austin_capture_target.py:22 < main@"))
				main_block++;
			else if (strstr(l, "| Handler.spin@/work/main/tests/fixtures/austin_capture_target.py:"))
				main_spin++;
			else if (strstr(l, "| EpollSelector.select@"))
				main_idle++;
		} else {
			assert_non_null(strstr(l, "| worker@/work/main/tests/fixtures/austin_capture_target.py:17 < Thread.run@"));
			worker++;
		}
	}
	assert_true(main_block + main_spin + main_idle > 0);
	assert_true(worker > 0);
	assert_int_equal(main_block + main_spin + main_idle + worker, g.samples);
	got_free(&g);
	free(text);
}

/* 3.13 at start-up: ":INVALID:" frames and stacks without frames. */
static void test_capture_startup(void **state)
{
	char err[AUSTIN_ERR_MAX];
	struct got g;
	size_t len;
	char *text = fixture("austin_text_startup.txt", &len);

	(void)state;
	assert_int_equal(parse(text, len, 0, &g, err, sizeof(err)), 0);
	assert_true(g.empty > 0);
	assert_int_equal(g.invalid, count_substr(text, ";:INVALID:"));
	assert_true(g.invalid > 0);
	/* A frozen module's file name has a space in it. */
	for (size_t i = 0; i < g.n; i++)
		if (strstr(g.lines[i], "@<frozen importlib._bootstrap>:"))
			goto found;
	fail_msg("no <frozen importlib._bootstrap> frame");
found:
	got_free(&g);
	free(text);
}

/* Full mode: "time,idle,memory". */
static void test_capture_full(void **state)
{
	char err[AUSTIN_ERR_MAX];
	struct got g;
	size_t len;
	char *text = fixture("austin_text_full.txt", &len);

	(void)state;
	assert_int_equal(parse(text, len, 0, &g, err, sizeof(err)), 0);
	assert_non_null(strstr(g.meta, "mode=full;"));
	for (size_t i = 0; i < g.n; i++) {
		assert_non_null(strstr(g.lines[i], " | t="));
		assert_non_null(strstr(g.lines[i], " | m="));
	}
	assert_true(g.idle > 0);
	got_free(&g);
	free(text);
}

/* With -C, "# python" comes before "# austin". */
static void test_capture_children_header_order(void **state)
{
	char err[AUSTIN_ERR_MAX];
	struct got g;
	size_t len;
	char *text = fixture("austin_text_children.txt", &len);

	(void)state;
	assert_int_equal(parse(text, len, 0, &g, err, sizeof(err)), 0);
	assert_true(strstr(g.meta, "python=") < strstr(g.meta, "austin="));
	assert_non_null(strstr(g.meta, "multiprocess=on;"));
	got_free(&g);
	free(text);
}

/* ---- hand-written lines ----------------------------------------------------------- */

static void test_sample_forms(void **state)
{
	char err[AUSTIN_ERR_MAX];
	struct got g;

	(void)state;
	assert_int_equal(parse_str(
		"# austin: 3.7.0\n"
		"# mode: wall\n"
		"\n"
		/* 3.6+: T<iid>:<tid> */
		"P42;T0:43;/app/a.py:<module>:9;/app/a.py:Handler.block:31 33407\n"
		/* 3.0-3.5: T<tid> */
		"P42;T43;/app/a.py:f:1 5\n"
		/* no frames */
		"P42;T0:44 100\n"
		/* a thread given by name */
		"P42;T1:MainThread;/app/a.py:f:2 7\n"
		/* spaces and colons in file names; line -1 */
		"P42;T0:43;C:\\my app\\x.py:g:3;<frozen importlib._bootstrap>:_load:-1 1\n"
		/* Austin's special frames */
		"P42;T0:43;:INVALID:;/app/a.py:f:1 2\n"
		"P42;T0:43;/app/a.py:f:1;:GC: 3\n"
		"\n"
		"# duration: 12\n",
		&g, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(g.n, 7);
	assert_string_equal(g.lines[0], "42 0 43 43 | Handler.block@/app/a.py:31 < <module>@/app/a.py:9 | t=33407");
	assert_string_equal(g.lines[1], "42 -1 43 43 | f@/app/a.py:1 | t=5");
	assert_string_equal(g.lines[2], "42 0 44 44 | | t=100");
	assert_string_equal(g.lines[3], "42 1 MainThread -1 | f@/app/a.py:2 | t=7");
	assert_string_equal(g.lines[4], "42 0 43 43 | _load@<frozen importlib._bootstrap>:0 < g@C:\\my app\\x.py:3 | t=1");
	assert_string_equal(g.lines[5], "42 0 43 43 | f@/app/a.py:1 < INVALID@:0 | t=2 INVALID");
	assert_string_equal(g.lines[6], "42 0 43 43 | GC@:0 < f@/app/a.py:1 | t=3 GC");
	assert_string_equal(g.meta, "austin=3.7.0;mode=wall;duration=12;");
	got_free(&g);
}

static void test_metrics(void **state)
{
	char err[AUSTIN_ERR_MAX];
	struct got g;

	(void)state;
	assert_int_equal(parse_str("# mode: memory\nP1;T0:1;/a.py:f:1 -4096\nP1;T0:1;/a.py:f:1 12\n",
				   &g, err, sizeof(err)), 0);
	assert_string_equal(g.lines[0], "1 0 1 1 | f@/a.py:1 | m=-4096");
	assert_string_equal(g.lines[1], "1 0 1 1 | f@/a.py:1 | m=12");
	got_free(&g);
	assert_int_equal(parse_str("# mode: full\nP1;T0:1;/a.py:f:1 100,1,-8\n", &g, err,
				   sizeof(err)), 0);
	assert_string_equal(g.lines[0], "1 0 1 1 | f@/a.py:1 | t=100 | m=-8 IDLE");
	got_free(&g);
	/* CRLF line ends are tolerated. */
	assert_int_equal(parse_str("# mode: cpu\r\nP1;T0:1;/a.py:f:1 5\r\n", &g, err, sizeof(err)), 0);
	assert_string_equal(g.lines[0], "1 0 1 1 | f@/a.py:1 | t=5");
	assert_string_equal(g.meta, "mode=cpu;");
	got_free(&g);
}

/* Only the innermost AUSTIN_MAX_FRAMES frames are kept. */
static void test_deep_stack(void **state)
{
	size_t cap = 64 + (AUSTIN_MAX_FRAMES + 10) * 32;
	char *text = malloc(cap), err[AUSTIN_ERR_MAX];
	size_t w = 0;
	struct got g;

	(void)state;
	w += (size_t)snprintf(text + w, cap - w, "P1;T0:1");
	for (int i = 0; i < AUSTIN_MAX_FRAMES + 10; i++)
		w += (size_t)snprintf(text + w, cap - w, ";/d.py:f%d:%d", i, i + 1);
	snprintf(text + w, cap - w, " 1\n");
	assert_int_equal(parse_str(text, &g, err, sizeof(err)), 0);
	assert_int_equal(g.n, 1);
	assert_non_null(strstr(g.lines[0], "| f137@/d.py:138 < f136@"));
	assert_non_null(strstr(g.lines[0], "< f10@/d.py:11 | t=1 TRUNCATED"));
	assert_null(strstr(g.lines[0], "f9@"));
	got_free(&g);
	free(text);
}

static void expect_error(const char *text, size_t len, const char *want)
{
	char err[AUSTIN_ERR_MAX];
	struct got g;

	assert_int_equal(parse(text, len, 0, &g, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("error '%s' does not say '%s'", err, want);
	assert_null(strchr(err, '\n'));
	got_free(&g);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("P1;T0:1;/a.py:f:1 5", 19, "line 1: truncated");
	expect_error("# austin: 3.7.0\nhello world\n", 28, "line 2: unexpected output 'hello world'");
	expect_error("P1;T0:1;/a.py:f:1\n", 18, "metric");
	expect_error("P1;T0:1;/a.py:f:1 5x\n", 21, "bad metric");
	expect_error("P1;T0:1;/a.py:f 5\n", 18, "malformed frame");
	expect_error("P1;T0:1;/a.py:f:x 5\n", 20, "malformed frame");
	expect_error("P1;X0:1;/a.py:f:1 5\n", 20, "P<pid>;T");
	expect_error("P1;T0: 5\n", 9, "without a thread");
	expect_error("P1;Tx:1 5\n", 10, "interpreter id");
	expect_error("Thread 0x7f;main (a.py);L3 100\n", 31, "Austin 1 or 2");
	expect_error("# austin: 3.7.0\nP1;T0:1;/a\0.py:f:1 5\n", 38, "binary data");
	expect_error("\x01\x02\x03garbage\n", 11, "unexpected output");
	/* After an error, nothing more is taken. */
	{
		struct austin_parse_cb cb = { 0 };
		struct austin_text *p = austin_text_new(&cb);

		assert_int_equal(austin_text_feed(p, "junk\n", 5), -1);
		assert_int_equal(austin_text_feed(p, "P1;T0:1;/a.py:f:1 5\n", 20), -1);
		assert_int_equal(austin_text_finish(p), -1);
		assert_non_null(strstr(austin_text_error(p), "line 1"));
		austin_text_free(p);
	}
}

static void test_line_too_long(void **state)
{
	struct austin_parse_cb cb = { 0 };
	struct austin_text *p = austin_text_new(&cb);
	char *chunk = malloc(65536);

	(void)state;
	memset(chunk, 'x', 65536);
	chunk[0] = 'P';
	for (int i = 0; i < AUSTIN_MAX_LINE / 65536; i++)
		assert_int_equal(austin_text_feed(p, chunk, 65536), 0);
	assert_int_equal(austin_text_feed(p, chunk, 1), -1);
	assert_non_null(strstr(austin_text_error(p), "longer than"));
	austin_text_free(p);
	free(chunk);
}

/* The dispatcher: empty output is no error; "M" alone is text; the
 * captured MOJO is MOJO. */
static void test_dispatch(void **state)
{
	struct austin_parse_cb cb = { 0 };
	struct austin_stream *s;
	char err[AUSTIN_ERR_MAX];
	struct got g;

	(void)state;
	s = austin_stream_new(&cb);
	assert_int_equal(austin_stream_format(s), AUSTIN_FORMAT_UNKNOWN);
	assert_int_equal(austin_stream_finish(s), 0);
	austin_stream_free(s);

	s = austin_stream_new(&cb);
	assert_int_equal(austin_stream_feed(s, "MO", 2), 0);
	assert_int_equal(austin_stream_format(s), AUSTIN_FORMAT_UNKNOWN);
	assert_int_equal(austin_stream_feed(s, "X\n", 2), -1);
	assert_int_equal(austin_stream_format(s), AUSTIN_FORMAT_TEXT);
	assert_non_null(strstr(austin_stream_error(s), "unexpected output 'MOX'"));
	austin_stream_free(s);

	s = austin_stream_new(&cb);
	assert_int_equal(austin_stream_feed(s, "M", 1), 0);
	assert_int_equal(austin_stream_finish(s), -1);
	assert_int_equal(austin_stream_bytes(s), 1);
	austin_stream_free(s);

	s = austin_stream_new(&cb);
	assert_int_equal(austin_stream_feed(s, "MOJ", 3), 0);
	assert_int_equal(austin_stream_format(s), AUSTIN_FORMAT_MOJO);
	assert_int_equal(austin_stream_finish(s), -1);
	assert_non_null(strstr(austin_stream_error(s), "truncated"));
	austin_stream_free(s);

	assert_int_equal(parse_str("", &g, err, sizeof(err)), 0);
	assert_int_equal(g.n, 0);
	got_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capture_311),
		cmocka_unit_test(test_capture_313),
		cmocka_unit_test(test_capture_38),
		cmocka_unit_test(test_capture_others),
		cmocka_unit_test(test_capture_311_content),
		cmocka_unit_test(test_capture_startup),
		cmocka_unit_test(test_capture_full),
		cmocka_unit_test(test_capture_children_header_order),
		cmocka_unit_test(test_sample_forms),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_deep_stack),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_dispatch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
