// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "austin/austin_diag.h"
#include "austin/austin_spawn.h"
#include "timeutil.h"

void austin_describe_exit(int wstatus, bool via_shim, pid_t target, char *out, size_t len)
{
	int code, sig = 0;

	if (WIFSIGNALED(wstatus)) {
		sig = WTERMSIG(wstatus);
	} else if (WIFEXITED(wstatus)) {
		code = WEXITSTATUS(wstatus);
		/* Austin's own -SIGTERM/-SIGINT come first: the shim passes
		 * exit codes through unchanged. */
		if (code == AUSTIN_EXIT_SIGTERM || code == AUSTIN_EXIT_SIGINT) {
			snprintf(out, len, "was stopped by %s (exit status %d)",
				 code == AUSTIN_EXIT_SIGTERM ? "SIGTERM" : "SIGINT", code);
			return;
		}
		if (via_shim && code > 128 && code < 128 + 65) {
			sig = code - 128;
		} else {
			switch (code) {
			case 0:
				snprintf(out, len, "stopped while PID %d runs (exit status 0)", target);
				return;
			case AUSTIN_EXIT_NOVERSION:
				snprintf(out, len, "cannot tell the Python version of PID %d (exit status %d)",
					 target, code);
				return;
			case AUSTIN_EXIT_PROC:
				snprintf(out, len, "found no Python interpreter in PID %d: it is not Python, Python has not started yet, or Austin may not read its memory (exit status %d)",
					 target, code);
				return;
			case AUSTIN_EXIT_FORK:
				snprintf(out, len, "could not start a process (exit status %d)", code);
				return;
			case AUSTIN_EXIT_VM:
				snprintf(out, len, "cannot read the memory maps of PID %d (exit status %d)",
					 target, code);
				return;
			case AUSTIN_EXIT_TIMEOUT:
				snprintf(out, len, "timed out looking for the Python interpreter of PID %d (exit status %d)",
					 target, code);
				return;
			case AUSTIN_EXIT_ATTACH:
				snprintf(out, len, "cannot attach to PID %d: no such process where Austin runs? (exit status %d)",
					 target, code);
				return;
			case AUSTIN_EXIT_PERM:
				snprintf(out, len, "is not permitted to read PID %d: it needs CAP_SYS_PTRACE (exit status %d)",
					 target, code);
				return;
			case AUSTIN_EXIT_NOPID:
				snprintf(out, len, "finds no process %d (exit status %d)", target, code);
				return;
			case AUSTIN_EXIT_NOCHILDREN:
				snprintf(out, len, "found no Python child processes of PID %d (exit status %d)",
					 target, code);
				return;
			case AUSTIN_EXIT_USAGE:
				snprintf(out, len, "rejected its command line: blocksnoop needs Austin 3 or later (exit status %d)",
					 code);
				return;
			case 126:
			case 127:
				snprintf(out, len, "could not be executed (exit status %d)", code);
				return;
			default:
				if (via_shim && code == AUSTIN_SHIM_FAILED)
					snprintf(out, len, "could not be started in the namespaces of PID %d (exit status %d)",
						 target, code);
				else
					snprintf(out, len, "failed (exit status %d)", code);
				return;
			}
		}
	} else {
		snprintf(out, len, "ended (wait status 0x%x)", (unsigned)wstatus);
		return;
	}
	snprintf(out, len, "was killed by signal %d (%s)", sig, strsignal(sig));
}

void austin_one_line(const char *in, size_t n, char *out, size_t len)
{
	size_t w = 0, start = 0;
	bool space = false;
	char *tmp;

	if (!len)
		return;
	out[0] = '\0';
	tmp = malloc(n + 1);
	if (!tmp)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c > 0x20 && c < 0x7f) {
			if (space && w)
				tmp[w++] = ' ';
			space = false;
			tmp[w++] = (char)c;
		} else {
			space = true;
		}
	}
	tmp[w] = '\0';
	if (w + 1 > len)
		start = w - (len - 1);
	memcpy(out, tmp + start, w - start + 1);
	free(tmp);
}

