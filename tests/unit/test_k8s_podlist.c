// SPDX-License-Identifier: Apache-2.0
/*
 * test_k8s_podlist.c - agent/k8s/podlist.h: the kubelet's PodList and the
 * blocksnoop.io/ annotations (opt-in, containers, thresholds, service and
 * its defaults, config errors).
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

#include "k8s/podlist.h"
#include "unit_helpers.h"

#define ID_APP "1ec23be717c039a8fedd423967f1680f7c6737c2e9ec7eb92f81c8c4a6b2e71c"
#define ID_ENVOY "0f323fd3d4fe57f7f99e10cec94658680a2bd0c63c9ab0556f3f38a742cff9b9"
#define ID_OLD "cbea7b81bb226cd8e9ecbdbd36a65e579bb4bdcf3833eb1f6752a5ad34d1e571"

static const struct k8s_pod_defaults defaults = { .threshold_ms = 100, .error_threshold_ms = 500 };

/* docs/kubernetes.md's example, shaped like a kubelet's answer. */
static const char example[] =
"{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":[\n"
" {\"metadata\":{\"name\":\"checkout-7d9c6b5f4-x2x8q\",\"namespace\":\"shop\",\"uid\":\"bb1a5f38-b1a9-47c2-8c69-cd16f1d4c0cb\",\n"
"   \"labels\":{\"app\":\"checkout\",\"pod-template-hash\":\"7d9c6b5f4\"},\n"
"   \"annotations\":{\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/containers\":\"app\",\n"
"                  \"kubernetes.io/config.source\":\"api\",\"kubernetes.io/config.seen\":\"2026-05-01T10:00:00.000000000Z\"},\n"
"   \"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"checkout-7d9c6b5f4\",\"uid\":\"9a0b\",\"controller\":true}]},\n"
"  \"spec\":{\"nodeName\":\"worker-1\",\"containers\":[{\"name\":\"app\",\"image\":\"registry.example.com/checkout:1.4.2\"},\n"
"                                              {\"name\":\"envoy\",\"image\":\"envoyproxy/envoy:v1.31.0\"}]},\n"
"  \"status\":{\"phase\":\"Running\",\"hostIP\":\"10.0.1.17\",\"podIP\":\"10.244.3.21\",\"qosClass\":\"Burstable\",\n"
"   \"containerStatuses\":[\n"
"    {\"name\":\"app\",\"ready\":true,\"restartCount\":0,\"image\":\"registry.example.com/checkout:1.4.2\",\n"
"     \"imageID\":\"registry.example.com/checkout@sha256:4f\",\"started\":true,\n"
"     \"containerID\":\"containerd://" ID_APP "\",\n"
"     \"state\":{\"running\":{\"startedAt\":\"2026-05-01T10:00:03Z\"}}},\n"
"    {\"name\":\"envoy\",\"ready\":true,\"restartCount\":1,\"image\":\"docker.io/envoyproxy/envoy:v1.31.0\",\n"
"     \"imageID\":\"docker.io/envoyproxy/envoy@sha256:9c\",\n"
"     \"containerID\":\"containerd://" ID_ENVOY "\",\n"
"     \"state\":{\"running\":{\"startedAt\":\"2026-05-01T10:02:11Z\"}},\n"
"     \"lastState\":{\"terminated\":{\"exitCode\":137,\"reason\":\"OOMKilled\",\n"
"       \"containerID\":\"containerd://" ID_OLD "\"}}}]}},\n"
" {\"metadata\":{\"name\":\"kube-apiserver-worker-1\",\"namespace\":\"kube-system\",\"uid\":\"37c43b496293ade13daedf3eee6ea190\",\n"
"   \"annotations\":{\"kubernetes.io/config.hash\":\"37c43b496293ade13daedf3eee6ea190\",\"kubernetes.io/config.source\":\"file\"}},\n"
"  \"spec\":{\"nodeName\":\"worker-1\",\"containers\":[{\"name\":\"kube-apiserver\",\"image\":\"registry.k8s.io/kube-apiserver:v1.33.1\"}]},\n"
"  \"status\":{\"phase\":\"Pending\"}}]}\n";

static struct k8s_podlist *parse_ok(const char *json)
{
	struct k8s_podlist *list = NULL;
	char err[256];
	int ret = k8s_podlist_parse(json, strlen(json), &defaults, &list, err, sizeof(err));

	if (ret)
		fail_msg("parse failed (%d): %s", ret, err);
	assert_non_null(list);
	return list;
}

static void parse_fails(const char *json, const char *want)
{
	struct k8s_podlist *list = (struct k8s_podlist *)1;
	char err[256];

	assert_int_equal(k8s_podlist_parse(json, strlen(json), &defaults, &list, err, sizeof(err)),
			 -EINVAL);
	assert_null(list);
	if (!strstr(err, want))
		fail_msg("error '%s' does not say '%s'", err, want);
}

static const struct k8s_container *container(const struct k8s_pod *p, const char *name)
{
	for (size_t i = 0; i < p->ncontainers; i++)
		if (!strcmp(p->containers[i].name, name))
			return &p->containers[i];
	fail_msg("no container %s", name);
	return NULL;
}

/* A pod with annotations (a JSON object's members) and containers app and
 * worker (running) and an init container. */
static char *one_pod(const char *annotations, const char *labels, const char *owners)
{
	char *json;

	if (asprintf(&json,
		     "{\"kind\":\"PodList\",\"items\":[{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"ns\","
		     "\"uid\":\"u-1\",\"labels\":{%s},\"annotations\":{%s},\"ownerReferences\":[%s]},"
		     "\"spec\":{\"initContainers\":[{\"name\":\"migrate\"}],"
		     "\"containers\":[{\"name\":\"app\"},{\"name\":\"worker\"}]},"
		     "\"status\":{\"phase\":\"Running\","
		     "\"initContainerStatuses\":[{\"name\":\"migrate\",\"containerID\":\"containerd://" ID_OLD "\"}],"
		     "\"containerStatuses\":[{\"name\":\"app\",\"containerID\":\"containerd://" ID_APP "\"},"
		     "{\"name\":\"worker\",\"containerID\":\"cri-o://" ID_ENVOY "\"}]}}]}",
		     labels, annotations, owners) < 0)
		fail();
	return json;
}

static struct k8s_podlist *parse_pod(const char *annotations, const char *labels,
				     const char *owners)
{
	char *json = one_pod(annotations, labels, owners);
	struct k8s_podlist *list = parse_ok(json);

	free(json);
	assert_int_equal(list->npods, 1);
	return list;
}

static void expect_error(const struct k8s_pod *p, const char *annotation, const char *value,
			 const char *says)
{
	for (size_t i = 0; i < p->nerrors; i++) {
		if (strcmp(p->errors[i].annotation, annotation))
			continue;
		assert_string_equal(p->errors[i].value, value);
		if (!strstr(p->errors[i].message, says))
			fail_msg("message '%s' does not say '%s'", p->errors[i].message, says);
		return;
	}
	fail_msg("no config error for %s", annotation);
}

/* ---- the document --------------------------------------------------------- */

static void test_example_podlist(void **state)
{
	struct k8s_podlist *list = parse_ok(example);
	const struct k8s_pod *p, *s;
	const struct k8s_container *app, *envoy;

	(void)state;
	assert_int_equal(list->npods, 2);
	assert_int_equal(list->skipped, 0);
	p = k8s_podlist_find(list, "bb1a5f38-b1a9-47c2-8c69-cd16f1d4c0cb");
	assert_non_null(p);
	assert_string_equal(p->name, "checkout-7d9c6b5f4-x2x8q");
	assert_string_equal(p->namespace, "shop");
	assert_string_equal(p->node, "worker-1");
	assert_string_equal(p->phase, "Running");
	assert_true(p->enabled);
	assert_string_equal(p->service, "checkout");
	assert_int_equal(p->nerrors, 0);
	assert_near(p->threshold_ms, 100, 0);
	assert_near(p->error_threshold_ms, 500, 0);
	assert_int_equal(p->ncontainers, 2);
	app = container(p, "app");
	envoy = container(p, "envoy");
	assert_string_equal(app->id, ID_APP);
	assert_string_equal(app->runtime, "containerd");
	assert_true(app->selected);
	assert_string_equal(envoy->id, ID_ENVOY); /* the current ID, not lastState's */
	assert_false(envoy->selected);

	s = k8s_podlist_find(list, "37c43b496293ade13daedf3eee6ea190");
	assert_non_null(s);
	assert_false(s->enabled);
	assert_null(s->service);
	assert_string_equal(s->phase, "Pending");
	assert_int_equal(s->ncontainers, 1);
	assert_null(s->containers[0].id);
	assert_null(k8s_podlist_find(list, "nope"));
	k8s_podlist_free(list);
}

static void test_kind_list_and_empty_items(void **state)
{
	struct k8s_podlist *list;

	(void)state;
	list = parse_ok("{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":[]}");
	assert_int_equal(list->npods, 0);
	k8s_podlist_free(list);
	list = parse_ok("{\"items\":null}");
	assert_int_equal(list->npods, 0);
	k8s_podlist_free(list);
	/* No kind at all: items is what counts. */
	list = parse_ok("{\"items\":[{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"uid\":\"c\"}}]}");
	assert_int_equal(list->npods, 1);
	assert_false(list->pods[0].enabled);
	k8s_podlist_free(list);
}

static void test_not_a_podlist(void **state)
{
	(void)state;
	parse_fails("", "not JSON");
	parse_fails("{\"kind\":\"PodList\",\"items\":[", "not JSON");
	parse_fails("<html>502 Bad Gateway</html>", "not JSON");
	parse_fails("[1,2]", "not a JSON object");
	parse_fails("{\"kind\":\"Status\",\"status\":\"Failure\",\"code\":403}", "Status, not a PodList");
	parse_fails("{\"kind\":7,\"items\":[]}", "not a PodList");
	parse_fails("{\"kind\":\"PodList\"}", "no \"items\"");
	parse_fails("{\"kind\":\"PodList\",\"items\":{}}", "no \"items\"");
}

static void test_items_that_are_not_pods_are_skipped(void **state)
{
	struct k8s_podlist *list;

	(void)state;
	list = parse_ok("{\"kind\":\"PodList\",\"items\":[null,7,\"x\",{},"
			"{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"}},"
			"{\"metadata\":{\"name\":\"a\",\"namespace\":\"\",\"uid\":\"u\"}},"
			"{\"metadata\":{\"name\":1,\"namespace\":\"b\",\"uid\":\"u\"}},"
			"{\"metadata\":{\"name\":\"ok\",\"namespace\":\"b\",\"uid\":\"u\",\"labels\":[1],"
			"\"annotations\":\"x\"},\"spec\":{\"containers\":[{},{\"name\":5},{\"name\":\"c\"}]},"
			"\"status\":{\"containerStatuses\":[{\"name\":\"c\",\"containerID\":7}]}}]}");
	assert_int_equal(list->npods, 1);
	assert_int_equal(list->skipped, 7);
	assert_string_equal(list->pods[0].name, "ok");
	assert_int_equal(list->pods[0].ncontainers, 1);
	assert_null(list->pods[0].containers[0].id);
	k8s_podlist_free(list);
}

