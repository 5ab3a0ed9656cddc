// SPDX-License-Identifier: Apache-2.0
/*
 * test_austin_diag.c - agent/austin/austin_diag.h: Austin's exit statuses
 * and stderr put into words (with the real message Austin 3.7.0 printed
 * for a process that is not Python: tests/fixtures/austin_stderr_*), the
 * version line, finding Austin on PATH or in a root file system, and what
 * `blocksnoop doctor` says about it (doctor_report() on given facts).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "austin/austin_diag.h"
#include "doctor.h"
#include "unit_helpers.h"

/* A wait status as waitpid() gives it. */
static int exited(int code)
{
	return (code & 0xff) << 8;
}

static void expect_exit(int wstatus, bool shim, const char *want)
{
	char out[256];

	austin_describe_exit(wstatus, shim, 42, out, sizeof(out));
	if (!strstr(out, want))
		fail_msg("'%s' does not say '%s'", out, want);
}

static void test_exit_codes(void **state)
{
	(void)state;
	expect_exit(exited(0), false, "stopped while PID 42 runs (exit status 0)");
	expect_exit(exited(3), false, "cannot tell the Python version of PID 42");
	expect_exit(exited(32), false, "found no Python interpreter in PID 42");
	expect_exit(exited(35), false, "timed out");
	expect_exit(exited(36), false, "cannot attach to PID 42");
	expect_exit(exited(37), false, "CAP_SYS_PTRACE");
	expect_exit(exited(38), false, "finds no process 42");
	expect_exit(exited(64), false, "Austin 3 or later");
	expect_exit(exited(127), false, "could not be executed");
	expect_exit(exited(241), false, "stopped by SIGTERM");
	expect_exit(exited(241), true, "stopped by SIGTERM");
	expect_exit(exited(254), false, "stopped by SIGINT");
	expect_exit(exited(99), false, "failed (exit status 99)");
	expect_exit(SIGKILL, false, "killed by signal 9");
	expect_exit(SIGSEGV, true, "killed by signal 11");
	/* Through the shim, 128 + N is death by signal N. */
	expect_exit(exited(137), true, "killed by signal 9");
	expect_exit(exited(137), false, "failed (exit status 137)");
	expect_exit(exited(125), true, "could not be started in the namespaces of PID 42");
}

/* The real text, status and all, of Austin 3.7.0 on a non-Python PID. */
static void test_real_not_python(void **state)
{
	char *text = uh_read_file("tests/fixtures/austin_stderr_not_python.txt");
	char *status = uh_read_file("tests/fixtures/austin_stderr_not_python.status");
	char line[400], why[256];

	(void)state;
	assert_non_null(text);
	assert_non_null(status);
	assert_int_equal(atoi(status), AUSTIN_EXIT_PROC);
	austin_one_line(text, strlen(text), line, sizeof(line));
	assert_string_equal(line,
		"It looks like you are trying to profile a process that is not a Python "
		"process. Make sure that you are targeting the right application. If the "
		"Python process is actually a child of the target process then use the -C "
		"option to discover it automatically.");
	austin_describe_exit(exited(atoi(status)), false, 7, why, sizeof(why));
	assert_non_null(strstr(why, "no Python interpreter in PID 7:"));
	free(text);
	free(status);
}

static void test_one_line(void **state)
{
	char out[16];

	(void)state;
	austin_one_line("", 0, out, sizeof(out));
	assert_string_equal(out, "");
	austin_one_line("  \n\t a\r\nb\x1b[0m  ", 15, out, sizeof(out));
	assert_string_equal(out, "a b [0m");
	/* Too long: the tail is kept. */
	austin_one_line("0123456789 abcdefghij", 21, out, sizeof(out));
	assert_string_equal(out, "6789 abcdefghij");
	assert_int_equal(strlen(out), 15);
	austin_one_line("0123456789abcdefghij", 20, out, sizeof(out));
	assert_string_equal(out, "56789abcdefghij");
}

static void test_version(void **state)
{
	int v[3];

	(void)state;
	assert_int_equal(austin_parse_version("austin 3.7.0\n", v), 0);
	assert_int_equal(v[0], 3);
	assert_int_equal(v[1], 7);
	assert_int_equal(v[2], 0);
	assert_int_equal(austin_parse_version("austin 4.1\n", v), 0);
	assert_int_equal(v[0], 4);
	assert_int_equal(v[1], 1);
	assert_int_equal(v[2], 0);
	assert_int_equal(austin_parse_version("austin 4.0.0-dev\n", v), 0);
	assert_int_equal(v[0], 4);
	assert_int_equal(austin_parse_version("Python 3.11.2", v), -1);
	assert_int_equal(austin_parse_version("austin x", v), -1);
	assert_int_equal(austin_parse_version("austin 3", v), -1);
}

