// SPDX-License-Identifier: Apache-2.0
/*
 * test_record.c - the blocksnoop/v1 records (agent/record.h,
 * docs/output-schema.md): field names and JSON types, exact 64-bit
 * timestamps, rounding, null fields, the --log-file additions and the
 * one-line serialisation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "record.h"
#include "stacks.h"
#include "unit_helpers.h"

/* ---- fixtures and helpers ------------------------------------------------- */

static char *const launch_cmd[] = { "python3", "app.py", "--port", "8080", NULL };

static struct session_info launch_session(void)
{
	struct session_info s = {
		.id = "7d5435d7-3d01-4305-813a-a8d4c11fe379",
		.mode = "launch",
		.command = launch_cmd,
		.pid = 5968,
		.tid = 5969,
		.follow = true,
		.threshold_ms = 100,
		.error_threshold_ms = 500,
		.stats = false,
		.service = "checkout",
		.env = "prod",
		.start_mono_ns = 593783000000ULL,
		/* 2023-11-14T22:13:20.123456789Z */
		.start_wall = { .tv_sec = 1700000000, .tv_nsec = 123456789 },
	};
	return s;
}

static struct session_info attach_session(void)
{
	struct session_info s = launch_session();

	s.mode = "attach";
	s.command = NULL;
	s.threshold_ms = 12.34567;
	s.stats = true;
	return s;
}

static struct blocking_event sample_event(void)
{
	struct blocking_event e = {
		.number = 3,
		.start_ns = 9007199254740993ULL,  /* 2^53 + 1: not a double */
		.end_ns = 18446744073709551615ULL, /* UINT64_MAX */
		.wall_start = { .tv_sec = 1700000001, .tv_nsec = 5000 },
		.timestamp_s = 1.23456789,
		.duration_ms = 302.1236,
		.pid = 5968,
		.tid = 5969,
		.process_name = "gunicorn",
		.is_error = false,
		.stacks = NULL,
		.sampler = SAMPLER_NONE,
	};
	return e;
}

static const cJSON *field(const cJSON *r, const char *name)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(r, name);

	if (!f)
		fail_msg("record has no field '%s'", name);
	return f;
}

static void want_string(const cJSON *r, const char *name, const char *want)
{
	const cJSON *f = field(r, name);

	if (!cJSON_IsString(f))
		fail_msg("field '%s' is not a string", name);
	assert_string_equal(f->valuestring, want);
}

static void want_number(const cJSON *r, const char *name, double want)
{
	const cJSON *f = field(r, name);

	if (!cJSON_IsNumber(f))
		fail_msg("field '%s' is not a number", name);
	assert_near(f->valuedouble, want, fabs(want) * 1e-12);
}

static void want_null(const cJSON *r, const char *name)
{
	if (!cJSON_IsNull(field(r, name)))
		fail_msg("field '%s' is not null", name);
}

static void want_absent(const cJSON *r, const char *name)
{
	if (cJSON_GetObjectItemCaseSensitive(r, name))
		fail_msg("record should have no field '%s'", name);
}

/* The field names of r, in order, must be exactly `names`. */
static void want_fields(const cJSON *r, const char *const *names)
{
	const cJSON *f = r->child;
	size_t i = 0;

	for (; f && names[i]; f = f->next, i++)
		if (strcmp(f->string, names[i]))
			fail_msg("field %zu is '%s', want '%s'", i, f->string, names[i]);
	if (f)
		fail_msg("unexpected extra field '%s'", f->string);
	if (names[i])
		fail_msg("missing field '%s'", names[i]);
}

/* "2023-11-14T22:13:20.123456Z": ISO 8601 UTC with microseconds. */
static void want_iso_time(const char *text)
{
	regex_t re;

	assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
				 "[0-9]{2}\\.[0-9]{6}Z$", REG_EXTENDED | REG_NOSUB), 0);
	if (regexec(&re, text, 0, NULL, 0))
		fail_msg("'%s' is not ISO 8601 UTC with microseconds", text);
	regfree(&re);
}

/* The serialised line, checked for the one-line form. */
static char *line_of(const cJSON *r)
{
	char *line = record_to_line(r);
	size_t len;

	assert_non_null(line);
	len = strlen(line);
	assert_true(len > 2);
	assert_int_equal(line[len - 1], '\n');
	if (memchr(line, '\n', len - 1))
		fail_msg("record line has an inner newline: %s", line);
	assert_int_equal(line[0], '{');
	assert_int_equal(line[len - 2], '}');
	return line;
}

/* The fields every record starts with: schema .. time. */
#define COMMON_FIELDS 5

static void want_common(const cJSON *r, const char *type)
{
	want_string(r, "schema", "blocksnoop/v1");
	want_number(r, "schema_version", 1);
	want_string(r, "type", type);
	want_string(r, "session_id", "7d5435d7-3d01-4305-813a-a8d4c11fe379");
	want_iso_time(field(r, "time")->valuestring);
}

/* ---- session_start -------------------------------------------------------- */