/* ---- containers ------------------------------------------------------------- */

static void test_default_selects_app_containers_not_init(void **state)
{
	struct k8s_podlist *list = parse_pod("\"blocksnoop.io/enabled\":\"true\"", "", "");
	const struct k8s_pod *p = &list->pods[0];

	(void)state;
	assert_int_equal(p->ncontainers, 3);
	assert_true(container(p, "app")->selected);
	assert_true(container(p, "worker")->selected);
	assert_false(container(p, "migrate")->selected);
	assert_true(container(p, "migrate")->init);
	assert_string_equal(container(p, "worker")->runtime, "cri-o");
	assert_string_equal(container(p, "worker")->id, ID_ENVOY);
	assert_int_equal(p->nerrors, 0);
	k8s_podlist_free(list);
}

static void test_containers_annotation(void **state)
{
	struct k8s_podlist *list;
	const struct k8s_pod *p;

	(void)state;
	/* Spaces and empty items are fine; init containers can be named. */
	list = parse_pod("\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/containers\":\" worker, ,migrate \"",
			 "", "");
	p = &list->pods[0];
	assert_false(container(p, "app")->selected);
	assert_true(container(p, "worker")->selected);
	assert_true(container(p, "migrate")->selected);
	assert_int_equal(p->nerrors, 0);
	k8s_podlist_free(list);

	/* An unknown name: an error, the known ones still apply. */
	list = parse_pod("\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/containers\":\"wrker,app\"",
			 "", "");
	p = &list->pods[0];
	assert_true(container(p, "app")->selected);
	assert_false(container(p, "worker")->selected);
	assert_int_equal(p->nerrors, 1);
	expect_error(p, "blocksnoop.io/containers", "wrker,app", "no container named wrker");
	k8s_podlist_free(list);

	/* Nothing usable: the default (every app container). */
	list = parse_pod("\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/containers\":\"nope\"", "", "");
	p = &list->pods[0];
	assert_true(container(p, "app")->selected);
	assert_true(container(p, "worker")->selected);
	assert_false(container(p, "migrate")->selected);
	expect_error(p, "blocksnoop.io/containers", "nope", "watching every app container");
	k8s_podlist_free(list);

	list = parse_pod("\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/containers\":\" , \"", "", "");
	expect_error(&list->pods[0], "blocksnoop.io/containers", " , ", "names no container");
	assert_true(container(&list->pods[0], "app")->selected);
	k8s_podlist_free(list);

	list = parse_pod("\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/containers\":[\"app\"]", "", "");
	expect_error(&list->pods[0], "blocksnoop.io/containers", "", "not a string");
	assert_true(container(&list->pods[0], "worker")->selected);
	k8s_podlist_free(list);
}

