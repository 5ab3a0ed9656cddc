/* SPDX-License-Identifier: Apache-2.0 */
/*
 * doctor.h - `blocksnoop doctor [PID] [--tid TID]`: a read-only preflight.
 *
 * Says, one line per check (or, with --json, one JSON document), whether blocksnoop can run here: kernel, BTF,
 * tracefs, the epoll tracepoints, capabilities, a transient BPF probe,
 * Austin for --sampler austin (found, version, output format) and, given a
 * PID, the target (exists, Python, thread, PID namespace, whether Austin
 * must be started in its namespaces). Lines
 * start with "ok", "warn" or "FAIL"; only FAIL lines are problems. The last
 * line is "ready" or "not ready: N problem(s)".
 *
 * Doctor changes nothing: it never mounts tracefs, and the only BPF objects
 * it creates (to probe what the kernel allows) are closed before it prints.
 *
 * The work is split in two so that the wording is unit-tested without
 * depending on the machine: doctor_gather() reads the system into a
 * struct doctor_facts, doctor_report() prints from it alone.
 */
#ifndef BLOCKSNOOP_DOCTOR_H
#define BLOCKSNOOP_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "gap_detector.h"

/*
 * The doctor subcommand; argv[0] is "doctor". Prints the report on stdout
 * and usage errors on stderr. Returns the exit status: 0 ready, 1 not ready,
 * 2 usage error (EXIT_USAGE), 4 the PID does not exist or TID is not one of
 * its threads (EXIT_NO_TARGET; the report is printed all the same).
 */
int doctor_main(int argc, char **argv);

/* The command line of doctor_main(). */
struct doctor_args {
	pid_t pid;  /* 0 = no target given */
	pid_t tid;  /* 0 = no --tid */
	bool help;
	const char *austin;      /* --austin PATH; NULL = "austin" */
	const char *austin_root; /* --austin-root DIR; "/" */
	bool austin_given;       /* either was given: Austin is wanted */
	bool json;               /* --json: doctor_report_json() */
};

/*
 * Pure. Parse argv (argv[0] = "doctor") into *a. Returns 0, or EXIT_USAGE
 * with a one-line message (no newline, no "blocksnoop:" prefix) in err.
 * -h/--help sets a->help and stops parsing.
 */
int doctor_parse_args(int argc, char **argv, struct doctor_args *a,
		      char *err, size_t errlen);

/*
 * Pure. The leading "MAJOR.MINOR[.PATCH]" of a uname release such as
 * "6.18.44-fc-v782" into v[0..2] (missing patch = 0). Returns 0, or -EINVAL
 * if release does not start that way.
 */
int doctor_parse_release(const char *release, int v[3]);

/*
 * Pure. The first number after "key:" at the start of a line of a
 * /proc/<pid>/status text (e.g. key "Tgid"). Returns 0, or -EINVAL if there
 * is no such line or no number on it.
 */
int doctor_status_field(const char *status, const char *key, long *value);

/*
 * Pure. Whether a /proc/self/mounts text has a line mounting fstype on dir
 * (exactly; dir and fstype must not contain spaces).
 */
bool doctor_mounts_has(const char *mounts, const char *dir, const char *fstype);

/* How a transient BPF probe went. */
enum doctor_probe {
	PROBE_SKIPPED = 0, /* not tried: capabilities missing, or not needed */
	PROBE_OK,
	PROBE_FAILED,      /* see the matching *_errno */
};

/*
 * What doctor_gather() found. A *_errno of 0 means "read fine"; otherwise it
 * is the positive errno of the failed read.
 */
struct doctor_facts {
	/* Kernel release from uname(2), and its number if it parsed. */
	char release[65];
	int kernel[3];
	bool kernel_parsed;

	int btf_errno;            /* of /sys/kernel/btf/vmlinux */

	const char *tracefs;      /* tracefs_find(); NULL: not found */
	/* Mounted (per /proc/self/mounts) where tracefs_find() could not see
	 * it, and why; NULL if not. */
	const char *tracefs_hidden;
	int tracefs_hidden_errno;
	int syscalls_errno;       /* of <tracefs>/events/syscalls */
	/* [variant][0 = sys_enter, 1 = sys_exit] exists under tracefs. */
	bool tracepoint[EPOLL_VARIANT_COUNT][2];