static void test_session_start_launch(void **state)
{
	struct session_info s = launch_session();
	cJSON *r = record_session_start(&s);
	const cJSON *cmd;
	static const char *const names[] = {
		"schema", "schema_version", "type", "session_id", "time", "version", "mode", "pid", "tid",
		"follow", "all_threads", "threshold_ms", "error_threshold_ms", "stats",
		"command", NULL,
	};

	(void)state;
	assert_non_null(r);
	want_fields(r, names);
	want_common(r, "session_start");
	assert_true(cJSON_IsTrue(field(r, "follow")));
	assert_true(cJSON_IsFalse(field(r, "all_threads")));
	/* time is the session's wall-clock start, truncated to microseconds. */
	want_string(r, "time", "2023-11-14T22:13:20.123456Z");
	want_string(r, "version", BLOCKSNOOP_VERSION);
	want_string(r, "mode", "launch");
	want_number(r, "pid", 5968);
	want_number(r, "tid", 5969);
	want_number(r, "threshold_ms", 100);
	want_number(r, "error_threshold_ms", 500);
	assert_true(cJSON_IsFalse(field(r, "stats")));
	cmd = field(r, "command");
	assert_true(cJSON_IsArray(cmd));
	assert_int_equal(cJSON_GetArraySize(cmd), 4);
	for (int i = 0; i < 4; i++) {
		assert_true(cJSON_IsString(cJSON_GetArrayItem(cmd, i)));
		assert_string_equal(cJSON_GetArrayItem(cmd, i)->valuestring, launch_cmd[i]);
	}
	cJSON_Delete(r);
}

static void test_session_start_attach(void **state)
{
	struct session_info s = attach_session();
	cJSON *r = record_session_start(&s);
	char *line;

	(void)state;
	assert_non_null(r);
	want_common(r, "session_start");
	want_string(r, "mode", "attach");
	want_absent(r, "command");          /* launch mode only */
	want_number(r, "threshold_ms", 12.346); /* 3 decimals */
	assert_true(cJSON_IsTrue(field(r, "stats")));
	line = line_of(r);
	assert_non_null(strstr(line, "\"threshold_ms\":12.346,"));
	assert_non_null(strstr(line, "\"stats\":true"));
	free(line);
	cJSON_Delete(r);
}

/* ---- blocking_event -------------------------------------------------------- */

static void test_blocking_event(void **state)
{
	struct session_info s = launch_session();
	struct blocking_event e = sample_event();
	cJSON *r = record_blocking_event(&s, &e);
	char *line;
	static const char *const names[] = {
		"schema", "schema_version", "type", "session_id", "time", "event_number", "timestamp_s",
		"start_ns", "end_ns", "duration_ms", "pid", "tid", "process_name", "level",
		"python_stacks", "stack_samples", "samples", "stack_unavailable", "task", "sampler",
		NULL,
	};

	(void)state;
	assert_non_null(r);
	want_fields(r, names);
	want_common(r, "blocking_event");
	want_null(r, "sampler");
	/* time is when the block began (wall_start), not the session start. */
	want_string(r, "time", "2023-11-14T22:13:21.000005Z");
	want_number(r, "event_number", 3);
	want_number(r, "timestamp_s", 1.234568); /* 6 decimals */
	want_number(r, "duration_ms", 302.124);  /* 3 decimals */
	want_number(r, "pid", 5968);
	want_number(r, "tid", 5969);
	want_string(r, "process_name", "gunicorn");
	want_string(r, "level", "warning");
	/* No stack captured: null, no per-stack counts, no samples, and why:
	 * no sampler gave a set at all. */
	want_null(r, "python_stacks");
	assert_true(cJSON_IsArray(field(r, "stack_samples")));
	assert_int_equal(cJSON_GetArraySize(field(r, "stack_samples")), 0);
	want_number(r, "samples", 0);
	want_string(r, "stack_unavailable", "stack sampling is off");

	/* start_ns/end_ns: exact integer digits, beyond what a double holds. */
	line = line_of(r);
	if (!strstr(line, "\"start_ns\":9007199254740993,") ||
	    !strstr(line, "\"end_ns\":18446744073709551615,"))
		fail_msg("64-bit timestamps not exact: %s", line);
	assert_non_null(strstr(line, "\"duration_ms\":302.124,"));
	assert_non_null(strstr(line, "\"event_number\":3,"));
	assert_non_null(strstr(line, "\"python_stacks\":null,"));
	free(line);
	cJSON_Delete(r);
}

/* The serialised line parses back, and the timestamps are JSON integers. */
static void test_blocking_event_parses_back(void **state)
{
	struct session_info s = launch_session();
	struct blocking_event e = sample_event();
	cJSON *r, *back;
	char *line;

	(void)state;
	e.start_ns = 593928295773ULL;
	e.end_ns = 594229492615ULL;
	r = record_blocking_event(&s, &e);
	line = line_of(r);
	back = cJSON_Parse(line);
	assert_non_null(back);
	want_number(back, "start_ns", 593928295773.0);
	want_number(back, "end_ns", 594229492615.0);
	assert_non_null(strstr(line, "\"start_ns\":593928295773,\"end_ns\":594229492615,"));
	cJSON_Delete(back);
	free(line);
	cJSON_Delete(r);
}

