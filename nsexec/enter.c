// SPDX-License-Identifier: Apache-2.0
/*
 * enter.c - the steps of enter.h, on raw system calls only (sys.h): this
 * file is also linked, alone, into the preloaded object, which has no C
 * library. Kernel headers only; no errno, no libc calls, no allocation.
 */
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/fcntl.h>
#include <linux/filter.h>
#include <linux/mman.h>
#include <linux/prctl.h>
#include <linux/resource.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <stddef.h>

#include "enter.h"
#include "sys.h"

#define EPERM 1
#define EINVAL 22
#define ENOSYS 38

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#define X32_SYSCALL_BIT 0x40000000
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifndef __NR_close_range
#define __NR_close_range 436 /* the same on every architecture */
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif

static long prctl5(int option, unsigned long a, unsigned long b)
{
	return nsexec_sys6(__NR_prctl, option, (long)a, (long)b, 0, 0, 0);
}

/* ---- capabilities ---------------------------------------------------------- */

int nsexec_limit_caps(uint64_t keep, uint64_t carry, const char **what)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	uint64_t held, give;
	int last = -1;
	long r;

	r = nsexec_sys(__NR_capget, &h, d, 0);
	if (r < 0) {
		*what = "capget";
		return (int)r;
	}
	/* The last capability this kernel knows: PR_CAPBSET_READ says EINVAL
	 * past it. Nothing is changed before keep is known to be valid. */
	while (last < 63 && prctl5(PR_CAPBSET_READ, (unsigned long)(last + 1), 0) >= 0)
		last++;
	if (last < 0 || (last < 63 && keep >> (last + 1))) {
		*what = "--keep-caps names a capability this kernel does not know";
		return -EINVAL;
	}
	held = d[0].permitted | (uint64_t)d[1].permitted << 32;
	give = keep & held;
	carry &= give;
	/* The bounding set first, while CAP_SETPCAP may still be effective.
	 * Without it the bounding set stays: no_new_privs and the filter
	 * against exec make it moot, but it is dropped when we can. */
	if (d[0].effective >> CAP_SETPCAP & 1) {
		for (int c = 0; c <= last; c++) {
			r = prctl5(PR_CAPBSET_READ, (unsigned long)c, 0);
			if (r == 1 && !(give >> c & 1))
				r = prctl5(PR_CAPBSET_DROP, (unsigned long)c, 0);
			if (r < 0) {
				*what = "drop a capability from the bounding set";
				return (int)r;
			}
		}
	}
	d[0].permitted = d[0].effective = (uint32_t)give;
	d[1].permitted = d[1].effective = (uint32_t)(give >> 32);
	d[0].inheritable = (uint32_t)carry;
	d[1].inheritable = (uint32_t)(carry >> 32);
	r = nsexec_sys(__NR_capset, &h, d, 0);
	if (r < 0) {
		*what = "capset";
		return (int)r;
	}
	r = prctl5(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0);
	if (r < 0) {
		*what = "prctl(PR_CAP_AMBIENT_CLEAR_ALL)";
		return (int)r;
	}
	for (int c = 0; c <= last; c++) {
		if (!(carry >> c & 1))
			continue;
		r = nsexec_sys6(__NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0, 0);
		if (r < 0) {
			*what = "raise a capability in the ambient set";
			return (int)r;
		}
	}
	return 0;
}

/* ---- file descriptors ------------------------------------------------------- */

static long close_between(unsigned lo, unsigned hi)
{
	struct rlimit64 rl;
	long r;

	if (lo > hi)
		return 0;
	r = nsexec_sys(__NR_close_range, lo, hi, 0);
	if (r != -ENOSYS)
		return r;
	/* Linux < 5.9: one by one, up to the descriptor limit. */
	r = nsexec_sys6(__NR_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&rl, 0, 0);
	if (r < 0)
		return r;
	for (uint64_t fd = lo; fd <= hi && fd < rl.rlim_cur && fd < (1 << 20); fd++)
		nsexec_sys(__NR_close, fd, 0, 0);
	return 0;
}

/* Close every fd from 3 up but a and b (-1: none). */
static long close_all_but(int a, int b)
{
	unsigned lo = 3, keep[2];
	unsigned n = 0;
	long r;

	if (a >= 3)
		keep[n++] = (unsigned)a;
	if (b >= 3 && b != a)
		keep[n++] = (unsigned)b;
	if (n == 2 && keep[0] > keep[1]) {
		unsigned t = keep[0];

		keep[0] = keep[1];
		keep[1] = t;
	}
	for (unsigned i = 0; i < n; i++) {
		r = close_between(lo, keep[i] - 1);
		if (r < 0)
			return r;
		lo = keep[i] + 1;
	}
	return close_between(lo, ~0U);
}

/* ---- seccomp ------------------------------------------------------------------ */

