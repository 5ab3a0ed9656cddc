// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compat.h"
#include "exit_codes.h"
#include "launch.h"
#include "log.h"

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child(char *const argv[], bool stdout_to_stderr, int release_rd,
		  int exec_wr, pid_t parent)
{
	sigset_t none;
	char go;
	int err;

	/* Undo what blocksnoop set up for itself: signals it routes through
	 * a signalfd are blocked, SIGPIPE is ignored; both are inherited
	 * across exec and would change the command's behaviour. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);

	/* No orphan if blocksnoop dies; the check closes the race with a
	 * parent that died before prctl. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(EXIT_RUNTIME);

	if (stdout_to_stderr && dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
		goto fail;

	/* Wait until blocksnoop watches our PID. */
	while (read(release_rd, &go, 1) < 0 && errno == EINTR)
		;
	close(release_rd);
	execvp(argv[0], argv);
fail:
	err = errno;
	while (write(exec_wr, &err, sizeof(err)) < 0 && errno == EINTR)
		;
	_exit(err == ENOENT ? EXIT_NOT_FOUND : 126);
}

/* An executable regular file? 0, or the errno execve would give. */
static int executable(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return errno;
	if (S_ISDIR(st.st_mode))
		return EACCES;
	return faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) ? errno : 0;
}

int launch_check(const char *command, char *err, size_t errlen)
{
	const char *path = getenv("PATH");
	char candidate[PATH_MAX];
	int found_err = ENOENT, e;

	if (strchr(command, '/')) {
		found_err = executable(command);
	} else {
		/* execvp's default search path when PATH is unset. */
		if (!path)
			path = "/bin:/usr/bin";
		while (found_err && *path) {
			size_t n = strcspn(path, ":");

			/* An empty PATH entry means the current directory. */
			snprintf(candidate, sizeof(candidate), "%.*s/%s", n ? (int)n : 1,
				 n ? path : ".", command);
			e = executable(candidate);
			if (!e)
				found_err = 0;
			else if (e == EACCES)
				found_err = EACCES; /* keep looking, as execvp does */
			path += n + (path[n] == ':');
		}
	}
	if (!found_err)
		return 0;
	if (found_err == ENOENT || found_err == ENOTDIR) {
		snprintf(err, errlen, "cannot run '%s': command not found%s", command,
			 strchr(command, '/') ? "" : " in PATH");
		return EXIT_NOT_FOUND;
	}
	snprintf(err, errlen, "cannot run '%s': %s", command, strerror(found_err));
	return 126;
}

int launch_prepare(char *const argv[], bool stdout_to_stderr, struct launched *l)
{
	int release[2] = { -1, -1 }, exec_pipe[2] = { -1, -1 };
	pid_t parent = getpid(), pid;
	int err;

	if (pipe2(release, O_CLOEXEC) || pipe2(exec_pipe, O_CLOEXEC)) {
		err = -errno;
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto fail;
	}
	if (pid == 0) {
		close(release[1]);
		close(exec_pipe[0]);
		child(argv, stdout_to_stderr, release[0], exec_pipe[1], parent);
	}
	close(release[0]);
	close(exec_pipe[1]);
	*l = (struct launched){ .pid = pid, .release_fd = release[1], .exec_fd = exec_pipe[0] };
	return 0;

fail:
	for (int i = 0; i < 2; i++) {
		if (release[i] >= 0)
			close(release[i]);
		if (exec_pipe[i] >= 0)
			close(exec_pipe[i]);
	}
	return err;
}

int launch_release(struct launched *l, char *err, size_t errlen)
{
	int child_errno = 0, ret = 0;
	ssize_t n;

	while (write(l->release_fd, "x", 1) < 0 && errno == EINTR)
		;
	close(l->release_fd);
	l->release_fd = -1;

	/* EOF: the exec succeeded and closed the CLOEXEC pipe. */
	do
		n = read(l->exec_fd, &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	close(l->exec_fd);
	l->exec_fd = -1;
	if (n == (ssize_t)sizeof(child_errno)) {
		ret = child_errno == ENOENT ? EXIT_NOT_FOUND : 126;
		snprintf(err, errlen, "%s", strerror(child_errno));
	}
	return ret;
}

void launch_abort(struct launched *l)
{
	if (l->release_fd >= 0)
		close(l->release_fd);
	if (l->exec_fd >= 0)
		close(l->exec_fd);
	l->release_fd = l->exec_fd = -1;
	if (l->pid > 0) {
		kill(l->pid, SIGKILL);
		while (waitpid(l->pid, NULL, 0) < 0 && errno == EINTR)
			;
		l->pid = 0;
	}
}

bool launch_reap(struct launched *l, bool wait)
{
	pid_t r;

	if (l->reaped || l->pid <= 0)
		return l->reaped;
	do
		r = waitpid(l->pid, &l->wstatus, wait ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	l->reaped = r == l->pid;
	return l->reaped;
}

void launch_end(struct launched *l, int grace_ms)
{
	struct pollfd p = { .events = POLLIN };

	if (l->reaped || l->pid <= 0)
		return;
	/* Not reaped yet: the PID is still the child's, so is the pidfd. */
	p.fd = sys_pidfd_open(l->pid, 0);
	kill(l->pid, SIGTERM);
	if (p.fd < 0 || poll(&p, 1, grace_ms) <= 0) {
		log_warn("the command did not exit within %d s of SIGTERM: killing it",
			 grace_ms / 1000);
		kill(l->pid, SIGKILL);
	}
	if (p.fd >= 0)
		close(p.fd);
	launch_reap(l, true);
}

int launch_exit_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return EXIT_RUNTIME;
}
