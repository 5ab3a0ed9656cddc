/* SPDX-License-Identifier: Apache-2.0 */
/*
 * procfs.h - facts about processes read from /proc. PIDs and TIDs here are
 * always in blocksnoop's own PID namespace (the one its /proc shows).
 *
 * The *_parse functions are pure (they take file contents) and unit-tested;
 * the others read /proc and return -errno on failure.
 */
#ifndef BLOCKSNOOP_PROCFS_H
#define BLOCKSNOOP_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCFS_MAX_NS_LEVELS 32

/* Whether process pid exists (a zombie does). */
bool procfs_process_exists(pid_t pid);

/* Whether tid is a thread of process pid (false if either is gone). */
bool procfs_is_thread_of(pid_t pid, pid_t tid);

/*
 * Whether pid looks like a Python interpreter: its executable's name starts
 * with "python", or it maps a libpython. false if it cannot tell.
 */
bool procfs_is_python(pid_t pid);

/*
 * Call fn(ctx, tid) for each thread of process pid that /proc lists now
 * (threads may come and go meanwhile), until fn returns non-zero. Returns
 * what fn last returned (0 when every thread was visited), or -errno if the
 * list cannot be read (-ENOENT: no such process).
 */
int procfs_each_thread(pid_t pid, int (*fn)(void *ctx, pid_t tid), void *ctx);

/* The process's command name (comm) into buf, printable: a byte outside
 * ASCII 0x20-0x7e (a process names itself as it likes) becomes '?'. ""
 * on failure. */
void procfs_comm(pid_t pid, char *buf, size_t len);

/*
 * Parse the "NSpid:" line of a /proc/<pid>/status text: ids[0] is the pid in
 * the namespace of the /proc it was read from, the last one the pid in the
 * process's own namespace. Returns the number of ids (>= 1), or -EINVAL if
 * there is no such line.
 */
int procfs_parse_nspid(const char *status, pid_t ids[PROCFS_MAX_NS_LEVELS]);

/* procfs_parse_nspid() of /proc/<pid>/status: process pid's PID in each
 * PID namespace it is in. -errno if the file cannot be read. */
int procfs_nspid(pid_t pid, pid_t ids[PROCFS_MAX_NS_LEVELS]);

/* The same for thread tid of process pid (/proc/<pid>/task/<tid>/status). */
int procfs_thread_nspid(pid_t pid, pid_t tid, pid_t ids[PROCFS_MAX_NS_LEVELS]);

/* Thread tid of pid as its own PID namespace numbers it (the last NSpid
 * value); tid itself if that cannot be read. */
pid_t procfs_tid_in_own_ns(pid_t pid, pid_t tid);

/* The device and inode of a namespace file, e.g. "/proc/self/ns/pid". */
int procfs_ns_id(const char *path, uint64_t *dev, uint64_t *ino);

/* The inode of the initial PID namespace (include/linux/proc_ns.h). */
#define PROC_PID_INIT_INO 0xEFFFFFFCU

#endif
