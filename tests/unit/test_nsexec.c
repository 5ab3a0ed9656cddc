// SPDX-License-Identifier: Apache-2.0
/*
 * test_nsexec.c - the nsexec shim (nsexec/): its strict argument form, the
 * status lines, the loader's command line, library-directory and in-root
 * path resolution, ELF reading, the library check, the preloaded object,
 * and nsexec_spawn() for real against this very process (same namespaces,
 * root "/"): exit status, output fds, signal forwarding, death with the
 * shim, capabilities, fds, no exec and no new executable memory, errors
 * that leave nothing running.
 *
 * nsexec_spawn() re-executes /proc/self/exe, which here is this test
 * binary: main() therefore dispatches "nsexec" to nsexec_main() as
 * blocksnoop's main() does. It also has a driver mode for
 * tests/e2e/test_nsexec.py:
 *
 *   test_nsexec spawn TARGET ROOT KEEP_CAPS_HEX -- PROGRAM [ARG...]
 *
 * runs nsexec_spawn() (stdout, stderr and environment: ours), prints
 * "nsexec-pid N" on stderr, waits, prints "nsexec-exit CODE" and exits with
 * CODE; on failure prints "nsexec-error ERRNO MESSAGE" and exits 125.
 *
 * And two programs for the spawn tests, run through the shim (a program
 * there may not exec, so it cannot be a shell script calling sleep):
 *
 *   test_nsexec signals      exits 11, 12, 13 on SIGINT, SIGHUP, SIGTERM
 *                            once "ready" is printed;
 *   test_nsexec exec-memory  says whether mmap/mprotect PROT_EXEC work.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nsexec.h"
#include "enter.h"
#include "nsexec_internal.h"
#include "unit_helpers.h"

#define CAP_SYS_PTRACE_BIT (UINT64_C(1) << 19)

extern char **environ;

/* ---- helpers ------------------------------------------------------------------ */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int parse(char **argv, struct nsexec_args *a, char *err, size_t errlen)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	return nsexec_parse_args(argc, argv, a, err, errlen);
}

/* True if it parses; err says why not. */
static bool parses(char **argv)
{
	struct nsexec_args a;
	char err[256] = "";
	int ret = parse(argv, &a, err, sizeof(err));

	if (ret)
		assert_true(strlen(err) > 0);
	return ret == 0;
}

static int reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	return nsexec_exit_code(status);
}