/* ---- enabled ------------------------------------------------------------------ */

static void test_enabled_values(void **state)
{
	struct k8s_podlist *list;

	(void)state;
	list = parse_pod("\"blocksnoop.io/enabled\":\"TRUE\"", "", "");
	assert_true(list->pods[0].enabled);
	k8s_podlist_free(list);

	list = parse_pod("\"blocksnoop.io/enabled\":\"false\",\"blocksnoop.io/threshold-ms\":\"x\"", "", "");
	assert_false(list->pods[0].enabled);
	assert_int_equal(list->pods[0].nerrors, 0); /* not opted in: nothing else looked at */
	k8s_podlist_free(list);

	list = parse_pod("\"blocksnoop.io/enabled\":\"yes\"", "", "");
	assert_false(list->pods[0].enabled);
	expect_error(&list->pods[0], "blocksnoop.io/enabled", "yes", "not watched");
	k8s_podlist_free(list);

	list = parse_pod("\"blocksnoop.io/enabled\":true", "", "");
	assert_false(list->pods[0].enabled);
	expect_error(&list->pods[0], "blocksnoop.io/enabled", "", "not a string");
	k8s_podlist_free(list);

	/* Other prefixes do not opt in. */
	list = parse_pod("\"profiler.example.com/enabled\":\"true\"", "", "");
	assert_false(list->pods[0].enabled);
	k8s_podlist_free(list);
}

/* ---- thresholds --------------------------------------------------------------- */