static void test_blocking_event_level_and_rounding(void **state)
{
	struct session_info s = launch_session();
	struct blocking_event e = sample_event();
	cJSON *r;

	(void)state;
	e.is_error = true;
	e.duration_ms = 750.0004;  /* rounds down */
	e.timestamp_s = 0;
	e.start_ns = 0;
	r = record_blocking_event(&s, &e);
	want_string(r, "level", "error");
	want_number(r, "duration_ms", 750.0);
	want_number(r, "timestamp_s", 0);
	cJSON_Delete(r);

	e.is_error = false;
	e.duration_ms = 0.0006;     /* rounds up to the microsecond */
	r = record_blocking_event(&s, &e);
	want_string(r, "level", "warning");
	want_number(r, "duration_ms", 0.001);
	cJSON_Delete(r);
}

/* ---- stats ------------------------------------------------------------------ */

static const char *const stats_names[] = {
	"schema", "schema_version", "type", "session_id", "time", "pid", "tid", "elapsed_s", "count",
	"rate", "min_ms", "avg_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms",
	NULL,
};

static void test_stats_empty(void **state)
{
	struct session_info s = attach_session();
	struct stats_snapshot snap = { .elapsed_s = 1.0004, .count = 0, .rate = 0 };
	cJSON *r = record_stats(&s, &snap);
	char *line;

	(void)state;
	assert_non_null(r);
	want_fields(r, stats_names);
	want_common(r, "stats");
	want_number(r, "pid", 5968);
	want_number(r, "tid", 5969);
	want_number(r, "elapsed_s", 1.0);
	want_number(r, "count", 0);
	want_number(r, "rate", 0);
	for (int i = COMMON_FIELDS + 5; stats_names[i]; i++) /* min_ms .. max_ms */
		want_null(r, stats_names[i]);
	line = line_of(r);
	assert_non_null(strstr(line, "\"min_ms\":null,"));
	assert_non_null(strstr(line, "\"max_ms\":null}"));
	free(line);
	cJSON_Delete(r);
}

static void test_stats_values(void **state)
{
	struct session_info s = attach_session();
	struct stats_snapshot snap = {
		.elapsed_s = 3.00049, .count = 12345, .rate = 4114.43333,
		.min_ms = 0.0123456, .avg_ms = 1.23456, .p50_ms = 0.9876,
		.p90_ms = 2.5, .p95_ms = 3.14159, .p99_ms = 10.0006, .max_ms = 250.1234,
	};
	cJSON *r = record_stats(&s, &snap);

	(void)state;
	assert_non_null(r);
	want_fields(r, stats_names);
	want_number(r, "elapsed_s", 3.0);
	want_number(r, "count", 12345);
	want_number(r, "rate", 4114.433);
	want_number(r, "min_ms", 0.012);
	want_number(r, "avg_ms", 1.235);
	want_number(r, "p50_ms", 0.988);
	want_number(r, "p90_ms", 2.5);
	want_number(r, "p95_ms", 3.142);
	want_number(r, "p99_ms", 10.001);
	want_number(r, "max_ms", 250.123);
	cJSON_Delete(r);
}

/* ---- session_summary ---------------------------------------------------------- */

static struct session_summary sample_summary(void)
{
	struct session_summary sum = {
		.duration_s = 1.6734,
		.event_count = 3,
		.error_event_count = 1,
		.total_blocked_ms = 903.3604,
		.max_blocked_ms = 301.1971,
		.lost_event_count = 2,
		.termination_reason = "target_exit",
		.status = "completed",
	};
	return sum;
}

static void test_summary(void **state)
{
	struct session_info s = launch_session();
	struct session_summary sum = sample_summary();
	cJSON *r = record_session_summary(&s, &sum, NULL);
	static const char *const names[] = {
		"schema", "schema_version", "type", "session_id", "time", "pid", "tid", "duration_s",
		"event_count", "error_event_count", "total_blocked_ms", "max_blocked_ms",
		"lost_event_count", "termination_reason", "status", "top_call_sites",
		"processes", "other_processes", "dropped_records", NULL,
	};
	const cJSON *dropped;

	(void)state;
	assert_non_null(r);
	want_fields(r, names); /* no "stats" without a distribution */
	want_common(r, "session_summary");
	want_number(r, "pid", 5968);
	want_number(r, "tid", 5969);
	want_number(r, "duration_s", 1.673);
	want_number(r, "event_count", 3);
	want_number(r, "error_event_count", 1);
	want_number(r, "total_blocked_ms", 903.36);
	want_number(r, "max_blocked_ms", 301.197);
	want_number(r, "lost_event_count", 2);
	want_string(r, "termination_reason", "target_exit");
	want_string(r, "status", "completed");
	assert_true(cJSON_IsArray(field(r, "top_call_sites")));
	assert_int_equal(cJSON_GetArraySize(field(r, "top_call_sites")), 0);
	/* No JSON output counted: an empty object. */
	dropped = field(r, "dropped_records");
	assert_true(cJSON_IsObject(dropped));
	assert_null(dropped->child);
	cJSON_Delete(r);

	/* One entry per JSON output, exact integers. */
	sum.dropped[0] = (struct dropped_records){ .output = "stdout", .count = 0 };
	sum.dropped[1] = (struct dropped_records){ .output = "log_file",
						   .count = UINT64_C(9007199254740993) };
	sum.noutputs = 2;
	r = record_session_summary(&s, &sum, NULL);
	assert_non_null(r);
	dropped = field(r, "dropped_records");
	want_fields(dropped, (const char *const[]){ "stdout", "log_file", NULL });
	{
		char *line = line_of(r);

		assert_non_null(strstr(line, "\"dropped_records\":{\"stdout\":0,\"log_file\":9007199254740993}"));
		free(line);
	}
	cJSON_Delete(r);
}