int austin_parse_version(const char *text, int v[3])
{
	const char *p = text;

	p += strspn(p, " \t\r\n");
	if (strncmp(p, "austin ", 7))
		return -1;
	p += 7;
	v[0] = v[1] = v[2] = 0;
	for (int i = 0; i < 3; i++) {
		char *end;
		long n;

		if (*p < '0' || *p > '9')
			return i >= 2 ? 0 : -1;
		n = strtol(p, &end, 10);
		if (n > INT_MAX)
			return -1;
		v[i] = (int)n;
		p = end;
		if (*p != '.')
			return i >= 1 ? 0 : -1;
		p++;
	}
	return 0;
}

/* root + path, "/" root adding nothing. */
static int join(const char *root, const char *path, char *out, size_t len)
{
	int n;

	if (!strcmp(root, "/"))
		n = snprintf(out, len, "%s", path);
	else
		n = snprintf(out, len, "%s%s%s", root,
			     root[strlen(root) - 1] == '/' || path[0] == '/' ? "" : "/",
			     path[0] == '/' && root[strlen(root) - 1] == '/' ? path + 1 : path);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool executable(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode) && !access(path, X_OK);
}

int austin_locate(const char *root, const char *program, char *path, size_t len,
		  char *err, size_t errlen)
{
	static const char *const bins[] = {
		"/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/sbin", "/sbin",
	};
	const char *name = program ? program : "austin";
	char here[PATH_MAX], dirs[4096];
	bool own = !strcmp(root, "/");

	if (strchr(name, '/')) {
		if (!own && name[0] != '/') {
			snprintf(err, errlen, "--austin '%s' must be an absolute path inside --austin-root %s",
				 name, root);
			return -EINVAL;
		}
		if (join(root, name, here, sizeof(here)) || !executable(here)) {
			snprintf(err, errlen, "%s%s%s is not an executable file", own ? "" : root,
				 own ? "" : ":", name);
			return -ENOENT;
		}
		snprintf(path, len, "%s", name);
		return 0;
	}
	if (own) {
		const char *env = getenv("PATH");

		snprintf(dirs, sizeof(dirs), "%s", env && *env ? env : "/usr/local/bin:/usr/bin:/bin");
		for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d;
		     d = strtok_r(NULL, ":", &save)) {
			if (snprintf(here, sizeof(here), "%s/%s", d, name) >= (int)sizeof(here))
				continue;
			if (executable(here)) {
				/* A relative PATH entry is made absolute: we exec it later. */
				if (here[0] != '/' && realpath(here, dirs))
					snprintf(here, sizeof(here), "%s", dirs);
				snprintf(path, len, "%s", here);
				return 0;
			}
		}
		snprintf(err, errlen, "'%s' is not on PATH: install Austin 3 or later, or give --austin PATH or --austin-root DIR",
			 name);
		return -ENOENT;
	}
	for (size_t i = 0; i < sizeof(bins) / sizeof(bins[0]); i++) {
		char inside[PATH_MAX];

		snprintf(inside, sizeof(inside), "%s/%s", bins[i], name);
		if (!join(root, inside, here, sizeof(here)) && executable(here)) {
			snprintf(path, len, "%s", inside);
			return 0;
		}
	}
	snprintf(err, errlen, "no '%s' in %s (looked in /usr/local/bin, /usr/bin, /bin and the sbin directories there)",
		 name, root);
	return -ENOENT;
}

int austin_run_version(const char *root, const char *path, char *out, size_t len,
		       char *err, size_t errlen)
{
	char *const args[] = { "-V", NULL };
	struct austin_child child;
	uint64_t deadline = mono_now_ns() + 5000000000ULL;
	size_t used = 0;
	int fds[2], ret, status;

	if (pipe2(fds, O_CLOEXEC))
		return snprintf(err, errlen, "pipe: %s", strerror(errno)), -errno;
	ret = austin_spawn(getpid(), root, path, args, fds[1], -1, &child, err, errlen);
	close(fds[1]);
	if (ret) {
		close(fds[0]);
		return ret;
	}
	out[0] = '\0';
	while (used + 1 < len) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		uint64_t now = mono_now_ns();
		ssize_t n;

		if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000000 + 1)) <= 0)
			break;
		n = read(fds[0], out + used, len - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		out[used] = '\0';
	}
	close(fds[0]);
	kill(child.pid, SIGKILL);
	while (waitpid(child.pid, &status, 0) < 0 && errno == EINTR)
		;
	out[strcspn(out, "\n")] = '\0';
	if (!out[0]) {
		snprintf(err, errlen, "'%s -V' printed nothing", path);
		return -EIO;
	}
	return 0;
}