static void test_thresholds(void **state)
{
	struct k8s_podlist *list;
	const struct k8s_pod *p;

	(void)state;
	list = parse_pod("\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/threshold-ms\":\"250\","
			 "\"blocksnoop.io/error-threshold-ms\":\" 1000.5 \"", "", "");
	p = &list->pods[0];
	assert_near(p->threshold_ms, 250, 0);
	assert_near(p->error_threshold_ms, 1000.5, 1e-9);
	assert_int_equal(p->nerrors, 0);
	k8s_podlist_free(list);

	list = parse_pod("\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/threshold-ms\":\"abc\","
			 "\"blocksnoop.io/error-threshold-ms\":\"-5\"", "", "");
	p = &list->pods[0];
	assert_near(p->threshold_ms, 100, 0);
	assert_near(p->error_threshold_ms, 500, 0);
	assert_int_equal(p->nerrors, 2);
	expect_error(p, "blocksnoop.io/threshold-ms", "abc", "using 100");
	expect_error(p, "blocksnoop.io/error-threshold-ms", "-5", "using 500");
	k8s_podlist_free(list);

	/* 0 is no threshold; the error threshold may be 0. */
	list = parse_pod("\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/threshold-ms\":\"0\","
			 "\"blocksnoop.io/error-threshold-ms\":\"0\"", "", "");
	p = &list->pods[0];
	assert_near(p->threshold_ms, 100, 0);
	assert_near(p->error_threshold_ms, 0, 0);
	assert_int_equal(p->nerrors, 1);
	k8s_podlist_free(list);
}

