// SPDX-License-Identifier: Apache-2.0
/*
 * shim.c - `blocksnoop nsexec ...`: run a program from blocksnoop's file
 * system (or --root) inside a target's namespaces and root, without ever
 * loading or executing anything of the target's, and writing nothing into
 * it. docs/nsexec.md walks through it.
 *
 * Load first, enter afterwards. Two stages, both single-threaded (this is
 * a fresh exec of blocksnoop and main() calls us before anything else):
 *
 *   bs-nsexec        opens every file it needs and the target's namespaces
 *                    (through a pidfd), checks that every library the
 *                    program needs is in the root, joins only the target's
 *                    PID namespace (for its children), fills in the
 *                    preloaded object, forks the child, then stays as a
 *                    small parent that forwards signals and passes on the
 *                    exit status;
 *   bs-nsexec:child  in the target's PID namespace but still in
 *                    blocksnoop's mount namespace and root: execs the
 *                    program's ELF loader from a file descriptor, with the
 *                    program, its library directories and the preloaded
 *                    object as /proc/self/fd/N paths. The loader loads
 *                    everything from blocksnoop's side; then the object's
 *                    constructor (preload/constructor.c, enter.c) enters
 *                    the target and confines the program before its main().
 *                    A static program needs no loader: the child enters
 *                    and confines itself, then execs it by fd.
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

#include "compat.h"
#include "enter.h"
#include "nsexec_internal.h"

extern char **environ;

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

/* Pass on a line the child's set-up wrote (its message is complete), and exit. */
__attribute__((noreturn))
static void pass_on(int errnum, const char *msg)
{
	report(errnum, msg);
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
	const char *dirname[NSEXEC_MAX_LIBDIRS]; /* their paths inside the root */
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
	char err[NSEXEC_STATUS_MAX - 64], inroot[NSEXEC_PATH_MAX];
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

	/* The interpreter named by the program, never one the kernel would
	 * pick by path. */
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
		if (dup) {
			close(fd);
			continue;
		}
		p->dirname[p->ndirs] = candidates.path[i];
		p->dirfd[p->ndirs++] = fd;
	}
	if (!p->ndirs)
		bailx(ENOENT, "no library directory for %s in root %s", program, a->root);
	/* Every library from those directories, or the loader would go on to
	 * its default ones: refuse now, with the name, rather than run the
	 * program with a library of another root. */
	ret = nsexec_check_libraries(p->rootfd, &elf, p->dirfd, p->dirname, p->ndirs, err,
				     sizeof(err));
	if (ret)
		bailx(-ret, "%s in root %s %s", program, a->root, err);
}

/* ---- stage 0: the target's namespaces and root ------------------------------ */