static void expect_no_children(void)
{
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/* The first child of pid (from /proc/PID/task/PID/children), waiting up to 2 s. */
static pid_t child_of(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	for (int i = 0; i < 200; i++) {
		char *s = uh_read_file(path);
		long c = s ? strtol(s, NULL, 10) : 0;

		free(s);
		if (c > 0)
			return (pid_t)c;
		sleep_ms(10);
	}
	fail_msg("pid %d has no child", (int)pid);
	return -1;
}

/* Whether pid runs (exists and is not a zombie). */
static bool alive(pid_t pid)
{
	char path[64], *s, *p;
	bool ret;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	s = uh_read_file(path);
	if (!s || !*s) {
		free(s);
		return false;
	}
	p = strrchr(s, ')');
	ret = p && p[1] == ' ' && p[2] != 'Z';
	free(s);
	return ret;
}

static void expect_gone(pid_t pid)
{
	for (int i = 0; i < 200 && alive(pid); i++)
		sleep_ms(10);
	assert_false(alive(pid));
}

/* A temporary file for a spawned program's output; read back with uh_read_fd_file. */
static int tmpfd(void)
{
	char path[] = "/tmp/test_nsexec.XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);

	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

struct spawned {
	pid_t pid;
	int out, err;
	int ret;
	char msg[512];
};

/* The environment spawn() gives the program (NULL: empty). */
static char *const *spawn_env;

/* nsexec_spawn() of argv (argv[0] the program, in root) against this process. */
static void spawn_in(struct spawned *s, const char *root, uint64_t keep, char **argv)
{
	struct nsexec_request req = {
		.target = getpid(),
		.root = root,
		.program = argv[0],
		.args = argv + 1,
		.keep_caps = keep,
		.env = spawn_env,
	};

	s->out = req.stdout_fd = tmpfd();
	s->err = req.stderr_fd = tmpfd();
	s->pid = -1;
	s->msg[0] = '\0';
	s->ret = nsexec_spawn(&req, &s->pid, s->msg, sizeof(s->msg));
}

/* The same in root "/". */
static void spawn(struct spawned *s, uint64_t keep, char **argv)
{
	spawn_in(s, "/", keep, argv);
}

/* Copy src to dst with mode (for roots made by the tests). */
static void copy_file(const char *src, const char *dst, mode_t mode)
{
	char buf[65536];
	int in = open(src, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	assert_true(in >= 0);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	close(out);
}

static void spawned_close(struct spawned *s)
{
	close(s->out);
	close(s->err);
}

/* ---- nsexec_parse_args ------------------------------------------------------------- */

static void test_parse_full(void **state)
{
	char *argv[] = { "nsexec", "--status-fd", "3", "--target", "4242", "--root", "/srv/r",
			 "--keep-caps", "0x80000", "--parent", "17", "--", "/usr/bin/austin",
			 "-p", "1", NULL };
	struct nsexec_args a;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(argv, &a, err, sizeof(err)), 0);
	assert_int_equal(a.status_fd, 3);
	assert_int_equal(a.target, 4242);
	assert_string_equal(a.root, "/srv/r");
	assert_true(a.keep_caps == CAP_SYS_PTRACE_BIT);
	assert_int_equal(a.parent, 17);
	assert_string_equal(a.program[0], "/usr/bin/austin");
	assert_string_equal(a.program[1], "-p");
	assert_string_equal(a.program[2], "1");
	assert_null(a.program[3]);
}

static void test_parse_minimal(void **state)
{
	char *argv[] = { "nsexec", "--target", "1", "--root", "/", "--keep-caps", "0x0", "--",
			 "/bin/true", NULL };
	struct nsexec_args a;
	char err[256];

	(void)state;
	assert_int_equal(parse(argv, &a, err, sizeof(err)), 0);
	assert_int_equal(a.status_fd, -1);
	assert_int_equal(a.parent, 0);
	assert_true(a.keep_caps == 0);
	assert_null(a.program[1]);
}

static void test_parse_rejects_numbers(void **state)
{
	static const char *bad_pids[] = { "", "0", "-1", "+1", "01", "1x", " 1", "1 ", "0x10",
					  "2147483648", "99999999999999999999999" };
	static const char *bad_caps[] = { "", "0x", "80000", "0X1", "0x1G", "0xABC",
					  "0x11111111111111111", "-0x1", "0x 1" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad_pids) / sizeof(bad_pids[0]); i++) {
		char *argv[] = { "nsexec", "--target", (char *)bad_pids[i], "--root", "/",
				 "--keep-caps", "0x0", "--", "/bin/true", NULL };
		char *argv2[] = { "nsexec", "--target", "1", "--root", "/", "--keep-caps", "0x0",
				  "--parent", (char *)bad_pids[i], "--", "/bin/true", NULL };
		char *argv3[] = { "nsexec", "--status-fd", (char *)bad_pids[i], "--target", "1",
				  "--root", "/", "--keep-caps", "0x0", "--", "/bin/true", NULL };

		assert_false(parses(argv));
		assert_false(parses(argv2));
		assert_false(parses(argv3));
	}
	for (size_t i = 0; i < sizeof(bad_caps) / sizeof(bad_caps[0]); i++) {
		char *argv[] = { "nsexec", "--target", "1", "--root", "/", "--keep-caps",
				 (char *)bad_caps[i], "--", "/bin/true", NULL };

		assert_false(parses(argv));
	}
	{
		/* the largest values that are fine */
		char *argv[] = { "nsexec", "--target", "2147483647", "--root", "/", "--keep-caps",
				 "0xffffffffffffffff", "--", "/bin/true", NULL };

		assert_true(parses(argv));
	}
	{
		/* status fds 0-2 are stdin, stdout, stderr */
		char *argv[] = { "nsexec", "--status-fd", "2", "--target", "1", "--root", "/",
				 "--keep-caps", "0x0", "--", "/bin/true", NULL };

		assert_false(parses(argv));
	}
}

static void test_parse_rejects_structure(void **state)
{
	char *repeated[] = { "nsexec", "--target", "1", "--target", "2", "--root", "/",
			     "--keep-caps", "0x0", "--", "/bin/true", NULL };
	char *unknown[] = { "nsexec", "--target", "1", "--root", "/", "--keep-caps", "0x0",
			    "--verbose", "1", "--", "/bin/true", NULL };
	char *no_root[] = { "nsexec", "--target", "1", "--keep-caps", "0x0", "--", "/bin/true",
			    NULL };
	char *no_caps[] = { "nsexec", "--target", "1", "--root", "/", "--", "/bin/true", NULL };
	char *no_dashdash[] = { "nsexec", "--target", "1", "--root", "/", "--keep-caps", "0x0",
				NULL };
	char *no_program[] = { "nsexec", "--target", "1", "--root", "/", "--keep-caps", "0x0",
			       "--", NULL };
	char *rel_program[] = { "nsexec", "--target", "1", "--root", "/", "--keep-caps", "0x0",
				"--", "austin", NULL };
	char *rel_root[] = { "nsexec", "--target", "1", "--root", "rootfs", "--keep-caps", "0x0",
			     "--", "/bin/true", NULL };
	char *no_value[] = { "nsexec", "--target", "1", "--root", "/", "--keep-caps", NULL };
	char *status_late[] = { "nsexec", "--target", "1", "--status-fd", "3", "--root", "/",
				"--keep-caps", "0x0", "--", "/bin/true", NULL };
	char *wrong_cmd[] = { "doctor", "--target", "1", "--root", "/", "--keep-caps", "0x0",
			      "--", "/bin/true", NULL };

	(void)state;
	assert_false(parses(repeated));
	assert_false(parses(unknown));
	assert_false(parses(no_root));
	assert_false(parses(no_caps));
	assert_false(parses(no_dashdash));
	assert_false(parses(no_program));
	assert_false(parses(rel_program));
	assert_false(parses(rel_root));
	assert_false(parses(no_value));
	assert_false(parses(status_late));
	assert_false(parses(wrong_cmd));
}

/* The status fd is known even when a later argument is junk, so the
 * error reaches blocksnoop. */
static void test_parse_status_fd_survives_errors(void **state)
{
	char *argv[] = { "nsexec", "--status-fd", "3", "--target", "junk", NULL };
	struct nsexec_args a;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(argv, &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(a.status_fd, 3);
	assert_non_null(strstr(err, "--target"));
}

static void test_parse_too_many_args(void **state)
{
	static char *argv[NSEXEC_MAX_ARGS + 16];
	int n = 0;

	(void)state;
	argv[n++] = "nsexec";
	argv[n++] = "--target";
	argv[n++] = "1";
	argv[n++] = "--root";
	argv[n++] = "/";
	argv[n++] = "--keep-caps";
	argv[n++] = "0x0";
	argv[n++] = "--";
	argv[n++] = "/bin/true";
	for (int i = 0; i < NSEXEC_MAX_ARGS; i++)
		argv[n++] = "x";
	argv[n] = NULL;
	assert_true(parses(argv));
	argv[n++] = "x";
	argv[n] = NULL;
	assert_false(parses(argv));
}

/* ---- nsexec_format_args -------------------------------------------------------------- */

static void test_format_round_trip(void **state)
{
	char *args[] = { "-P", "-i", "1ms", "-p", "1", NULL };
	struct nsexec_request req = { .target = 31337, .root = "/opt/austin root",
				      .program = "/usr/bin/austin", .args = args,
				      .keep_caps = CAP_SYS_PTRACE_BIT | 1 };
	char *argv[32], nums[96], err[256];
	struct nsexec_args a;
	int n;

	(void)state;
	n = nsexec_format_args(&req, 1234, 3, argv, 32, nums, sizeof(nums), err, sizeof(err));
	assert_true(n > 0);
	assert_null(argv[n]);
	assert_string_equal(argv[0], "blocksnoop");
	assert_int_equal(nsexec_parse_args(n - 1, argv + 1, &a, err, sizeof(err)), 0);
	assert_int_equal(a.status_fd, 3);
	assert_int_equal(a.target, 31337);
	assert_string_equal(a.root, "/opt/austin root");
	assert_true(a.keep_caps == (CAP_SYS_PTRACE_BIT | 1));
	assert_int_equal(a.parent, 1234);
	for (int i = 0; i < 6; i++) {
		if (i == 0)
			assert_string_equal(a.program[0], "/usr/bin/austin");
		else if (args[i - 1])
			assert_string_equal(a.program[i], args[i - 1]);
		else
			assert_null(a.program[i]);
	}

	/* no status fd, no parent, no args */
	req.args = NULL;
	n = nsexec_format_args(&req, 0, -1, argv, 32, nums, sizeof(nums), err, sizeof(err));
	assert_true(n > 0);
	assert_int_equal(nsexec_parse_args(n - 1, argv + 1, &a, err, sizeof(err)), 0);
	assert_int_equal(a.status_fd, -1);
	assert_int_equal(a.parent, 0);
	assert_null(a.program[1]);
}

static void test_format_rejects(void **state)
{
	struct nsexec_request req = { .target = 1, .root = "/", .program = "/bin/true" };
	char *argv[32], nums[96], err[256];

	(void)state;
	req.target = 0;
	assert_int_equal(nsexec_format_args(&req, 0, -1, argv, 32, nums, sizeof(nums), err,
					    sizeof(err)), -EINVAL);
	req.target = 1;
	req.root = "relative";
	assert_int_equal(nsexec_format_args(&req, 0, -1, argv, 32, nums, sizeof(nums), err,
					    sizeof(err)), -EINVAL);
	req.root = "/";
	req.program = NULL;
	assert_int_equal(nsexec_format_args(&req, 0, -1, argv, 32, nums, sizeof(nums), err,
					    sizeof(err)), -EINVAL);
	req.program = "/bin/true";
	/* too small an argv */
	assert_int_equal(nsexec_format_args(&req, 0, -1, argv, 5, nums, sizeof(nums), err,
					    sizeof(err)), -E2BIG);
	assert_true(nsexec_format_args(&req, 0, -1, argv, 32, nums, sizeof(nums), err,
				       sizeof(err)) > 0);
}

/* ---- environment --------------------------------------------------------------------- */

static void test_check_env(void **state)
{
	static char *big[NSEXEC_MAX_ENV + 2];
	static char longval[NSEXEC_ENV_MAX + 8];
	char err[128];

	(void)state;
	assert_int_equal(nsexec_check_env(NULL, err, sizeof(err)), 0);
	assert_int_equal(nsexec_check_env((char *[]){ NULL }, err, sizeof(err)), 0);
	assert_int_equal(nsexec_check_env((char *[]){ "AUSTIN_NO_LOGGING=1", "A=", "_x9=a=b",
						       "LDX=1", NULL }, err, sizeof(err)), 0);
	static const char *bad[] = { "LD_PRELOAD=/x.so", "LD_LIBRARY_PATH=/x", "LD_=1",
				     "GLIBC_TUNABLES=glibc.malloc.check=3", "NOEQUALS", "=1",
				     "1A=1", "A-B=1", "A B=1", "Ä=1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *env[] = { "OK=1", (char *)bad[i], NULL };

		err[0] = '\0';
		assert_int_equal(nsexec_check_env(env, err, sizeof(err)), -EINVAL);
		assert_true(strlen(err) > 0);
	}
	for (int i = 0; i < NSEXEC_MAX_ENV; i++)
		big[i] = "A=1";
	assert_int_equal(nsexec_check_env(big, err, sizeof(err)), 0);
	big[NSEXEC_MAX_ENV] = "A=1";
	assert_int_equal(nsexec_check_env(big, err, sizeof(err)), -EINVAL);
	memset(longval, 'v', sizeof(longval) - 1);
	memcpy(longval, "A=", 2);
	assert_int_equal(nsexec_check_env((char *[]){ longval, NULL }, err, sizeof(err)), -EINVAL);
}

/* ---- status line, exit code ------------------------------------------------------------ */

static void test_parse_status(void **state)
{
	char msg[128];
	char big[NSEXEC_STATUS_MAX + 8];

	(void)state;
	assert_int_equal(nsexec_parse_status("2 open /x: No such file\n", 24, msg, sizeof(msg)), 2);
	assert_string_equal(msg, "open /x: No such file");
	assert_int_equal(nsexec_parse_status("4095 m\n", 7, msg, sizeof(msg)), 4095);
	assert_int_equal(nsexec_parse_status("", 0, msg, sizeof(msg)), -EPROTO);
	assert_int_equal(nsexec_parse_status("2 no newline", 12, msg, sizeof(msg)), -EPROTO);
	assert_int_equal(nsexec_parse_status("0 running\n", 10, msg, sizeof(msg)), -EPROTO);
	assert_int_equal(nsexec_parse_status("02 x\n", 5, msg, sizeof(msg)), -EPROTO);
	assert_int_equal(nsexec_parse_status("4096 x\n", 7, msg, sizeof(msg)), -EPROTO);
	assert_int_equal(nsexec_parse_status("2 \n", 3, msg, sizeof(msg)), -EPROTO);
	assert_int_equal(nsexec_parse_status("2\n", 2, msg, sizeof(msg)), -EPROTO);
	assert_int_equal(nsexec_parse_status("x 2\n", 4, msg, sizeof(msg)), -EPROTO);
	assert_int_equal(nsexec_parse_status("2 a\nb\n", 6, msg, sizeof(msg)), -EPROTO);
	assert_int_equal(nsexec_parse_status("2 a\0b\n", 6, msg, sizeof(msg)), -EPROTO);
	memset(big, 'a', sizeof(big));
	big[0] = '2';
	big[1] = ' ';
	big[sizeof(big) - 1] = '\n';
	assert_int_equal(nsexec_parse_status(big, sizeof(big), msg, sizeof(msg)), -EPROTO);
	/* a long message is truncated to msglen */
	assert_int_equal(nsexec_parse_status(big, NSEXEC_STATUS_MAX - 1, msg, 8), -EPROTO);
	big[NSEXEC_STATUS_MAX - 1] = '\n';
	assert_int_equal(nsexec_parse_status(big, NSEXEC_STATUS_MAX, msg, 8), 2);
	assert_string_equal(msg, "aaaaaaa");
}

static void test_exit_code(void **state)
{
	(void)state;
	assert_int_equal(nsexec_exit_code(0), 0);
	assert_int_equal(nsexec_exit_code(32 << 8), 32);
	assert_int_equal(nsexec_exit_code(SIGTERM), 128 + SIGTERM);
	assert_int_equal(nsexec_exit_code(SIGKILL), 128 + SIGKILL);
	assert_int_equal(nsexec_exit_code(0x137f), NSEXEC_EXIT_FAILED); /* stopped */
}

static void test_parse_setup(void **state)
{
	char msg[128];

	(void)state;
	assert_int_equal(nsexec_parse_setup("", 0, msg, sizeof(msg)), -ENODATA);
	assert_int_equal(nsexec_parse_setup("0 running\n", 10, msg, sizeof(msg)), 0);
	/* a failure, alone or after "running" (the exec of a static program failed) */
	assert_int_equal(nsexec_parse_setup("1 setns: Operation not permitted\n", 33, msg,
					    sizeof(msg)), 1);
	assert_string_equal(msg, "setns: Operation not permitted");
	assert_int_equal(nsexec_parse_setup("0 running\n2 execveat: x\n", 24, msg, sizeof(msg)), 2);
	assert_string_equal(msg, "execveat: x");
	/* anything else */
	assert_int_equal(nsexec_parse_setup("0 running", 9, msg, sizeof(msg)), -EPROTO);
	assert_int_equal(nsexec_parse_setup("0 running\n0 running\n", 20, msg, sizeof(msg)),
			 -EPROTO);
	assert_int_equal(nsexec_parse_setup("0 running\n\n", 11, msg, sizeof(msg)), -EPROTO);
	assert_int_equal(nsexec_parse_setup("0 runnin\n", 9, msg, sizeof(msg)), -EPROTO);
	assert_int_equal(nsexec_parse_setup("2 a\n3 b\n", 8, msg, sizeof(msg)), -EPROTO);
	assert_int_equal(nsexec_parse_setup("\0", 1, msg, sizeof(msg)), -EPROTO);
}

/* ---- the loader's command line --------------------------------------------------------- */

static void test_loader_argv(void **state)
{
	char *args[] = { "-P", "-p", "1", NULL };
	char *argv[16];

	(void)state;
	assert_int_equal(nsexec_loader_kind("/lib64/ld-linux-x86-64.so.2"), NSEXEC_LOADER_GLIBC);
	assert_int_equal(nsexec_loader_kind("/lib/ld-linux-aarch64.so.1"), NSEXEC_LOADER_GLIBC);
	assert_int_equal(nsexec_loader_kind("/lib64/ld64.so.2"), NSEXEC_LOADER_GLIBC);
	assert_int_equal(nsexec_loader_kind("/lib/ld-musl-x86_64.so.1"), NSEXEC_LOADER_MUSL);
	assert_int_equal(nsexec_loader_kind("ld-musl-aarch64.so.1"), NSEXEC_LOADER_MUSL);

	assert_int_equal(nsexec_loader_argv("/lib64/ld-linux-x86-64.so.2", "/L1:/L2", "/P",
					    "/prog", args, argv, 16), 10);
	{
		static const char *const want[] = { "/lib64/ld-linux-x86-64.so.2", "--inhibit-cache",
						    "--library-path", "/L1:/L2", "--preload", "/P",
						    "/prog", "-P", "-p", "1" };

		for (int i = 0; i < 10; i++)
			assert_string_equal(argv[i], want[i]);
		assert_null(argv[10]);
	}
	/* musl's loader has no cache and refuses options it does not know */
	assert_int_equal(nsexec_loader_argv("/lib/ld-musl-x86_64.so.1", "/L", "/P", "/prog", NULL,
					    argv, 16), 6);
	assert_string_equal(argv[1], "--library-path");
	assert_string_equal(argv[3], "--preload");
	assert_string_equal(argv[5], "/prog");
	assert_null(argv[6]);
	/* no room */
	assert_int_equal(nsexec_loader_argv("/lib64/ld-linux-x86-64.so.2", "/L", "/P", "/prog",
					    args, argv, 10), -E2BIG);
	assert_int_equal(nsexec_loader_argv("/lib64/ld-linux-x86-64.so.2", "/L", "/P", "/prog",
					    args, argv, 11), 10);
}

/* ---- library directories --------------------------------------------------------------- */

static void expect_dirs(const struct nsexec_dirs *d, const char *const *want)
{
	unsigned n = 0;

	for (; want[n]; n++) {
		assert_true(n < d->n);
		assert_string_equal(d->path[n], want[n]);
	}
	assert_int_equal(d->n, n);
}

static void test_lib_dirs_default(void **state)
{
	static struct nsexec_dirs d;
	static const char *const x86_64[] = { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
					      "/lib64", "/usr/lib64", "/lib", "/usr/lib", NULL };
	static const char *const arm64[] = { "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
					     "/lib64", "/usr/lib64", "/lib", "/usr/lib", NULL };
	static const char *const unknown32[] = { "/lib", "/usr/lib", NULL };

	(void)state;
	nsexec_lib_dirs("/usr/bin/austin", "", EM_X86_64, true, &d);
	expect_dirs(&d, x86_64);
	nsexec_lib_dirs("/usr/bin/austin", NULL, EM_AARCH64, true, &d);
	expect_dirs(&d, arm64);
	nsexec_lib_dirs("/usr/bin/austin", "", 0x1234, false, &d);
	expect_dirs(&d, unknown32);
}

static void test_lib_dirs_runpath(void **state)
{
	static struct nsexec_dirs d;
	static const char *const want[] = {
		"/usr/bin/../lib/austin", "/opt/x/lib", "/usr/bin", "/usr/bin/sub", "/usr/lib64",
		"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/lib", "/usr/lib",
		NULL };
	static const char *const at_root[] = { "/lib", "/lib/x86_64-linux-gnu",
					       "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
					       "/usr/lib", NULL };

	(void)state;
	/* relative entries, $LIB and $PLATFORM are skipped; duplicates and
	 * trailing slashes collapse */
	nsexec_lib_dirs("/usr/bin/austin",
			"$ORIGIN/../lib/austin:/opt/x/lib/:relative/lib::${ORIGIN}:$LIB/x:"
			"/opt/$PLATFORM:/opt/x/lib:$ORIGIN/sub:/usr/lib64",
			EM_X86_64, true, &d);
	expect_dirs(&d, want);
	/* a program in "/" has origin "/" */
	nsexec_lib_dirs("/austin", "$ORIGIN/lib", EM_X86_64, true, &d);
	expect_dirs(&d, at_root);
}

static void test_lib_dirs_bounds(void **state)
{
	static struct nsexec_dirs d;
	static char runpath[NSEXEC_PATH_MAX * 3];
	size_t used = 0;

	(void)state;
	/* more entries than fit: the first NSEXEC_MAX_LIBDIRS are kept */
	for (int i = 0; i < 20; i++)
		used += (size_t)snprintf(runpath + used, sizeof(runpath) - used, "%s/d%d",
					 i ? ":" : "", i);
	nsexec_lib_dirs("/p", runpath, EM_X86_64, true, &d);
	assert_int_equal(d.n, NSEXEC_MAX_LIBDIRS);
	assert_string_equal(d.path[0], "/d0");
	assert_string_equal(d.path[NSEXEC_MAX_LIBDIRS - 1], "/d11");

	/* an entry too long for NSEXEC_PATH_MAX is dropped, not truncated */
	memset(runpath, 'a', sizeof(runpath));
	runpath[0] = '/';
	runpath[NSEXEC_PATH_MAX + 10] = '\0';
	nsexec_lib_dirs("/p", runpath, EM_X86_64, true, &d);
	assert_string_equal(d.path[0], "/lib/x86_64-linux-gnu");
}

/* ---- resolution inside a root ---------------------------------------------------------- */

static char root[] = "/tmp/test_nsexec_root.XXXXXX";

static int make_root(void **state)
{
	char path[256];
	int fd;

	(void)state;
	if (!mkdtemp(root))
		return -1;
	snprintf(path, sizeof(path), "%s/usr", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/usr/lib", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/usr/lib/ld.so", root);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0755);
	if (fd < 0 || write(fd, "in root\n", 8) != 8)
		return -1;
	close(fd);
	snprintf(path, sizeof(path), "%s/lib", root);
	if (symlink("/usr/lib", path)) /* absolute: must stay in the root */
		return -1;
	snprintf(path, sizeof(path), "%s/lib64", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/lib64/ld.so", root);
	if (symlink("/lib/ld.so", path))
		return -1;
	snprintf(path, sizeof(path), "%s/hostname", root);
	if (symlink("/etc/hostname", path)) /* exists on the host, not in the root */
		return -1;
	snprintf(path, sizeof(path), "%s/up", root);
	if (symlink("../../../../../../etc/hostname", path))
		return -1;
	snprintf(path, sizeof(path), "%s/magic", root);
	if (symlink("/proc/self/exe", path))
		return -1;
	return 0;
}

static int remove_root(void **state)
{
	(void)state;
	uh_rmtree(root);
	return 0;
}

static void test_open_in_root(void **state)
{
	int rootfd, fd;
	char *s;

	(void)state;
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(rootfd >= 0);

	/* absolute symlinks, twice over, resolve inside the root */
	fd = nsexec_open_in_root(rootfd, "/lib64/ld.so", O_RDONLY);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	s = uh_read_fd_file(fd);
	assert_string_equal(s, "in root\n");
	free(s);
	close(fd);
	fd = nsexec_open_in_root(rootfd, "lib64/ld.so", O_RDONLY); /* relative: the same */
	assert_true(fd >= 0);
	close(fd);
	fd = nsexec_open_in_root(rootfd, "/lib", O_PATH | O_DIRECTORY);
	assert_true(fd >= 0);
	close(fd);

	/* never out of it: not by an absolute link, not by "..", not by a
	 * magic link */
	assert_true(access("/etc/hostname", F_OK) == 0 || errno == ENOENT);
	assert_int_equal(nsexec_open_in_root(rootfd, "/hostname", O_RDONLY), -ENOENT);
	assert_int_equal(nsexec_open_in_root(rootfd, "/up", O_RDONLY), -ENOENT);
	assert_int_equal(nsexec_open_in_root(rootfd, "/../../../../etc/hostname", O_RDONLY),
			 -ENOENT);
	assert_true(nsexec_open_in_root(rootfd, "/magic", O_RDONLY) < 0);
	assert_int_equal(nsexec_open_in_root(rootfd, "/usr/lib/ld.so", O_PATH | O_DIRECTORY),
			 -ENOTDIR);
	close(rootfd);
}

/* ---- ELF ------------------------------------------------------------------------------- */

static void test_read_elf(void **state)
{
	struct nsexec_elf elf;
	char err[128];
	int fd;

	(void)state;
	/* this test binary: dynamic, the system's loader */
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(nsexec_read_elf(fd, &elf, err, sizeof(err)), 0);
	close(fd);
	assert_true(elf.dynamic);
	assert_true(elf.interp[0] == '/');
	assert_true(access(elf.interp, X_OK) == 0);
#ifdef __x86_64__
	assert_string_equal(elf.interp, "/lib64/ld-linux-x86-64.so.2");
	assert_int_equal(elf.machine, EM_X86_64);
	assert_true(elf.elf64);
#endif

	/* a static(-pie) program: no interpreter */
	fd = open("/sbin/ldconfig", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(nsexec_read_elf(fd, &elf, err, sizeof(err)), 0);
	close(fd);
	assert_false(elf.dynamic);

	/* a script, an empty file: not ELF executables */
	fd = open("/usr/bin/ldd", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(nsexec_read_elf(fd, &elf, err, sizeof(err)), -ENOEXEC);
	assert_true(strlen(err) > 0);
	close(fd);
	fd = tmpfd();
	assert_int_equal(nsexec_read_elf(fd, &elf, err, sizeof(err)), -ENOEXEC);
	close(fd);
}

/* ---- the library check, on a root made here ------------------------------------------- */

#ifdef __x86_64__
#define HOST_LIBDIR "/usr/lib/x86_64-linux-gnu"
#define HOST_LOADER "/lib64/ld-linux-x86-64.so.2"
#endif

static char libroot[] = "/tmp/test_nsexec_libroot.XXXXXX";

/* libroot: usr/bin/prog (a copy of /bin/true), lib64/<the loader>, an
 * empty usr/lib/<triplet>. */
static int make_libroot(void **state)
{
	char path[256];

	(void)state;
	strcpy(libroot, "/tmp/test_nsexec_libroot.XXXXXX"); /* one per test */
	if (!mkdtemp(libroot))
		return -1;
#ifdef HOST_LIBDIR
	static const char *const dirs[] = { "/usr", "/usr/bin", "/usr/lib", HOST_LIBDIR, "/lib64" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", libroot, dirs[i]);
		if (mkdir(path, 0755))
			return -1;
	}
	snprintf(path, sizeof(path), "%s/usr/bin/prog", libroot);
	copy_file("/bin/true", path, 0755);
	snprintf(path, sizeof(path), "%s%s", libroot, HOST_LOADER);
	copy_file(HOST_LOADER, path, 0755);
#endif
	return 0;
}

static int remove_libroot(void **state)
{
	(void)state;
	uh_rmtree(libroot);
	return 0;
}

/* nsexec_check_libraries() of libroot's prog. */
static int check_libroot(char *err, size_t errlen)
{
	static struct nsexec_elf prog;
	static struct nsexec_dirs dirs;
	int rootfd, fd, dirfd[NSEXEC_MAX_LIBDIRS], ret;
	const char *dirname[NSEXEC_MAX_LIBDIRS];
	unsigned n = 0;

	rootfd = open(libroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(rootfd >= 0);
	fd = nsexec_open_in_root(rootfd, "/usr/bin/prog", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(nsexec_read_elf(fd, &prog, err, errlen), 0);
	close(fd);
	nsexec_lib_dirs("/usr/bin/prog", prog.runpath, prog.machine, prog.elf64, &dirs);
	for (unsigned i = 0; i < dirs.n; i++) {
		fd = nsexec_open_in_root(rootfd, dirs.path[i], O_PATH | O_DIRECTORY);
		if (fd < 0)
			continue;
		dirname[n] = dirs.path[i];
		dirfd[n++] = fd;
	}
	err[0] = '\0';
	ret = nsexec_check_libraries(rootfd, &prog, dirfd, dirname, n, err, errlen);
	for (unsigned i = 0; i < n; i++)
		close(dirfd[i]);
	close(rootfd);
	return ret;
}

static void test_check_libraries(void **state)
{
#ifdef HOST_LIBDIR
	char err[512], lib[256];

	(void)state;
	snprintf(lib, sizeof(lib), "%s%s/libc.so.6", libroot, HOST_LIBDIR);
	/* libc.so.6 is nowhere in the root: refused, by name */
	assert_int_equal(check_libroot(err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "needs libc.so.6, which is in none of the root's library "
				    "directories (" HOST_LIBDIR));
	/* an absolute symlink would be followed from blocksnoop's "/" by the
	 * loader: it leads out of the root */
	assert_int_equal(symlink(HOST_LIBDIR "/libc.so.6", lib), 0);
	assert_int_equal(check_libroot(err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "libc.so.6 leads out of the root"));
	unlink(lib);
	/* present (its own need, the loader, is the loader) */
	copy_file(HOST_LIBDIR "/libc.so.6", lib, 0644);
	assert_int_equal(check_libroot(err, sizeof(err)), 0);
	/* and the whole closure of a real program in "/" (this test binary) */
	{
		static struct nsexec_elf self;
		static struct nsexec_dirs dirs;
		int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), fd;
		int dirfd[NSEXEC_MAX_LIBDIRS];
		const char *dirname[NSEXEC_MAX_LIBDIRS];
		unsigned n = 0;

		fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
		assert_int_equal(nsexec_read_elf(fd, &self, err, sizeof(err)), 0);
		close(fd);
		assert_true(self.nneeded >= 3);
		nsexec_lib_dirs("/x", "", self.machine, self.elf64, &dirs);
		for (unsigned i = 0; i < dirs.n; i++) {
			fd = nsexec_open_in_root(rootfd, dirs.path[i], O_PATH | O_DIRECTORY);
			if (fd < 0)
				continue;
			dirname[n] = dirs.path[i];
			dirfd[n++] = fd;
		}
		assert_int_equal(nsexec_check_libraries(rootfd, &self, dirfd, dirname, n, err,
							sizeof(err)), 0);
		/* a library the program needs by path */
		snprintf(self.needed[self.nneeded++], NSEXEC_NAME_MAX, "/tmp/libx.so");
		assert_int_equal(nsexec_check_libraries(rootfd, &self, dirfd, dirname, n, err,
							sizeof(err)), -ENOEXEC);
		assert_non_null(strstr(err, "by path"));
		for (unsigned i = 0; i < n; i++)
			close(dirfd[i]);
		close(rootfd);
	}
#else
	(void)state;
	skip();
#endif
}

/* A "loader" that ends before the program runs (as one without --preload
 * does): said, with its status, and nothing left. */
static void test_spawn_loader_ends_early(void **state)
{
#ifdef HOST_LIBDIR
	char *argv[] = { "/usr/bin/prog", NULL };
	char path[256];
	struct spawned s;

	(void)state;
	snprintf(path, sizeof(path), "%s%s/libc.so.6", libroot, HOST_LIBDIR);
	copy_file(HOST_LIBDIR "/libc.so.6", path, 0644);
	snprintf(path, sizeof(path), "%s%s", libroot, HOST_LOADER);
	copy_file("/bin/false", path, 0755);
	spawn_in(&s, libroot, 0, argv);
	assert_int_equal(s.ret, -ECHILD);
	assert_non_null(strstr(s.msg, "the ELF loader " HOST_LOADER " ended (status 1) before "
				      "the program could start"));
	assert_int_equal(s.pid, -1);
	spawned_close(&s);
	expect_no_children();
	/* and one that is missing a library: refused before anything runs */
	snprintf(path, sizeof(path), "%s%s/libc.so.6", libroot, HOST_LIBDIR);
	unlink(path);
	spawn_in(&s, libroot, 0, argv);
	assert_int_equal(s.ret, -ENOENT);
	assert_non_null(strstr(s.msg, "needs libc.so.6"));
	spawned_close(&s);
	expect_no_children();
#else
	(void)state;
	skip();
#endif
}

/* ---- the preloaded object ----------------------------------------------------------------- */

static void test_preload_object(void **state)
{
	struct nsexec_enter_params p = { .status_fd = 7, .net_fd = -1, .ipc_fd = -1, .mnt_fd = 8,
					 .root_fd = 9, .exec_fd = -1, .keep_caps = 1ULL << 19,
					 .comm = "austin" }, got;
	static struct nsexec_elf elf;
	char err[256];
	size_t len, off;
	const unsigned char *image = nsexec_preload_object(&len);
	unsigned char *copy;
	int fd, seals;

	(void)state;
	assert_true(len > 1000 && !memcmp(image, "\177ELF", 4));
	assert_int_equal(nsexec_preload_params_offset(image, len, &off, err, sizeof(err)), 0);
	assert_true(off + sizeof(p) <= len);
	assert_string_equal((const char *)image + off, "unfilled"); /* as built */
	/* not ELF, or ELF without the section */
	assert_int_equal(nsexec_preload_params_offset("garbage", 7, &off, err, sizeof(err)),
			 -ENOEXEC);
	{
		struct stat st;
		void *other;

		fd = open("/bin/true", O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0 && !fstat(fd, &st));
		other = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		assert_true(other != MAP_FAILED);
		assert_int_equal(nsexec_preload_params_offset(other, (size_t)st.st_size, &off, err,
							      sizeof(err)), -ENOEXEC);
		assert_non_null(strstr(err, "no section"));
		munmap(other, (size_t)st.st_size);
		close(fd);
	}

	fd = nsexec_preload_memfd(&p, err, sizeof(err));
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	seals = fcntl(fd, F_GET_SEALS);
	assert_int_equal(seals & (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE),
			 F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
	assert_int_equal(pwrite(fd, "x", 1, 0), -1);
	assert_int_equal(errno, EPERM);
	copy = malloc(len);
	assert_int_equal(pread(fd, copy, len, 0), (ssize_t)len);
	assert_int_equal(nsexec_preload_params_offset(copy, len, &off, err, sizeof(err)), 0);
	memcpy(&got, copy + off, sizeof(got));
	assert_string_equal(got.magic, NSEXEC_ENTER_MAGIC);
	assert_int_equal(got.status_fd, 7);
	assert_int_equal(got.mnt_fd, 8);
	assert_int_equal(got.root_fd, 9);
	assert_int_equal(got.net_fd, -1);
	assert_true(got.keep_caps == 1ULL << 19);
	assert_string_equal(got.comm, "austin");
	/* apart from the parameters, the object as built */
	assert_int_equal(memcmp(copy, image, off), 0);
	assert_int_equal(memcmp(copy + off + sizeof(p), image + off + sizeof(p),
				len - off - sizeof(p)), 0);
	free(copy);
	/* it needs no library and no loader: it loads under any libc */
	assert_int_equal(nsexec_read_elf(fd, &elf, err, sizeof(err)), 0);
	assert_false(elf.dynamic);
	assert_int_equal(elf.nneeded, 0);
	close(fd);
}

/* ---- nsexec_spawn for real (same namespaces, root "/") -------------------------------- */

static void test_spawn_output_and_status(void **state)
{
	char *argv[] = { "/bin/sh", "-c", "echo out; echo err >&2; exit 7", NULL };
	struct spawned s;
	char *text;

	(void)state;
	spawn(&s, 0, argv);
	assert_int_equal(s.ret, 0);
	assert_true(s.pid > 0);
	assert_int_equal(reap(s.pid), 7);
	text = uh_read_fd_file(s.out);
	assert_string_equal(text, "out\n");
	free(text);
	text = uh_read_fd_file(s.err);
	assert_string_equal(text, "err\n");
	free(text);
	spawned_close(&s);
	expect_no_children();
}

/* The stages are named; the program is exec'ed through the loader and
 * holds nothing of ours but stdin, stdout and stderr. */
static void test_spawn_process_shape(void **state)
{
	char *argv[] = { "/bin/sleep", "30", NULL };
	char path[64], *comm, *cmdline;
	int marker = open("/etc/hostname", O_RDONLY); /* no O_CLOEXEC on purpose */
	struct spawned s;
	pid_t prog;

	(void)state;
	assert_true(marker >= 0);
	spawn(&s, 0, argv);
	assert_int_equal(s.ret, 0);
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)s.pid);
	comm = uh_read_file(path);
	assert_string_equal(comm, "bs-nsexec\n");
	free(comm);
	prog = child_of(s.pid);
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)prog);
	comm = uh_read_file(path);
	assert_string_equal(comm, "sleep\n"); /* named by the preloaded object */
	free(comm);
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)prog);
	cmdline = uh_read_file(path); /* up to the first NUL: argv[0] */
	assert_non_null(cmdline);
	assert_true(strstr(cmdline, "ld-linux") || strstr(cmdline, "ld.so"));
	free(cmdline);
	/* only 0-2 remain: the program, its library directories, the
	 * preloaded object, the set-up pipe are all closed */
	for (int fd = 0; fd < 1024; fd++) {
		char link[128];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)prog, fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (fd <= 2) {
			assert_true(n > 0);
			continue;
		}
		if (n >= 0) {
			link[n] = '\0';
			fail_msg("the program holds fd %d -> %s", fd, link);
		}
	}
	kill(s.pid, SIGTERM);
	assert_int_equal(reap(s.pid), 128 + SIGTERM); /* sleep dies of it: 128+15 */
	expect_gone(prog);
	spawned_close(&s);
	close(marker);
	expect_no_children();
}