static void test_parse_ms(void **state)
{
	static const char *const bad[] = {
		"", " ", "abc", "1e3", "-1", "+5", "0x10", "inf", "nan", "1.2.3", ".", "5ms",
		"3600001", "99999999999999999999999",
	};
	double ms;

	(void)state;
	assert_int_equal(k8s_parse_ms("250", 0, true, &ms), 0);
	assert_near(ms, 250, 0);
	assert_int_equal(k8s_parse_ms("0.5", 0, true, &ms), 0);
	assert_near(ms, 0.5, 0);
	assert_int_equal(k8s_parse_ms("3600000", 0, true, &ms), 0);
	assert_int_equal(k8s_parse_ms(".5", 0, true, &ms), 0);
	assert_int_equal(k8s_parse_ms("0", 0, false, &ms), 0);
	assert_int_equal(k8s_parse_ms("0", 0, true, &ms), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (k8s_parse_ms(bad[i], 0, false, &ms) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
}

/* ---- service ------------------------------------------------------------------- */

static void test_service_chain(void **state)
{
	static const char *const rs =
		"{\"kind\":\"ReplicaSet\",\"name\":\"web-5f9c8\",\"controller\":true}";
	struct k8s_podlist *list;

	(void)state;
	list = parse_pod("\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/service\":\"billing\"",
			 "\"app.kubernetes.io/name\":\"web\",\"app\":\"w\"", rs);
	assert_string_equal(list->pods[0].service, "billing");
	k8s_podlist_free(list);

	list = parse_pod("\"blocksnoop.io/enabled\":\"true\"",
			 "\"app.kubernetes.io/name\":\"web\",\"app\":\"w\"", rs);
	assert_string_equal(list->pods[0].service, "web");
	k8s_podlist_free(list);

	list = parse_pod("\"blocksnoop.io/enabled\":\"true\"", "\"app\":\"w\"", rs);
	assert_string_equal(list->pods[0].service, "w");
	k8s_podlist_free(list);

	/* A ReplicaSet's pod-template-hash is dropped: the Deployment's name. */
	list = parse_pod("\"blocksnoop.io/enabled\":\"true\"", "\"pod-template-hash\":\"5f9c8\"", rs);
	assert_string_equal(list->pods[0].service, "web");
	k8s_podlist_free(list);

	/* Without the hash label the ReplicaSet's own name. */
	list = parse_pod("\"blocksnoop.io/enabled\":\"true\"", "", rs);
	assert_string_equal(list->pods[0].service, "web-5f9c8");
	k8s_podlist_free(list);

	/* The controller wins over an earlier non-controller owner. */
	list = parse_pod("\"blocksnoop.io/enabled\":\"true\"", "",
			 "{\"kind\":\"Node\",\"name\":\"n\"},{\"kind\":\"StatefulSet\",\"name\":\"db\",\"controller\":true}");
	assert_string_equal(list->pods[0].service, "db");
	k8s_podlist_free(list);

	list = parse_pod("\"blocksnoop.io/enabled\":\"true\"", "", "{\"kind\":\"Job\",\"name\":\"batch\"}");
	assert_string_equal(list->pods[0].service, "batch");
	k8s_podlist_free(list);

	/* Nothing: NULL (the agent's --service applies). */
	list = parse_pod("\"blocksnoop.io/enabled\":\"true\"", "\"app\":\"\"", "{\"name\":\"\"}");
	assert_null(list->pods[0].service);
	k8s_podlist_free(list);

	/* A bad annotation: error, default used. */
	list = parse_pod("\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/service\":\"  \"",
			 "\"app\":\"w\"", "");
	assert_string_equal(list->pods[0].service, "w");
	expect_error(&list->pods[0], "blocksnoop.io/service", "  ", "using w");
	k8s_podlist_free(list);
}

static void test_unknown_annotation(void **state)
{
	struct k8s_podlist *list;

	(void)state;
	list = parse_pod("\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/treshold-ms\":\"5\","
			 "\"other.io/x\":\"y\"", "", "");
	assert_int_equal(list->pods[0].nerrors, 1);
	expect_error(&list->pods[0], "blocksnoop.io/treshold-ms", "5", "unknown annotation");
	assert_near(list->pods[0].threshold_ms, 100, 0);
	k8s_podlist_free(list);
}

static void test_container_ids(void **state)
{
	struct k8s_podlist *list;
	const struct k8s_pod *p;

	(void)state;
	list = parse_ok("{\"items\":[{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"uid\":\"c\","
			"\"annotations\":{\"blocksnoop.io/enabled\":\"true\"}},"
			"\"spec\":{\"containers\":[{\"name\":\"d\"},{\"name\":\"w\"},{\"name\":\"x\"},{\"name\":\"e\"}]},"
			"\"status\":{\"containerStatuses\":["
			"{\"name\":\"d\",\"containerID\":\"docker://" "ABCDEF" "\"},"
			"{\"name\":\"w\",\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}},"
			"{\"name\":\"x\",\"containerID\":\"\"},"
			"{\"name\":\"e\",\"containerID\":\"containerd://\"}]}}]}");
	p = &list->pods[0];
	assert_string_equal(container(p, "d")->runtime, "docker");
	assert_string_equal(container(p, "d")->id, "abcdef");
	assert_null(container(p, "w")->id);
	assert_null(container(p, "x")->id);
	assert_null(container(p, "e")->id);
	k8s_podlist_free(list);
}

/* ---- what a hostile pod can put in its annotations ------------------------------- */

/* No byte of s is outside printable ASCII. */
static void assert_printable(const char *s)
{
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			fail_msg("byte 0x%02x at %zu of '%s'", (unsigned char)*c, (size_t)(c - s), s);
}

static struct k8s_podlist *parse_pod_with(const struct k8s_pod_defaults *d, const char *annotations)
{
	struct k8s_podlist *list = NULL;
	char *json = one_pod(annotations, "", ""), err[256];

	if (k8s_podlist_parse(json, strlen(json), d, &list, err, sizeof(err)))
		fail_msg("parse failed: %s", err);
	free(json);
	assert_int_equal(list->npods, 1);
	return list;
}

static void test_threshold_floor(void **state)
{
	static const struct k8s_pod_defaults floored = {
		.threshold_ms = 100, .error_threshold_ms = 500, .min_threshold_ms = 10,
	};
	struct k8s_podlist *list;
	const struct k8s_pod *p;

	(void)state;
	/* Below the agent's floor: raised to it, and said. */
	list = parse_pod_with(&floored, "\"blocksnoop.io/enabled\":\"true\","
			      "\"blocksnoop.io/threshold-ms\":\"0.000001\"");
	p = &list->pods[0];
	assert_near(p->threshold_ms, 10, 0);
	assert_int_equal(p->nerrors, 1);
	expect_error(p, "blocksnoop.io/threshold-ms", "0.000001",
		     "'0.000001' is below the agent's minimum of 10 ms (--min-threshold); using 10");
	k8s_podlist_free(list);

	/* At or above it: as asked. The error threshold has no floor. */
	list = parse_pod_with(&floored, "\"blocksnoop.io/enabled\":\"true\","
			      "\"blocksnoop.io/threshold-ms\":\"10\",\"blocksnoop.io/error-threshold-ms\":\"0\"");
	p = &list->pods[0];
	assert_near(p->threshold_ms, 10, 0);
	assert_near(p->error_threshold_ms, 0, 0);
	assert_int_equal(p->nerrors, 0);
	k8s_podlist_free(list);
}

static void test_sampler_annotation(void **state)
{
	static const struct k8s_pod_defaults both = {
		.threshold_ms = 100, .error_threshold_ms = 500, .sampler = SAMPLER_BUILTIN,
		.runs = { [SAMPLER_BUILTIN] = true, [SAMPLER_AUSTIN] = true },
	};
	static const struct k8s_pod_defaults no_austin = {
		.threshold_ms = 100, .error_threshold_ms = 500, .sampler = SAMPLER_BUILTIN,
		.runs = { [SAMPLER_BUILTIN] = true },
	};
	static const struct k8s_pod_defaults austin_only = {
		.threshold_ms = 100, .error_threshold_ms = 500, .sampler = SAMPLER_AUSTIN,
		.runs = { [SAMPLER_AUSTIN] = true },
	};
	struct k8s_podlist *list;
	const struct k8s_pod *p;

	(void)state;
	/* No annotation: the agent's default. */
	list = parse_pod_with(&austin_only, "\"blocksnoop.io/enabled\":\"true\"");
	assert_int_equal(list->pods[0].sampler, SAMPLER_AUSTIN);
	assert_int_equal(list->pods[0].nerrors, 0);
	k8s_podlist_free(list);

	/* Each of the three, when the agent runs it. */
	list = parse_pod_with(&both, "\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/sampler\":\"austin\"");
	assert_int_equal(list->pods[0].sampler, SAMPLER_AUSTIN);
	assert_int_equal(list->pods[0].nerrors, 0);
	k8s_podlist_free(list);
	list = parse_pod_with(&austin_only, "\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/sampler\":\"none\"");
	assert_int_equal(list->pods[0].sampler, SAMPLER_NONE);
	assert_int_equal(list->pods[0].nerrors, 0);
	k8s_podlist_free(list);

	/* One the agent does not run: the default, and said. */
	list = parse_pod_with(&no_austin, "\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/sampler\":\"austin\"");
	p = &list->pods[0];
	assert_int_equal(p->sampler, SAMPLER_BUILTIN);
	assert_int_equal(p->nerrors, 1);
	expect_error(p, "blocksnoop.io/sampler", "austin",
		     "this agent does not run the austin sampler (it would with --sampler austin, or make Austin available with --austin or --austin-root); using the agent's default (builtin)");
	k8s_podlist_free(list);
	list = parse_pod_with(&austin_only, "\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/sampler\":\"builtin\"");
	assert_int_equal(list->pods[0].sampler, SAMPLER_AUSTIN);
	expect_error(&list->pods[0], "blocksnoop.io/sampler", "builtin",
		     "does not run the builtin sampler");
	k8s_podlist_free(list);

	/* Junk, and a value that is not a string: the default, shown printable. */
	list = parse_pod_with(&both, "\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/sampler\":\"Austin\\u001b[2J\"");
	p = &list->pods[0];
	assert_int_equal(p->sampler, SAMPLER_BUILTIN);
	expect_error(p, "blocksnoop.io/sampler", "Austin\033[2J",
		     "'Austin\\x1b[2J' is not builtin, austin or none; using the agent's default (builtin)");
	assert_printable(p->errors[0].message);
	k8s_podlist_free(list);
	list = parse_pod_with(&both, "\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/sampler\":[\"austin\"]");
	assert_int_equal(list->pods[0].sampler, SAMPLER_BUILTIN);
	expect_error(&list->pods[0], "blocksnoop.io/sampler", "", "(not a string)");
	k8s_podlist_free(list);
}

static void test_threshold_junk(void **state)
{
	static const char *const junk[] = {
		"1e300", "0x10", "inf", "-inf", "NaN", "-5", "+5", "1,5", "1e-9", "99999999999999999999",
		"0", " ", "\u0661\u0662", "5\\u001b[2J",
	};
	struct k8s_podlist *list;
	char annotations[256];

	(void)state;
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		const struct k8s_pod *p;

		snprintf(annotations, sizeof(annotations),
			 "\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/threshold-ms\":\"%s\"", junk[i]);
		list = parse_pod(annotations, "", "");
		p = &list->pods[0];
		assert_near(p->threshold_ms, 100, 0);
		assert_int_equal(p->nerrors, 1);
		assert_printable(p->errors[0].message);
		if (!strstr(p->errors[0].message, "using 100"))
			fail_msg("'%s': %s", junk[i], p->errors[0].message);
		k8s_podlist_free(list);
	}
	/* The terminal escape is shown, not sent. */
	list = parse_pod("\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/threshold-ms\":\"5\\u001b[2J\"",
			 "", "");
	expect_error(&list->pods[0], "blocksnoop.io/threshold-ms", "5\033[2J", "'5\\x1b[2J' is not a number");
	k8s_podlist_free(list);
}

static char *repeat(const char *s, size_t times, const char *sep)
{
	size_t len = strlen(s), slen = strlen(sep);
	char *out = malloc(times * (len + slen) + 1), *at = out;

	assert_non_null(out);
	for (size_t i = 0; i < times; i++) {
		memcpy(at, s, len);
		at += len;
		if (i + 1 < times) {
			memcpy(at, sep, slen);
			at += slen;
		}
	}
	*at = '\0';
	return out;
}

static void test_service_bounds(void **state)
{
	char *longest = repeat("s", K8S_MAX_SERVICE_LEN, ""), *too_long = repeat("s", K8S_MAX_SERVICE_LEN + 1, "");
	char annotations[512];
	struct k8s_podlist *list;
	const struct k8s_pod *p;

	(void)state;
	snprintf(annotations, sizeof(annotations),
		 "\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/service\":\"%s\"", longest);
	list = parse_pod(annotations, "\"app\":\"w\"", "");
	assert_string_equal(list->pods[0].service, longest);
	assert_int_equal(list->pods[0].nerrors, 0);
	k8s_podlist_free(list);

	snprintf(annotations, sizeof(annotations),
		 "\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/service\":\"%s\"", too_long);
	list = parse_pod(annotations, "\"app\":\"w\"", "");
	assert_string_equal(list->pods[0].service, "w");
	expect_error(&list->pods[0], "blocksnoop.io/service", too_long,
		     "not a service name (1 to 100 printable ASCII characters); using w");
	k8s_podlist_free(list);

	/* Control characters (a terminal escape, a new line for a log line):
	 * not a service name. */
	list = parse_pod("\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/service\":\"pay\\u001b[31m\\nments\"",
			 "\"app\":\"w\"", "");
	p = &list->pods[0];
	assert_string_equal(p->service, "w");
	expect_error(p, "blocksnoop.io/service", "pay\033[31m\nments", "not a service name");
	assert_printable(p->errors[0].message);
	k8s_podlist_free(list);

	/* A label that cannot be a service name is passed over. */
	list = parse_pod("\"blocksnoop.io/enabled\":\"true\"",
			 "\"app.kubernetes.io/name\":\"x\\u0007\",\"app\":\"w\"", "");
	assert_string_equal(list->pods[0].service, "w");
	k8s_podlist_free(list);
	list = parse_pod("\"blocksnoop.io/enabled\":\"true\"", "\"app\":\"\\u009b2J\"",
			 "{\"kind\":\"Job\",\"name\":\"batch\"}");
	assert_string_equal(list->pods[0].service, "batch");
	k8s_podlist_free(list);
	free(longest);
	free(too_long);
}

static void test_containers_bounds(void **state)
{
	char *names, *annotations;
	struct k8s_podlist *list;
	const struct k8s_pod *p;

	(void)state;
	/* As many names as a pod may have: fine. */
	names = repeat("app", K8S_MAX_CONTAINER_NAMES, ",");
	assert_true(asprintf(&annotations, "\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/containers\":\"%s\"",
			     names) > 0);
	list = parse_pod(annotations, "", "");
	p = &list->pods[0];
	assert_int_equal(p->nerrors, 0);
	assert_true(container(p, "app")->selected);
	assert_false(container(p, "worker")->selected);
	k8s_podlist_free(list);
	free(names);
	free(annotations);

	/* One more: refused whole, the default applies. */
	names = repeat("app", K8S_MAX_CONTAINER_NAMES + 1, ",");
	assert_true(asprintf(&annotations, "\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/containers\":\"%s\"",
			     names) > 0);
	list = parse_pod(annotations, "", "");
	p = &list->pods[0];
	assert_int_equal(p->nerrors, 1);
	assert_true(container(p, "app")->selected);
	assert_true(container(p, "worker")->selected);
	assert_string_equal(p->errors[0].annotation, "blocksnoop.io/containers");
	assert_non_null(strstr(p->errors[0].message, "65 names, more than a pod can have"));
	assert_int_equal(strlen(p->errors[0].value), K8S_MAX_ECHOED_VALUE + 3);
	k8s_podlist_free(list);
	free(names);
	free(annotations);

	/* A few names, but thousands of bytes of spaces. */
	names = repeat(" ", 5000, "");
	assert_true(asprintf(&annotations, "\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/containers\":\"app%s\"",
			     names) > 0);
	list = parse_pod(annotations, "", "");
	p = &list->pods[0];
	assert_int_equal(p->nerrors, 1);
	assert_non_null(strstr(p->errors[0].message, "5003 bytes"));
	assert_true(container(p, "worker")->selected);
	k8s_podlist_free(list);
	free(names);
	free(annotations);

	/* Names no container has, with control characters: the message
	 * shows them, printable. */
	list = parse_pod("\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/containers\":\"app,\\u001b]0;pwned\\u0007\"",
			 "", "");
	p = &list->pods[0];
	assert_int_equal(p->nerrors, 1);
	assert_printable(p->errors[0].message);
	assert_non_null(strstr(p->errors[0].message, "no container named \\x1b]0;pwned\\x07"));
	k8s_podlist_free(list);
}

static void test_watched_containers_cap(void **state)
{
	size_t n = K8S_MAX_WATCHED_CONTAINERS + 6, selected = 0;
	char *json = NULL, *specs = NULL, *statuses = NULL;
	struct k8s_podlist *list;
	const struct k8s_pod *p;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		char *s2, *t2;

		assert_true(asprintf(&s2, "%s%s{\"name\":\"c%zu\"}", specs ? specs : "", i ? "," : "", i) > 0);
		assert_true(asprintf(&t2, "%s%s{\"name\":\"c%zu\",\"containerID\":\"containerd://%064zx\"}",
				     statuses ? statuses : "", i ? "," : "", i, i) > 0);
		free(specs);
		free(statuses);
		specs = s2;
		statuses = t2;
	}
	assert_true(asprintf(&json, "{\"items\":[{\"metadata\":{\"name\":\"many\",\"namespace\":\"ns\",\"uid\":\"u\","
			     "\"annotations\":{\"blocksnoop.io/enabled\":\"true\"}},\"spec\":{\"containers\":[%s]},"
			     "\"status\":{\"containerStatuses\":[%s]}}]}", specs, statuses) > 0);
	list = parse_ok(json);
	p = &list->pods[0];
	assert_int_equal(p->ncontainers, n);
	for (size_t i = 0; i < n; i++) {
		selected += p->containers[i].selected;
		assert_true(p->containers[i].selected == (i < K8S_MAX_WATCHED_CONTAINERS));
	}
	assert_int_equal(selected, K8S_MAX_WATCHED_CONTAINERS);
	expect_error(p, "blocksnoop.io/containers", "", "70 containers selected; watching the first 64");
	k8s_podlist_free(list);
	free(json);
	free(specs);
	free(statuses);
}

