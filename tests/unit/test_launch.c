// SPDX-License-Identifier: Apache-2.0
/*
 * test_launch.c - launch mode (agent/launch.h): exit-code convention, the
 * prepare/release handshake (the command must not run before release),
 * exec failures, abort without zombies, and what the child inherits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exit_codes.h"
#include "launch.h"
#include "unit_helpers.h"

/* ---- helpers ------------------------------------------------------------------ */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The wait status of a child that runs fn and never returns. */
static int status_of(void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(99);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void exit_0(void) { _exit(0); }
static void exit_7(void) { _exit(7); }
static void exit_255(void) { _exit(255); }
static void die_sigkill(void) { raise(SIGKILL); }
static void die_sigterm(void) { signal(SIGTERM, SIG_DFL); raise(SIGTERM); }

/* Reap pid and return its launch_exit_code(). */
static int reap(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	return launch_exit_code(status);
}

/* No child left to wait for: no zombie, nothing running. */
static void expect_no_children(void)
{
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/* ---- launch_exit_code ------------------------------------------------------------- */

static void test_exit_code(void **state)
{
	(void)state;
	assert_int_equal(launch_exit_code(status_of(exit_0)), 0);
	assert_int_equal(launch_exit_code(status_of(exit_7)), 7);
	assert_int_equal(launch_exit_code(status_of(exit_255)), 255);
	assert_int_equal(launch_exit_code(status_of(die_sigkill)), 128 + SIGKILL);
	assert_int_equal(launch_exit_code(status_of(die_sigterm)), 128 + SIGTERM);
}

/* A stopped (not ended) process has no shell exit code: EXIT_RUNTIME. */
static void test_exit_code_stopped(void **state)
{
	int status;
	pid_t pid = fork();

	(void)state;
	assert_true(pid >= 0);
	if (pid == 0) {
		raise(SIGSTOP);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));
	assert_int_equal(launch_exit_code(status), EXIT_RUNTIME);
	kill(pid, SIGKILL);
	assert_int_equal(reap(pid), 128 + SIGKILL);
}

/* ---- prepare / release ------------------------------------------------------------ */

static void test_release_true(void **state)
{
	char *argv[] = { "/bin/true", NULL };
	struct launched l;
	char err[256] = "";

	(void)state;
	assert_int_equal(launch_prepare(argv, false, &l), 0);
	assert_true(l.pid > 0);
	assert_true(l.release_fd >= 0 && l.exec_fd >= 0);
	assert_int_equal(launch_release(&l, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(l.release_fd, -1);
	assert_int_equal(l.exec_fd, -1);
	assert_int_equal(reap(l.pid), 0);
	expect_no_children();
}

/* The command's own exit status comes through. */
static void test_release_exit_status(void **state)
{
	char *argv[] = { "sh", "-c", "exit 42", NULL }; /* found in PATH */
	struct launched l;
	char err[256] = "";

	(void)state;
	assert_int_equal(launch_prepare(argv, false, &l), 0);
	assert_int_equal(launch_release(&l, err, sizeof(err)), 0);
	assert_int_equal(reap(l.pid), 42);
}

static void test_release_not_found(void **state)
{
	char *missing_path[] = { "/nonexistent/blocksnoop-no-such-cmd", NULL };
	char *missing_name[] = { "blocksnoop-no-such-cmd-4711", "arg", NULL };
	struct launched l;
	char err[256];

	(void)state;
	/* An absolute path that does not exist. */
	err[0] = '\0';
	assert_int_equal(launch_prepare(missing_path, false, &l), 0);
	assert_int_equal(launch_release(&l, err, sizeof(err)), EXIT_NOT_FOUND);
	assert_true(strlen(err) > 0);
	assert_string_equal(err, strerror(ENOENT));
	/* The child has exited with the same code; reaping it works. */
	assert_int_equal(reap(l.pid), EXIT_NOT_FOUND);

	/* A name that is nowhere in PATH. */
	err[0] = '\0';
	assert_int_equal(launch_prepare(missing_name, false, &l), 0);
	assert_int_equal(launch_release(&l, err, sizeof(err)), EXIT_NOT_FOUND);
	assert_true(strlen(err) > 0);
	assert_int_equal(reap(l.pid), EXIT_NOT_FOUND);
	expect_no_children();
}

/* A file that exists but cannot be executed: 126, like a shell. */
static void test_release_not_executable(void **state)
{
	char dir[64], path[128], err[256] = "";
	char *argv[] = { path, NULL };
	struct launched l;

	(void)state;
	assert_int_equal(uh_mkdtemp(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/not-exec", dir);
	assert_int_equal(uh_write_file(path, "#!/bin/sh\nexit 0\n"), 0);
	assert_int_equal(chmod(path, 0644), 0); /* no x bit: EACCES even for root */
	assert_int_equal(launch_prepare(argv, false, &l), 0);
	assert_int_equal(launch_release(&l, err, sizeof(err)), 126);
	assert_string_equal(err, strerror(EACCES));
	assert_int_equal(reap(l.pid), 126);
	uh_rmtree(dir);
}

/* The command does not start before launch_release(). */
static void test_no_run_before_release(void **state)
{
	char dir[64], file[128], script[200], err[256] = "";
	char *argv[] = { "sh", "-c", script, NULL };
	struct launched l;

	(void)state;
	assert_int_equal(uh_mkdtemp(dir, sizeof(dir)), 0);
	snprintf(file, sizeof(file), "%s/ran", dir);
	snprintf(script, sizeof(script), "touch '%s'", file);

	assert_int_equal(launch_prepare(argv, false, &l), 0);
	sleep_ms(200);
	assert_int_equal(access(file, F_OK), -1);
	/* Alive and waiting, not exited. */
	assert_int_equal(waitpid(l.pid, NULL, WNOHANG), 0);

	assert_int_equal(launch_release(&l, err, sizeof(err)), 0);
	assert_int_equal(reap(l.pid), 0);
	assert_int_equal(access(file, F_OK), 0);
	uh_rmtree(dir);
}

/* ---- abort ----------------------------------------------------------------------- */

static void test_abort(void **state)
{
	char dir[64], file[128], script[200];
	char *argv[] = { "sh", "-c", script, NULL };
	struct launched l;

	(void)state;
	assert_int_equal(uh_mkdtemp(dir, sizeof(dir)), 0);
	snprintf(file, sizeof(file), "%s/ran", dir);
	snprintf(script, sizeof(script), "touch '%s'", file);

	assert_int_equal(launch_prepare(argv, false, &l), 0);
	launch_abort(&l);
	/* Killed and reaped: no zombie, and the command never ran. */
	expect_no_children();
	assert_int_equal(l.pid, 0);
	assert_int_equal(l.release_fd, -1);
	assert_int_equal(l.exec_fd, -1);
	sleep_ms(50);
	assert_int_equal(access(file, F_OK), -1);
	/* A second abort is harmless. */
	launch_abort(&l);
	uh_rmtree(dir);
}

/* ---- what the child inherits ----------------------------------------------------- */

/*
 * Run argv with our stdout and stderr sent to two temp files, and return
 * what each received. The parent's own streams are restored afterwards.
 */
static int run_captured(char *const argv[], bool stdout_to_stderr, char **out, char **errtext)
{
	int out_fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	int err_fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
	struct launched l;
	char err[256];
	int rc, code;

	assert_true(out_fd >= 0 && err_fd >= 0 && saved_out >= 0 && saved_err >= 0);
	fflush(stdout);
	fflush(stderr);
	dup2(out_fd, STDOUT_FILENO);
	dup2(err_fd, STDERR_FILENO);
	rc = launch_prepare(argv, stdout_to_stderr, &l);
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
	close(saved_out);
	close(saved_err);
	assert_int_equal(rc, 0);
	assert_int_equal(launch_release(&l, err, sizeof(err)), 0);
	code = reap(l.pid);
	*out = uh_read_fd_file(out_fd);
	*errtext = uh_read_fd_file(err_fd);
	close(out_fd);
	close(err_fd);
	return code;
}

static void test_stdout_to_stderr(void **state)
{
	char *argv[] = { "sh", "-c", "echo to-stdout; echo to-stderr >&2", NULL };
	char *out, *err;

	(void)state;
	/* Without the flag the streams stay apart... */
	assert_int_equal(run_captured(argv, false, &out, &err), 0);
	assert_string_equal(out, "to-stdout\n");
	assert_string_equal(err, "to-stderr\n");
	free(out);
	free(err);
	/* ...with it nothing reaches stdout (kept pure for --json). */
	assert_int_equal(run_captured(argv, true, &out, &err), 0);
	assert_string_equal(out, "");
	assert_string_equal(err, "to-stdout\nto-stderr\n");
	free(out);
	free(err);
}

/* The child gets an empty signal mask and SIGPIPE at its default, whatever
 * blocksnoop itself has set up. */
static void test_child_signal_state(void **state)
{
	char *argv[] = { "grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status", NULL };
	sigset_t block, old;
	void (*old_pipe)(int);
	char *out, *err;
	unsigned long long blk = ~0ULL, ign = ~0ULL;
	const char *p;

	(void)state;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &old);
	old_pipe = signal(SIGPIPE, SIG_IGN);

	assert_int_equal(run_captured(argv, false, &out, &err), 0);

	signal(SIGPIPE, old_pipe);
	sigprocmask(SIG_SETMASK, &old, NULL);
	p = strstr(out, "SigBlk:");
	assert_non_null(p);
	blk = strtoull(p + 7, NULL, 16);
	p = strstr(out, "SigIgn:");
	assert_non_null(p);
	ign = strtoull(p + 7, NULL, 16);
	assert_int_equal(blk, 0);
	assert_int_equal(ign & (1ULL << (SIGPIPE - 1)), 0);
	free(out);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_code),
		cmocka_unit_test(test_exit_code_stopped),
		cmocka_unit_test(test_release_true),
		cmocka_unit_test(test_release_exit_status),
		cmocka_unit_test(test_release_not_found),
		cmocka_unit_test(test_release_not_executable),
		cmocka_unit_test(test_no_run_before_release),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_stdout_to_stderr),
		cmocka_unit_test(test_child_signal_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
