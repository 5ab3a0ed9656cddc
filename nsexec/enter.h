/* SPDX-License-Identifier: Apache-2.0 */
/*
 * enter.h - the last steps before a program runs next to a target: join
 * its namespaces and root, keep no file descriptor but 0-2, keep only the
 * capabilities asked for, and forbid exec and new executable memory.
 *
 * Built twice (see sys.h): into blocksnoop, where the shim's child runs it
 * before exec'ing a static program, and into the preloaded object (the
 * constructor in preload/), which runs it inside a dynamic program after
 * the loader has loaded every library from blocksnoop's file system and
 * before the program's main(). So: no C library, no allocation, no errno.
 * docs/nsexec.md says why each step is there.
 */
#ifndef BLOCKSNOOP_NSEXEC_ENTER_H
#define BLOCKSNOOP_NSEXEC_ENTER_H

#include <stdint.h>

/* params.magic once the shim has filled the params in (16 bytes, NUL included). */
#define NSEXEC_ENTER_MAGIC "bs-nsexec-enter"

/*
 * What to enter and keep. In the preloaded object this lives in a section
 * of its own (NSEXEC_ENTER_SECTION) that the shim fills in, in its copy of
 * the object, before handing it to the loader: no environment variable,
 * no agreed fd number. Fixed-width fields: the layout is the contract.
 */
struct nsexec_enter_params {
	char magic[16];
	int32_t status_fd;      /* kept open (the caller reports there); -1: none */
	int32_t net_fd;         /* namespaces to join (setns); -1: stay in ours */
	int32_t ipc_fd;
	int32_t mnt_fd;
	int32_t root_fd;        /* fchdir + chroot(".") to this directory; -1: keep ours */
	int32_t exec_fd;        /* execveat(exec_fd, "", AT_EMPTY_PATH) stays allowed; -1: none */
	uint64_t keep_caps;     /* capabilities kept (bit N = capability N) */
	char comm[16];          /* PR_SET_NAME; "" leaves the name */
};

#define NSEXEC_ENTER_SECTION ".bsnoop_enter"

/*
 * In this order: join the network, IPC and mount namespaces given; change
 * root to root_fd; close every fd >= 3 but status_fd and exec_fd; drop to
 * keep_caps (nsexec_limit_caps(keep_caps, 0)); set no_new_privs, not
 * dumpable; name the process comm; install the seccomp filter that makes
 * execve/execveat (but the exec_fd exception) and PROT_EXEC in mmap,
 * mprotect and pkey_mprotect fail with EPERM. Each step is checked.
 * Returns 0, or -errno with *what naming the step that failed (a static
 * string); the process is then in between and must exit.
 */
int nsexec_enter(const struct nsexec_enter_params *p, const char **what);

/*
 * Keep only keep of the capabilities we hold: in the bounding set (when we
 * hold CAP_SETPCAP; without it the bounding set is left, see
 * docs/nsexec.md), permitted and effective. carry (a subset of keep) goes
 * into inheritable and ambient, so that it survives an exec when we are not
 * root. Returns 0, or -errno with *what set (-EINVAL: keep names a
 * capability this kernel does not know).
 */
int nsexec_limit_caps(uint64_t keep, uint64_t carry, const char **what);

#endif