static void test_unknown_annotations_are_bounded(void **state)
{
	char annotations[4096] = "\"blocksnoop.io/enabled\":\"true\"";
	struct k8s_podlist *list;
	const struct k8s_pod *p;

	(void)state;
	for (int i = 0; i < 20; i++)
		snprintf(annotations + strlen(annotations), sizeof(annotations) - strlen(annotations),
			 ",\"blocksnoop.io/x%d\":\"v\"", i);
	list = parse_pod(annotations, "", "");
	p = &list->pods[0];
	assert_int_equal(p->nerrors, K8S_MAX_UNKNOWN_REPORTED + 1);
	expect_error(p, "blocksnoop.io/x0", "v", "unknown annotation");
	expect_error(p, "blocksnoop.io/*", "", "12 more unknown blocksnoop.io/ annotations");
	k8s_podlist_free(list);
}

static void test_echoed_values_are_bounded(void **state)
{
	char *big = repeat("9", 100000, ""), *annotations, *utf8;
	struct k8s_podlist *list;
	const struct k8s_config_error *e;

	(void)state;
	assert_true(asprintf(&annotations, "\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/threshold-ms\":\"%s\"",
			     big) > 0);
	list = parse_pod(annotations, "", "");
	e = &list->pods[0].errors[0];
	assert_int_equal(strlen(e->value), K8S_MAX_ECHOED_VALUE + 3);
	assert_int_equal(strncmp(e->value, big, K8S_MAX_ECHOED_VALUE), 0);
	assert_string_equal(e->value + K8S_MAX_ECHOED_VALUE, "...");
	assert_true(strlen(e->message) < 200);
	assert_non_null(strstr(e->message, "99999..."));
	k8s_podlist_free(list);
	free(annotations);

	/* Never cut inside a UTF-8 character: "é" straddles the limit. */
	big[K8S_MAX_ECHOED_VALUE - 1] = '\0';
	assert_true(asprintf(&utf8, "%s\u00e9tail", big) > 0);
	assert_true(asprintf(&annotations, "\"blocksnoop.io/enabled\":\"true\",\"blocksnoop.io/service\":\"%s\"",
			     utf8) > 0);
	list = parse_pod(annotations, "", "");
	e = &list->pods[0].errors[0];
	assert_int_equal(strlen(e->value), K8S_MAX_ECHOED_VALUE - 1 + 3);
	assert_string_equal(e->value + K8S_MAX_ECHOED_VALUE - 1, "...");
	k8s_podlist_free(list);
	free(annotations);
	free(utf8);
	free(big);
}

