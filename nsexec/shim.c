// SPDX-License-Identifier: Apache-2.0
/*
 * shim.c - `blocksnoop nsexec ...`: run a program from blocksnoop's file
 * system (or --root) inside a target's mount and PID namespaces and root,
 * writing nothing into the target. docs/nsexec.md walks through it.
 *
 * Two stages, both single-threaded (this is a fresh exec of blocksnoop and
 * main() calls us before anything else runs):
 *
 *   bs-nsexec        opens every file it needs while it still sees
 *                    blocksnoop's file system, joins the target's PID (for
 *                    its children) and mount namespaces, chroots to the
 *                    target's root, forks the child, then stays as a small
 *                    parent that forwards signals and passes on the exit
 *                    status;
 *   bs-nsexec:child  in the target's PID namespace: drops capabilities and
 *                    execs the program's ELF interpreter from a file
 *                    descriptor, handing it the program and its library
 *                    directories as /proc/self/fd/N paths and the shim's
 *                    own environment (nsexec_spawn() set it to req->env).
 *
 * Any failure before the program runs ends the shim at once with one line
 * on the status pipe (or stderr) naming what failed, and exit status
 * NSEXEC_EXIT_FAILED.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsexec_internal.h"

extern char **environ;

#ifndef SYS_close_range
#define SYS_close_range 436 /* the same number on every architecture */
#endif

/* Where bail() reports: the status pipe if we have one, else stderr. */
static int report_fd = -1;

static void report(int errnum, const char *msg)
{
	if (report_fd >= 0)
		dprintf(report_fd, "%d %s\n", errnum, msg);
	else
		dprintf(STDERR_FILENO, "blocksnoop: error: nsexec: %s\n", msg);
}

/* Report "<what>: <strerror(errnum)>" (errnum > 0) or just what, and exit. */
__attribute__((noreturn, format(printf, 2, 3)))
static void bailx(int errnum, const char *fmt, ...)
{
	char msg[NSEXEC_STATUS_MAX - 16];
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	len = strlen(msg);
	if (errnum > 0)
		snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(errnum));
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	report(errnum > 0 ? errnum : EINVAL, msg);
	_exit(NSEXEC_EXIT_FAILED);
}

/* bailx() with errno as it was when the failing call returned. */
#define bail(...) bailx(errno, __VA_ARGS__)

/* The signals the shim forwards to the program (plus SIGCHLD, to reap it). */
static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };

/* ---- stage 0: files, opened in blocksnoop's mount namespace ------------------ */

struct program {
	int rootfd;             /* --root, O_PATH */
	int progfd;             /* the program, O_RDONLY */
	int loaderfd;           /* its PT_INTERP, O_RDONLY; -1 for a static program */
	int dirfd[NSEXEC_MAX_LIBDIRS]; /* library directories, O_PATH */
	unsigned ndirs;
};

/* Static: several KB each, and there is exactly one of each. */
static struct nsexec_elf elf;
static struct nsexec_dirs candidates;

/*
 * Where the program's file is inside the root, after symlinks (what ld.so
 * would take $ORIGIN from): the kernel's name for progfd minus the root's.
 * Falls back to the path as given.
 */
static void program_path_in_root(const struct program *p, const char *given, char *out,
				 size_t outlen)
{
	char root[NSEXEC_PATH_MAX], prog[NSEXEC_PATH_MAX], link[32];
	ssize_t rn, pn;
	size_t skip;

	snprintf(out, outlen, "%s", given);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", p->rootfd);
	rn = readlink(link, root, sizeof(root) - 1);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", p->progfd);
	pn = readlink(link, prog, sizeof(prog) - 1);
	if (rn <= 0 || pn <= 0 || rn == (ssize_t)sizeof(root) - 1 || pn == (ssize_t)sizeof(prog) - 1)
		return;
	root[rn] = prog[pn] = '\0';
	skip = strcmp(root, "/") ? (size_t)rn : 0;
	if (strncmp(prog, root, skip) || prog[skip] != '/')
		return;
	snprintf(out, outlen, "%s", prog + skip);
}