struct target {
	int pidns, mntns, netns, ipcns, rootfd;
	bool enter_pid, enter_mnt, enter_net, enter_ipc, change_root;
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
 * All of them are opened while /proc/<target> still means blocksnoop's
 * /proc, and between a pidfd_open() and a pidfd_send_signal(0) on that
 * pidfd: the process was alive all along, so its PID was never anyone
 * else's and the files are its own.
 */
static void open_target(pid_t pid, struct target *t)
{
	int pidfd = sys_pidfd_open(pid, 0);

	if (pidfd < 0 && errno == ESRCH)
		bailx(ESRCH, "no process %d", (int)pid);
	if (pidfd < 0 && errno == ENOSYS)
		bailx(ENOSYS, "pidfd_open (Linux 5.3 or later) is needed");
	if (pidfd < 0)
		bail("pidfd_open(%d)", (int)pid);
	t->pidns = open_proc(pid, "ns/pid", O_RDONLY);
	t->mntns = open_proc(pid, "ns/mnt", O_RDONLY);
	t->netns = open_proc(pid, "ns/net", O_RDONLY);
	t->ipcns = open_proc(pid, "ns/ipc", O_RDONLY);
	t->rootfd = open_proc(pid, "root", O_PATH | O_DIRECTORY);
	if (sys_pidfd_send_signal(pidfd, 0, NULL, 0)) {
		if (errno == ESRCH)
			bailx(ESRCH, "process %d ended while its namespaces were being opened",
			      (int)pid);
		bail("pidfd_send_signal(%d)", (int)pid);
	}
	close(pidfd);
	/* Join only what differs: setns() into our own mount namespace would
	 * still reset our root, and there is nothing to gain. */
	t->enter_pid = !same_file(t->pidns, "/proc/self/ns/pid");
	t->enter_mnt = !same_file(t->mntns, "/proc/self/ns/mnt");
	t->enter_net = !same_file(t->netns, "/proc/self/ns/net");
	t->enter_ipc = !same_file(t->ipcns, "/proc/self/ns/ipc");
	/* `unshare --root` and chroot-style runtimes give the target a root
	 * that is not its mount namespace's root: entering the namespace is
	 * not enough to see its files, so chroot to /proc/<pid>/root as well
	 * (pivot_root-style runtimes make the two agree; then it is a no-op). */
	t->change_root = t->enter_mnt || !same_file(t->rootfd, "/");
}

/* What the program's set-up (enter.c) does, in the child or the constructor. */
static void enter_params(const struct nsexec_args *a, const struct program *p,
			 const struct target *t, int status_fd, struct nsexec_enter_params *e)
{
	const char *base = strrchr(a->program[0], '/');

	memset(e, 0, sizeof(*e));
	e->status_fd = status_fd;
	e->net_fd = t->enter_net ? t->netns : -1;
	e->ipc_fd = t->enter_ipc ? t->ipcns : -1;
	e->mnt_fd = t->enter_mnt ? t->mntns : -1;
	e->root_fd = t->change_root ? t->rootfd : -1;
	e->exec_fd = p->loaderfd < 0 ? p->progfd : -1;
	e->keep_caps = a->keep_caps;
	snprintf(e->comm, sizeof(e->comm), "%s", base ? base + 1 : a->program[0]);
}

/* ---- fds -------------------------------------------------------------------- */

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
		if (hi > lo && sys_close_range(lo, hi - 1, 0)) {
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

/* Keep fd open across exec (the loader or the constructor needs it). */
static void inherit(int fd, int *keep, int *nkeep)
{
	if (fd < 0)
		return;
	if (fcntl(fd, F_SETFD, 0))
		bail("fcntl(F_SETFD)");
	keep[(*nkeep)++] = fd;
}

/* ---- stage 1: the child --------------------------------------------------- */

/* The program starts with default dispositions and nothing blocked. */
static void reset_signals(void)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * A static program: nothing to load, so enter and confine here (the very
 * code the constructor runs), say "running" and exec it by fd: the one
 * exec the filter allows.
 */
__attribute__((noreturn))
static void exec_static(const struct nsexec_args *a, const struct program *p,
			const struct nsexec_enter_params *e)
{
	const char *what = "";
	int ret = nsexec_enter(e, &what);

	if (ret)
		bailx(-ret, "%s", what);
	if (write(report_fd, NSEXEC_RUNNING, sizeof(NSEXEC_RUNNING) - 1) < 0)
		_exit(NSEXEC_EXIT_FAILED);
	reset_signals();
	syscall(SYS_execveat, p->progfd, "", a->program, environ, AT_EMPTY_PATH);
	bail("execveat %s", a->program[0]);
}

/*
 * A dynamic program: its loader, exec'ed here, in blocksnoop's mount
 * namespace and root. Only what the constructor needs to enter and drop
 * (CAP_SYS_ADMIN for setns, CAP_SYS_CHROOT, CAP_SETPCAP for the bounding
 * set) is kept beyond keep_caps until then, and no_new_privs is set.
 */
__attribute__((noreturn))
static void exec_loader(const struct nsexec_args *a, const struct program *p,
			const struct target *t, const struct nsexec_enter_params *e, int memfd)
{
	static char fdpaths[NSEXEC_MAX_LIBDIRS][32], libpath[NSEXEC_MAX_LIBDIRS * 32];
	static char progpath[32], preload[32];
	static char *argv[NSEXEC_MAX_ARGS + 16];
	int keep[NSEXEC_MAX_LIBDIRS + 8], nkeep = 0, ret;
	uint64_t setup = a->keep_caps | 1ULL << CAP_SETPCAP;
	const char *what = "";
	size_t used = 0;

	if (t->enter_mnt || t->enter_net || t->enter_ipc)
		setup |= 1ULL << CAP_SYS_ADMIN;
	if (t->enter_mnt || t->change_root)
		setup |= 1ULL << CAP_SYS_CHROOT;
	ret = nsexec_limit_caps(setup, setup, &what);
	if (ret)
		bailx(-ret, "%s", what);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		bail("prctl(PR_SET_NO_NEW_PRIVS)");

	/* What the loader opens by /proc/self/fd/N, and what the constructor
	 * uses and then closes, survive the exec; the loader itself is exec'ed
	 * by its fd (close-on-exec); everything else is closed now. */
	inherit(report_fd, keep, &nkeep);
	inherit(p->progfd, keep, &nkeep);
	inherit(memfd, keep, &nkeep);
	inherit(e->net_fd, keep, &nkeep);
	inherit(e->ipc_fd, keep, &nkeep);
	inherit(e->mnt_fd, keep, &nkeep);
	inherit(e->root_fd, keep, &nkeep);
	for (unsigned i = 0; i < p->ndirs; i++)
		inherit(p->dirfd[i], keep, &nkeep);
	keep[nkeep++] = p->loaderfd;
	close_all_except(keep, (unsigned)nkeep);

	snprintf(progpath, sizeof(progpath), "/proc/self/fd/%d", p->progfd);
	snprintf(preload, sizeof(preload), "/proc/self/fd/%d", memfd);
	if (access(progpath, F_OK))
		bail("%s does not resolve (is /proc mounted in blocksnoop's mount namespace?)",
		     progpath);
	for (unsigned i = 0; i < p->ndirs; i++) {
		snprintf(fdpaths[i], sizeof(fdpaths[i]), "/proc/self/fd/%d", p->dirfd[i]);
		used += (size_t)snprintf(libpath + used, sizeof(libpath) - used, "%s%s",
					 i ? ":" : "", fdpaths[i]);
	}
	if (nsexec_loader_argv(elf.interp, libpath, preload, progpath, a->program + 1, argv,
			       sizeof(argv) / sizeof(argv[0])) < 0)
		bailx(E2BIG, "the loader's command line does not fit");
	reset_signals();
	syscall(SYS_execveat, p->loaderfd, "", argv, environ, AT_EMPTY_PATH);
	bail("execveat %s", elf.interp);
}

__attribute__((noreturn))
static void child(const struct nsexec_args *a, const struct program *p, const struct target *t,
		  const struct nsexec_enter_params *e, int memfd, int setup_r)
{
	struct pollfd pfd = { .fd = report_fd, .events = POLLOUT };

	prctl(PR_SET_NAME, "bs-nsexec:child", 0, 0, 0);
	close(setup_r);
	/* Die with the shim. If it died before this took effect, the set-up
	 * pipe has lost its only reader: the shim's read end. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
		bail("prctl(PR_SET_PDEATHSIG)");
	if (poll(&pfd, 1, 0) != 1 || (pfd.revents & (POLLERR | POLLHUP)))
		_exit(NSEXEC_EXIT_FAILED);
	if (p->loaderfd < 0)
		exec_static(a, p, e);
	exec_loader(a, p, t, e, memfd);
}

/* ---- stage 0: the parent that stays ------------------------------------------- */

/* Everything the child's set-up writes, to EOF (bounded: it is our code). */
static size_t read_setup(int fd, char *buf, size_t size)
{
	size_t got = 0;
	char sink[256];

	for (;;) {
		ssize_t n = got < size ? read(fd, buf + got, size - got) : read(fd, sink, sizeof(sink));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return got;
		if (got < size)
			got += (size_t)n;
		else
			got = size + 1; /* more than a set-up ever says: malformed */
	}
}

/*
 * Start the child and wait until its set-up has ended: the program runs,
 * or the child said why not, or it died before saying anything (a loader
 * that cannot load the program, or one without --preload). Only then does
 * blocksnoop hear "running".
 */
static pid_t start_child(const struct nsexec_args *a, const struct program *p,
			 const struct target *t)
{
	char line[2 * NSEXEC_STATUS_MAX + 1], msg[NSEXEC_STATUS_MAX], err[256];
	struct nsexec_enter_params e;
	int setup[2], status_fd = report_fd, memfd = -1, ret, wstatus;
	size_t got;
	pid_t pid;

	if (pipe2(setup, O_CLOEXEC))
		bail("pipe2");
	enter_params(a, p, t, setup[1], &e);
	if (p->loaderfd >= 0) {
		memfd = nsexec_preload_memfd(&e, err, sizeof(err));
		if (memfd < 0)
			bailx(-memfd, "%s", err);
	}
	pid = fork();
	if (pid < 0)
		bail("fork");
	if (pid == 0) {
		report_fd = setup[1];
		child(a, p, t, &e, memfd, setup[0]);
	}
	close(setup[1]);
	if (memfd >= 0)
		close(memfd);
	got = read_setup(setup[0], line, sizeof(line) - 1);
	close(setup[0]);
	ret = nsexec_parse_setup(line, got > sizeof(line) - 1 ? 0 : got, msg, sizeof(msg));
	if (got > sizeof(line) - 1)
		ret = -EPROTO;
	if (ret) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
			;
		if (ret > 0)
			pass_on(ret, msg); /* the child's (or constructor's) own words */
		if (ret == -ENODATA) {
			snprintf(msg, sizeof(msg), "the ELF loader %.200s ended (status %d) before the "
				 "program could start: see the program's stderr (the loader needs "
				 "--preload: glibc 2.30 or later, or musl)", elf.interp,
				 nsexec_exit_code(wstatus));
			pass_on(ECHILD, msg);
		}
		bailx(EPROTO, "the program's set-up sent a malformed status line");
	}
	if (status_fd >= 0) {
		dprintf(status_fd, NSEXEC_RUNNING);
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
	/* Non-dumpable while we hold fds to blocksnoop's file system and the
	 * target's namespaces: its processes must not ptrace us or open
	 * /proc/<us>/fd. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		bail("prctl(PR_SET_DUMPABLE)");

	open_program(&a, &prog);
	open_target(a.target, &t);
	/* Only the PID namespace is joined here, and it applies to our
	 * children only: the rest is the program's set-up's, after loading. */
	if (t.enter_pid && setns(t.pidns, CLONE_NEWPID))
		bail("setns into the PID namespace of %d", (int)a.target);
	forward_until_exit(start_child(&a, &prog, &t), &set);
}
