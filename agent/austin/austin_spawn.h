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

/*
 * Whether Austin for target must be started through the shim to see the
 * target's files: its mount namespace or root differs from blocksnoop's, or
 * Austin comes from a root other than "/". (austin_spawn() also runs an
 * ELF Austin through the shim when it need not enter anything, to confine
 * it: see there.)
 */
bool austin_needs_shim(pid_t target, const char *root);

/* Whether path (in blocksnoop's file system) starts with the ELF magic:
 * such an Austin always runs confined through the shim (austin_spawn). */
bool austin_is_elf(const char *path);

/*
 * The PID to give Austin's -p: target itself when Austin runs here, its
 * PID in its own namespace (last NSpid value) when through the shim.
 * 0 or -errno.
 */
int austin_target_pid(pid_t target, bool via_shim, pid_t *out);

/*
 * Start program (a path inside root) with args (argv[1...], NULL-terminated)
 * for target, stdout on out_fd and stderr on err_fd (-1: /dev/null), stdin
 * /dev/null, AUSTIN_NO_LOGGING=1 in its environment (no syslog).
 *
 * An ELF program always runs through the shim (child->via_shim), which
 * enters what austin_needs_shim() says must be entered and confines it in
 * any case: CAP_SYS_PTRACE only, fds 0-2 only, no exec, no new executable
 * memory (docs/nsexec.md); its environment is that one variable. Only a
 * program that is not ELF (a wrapper script) for a target in blocksnoop's
 * own mount namespace and root is started directly, as blocksnoop runs,
 * with blocksnoop's environment as well. Either way it has its own process
 * group, no blocked signals, and dies with blocksnoop. 0, or -errno with a
 * one-line reason in err; nothing is left running on failure.
 */
int austin_spawn(pid_t target, const char *root, const char *program, char *const args[],
		 int out_fd, int err_fd, struct austin_child *child, char *err, size_t errlen);

#endif