	int caps_errno;           /* of the capability sets */
	uint64_t effective;       /* CAPS_BIT() mask */
	bool kernel_has_cap_bpf;  /* caps_kernel_has(CAP_BPF) */
	bool root;                /* effective uid 0 */
	char exe[256];            /* our own path, for setcap advice */
	uint64_t memlock;         /* RLIMIT_MEMLOCK soft limit, bytes */
	bool memlock_unlimited;
	int yama_ptrace_scope;    /* -1: no Yama */
	int perf_event_paranoid;  /* -100: unknown */

	/* Transient probes, tried only when the capabilities allow. */
	enum doctor_probe ringbuf;    /* create a BPF ring buffer */
	int ringbuf_errno;
	enum doctor_probe tp_prog;    /* load a tracepoint program */
	int tp_prog_errno;
	enum doctor_probe ns_helper;  /* bpf_get_ns_current_pid_tgid, tried
				       * only outside the initial PID ns */
	int seccomp_mode;             /* Seccomp: of our status, -1 unknown */

	/* blocksnoop's own PID namespace. */
	int self_pidns_errno;
	uint64_t self_pidns;          /* inode of /proc/self/ns/pid */
	int self_ns_levels;           /* NSpid entries of /proc/self/status */

	/* The target; all zero/false without a PID. */
	pid_t pid;
	pid_t tid;
	bool pid_exists;
	char comm[64];
	bool python;
	pid_t tgid;                   /* 0 if unknown */
	bool tid_is_thread;
	int mem_errno;                /* opening /proc/<pid>/mem */
	int pidns_errno;
	uint64_t pidns;               /* inode of /proc/<pid>/ns/pid */
	int ns_levels;                /* NSpid entries; 0 if unknown */
	pid_t inner_pid;              /* last NSpid value */

	/* Austin (--sampler austin). */
	bool austin_wanted;           /* --austin or --austin-root given */
	char austin_root[256];        /* where it was looked for; "/"; "" = not checked */
	bool austin_found;
	char austin_path[256];        /* inside austin_root */
	char austin_error[256];       /* why not found, or why -V failed */
	char austin_version[64];      /* first line of `austin -V`; "" if it failed */
	int austin_v[3];              /* its version, if it parsed */
	bool austin_version_parsed;
	bool austin_shim;             /* started through the namespace shim for pid
				       * (or for any target, with --austin-root) */
	bool austin_shim_known;
	bool austin_elf;              /* an ELF binary, confined by the shim even when
				       * it enters nothing (else a script, run as is) */

	/* The libraries blocksnoop loads only when a run needs them
	 * (agent/dynlib.h), each tried: "" if it loads, else why not. */
	char libcurl_error[256];      /* agent mode's kubelet client */
	char libmhd_error[256];       /* --metrics-addr, the agent's /metrics */
};

/* Read the system (and the target of a, if any) into *f. Cannot fail: what
 * it cannot read is recorded in *f. Creates and closes BPF objects. */
void doctor_gather(const struct doctor_args *a, struct doctor_facts *f);

/* Pure. Print the report of f to out, ending with "ready" or
 * "not ready: N problem(s)". Returns N, the number of FAIL lines. */
int doctor_report(FILE *out, const struct doctor_facts *f);

/*
 * doctor --json: the same checks as one JSON document on one line
 * (docs/output-schema.md):
 *   {"schema": DOCTOR_SCHEMA, "schema_version": 1, "version": "...",
 *    "pid": N|null, "tid": N|null,
 *    "checks": [{"name", "status": "ok"|"warn"|"fail", "detail",
 *                "fix": what to do, or null}, ...],
 *    "status": "ready"|"not_ready", "problems": N}
 * A check's name is stable (scripts key on it); its detail and fix are
 * prose. Pure. Returns N, the number of failed checks, or -ENOMEM with
 * nothing written.
 */
#define DOCTOR_SCHEMA "blocksnoop-doctor/v1"
#define DOCTOR_SCHEMA_VERSION 1
int doctor_report_json(FILE *out, const struct doctor_facts *f);

#endif
