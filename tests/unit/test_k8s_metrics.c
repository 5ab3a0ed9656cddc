// SPDX-License-Identifier: Apache-2.0
/*
 * test_k8s_metrics.c - agent/k8s/metrics.h: the Prometheus text, label
 * escaping, series lifetimes; and the config_error record.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "k8s/agent.h"
#include "k8s/metrics.h"
#include "record.h"
#include "unit_helpers.h"

static char *render(struct metrics *m)
{
	size_t len = 0;
	char *text = metrics_render(m, "1.2.3", &len);

	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

static void has_line(const char *text, const char *line)
{
	const char *p = text;
	size_t n = strlen(line);

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return;
		p++;
	}
	fail_msg("no line '%s' in:\n%s", line, text);
}

static void test_empty_registry(void **state)
{
	struct metrics *m = metrics_new();
	char *text;

	(void)state;
	assert_non_null(m);
	text = render(m);
	has_line(text, "# TYPE blocksnoop_blocking_events_total counter");
	has_line(text, "# TYPE blocksnoop_watched_processes gauge");
	has_line(text, "blocksnoop_watched_processes_all 0");
	has_line(text, "blocksnoop_lost_events_total 0");
	has_line(text, "blocksnoop_kubelet_up 0");
	has_line(text, "blocksnoop_kubelet_errors_total{reason=\"tls\"} 0");
	has_line(text, "blocksnoop_build_info{version=\"1.2.3\"} 1");
	/* Every line is a comment or "name{labels} value" / "name value". */
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		assert_true(line[0] == '#' || strchr(line, ' '));
	free(text);
	metrics_free(m);
}

static void test_series_counts(void **state)
{
	struct metrics *m = metrics_new();
	struct metrics_series *s, *t;
	char *text;

	(void)state;
	s = metrics_series(m, "shop", "checkout-1", "app");
	assert_non_null(s);
	assert_ptr_equal(metrics_series(m, "shop", "checkout-1", "app"), s);
	t = metrics_series(m, "shop", "checkout-1", "envoy");
	assert_ptr_not_equal(s, t);
	metrics_event(s, 250, false);
	metrics_event(s, 750.5, true);
	metrics_event(NULL, 1, true); /* ignored */
	metrics_still_blocked(s);
	metrics_suppressed(s);
	metrics_suppressed(s);
	metrics_suppressed(NULL); /* ignored */
	s->watched = 2;
	metrics_kubelet_poll(m, false, KUBELET_ERR_TLS, 0);
	metrics_kubelet_poll(m, false, KUBELET_ERR_TLS, 0);
	metrics_kubelet_poll(m, true, KUBELET_ERR_OTHER, 1700000000.25);
	metrics_config_error(m);
	metrics_set_lost_events(m, 7);
	metrics_set_pods(m, 3);
	text = render(m);
	has_line(text, "blocksnoop_blocking_events_total{namespace=\"shop\",pod=\"checkout-1\",container=\"app\"} 2");
	has_line(text, "blocksnoop_blocking_events_total{namespace=\"shop\",pod=\"checkout-1\",container=\"envoy\"} 0");
	has_line(text, "blocksnoop_blocking_error_events_total{namespace=\"shop\",pod=\"checkout-1\",container=\"app\"} 1");
	has_line(text, "blocksnoop_blocked_seconds_total{namespace=\"shop\",pod=\"checkout-1\",container=\"app\"} 1.000500");
	has_line(text, "blocksnoop_still_blocked_total{namespace=\"shop\",pod=\"checkout-1\",container=\"app\"} 1");
	has_line(text, "blocksnoop_suppressed_events_total{namespace=\"shop\",pod=\"checkout-1\",container=\"app\"} 2");
	has_line(text, "blocksnoop_suppressed_events_total{namespace=\"shop\",pod=\"checkout-1\",container=\"envoy\"} 0");
	has_line(text, "blocksnoop_watched_processes{namespace=\"shop\",pod=\"checkout-1\",container=\"app\"} 2");
	has_line(text, "blocksnoop_watched_processes_all 2");
	has_line(text, "blocksnoop_watched_pods 3");
	has_line(text, "blocksnoop_lost_events_total 7");
	has_line(text, "blocksnoop_config_errors_total 1");
	has_line(text, "blocksnoop_kubelet_polls_total 3");
	has_line(text, "blocksnoop_kubelet_errors_total{reason=\"tls\"} 2");
	has_line(text, "blocksnoop_kubelet_up 1");
	has_line(text, "blocksnoop_kubelet_last_success_timestamp_seconds 1700000000.250");
	free(text);
	metrics_free(m);
}