static void test_printable(void **state)
{
	char buf[32], tiny[8];

	(void)state;
	assert_string_equal(k8s_printable("web-1", 64, buf, sizeof(buf)), "web-1");
	assert_string_equal(k8s_printable("a\033[2Jb\n", 64, buf, sizeof(buf)), "a\\x1b[2Jb\\x0a");
	assert_string_equal(k8s_printable("\xc2\x9b" "c", 64, buf, sizeof(buf)), "\\xc2\\x9bc");
	assert_string_equal(k8s_printable("abcdef", 3, buf, sizeof(buf)), "abc...");
	assert_string_equal(k8s_printable("abcdef", 6, buf, sizeof(buf)), "abcdef");
	/* The buffer bounds it too, "..." included. */
	assert_string_equal(k8s_printable("abcdefghij", 64, tiny, sizeof(tiny)), "abcd...");
	assert_string_equal(k8s_printable("\033\033\033", 64, tiny, sizeof(tiny)), "\\x1b...");
	assert_string_equal(k8s_printable("abc", 64, tiny, 3), "");
	assert_true(k8s_service_name_is_valid("checkout"));
	assert_true(k8s_service_name_is_valid("a b/c:d"));
	assert_false(k8s_service_name_is_valid(""));
	assert_false(k8s_service_name_is_valid(NULL));
	assert_false(k8s_service_name_is_valid("tab\there"));
	assert_false(k8s_service_name_is_valid("caf\u00e9"));
}

