// SPDX-License-Identifier: Apache-2.0
/*
 * test_prom_text.c - the loop histogram's bucket mapping (bpf/gap_hist.h),
 * its Prometheus exposition (agent/prom_text.h), the command line's
 * /metrics text (agent/cli_metrics.h), and folding a watch's counts into a
 * total (loop_hist_since).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_metrics.h"
#include "histogram.h"
#include "prom_text.h"
#include "unit_helpers.h"

/* Every boundary lands in the bucket it starts, the value below it in the
 * one before; boundaries grow by 1.5 then 4/3; the ends are clamped. */
static void test_bucket_mapping(void **state)
{
	uint64_t prev = 0;

	(void)state;
	assert_int_equal(LOOP_HIST_BUCKETS, 34);
	assert_true(sizeof(struct loop_hist) == 288);
	assert_int_equal(loop_hist_bucket(0), 0);
	assert_int_equal(loop_hist_bucket((1ull << 18) - 1), 0);
	for (unsigned int b = 1; b < LOOP_HIST_BUCKETS; b++) {
		uint64_t low = loop_hist_bucket_low(b);

		assert_true(low > prev);
		if (b > 1)
			assert_true(low * 4 == prev * 6 || low * 3 == prev * 4);
		assert_int_equal(loop_hist_bucket(low), b);
		assert_int_equal(loop_hist_bucket(low - 1), b - 1);
		prev = low;
	}
	assert_int_equal(loop_hist_bucket_low(1), 1ull << 18);
	assert_int_equal(loop_hist_bucket_low(2), 3ull << 17);
	assert_int_equal(loop_hist_bucket_low(LOOP_HIST_BUCKETS - 1), 1ull << 34);
	assert_int_equal(loop_hist_bucket(1000000), 4);   /* 1 ms: [786.432, 1048.576) us */
	assert_int_equal(loop_hist_bucket(100000000), 17); /* 100 ms: [67.1, 100.7) ms */
	assert_int_equal(loop_hist_bucket(UINT64_MAX), LOOP_HIST_BUCKETS - 1);
	/* The stats histogram is unchanged by the loop histogram's cut. */
	assert_int_equal(hist_bucket_low(hist_bucket(1000000)) <= 1000000, 1);
}

static void test_le_values(void **state)
{
	char le[32];

	(void)state;
	prom_loop_hist_le(0, le, sizeof(le));
	assert_string_equal(le, "0.000262144");
	prom_loop_hist_le(1, le, sizeof(le));
	assert_string_equal(le, "0.000393216");
	prom_loop_hist_le(17, le, sizeof(le));
	assert_string_equal(le, "0.100663296");
	prom_loop_hist_le(LOOP_HIST_BUCKETS - 2, le, sizeof(le));
	assert_string_equal(le, "17.179869184");
	/* Every bound parses back to its bucket's lower bound. */
	for (unsigned int b = 0; b + 1 < LOOP_HIST_BUCKETS; b++) {
		prom_loop_hist_le(b, le, sizeof(le));
		assert_int_equal((uint64_t)(strtod(le, NULL) * 1e9 + 0.5), loop_hist_bucket_low(b + 1));
	}
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

#define HAS(text, line) do { if (!has_line((text), (line))) \
	fail_msg("no line '%s' in:\n%s", (line), (text)); } while (0)

static void test_cli_text(void **state)
{
	struct loop_hist h = { 0 };
	struct cli_metrics_view v = {
		.pid = 4242, .comm = "py\"th\\on\n", .loop = &h, .events = 3, .error_events = 1,
		.lost_events = 2, .version = "1.2.3",
	};
	unsigned int lines = 0, buckets = 0;
	size_t len = 0;
	char *text;

	(void)state;
	h.buckets[0] = 7;
	h.buckets[loop_hist_bucket(50000000)] = 2; /* 50 ms */
	h.sum_ns = 100000000 + 7 * 1000;
	text = cli_metrics_render(&v, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	HAS(text, "# TYPE blocksnoop_loop_gap_seconds histogram");
	HAS(text, "blocksnoop_loop_gap_seconds_bucket{pid=\"4242\",comm=\"py\\\"th\\\\on\\n\",le=\"0.000262144\"} 7");
	HAS(text, "blocksnoop_loop_gap_seconds_bucket{pid=\"4242\",comm=\"py\\\"th\\\\on\\n\",le=\"0.033554432\"} 7");
	HAS(text, "blocksnoop_loop_gap_seconds_bucket{pid=\"4242\",comm=\"py\\\"th\\\\on\\n\",le=\"0.050331648\"} 9");
	HAS(text, "blocksnoop_loop_gap_seconds_bucket{pid=\"4242\",comm=\"py\\\"th\\\\on\\n\",le=\"+Inf\"} 9");
	HAS(text, "blocksnoop_loop_gap_seconds_sum{pid=\"4242\",comm=\"py\\\"th\\\\on\\n\"} 0.100007000");
	HAS(text, "blocksnoop_loop_gap_seconds_count{pid=\"4242\",comm=\"py\\\"th\\\\on\\n\"} 9");
	HAS(text, "blocksnoop_blocking_events_total{pid=\"4242\",comm=\"py\\\"th\\\\on\\n\"} 3");
	HAS(text, "blocksnoop_blocking_error_events_total{pid=\"4242\",comm=\"py\\\"th\\\\on\\n\"} 1");
	HAS(text, "blocksnoop_lost_events_total 2");
	HAS(text, "blocksnoop_build_info{version=\"1.2.3\"} 1");
	/* No raw newline inside a line: each is a comment or "series value". */
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		assert_true(line[0] == '#' || strrchr(line, ' ') > strrchr(line, '}'));
		buckets += !strncmp(line, "blocksnoop_loop_gap_seconds_bucket{", 35);
		lines++;
	}
	assert_int_equal(buckets, LOOP_HIST_BUCKETS);
	assert_true(lines > buckets);
	free(text);
}

/* A watch's counts go into a total once each, and counts that went down
 * (a new watch at the same place) add nothing. */
static void test_since(void **state)
{
	struct loop_hist now = { 0 }, seen = { 0 }, delta;

	(void)state;
	now.buckets[3] = 10;
	now.sum_ns = 1000;
	loop_hist_since(&delta, &now, &seen);
	assert_int_equal(delta.buckets[3], 10);
	assert_int_equal(delta.sum_ns, 1000);
	now.buckets[3] = 12;
	now.sum_ns = 1500;
	loop_hist_since(&delta, &now, &seen);
	assert_int_equal(delta.buckets[3], 2);
	assert_int_equal(delta.sum_ns, 500);
	now.buckets[3] = 1;
	loop_hist_since(&delta, &now, &seen);
	assert_int_equal(delta.buckets[3], 0);
	assert_int_equal(seen.buckets[3], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_mapping),
		cmocka_unit_test(test_le_values),
		cmocka_unit_test(test_cli_text),
		cmocka_unit_test(test_since),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
