// SPDX-License-Identifier: Apache-2.0
/*
 * test_options.c - options_parse() (agent/options.h): defaults, every
 * option, where the PID and a launched command may stand, and every usage
 * error (EXIT_USAGE with a one-line message).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "exit_codes.h"
#include "options.h"
#include "unit_helpers.h"

/* A mutable argv: ARGV("1234", "-t", "50") is {"blocksnoop", "1234", ...}. */
#define ARGV(...) ((char *[]){ "blocksnoop", __VA_ARGS__, NULL })
#define ARGC(argv) ((int)(sizeof(argv) / sizeof((argv)[0])) - 1)

static char err[256];

/*
 * Parse, expecting success; err must stay empty. The argv pointers are
 * copied to static storage first, so that o->launch_argv (which points
 * into argv) stays valid after the macro's block ends.
 */
static void parse_ok(struct options *o, int argc, char **argv)
{
	static char *store[64];
	int rc;

	assert_true(argc + 1 <= 64);
	memcpy(store, argv, sizeof(store[0]) * (argc + 1));
	rc = options_parse(argc, store, o, err, sizeof(err));
	if (rc != 0)
		fail_msg("expected success, got %d: %s", rc, err);
	assert_string_equal(err, "");
}

#define PARSE_OK(o, ...) parse_ok((o), ARGC(ARGV(__VA_ARGS__)), ARGV(__VA_ARGS__))

/*
 * Parse, expecting a usage error: EXIT_USAGE and a non-empty one-line
 * message without a trailing newline or a "blocksnoop:" prefix, that
 * contains `needle` (the offending text, when there is one).
 */
static void expect_usage(int argc, char **argv, const char *needle)
{
	struct options o;
	int rc;

	memset(err, 'X', sizeof(err));
	err[sizeof(err) - 1] = '\0';
	rc = options_parse(argc, argv, &o, err, sizeof(err));
	if (rc != EXIT_USAGE)
		fail_msg("expected EXIT_USAGE (2), got %d for argv[1]='%s' (err '%s')",
			 rc, argc > 1 ? argv[1] : "", err);
	assert_true(strlen(err) > 10);
	assert_null(strchr(err, '\n'));
	assert_int_not_equal(strncmp(err, "blocksnoop:", 11), 0);
	if (needle && !strstr(err, needle))
		fail_msg("message '%s' does not mention '%s'", err, needle);
}

#define USAGE(needle, ...) expect_usage(ARGC(ARGV(__VA_ARGS__)), ARGV(__VA_ARGS__), needle)

/* ---- defaults ------------------------------------------------------- */

static void test_defaults_attach(void **state)
{
	struct options o;

	(void)state;
	PARSE_OK(&o, "1234");
	assert_int_equal(o.command, CMD_RUN);
	assert_int_equal(o.pid, 1234);
	assert_int_equal(o.tid, 1234); /* the main thread */
	assert_null(o.launch_argv);
	assert_true(o.threshold_ms == 100);
	assert_true(o.error_threshold_ms == 500);
	assert_true(o.correlation_padding_ms == 200);
	assert_true(o.duration_s == 0);
	assert_string_equal(o.service, "blocksnoop");
	assert_string_equal(o.env, "");
	assert_null(o.log_file);
	assert_false(o.stats);
	assert_false(o.json);
	assert_false(o.no_color);
	assert_false(o.verbose);
	assert_false(o.summary_only);
	assert_int_equal(o.fail_on, FAIL_ON_NONE);
	assert_int_equal(o.sampler, SAMPLER_BUILTIN);
	assert_true(o.interval_ms == 0); /* derived from the threshold later */
	assert_false(o.follow);     /* attaching watches PID alone */
	assert_false(o.all_threads);
}

static void test_stats_threshold_default(void **state)
{
	struct options o;

	(void)state;
	PARSE_OK(&o, "--stats", "1234");
	assert_true(o.stats);
	assert_true(o.threshold_ms == 0);

	/* -t wins over the --stats default, before or after it. */
	PARSE_OK(&o, "-t", "5", "--stats", "1234");
	assert_true(o.threshold_ms == 5);
	PARSE_OK(&o, "--stats", "-t", "7.5", "1234");
	assert_true(o.threshold_ms == 7.5);
	/* An explicit -t 100 is kept too (not mistaken for "unset"). */
	PARSE_OK(&o, "--stats", "--threshold", "100", "1234");
	assert_true(o.threshold_ms == 100);
}

