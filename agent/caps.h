/* SPDX-License-Identifier: Apache-2.0 */
/*
 * caps.h - which Linux capabilities blocksnoop has and needs (libcap).
 *
 * Needed to load and attach the detector: CAP_BPF and CAP_PERFMON (or
 * CAP_SYS_ADMIN, which stands in for both; kernels before 5.8 know only it).
 *
 * Once set-up is done, a run gives up every capability it no longer needs
 * (caps_run_keep, caps_drop_to): loading and attaching the BPF programs and
 * mounting tracefs happen once; reading stacks, signalling a launched
 * command, restarting Austin and finding new processes go on.
 * Capabilities are per thread: drop them before any other thread exists
 * (libcurl's resolver threads start later and inherit the reduced set).
 *
 * Sets of capabilities travel as bit masks, bit n being capability n
 * (CAPS_BIT(CAP_BPF)); every capability Linux defines fits in 64 bits. The
 * caps_format_* functions and caps_run_keep are pure and unit-tested.
 */
#ifndef BLOCKSNOOP_CAPS_H
#define BLOCKSNOOP_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/capability.h>

#include "compat.h" /* CAP_BPF, CAP_PERFMON on old headers */

#define CAPS_BIT(cap) (UINT64_C(1) << (cap))

/*
 * Whether the effective set allows loading and attaching the BPF programs.
 * If not, writes the missing capability names, comma-separated (e.g.
 * "CAP_BPF, CAP_PERFMON"), into missing. Never fails: if the set cannot be
 * read it answers true and lets the load itself report the error.
 */
bool caps_can_trace(char *missing, size_t len);

/* The effective set into *mask. Returns 0, or -errno if it cannot be read. */
int caps_effective(uint64_t *mask);

/* The permitted set into *mask. Returns 0, or -errno if it cannot be read. */
int caps_permitted(uint64_t *mask);

/* Make the effective set exactly mask (which must be within the permitted
 * set); permitted is unchanged. 0 or -errno. */
int caps_set_effective(uint64_t mask);

/*
 * Kept in the permitted set only, not the effective one: the CPython
 * reader raises them on its own thread for the moment it takes a target's
 * credentials to open a file as the target (cpython/target_creds.h), and
 * without them shows no source lines of targets of other users.
 */
#define CAPS_PERMITTED_ONLY (CAPS_BIT(CAP_SETUID) | CAPS_BIT(CAP_SETGID))

/*
 * Keep only keep (intersected with what is permitted) in the permitted and
 * effective sets (those of CAPS_PERMITTED_ONLY in the permitted set only);
 * empty the inheritable and ambient sets; remove every other capability
 * from the bounding set if CAP_SETPCAP allows (*bounding_dropped says
 * whether it did); set no_new_privs so that nothing exec'd can regain any.
 * Returns 0, or -errno (the permitted and effective sets are then
 * unchanged).
 */
int caps_drop_to(uint64_t keep, bool *bounding_dropped);

/*
 * Whether the running kernel knows cap at all (CAP_PERFMON and CAP_BPF
 * appeared in 5.8). Asks the kernel, not libcap, so an old kernel under a
 * new libcap answers false.
 */
bool caps_kernel_has(int cap);

/*
 * Pure. Of the capabilities that loading and attaching the BPF programs
 * needs, those missing from effective: 0 if it holds CAP_BPF and
 * CAP_PERFMON, or CAP_SYS_ADMIN. Otherwise the missing ones of CAP_BPF and
 * CAP_PERFMON, or just CAP_SYS_ADMIN if the kernel predates CAP_BPF
 * (kernel_has_cap_bpf false), since nothing else would do there.
 */
uint64_t caps_trace_missing(uint64_t effective, bool kernel_has_cap_bpf);

/*
 * Pure. The names in mask as "CAP_BPF, CAP_PERFMON" ("" for an empty
 * mask): CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH,
 * CAP_SYS_ADMIN and CAP_SYS_RESOURCE first, in that order, then any other
 * by number. Truncates to fit len (if
 * len > 0, buf is always NUL-terminated). Returns the length of the whole
 * text, like snprintf.
 */