static void test_not_nul_terminated(void **state)
{
	static const char json[] = "{\"items\":[]}garbage";
	struct k8s_podlist *list;
	char err[64];

	(void)state;
	assert_int_equal(k8s_podlist_parse(json, 12, &defaults, &list, err, sizeof(err)), 0);
	k8s_podlist_free(list);
	k8s_podlist_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_podlist),
		cmocka_unit_test(test_kind_list_and_empty_items),
		cmocka_unit_test(test_not_a_podlist),
		cmocka_unit_test(test_items_that_are_not_pods_are_skipped),
		cmocka_unit_test(test_default_selects_app_containers_not_init),
		cmocka_unit_test(test_containers_annotation),
		cmocka_unit_test(test_enabled_values),
		cmocka_unit_test(test_thresholds),
		cmocka_unit_test(test_parse_ms),
		cmocka_unit_test(test_service_chain),
		cmocka_unit_test(test_unknown_annotation),
		cmocka_unit_test(test_container_ids),
		cmocka_unit_test(test_threshold_floor),
		cmocka_unit_test(test_threshold_junk),
		cmocka_unit_test(test_service_bounds),
		cmocka_unit_test(test_containers_bounds),
		cmocka_unit_test(test_watched_containers_cap),
		cmocka_unit_test(test_unknown_annotations_are_bounded),
		cmocka_unit_test(test_echoed_values_are_bounded),
		cmocka_unit_test(test_sampler_annotation),
		cmocka_unit_test(test_printable),
		cmocka_unit_test(test_not_nul_terminated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
