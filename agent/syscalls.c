// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <sys/syscall.h>

#include "syscalls.h"

/* syscall_entry.flags */
enum {
	ARG_FD = 1u << 0,       /* the first argument is an fd */
	SLEEP_IF_NULL = 1u << 1, /* select/poll on no fds (arg 0) only sleeps */
};

struct syscall_entry {
	long nr;
	const char *name;
	enum wait_kind kind;
	unsigned int flags;
};

#define ENTRY(n, kind, flags) { SYS_##n, #n, kind, flags }

/*
 * The syscalls a thread is seen asleep in, and those seen often enough to
 * be worth a name. arm64 lacks the old calls (select, poll, pause,
 * epoll_wait, open, ...): those are guarded.
 */
static const struct syscall_entry table[] = {
	ENTRY(clock_nanosleep, WAIT_SLEEP, 0),
	ENTRY(nanosleep, WAIT_SLEEP, 0),
#ifdef SYS_pause
	ENTRY(pause, WAIT_SLEEP, 0),
#endif
	ENTRY(rt_sigsuspend, WAIT_SLEEP, 0),
	ENTRY(rt_sigtimedwait, WAIT_SLEEP, 0),
#ifdef SYS_select
	ENTRY(select, WAIT_IO, SLEEP_IF_NULL),
#endif
	ENTRY(pselect6, WAIT_IO, SLEEP_IF_NULL),
#ifdef SYS_poll
	ENTRY(poll, WAIT_IO, SLEEP_IF_NULL),
#endif
	ENTRY(ppoll, WAIT_IO, SLEEP_IF_NULL),
	ENTRY(futex, WAIT_LOCK, 0),
#ifdef SYS_futex_waitv
	ENTRY(futex_waitv, WAIT_LOCK, 0),
#endif
	ENTRY(flock, WAIT_LOCK, ARG_FD),
	ENTRY(read, WAIT_IO, ARG_FD),
	ENTRY(write, WAIT_IO, ARG_FD),
	ENTRY(readv, WAIT_IO, ARG_FD),
	ENTRY(writev, WAIT_IO, ARG_FD),
	ENTRY(pread64, WAIT_IO, ARG_FD),
	ENTRY(pwrite64, WAIT_IO, ARG_FD),
	ENTRY(preadv, WAIT_IO, ARG_FD),
	ENTRY(pwritev, WAIT_IO, ARG_FD),
	ENTRY(preadv2, WAIT_IO, ARG_FD),
	ENTRY(pwritev2, WAIT_IO, ARG_FD),
	ENTRY(recvfrom, WAIT_IO, ARG_FD),
	ENTRY(sendto, WAIT_IO, ARG_FD),
	ENTRY(recvmsg, WAIT_IO, ARG_FD),
	ENTRY(sendmsg, WAIT_IO, ARG_FD),
	ENTRY(recvmmsg, WAIT_IO, ARG_FD),
	ENTRY(sendmmsg, WAIT_IO, ARG_FD),
	ENTRY(accept, WAIT_IO, ARG_FD),
	ENTRY(accept4, WAIT_IO, ARG_FD),
	ENTRY(connect, WAIT_IO, ARG_FD),
	ENTRY(shutdown, WAIT_IO, ARG_FD),
	ENTRY(sendfile, WAIT_IO, ARG_FD),
	ENTRY(splice, WAIT_IO, ARG_FD),
	ENTRY(fsync, WAIT_IO, ARG_FD),
	ENTRY(fdatasync, WAIT_IO, ARG_FD),
	ENTRY(sync_file_range, WAIT_IO, ARG_FD),
	ENTRY(fallocate, WAIT_IO, ARG_FD),
	ENTRY(ftruncate, WAIT_IO, ARG_FD),
	ENTRY(getdents64, WAIT_IO, ARG_FD),
	ENTRY(ioctl, WAIT_IO, ARG_FD),
	ENTRY(fcntl, WAIT_IO, ARG_FD),
	ENTRY(close, WAIT_IO, ARG_FD),
	ENTRY(epoll_pwait, WAIT_IO, ARG_FD),
#ifdef SYS_epoll_wait
	ENTRY(epoll_wait, WAIT_IO, ARG_FD),
#endif
#ifdef SYS_epoll_pwait2
	ENTRY(epoll_pwait2, WAIT_IO, ARG_FD),
#endif
	ENTRY(openat, WAIT_IO, 0),
#ifdef SYS_open
	ENTRY(open, WAIT_IO, 0),
#endif
	ENTRY(wait4, WAIT_IO, 0),
	ENTRY(waitid, WAIT_IO, 0),
	ENTRY(sync, WAIT_IO, 0),
	ENTRY(mmap, WAIT_IO, 0),
	ENTRY(munmap, WAIT_IO, 0),
	ENTRY(mprotect, WAIT_IO, 0),
	ENTRY(madvise, WAIT_IO, 0),
	ENTRY(brk, WAIT_IO, 0),
	ENTRY(execve, WAIT_IO, 0),
	ENTRY(clone, WAIT_IO, 0),
#ifdef SYS_clone3
	ENTRY(clone3, WAIT_IO, 0),
#endif
	ENTRY(exit_group, WAIT_IO, 0),
	ENTRY(getrandom, WAIT_IO, 0),
	ENTRY(msgrcv, WAIT_IO, 0),
	ENTRY(semop, WAIT_LOCK, 0),
	ENTRY(semtimedop, WAIT_LOCK, 0),
	ENTRY(io_getevents, WAIT_IO, 0),
	ENTRY(io_uring_enter, WAIT_IO, ARG_FD),
	ENTRY(sched_yield, WAIT_IO, 0),
};

static const struct syscall_entry *find(long nr)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].nr == nr)
			return &table[i];
	return NULL;
}

const char *syscall_name(long nr)
{
	const struct syscall_entry *s = find(nr);

	return s ? s->name : NULL;
}

const char *syscall_describe(long nr, char *buf, size_t len)
{
	const char *name = nr < 0 ? "no syscall" : syscall_name(nr);

	if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "syscall %ld", nr);
	return buf;
}

enum wait_kind syscall_wait_kind(long nr, uint64_t arg)
{
	const struct syscall_entry *s = find(nr);

	if (!s)
		return WAIT_IO;
	if ((s->flags & SLEEP_IF_NULL) && arg == 0)
		return WAIT_SLEEP;
	return s->kind;
}

bool syscall_arg_is_fd(long nr)
{
	const struct syscall_entry *s = find(nr);

	return s && (s->flags & ARG_FD);
}
