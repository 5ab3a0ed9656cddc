// SPDX-License-Identifier: Apache-2.0
/*
 * spawn.c - the blocksnoop side of the shim (nsexec.h). Runs in blocksnoop,
 * which may have threads: it never forks itself, it posix_spawn()s
 * /proc/self/exe with the shim's arguments (nsexec_internal.h) and reads
 * one status line back.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nsexec_internal.h"

/* The shim's status pipe is its fd 3 (after stdin, stdout, stderr). */
#define SHIM_STATUS_FD 3
/* Opening a few files and joining two namespaces takes milliseconds; this
 * only guards against a shim that hangs (it is then killed). */
#define SHIM_START_TIMEOUT_MS 10000

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	/* Unknown counts as different: the shim then finds out and says why. */
	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool nsexec_needed(pid_t target)
{
	char mnt[64], root[64];

	snprintf(mnt, sizeof(mnt), "/proc/%d/ns/mnt", (int)target);
	snprintf(root, sizeof(root), "/proc/%d/root", (int)target);
	return !same_file(mnt, "/proc/self/ns/mnt") || !same_file(root, "/");
}

int nsexec_target_pid(pid_t target, pid_t *nspid)
{
	char path[64], line[256];
	long last = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)target);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + 6, *end;

		if (strncmp(line, "NSpid:", 6))
			continue;
		for (;;) {
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			last = v;
			p = end;
		}
		break;
	}
	fclose(f);
	if (last <= 0)
		return -ENOENT; /* kernels before 4.1 have no NSpid */
	*nspid = (pid_t)last;
	return 0;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * Read the shim's one status line. Returns 0 if the program runs, else
 * -errno with the reason in err.
 */
static int read_status(int fd, char *err, size_t errlen)
{
	char line[NSEXEC_STATUS_MAX], msg[NSEXEC_STATUS_MAX];
	struct timespec t0;
	size_t got = 0;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!got || line[got - 1] != '\n') {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long left = SHIM_START_TIMEOUT_MS - ms_since(&t0);
		ssize_t n;

		if (left <= 0) {
			snprintf(err, errlen, "the nsexec shim did not start the program within %d s",
				 SHIM_START_TIMEOUT_MS / 1000);
			return -ETIMEDOUT;
		}
		ret = poll(&pfd, 1, (int)left);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return -errno;
		if (ret == 0)
			continue;
		n = read(fd, line + got, sizeof(line) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			snprintf(err, errlen, "the nsexec shim exited before starting the program");
			return -ECHILD;
		}
		got += (size_t)n;
		if (got == sizeof(line) && line[got - 1] != '\n')
			break;
	}
	if (got == sizeof(NSEXEC_RUNNING) - 1 && !memcmp(line, NSEXEC_RUNNING, got))
		return 0;
	ret = nsexec_parse_status(line, got, msg, sizeof(msg));
	if (ret < 0) {
		snprintf(err, errlen, "the nsexec shim sent a malformed status line");
		return -EPROTO;
	}
	snprintf(err, errlen, "%s", msg);
	return -ret;
}

int nsexec_spawn(const struct nsexec_request *req, pid_t *pid, char *err, size_t errlen)
{
	char *argv[NSEXEC_MAX_ARGS + 24], nums[96];
	char *empty[] = { NULL };
	int status[2] = { -1, -1 }, fds[3] = { -1, -1, -1 }, ret;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	pid_t child;

	if (!req || !pid) {
		snprintf(err, errlen, "nsexec_spawn: no request");
		return -EINVAL;
	}
	if (fcntl(req->stdout_fd, F_GETFD) < 0 || fcntl(req->stderr_fd, F_GETFD) < 0) {
		snprintf(err, errlen, "nsexec_spawn: stdout_fd or stderr_fd is not open");
		return -EBADF;
	}
	ret = nsexec_check_env(req->env, err, errlen);
	if (ret < 0)
		return ret;
	ret = nsexec_format_args(req, getpid(), SHIM_STATUS_FD, argv,
				 sizeof(argv) / sizeof(argv[0]), nums, sizeof(nums), err, errlen);
	if (ret < 0)
		return ret;

	/* Everything we create is close-on-exec, so that a fork+exec in
	 * another thread cannot take it along; the shim gets its copies by the
	 * dup2() file actions, which clear the flag. The dup()s to fds >= 10
	 * keep those dup2()s from overwriting each other's sources (stderr_fd
	 * may be 1, say). */
	if (pipe2(status, O_CLOEXEC) ||
	    (fds[0] = fcntl(req->stdout_fd, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (fds[1] = fcntl(req->stderr_fd, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (fds[2] = fcntl(status[1], F_DUPFD_CLOEXEC, 10)) < 0) {
		ret = -errno;
		snprintf(err, errlen, "nsexec_spawn: %s", strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fds[0], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
	posix_spawn_file_actions_adddup2(&fa, fds[2], SHIM_STATUS_FD);
	/* Clean signal state; a process group of its own (see nsexec.h). */
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
				 POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	/* /proc/self/exe: this very binary, even if its file was replaced. Its
	 * environment is the program's (nothing in it configures a loader). */
	ret = posix_spawn(&child, "/proc/self/exe", &fa, &attr, argv,
			  req->env ? (char **)req->env : empty);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (ret) {
		snprintf(err, errlen, "cannot start the nsexec shim (/proc/self/exe): %s",
			 strerror(ret));
		ret = -ret;
		goto out;
	}
	/* Only the shim may hold the write end now, or we would never see EOF
	 * if it dies. */
	close(status[1]);
	close(fds[2]);
	status[1] = fds[2] = -1;
	ret = read_status(status[0], err, errlen);
	if (ret) {
		kill(child, SIGKILL); /* its child dies with it (PR_SET_PDEATHSIG) */
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
		goto out;
	}
	*pid = child;
out:
	for (int i = 0; i < 2; i++)
		if (status[i] >= 0)
			close(status[i]);
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return ret;
}