/* Each container's loop histogram: cumulative buckets at the kernel
 * histogram's boundaries, added up over the processes' reads. */
static void test_loop_histogram(void **state)
{
	struct metrics *m = metrics_new();
	struct loop_hist gaps = { 0 };
	struct metrics_series *s;
	char *text;

	(void)state;
	s = metrics_series(m, "shop", "checkout-1", "app");
	metrics_series(m, "shop", "checkout-1", "envoy");
	gaps.buckets[loop_hist_bucket(100000)] = 5;     /* 0.1 ms: below 262 us */
	gaps.buckets[loop_hist_bucket(1500000)] = 3;    /* 1.5 ms: [1.048576, 1.572864) ms */
	gaps.buckets[loop_hist_bucket(60000000000)] = 1; /* 60 s: over 17.18 s */
	gaps.sum_ns = 5 * 100000ull + 3 * 1500000ull + 60000000000ull;
	metrics_loop_gaps(s, &gaps);
	metrics_loop_gaps(s, &gaps); /* a second process of the container */
	metrics_loop_gaps(NULL, &gaps); /* ignored */
	text = render(m);
	has_line(text, "# TYPE blocksnoop_loop_gap_seconds histogram");
	has_line(text, "blocksnoop_loop_gap_seconds_bucket{namespace=\"shop\",pod=\"checkout-1\",container=\"app\",le=\"0.000262144\"} 10");
	has_line(text, "blocksnoop_loop_gap_seconds_bucket{namespace=\"shop\",pod=\"checkout-1\",container=\"app\",le=\"0.001048576\"} 10");
	has_line(text, "blocksnoop_loop_gap_seconds_bucket{namespace=\"shop\",pod=\"checkout-1\",container=\"app\",le=\"0.001572864\"} 16");
	has_line(text, "blocksnoop_loop_gap_seconds_bucket{namespace=\"shop\",pod=\"checkout-1\",container=\"app\",le=\"17.179869184\"} 16");
	has_line(text, "blocksnoop_loop_gap_seconds_bucket{namespace=\"shop\",pod=\"checkout-1\",container=\"app\",le=\"+Inf\"} 18");
	has_line(text, "blocksnoop_loop_gap_seconds_sum{namespace=\"shop\",pod=\"checkout-1\",container=\"app\"} 120.010000000");
	has_line(text, "blocksnoop_loop_gap_seconds_count{namespace=\"shop\",pod=\"checkout-1\",container=\"app\"} 18");
	has_line(text, "blocksnoop_loop_gap_seconds_count{namespace=\"shop\",pod=\"checkout-1\",container=\"envoy\"} 0");
	free(text);
	metrics_free(m);
}

/* Samplers' news, by container and sampler; only samplers a container
 * used have series (the sampler label has at most two values). */
static void test_sampler_series(void **state)
{
	struct metrics *m = metrics_new();
	struct metrics_series *s, *t;
	char *text;

	(void)state;
	s = metrics_series(m, "shop", "a", "app");
	t = metrics_series(m, "shop", "b", "app");
	metrics_sampler_used(s, SAMPLER_AUSTIN);
	metrics_sampler_used(t, SAMPLER_BUILTIN);
	metrics_sampler_used(t, SAMPLER_NONE); /* nothing to count */
	metrics_sampler_used(NULL, SAMPLER_AUSTIN);
	metrics_sampler_samples(s, SAMPLER_AUSTIN, 40);
	metrics_sampler_samples(s, SAMPLER_AUSTIN, 2);
	metrics_sampler_restart(s, SAMPLER_AUSTIN);
	metrics_sampler_failure(s, SAMPLER_AUSTIN);
	metrics_sampler_failure(s, SAMPLER_AUSTIN);
	metrics_sampler_failure(s, SAMPLER_NONE); /* ignored */
	metrics_sampler_failure(NULL, SAMPLER_AUSTIN);
	metrics_sampler_samples(t, SAMPLER_BUILTIN, 5);
	text = render(m);
	has_line(text, "# TYPE blocksnoop_sampler_failures_total counter");
	has_line(text, "blocksnoop_sampler_samples_total{namespace=\"shop\",pod=\"a\",container=\"app\",sampler=\"austin\"} 42");
	has_line(text, "blocksnoop_sampler_restarts_total{namespace=\"shop\",pod=\"a\",container=\"app\",sampler=\"austin\"} 1");
	has_line(text, "blocksnoop_sampler_failures_total{namespace=\"shop\",pod=\"a\",container=\"app\",sampler=\"austin\"} 2");
	has_line(text, "blocksnoop_sampler_samples_total{namespace=\"shop\",pod=\"b\",container=\"app\",sampler=\"builtin\"} 5");
	has_line(text, "blocksnoop_sampler_failures_total{namespace=\"shop\",pod=\"b\",container=\"app\",sampler=\"builtin\"} 0");
	assert_null(strstr(text, "pod=\"a\",container=\"app\",sampler=\"builtin\""));
	assert_null(strstr(text, "pod=\"b\",container=\"app\",sampler=\"austin\""));
	free(text);
	metrics_free(m);
}