static void test_summary_with_stats(void **state)
{
	struct session_info s = attach_session();
	struct session_summary sum = sample_summary();
	struct stats_snapshot snap = { .elapsed_s = 5, .count = 0 };
	const cJSON *dist;
	cJSON *r;

	(void)state;
	sum.termination_reason = "signal";
	sum.status = "interrupted";
	r = record_session_summary(&s, &sum, &snap);
	assert_non_null(r);
	want_string(r, "termination_reason", "signal");
	want_string(r, "status", "interrupted");
	dist = field(r, "stats");
	assert_true(cJSON_IsObject(dist));
	/* The fields of a stats record, less the record header. */
	want_fields(dist, &stats_names[COMMON_FIELDS]); /* from pid */
	want_number(dist, "elapsed_s", 5);
	want_number(dist, "count", 0);
	want_null(dist, "p99_ms");
	cJSON_Delete(r);

	snap = (struct stats_snapshot){ .elapsed_s = 5, .count = 10, .rate = 2,
					.min_ms = 1, .avg_ms = 2, .p50_ms = 2,
					.p90_ms = 3, .p95_ms = 3, .p99_ms = 3, .max_ms = 4.00049 };
	r = record_session_summary(&s, &sum, &snap);
	dist = field(r, "stats");
	want_number(dist, "count", 10);
	want_number(dist, "max_ms", 4.0);
	want_number(dist, "p50_ms", 2);
	cJSON_Delete(r);
}

/* ---- record_for_log ---------------------------------------------------------- */

static void want_log_fields(const cJSON *log, const cJSON *rec, const char *level)
{
	const cJSON *dd;

	want_string(log, "timestamp", field(rec, "time")->valuestring);
	want_string(log, "level", level);
	assert_true(cJSON_IsString(field(log, "message")));
	assert_true(strlen(field(log, "message")->valuestring) > 0);
	assert_null(strchr(field(log, "message")->valuestring, '\n'));
	want_string(log, "service", "checkout");
	want_string(log, "env", "prod");
	want_string(log, "source", "blocksnoop");
	dd = field(log, "dd");
	assert_true(cJSON_IsObject(dd));
	want_fields(dd, (const char *const[]){ "service", "env", NULL });
	want_string(dd, "service", "checkout");
	want_string(dd, "env", "prod");
	/* Every field of the record is kept unchanged. */
	for (const cJSON *f = rec->child; f; f = f->next)
		if (!cJSON_Compare(f, cJSON_GetObjectItemCaseSensitive(log, f->string), true))
			fail_msg("field '%s' changed in the log record", f->string);
}

static void test_for_log_event(void **state)
{
	struct session_info s = launch_session();
	struct blocking_event e = sample_event();
	cJSON *rec, *log;
	char *line;

	(void)state;
	e.is_error = true;
	e.duration_ms = 301.2;
	rec = record_blocking_event(&s, &e);
	log = record_for_log(&s, rec);
	assert_non_null(log);
	want_log_fields(log, rec, "error"); /* the event's level is kept */
	want_string(log, "message", "Blocking call detected: 301.2ms on tid=5969");
	/* Only one "level", and the original record is left alone. */
	line = line_of(log);
	assert_null(strstr(strstr(line, "\"level\"") + 1, "\"level\""));
	assert_non_null(strstr(line, "\"start_ns\":9007199254740993,"));
	want_absent(rec, "timestamp");
	want_absent(rec, "dd");
	free(line);
	cJSON_Delete(log);
	cJSON_Delete(rec);
}

static void test_for_log_start_and_summary(void **state)
{
	struct session_info s = launch_session();
	struct session_summary sum = sample_summary();
	cJSON *rec, *log;

	(void)state;
	rec = record_session_start(&s);
	log = record_for_log(&s, rec);
	assert_non_null(log);
	want_log_fields(log, rec, "info"); /* no level of its own: info */
	want_string(log, "timestamp", "2023-11-14T22:13:20.123456Z");
	assert_non_null(strstr(field(log, "message")->valuestring, "pid=5968"));
	cJSON_Delete(log);
	cJSON_Delete(rec);

	rec = record_session_summary(&s, &sum, NULL);
	log = record_for_log(&s, rec);
	assert_non_null(log);
	want_log_fields(log, rec, "info");
	assert_non_null(strstr(field(log, "message")->valuestring, "3 blocking events"));
	cJSON_Delete(log);
	cJSON_Delete(rec);
}

