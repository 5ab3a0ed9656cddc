// SPDX-License-Identifier: Apache-2.0
/*
 * test_procfs.c - agent/procfs.h: the NSpid parser on /proc/<pid>/status
 * texts, and the /proc readers on this test's own process and children.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procfs.h"
#include "unit_helpers.h"

/* The head of a real /proc/<pid>/status, up to and without NSpid. */
#define STATUS_HEAD                                                          \
	"Name:\tpython3\n"                                                   \
	"Umask:\t0022\n"                                                     \
	"State:\tS (sleeping)\n"                                             \
	"Tgid:\t4242\n"                                                      \
	"Ngid:\t0\n"                                                         \
	"Pid:\t4242\n"                                                       \
	"PPid:\t4200\n"                                                      \
	"TracerPid:\t0\n"                                                    \
	"Uid:\t1000\t1000\t1000\t1000\n"                                     \
	"Gid:\t1000\t1000\t1000\t1000\n"                                     \
	"FDSize:\t64\n"                                                      \
	"Groups:\t4 24 27 1000 \n"

#define STATUS_TAIL                                                          \
	"VmPeak:\t   29028 kB\n"                                               \
	"VmSize:\t   29028 kB\n"                                               \
	"Threads:\t2\n"                                                      \
	"SigQ:\t0/63372\n"                                                   \
	"SigBlk:\t0000000000000000\n"                                        \
	"Cpus_allowed_list:\t0-7\n"                                          \
	"voluntary_ctxt_switches:\t12\n"                                     \
	"nonvoluntary_ctxt_switches:\t3\n"

/* ---- procfs_parse_nspid ------------------------------------------------- */

static void test_nspid_one_level(void **state)
{
	pid_t ids[PROCFS_MAX_NS_LEVELS] = { 0 };

	(void)state;
	assert_int_equal(procfs_parse_nspid(STATUS_HEAD
					    "NStgid:\t4242\n"
					    "NSpid:\t4242\n"
					    "NSpgid:\t4200\n"
					    "NSsid:\t4200\n" STATUS_TAIL, ids), 1);
	assert_int_equal(ids[0], 4242);
}

/* Host, container, nested container: outermost first, own namespace last.
 * NStgid precedes NSpid and must not be taken for it. */
static void test_nspid_three_levels(void **state)
{
	pid_t ids[PROCFS_MAX_NS_LEVELS] = { 0 };

	(void)state;
	assert_int_equal(procfs_parse_nspid(STATUS_HEAD
					    "NStgid:\t900\t90\t9\n"
					    "NSpid:\t123456\t789\t1\n"
					    "NSpgid:\t900\t90\t9\n"
					    "NSsid:\t900\t90\t9\n" STATUS_TAIL, ids), 3);
	assert_int_equal(ids[0], 123456);
	assert_int_equal(ids[1], 789);
	assert_int_equal(ids[2], 1);
}

/* The line may be the first or the last one (no trailing newline), and
 * spaces work as separators too. */
static void test_nspid_position_and_spacing(void **state)
{
	pid_t ids[PROCFS_MAX_NS_LEVELS] = { 0 };

	(void)state;
	assert_int_equal(procfs_parse_nspid("NSpid:\t77\t7\nName:\tx\n", ids), 2);
	assert_int_equal(ids[0], 77);
	assert_int_equal(ids[1], 7);
	assert_int_equal(procfs_parse_nspid(STATUS_HEAD "NSpid:  31  3", ids), 2);
	assert_int_equal(ids[0], 31);
	assert_int_equal(ids[1], 3);
}

/* "NSpid:" only counts at the start of a line: a process named
 * "NSpid: 666" (Name is escaped but may hold the text) must not fool it. */
static void test_nspid_only_at_line_start(void **state)
{
	pid_t ids[PROCFS_MAX_NS_LEVELS] = { 0 };

	(void)state;
	assert_int_equal(procfs_parse_nspid("Name:\tNSpid: 666\n"
					    "XNSpid:\t555\n"
					    "NSpid:\t4242\t12\n", ids), 2);
	assert_int_equal(ids[0], 4242);
	assert_int_equal(ids[1], 12);
}