static void open_program(const struct nsexec_args *a, struct program *p)
{
	char err[128], inroot[NSEXEC_PATH_MAX];
	struct stat st, seen[NSEXEC_MAX_LIBDIRS];
	const char *program = a->program[0];
	int fd, ret;

	p->loaderfd = -1;
	p->ndirs = 0;
	p->rootfd = open(a->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (p->rootfd < 0)
		bail("open root %s", a->root);

	fd = nsexec_open_in_root(p->rootfd, program, O_RDONLY);
	if (fd == -ENOSYS)
		bailx(ENOSYS, "openat2 (Linux 5.6 or later) is needed to resolve %s in %s",
		      program, a->root);
	if (fd < 0)
		bailx(-fd, "open %s in root %s", program, a->root);
	p->progfd = fd;
	if (fstat(fd, &st))
		bail("fstat %s", program);
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		bailx(EACCES, "%s in root %s is not an executable file", program, a->root);

	/* The interpreter named by the program, never the one the kernel would
	 * pick in the target's root: that one may not exist or be another libc. */
	ret = nsexec_read_elf(fd, &elf, err, sizeof(err));
	if (ret)
		bailx(-ret, "%s in root %s: %s", program, a->root, err);
	if (!elf.dynamic)
		return; /* a static program needs neither loader nor libraries */

	fd = nsexec_open_in_root(p->rootfd, elf.interp, O_RDONLY);
	if (fd < 0)
		bailx(-fd, "open the ELF interpreter %s of %s in root %s", elf.interp, program,
		      a->root);
	p->loaderfd = fd;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		bailx(ENOEXEC, "the ELF interpreter %s in root %s is not a file", elf.interp, a->root);

	program_path_in_root(p, program, inroot, sizeof(inroot));
	nsexec_lib_dirs(inroot, elf.runpath, elf.machine, elf.elf64, &candidates);
	for (unsigned i = 0; i < candidates.n; i++) {
		bool dup = false;

		fd = nsexec_open_in_root(p->rootfd, candidates.path[i], O_PATH | O_DIRECTORY);
		if (fd == -ENOENT || fd == -ENOTDIR)
			continue;
		if (fd < 0)
			bailx(-fd, "open library directory %s in root %s", candidates.path[i], a->root);
		if (fstat(fd, &seen[p->ndirs]))
			bail("fstat library directory %s", candidates.path[i]);
		/* /lib -> usr/lib (merged /usr) makes several names one directory. */
		for (unsigned j = 0; j < p->ndirs && !dup; j++)
			dup = seen[j].st_dev == seen[p->ndirs].st_dev &&
			      seen[j].st_ino == seen[p->ndirs].st_ino;
		if (dup)
			close(fd);
		else
			p->dirfd[p->ndirs++] = fd;
	}
	if (!p->ndirs)
		bailx(ENOENT, "no library directory for %s in root %s", program, a->root);
}

/* ---- stage 0: the target's namespaces and root ------------------------------ */

struct target {
	int pidns, mntns, rootfd;
	bool enter_pid, enter_mnt, change_root;
};

/* Whether fd and path name the same file (namespace files: the same namespace). */
static bool same_file(int fd, const char *path)
{
	struct stat a, b;

	if (fstat(fd, &a))
		bail("fstat");
	if (stat(path, &b))
		bail("stat %s", path);
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int open_proc(pid_t pid, const char *what, int flags)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		bailx(ESRCH, "no process %d (opening %s)", (int)pid, path);
	if (fd < 0)
		bail("open %s", path);
	return fd;
}

/*
 * All of them are opened before the first setns(), while /proc/<target>
 * still means blocksnoop's /proc (after setns(mnt) and chroot it is the
 * target's, where <target> is another process or none).
 */
static void open_target(pid_t pid, struct target *t)
{
	t->pidns = open_proc(pid, "ns/pid", O_RDONLY);
	t->mntns = open_proc(pid, "ns/mnt", O_RDONLY);
	t->rootfd = open_proc(pid, "root", O_PATH | O_DIRECTORY);
	/* Join only what differs: setns() into our own mount namespace would
	 * still reset our root, and there is nothing to gain. */
	t->enter_pid = !same_file(t->pidns, "/proc/self/ns/pid");
	t->enter_mnt = !same_file(t->mntns, "/proc/self/ns/mnt");
	/* `unshare --root` and chroot-style runtimes give the target a root
	 * that is not its mount namespace's root: entering the namespace is
	 * not enough to see its files, so chroot to /proc/<pid>/root as well
	 * (pivot_root-style runtimes make the two agree; then it is a no-op). */
	t->change_root = t->enter_mnt || !same_file(t->rootfd, "/");
}

static void enter_target(pid_t pid, const struct target *t)
{
	/* PID first: it only changes the namespace of our future children,
	 * which is why the program runs in a forked child. */
	if (t->enter_pid && setns(t->pidns, CLONE_NEWPID))
		bail("setns into the PID namespace of %d", (int)pid);
	if (t->enter_mnt && setns(t->mntns, CLONE_NEWNS))
		bail("setns into the mount namespace of %d", (int)pid);
	if (fchdir(t->rootfd))
		bail("fchdir to the root of %d", (int)pid);
	if (t->change_root && chroot("."))
		bail("chroot to the root of %d", (int)pid);
}

/* ---- fds, capabilities ------------------------------------------------------- */

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Close every fd from 3 up except those in keep (n of them; sorted here). */
static void close_all_except(int *keep, unsigned n)
{
	unsigned lo = 3;

	if (n)
		qsort(keep, n, sizeof(*keep), cmp_int);
	for (unsigned i = 0; i <= n; i++) {
		unsigned hi = i < n ? (unsigned)keep[i] : ~0U;

		if (i < n && keep[i] < 3)
			continue;
		if (hi > lo && syscall(SYS_close_range, lo, hi - 1, 0)) {
			struct rlimit rl;
			rlim_t max;

			/* Linux < 5.9: close them one by one. */
			if (errno != ENOSYS || getrlimit(RLIMIT_NOFILE, &rl))
				bail("close_range");
			max = rl.rlim_cur < (1 << 20) ? rl.rlim_cur : (1 << 20);
			for (unsigned fd = lo; fd < hi && fd < max; fd++)
				close((int)fd);
		}
		lo = hi + 1;
	}
}

/*
 * Keep exactly keep (those of them we have) for the program, through exec:
 * as bounding, permitted, effective, inheritable and ambient set. The
 * ambient set carries them over exec when we are not root (the program has
 * no file caps). When we are root, exec would grant the whole bounding set;
 * no_new_privs (set next) already caps what exec may grant at what we hold,
 * so dropping the bounding set is defence in depth and is skipped without
 * CAP_SETPCAP rather than fail.
 */
static void drop_caps(uint64_t keep)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	bool can_drop = true;
	uint64_t give;
	int last = -1;

	if (syscall(SYS_capget, &h, d))
		bail("capget");
	give = keep & (d[0].permitted | (uint64_t)d[1].permitted << 32);
	for (int c = 0; c < 64; c++) {
		int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);

		if (r < 0 && errno == EINVAL)
			break; /* past the last capability this kernel knows */
		if (r < 0)
			bail("prctl(PR_CAPBSET_READ, %d)", c);
		last = c;
		if (r == 1 && !(give >> c & 1) && can_drop && prctl(PR_CAPBSET_DROP, c, 0, 0, 0)) {
			if (errno != EPERM)
				bail("drop capability %d from the bounding set", c);
			can_drop = false; /* no CAP_SETPCAP */
		}
	}
	if (last < 63 && keep >> (last + 1))
		bailx(EINVAL, "--keep-caps names capabilities above %d, this kernel's last", last);
	d[0].effective = d[0].permitted = d[0].inheritable = (uint32_t)give;
	d[1].effective = d[1].permitted = d[1].inheritable = (uint32_t)(give >> 32);
	if (syscall(SYS_capset, &h, d))
		bail("capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))
		bail("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
	for (int c = 0; c <= last; c++)
		if (give >> c & 1 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0))
			bail("raise capability %d in the ambient set", c);
}

