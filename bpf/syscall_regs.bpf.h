/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * syscall_regs.bpf.h - the one home of "which syscall is this task in, and
 * with which first argument", per architecture. The numbers are the
 * kernel's own for that architecture (x86_64, arm64); user space names
 * them with its C library's SYS_* constants (agent/syscalls.c).
 */
#ifndef BLOCKSNOOP_SYSCALL_REGS_BPF_H
#define BLOCKSNOOP_SYSCALL_REGS_BPF_H

#include "gap_detector.h"

/*
 * The syscall task is in and its first argument, from the user registers
 * the kernel saved on entry. A task that entered the kernel other than by
 * a syscall (a page fault, an interrupt) reads GAP_WAIT_NO_SYSCALL. False
 * where this architecture or kernel (bpf_task_pt_regs() came in 5.15)
 * cannot say.
 */
static __always_inline bool task_syscall(struct task_struct *task, __s64 *nr, __u64 *arg0)
{
	struct pt_regs *regs;

	if (!bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs))
		return false;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs)
		return false;
#if defined(__TARGET_ARCH_x86)
	/* orig_ax is -1 outside a syscall. */
	*nr = (long)BPF_CORE_READ(regs, orig_ax);
	*arg0 = BPF_CORE_READ(regs, di);
#elif defined(__TARGET_ARCH_arm64)
	/* syscallno is NO_SYSCALL (-1) outside a syscall; x0 is overwritten
	 * by the return value, orig_x0 keeps the argument. */
	*nr = (int)BPF_CORE_READ(regs, syscallno);
	*arg0 = BPF_CORE_READ(regs, orig_x0);
#else
	return false;
#endif
	if (*nr < 0)
		*nr = GAP_WAIT_NO_SYSCALL;
	return true;
}

#endif
