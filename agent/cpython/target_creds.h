/* SPDX-License-Identifier: Apache-2.0 */
/*
 * target_creds.h - open files with a target's rights, not blocksnoop's
 * (internal to agent/cpython, used by target_fs only).
 *
 * A target names the files blocksnoop reads for it (its code objects carry
 * any file name it likes: "/etc/shadow"), so each is opened with the
 * credentials the kernel would check for the target itself: its file-system
 * uid and gid, its supplementary groups and, if it lives in blocksnoop's
 * user namespace, its effective capabilities (a target in another user
 * namespace has capabilities only over that namespace's files: they are
 * ignored, which can only refuse more).
 *
 * The switch changes the calling THREAD only, with raw system calls
 * (setgroups, setfsgid, setfsuid, capset): glibc's setgroups() and libcap
 * with libpsx change every thread of the process. It needs CAP_SETUID and
 * CAP_SETGID in the permitted set when the target's ids differ from the
 * thread's; they are raised into the effective set only for the switch.
 */
#ifndef BLOCKSNOOP_CPYTHON_TARGET_CREDS_H
#define BLOCKSNOOP_CPYTHON_TARGET_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The Linux limit (NGROUPS_MAX) */
#define TCREDS_MAX_GROUPS 65536

/* What the kernel checks when a process opens a file. */
struct tcreds {
	uid_t fsuid;
	gid_t fsgid;
	size_t ngroups;
	gid_t *groups;    /* malloc'd, as /proc/<pid>/status lists them */
	uint64_t caps;    /* effective capabilities that count (bit n = capability n) */
};

/*
 * Pure. Fill c from the text of a /proc/<pid>/status file (len bytes, need
 * not be NUL-terminated): the fourth (fs) ids of "Uid:" and "Gid:", the
 * "Groups:" list and "CapEff:". 0, -EINVAL (a line missing or malformed),
 * -E2BIG (more than TCREDS_MAX_GROUPS groups) or -ENOMEM; on error c holds
 * nothing to free. Free c with tcreds_free().
 */
int tcreds_parse_status(const char *text, size_t len, struct tcreds *c);

/*
 * The credentials of the process whose /proc directory is open on procfd
 * (O_PATH is enough): its status file, and its capabilities only if its
 * user namespace is blocksnoop's. 0, -ESRCH (gone), or -errno.
 */
int tcreds_read(int procfd, struct tcreds *c);

/* Release what c holds (c itself is the caller's). Accepts a zeroed c. */
void tcreds_free(struct tcreds *c);

/* What tcreds_become() saved, for tcreds_restore(). */
struct tcreds_saved {
	uid_t fsuid;
	gid_t fsgid;
	size_t ngroups;
	gid_t *groups;
	uint64_t effective, permitted, inheritable;
	bool ids_changed;
};

/*
 * Make the calling thread open files as t: its fs ids and groups (if they
 * differ from the thread's), and exactly t->caps, as far as the thread's
 * permitted set has them, as its effective set. Returns 0 (then call
 * tcreds_restore(saved) before doing anything else on this thread), or
 * -EPERM if the thread cannot take t's ids (no CAP_SETUID or CAP_SETGID
 * permitted) or any step fails, or -ENOMEM: the thread is then as it was.
 */
int tcreds_become(const struct tcreds *t, struct tcreds_saved *saved);

/*
 * Give the calling thread back what tcreds_become() saved and free saved.
 * Cannot fail: if the kernel refuses to switch back, the process is
 * aborted rather than go on with another identity.
 */
void tcreds_restore(struct tcreds_saved *saved);

#endif