/* ---- stage 1: the child --------------------------------------------------- */

__attribute__((noreturn))
static void child(const struct nsexec_args *a, const struct program *p, int setup_r)
{
	static char fdpaths[NSEXEC_MAX_LIBDIRS + 1][32];
	static char libpath[(NSEXEC_MAX_LIBDIRS + 1) * 32];
	static char *argv[NSEXEC_MAX_ARGS + 8];
	int keep[NSEXEC_MAX_LIBDIRS + 3], nkeep = 0, argc = 0;
	struct pollfd pfd = { .fd = report_fd, .events = POLLOUT };
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	size_t used = 0;

	prctl(PR_SET_NAME, "bs-nsexec:child", 0, 0, 0);
	close(setup_r);
	/* Die with the shim. If it died before this took effect, the setup
	 * pipe has lost its only reader: the shim's read end. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
		bail("prctl(PR_SET_PDEATHSIG)");
	if (poll(&pfd, 1, 0) != 1 || (pfd.revents & (POLLERR | POLLHUP)))
		_exit(NSEXEC_EXIT_FAILED);

	drop_caps(a->keep_caps);
	/* Nothing the program execs may gain privileges (set-uid, file caps). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		bail("prctl(PR_SET_NO_NEW_PRIVS)");

	/* The program and its library directories are opened by ld.so after
	 * exec, by /proc/self/fd/N: those fds must survive exec. The loader and
	 * the setup pipe are close-on-exec; everything else is closed now. */
	keep[nkeep++] = report_fd;
	keep[nkeep++] = p->progfd;
	if (p->loaderfd >= 0)
		keep[nkeep++] = p->loaderfd;
	for (unsigned i = 0; i < p->ndirs; i++) {
		keep[nkeep++] = p->dirfd[i];
		if (fcntl(p->dirfd[i], F_SETFD, 0))
			bail("fcntl(F_SETFD)");
	}
	/* (a static program is exec'ed by its fd: that one may close) */
	if (p->loaderfd >= 0 && fcntl(p->progfd, F_SETFD, 0))
		bail("fcntl(F_SETFD)");
	close_all_except(keep, (unsigned)nkeep);

	/* /proc/self/fd/N must resolve in the target's root: a container has
	 * /proc (the program, Austin, reads /proc/<pid>/maps there anyway). */
	snprintf(fdpaths[0], sizeof(fdpaths[0]), "/proc/self/fd/%d", p->progfd);
	if (p->loaderfd >= 0 && access(fdpaths[0], F_OK))
		bail("%s does not resolve in the target's root (is /proc mounted there?)", fdpaths[0]);
	for (unsigned i = 0; i < p->ndirs; i++) {
		snprintf(fdpaths[i + 1], sizeof(fdpaths[i + 1]), "/proc/self/fd/%d", p->dirfd[i]);
		used += (size_t)snprintf(libpath + used, sizeof(libpath) - used, "%s%s",
					 i ? ":" : "", fdpaths[i + 1]);
	}

	if (p->loaderfd >= 0) {
		argv[argc++] = elf.interp;
		argv[argc++] = "--library-path";
		argv[argc++] = libpath;
		argv[argc++] = fdpaths[0];
	} else {
		argv[argc++] = a->program[0];
	}
	for (char **arg = a->program + 1; *arg; arg++)
		argv[argc++] = *arg;
	argv[argc] = NULL;

	/* The program starts with default dispositions and nothing blocked. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* Exec the loader (or a static program) by fd: its path is in
	 * blocksnoop's file system, which we no longer see. */
	syscall(SYS_execveat, p->loaderfd >= 0 ? p->loaderfd : p->progfd, "", argv, environ,
		AT_EMPTY_PATH);
	bail("execveat %s", p->loaderfd >= 0 ? elf.interp : a->program[0]);
}

