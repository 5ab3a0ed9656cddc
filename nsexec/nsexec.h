/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nsexec.h - run a program from blocksnoop's file system inside a target's
 * mount (and PID) namespace, writing nothing into the target.
 *
 * Used to run Austin next to a containerised Python: Austin must see the
 * target's files (/proc/<pid>/maps names paths of the target's root), but
 * its own binary, ELF interpreter and libraries exist only in blocksnoop's
 * file system (or in --austin-root). They are opened as file descriptors
 * before any namespace is entered and executed through /proc/self/fd.
 * See docs/nsexec.md for the step-by-step.
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
 */
int nsexec_spawn(const struct nsexec_request *req, pid_t *pid, char *err, size_t errlen);

/*
 * The shim's own entry point, for `blocksnoop nsexec ...` (internal: only
 * nsexec_spawn() runs it). main() calls it before anything else happens.
 */
int nsexec_main(int argc, char **argv);

#endif