/* The environment for this test binary as the program: an ASan build
 * would otherwise refuse to run after the preloaded object. */
static char *const self_env[] = { "ASAN_OPTIONS=verify_asan_link_order=0", NULL };

/* The path of this test binary (a program for the spawn tests). */
static const char *self_path(void)
{
	static char path[NSEXEC_PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	assert_true(n > 0);
	path[n] = '\0';
	return path;
}

static void test_spawn_forwards_signals(void **state)
{
	/* the program turns each signal into its own exit code */
	char *argv[] = { (char *)self_path(), "signals", NULL };
	int sigs[] = { SIGINT, SIGHUP, SIGTERM };

	(void)state;
	for (int i = 0; i < 3; i++) {
		struct spawned s;
		char *out = NULL;

		spawn_env = self_env;
		spawn(&s, 0, argv);
		spawn_env = NULL;
		assert_int_equal(s.ret, 0);
		for (int j = 0; j < 300; j++) {
			free(out);
			out = uh_read_fd_file(s.out);
			if (out && strstr(out, "ready"))
				break;
			sleep_ms(10);
		}
		assert_non_null(strstr(out, "ready"));
		free(out);
		kill(s.pid, sigs[i]);
		assert_int_equal(reap(s.pid), 11 + i);
		spawned_close(&s);
	}
	expect_no_children();
}

static void test_spawn_sigkill_kills_program(void **state)
{
	char *argv[] = { "/bin/sleep", "30", NULL };
	struct spawned s;
	pid_t prog;

	(void)state;
	spawn(&s, 0, argv);
	assert_int_equal(s.ret, 0);
	prog = child_of(s.pid);
	assert_true(alive(prog));
	kill(s.pid, SIGKILL);
	assert_int_equal(reap(s.pid), 128 + SIGKILL);
	expect_gone(prog);
	spawned_close(&s);
}

static void test_spawn_capabilities(void **state)
{
	char *argv[] = { "/bin/grep", "-E", "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):",
			 "/proc/self/status", NULL };
	struct spawned s;
	char *out;

	(void)state;
	spawn(&s, CAP_SYS_PTRACE_BIT, argv);
	assert_int_equal(s.ret, 0);
	assert_int_equal(reap(s.pid), 0);
	out = uh_read_fd_file(s.out);
	/* the program never execs: nothing to inherit */
	assert_non_null(strstr(out, "CapInh:\t0000000000000000"));
	assert_non_null(strstr(out, "CapPrm:\t0000000000080000"));
	assert_non_null(strstr(out, "CapEff:\t0000000000080000"));
	if (geteuid() == 0) /* as root we hold CAP_SETPCAP: the bounding set is cut too */
		assert_non_null(strstr(out, "CapBnd:\t0000000000080000"));
	assert_non_null(strstr(out, "CapAmb:\t0000000000000000"));
	assert_non_null(strstr(out, "NoNewPrivs:\t1"));
	assert_non_null(strstr(out, "Seccomp:\t2"));
	free(out);
	spawned_close(&s);

	spawn(&s, 0, argv);
	assert_int_equal(s.ret, 0);
	assert_int_equal(reap(s.pid), 0);
	out = uh_read_fd_file(s.out);
	assert_non_null(strstr(out, "CapPrm:\t0000000000000000"));
	if (geteuid() == 0)
		assert_non_null(strstr(out, "CapBnd:\t0000000000000000"));
	free(out);
	spawned_close(&s);
}

static void test_spawn_static_program(void **state)
{
	char *argv[] = { "/sbin/ldconfig", "--version", NULL };
	struct spawned s;
	char *out;

	(void)state;
	spawn(&s, 0, argv);
	assert_int_equal(s.ret, 0);
	assert_int_equal(reap(s.pid), 0);
	out = uh_read_fd_file(s.out);
	assert_non_null(strstr(out, "ldconfig"));
	free(out);
	spawned_close(&s);
}

/* The program may not exec (Austin's popen() of the target's python would)
 * nor map new executable memory (a dlopen() after main would). */
static void test_spawn_no_exec(void **state)
{
	char *sh[] = { "/bin/sh", "-c", "echo start; /bin/true; echo \"status $?\"", NULL };
	char *mem[] = { (char *)self_path(), "exec-memory", NULL };
	struct spawned s;
	char *out, *err;

	(void)state;
	spawn(&s, 0, sh);
	assert_int_equal(s.ret, 0);
	assert_int_equal(reap(s.pid), 0);
	out = uh_read_fd_file(s.out);
	assert_string_equal(out, "start\nstatus 126\n");
	free(out);
	err = uh_read_fd_file(s.err);
	assert_non_null(strstr(err, "/bin/true"));
	free(err);
	spawned_close(&s);

	spawn_env = self_env;
	spawn(&s, 0, mem);
	spawn_env = NULL;
	assert_int_equal(s.ret, 0);
	assert_int_equal(reap(s.pid), 0);
	out = uh_read_fd_file(s.out);
	assert_string_equal(out, "mmap-rw ok, mmap-exec EPERM, mprotect-exec EPERM\n");
	free(out);
	spawned_close(&s);
	expect_no_children();
}

/* The program's environment is req->env, exactly; loader variables are refused. */
static void test_spawn_environment(void **state)
{
	char *argv[] = { "/usr/bin/env", NULL };
	char *env[] = { "AUSTIN_NO_LOGGING=1", "X=a b", NULL };
	char *bad[] = { "LD_PRELOAD=/tmp/evil.so", NULL };
	struct spawned s;
	char *out;

	(void)state;
	spawn(&s, 0, argv);
	assert_int_equal(s.ret, 0);
	assert_int_equal(reap(s.pid), 0);
	out = uh_read_fd_file(s.out);
	assert_string_equal(out, "");
	free(out);
	spawned_close(&s);

	spawn_env = env;
	spawn(&s, 0, argv);
	spawn_env = NULL;
	assert_int_equal(s.ret, 0);
	assert_int_equal(reap(s.pid), 0);
	out = uh_read_fd_file(s.out);
	assert_string_equal(out, "AUSTIN_NO_LOGGING=1\nX=a b\n");
	free(out);
	spawned_close(&s);

	spawn_env = bad;
	spawn(&s, 0, argv);
	spawn_env = NULL;
	assert_int_equal(s.ret, -EINVAL);
	assert_non_null(strstr(s.msg, "LD_PRELOAD"));
	spawned_close(&s);
	expect_no_children();
}

/* Failures come back as -errno with the reason, and nothing runs. */
static void test_spawn_errors(void **state)
{
	char *missing[] = { "/nonexistent/program", NULL };
	char *script[] = { "/usr/bin/ldd", NULL };
	char *dir[] = { "/usr", NULL };
	struct spawned s;

	(void)state;
	spawn(&s, 0, missing);
	assert_int_equal(s.ret, -ENOENT);
	assert_non_null(strstr(s.msg, "/nonexistent/program"));
	assert_int_equal(s.pid, -1);
	spawned_close(&s);
	expect_no_children();

	spawn(&s, 0, script);
	assert_int_equal(s.ret, -ENOEXEC);
	assert_non_null(strstr(s.msg, "not an ELF executable"));
	spawned_close(&s);
	expect_no_children();

	spawn(&s, 0, dir);
	assert_int_equal(s.ret, -EACCES);
	spawned_close(&s);
	expect_no_children();

	/* a capability above the kernel's last */
	spawn(&s, UINT64_C(1) << 63, (char *[]){ "/bin/true", NULL });
	assert_int_equal(s.ret, -EINVAL);
	assert_non_null(strstr(s.msg, "keep-caps"));
	spawned_close(&s);
	expect_no_children();
}

static void test_spawn_bad_requests(void **state)
{
	char *args[] = { NULL };
	struct nsexec_request req = { .target = getpid(), .root = "/", .program = "/bin/true",
				      .args = args, .stdout_fd = 1, .stderr_fd = 2 };
	char err[256];
	pid_t pid = -1;

	(void)state;
	assert_int_equal(nsexec_spawn(NULL, &pid, err, sizeof(err)), -EINVAL);
	req.stdout_fd = 987;
	assert_int_equal(nsexec_spawn(&req, &pid, err, sizeof(err)), -EBADF);
	req.stdout_fd = 1;
	req.root = "relative";
	assert_int_equal(nsexec_spawn(&req, &pid, err, sizeof(err)), -EINVAL);
	req.root = "/";
	req.target = 0;
	assert_int_equal(nsexec_spawn(&req, &pid, err, sizeof(err)), -EINVAL);
	/* a PID that does not exist (pid_max is at most 2^22) */
	req.target = 2147483647;
	assert_int_equal(nsexec_spawn(&req, &pid, err, sizeof(err)), -ESRCH);
	assert_non_null(strstr(err, "no process 2147483647"));
	assert_int_equal(pid, -1);
	expect_no_children();
}

/* ---- nsexec_needed, nsexec_target_pid ---------------------------------------------------- */

static void test_needed_and_target_pid(void **state)
{
	int ready[2];
	pid_t mid, inner, nspid = 0;
	char c;

	(void)state;
	/* ourselves: same namespaces and root; our PID is our PID */
	assert_false(nsexec_needed(getpid()));
	assert_int_equal(nsexec_target_pid(getpid(), &nspid), 0);
	assert_int_equal(nspid, getpid());
	assert_int_equal(nsexec_target_pid(2147483647, &nspid), -ESRCH);

	/* PID 1 of a new PID + mount namespace */
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	mid = fork();
	assert_true(mid >= 0);
	if (mid == 0) {
		if (unshare(CLONE_NEWPID | CLONE_NEWNS))
			_exit(1);
		if (fork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			(void)!write(ready[1], "x", 1);
			pause();
			_exit(0);
		}
		pause();
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	inner = child_of(mid);
	assert_true(nsexec_needed(inner));
	assert_int_equal(nsexec_target_pid(inner, &nspid), 0);
	assert_int_equal(nspid, 1);
	kill(mid, SIGKILL);
	assert_int_equal(reap(mid), 128 + SIGKILL);
	expect_gone(inner);
}

/* ---- the shim run directly, as `blocksnoop nsexec` ------------------------------------- */

/* Run the shim with argv (after "nsexec"); returns its exit code, stderr in err. */
static int run_shim(char **args, char **err)
{
	char *argv[64] = { "blocksnoop", "nsexec" };
	int efd = tmpfd(), n = 2;
	pid_t pid = fork();

	for (; args[n - 2]; n++)
		argv[n] = args[n - 2];
	argv[n] = NULL;
	assert_true(pid >= 0);
	if (pid == 0) {
		char *env[] = { NULL };

		dup2(efd, 2);
		execve("/proc/self/exe", argv, env);
		_exit(99);
	}
	n = reap(pid);
	*err = uh_read_fd_file(efd);
	close(efd);
	return n;
}

static void test_shim_cli(void **state)
{
	char target[16], parent[16], *err;
	char *junk[] = { "--target", "1x", NULL };
	char *orphan[] = { "--target", target, "--root", "/", "--keep-caps", "0x0",
			   "--parent", parent, "--", "/bin/true", NULL };
	char *ok[] = { "--target", target, "--root", "/", "--keep-caps", "0x0", "--", "/bin/sh",
		       "-c", "exit 3", NULL };

	(void)state;
	snprintf(target, sizeof(target), "%d", (int)getpid());
	snprintf(parent, sizeof(parent), "%d", 1);

	assert_int_equal(run_shim(junk, &err), NSEXEC_EXIT_FAILED);
	assert_non_null(strstr(err, "blocksnoop: error: nsexec: "));
	assert_non_null(strstr(err, "--target"));
	assert_non_null(strchr(err, '\n'));
	assert_ptr_equal(strchr(err, '\n'), err + strlen(err) - 1); /* one line */
	free(err);

	/* --parent names a process that is not our parent: blocksnoop is gone */
	assert_int_equal(run_shim(orphan, &err), NSEXEC_EXIT_FAILED);
	assert_non_null(strstr(err, "is gone"));
	free(err);

	assert_int_equal(run_shim(ok, &err), 3);
	assert_string_equal(err, "");
	free(err);
}

/* The shim checks its own environment (the program's) as nsexec_spawn() does. */
static void test_shim_cli_env(void **state)
{
	char target[16];
	char *argv[] = { "blocksnoop", "nsexec", "--target", target, "--root", "/",
			 "--keep-caps", "0x0", "--", "/bin/true", NULL };
	char *env[] = { "LD_LIBRARY_PATH=/nowhere", NULL };
	int efd = tmpfd();
	char *err;
	pid_t pid;

	(void)state;
	snprintf(target, sizeof(target), "%d", (int)getpid());
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(efd, 2);
		execve("/proc/self/exe", argv, env);
		_exit(99);
	}
	assert_int_equal(reap(pid), NSEXEC_EXIT_FAILED);
	err = uh_read_fd_file(efd);
	assert_non_null(strstr(err, "LD_LIBRARY_PATH"));
	free(err);
	close(efd);
}

/* ---- driver mode for the e2e tests ----------------------------------------------------- */

static int driver(int argc, char **argv)
{
	struct nsexec_request req = { .stdout_fd = 1, .stderr_fd = 2 };
	char err[512], *end;
	int ret, status;
	pid_t pid;

	if (argc < 6 || strcmp(argv[4], "--")) {
		fprintf(stderr, "usage: %s spawn TARGET ROOT KEEP_CAPS_HEX -- PROGRAM [ARG...]\n",
			argv[0]);
		return 2;
	}
	req.target = (pid_t)strtol(argv[1], NULL, 10);
	req.root = argv[2];
	req.keep_caps = strtoull(argv[3], &end, 16);
	req.program = argv[5];
	req.args = argv + 6;
	req.env = environ; /* the driver's environment is the program's */
	ret = nsexec_spawn(&req, &pid, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "nsexec-error %d %s\n", -ret, err);
		return NSEXEC_EXIT_FAILED;
	}
	fprintf(stderr, "nsexec-pid %d\n", (int)pid);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 99;
	ret = nsexec_exit_code(status);
	fprintf(stderr, "nsexec-exit %d\n", ret);
	return ret;
}

