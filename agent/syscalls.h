/* SPDX-License-Identifier: Apache-2.0 */
/*
 * syscalls.h - the one home of syscall names and of what waiting in one
 * means, for the numbers the kernel side reads from a sleeping thread's
 * registers (bpf/syscall_regs.bpf.h). Numbers are this architecture's
 * (x86_64, arm64): the table is built from the C library's SYS_*
 * constants, so one table serves both.
 */
#ifndef BLOCKSNOOP_SYSCALLS_H
#define BLOCKSNOOP_SYSCALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a thread asleep in a syscall waits for. */
enum wait_kind {
	WAIT_IO,    /* a file, socket, pipe, child process, page fault: the outside */
	WAIT_SLEEP, /* time only: a sleep, or a select/poll on no fds */
	WAIT_LOCK,  /* another thread: a futex, a file lock */
};

/* The name of syscall nr ("recvfrom"), or NULL if the table has none. A
 * static string. */
const char *syscall_name(long nr);

/* Write nr's name, or "syscall N" for one the table lacks, or "no
 * syscall" for a negative nr (a sleep outside any syscall, as in a page
 * fault) into buf (len > 0). Returns buf. */
const char *syscall_describe(long nr, char *buf, size_t len);

/* What sleeping in syscall nr with first argument arg waits for; WAIT_IO
 * for what the table does not know. */
enum wait_kind syscall_wait_kind(long nr, uint64_t arg);

/* Whether syscall nr's first argument is a file descriptor. */
bool syscall_arg_is_fd(long nr);

#endif
