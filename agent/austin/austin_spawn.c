// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

#include "austin/austin_spawn.h"
#include "nsexec.h"
#include "procfs.h"

extern char **environ;

/* What Austin keeps when started through the shim: reading another
 * process's memory and /proc/<pid>/{maps,root} (CAP_SYS_PTRACE). Nothing
 * else: it reads the target's files as uid 0 without CAP_DAC_*, that is
 * no more than the owner and world may (docs/security.md). */
#define AUSTIN_CAPS (1ULL << CAP_SYS_PTRACE)

bool austin_needs_shim(pid_t target, const char *root)
{
	if (strcmp(root, "/"))
		return true;
	return nsexec_needed(target);
}

int austin_target_pid(pid_t target, bool via_shim, pid_t *out)
{
	pid_t ids[PROCFS_MAX_NS_LEVELS];
	int n;

	if (!via_shim) {
		*out = target;
		return 0;
	}
	n = procfs_nspid(target, ids);
	if (n < 0)
		return n;
	if (n == 0)
		return -ENOENT;
	*out = ids[n - 1];
	return 0;
}

/* environ plus AUSTIN_NO_LOGGING=1, built before fork (malloc is not safe
 * after it). */
static char **austin_env(void)
{
	size_t n = 0;
	char **env;

	while (environ && environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0, j = 0; i < n; i++)
		if (strncmp(environ[i], "AUSTIN_NO_LOGGING=", 18))
			env[j++] = environ[i];
	for (n = 0; env[n]; n++)
		;
	env[n] = "AUSTIN_NO_LOGGING=1";
	return env;
}

static int spawn_direct(const char *program, char *const args[], int out_fd, int err_fd,
			struct austin_child *child, char *err, size_t errlen)
{
	char *argv[64];
	char **env = austin_env();
	pid_t parent = getpid(), pid;
	int status_pipe[2], devnull, child_errno = 0;
	size_t n = 0;
	ssize_t r;
	sigset_t all;

	argv[n++] = (char *)program;
	for (size_t i = 0; args[i] && n + 1 < sizeof(argv) / sizeof(argv[0]); i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (!env)
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0 || pipe2(status_pipe, O_CLOEXEC)) {
		int e = errno;

		snprintf(err, errlen, "cannot start %s: %s", program, strerror(e));
		if (devnull >= 0)
			close(devnull);
		free(env);
		return -e;
	}
	pid = fork();
	if (pid == 0) {
		/* The child: only async-signal-safe calls until exec. */
		sigemptyset(&all);
		setpgid(0, 0); /* a terminal's Ctrl-C is blocksnoop's to handle */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		signal(SIGPIPE, SIG_DFL); /* the session ignores it */
		sigprocmask(SIG_SETMASK, &all, NULL); /* and blocks SIGTERM */
		if (dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 ||
		    dup2(err_fd >= 0 ? err_fd : devnull, 2) < 0)
			goto failed;
		execve(program, argv, env);
failed:
		child_errno = errno;
		if (write(status_pipe[1], &child_errno, sizeof(child_errno)) < 0)
			_exit(127);
		_exit(127);
	}
	child_errno = errno;
	close(status_pipe[1]);
	close(devnull);
	free(env);
	if (pid < 0) {
		close(status_pipe[0]);
		snprintf(err, errlen, "cannot start %s: fork: %s", program, strerror(child_errno));
		return -child_errno;
	}
	/* EOF: exec'ed (the pipe was close-on-exec). */
	do
		r = read(status_pipe[0], &child_errno, sizeof(child_errno));
	while (r < 0 && errno == EINTR);
	close(status_pipe[0]);
	if (r == (ssize_t)sizeof(child_errno)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		snprintf(err, errlen, "cannot run %s: %s", program, strerror(child_errno));
		return -child_errno;
	}
	child->pid = pid;
	child->via_shim = false;
	return 0;
}

/* Whether path is an ELF file (the shim runs those only; a script, such as
 * a wrapper or a stand-in, is run as given). */
bool austin_is_elf(const char *path)
{
	char magic[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	bool elf;

	if (fd < 0)
		return false;
	elf = read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
	      !memcmp(magic, "\177ELF", 4);
	close(fd);
	return elf;
}

int austin_spawn(pid_t target, const char *root, const char *program, char *const args[],
		 int out_fd, int err_fd, struct austin_child *child, char *err, size_t errlen)
{
	/* The shim gives the program this environment and no other. */
	static char *const shim_env[] = { "AUSTIN_NO_LOGGING=1", NULL };
	struct nsexec_request req = {
		.target = target, .root = root, .program = program, .args = args,
		.stdout_fd = out_fd, .stderr_fd = err_fd, .keep_caps = AUSTIN_CAPS,
		.env = shim_env,
	};
	int devnull = -1, ret;

	/* An ELF Austin always goes through the shim, even when it need not
	 * enter anything: that is where it is confined (only CAP_SYS_PTRACE,
	 * no fds of ours, no exec: Austin 3.7 would otherwise run the target's
	 * own executable with -V to learn its version, as root). */
	if (!austin_needs_shim(target, root) && !austin_is_elf(program))
		return spawn_direct(program, args, out_fd, err_fd, child, err, errlen);
	if (err_fd < 0) {
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (devnull < 0)
			return snprintf(err, errlen, "/dev/null: %s", strerror(errno)), -errno;
		req.stderr_fd = devnull;
	}
	ret = nsexec_spawn(&req, &child->pid, err, errlen);
	if (devnull >= 0)
		close(devnull);
	child->via_shim = true;
	return ret;
}
