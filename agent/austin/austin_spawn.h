/* SPDX-License-Identifier: Apache-2.0 */
/*
 * austin_spawn.h - start Austin next to a target: directly, or through the
 * namespace shim (nsexec.h) when the target lives in other namespaces or
 * Austin comes from a root file system other than "/".
 */
#ifndef BLOCKSNOOP_AUSTIN_SPAWN_H
#define BLOCKSNOOP_AUSTIN_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct austin_child {
	pid_t pid;      /* to signal and wait for (the shim's PID when via_shim) */
	bool via_shim;
};

/* Whether Austin for target must be started through the shim. */
bool austin_needs_shim(pid_t target, const char *root);

/*
 * The PID to give Austin's -p: target itself when Austin runs here, its
 * PID in its own namespace (last NSpid value) when through the shim.
 * 0 or -errno.
 */
int austin_target_pid(pid_t target, bool via_shim, pid_t *out);

/*
 * Start program (a path inside root) with args (argv[1...], NULL-terminated)
 * for target, stdout on out_fd and stderr on err_fd (-1: /dev/null), stdin
 * /dev/null, AUSTIN_NO_LOGGING=1 in its environment (no syslog). Started
 * directly it also has blocksnoop's environment, its own process group, no
 * blocked signals, and dies with blocksnoop; through the shim, the shim sees
 * to the same (and the environment is that one variable). 0, or -errno with
 * a one-line reason in err; nothing is left running on failure.
 */
int austin_spawn(pid_t target, const char *root, const char *program, char *const args[],
		 int out_fd, int err_fd, struct austin_child *child, char *err, size_t errlen);

#endif