#define LOAD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define DENY RET(SECCOMP_RET_ERRNO | EPERM)
#define ALLOW RET(SECCOMP_RET_ALLOW)
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * 8 + \
		   (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0 : 4))
#define NR offsetof(struct seccomp_data, nr)

/* Six instructions: if the call is nr and (argument arg & mask), EPERM. */
#define DENY_FLAG(nr, arg, mask)                                    \
	LOAD(NR),                                                   \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 4),            \
	LOAD(ARG_LO(arg)),                                          \
	BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, (mask), 0, 1),         \
	DENY,                                                       \
	ALLOW

/*
 * No exec (Austin 3.7 popen()s "<the target's python> -V" when it cannot
 * read the version from memory: that would run the target's /bin/sh and
 * binary with our capability), and no new executable memory (a dlopen()
 * after main() would find libraries in the target's root). The shim's
 * static-program path keeps one exception: execveat(exec_fd, "",
 * AT_EMPTY_PATH), its own exec of the program. Only the low 32 bits of fd
 * and flags count: the kernel takes them as int.
 */
static long install_filter(int exec_fd)
{
	struct sock_filter f[] = {
		LOAD(offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 1, 0),
		RET(SECCOMP_RET_KILL_PROCESS),
#ifdef X32_SYSCALL_BIT
		LOAD(NR),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1),
		DENY,
#endif
		LOAD(NR),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_execve, 0, 1),
		DENY,
		/* execveat: only the exception */
		LOAD(NR),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_execveat, 0, 6),
		LOAD(ARG_LO(0)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)exec_fd, 0, 3),
		LOAD(ARG_LO(4)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AT_EMPTY_PATH, 0, 1),
		ALLOW,
		DENY,
		DENY_FLAG(__NR_mmap, 2, PROT_EXEC),
		DENY_FLAG(__NR_mprotect, 2, PROT_EXEC),
#ifdef __NR_pkey_mprotect
		DENY_FLAG(__NR_pkey_mprotect, 2, PROT_EXEC),
#endif
		ALLOW,
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	/* With exec_fd -1 the exception matches fd 0xffffffff: never valid. */
	return prctl5(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, (unsigned long)&prog);
}

/* ---- all of it ---------------------------------------------------------------- */

static long join(int fd, int nstype)
{
	return fd < 0 ? 0 : nsexec_sys(__NR_setns, fd, nstype, 0);
}

#define STEP(call, name)                        \
	do {                                    \
		long r_ = (call);               \
		if (r_ < 0) {                   \
			*what = (name);         \
			return (int)r_;         \
		}                               \
	} while (0)

int nsexec_enter(const struct nsexec_enter_params *p, const char **what)
{
	/* Network and IPC first: setns(CLONE_NEWNS) below does not need
	 * them, and they need CAP_SYS_ADMIN, which we still hold. */
	STEP(join(p->net_fd, CLONE_NEWNET), "setns into the target's network namespace");
	STEP(join(p->ipc_fd, CLONE_NEWIPC), "setns into the target's IPC namespace");
	STEP(join(p->mnt_fd, CLONE_NEWNS), "setns into the target's mount namespace");
	if (p->root_fd >= 0) {
		/* The very (mount, dentry) of /proc/<target>/root: the paths in
		 * the target's /proc/<pid>/maps are relative to the reader's
		 * root, so ours must be the target's. */
		STEP(nsexec_sys(__NR_fchdir, p->root_fd, 0, 0), "fchdir to the target's root");
		STEP(nsexec_sys(__NR_chroot, ".", 0, 0), "chroot to the target's root");
	}
	STEP(close_all_but(p->status_fd, p->exec_fd), "close_range");
	{
		long r = nsexec_limit_caps(p->keep_caps, 0, what);

		if (r < 0)
			return (int)r;
	}
	STEP(prctl5(PR_SET_NO_NEW_PRIVS, 1, 0), "prctl(PR_SET_NO_NEW_PRIVS)");
	STEP(prctl5(PR_SET_DUMPABLE, 0, 0), "prctl(PR_SET_DUMPABLE)");
	if (p->comm[0])
		STEP(prctl5(PR_SET_NAME, (unsigned long)p->comm, 0), "prctl(PR_SET_NAME)");
	STEP(install_filter(p->exec_fd), "install the seccomp filter");
	/* Read back what matters most: a kernel that ignored a step must not
	 * leave the program running as if it had not. */
	if (prctl5(PR_GET_NO_NEW_PRIVS, 0, 0) != 1 || prctl5(PR_GET_SECCOMP, 0, 0) != 2 ||
	    prctl5(PR_GET_DUMPABLE, 0, 0) != 0) {
		*what = "no_new_privs, the seccomp filter or non-dumpable did not take";
		return -EPERM;
	}
	return 0;
}
