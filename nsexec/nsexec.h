/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nsexec.h - run a program from blocksnoop's file system inside a target's
 * namespaces and root, confined, loading and running nothing of the
 * target's and writing nothing into it.
 *
 * Used to run Austin next to a containerised Python: Austin must see the
 * target's files (/proc/<pid>/maps names paths of the target's root), but
 * its own binary, ELF interpreter and libraries exist only in blocksnoop's
 * file system (or in --austin-root). Its loader loads them from there
 * first; a preloaded object of ours then enters the target and confines
 * the program before its main(). See docs/nsexec.md for the step-by-step,
 * docs/security.md for why.
 */
#ifndef BLOCKSNOOP_NSEXEC_H
#define BLOCKSNOOP_NSEXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct nsexec_request {
	pid_t target;           /* whose namespaces to enter (blocksnoop's PID namespace) */
	const char *root;       /* where program, its loader and libraries live; "/" = blocksnoop's own */
	const char *program;    /* path of the program inside root, e.g. "/usr/bin/austin" */
	char *const *args;      /* the program's arguments (after argv[0]), NULL-terminated */
	int stdout_fd;          /* becomes the program's stdout */
	int stderr_fd;          /* becomes the program's stderr */
	uint64_t keep_caps;     /* capabilities the program keeps (bit N = capability N) */
	/* The program's whole environment ("NAME=VALUE", NULL-terminated; NULL:
	 * empty). Names starting with LD_ and GLIBC_TUNABLES are refused: the
	 * shim chooses and configures the loader. For Austin pass
	 * "AUSTIN_NO_LOGGING=1", or it writes to the target's /dev/log. */
	char *const *env;
};

/*
 * Whether running a program against target needs the shim: its mount
 * namespace or its root differs from blocksnoop's.
 */
bool nsexec_needed(pid_t target);

/*
 * Start req->program as described above. Returns 0 and the PID (in
 * blocksnoop's namespace) of the process to signal and wait for; the program
 * dies with blocksnoop (PR_SET_PDEATHSIG), signals sent to that PID reach the
 * program, and its exit status is that PID's. On failure returns -errno with
 * a one-line reason in err, and nothing is left running.
 *
 * Details of this implementation:
 * - The PID is the shim's ("bs-nsexec"), a small parent that stays in
 *   blocksnoop's namespaces and root (the program joins the target's PID,
 *   mount, network and IPC namespaces and its root): it forwards SIGTERM,
 *   SIGINT, SIGHUP and SIGQUIT to the program and exits with the program's
 *   status (its exit code, or 128+N if signal N ended it). SIGKILL of the
 *   shim kills the program. NSEXEC_EXIT_FAILED if the shim itself failed
 *   after this returned.
 * - It is in a process group of its own: a terminal's Ctrl-C reaches
 *   blocksnoop only, which decides when the program ends.
 * - Works whether or not target's namespaces differ from blocksnoop's: the
 *   shim enters only those that differ, so it is also the way to run a
 *   program from a root other than "/" next to a target that shares
 *   blocksnoop's file system.
 * - PR_SET_PDEATHSIG follows the *thread* that calls this: call it from a
 *   thread that lives as long as the program should (e.g. the main thread).
 * - The program's stdin is /dev/null, its environment is req->env, argv[0]
 *   is "/proc/self/fd/N". When its main() runs it holds fds 0-2 only and
 *   req->keep_caps (those of them blocksnoop has) only, with no_new_privs,
 *   not dumpable, and a seccomp filter under which exec and new executable
 *   memory fail with EPERM: a program that must exec cannot run this way.
 * - Every library the program needs must be in the root's library
 *   directories, and its loader must take --preload (glibc >= 2.30, musl):
 *   otherwise this fails with the reason.
 * - Waits (at most 10 s) until the program is about to run its main() or
 *   the start has failed. Thread-safe; never forks the calling process (it
 *   posix_spawn()s /proc/self/exe).
 */
int nsexec_spawn(const struct nsexec_request *req, pid_t *pid, char *err, size_t errlen);

/* Exit status of the shim when it failed before or while starting the program. */
#define NSEXEC_EXIT_FAILED 125

/*
 * The PID of target (a PID in blocksnoop's namespace) as the program sees
 * it: in target's own PID namespace, which the shim enters (the last value
 * of "NSpid:" in /proc/<target>/status). Pass it to Austin's -p. Returns 0
 * or -errno (-ESRCH: no such process).
 */
int nsexec_target_pid(pid_t target, pid_t *nspid);

/*
 * The shim's own entry point, for `blocksnoop nsexec ...` (internal: only
 * nsexec_spawn() runs it). main() calls it before anything else happens.
 */
int nsexec_main(int argc, char **argv);

#endif