size_t caps_format_names(uint64_t mask, char *buf, size_t len);

/*
 * Pure. One line's worth of advice on how to obtain the capabilities in
 * missing (non-empty), without a trailing newline, e.g. for CAP_BPF and
 * CAP_PERFMON as a non-root user:
 *   run as root (sudo), or grant them: sudo setcap cap_bpf,cap_perfmon+ep
 *   EXE, or in a pod's securityContext (runAsUser: 0) capabilities.add:
 *   ["BPF", "PERFMON"]
 * keep: capabilities blocksnoop holds and still needs. setcap replaces a
 * file's whole set, so for a non-root user (root false) the setcap command
 * and the pod list name keep too. exe is the path to name in the setcap
 * command ("blocksnoop" if NULL or empty).
 * root says whether the effective uid is already 0: then the capabilities
 * were dropped by a container runtime or capsh, sudo would not help, and
 * the advice is "grant them (...): docker/podman run --cap-add BPF ...,
 * or in a pod's ..." for missing alone (both add to the runtime's
 * defaults).
 * Truncates and returns like caps_format_names().
 */
size_t caps_format_grant(uint64_t missing, uint64_t keep, bool root,
			 const char *exe, char *buf, size_t len);

/*
 * What a run (of the command line or the agent) still needs once the
 * detector is loaded and attached and the first targets are set up; the
 * rest is dropped (docs/security.md, "Output files and the command line").
 */
struct caps_run_needs {
	bool read_stacks;    /* the built-in sampler reads the target */
	bool austin;         /* --sampler austin: Austin is (re)started, through the shim */
	bool launch;         /* a launched command is signalled (forwarding, ending it) */
	bool find_processes; /* the agent: reads /proc of processes it did not start */
	bool log_reopen_dac; /* reopening --log-file needs CAP_DAC_OVERRIDE */
	bool map_access;     /* the kernel checks capabilities on BPF map access */
	bool kernel_has_cap_bpf;
};

/* The stack reader's needs: another user's memory (CAP_SYS_PTRACE) and
 * /proc/<pid>/mem and files root cannot otherwise read
 * (CAP_DAC_READ_SEARCH); CAP_SETUID and CAP_SETGID to open the target's
 * files with its own credentials. */
#define CAPS_READ_STACKS (CAPS_BIT(CAP_SYS_PTRACE) | CAPS_BIT(CAP_DAC_READ_SEARCH) | \
			  CAPS_BIT(CAP_SETUID) | CAPS_BIT(CAP_SETGID))
/* The namespace shim that starts Austin: setns (CAP_SYS_ADMIN), chroot
 * (CAP_SYS_CHROOT), the target's /proc entries (CAP_SYS_PTRACE), shrinking
 * the bounding set (CAP_SETPCAP); Austin itself keeps CAP_SYS_PTRACE only. */
#define CAPS_AUSTIN (CAPS_BIT(CAP_SYS_ADMIN) | CAPS_BIT(CAP_SYS_CHROOT) | \
		     CAPS_BIT(CAP_SYS_PTRACE) | CAPS_BIT(CAP_SETPCAP))

/* Finding a target's processes: their /proc/<pid>/{exe,maps} need ptrace
 * access (CAP_SYS_PTRACE for processes with more privileges), their
 * /proc/<pid>/status and cgroup files CAP_DAC_READ_SEARCH where root
 * cannot otherwise read them. */
#define CAPS_FIND_PROCESSES (CAPS_BIT(CAP_SYS_PTRACE) | CAPS_BIT(CAP_DAC_READ_SEARCH))

/*
 * Pure. The capabilities a run keeps for needs: the union of
 * CAPS_READ_STACKS, CAPS_AUSTIN, CAPS_FIND_PROCESSES, CAP_KILL (launch:
 * the command may have changed its user), CAP_DAC_OVERRIDE (log_reopen_dac)
 * and CAP_BPF, or
 * CAP_SYS_ADMIN on kernels without CAP_BPF (map_access), for those that
 * apply. 0 if none does.
 */
uint64_t caps_run_keep(const struct caps_run_needs *needs);

#endif