/* --sampler and --interval; --stats has no events, hence no sampler. */
static void test_sampler_options(void **state)
{
	struct options o;

	(void)state;
	PARSE_OK(&o, "--sampler", "none", "1234");
	assert_int_equal(o.sampler, SAMPLER_NONE);
	PARSE_OK(&o, "--sampler", "none", "--sampler", "builtin", "--interval", "2.5", "1234");
	assert_int_equal(o.sampler, SAMPLER_BUILTIN);
	assert_true(o.interval_ms == 2.5);
	PARSE_OK(&o, "--stats", "1234");
	assert_int_equal(o.sampler, SAMPLER_NONE);
	PARSE_OK(&o, "--sampler", "builtin", "--stats", "1234");
	assert_int_equal(o.sampler, SAMPLER_NONE);
	USAGE("py-spy", "--sampler", "py-spy", "1234");
	USAGE("--interval", "--interval", "0", "1234");
	USAGE("--interval", "--interval", "-1", "1234");
	USAGE("--interval", "--interval", "fast", "1234");
	USAGE("--interval", "1234", "--interval");
}

/* Launch mode follows what the command starts unless --no-follow; attach
 * mode only with --follow; each is harmless in the other mode. */
static void test_follow_options(void **state)
{
	struct options o;

	(void)state;
	PARSE_OK(&o, "--", "gunicorn", "-w", "2", "app:app");
	assert_true(o.follow);
	assert_false(o.all_threads);
	PARSE_OK(&o, "--no-follow", "--", "gunicorn", "app:app");
	assert_false(o.follow);
	PARSE_OK(&o, "--follow", "--", "gunicorn", "app:app");
	assert_true(o.follow);
	PARSE_OK(&o, "--follow", "1234");
	assert_true(o.follow);
	PARSE_OK(&o, "1234", "--no-follow");
	assert_false(o.follow);
	PARSE_OK(&o, "--all-threads", "1234");
	assert_true(o.all_threads);
	assert_int_equal(o.tid, 1234);
	PARSE_OK(&o, "--all-threads", "--stats", "--follow", "1234");
	assert_true(o.all_threads && o.follow && o.stats);
	/* The command's own options are its own. */
	PARSE_OK(&o, "--", "python3", "app.py", "--no-follow");
	assert_true(o.follow);
	USAGE("--no-follow", "--follow", "--no-follow", "1234");
	USAGE("--tid", "--all-threads", "--tid", "1235", "1234");
}

/* --metrics-addr takes a listen address, checked before anything runs. */
static void test_metrics_addr(void **state)
{
	struct options o;

	(void)state;
	PARSE_OK(&o, "1234");
	assert_null(o.metrics_addr);
	PARSE_OK(&o, "--metrics-addr", "127.0.0.1:9464", "1234");
	assert_string_equal(o.metrics_addr, "127.0.0.1:9464");
	PARSE_OK(&o, "--metrics-addr=:9464", "--", "python3", "app.py");
	assert_string_equal(o.metrics_addr, ":9464");
	PARSE_OK(&o, "--metrics-addr", "[::1]:0", "--stats", "1234");
	assert_true(o.stats);
	USAGE("invalid --metrics-addr 'localhost:9464': expected ADDR:PORT", "--metrics-addr",
	      "localhost:9464", "1234");
	USAGE("invalid --metrics-addr '9464'", "--metrics-addr", "9464", "1234");
	USAGE("invalid --metrics-addr '1.2.3.4:65536'", "--metrics-addr", "1.2.3.4:65536", "1234");
	USAGE("needs a value", "1234", "--metrics-addr");
}

/* ---- every option ---------------------------------------------------- */