static void test_nspid_missing(void **state)
{
	pid_t ids[PROCFS_MAX_NS_LEVELS] = { 0 };

	(void)state;
	/* Kernels before 4.1 have no NSpid line. */
	assert_int_equal(procfs_parse_nspid(STATUS_HEAD STATUS_TAIL, ids), -EINVAL);
	assert_int_equal(procfs_parse_nspid("", ids), -EINVAL);
	assert_int_equal(procfs_parse_nspid("\n\n\n", ids), -EINVAL);
	/* "NSpid" without the colon is another field. */
	assert_int_equal(procfs_parse_nspid("NSpid\t12\n", ids), -EINVAL);
}

static void test_nspid_garbage(void **state)
{
	pid_t ids[PROCFS_MAX_NS_LEVELS] = { 0 };

	(void)state;
	assert_int_equal(procfs_parse_nspid("NSpid:\n", ids), -EINVAL);
	assert_int_equal(procfs_parse_nspid("NSpid:", ids), -EINVAL);
	assert_int_equal(procfs_parse_nspid("NSpid:\tabc\n", ids), -EINVAL);
	assert_int_equal(procfs_parse_nspid("NSpid:\t-5\n", ids), -EINVAL);
	assert_int_equal(procfs_parse_nspid("NSpid:\t0\n", ids), -EINVAL);
	assert_int_equal(procfs_parse_nspid("NSpid:\t99999999999\n", ids), -EINVAL);
	assert_int_equal(procfs_parse_nspid("NSpid:\t12\t0\n", ids), -EINVAL);
	assert_int_equal(procfs_parse_nspid("\x01\xff garbage \x7f", ids), -EINVAL);
	/* The ids end at the end of the line: the next line's digits are not
	 * more levels. */
	assert_int_equal(procfs_parse_nspid("NSpid:\t12\n34\n", ids), 1);
	assert_int_equal(ids[0], 12);
}

/* More levels than the kernel allows are cut at PROCFS_MAX_NS_LEVELS,
 * never written past ids[]. */
static void test_nspid_too_many_levels(void **state)
{
	pid_t ids[PROCFS_MAX_NS_LEVELS + 4];
	char text[1024];
	int n = snprintf(text, sizeof(text), "NSpid:");

	(void)state;
	for (int i = 0; i < PROCFS_MAX_NS_LEVELS + 4; i++)
		n += snprintf(text + n, sizeof(text) - n, "\t%d", 1000 + i);
	snprintf(text + n, sizeof(text) - n, "\n");
	for (int i = 0; i < PROCFS_MAX_NS_LEVELS + 4; i++)
		ids[i] = -1;
	assert_int_equal(procfs_parse_nspid(text, ids), PROCFS_MAX_NS_LEVELS);
	assert_int_equal(ids[0], 1000);
	assert_int_equal(ids[PROCFS_MAX_NS_LEVELS - 1], 1000 + PROCFS_MAX_NS_LEVELS - 1);
	for (int i = PROCFS_MAX_NS_LEVELS; i < PROCFS_MAX_NS_LEVELS + 4; i++)
		assert_int_equal(ids[i], -1);
}

/* ---- the /proc readers -------------------------------------------------- */

