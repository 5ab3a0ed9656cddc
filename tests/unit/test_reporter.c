// SPDX-License-Identifier: Apache-2.0
/*
 * test_reporter.c - the reporter (agent/reporter.c): one record per
 * occurrence, the same one for every sink in the order they were added;
 * optional sink operations only where a sink has them; the summary's
 * dropped records collected from the sinks that count them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reporter.h"

/* A sink that writes down what it is handed. */
struct fake_sink {
	struct sink base;
	int id;
	char log[1024];            /* "start event:3 ..." */
	const cJSON *last_rec;         /* valid only during the call */
	const void *last_struct;
	char summary_dropped[128];     /* the summary record's dropped_records */
	const struct session_info *si;
	uint64_t dropped;
	int *destroyed;            /* counts destroy calls */
	int *order;                /* appends id on every event */
	int *norder;
};

static void note(struct fake_sink *f, const char *fmt, ...)
{
	size_t used = strlen(f->log);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->log + used, sizeof(f->log) - used, fmt, ap);
	va_end(ap);
}

static const char *type_of(const cJSON *rec)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, "type");

	return cJSON_IsString(t) ? t->valuestring : "?";
}

static void f_start(struct sink *s, const struct session_info *si, const cJSON *rec)
{
	struct fake_sink *f = (struct fake_sink *)s;

	f->si = si;
	f->last_rec = rec;
	note(f, "%s ", type_of(rec));
}

static void f_event(struct sink *s, const struct session_info *si,
		    const struct blocking_event *e, const cJSON *rec)
{
	struct fake_sink *f = (struct fake_sink *)s;

	f->si = si;
	f->last_rec = rec;
	f->last_struct = e;
	note(f, "%s:%llu ", type_of(rec), (unsigned long long)e->number);
	if (f->order)
		f->order[(*f->norder)++] = f->id;
}

static void f_still(struct sink *s, const struct session_info *si,
		    const struct still_blocked *b, const cJSON *rec)
{
	struct fake_sink *f = (struct fake_sink *)s;

	(void)si;
	f->last_rec = rec;
	f->last_struct = b;
	note(f, "%s ", type_of(rec));
}

static void f_stats(struct sink *s, const struct session_info *si,
		    const struct stats_snapshot *snap, const cJSON *rec)
{
	struct fake_sink *f = (struct fake_sink *)s;

	(void)si;
	f->last_rec = rec;
	f->last_struct = snap;
	note(f, "%s ", type_of(rec));
}

static void f_summary(struct sink *s, const struct session_info *si,
		      const struct session_summary *sum, const struct stats_snapshot *snap,
		      const cJSON *rec)
{
	struct fake_sink *f = (struct fake_sink *)s;

	const cJSON *dropped = cJSON_GetObjectItemCaseSensitive(rec, "dropped_records");
	char *text = dropped ? cJSON_PrintUnformatted(dropped) : NULL;

	(void)si;
	(void)snap;
	f->last_rec = rec;
	f->last_struct = sum;
	snprintf(f->summary_dropped, sizeof(f->summary_dropped), "%s", text ? text : "");
	free(text);
	note(f, "%s ", type_of(rec));
}

static void f_record(struct sink *s, const struct session_info *si, const cJSON *rec)
{
	struct fake_sink *f = (struct fake_sink *)s;

	(void)si;
	f->last_rec = rec;
	note(f, "record:%s ", type_of(rec));
}

static void f_reopen(struct sink *s)
{
	note((struct fake_sink *)s, "reopen ");
}

static void f_dropped(const struct sink *s, struct dropped_records *out)
{
	const struct fake_sink *f = (const struct fake_sink *)s;

	out->output = f->id == 1 ? "stdout" : "log_file";
	out->count = f->dropped;
}

static void f_destroy(struct sink *s)
{
	struct fake_sink *f = (struct fake_sink *)s;

	if (f->destroyed)
		(*f->destroyed)++;
	/* the test owns the memory */
}

/* A JSON output: every operation. */
static const struct sink_ops full_ops = {
	.session_start = f_start, .event = f_event, .still_blocked = f_still,
	.stats = f_stats, .summary = f_summary, .record = f_record,
	.reopen = f_reopen, .dropped = f_dropped, .destroy = f_destroy,
};

/* Like the console: no records of other types, no reopen, no dropped. */
static const struct sink_ops bare_ops = {
	.session_start = f_start, .event = f_event, .still_blocked = f_still,
	.stats = f_stats, .summary = f_summary, .destroy = f_destroy,
};

static struct session_info session(void)
{
	struct session_info si = { .mode = "attach", .pid = 7, .tid = 7, .threshold_ms = 100,
				   .error_threshold_ms = 500, .service = "svc", .env = "" };

	snprintf(si.id, sizeof(si.id), "00000000-0000-4000-8000-000000000002");
	return si;
}

/* Every occurrence reaches every sink once, as one record built for all,
 * with the typed struct beside it; sinks in the order they were added. */