static void test_all_options(void **state)
{
	struct options o;

	(void)state;
	PARSE_OK(&o, "-t", "50", "--tid", "1240", "--json", "--log-file", "/tmp/x.json",
		 "--service", "api", "--env", "prod", "--no-color", "-v",
		 "--error-threshold", "750.5", "--correlation-padding", "0",
		 "--duration", "2.5", "--fail-on", "error", "--summary-only", "1234");
	assert_int_equal(o.command, CMD_RUN);
	assert_int_equal(o.pid, 1234);
	assert_int_equal(o.tid, 1240);
	assert_true(o.threshold_ms == 50);
	assert_true(o.json);
	assert_string_equal(o.log_file, "/tmp/x.json");
	assert_string_equal(o.service, "api");
	assert_string_equal(o.env, "prod");
	assert_true(o.no_color);
	assert_true(o.verbose);
	assert_true(o.error_threshold_ms == 750.5);
	assert_true(o.correlation_padding_ms == 0);
	assert_true(o.duration_s == 2.5);
	assert_int_equal(o.fail_on, FAIL_ON_ERROR);
	assert_true(o.summary_only);
	assert_false(o.stats);
}

static void test_long_and_attached_forms(void **state)
{
	struct options o;

	(void)state;
	PARSE_OK(&o, "--threshold=25", "--verbose", "--service=svc", "1234");
	assert_true(o.threshold_ms == 25);
	assert_true(o.verbose);
	assert_string_equal(o.service, "svc");
	PARSE_OK(&o, "-t0.5", "1234");
	assert_true(o.threshold_ms == 0.5);
	PARSE_OK(&o, "-t", "0", "1234");
	assert_true(o.threshold_ms == 0);
	PARSE_OK(&o, "-vt", "3", "1234");
	assert_true(o.verbose);
	assert_true(o.threshold_ms == 3);
}

static void test_fail_on_values(void **state)
{
	struct options o;

	(void)state;
	PARSE_OK(&o, "--fail-on", "event", "1234");
	assert_int_equal(o.fail_on, FAIL_ON_EVENT);
	PARSE_OK(&o, "--fail-on", "error", "1234");
	assert_int_equal(o.fail_on, FAIL_ON_ERROR);
	PARSE_OK(&o, "--fail-on", "event", "--fail-on", "none", "1234");
	assert_int_equal(o.fail_on, FAIL_ON_NONE);
	/* "none" is no policy, so it is fine with --stats. */
	PARSE_OK(&o, "--stats", "--fail-on", "none", "1234");
	assert_int_equal(o.fail_on, FAIL_ON_NONE);
}

static void test_fail_on_loss(void **state)
{
	struct options o;

	(void)state;
	PARSE_OK(&o, "1234");
	assert_false(o.fail_on_loss);
	PARSE_OK(&o, "--fail-on-loss", "1234");
	assert_true(o.fail_on_loss);
	assert_int_equal(o.fail_on, FAIL_ON_NONE); /* independent of --fail-on */
	PARSE_OK(&o, "--fail-on-loss", "--fail-on", "error", "--", "python3", "app.py");
	assert_true(o.fail_on_loss);
	assert_int_equal(o.fail_on, FAIL_ON_ERROR);
	/* Stats mode loses no gap (the kernel counts them), but an output
	 * can still fail to write its records. */
	PARSE_OK(&o, "--stats", "--fail-on-loss", "1234");
	assert_true(o.fail_on_loss);
	USAGE("'--fail-on-loss=yes'", "--fail-on-loss=yes", "1234"); /* takes no value */
}

static void test_help_and_version(void **state)
{
	struct options o;

	(void)state;
	PARSE_OK(&o, "--help");
	assert_int_equal(o.command, CMD_HELP);
	PARSE_OK(&o, "-h");
	assert_int_equal(o.command, CMD_HELP);
	PARSE_OK(&o, "--version");
	assert_int_equal(o.command, CMD_VERSION);
	/* No target is needed, and anything else given does not matter. */
	PARSE_OK(&o, "-t", "50", "--version");
	assert_int_equal(o.command, CMD_VERSION);
	assert_true(strstr(options_usage, "Usage: blocksnoop") == options_usage);
	assert_non_null(strstr(options_usage, "--fail-on"));
}

/* ---- PID and command placement ---------------------------------------- */

static void test_pid_before_and_after_options(void **state)
{
	struct options o;

	(void)state;
	PARSE_OK(&o, "1234", "-t", "50");
	assert_int_equal(o.pid, 1234);
	assert_true(o.threshold_ms == 50);
	assert_null(o.launch_argv);

	PARSE_OK(&o, "-t", "50", "1234", "--json");
	assert_int_equal(o.pid, 1234);
	assert_true(o.json);
	assert_null(o.launch_argv);

	PARSE_OK(&o, "--tid", "77", "1234", "-t", "60", "--no-color");
	assert_int_equal(o.pid, 1234);
	assert_int_equal(o.tid, 77);
	assert_true(o.threshold_ms == 60);
	assert_true(o.no_color);
}