/* A fake root with usr/bin/austin; PATH lookups in blocksnoop's own root. */
static void test_locate(void **state)
{
	char root[] = "/tmp/test_austin_diag.XXXXXX", path[PATH_MAX], err[256], file[PATH_MAX];
	char *old_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(file, sizeof(file), "%s/usr", root);
	assert_int_equal(mkdir(file, 0755), 0);
	snprintf(file, sizeof(file), "%s/usr/bin", root);
	assert_int_equal(mkdir(file, 0755), 0);
	snprintf(file, sizeof(file), "%s/usr/bin/austin", root);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("#!/bin/sh\necho austin 9.9.9\n", f);
	fclose(f);

	/* In a root: the path inside it. */
	assert_int_equal(austin_locate(root, NULL, path, sizeof(path), err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no 'austin' in"));
	assert_int_equal(chmod(file, 0755), 0);
	assert_int_equal(austin_locate(root, NULL, path, sizeof(path), err, sizeof(err)), 0);
	assert_string_equal(path, "/usr/bin/austin");
	assert_int_equal(austin_locate(root, "/usr/bin/austin", path, sizeof(path), err,
				       sizeof(err)), 0);
	assert_string_equal(path, "/usr/bin/austin");
	assert_int_equal(austin_locate(root, "/opt/austin", path, sizeof(path), err,
				       sizeof(err)), -ENOENT);
	assert_int_equal(austin_locate(root, "bin/austin", path, sizeof(path), err,
				       sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "absolute path inside --austin-root"));

	/* In "/": PATH, or the path given. */
	snprintf(file, sizeof(file), "/nonexistent:%s/usr/bin", root);
	setenv("PATH", file, 1);
	assert_int_equal(austin_locate("/", NULL, path, sizeof(path), err, sizeof(err)), 0);
	snprintf(file, sizeof(file), "%s/usr/bin/austin", root);
	assert_string_equal(path, file);
	assert_int_equal(austin_locate("/", file, path, sizeof(path), err, sizeof(err)), 0);
	assert_string_equal(path, file);
	setenv("PATH", "/nonexistent", 1);
	assert_int_equal(austin_locate("/", NULL, path, sizeof(path), err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "not on PATH"));
	if (old_path)
		setenv("PATH", old_path, 1);
	free(old_path);

	/* austin -V of a program in "/" (run directly). */
	snprintf(file, sizeof(file), "%s/usr/bin/austin", root);
	assert_int_equal(austin_run_version("/", file, path, sizeof(path), err, sizeof(err)), 0);
	assert_string_equal(path, "austin 9.9.9");
	uh_rmtree(root);
}

/* doctor_report() on facts, and the line about Austin that starts with `start`. */
static char *doctor_line(const struct doctor_facts *f, const char *start)
{
	char *text = NULL, *found, *end;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	doctor_report(out, f);
	fclose(out);
	found = strstr(text, start);
	if (!found)
		fail_msg("no line starting '%s' in:\n%s", start, text);
	end = strchr(found, '\n');
	found = strndup(found, end ? (size_t)(end - found) : strlen(found));
	free(text);
	return found;
}

static void test_doctor_report(void **state)
{
	struct doctor_facts f = { 0 };
	char *l;

	(void)state;
	/* Not checked: no line. */
	l = NULL;
	{
		char *text = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&text, &len);

		doctor_report(out, &f);
		fclose(out);
		assert_null(strstr(text, "Austin"));
		free(text);
	}
	strcpy(f.austin_root, "/");
	strcpy(f.austin_error, "'austin' is not on PATH: install Austin 3 or later");
	l = doctor_line(&f, "ok    Austin");
	assert_string_equal(l, "ok    Austin not found, which only --sampler austin needs: 'austin' is not on PATH: install Austin 3 or later");
	free(l);
	f.austin_wanted = true;
	l = doctor_line(&f, "FAIL  Austin");
	assert_string_equal(l, "FAIL  Austin (--sampler austin) not found: 'austin' is not on PATH: install Austin 3 or later");
	free(l);

	f.austin_found = true;
	strcpy(f.austin_path, "/usr/bin/austin");
	strcpy(f.austin_root, "/rootfs");
	strcpy(f.austin_version, "austin 3.7.0");
	f.austin_version_parsed = true;
	f.austin_v[0] = 3, f.austin_v[1] = 7;
	l = doctor_line(&f, "ok    Austin 3");
	assert_string_equal(l, "ok    Austin 3.7.0 at /usr/bin/austin in /rootfs (--sampler austin): text output in pipe mode");
	free(l);
	f.austin_v[0] = 4, f.austin_v[1] = 1;
	l = doctor_line(&f, "ok    Austin 4");
	assert_non_null(strstr(l, ": MOJO (binary) output in pipe mode"));
	free(l);
	f.austin_v[0] = 1, f.austin_v[1] = 0, f.austin_v[2] = 1;
	l = doctor_line(&f, "FAIL  Austin 1.0.1");
	assert_non_null(strstr(l, "too old: --sampler austin needs Austin 3 or later"));
	free(l);
	f.austin_wanted = false;
	l = doctor_line(&f, "warn  Austin 1.0.1");
	free(l);
	f.austin_version_parsed = false;
	strcpy(f.austin_version, "Python 3.11.2");
	l = doctor_line(&f, "warn  /usr/bin/austin in /rootfs is not Austin");
	free(l);

	/* The shim, for a PID. */
	f.austin_version_parsed = true;
	f.austin_v[0] = 3;
	f.pid = 42;
	f.pid_exists = true;
	f.inner_pid = 1;
	f.austin_shim = f.austin_shim_known = true;
	f.effective = 1ULL << CAP_SYS_ADMIN;
	l = doctor_line(&f, "ok    Austin for PID 42");
	assert_string_equal(l, "ok    Austin for PID 42 runs through blocksnoop's namespace shim (Austin comes from --austin-root), with -p 1");
	free(l);
	strcpy(f.austin_root, "/");
	f.effective = 0;
	l = doctor_line(&f, "warn  Austin for PID 42");
	assert_non_null(strstr(l, "the target's mount namespace or root differs from blocksnoop's), with -p 1; entering its namespaces needs CAP_SYS_ADMIN"));
	free(l);
	f.austin_shim = false;
	f.austin_elf = true;
	l = doctor_line(&f, "ok    Austin for PID 42 runs confined through blocksnoop's namespace shim, entering nothing");
	free(l);
	f.austin_elf = false;
	l = doctor_line(&f, "warn  Austin for PID 42 is not an ELF binary");
	free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_real_not_python),
		cmocka_unit_test(test_one_line),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_locate),
		cmocka_unit_test(test_doctor_report),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