/* Default --service/--env: "blocksnoop" and "" are still written. */
static void test_for_log_defaults(void **state)
{
	struct session_info s = attach_session();
	struct stats_snapshot snap = { .elapsed_s = 1, .count = 0 };
	cJSON *rec, *log;

	(void)state;
	s.service = "blocksnoop";
	s.env = "";
	rec = record_stats(&s, &snap);
	log = record_for_log(&s, rec);
	assert_non_null(log);
	want_string(log, "service", "blocksnoop");
	want_string(log, "env", "");
	want_string(field(log, "dd"), "env", "");
	want_string(log, "level", "info");
	cJSON_Delete(log);
	cJSON_Delete(rec);
}

/* ---- Python stacks in records ------------------------------------------------------ */

static struct frame inner_frames[] = {
	{ .function = "time.sleep", .file = "<built-in>", .line = 0, .source = NULL },
	{ .function = "handler", .file = "/srv/app.py", .line = 42,
	  .source = "time.sleep(0.3)" },
	{ .function = "BaseEventLoop._run_once",
	  .file = "/usr/lib/python3.11/asyncio/base_events.py", .line = 1922,
	  .source = "handle._run()" },
};
static struct frame other_frames[] = {
	{ .function = "json.loads", .file = "/usr/lib/python3.11/json/__init__.py",
	  .line = 346, .source = "return _default_decoder.decode(s)" },
};
static struct stack_count two_stacks[] = {
	{ .stack = { .depth = 3, .frames = inner_frames }, .samples = 7 },
	{ .stack = { .depth = 1, .frames = other_frames }, .samples = 2 },
};
static const struct stack_set sample_stacks = {
	.total_samples = 9, .nstacks = 2, .stacks = two_stacks,
};

static void want_frame(const cJSON *fr, const struct frame *f)
{
	assert_true(cJSON_IsObject(fr));
	want_fields(fr, (const char *const[]){ "function", "file", "line", "source", NULL });
	want_string(fr, "function", f->function);
	want_string(fr, "file", f->file);
	want_number(fr, "line", f->line);
	if (f->source)
		want_string(fr, "source", f->source);
	else
		want_null(fr, "source");
}

/* python_stacks: the distinct stacks, most sampled first, each a list of
 * frames innermost first; stack_samples: samples per stack; samples: total. */
static void test_blocking_event_with_stacks(void **state)
{
	struct session_info s = launch_session();
	struct blocking_event e = sample_event();
	const cJSON *stacks, *counts;
	cJSON *r, *back;
	char *line;

	(void)state;
	e.stacks = &sample_stacks;
	r = record_blocking_event(&s, &e);
	assert_non_null(r);
	stacks = field(r, "python_stacks");
	assert_true(cJSON_IsArray(stacks));
	assert_int_equal(cJSON_GetArraySize(stacks), 2);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(stacks, 0)), 3);
	for (int i = 0; i < 3; i++)
		want_frame(cJSON_GetArrayItem(cJSON_GetArrayItem(stacks, 0), i), &inner_frames[i]);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(stacks, 1)), 1);
	want_frame(cJSON_GetArrayItem(cJSON_GetArrayItem(stacks, 1), 0), &other_frames[0]);
	counts = field(r, "stack_samples");
	assert_int_equal(cJSON_GetArraySize(counts), 2);
	assert_int_equal(cJSON_GetArrayItem(counts, 0)->valueint, 7);
	assert_int_equal(cJSON_GetArrayItem(counts, 1)->valueint, 2);
	want_number(r, "samples", 9);

	/* Still one line, and it parses back to the same stacks. */
	line = line_of(r);
	back = cJSON_Parse(line);
	assert_non_null(back);
	assert_true(cJSON_Compare(field(back, "python_stacks"), stacks, true));
	cJSON_Delete(back);
	free(line);
	cJSON_Delete(r);
}

/* Samples were taken but none gave a stack: null stacks, the count kept. */
static void test_blocking_event_empty_stack_set(void **state)
{
	static const struct stack_set none = { .total_samples = 4, .nstacks = 0 };
	struct session_info s = launch_session();
	struct blocking_event e = sample_event();
	cJSON *r;

	(void)state;
	e.stacks = &none;
	r = record_blocking_event(&s, &e);
	assert_non_null(r);
	want_null(r, "python_stacks");
	assert_int_equal(cJSON_GetArraySize(field(r, "stack_samples")), 0);
	want_number(r, "samples", 4);
	want_string(r, "stack_unavailable", "no stack was sampled during the block");
	cJSON_Delete(r);
}