static void test_command_after_double_dash(void **state)
{
	struct options o;
	char *argv[] = { "blocksnoop", "-t", "50", "--", "python3", "app.py",
			 "--json", "-t", "9", NULL };

	(void)state;
	assert_int_equal(options_parse(ARGC(argv), argv, &o, err, sizeof(err)), 0);
	assert_int_equal(o.pid, 0);
	assert_int_equal(o.tid, 0);
	assert_ptr_equal(o.launch_argv, &argv[4]); /* points into argv */
	assert_string_equal(o.launch_argv[0], "python3");
	assert_string_equal(o.launch_argv[1], "app.py");
	assert_string_equal(o.launch_argv[2], "--json");
	assert_string_equal(o.launch_argv[3], "-t");
	assert_string_equal(o.launch_argv[4], "9");
	assert_null(o.launch_argv[5]);
	/* The command's options are not ours. */
	assert_true(o.threshold_ms == 50);
	assert_false(o.json);
}

static void test_numeric_command_after_double_dash(void **state)
{
	struct options o;

	(void)state;
	/* After "--" even a number is a command, not a PID. */
	PARSE_OK(&o, "--", "1234");
	assert_int_equal(o.pid, 0);
	assert_non_null(o.launch_argv);
	assert_string_equal(o.launch_argv[0], "1234");
	assert_null(o.launch_argv[1]);
}

static void test_command_without_double_dash(void **state)
{
	struct options o;

	(void)state;
	PARSE_OK(&o, "-t", "50", "python3", "app.py", "-v");
	assert_int_equal(o.pid, 0);
	assert_non_null(o.launch_argv);
	assert_string_equal(o.launch_argv[0], "python3");
	assert_string_equal(o.launch_argv[1], "app.py");
	assert_string_equal(o.launch_argv[2], "-v");
	assert_null(o.launch_argv[3]);
	assert_false(o.verbose); /* -v was the command's */
	assert_true(o.threshold_ms == 50);

	/* A path is not a PID either. */
	PARSE_OK(&o, "./1234");
	assert_int_equal(o.pid, 0);
	assert_string_equal(o.launch_argv[0], "./1234");
}

/* argv itself is left untouched (no permutation). */
static void test_argv_not_modified(void **state)
{
	struct options o;
	char *argv[] = { "blocksnoop", "-t", "50", "python3", "-v", "--json", "x", NULL };
	char *copy[ARGC(argv) + 1];

	(void)state;
	memcpy(copy, argv, sizeof(argv));
	assert_int_equal(options_parse(ARGC(argv), argv, &o, err, sizeof(err)), 0);
	for (int i = 0; i <= ARGC(argv); i++)
		assert_ptr_equal(argv[i], copy[i]);
	assert_ptr_equal(o.launch_argv, &argv[3]);
}

/* ---- usage errors ---------------------------------------------------- */

static void test_bad_threshold(void **state)
{
	(void)state;
	USAGE("abc", "-t", "abc", "1234");
	USAGE("-1", "-t", "-1", "1234");
	USAGE("nan", "-t", "nan", "1234");
	USAGE("inf", "-t", "inf", "1234");
	USAGE("threshold", "-t", "", "1234");
	USAGE("50ms", "-t", "50ms", "1234");
	USAGE("1e999", "-t", "1e999", "1234");
	USAGE("abc", "--error-threshold", "abc", "1234");
	USAGE("-5", "--error-threshold", "-5", "1234");
	USAGE("nan", "--correlation-padding", "nan", "1234");
}

/*
 * Each number option at its boundaries: the last value in, the first out,
 * and the forms strtod would take but a person does not mean (hex,
 * exponents, inf). The message names the option, the value and the range.
 */
static void expect_range_error(const char *option, const char *value, const char *range)
{
	char *argv[] = { "blocksnoop", (char *)option, (char *)value, "1234", NULL };

	expect_usage(ARGC(argv), argv, value);
	if (!strstr(err, option) || !strstr(err, range))
		fail_msg("message '%s' does not name %s and '%s'", err, option, range);
}

