/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sys.h - raw system calls for enter.c, which is built twice: into
 * blocksnoop, and into the preloaded object (preload/) that runs inside
 * the program before its main(). That object links no C library at all
 * (it must load under whichever libc the program uses), so every call
 * here goes straight to the kernel: no errno, a failure is -errno.
 *
 * One home for the calling conventions: add an architecture here.
 */
#ifndef BLOCKSNOOP_NSEXEC_SYS_H
#define BLOCKSNOOP_NSEXEC_SYS_H

#include <asm/unistd.h>

#if defined(__x86_64__)
static inline long nsexec_sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
static inline long nsexec_sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;

	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}
#else
#error "nsexec/sys.h: add this architecture's system call convention"
#endif

#define nsexec_sys(nr, a, b, c) nsexec_sys6((nr), (long)(a), (long)(b), (long)(c), 0, 0, 0)

#endif