/* ---- stage 0: the parent that stays ------------------------------------------- */

/*
 * Start the child with CLONE_VFORK (but its own memory, as fork): we resume
 * only once it has exec'ed or exited, so the setup pipe says for certain
 * which, and blocksnoop gets a positive answer instead of waiting for an
 * EOF that a fork() in another of its threads could delay.
 */
static pid_t start_child(const struct nsexec_args *a, const struct program *p)
{
	char line[NSEXEC_STATUS_MAX];
	int setup[2], status_fd = report_fd;
	ssize_t n;
	size_t got = 0;
	pid_t pid;

	if (pipe2(setup, O_CLOEXEC))
		bail("pipe2");
	pid = (pid_t)syscall(SYS_clone, CLONE_VFORK | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0)
		bail("clone");
	if (pid == 0) {
		report_fd = setup[1];
		child(a, p, setup[0]);
	}
	close(setup[1]);
	while (got < sizeof(line) && (n = read(setup[0], line + got, sizeof(line) - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += (size_t)n;
	}
	close(setup[0]);
	if (got) {
		/* The child failed and said why: pass it on, verbatim. */
		if (status_fd >= 0)
			(void)!write(status_fd, line, got);
		else
			dprintf(STDERR_FILENO, "blocksnoop: error: nsexec: %.*s", (int)got, line);
		waitpid(pid, NULL, 0);
		_exit(NSEXEC_EXIT_FAILED);
	}
	/* No line: it exec'ed (every failure before exec writes one; a child
	 * killed before exec by someone else is reported as the program's
	 * death). It may already have exited: the parent loop reaps it. */
	if (status_fd >= 0) {
		dprintf(status_fd, "0 running\n");
		close(status_fd);
	}
	report_fd = -1;
	/* The shim needs none of its files any more (nor the ns fds). */
	close_all_except(NULL, 0);
	return pid;
}

__attribute__((noreturn))
static void forward_until_exit(pid_t pid, const sigset_t *set)
{
	for (;;) {
		int sig = sigwaitinfo(set, NULL), wstatus;
		pid_t r;

		if (sig < 0 && errno == EINTR)
			continue;
		if (sig < 0)
			bail("sigwaitinfo");
		if (sig != SIGCHLD) {
			kill(pid, sig);
			continue;
		}
		while ((r = waitpid(-1, &wstatus, WNOHANG)) > 0)
			if (r == pid)
				_exit(nsexec_exit_code(wstatus));
	}
}

int nsexec_main(int argc, char **argv)
{
	static struct program prog;
	struct nsexec_args a;
	struct target t;
	char err[256];
	sigset_t set;
	int ret;

	prctl(PR_SET_NAME, "bs-nsexec", 0, 0, 0);
	/* A SIGCHLD ignored by whoever started us would reap the child behind
	 * our back and we would never learn its status. */
	signal(SIGCHLD, SIG_DFL);
	/* Block what we forward before anything else: a signal that arrives
	 * during setup stays pending and reaches the program once it runs. */
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);

	ret = nsexec_parse_args(argc, argv, &a, err, sizeof(err));
	if (a.status_fd >= 0 && fcntl(a.status_fd, F_SETFD, FD_CLOEXEC) == 0)
		report_fd = a.status_fd;
	else if (a.status_fd >= 0)
		bail("--status-fd %d", a.status_fd);
	if (ret)
		bailx(EINVAL, "%s", err);
	/* Our environment becomes the program's: the same rules as for req->env. */
	ret = nsexec_check_env(environ, err, sizeof(err));
	if (ret)
		bailx(EINVAL, "%s", err);

	/* Die with blocksnoop; if it is already gone, we were reparented. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
		bail("prctl(PR_SET_PDEATHSIG)");
	if (a.parent && getppid() != a.parent)
		bailx(ESRCH, "blocksnoop (pid %d) is gone", (int)a.parent);
	/* Whatever blocksnoop left open without close-on-exec is not ours. */
	close_all_except(&report_fd, report_fd >= 0);
	/* Non-dumpable while we hold fds to blocksnoop's file system and join
	 * the target: its processes must not ptrace us or open /proc/<us>/fd. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		bail("prctl(PR_SET_DUMPABLE)");

	open_program(&a, &prog);
	open_target(a.target, &t);
	enter_target(a.target, &t);
	forward_until_exit(start_child(&a, &prog), &set);
}
