/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compat.h - the one home of what older C libraries and kernel headers
 * lack: system calls without a C library wrapper (glibc wraps pidfd_open
 * only since 2.36, openat2 not at all) and the numbers of newer
 * capabilities. Every number here is kernel ABI, so defining it when a
 * header is too old to know it is safe; whether the running kernel has the
 * call is still its answer (ENOSYS), and callers that can do without say
 * so where they call it.
 *
 * The wrappers are named sys_<call> so that they never clash with a C
 * library that has one of its own. Like syscall(2), they return -1 and set
 * errno on failure.
 *
 * The shim's preloaded object (nsexec/enter.c) links no C library and has
 * its own raw calls (nsexec/sys.h); it does not use this header.
 */
#ifndef BLOCKSNOOP_COMPAT_H
#define BLOCKSNOOP_COMPAT_H

#include <linux/capability.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* ---- system call numbers ---------------------------------------------------------
 * Calls added after Linux 5.1 have the same number on every architecture
 * (the unified system call table). */
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424 /* Linux 5.1 */
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434        /* Linux 5.3 */
#endif
#ifndef SYS_close_range
#define SYS_close_range 436       /* Linux 5.9 */
#endif
#ifndef SYS_openat2
#define SYS_openat2 437           /* Linux 5.6 */
#endif

/* ---- openat2(2) ------------------------------------------------------------------ */
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#else
/* include/uapi/linux/openat2.h (Linux 5.6) */
struct open_how {
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};
#define RESOLVE_NO_XDEV       0x01
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS   0x04
#define RESOLVE_BENEATH       0x08
#define RESOLVE_IN_ROOT       0x10
#endif

/* ---- capabilities (include/uapi/linux/capability.h) ------------------------------ */
#ifndef CAP_PERFMON
#define CAP_PERFMON 38            /* Linux 5.8 */
#endif
#ifndef CAP_BPF
#define CAP_BPF 39                /* Linux 5.8 */
#endif
#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40 /* Linux 5.9 */
#endif

/* ---- the wrappers ------------------------------------------------------------------ */

/* A pidfd for process pid (flags 0: close-on-exec, blocking). Polls
 * readable once the process has exited. */
static inline int sys_pidfd_open(pid_t pid, unsigned int flags)
{
	return (int)syscall(SYS_pidfd_open, pid, flags);
}

/* Send sig to the process pidfd refers to (sig 0: only check it lives). */
static inline int sys_pidfd_send_signal(int pidfd, int sig, siginfo_t *info,
					unsigned int flags)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags);
}

/* Close the fds first..last. */
static inline int sys_close_range(unsigned int first, unsigned int last, unsigned int flags)
{
	return (int)syscall(SYS_close_range, first, last, flags);
}

/* openat(2) with resolution restrictions (how->resolve). */
static inline int sys_openat2(int dirfd, const char *path, const struct open_how *how)
{
	return (int)syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
}

#endif
