// SPDX-License-Identifier: Apache-2.0
/*
 * test_k8s_options.c - agent/k8s/agent_options.h: `blocksnoop agent` flags
 * and environment variables (HTTPS-only kubelet URLs, what one pod may ask
 * of the node), listen addresses and durations; and the kubelet poll
 * schedule (kubelet_next_delay_ms).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "exit_codes.h"
#include "k8s/agent_options.h"
#include "k8s/kubelet.h"
#include "listen_addr.h"
#include "unit_helpers.h"

/* The environment of a test: NAME=VALUE strings, NULL-terminated. */
static const char *const *fake_env;

static const char *env_get(const char *name)
{
	size_t n = strlen(name);

	for (const char *const *e = fake_env; e && *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static int parse(struct agent_options *o, char *err, const char *const *env, ...)
{
	char *argv[64] = { "agent" };
	int argc = 1;
	va_list ap;
	const char *a;

	fake_env = env;
	va_start(ap, env);
	while ((a = va_arg(ap, const char *)) && argc < 63)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	return agent_options_parse(argc, argv, env_get, o, err, 512);
}

static void expect_usage(const char *const *env, const char *want, ...);

static void test_defaults(void **state)
{
	static const char *const env[] = { "NODE_NAME=worker-1", NULL };
	struct agent_options o;
	char err[512];

	(void)state;
	assert_int_equal(parse(&o, err, env, NULL), 0);
	assert_int_equal(o.command, AGENT_RUN);
	assert_string_equal(o.node_name, "worker-1");
	assert_string_equal(o.kubelet_url, "https://worker-1:10250");
	assert_null(o.kubelet_host_ip);
	assert_string_equal(o.token_file, AGENT_DEFAULT_TOKEN_FILE);
	assert_string_equal(o.ca_file, AGENT_DEFAULT_CA_FILE);
	assert_false(o.token_file_given);
	assert_false(o.ca_file_given);
	assert_false(o.insecure_skip_verify);
	assert_near(o.poll_interval_s, 10, 0);
	assert_string_equal(o.metrics_addr, ":9090");
	assert_null(o.own_pod_uid);
	assert_false(o.json);
	assert_null(o.log_file);
	assert_string_equal(o.service, "blocksnoop");
	assert_string_equal(o.env, "");
	assert_near(o.threshold_ms, 100, 0);
	assert_near(o.error_threshold_ms, 500, 0);
	assert_int_equal(o.sampler, SAMPLER_BUILTIN);
	assert_null(o.austin);
	assert_string_equal(o.austin_root, "/");
	assert_false(o.austin_given);
	/* Least privilege: no Austin unless asked for. */
	assert_true(agent_runs_builtin(&o));
	assert_false(agent_runs_austin(&o));
	assert_false(o.verbose);
	assert_near(o.min_threshold_ms, 10, 0);
	assert_near(o.max_events_per_pod, 10, 0);
	assert_int_equal(o.max_events_burst, 50);
}

static void test_flags(void **state)
{
	struct agent_options o;
	char err[512];

	(void)state;
	assert_int_equal(parse(&o, err, NULL, "--node-name", "n1", "--kubelet-url",
			       "https://n1.example:10250/", "--kubelet-host-ip", "10.0.0.7",
			       "--kubelet-token-file", "/t", "--kubelet-ca-file", "/c",
			       "--kubelet-insecure-skip-tls-verify", "--poll-interval", "500ms",
			       "--metrics-addr", "127.0.0.1:9191", "--json", "--log-file", "/l",
			       "--service", "s", "--env", "prod", "-t", "50", "--error-threshold",
			       "250", "--sampler", "none", "-v", "--duration", "1m", NULL), 0);
	assert_string_equal(o.node_name, "n1");
	assert_string_equal(o.kubelet_url, "https://n1.example:10250/");
	assert_string_equal(o.kubelet_host_ip, "10.0.0.7");
	assert_string_equal(o.token_file, "/t");
	assert_true(o.token_file_given);
	assert_string_equal(o.ca_file, "/c");
	assert_true(o.insecure_skip_verify);
	assert_near(o.poll_interval_s, 0.5, 1e-12);
	assert_string_equal(o.metrics_addr, "127.0.0.1:9191");
	assert_true(o.json);
	assert_string_equal(o.log_file, "/l");
	assert_string_equal(o.service, "s");
	assert_string_equal(o.env, "prod");
	assert_near(o.threshold_ms, 50, 0);
	assert_near(o.error_threshold_ms, 250, 0);
	assert_int_equal(o.sampler, SAMPLER_NONE);
	assert_true(o.verbose);
	assert_near(o.duration_s, 60, 0);
}

/* Which samplers an agent runs: the default, the built-in one unless
 * none, Austin when it is the default or made available. */
static void test_samplers_run(void **state)
{
	static const char *const env[] = { "NODE_NAME=n", "BLOCKSNOOP_AUSTIN_ROOT=/rootfs", NULL };
	struct agent_options o;
	char err[512];

	(void)state;
	assert_int_equal(parse(&o, err, NULL, "--node-name", "n", "--sampler", "austin", NULL), 0);
	assert_int_equal(o.sampler, SAMPLER_AUSTIN);
	assert_true(agent_runs_austin(&o));
	assert_true(agent_runs_builtin(&o));
	assert_false(o.austin_given);

	assert_int_equal(parse(&o, err, NULL, "--node-name", "n", "--austin", "/usr/bin/austin",
			       NULL), 0);
	assert_int_equal(o.sampler, SAMPLER_BUILTIN);
	assert_string_equal(o.austin, "/usr/bin/austin");
	assert_true(o.austin_given);
	assert_true(agent_runs_austin(&o));

	assert_int_equal(parse(&o, err, env, "--sampler", "none", NULL), 0);
	assert_string_equal(o.austin_root, "/rootfs");
	assert_true(agent_runs_austin(&o));
	assert_false(agent_runs_builtin(&o));

	assert_int_equal(parse(&o, err, NULL, "--node-name", "n", "--sampler", "none", NULL), 0);
	assert_false(agent_runs_austin(&o));
	assert_false(agent_runs_builtin(&o));
}

static void test_pod_limits(void **state)
{
	static const char *const env[] = {
		"NODE_NAME=n", "BLOCKSNOOP_MIN_THRESHOLD=2.5", "BLOCKSNOOP_MAX_EVENTS_PER_POD=0.5",
		"BLOCKSNOOP_MAX_EVENTS_BURST=3", NULL,
	};
	struct agent_options o;
	char err[512];

	(void)state;
	assert_int_equal(parse(&o, err, env, NULL), 0);
	assert_near(o.min_threshold_ms, 2.5, 0);
	assert_near(o.max_events_per_pod, 0.5, 0);
	assert_int_equal(o.max_events_burst, 3);
	/* Flags win; 0 events a second is no limit; a threshold of 0 needs a
	 * floor of 0. */
	assert_int_equal(parse(&o, err, env, "--min-threshold", "0", "-t", "0",
			       "--max-events-per-pod", "0", "--max-events-burst", "1", NULL), 0);
	assert_near(o.min_threshold_ms, 0, 0);
	assert_near(o.threshold_ms, 0, 0);
	assert_near(o.max_events_per_pod, 0, 0);
	assert_int_equal(o.max_events_burst, 1);
}

static void test_kubelet_url_is_https_only(void **state)
{
	static const char *const node[] = { "NODE_NAME=n", NULL };
	static const char *const http_env[] = {
		"NODE_NAME=n", "BLOCKSNOOP_KUBELET_URL=http://10.0.0.1:10255", NULL,
	};
	struct agent_options o;
	char err[512];

	(void)state;
	assert_int_equal(parse(&o, err, node, "--kubelet-url", "HTTPS://n:10250", NULL), 0);
	assert_string_equal(o.kubelet_url, "HTTPS://n:10250");
	/* Plain HTTP would carry the bearer token in clear: refused, saying
	 * what to do, from a flag or the environment, in any case. */
	expect_usage(node, "in clear", "--kubelet-url", "http://n:10255", NULL);
	expect_usage(node, "https://", "--kubelet-url", "http://n:10255", NULL);
	expect_usage(node, "refusing --kubelet-url", "--kubelet-url", "HTTP://n:10255", NULL);
	expect_usage(http_env, "refusing BLOCKSNOOP_KUBELET_URL", NULL);
	expect_usage(node, "invalid --kubelet-url", "--kubelet-url", "https://", NULL);
	expect_usage(node, "invalid --kubelet-url", "--kubelet-url", "ftp://n", NULL);
	expect_usage(node, "invalid --kubelet-url", "--kubelet-url", "httpsx://n", NULL);
}

static void test_pod_limit_errors(void **state)
{
	static const char *const node[] = { "NODE_NAME=n", NULL };

	(void)state;
	/* The pods' default may not be below the floor it sets for them. */
	expect_usage(node, "-t 5 is below --min-threshold 10", "-t", "5", NULL);
	expect_usage(node, "below --min-threshold 200", "--min-threshold", "200", NULL);
	expect_usage(node, "invalid --min-threshold", "--min-threshold", "-1", NULL);
	expect_usage(node, "invalid --min-threshold", "--min-threshold", "3600001", NULL);
	expect_usage(node, "invalid --min-threshold", "--min-threshold", "inf", NULL);
	expect_usage(node, "invalid --max-events-per-pod", "--max-events-per-pod", "-1", NULL);
	expect_usage(node, "invalid --max-events-per-pod", "--max-events-per-pod", "x", NULL);
	expect_usage(node, "invalid --max-events-per-pod", "--max-events-per-pod", "1e300", NULL);
	expect_usage(node, "invalid --max-events-burst", "--max-events-burst", "0", NULL);
	expect_usage(node, "invalid --max-events-burst", "--max-events-burst", "1.5", NULL);
	expect_usage(node, "invalid --max-events-burst", "--max-events-burst", "1e300", NULL);
}

static void test_environment_and_precedence(void **state)
{
	static const char *const env[] = {
		"NODE_NAME=from-env", "HOST_IP=fd00::7", "POD_UID=uid-1",
		"BLOCKSNOOP_POLL_INTERVAL=2s", "BLOCKSNOOP_METRICS_ADDR=",
		"BLOCKSNOOP_KUBELET_INSECURE_SKIP_TLS_VERIFY=true", "BLOCKSNOOP_JSON=1",
		"BLOCKSNOOP_THRESHOLD=20", "BLOCKSNOOP_KUBELET_CA_FILE=", NULL,
	};
	struct agent_options o;
	char err[512];

	(void)state;
	assert_int_equal(parse(&o, err, env, "--node-name", "from-flag", "-t", "30", NULL), 0);
	assert_string_equal(o.node_name, "from-flag");          /* the flag wins */
	assert_string_equal(o.kubelet_url, "https://from-flag:10250");
	assert_string_equal(o.kubelet_host_ip, "fd00::7");
	assert_string_equal(o.own_pod_uid, "uid-1");
	assert_near(o.poll_interval_s, 2, 0);
	assert_string_equal(o.metrics_addr, "");                /* disabled */
	assert_true(o.insecure_skip_verify);
	assert_true(o.json);
	assert_near(o.threshold_ms, 30, 0);
	assert_null(o.ca_file);                                 /* "" = the system's */
	assert_true(o.ca_file_given);
}

static void test_ipv6_node_name_url(void **state)
{
	static const char *const env[] = { "NODE_NAME=fd00::1", NULL };
	struct agent_options o;
	char err[512];

	(void)state;
	assert_int_equal(parse(&o, err, env, NULL), 0);
	assert_string_equal(o.kubelet_url, "https://[fd00::1]:10250");
}

static void expect_usage(const char *const *env, const char *want, ...)
{
	char *argv[16] = { "agent" };
	struct agent_options o;
	char err[512];
	int argc = 1;
	va_list ap;
	const char *a;

	fake_env = env;
	va_start(ap, want);
	while ((a = va_arg(ap, const char *)) && argc < 15)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	assert_int_equal(agent_options_parse(argc, argv, env_get, &o, err, sizeof(err)), EXIT_USAGE);
	if (!strstr(err, want))
		fail_msg("error '%s' does not say '%s'", err, want);
}

static void test_usage_errors(void **state)
{
	static const char *const node[] = { "NODE_NAME=n", NULL };
	static const char *const bad_env[] = { "NODE_NAME=n", "BLOCKSNOOP_JSON=maybe", NULL };
	static const char *const bad_ip[] = { "NODE_NAME=n", "HOST_IP=node-1", NULL };

	(void)state;
	expect_usage(NULL, "no node name", NULL);
	expect_usage(node, "invalid --poll-interval", "--poll-interval", "0", NULL);
	expect_usage(node, "invalid --poll-interval", "--poll-interval", "10x", NULL);
	expect_usage(node, "from 0.1 to 3600 seconds", "--poll-interval", "50ms", NULL);
	expect_usage(node, "invalid --metrics-addr", "--metrics-addr", "9090", NULL);
	expect_usage(node, "invalid --metrics-addr", "--metrics-addr", "localhost:9090", NULL);
	expect_usage(node, "invalid --kubelet-url", "--kubelet-url", "node:10250", NULL);
	expect_usage(node, "in clear", "--kubelet-url", "http://node:10255", NULL);
	expect_usage(node, "invalid --kubelet-host-ip", "--kubelet-host-ip", "x", NULL);
	expect_usage(bad_ip, "invalid HOST_IP", NULL);
	expect_usage(node, "invalid --sampler 'pyspy': expected builtin, austin or none", "--sampler",
		     "pyspy", NULL);
	expect_usage(node, "invalid --austin-root 'rel/dir': expected an absolute directory",
		     "--austin-root", "rel/dir", NULL);
	expect_usage(node, "--austin is empty", "--austin", "", NULL);
	expect_usage(node, "invalid --threshold", "-t", "-1", NULL);
	expect_usage(bad_env, "invalid BLOCKSNOOP_JSON", NULL);
	expect_usage(node, "unknown option", "--nope", NULL);
	/* The command line's exit-status policies: said to be not the agent's. */
	expect_usage(node, "'--fail-on-loss' does not apply to blocksnoop agent", "--fail-on-loss", NULL);
	expect_usage(node, "'--fail-on' does not apply to blocksnoop agent", "--fail-on", "event", NULL);
	expect_usage(node, "needs a value", "--node-name", NULL);
	expect_usage(node, "unexpected argument", "1234", NULL);
	expect_usage(node, "empty", "--node-name", "", NULL);
}

static void test_help(void **state)
{
	struct agent_options o;
	char err[512];

	(void)state;
	assert_int_equal(parse(&o, err, NULL, "--help", NULL), 0);
	assert_int_equal(o.command, AGENT_HELP);
	assert_non_null(strstr(agent_usage, "--kubelet-insecure-skip-tls-verify"));
	assert_non_null(strstr(agent_usage, "--sampler builtin|austin|none"));
	assert_non_null(strstr(agent_usage, "--austin PATH"));
	assert_non_null(strstr(agent_usage, "--austin-root DIR"));
	assert_non_null(strstr(agent_usage, "blocksnoop.io/sampler"));
}

static void test_listen_addr(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	char text[64];

	(void)state;
	assert_int_equal(listen_addr_parse(":9090", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(a6->sin6_port), 9090);
	assert_memory_equal(&a6->sin6_addr, &in6addr_any, sizeof(in6addr_any));
	assert_int_equal(len, sizeof(*a6));

	assert_int_equal(listen_addr_parse("127.0.0.1:0", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(a4->sin_port), 0);
	inet_ntop(AF_INET, &a4->sin_addr, text, sizeof(text));
	assert_string_equal(text, "127.0.0.1");

	assert_int_equal(listen_addr_parse("[::1]:65535", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	inet_ntop(AF_INET6, &a6->sin6_addr, text, sizeof(text));
	assert_string_equal(text, "::1");

	assert_int_equal(listen_addr_parse("0.0.0.0:9090", &ss, &len), 0);
	static const char *const bad[] = {
		"", "9090", ":", ":65536", ":-1", ":90a", "::1:9090", "[::1]9090", "[::1", "[zz]:1",
		"1.2.3:9", "host:9090", "1.2.3.4:",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (listen_addr_parse(bad[i], &ss, &len) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
}

static void test_durations(void **state)
{
	const struct num_range any = { .min = 0, .min_excluded = true, .max = 1e6, .unit = "seconds" };
	double s;

	(void)state;
	assert_int_equal(agent_parse_duration("10", &any, &s), 0);
	assert_near(s, 10, 0);
	assert_int_equal(agent_parse_duration("1.5s", &any, &s), 0);
	assert_near(s, 1.5, 0);
	assert_int_equal(agent_parse_duration("250ms", &any, &s), 0);
	assert_near(s, 0.25, 1e-12);
	assert_int_equal(agent_parse_duration("2m", &any, &s), 0);
	assert_near(s, 120, 0);
	assert_int_equal(agent_parse_duration("1h", &any, &s), 0);
	assert_near(s, 3600, 0);
	assert_int_equal(agent_parse_duration(".5s", &any, &s), 0);
	assert_near(s, 0.5, 0);
	static const char *const bad[] = {
		"", "s", "ms", "-1s", " 1", "1 s", "inf", "nan", "1x", "1sm", "0x10", "0x10s",
		"1e3", "1e300s", "+1s", "1s ", "1ss", "1hs",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (agent_parse_duration(bad[i], &any, &s) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	/* Within the syntax but outside the range, after the unit. */
	static const char *const out[] = { "0", "0s", "0.0ms", "1000001", "16667m", "278h",
					   "99999999999999999999999999h" };
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++)
		if (agent_parse_duration(out[i], &any, &s) != -ERANGE)
			fail_msg("'%s' was not out of range", out[i]);
	assert_int_equal(agent_parse_duration("16666m", &any, &s), 0);
}

/* The agent's numbers share the CLI's ranges; each message names the
 * option (or variable), the value and the range. */
static void test_number_ranges(void **state)
{
	static const char *const node[] = { "NODE_NAME=n", NULL };
	static const char *const env_hex[] = { "NODE_NAME=n", "BLOCKSNOOP_THRESHOLD=0x10", NULL };
	static const char *const env_interval[] = { "NODE_NAME=n", "BLOCKSNOOP_INTERVAL=1e-6", NULL };
	struct agent_options o;
	char err[512];

	(void)state;
	assert_int_equal(parse(&o, err, node, "-t", "3600000", "--error-threshold", "0",
			       "--interval", "0.5", "--duration", "31536000",
			       "--poll-interval", "1h", NULL), 0);
	assert_near(o.threshold_ms, 3600000, 0);
	assert_near(o.interval_ms, 0.5, 0);
	assert_near(o.duration_s, 31536000, 0);
	assert_near(o.poll_interval_s, 3600, 0);
	assert_int_equal(parse(&o, err, node, "--interval", "50", "--poll-interval", "100ms",
			       "--duration", "8760h", NULL), 0);
	assert_near(o.poll_interval_s, 0.1, 1e-12);
	assert_near(o.duration_s, 31536000, 0);

	expect_usage(node, "invalid --threshold '1e300': expected a decimal number from 0 to 3600000 milliseconds",
		     "-t", "1e300", NULL);
	expect_usage(node, "'2e13'", "-t", "2e13", NULL);
	expect_usage(node, "from 0 to 3600000", "-t", "3600000.5", NULL);
	expect_usage(node, "invalid --error-threshold '0x10'", "--error-threshold", "0x10", NULL);
	expect_usage(env_hex, "invalid BLOCKSNOOP_THRESHOLD '0x10'", NULL);
	expect_usage(env_interval, "invalid BLOCKSNOOP_INTERVAL '1e-6': expected a decimal number from 0.5 to 50 milliseconds", NULL);
	expect_usage(node, "from 0.5 to 50", "--interval", "0.4", NULL);
	expect_usage(node, "from 0.5 to 50", "--interval", "51", NULL);
	expect_usage(node, "invalid --duration '1e300': expected a duration", "--duration", "1e300", NULL);
	expect_usage(node, "more than 0 and at most 31536000 seconds", "--duration", "8761h", NULL);
	expect_usage(node, "more than 0 and at most 31536000 seconds", "--duration", "0s", NULL);
	expect_usage(node, "from 0.1 to 3600 seconds", "--poll-interval", "50ms", NULL);
	expect_usage(node, "from 0.1 to 3600 seconds", "--poll-interval", "61m", NULL);
	expect_usage(node, "invalid --metrics-addr", "--metrics-addr", ":0x50", NULL);
	expect_usage(node, "invalid --metrics-addr", "--metrics-addr", ":+80", NULL);
}

static void test_poll_schedule(void **state)
{
	(void)state;
	/* Success: the interval +-10%. */
	assert_int_equal(kubelet_next_delay_ms(10000, 0, 0), 9000);
	assert_int_equal(kubelet_next_delay_ms(10000, 0, 0.5), 10000);
	assert_true(kubelet_next_delay_ms(10000, 0, 0.999999) <= 11000);
	/* Failures double the delay up to 8 times the interval, jittered down
	 * to half. */
	assert_int_equal(kubelet_next_delay_ms(1000, 1, 0.999999), 999);
	assert_int_equal(kubelet_next_delay_ms(1000, 2, 0), 1000);
	assert_int_equal(kubelet_next_delay_ms(1000, 3, 0), 2000);
	assert_int_equal(kubelet_next_delay_ms(1000, 4, 0), 4000);
	assert_int_equal(kubelet_next_delay_ms(1000, 5, 0), 4000);
	assert_int_equal(kubelet_next_delay_ms(1000, 100, 0), 4000);
	assert_true(kubelet_next_delay_ms(1000, 100, 0.999999) < 8000);
	/* Out-of-range randomness is clamped; never 0. */
	assert_int_equal(kubelet_next_delay_ms(1000, 0, -3), 900);
	assert_true(kubelet_next_delay_ms(1000, 0, 7) <= 1100);
	assert_int_equal(kubelet_next_delay_ms(0, 0, 0), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_samplers_run),
		cmocka_unit_test(test_pod_limits),
		cmocka_unit_test(test_kubelet_url_is_https_only),
		cmocka_unit_test(test_pod_limit_errors),
		cmocka_unit_test(test_environment_and_precedence),
		cmocka_unit_test(test_ipv6_node_name_url),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_listen_addr),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_number_ranges),
		cmocka_unit_test(test_poll_schedule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