static void test_fan_out(void **state)
{
	struct session_info si = session();
	struct fake_sink a = { .base.ops = &full_ops, .id = 1 };
	struct fake_sink b = { .base.ops = &bare_ops, .id = 2 };
	int order[8], norder = 0, destroyed = 0;
	struct blocking_event ev = { .number = 3, .duration_ms = 120, .pid = 7, .tid = 7 };
	struct still_blocked still = { .blocked_ms = 1500, .pid = 7, .tid = 7 };
	struct stats_snapshot snap = { .elapsed_s = 1 };
	struct session_summary sum = { .termination_reason = "signal", .status = "interrupted" };
	struct reporter r;

	(void)state;
	a.order = b.order = order;
	a.norder = b.norder = &norder;
	a.destroyed = b.destroyed = &destroyed;
	reporter_init(&r, &si);
	assert_int_equal(reporter_add_sink(&r, &a.base), 0);
	assert_int_equal(reporter_add_sink(&r, &b.base), 0);

	reporter_session_start(&r);
	assert_ptr_equal(a.si, &si);
	assert_ptr_equal(a.last_rec, b.last_rec);

	reporter_event(&r, &ev);
	assert_ptr_equal(a.last_rec, b.last_rec);
	assert_ptr_equal(a.last_struct, &ev);
	assert_ptr_equal(b.last_struct, &ev);
	assert_int_equal(norder, 2);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);

	reporter_still_blocked(&r, &still);
	assert_ptr_equal(b.last_struct, &still);
	reporter_stats(&r, &snap);
	assert_ptr_equal(b.last_struct, &snap);
	reporter_session_end(&r, &sum, NULL);
	assert_ptr_equal(a.last_struct, &sum);
	assert_ptr_equal(a.last_rec, b.last_rec);

	assert_string_equal(a.log, "session_start blocking_event:3 still_blocked stats session_summary ");
	assert_string_equal(b.log, a.log);
	/* the reporter counts nothing itself: the summary is its caller's */
	assert_int_equal(sum.event_count, 0);

	reporter_destroy(&r);
	assert_int_equal(destroyed, 2);
	summary_release(&sum);
}

/* Optional operations go only to the sinks that have them. */
static void test_optional_operations(void **state)
{
	struct session_info si = session();
	struct fake_sink a = { .base.ops = &full_ops, .id = 1 };
	struct fake_sink b = { .base.ops = &bare_ops, .id = 2 };
	cJSON *rec = cJSON_CreateObject();
	struct reporter r;

	(void)state;
	assert_non_null(rec);
	assert_non_null(cJSON_AddStringToObject(rec, "type", "config_error"));
	reporter_init(&r, &si);
	reporter_add_sink(&r, &b.base);
	reporter_add_sink(&r, &a.base);
	reporter_record(&r, rec);
	reporter_reopen(&r);
	assert_string_equal(a.log, "record:config_error reopen ");
	assert_string_equal(b.log, "");
	/* the record stays the caller's */
	assert_ptr_equal(a.last_rec, rec);
	cJSON_Delete(rec);
	reporter_destroy(&r);
}

/* The summary carries what each JSON output could not write, and its call
 * sites ranked; the console, which counts none, is not an output. */
static void test_summary_collects_dropped(void **state)
{
	struct session_info si = session();
	struct fake_sink out = { .base.ops = &full_ops, .id = 1, .dropped = 4 };
	struct fake_sink console = { .base.ops = &bare_ops, .id = 2 };
	struct fake_sink log = { .base.ops = &full_ops, .id = 3, .dropped = 0 };
	struct session_summary sum = { .termination_reason = "target_exit", .status = "completed" };
	struct reporter r;

	(void)state;
	reporter_init(&r, &si);
	reporter_add_sink(&r, &out.base);
	reporter_add_sink(&r, &console.base);
	reporter_add_sink(&r, &log.base);
	reporter_session_end(&r, &sum, NULL);
	assert_int_equal(sum.noutputs, 2);
	assert_string_equal(sum.dropped[0].output, "stdout");
	assert_int_equal(sum.dropped[0].count, 4);
	assert_string_equal(sum.dropped[1].output, "log_file");
	assert_int_equal(sum.dropped[1].count, 0);
	/* and so does the record every sink got */
	assert_string_equal(out.summary_dropped, "{\"stdout\":4,\"log_file\":0}");
	assert_string_equal(console.summary_dropped, out.summary_dropped);
	reporter_destroy(&r);
	summary_release(&sum);
}

/* A reporter holds REPORTER_MAX_SINKS; one more stays the caller's. */
static void test_sink_limit(void **state)
{
	struct session_info si = session();
	struct fake_sink sinks[REPORTER_MAX_SINKS + 1];
	int destroyed = 0;
	struct reporter r;

	(void)state;
	reporter_init(&r, &si);
	for (int i = 0; i <= REPORTER_MAX_SINKS; i++) {
		sinks[i] = (struct fake_sink){ .base.ops = &bare_ops, .id = i,
					       .destroyed = &destroyed };
		assert_int_equal(reporter_add_sink(&r, &sinks[i].base),
				 i < REPORTER_MAX_SINKS ? 0 : -ENOSPC);
	}
	reporter_destroy(&r);
	assert_int_equal(destroyed, REPORTER_MAX_SINKS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fan_out),
		cmocka_unit_test(test_optional_operations),
		cmocka_unit_test(test_summary_collects_dropped),
		cmocka_unit_test(test_sink_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