static void test_label_escaping(void **state)
{
	struct metrics *m = metrics_new();
	char *text;

	(void)state;
	assert_non_null(metrics_series(m, "a\"b", "c\\d", "e\nf"));
	text = render(m);
	has_line(text, "blocksnoop_blocking_events_total{namespace=\"a\\\"b\",pod=\"c\\\\d\",container=\"e\\nf\"} 0");
	free(text);
	metrics_free(m);
}

static void test_sweep(void **state)
{
	struct metrics *m = metrics_new();
	struct metrics_series *a, *b, *c;
	char *text;

	(void)state;
	a = metrics_series(m, "n", "p1", "c");
	b = metrics_series(m, "n", "p2", "c");
	c = metrics_series(m, "n", "p3", "c");
	metrics_event(a, 1, false);
	c->watched = 1; /* still watching a process: kept until detached */
	metrics_sweep_begin(m);
	assert_ptr_equal(metrics_series(m, "n", "p1", "c"), a); /* still listed */
	metrics_sweep_end(m);
	(void)b;
	text = render(m);
	assert_non_null(strstr(text, "pod=\"p1\""));
	assert_null(strstr(text, "pod=\"p2\""));
	assert_non_null(strstr(text, "pod=\"p3\""));
	has_line(text, "blocksnoop_blocking_events_total{namespace=\"n\",pod=\"p1\",container=\"c\"} 1");
	free(text);
	c->watched = 0;
	metrics_sweep_begin(m);
	metrics_sweep_end(m);
	text = render(m);
	assert_null(strstr(text, "pod=\""));
	free(text);
	metrics_free(m);
	metrics_free(NULL);
}

static void test_reason_names(void **state)
{
	(void)state;
	assert_string_equal(kubelet_error_reason_name(KUBELET_ERR_CONNECT), "connect");
	assert_string_equal(kubelet_error_reason_name(KUBELET_ERR_UNAUTHORIZED), "unauthorized");
	assert_string_equal(kubelet_error_reason_name(KUBELET_ERR_COUNT), "other");
}

static void test_config_error_record(void **state)
{
	struct session_info si = { .id = "0ca0be1f-06a3-4bed-bc4c-7967f32cdd20", .service = "bs",
				   .env = "prod" };
	struct k8s_meta k = { .node = "n1", .namespace = "shop", .pod = "web-1", .pod_uid = "u-1",
			      .container = "", .container_id = "" };
	struct target_meta meta = { .service = "web", .k8s = &k };
	cJSON *r = record_config_error(&si, &meta, "blocksnoop.io/threshold-ms", "abc",
					     "'abc' is not a number; using 100"), *log, *o;
	char *line;

	(void)state;
	assert_non_null(r);
	line = record_to_line(r);
	assert_non_null(strstr(line, "\"schema\":\"blocksnoop/v1\",\"schema_version\":1,\"type\":\"config_error\""));
	assert_non_null(strstr(line, "\"annotation\":\"blocksnoop.io/threshold-ms\",\"value\":\"abc\""));
	assert_non_null(strstr(line, "\"service\":\"web\""));
	assert_non_null(strstr(line, "\"k8s\":{\"node\":\"n1\",\"namespace\":\"shop\",\"pod\":\"web-1\","
				     "\"pod_uid\":\"u-1\",\"container\":\"\",\"container_id\":\"\"}"));
	free(line);
	/* The log file's form: the pod's service, the message. */
	log = record_for_log(&si, r);
	assert_non_null(log);
	o = cJSON_GetObjectItemCaseSensitive(log, "service");
	assert_string_equal(o->valuestring, "web");
	o = cJSON_GetObjectItemCaseSensitive(log, "message");
	assert_non_null(strstr(o->valuestring, "blocksnoop.io/threshold-ms"));
	o = cJSON_GetObjectItemCaseSensitive(log, "level");
	assert_string_equal(o->valuestring, "warning");
	cJSON_Delete(log);
	cJSON_Delete(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_registry),
		cmocka_unit_test(test_series_counts),
		cmocka_unit_test(test_loop_histogram),
		cmocka_unit_test(test_sampler_series),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_config_error_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