/* A sampler that says why it has no stack: the reason is the record's. */
static void test_blocking_event_stack_unavailable(void **state)
{
	struct stack_set *why = stack_set_unavailable(3, "CPython 3.16.0 is not supported");
	struct session_info s = launch_session();
	struct blocking_event e = sample_event();
	cJSON *r;

	(void)state;
	assert_non_null(why);
	e.stacks = why;
	e.sampler = SAMPLER_BUILTIN;
	r = record_blocking_event(&s, &e);
	assert_non_null(r);
	want_null(r, "python_stacks");
	want_number(r, "samples", 3);
	want_string(r, "stack_unavailable", "CPython 3.16.0 is not supported");
	want_string(r, "sampler", "builtin");
	cJSON_Delete(r);
	stack_set_free(why);
}

/* ---- the asyncio task ------------------------------------------------------------- */

static const char *const task_names[] = {
	"state", "name", "coro", "awaited_by", "awaited_by_truncated", "reason", NULL,
};

/* The event's "task" object, its keys always all there. */
static const cJSON *task_of(const cJSON *r, const char *state)
{
	const cJSON *t = field(r, "task");

	want_fields(t, task_names);
	want_string(t, "state", state);
	assert_true(cJSON_IsArray(field(t, "awaited_by")));
	return t;
}

/* A running task, awaited by two others: the chain nearest first, as the
 * stack set's most sampled stack saw it. */
static void test_task_running_chain(void **state)
{
	struct stack_count sc[] = {
		{ .stack = { .depth = 1, .frames = other_frames }, .samples = 3 },
		{ .stack = { .depth = 1, .frames = other_frames }, .samples = 1 },
	};
	struct stack_set set = { .total_samples = 4, .nstacks = 2, .stacks = sc };
	struct session_info s = launch_session();
	struct blocking_event e = sample_event();
	const cJSON *t, *by;
	cJSON *r;

	(void)state;
	sc[0].stack.task = (struct task_seen){
		.state = TASK_RUNNING, .depth = 3,
		.chain = { { "checkout-42", "handle_order" }, { "outer-7", "Server.serve" },
			   { "Task-1", "main" } },
	};
	sc[1].stack.task = (struct task_seen){
		.state = TASK_RUNNING, .depth = 1, .chain = { { "other", "other" } },
	};
	e.stacks = &set;
	e.sampler = SAMPLER_BUILTIN;
	r = record_blocking_event(&s, &e);
	assert_non_null(r);
	t = task_of(r, "running");
	want_string(t, "name", "checkout-42");
	want_string(t, "coro", "handle_order");
	want_null(t, "reason");
	assert_true(cJSON_IsFalse(field(t, "awaited_by_truncated")));
	by = field(t, "awaited_by");
	assert_int_equal(cJSON_GetArraySize(by), 2);
	want_string(cJSON_GetArrayItem(by, 0), "name", "outer-7");
	want_string(cJSON_GetArrayItem(by, 0), "coro", "Server.serve");
	want_string(cJSON_GetArrayItem(by, 1), "name", "Task-1");
	want_string(cJSON_GetArrayItem(by, 1), "coro", "main");
	cJSON_Delete(r);

	/* A chain cut short says so. */
	sc[0].stack.task.truncated = true;
	r = record_blocking_event(&s, &e);
	assert_true(cJSON_IsTrue(field(field(r, "task"), "awaited_by_truncated")));
	cJSON_Delete(r);
}

/* A bare callback, a task that could not be read, a sampler that reads no
 * tasks, no stack at all: state and reason say which. */
static void test_task_other_states(void **state)
{
	struct stack_count sc[] = { { .stack = { .depth = 1, .frames = other_frames },
				      .samples = 1 } };
	struct stack_set set = { .total_samples = 1, .nstacks = 1, .stacks = sc };
	static const struct stack_set none = { .total_samples = 4, .nstacks = 0 };
	struct session_info s = launch_session();
	struct blocking_event e = sample_event();
	struct still_blocked b = { .pid = 1, .tid = 1, .stacks = &set };
	const cJSON *t;
	cJSON *r;

	(void)state;
	e.stacks = &set;
	e.sampler = SAMPLER_BUILTIN;
	sc[0].stack.task = (struct task_seen){ .state = TASK_NONE };
	r = record_blocking_event(&s, &e);
	t = task_of(r, "no_task");
	want_null(t, "name");
	want_null(t, "coro");
	want_null(t, "reason");
	cJSON_Delete(r);

	sc[0].stack.task = (struct task_seen){ .state = TASK_UNAVAILABLE,
					       .why = "the running task could not be read" };
	r = record_blocking_event(&s, &e);
	t = task_of(r, "unavailable");
	want_null(t, "name");
	want_string(t, "reason", "the running task could not be read");
	cJSON_Delete(r);
	/* still_blocked carries it too */
	r = record_still_blocked(&s, &b);
	want_string(task_of(r, "unavailable"), "reason", "the running task could not be read");
	cJSON_Delete(r);

	sc[0].stack.task = (struct task_seen){ .state = TASK_NOT_READ };
	e.sampler = SAMPLER_AUSTIN;
	r = record_blocking_event(&s, &e);
	want_string(task_of(r, "unavailable"), "reason",
		    "the Austin sampler does not read asyncio tasks");
	cJSON_Delete(r);

	e.stacks = &none;
	r = record_blocking_event(&s, &e);
	want_string(task_of(r, "unavailable"), "reason", "no stack sample of the block");
	cJSON_Delete(r);

	e.stacks = NULL;
	e.sampler = SAMPLER_NONE;
	r = record_blocking_event(&s, &e);
	want_string(task_of(r, "unavailable"), "reason", "stack sampling is off");
	cJSON_Delete(r);
}