/* ---- programs for the spawn tests ------------------------------------------------------- */

static void exit_on_signal(int sig)
{
	_exit(sig == SIGINT ? 11 : sig == SIGHUP ? 12 : 13); /* no atexit: no leak check */
}

static int signals_program(void)
{
	struct sigaction sa = { .sa_handler = exit_on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
	return 0;
}

static const char *outcome(bool ok)
{
	return ok ? "ok" : errno == EPERM ? "EPERM" : strerror(errno);
}

static int exec_memory_program(void)
{
	void *rw = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const char *a = outcome(rw != MAP_FAILED), *b, *c;
	void *x = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	b = outcome(x != MAP_FAILED);
	c = outcome(rw != MAP_FAILED && !mprotect(rw, 4096, PROT_READ | PROT_EXEC));
	printf("mmap-rw %s, mmap-exec %s, mprotect-exec %s\n", a, b, c);
	fflush(stdout);
	_exit(0);
}

int main(int argc, char **argv)
{
	/* nsexec_spawn() re-executes us as the shim */
	if (argc > 1 && !strcmp(argv[1], "nsexec"))
		return nsexec_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "spawn"))
		return driver(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "signals"))
		return signals_program();
	if (argc > 1 && !strcmp(argv[1], "exec-memory"))
		return exec_memory_program();

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_parse_minimal),
		cmocka_unit_test(test_parse_rejects_numbers),
		cmocka_unit_test(test_parse_rejects_structure),
		cmocka_unit_test(test_parse_status_fd_survives_errors),
		cmocka_unit_test(test_parse_too_many_args),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_format_rejects),
		cmocka_unit_test(test_check_env),
		cmocka_unit_test(test_parse_status),
		cmocka_unit_test(test_exit_code),
		cmocka_unit_test(test_parse_setup),
		cmocka_unit_test(test_loader_argv),
		cmocka_unit_test(test_lib_dirs_default),
		cmocka_unit_test(test_lib_dirs_runpath),
		cmocka_unit_test(test_lib_dirs_bounds),
		cmocka_unit_test_setup_teardown(test_open_in_root, make_root, remove_root),
		cmocka_unit_test(test_read_elf),
		cmocka_unit_test_setup_teardown(test_check_libraries, make_libroot, remove_libroot),
		cmocka_unit_test(test_preload_object),
		cmocka_unit_test(test_spawn_output_and_status),
		cmocka_unit_test(test_spawn_process_shape),
		cmocka_unit_test(test_spawn_forwards_signals),
		cmocka_unit_test(test_spawn_sigkill_kills_program),
		cmocka_unit_test(test_spawn_capabilities),
		cmocka_unit_test(test_spawn_static_program),
		cmocka_unit_test(test_spawn_no_exec),
		cmocka_unit_test_setup_teardown(test_spawn_loader_ends_early, make_libroot,
						remove_libroot),
		cmocka_unit_test(test_spawn_environment),
		cmocka_unit_test(test_spawn_errors),
		cmocka_unit_test(test_spawn_bad_requests),
		cmocka_unit_test(test_needed_and_target_pid),
		cmocka_unit_test(test_shim_cli),
		cmocka_unit_test(test_shim_cli_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