static void test_number_ranges(void **state)
{
	static const char *const ms_options[] = {
		"--threshold", "--error-threshold", "--correlation-padding",
	};
	static const char *const never[] = {
		"1e300", "2e13", "1e3", "0x10", "inf", "nan", "-0", "+5", " 5", "5 ", "",
	};
	const char *ms = "from 0 to 3600000 milliseconds";
	struct options o;

	(void)state;
	for (size_t i = 0; i < sizeof(ms_options) / sizeof(ms_options[0]); i++) {
		const char *opt = ms_options[i];

		parse_ok(&o, 4, (char *[]){ "blocksnoop", (char *)opt, "0", "1234", NULL });
		parse_ok(&o, 4, (char *[]){ "blocksnoop", (char *)opt, "3600000", "1234", NULL });
		expect_range_error(opt, "3600000.001", ms);
		expect_range_error(opt, "20000000000000", ms);
		for (size_t j = 0; j < sizeof(never) / sizeof(never[0]); j++)
			expect_range_error(opt, never[j], ms);
	}
	PARSE_OK(&o, "-t", "3600000", "1234");
	assert_true(o.threshold_ms == 3600000);
	USAGE("3600000 milliseconds", "-t", "1e300", "1234");
	USAGE("0x10", "-t0x10", "1234");

	PARSE_OK(&o, "--interval", "0.5", "1234");
	assert_true(o.interval_ms == 0.5);
	PARSE_OK(&o, "--interval", "50", "1234");
	assert_true(o.interval_ms == 50);
	for (size_t j = 0; j < sizeof(never) / sizeof(never[0]); j++)
		expect_range_error("--interval", never[j], "from 0.5 to 50 milliseconds");
	expect_range_error("--interval", "0.499", "from 0.5 to 50 milliseconds");
	expect_range_error("--interval", "0.000001", "from 0.5 to 50 milliseconds");
	expect_range_error("--interval", "50.001", "from 0.5 to 50 milliseconds");
	expect_range_error("--interval", "0", "from 0.5 to 50 milliseconds");

	PARSE_OK(&o, "--duration", "0.001", "1234");
	assert_true(o.duration_s == 0.001);
	PARSE_OK(&o, "--duration", "31536000", "1234");
	assert_true(o.duration_s == 31536000);
	for (size_t j = 0; j < sizeof(never) / sizeof(never[0]); j++)
		expect_range_error("--duration", never[j], "more than 0 and at most 31536000 seconds");
	expect_range_error("--duration", "0", "more than 0 and at most 31536000 seconds");
	expect_range_error("--duration", "31536000.001", "more than 0 and at most 31536000 seconds");
}

static void test_bad_duration(void **state)
{
	(void)state;
	USAGE("duration", "--duration", "0", "1234");
	USAGE("duration", "--duration", "-1", "1234");
	USAGE("duration", "--duration", "x", "1234");
	USAGE("duration", "--duration", "inf", "1234");
}

static void test_bad_ids(void **state)
{
	(void)state;
	USAGE("x", "--tid", "x", "1234");
	USAGE("tid", "--tid", "0", "1234");
	USAGE("tid", "--tid", "-3", "1234");
	USAGE("tid", "--tid", "12a", "1234");
	USAGE("tid", "--tid", "99999999999", "1234");
	USAGE("PID", "0");
	USAGE("PID", "99999999999");
}

static void test_target_errors(void **state)
{
	(void)state;
	/* --tid without a PID (launch mode). */
	USAGE("--tid", "--tid", "5", "--", "python3");
	/* A PID and a command. */
	USAGE("not both", "1234", "--", "python3");
	USAGE("not both", "1234", "python3");
	/* A second PID is a command, hence "both". */
	USAGE("not both", "1234", "5678");
	/* Nothing at all. */
	expect_usage(1, (char *[]){ "blocksnoop", NULL }, "nothing to watch");
	USAGE("nothing to watch", "-t", "50");
	USAGE("nothing to watch", "--");
}

static void test_fail_on_errors(void **state)
{
	(void)state;
	USAGE("bogus", "--fail-on", "bogus", "1234");
	USAGE("Event", "--fail-on", "Event", "1234");
	USAGE("--stats", "--stats", "--fail-on", "event", "1234");
	USAGE("--stats", "--fail-on", "error", "--stats", "1234");
}