/* ---- still_blocked ----------------------------------------------------------------- */

static void test_still_blocked(void **state)
{
	struct session_info s = launch_session();
	struct still_blocked b = {
		.start_ns = 9007199254740995ULL, /* 2^53 + 3 */
		.now_ns = 9007202254740995ULL,
		.wall_start = { .tv_sec = 1700000002, .tv_nsec = 999999999 },
		.timestamp_s = 2.0000004,
		.blocked_ms = 3000.00049,
		.pid = 5968,
		.tid = 5970,
		.is_error = true,
		.stacks = NULL,
	};
	static const char *const names[] = {
		"schema", "schema_version", "type", "session_id", "time", "timestamp_s", "start_ns", "now_ns",
		"blocked_ms", "pid", "tid", "process_name", "level", "python_stacks", "stack_samples",
		"samples", "stack_unavailable", "task", NULL,
	};
	cJSON *r, *log;
	char *line;

	(void)state;
	r = record_still_blocked(&s, &b);
	assert_non_null(r);
	want_fields(r, names);
	want_common(r, "still_blocked");
	want_string(r, "time", "2023-11-14T22:13:22.999999Z"); /* truncated, not rounded */
	want_number(r, "timestamp_s", 2.0);
	want_number(r, "blocked_ms", 3000.0);
	want_number(r, "tid", 5970);
	want_string(r, "level", "error");
	want_null(r, "python_stacks");
	line = line_of(r);
	if (!strstr(line, "\"start_ns\":9007199254740995,\"now_ns\":9007202254740995,"))
		fail_msg("64-bit timestamps not exact: %s", line);
	free(line);

	log = record_for_log(&s, r);
	assert_non_null(log);
	want_log_fields(log, r, "error");
	want_string(log, "message", "Event loop still blocked: 3000.0ms so far on tid=5970");
	cJSON_Delete(log);
	cJSON_Delete(r);

	b.is_error = false;
	b.stacks = &sample_stacks;
	r = record_still_blocked(&s, &b);
	want_string(r, "level", "warning");
	assert_int_equal(cJSON_GetArraySize(field(r, "python_stacks")), 2);
	want_number(r, "samples", 9);
	cJSON_Delete(r);
}

/* ---- top call sites ------------------------------------------------------------------ */

/* The summary lists the first RECORD_TOP_CALL_SITES sites, in the order
 * given (the caller sorts), with their fields. */
static void test_summary_call_sites(void **state)
{
	struct session_info s = launch_session();
	struct session_summary sum = sample_summary();
	struct call_site sites[RECORD_TOP_CALL_SITES + 2];
	char names[RECORD_TOP_CALL_SITES + 2][16];
	const cJSON *list, *c;
	cJSON *r;

	(void)state;
	for (int i = 0; i < RECORD_TOP_CALL_SITES + 2; i++) {
		snprintf(names[i], sizeof(names[i]), "f%d", i);
		sites[i] = (struct call_site){
			.frame = { .function = names[i], .file = "/srv/app.py", .line = 10 + i },
			.count = 10 - i, .total_blocked_ms = 1000.00049 - i,
			.max_blocked_ms = 200.1234,
		};
	}
	sum.sites = sites;
	sum.nsites = RECORD_TOP_CALL_SITES + 2;
	r = record_session_summary(&s, &sum, NULL);
	assert_non_null(r);
	list = field(r, "top_call_sites");
	assert_int_equal(cJSON_GetArraySize(list), RECORD_TOP_CALL_SITES);
	for (int i = 0; i < RECORD_TOP_CALL_SITES; i++) {
		c = cJSON_GetArrayItem(list, i);
		want_fields(c, (const char *const[]){ "function", "file", "line", "count",
						       "total_blocked_ms", "max_blocked_ms", "class",
						       NULL });
		want_null(c, "class");
		want_string(c, "function", names[i]);
		want_string(c, "file", "/srv/app.py");
		want_number(c, "line", 10 + i);
		want_number(c, "count", 10 - i);
		want_number(c, "total_blocked_ms", 1000.0 - i);
		want_number(c, "max_blocked_ms", 200.123);
	}
	cJSON_Delete(r);

	/* A site whose events had an anatomy names its largest class. */
	sites[1].class_ms[ANATOMY_CPU] = 10;
	sites[1].class_ms[ANATOMY_LOCK] = 900;
	r = record_session_summary(&s, &sum, NULL);
	want_string(cJSON_GetArrayItem(field(r, "top_call_sites"), 1), "class", "lock");
	cJSON_Delete(r);

	/* Fewer than the limit: all of them. */
	sum.nsites = 2;
	r = record_session_summary(&s, &sum, NULL);
	assert_int_equal(cJSON_GetArraySize(field(r, "top_call_sites")), 2);
	cJSON_Delete(r);
}