/* A child that has exited and been reaped: its PID no longer exists. */
static pid_t reaped_child(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

static void test_nspid_of_self(void **state)
{
	pid_t ids[PROCFS_MAX_NS_LEVELS] = { 0 };
	int n;

	(void)state;
	n = procfs_nspid(getpid(), ids);
	assert_true(n >= 1);
	/* ids[0] is the pid as our /proc numbers it: getpid(). */
	assert_int_equal(ids[0], getpid());
	assert_int_equal(procfs_nspid(reaped_child(), ids), -ENOENT);
}

static void *park(void *arg);

/* A thread's ids; and a process in a PID namespace of its own is 1 there. */
static void test_thread_nspid(void **state)
{
	pid_t ids[PROCFS_MAX_NS_LEVELS] = { 0 };
	pthread_t th;
	int tid = -1, n, pipefd[2], status;
	pid_t child;
	char go;

	(void)state;
	assert_int_equal(pthread_create(&th, NULL, park, &tid), 0);
	while (__atomic_load_n(&tid, __ATOMIC_SEQ_CST) == -1)
		usleep(1000);
	n = procfs_thread_nspid(getpid(), tid, ids);
	assert_true(n >= 1);
	assert_int_equal(ids[0], tid);
	/* Not a thread of another process. */
	assert_int_equal(procfs_thread_nspid(reaped_child(), tid, ids), -ENOENT);
	__atomic_store_n(&tid, 0, __ATOMIC_SEQ_CST);
	pthread_join(th, NULL);

	if (geteuid() != 0)
		fail_msg("this test makes a PID namespace: run it as root");
	assert_int_equal(pipe(pipefd), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pid_t inner;

		/* The namespace holds our next child, which waits to be read. */
		close(pipefd[1]);
		if (unshare(CLONE_NEWPID))
			_exit(1);
		inner = fork();
		if (inner == 0)
			_exit(read(pipefd[0], &go, 1) < 0);
		_exit(inner < 0 || waitpid(inner, NULL, 0) != inner);
	}
	close(pipefd[0]);
	/* The grandchild: the only child of child. */
	{
		char path[64], text[64] = "";
		FILE *f;
		pid_t inner = 0;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", child, child);
		for (int i = 0; i < 1000 && !inner; i++) {
			f = fopen(path, "re");
			if (f && fgets(text, sizeof(text), f))
				inner = (pid_t)atoi(text);
			if (f)
				fclose(f);
			if (!inner)
				usleep(1000);
		}
		assert_true(inner > 0);
		n = procfs_thread_nspid(inner, inner, ids);
		assert_true(n >= 2);
		assert_int_equal(ids[0], inner);
		assert_int_equal(ids[n - 1], 1);
		assert_int_equal(procfs_nspid(inner, ids), n);
		assert_int_equal(ids[n - 1], 1);
	}
	close(pipefd[1]);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_pid_exists(void **state)
{
	pid_t child;

	(void)state;
	assert_true(procfs_process_exists(getpid()));
	assert_true(procfs_process_exists(getppid()));
	assert_false(procfs_process_exists(reaped_child()));
	assert_false(procfs_process_exists(0x3fffffff));

	/* A zombie still exists. */
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	{ /* wait until it is a zombie, without reaping it */
		siginfo_t info;

		assert_int_equal(waitid(P_PID, child, &info, WEXITED | WNOWAIT), 0);
	}
	assert_true(procfs_process_exists(child));
	assert_int_equal(waitpid(child, NULL, 0), child);
	assert_false(procfs_process_exists(child));
}

static void *park(void *arg)
{
	int *tid = arg;

	__atomic_store_n(tid, gettid(), __ATOMIC_SEQ_CST);
	while (__atomic_load_n(tid, __ATOMIC_SEQ_CST) != 0)
		usleep(1000);
	return NULL;
}

static void test_thread_of(void **state)
{
	pthread_t th;
	int tid = -1;

	(void)state;
	assert_true(procfs_is_thread_of(getpid(), getpid()));
	assert_true(procfs_is_thread_of(getpid(), gettid()));

	assert_int_equal(pthread_create(&th, NULL, park, &tid), 0);
	while (__atomic_load_n(&tid, __ATOMIC_SEQ_CST) == -1)
		usleep(1000);
	assert_int_not_equal(tid, getpid());
	assert_true(procfs_is_thread_of(getpid(), tid));
	/* A thread is not a thread of another process... */
	if (getppid() > 1)
		assert_false(procfs_is_thread_of(getppid(), tid));
	__atomic_store_n(&tid, 0, __ATOMIC_SEQ_CST);
	pthread_join(th, NULL);

	/* ...nor is a child process, nor a process that is gone. */
	assert_false(procfs_is_thread_of(getpid(), reaped_child()));
	assert_false(procfs_is_thread_of(0x3fffffff, 0x3fffffff));
}

struct seen_threads {
	pid_t tids[8];
	int n, stop_after;
};

static int see_thread(void *ctx, pid_t tid)
{
	struct seen_threads *s = ctx;

	if (s->n < 8)
		s->tids[s->n] = tid;
	s->n++;
	return s->n == s->stop_after ? 42 : 0;
}

static bool seen(const struct seen_threads *s, pid_t tid)
{
	for (int i = 0; i < s->n && i < 8; i++)
		if (s->tids[i] == tid)
			return true;
	return false;
}

static void test_each_thread(void **state)
{
	struct seen_threads s = { .n = 0 };
	pthread_t th;
	int tid = -1;

	(void)state;
	assert_int_equal(pthread_create(&th, NULL, park, &tid), 0);
	while (__atomic_load_n(&tid, __ATOMIC_SEQ_CST) == -1)
		usleep(1000);
	/* Every thread, once. */
	assert_int_equal(procfs_each_thread(getpid(), see_thread, &s), 0);
	assert_int_equal(s.n, 2);
	assert_true(seen(&s, getpid()) && seen(&s, tid));
	/* fn's non-zero answer stops the walk and is returned. */
	s = (struct seen_threads){ .stop_after = 1 };
	assert_int_equal(procfs_each_thread(getpid(), see_thread, &s), 42);
	assert_int_equal(s.n, 1);
	__atomic_store_n(&tid, 0, __ATOMIC_SEQ_CST);
	pthread_join(th, NULL);
	/* A process that is gone. */
	s = (struct seen_threads){ .n = 0 };
	assert_int_equal(procfs_each_thread(reaped_child(), see_thread, &s), -ENOENT);
	assert_int_equal(s.n, 0);
}

static void test_is_python(void **state)
{
	pid_t child;
	bool seen = false;

	(void)state;
	assert_false(procfs_is_python(getpid()));
	assert_false(procfs_is_python(reaped_child()));

	/* A real interpreter is recognised by its executable's name. */
	if (access("/usr/bin/python3", X_OK) != 0) {
		print_message("no /usr/bin/python3: positive case not checked\n");
		return;
	}
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		execl("/usr/bin/python3", "python3", "-c", "import time; time.sleep(10)",
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 400 && !seen; i++) { /* until it has exec'd */
		seen = procfs_is_python(child);
		if (!seen)
			usleep(5000);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	assert_true(seen);
}

static void test_comm(void **state)
{
	char comm[64], want[16];

	(void)state;
	/* comm is the executable name cut to 15 characters. */
	snprintf(want, sizeof(want), "%s", program_invocation_short_name);
	procfs_comm(getpid(), comm, sizeof(comm));
	assert_string_equal(comm, want);
	procfs_comm(reaped_child(), comm, sizeof(comm));
	assert_string_equal(comm, "");
	/* A name chosen to repaint a terminal, or not UTF-8, comes out
	 * printable. */
	assert_int_equal(prctl(PR_SET_NAME, "a\033[2Jb\xff\t"), 0);
	procfs_comm(getpid(), comm, sizeof(comm));
	assert_int_equal(prctl(PR_SET_NAME, want), 0);
	assert_string_equal(comm, "a?[2Jb??");
}

static void test_ns_id(void **state)
{
	uint64_t dev = 0, ino = 0, dev2 = 0, ino2 = 0;
	char path[64];

	(void)state;
	assert_int_equal(procfs_ns_id("/proc/self/ns/pid", &dev, &ino), 0);
	assert_true(ino != 0);
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", getpid());
	assert_int_equal(procfs_ns_id(path, &dev2, &ino2), 0);
	assert_true(dev == dev2 && ino == ino2);
	assert_int_equal(procfs_ns_id("/proc/self/ns/no-such-ns", &dev, &ino), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nspid_one_level),
		cmocka_unit_test(test_nspid_three_levels),
		cmocka_unit_test(test_nspid_position_and_spacing),
		cmocka_unit_test(test_nspid_only_at_line_start),
		cmocka_unit_test(test_nspid_missing),
		cmocka_unit_test(test_nspid_garbage),
		cmocka_unit_test(test_nspid_too_many_levels),
		cmocka_unit_test(test_nspid_of_self),
		cmocka_unit_test(test_thread_nspid),
		cmocka_unit_test(test_each_thread),
		cmocka_unit_test(test_pid_exists),
		cmocka_unit_test(test_thread_of),
		cmocka_unit_test(test_is_python),
		cmocka_unit_test(test_comm),
		cmocka_unit_test(test_ns_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