static void test_unknown_and_missing(void **state)
{
	(void)state;
	USAGE("--bogus", "--bogus", "1234");
	USAGE("-x", "-x", "1234");
	USAGE("--json=1", "--json=1", "1234");
	/* Missing values, short and long, at the end of argv. */
	USAGE("-t", "1234", "-t");
	USAGE("--service", "1234", "--service");
	USAGE("--duration", "1234", "--duration");
	USAGE("--fail-on", "1234", "--fail-on");
}

/* An unknown letter inside a cluster must be named, not argv[0] or a
 * neighbour. */
static void test_unknown_in_cluster(void **state)
{
	(void)state;
	USAGE("x", "-vx", "1234");
	USAGE("x", "-xv", "1234");
	USAGE("x", "1234", "-xv");
}

/* ---- repeated calls --------------------------------------------------- */

/* getopt keeps global state; options_parse must reset it every call. */
static void test_repeated_calls(void **state)
{
	struct options o;

	(void)state;
	for (int i = 0; i < 3; i++) {
		USAGE("abc", "-t", "abc", "1234");
		PARSE_OK(&o, "-t", "50", "1234");
		assert_int_equal(o.pid, 1234);
		assert_true(o.threshold_ms == 50);
		/* A call that stopped in mid-cluster ("v" pending) must not
		 * leak the rest of that cluster into the next call. */
		USAGE(NULL, "-xv", "1234");
		PARSE_OK(&o, "-t", "50", "1234");
		assert_false(o.verbose);
		PARSE_OK(&o, "-hv");
		assert_int_equal(o.command, CMD_HELP);
		PARSE_OK(&o, "1234");
		assert_int_equal(o.command, CMD_RUN);
		assert_false(o.verbose);
		PARSE_OK(&o, "-v", "99");
		assert_int_equal(o.pid, 99);
		assert_true(o.verbose);
		assert_true(o.threshold_ms == 100); /* defaults re-applied */
		PARSE_OK(&o, "--", "true");
		assert_int_equal(o.pid, 0);
		assert_false(o.verbose);
		assert_string_equal(o.launch_argv[0], "true");
	}
}

/* Quoted values cannot break the one-line message: control characters
 * (a newline, an escape sequence) are shown as \xNN. */
static void test_message_escapes_control_characters(void **state)
{
	(void)state;
	USAGE("'5\\x0a\\x1b[2J'", "-t", "5\n\033[2J", "1234");
	USAGE("'--bogus\\x0dx'", "--bogus\rx", "1234");
	USAGE("caf\xc3\xa9", "--fail-on", "caf\xc3\xa9", "1234"); /* UTF-8 stays */
}

/* A tiny err buffer is never overrun and still NUL-terminated. */
static void test_small_error_buffer(void **state)
{
	struct options o;
	char small[8];

	(void)state;
	memset(small, 'X', sizeof(small));
	assert_int_equal(options_parse(3, ARGV("-t", "abc"), &o, small, sizeof(small)),
			 EXIT_USAGE);
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_attach),
		cmocka_unit_test(test_stats_threshold_default),
		cmocka_unit_test(test_sampler_options),
		cmocka_unit_test(test_follow_options),
		cmocka_unit_test(test_metrics_addr),
		cmocka_unit_test(test_all_options),
		cmocka_unit_test(test_long_and_attached_forms),
		cmocka_unit_test(test_fail_on_values),
		cmocka_unit_test(test_fail_on_loss),
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_pid_before_and_after_options),
		cmocka_unit_test(test_command_after_double_dash),
		cmocka_unit_test(test_numeric_command_after_double_dash),
		cmocka_unit_test(test_command_without_double_dash),
		cmocka_unit_test(test_argv_not_modified),
		cmocka_unit_test(test_bad_threshold),
		cmocka_unit_test(test_bad_duration),
		cmocka_unit_test(test_number_ranges),
		cmocka_unit_test(test_bad_ids),
		cmocka_unit_test(test_target_errors),
		cmocka_unit_test(test_fail_on_errors),
		cmocka_unit_test(test_unknown_and_missing),
		cmocka_unit_test(test_unknown_in_cluster),
		cmocka_unit_test(test_repeated_calls),
		cmocka_unit_test(test_message_escapes_control_characters),
		cmocka_unit_test(test_small_error_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