/* The blocks of each process, in the order given (the caller sorts), and
 * of those without a place; not in agent mode, where a pid does not say
 * which pod. */
static void test_summary_processes(void **state)
{
	struct session_info s = launch_session();
	struct session_summary sum = sample_summary();
	const cJSON *list, *p, *other;
	cJSON *r;

	(void)state;
	sum.processes[0] = (struct process_blocks){
		.pid = 5970, .name = "gunicorn", .event_count = 2, .error_event_count = 1,
		.total_blocked_ms = 801.00049, .max_blocked_ms = 600.5,
	};
	sum.processes[1] = (struct process_blocks){
		.pid = 5968, .name = "", .event_count = 1, .total_blocked_ms = 102.36,
		.max_blocked_ms = 102.36,
	};
	sum.nprocesses = 2;
	sum.other_processes = (struct process_blocks){ .event_count = 7, .total_blocked_ms = 700 };
	r = record_session_summary(&s, &sum, NULL);
	assert_non_null(r);
	list = field(r, "processes");
	assert_int_equal(cJSON_GetArraySize(list), 2);
	p = cJSON_GetArrayItem(list, 0);
	want_fields(p, (const char *const[]){ "pid", "process_name", "event_count",
					       "error_event_count", "total_blocked_ms",
					       "max_blocked_ms", NULL });
	want_number(p, "pid", 5970);
	want_string(p, "process_name", "gunicorn");
	want_number(p, "event_count", 2);
	want_number(p, "error_event_count", 1);
	want_number(p, "total_blocked_ms", 801.0);
	want_number(p, "max_blocked_ms", 600.5);
	want_string(cJSON_GetArrayItem(list, 1), "process_name", "");
	other = field(r, "other_processes");
	want_fields(other, (const char *const[]){ "event_count", "error_event_count",
						   "total_blocked_ms", "max_blocked_ms", NULL });
	want_number(other, "event_count", 7);
	want_number(other, "total_blocked_ms", 700);
	cJSON_Delete(r);

	s.mode = "agent";
	r = record_session_summary(&s, &sum, NULL);
	assert_non_null(r);
	want_absent(r, "processes");
	want_absent(r, "other_processes");
	cJSON_Delete(r);
}

/* ---- record_to_line ------------------------------------------------------------ */

/* Strings with newlines, quotes and control characters stay on one line. */
static void test_line_escapes(void **state)
{
	static char *const nasty[] = { "sh", "-c", "echo \"a\nb\"\r\t\\", NULL };
	struct session_info s = launch_session();
	cJSON *r, *back;
	char *line;

	(void)state;
	s.command = nasty;
	r = record_session_start(&s);
	line = line_of(r);
	back = cJSON_Parse(line);
	assert_non_null(back);
	assert_string_equal(cJSON_GetArrayItem(field(back, "command"), 2)->valuestring,
			    nasty[2]);
	assert_true(cJSON_Compare(r, back, true));
	cJSON_Delete(back);
	free(line);
	cJSON_Delete(r);

	/* A record that is an empty object is still one line. */
	r = cJSON_CreateObject();
	line = record_to_line(r);
	assert_string_equal(line, "{}\n");
	free(line);
	cJSON_Delete(r);
}

/* The agent's notices carry the common fields too, schema_version included. */
static void test_agent_notices_are_versioned(void **state)
{
	struct session_info s = attach_session();
	const struct k8s_meta k = { "node-1", "shop", "checkout-1", "uid-1", "", "" };
	const struct target_meta meta = { "checkout", &k };
	cJSON *r;

	(void)state;
	s.mode = "agent";
	r = record_config_error(&s, &meta, "blocksnoop.io/threshold-ms", "abc", "not a number");
	assert_non_null(r);
	want_common(r, "config_error");
	cJSON_Delete(r);
	r = record_events_suppressed(&s, &meta, 3, 7, 10, 50);
	assert_non_null(r);
	want_common(r, "events_suppressed");
	cJSON_Delete(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_start_launch),
		cmocka_unit_test(test_session_start_attach),
		cmocka_unit_test(test_blocking_event),
		cmocka_unit_test(test_blocking_event_parses_back),
		cmocka_unit_test(test_blocking_event_level_and_rounding),
		cmocka_unit_test(test_stats_empty),
		cmocka_unit_test(test_stats_values),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_summary_with_stats),
		cmocka_unit_test(test_for_log_event),
		cmocka_unit_test(test_for_log_start_and_summary),
		cmocka_unit_test(test_for_log_defaults),
		cmocka_unit_test(test_blocking_event_with_stacks),
		cmocka_unit_test(test_blocking_event_empty_stack_set),
		cmocka_unit_test(test_blocking_event_stack_unavailable),
		cmocka_unit_test(test_task_running_chain),
		cmocka_unit_test(test_task_other_states),
		cmocka_unit_test(test_still_blocked),
		cmocka_unit_test(test_summary_call_sites),
		cmocka_unit_test(test_summary_processes),
		cmocka_unit_test(test_line_escapes),
		cmocka_unit_test(test_agent_notices_are_versioned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
