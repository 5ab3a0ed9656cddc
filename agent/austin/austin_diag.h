/* SPDX-License-Identifier: Apache-2.0 */
/*
 * austin_diag.h - finding Austin and putting its failures into words.
 * Shared by the Austin sampler (sampler_austin.c) and `blocksnoop doctor`.
 * The wording helpers are pure and unit-tested.
 */
#ifndef BLOCKSNOOP_AUSTIN_DIAG_H
#define BLOCKSNOOP_AUSTIN_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Austin 3.7's exit statuses (src/error.h; argp's usage error is 64). */
#define AUSTIN_EXIT_NOVERSION 3     /* cannot tell the Python version */
#define AUSTIN_EXIT_PROC 32         /* no Python interpreter found (also: not permitted to read it) */
#define AUSTIN_EXIT_FORK 33
#define AUSTIN_EXIT_VM 34           /* cannot read the memory maps */
#define AUSTIN_EXIT_TIMEOUT 35      /* interpreter state search timed out */
#define AUSTIN_EXIT_ATTACH 36       /* cannot attach (e.g. no such PID where it runs) */
#define AUSTIN_EXIT_PERM 37
#define AUSTIN_EXIT_NOPID 38
#define AUSTIN_EXIT_NOCHILDREN 39
#define AUSTIN_EXIT_USAGE 64        /* argp: an option it does not know */
#define AUSTIN_EXIT_SIGTERM 241     /* -SIGTERM: stopped by SIGTERM */
#define AUSTIN_EXIT_SIGINT 254      /* -SIGINT */
/* What the namespace shim (nsexec) exits with when it failed itself. */
#define AUSTIN_SHIM_FAILED 125

/*
 * Pure. Why Austin ended, as a clause after "Austin ...": e.g. "found no
 * Python interpreter in PID 42 (exit status 32)". wstatus is from
 * waitpid(); via_shim says it is the nsexec shim's status (a death by
 * signal N then reads as 128 + N). target is the PID as blocksnoop sees it.
 */
void austin_describe_exit(int wstatus, bool via_shim, pid_t target, char *out, size_t len);

/*
 * Pure. n bytes of Austin's stderr made into one line: printable ASCII
 * kept (its messages carry emoji), every run of other bytes and
 * whitespace one space, trimmed; at most len - 1 bytes, the tail kept
 * when it does not fit (the last message is the one that matters).
 */
void austin_one_line(const char *in, size_t n, char *out, size_t len);

/*
 * Pure. The version in `austin -V` output ("austin 3.7.0\n") into
 * major/minor/patch. 0, or -1 if it is not Austin's.
 */
int austin_parse_version(const char *text, int v[3]);

/*
 * Find the Austin program. root is where it lives ("/" = blocksnoop's own
 * file system); program is --austin (NULL: "austin"). A name without '/'
 * is looked up in $PATH when root is "/", otherwise in the usual bin
 * directories under root (/usr/local/bin, /usr/bin, /bin, ...). The result
 * is the path inside root (what to exec there), checked to be executable
 * as seen from here. 0, or -errno with a one-line reason in err.
 */
int austin_locate(const char *root, const char *program, char *path, size_t len,
		  char *err, size_t errlen);

/*
 * Run `austin -V` (through nsexec for a root other than "/") and put its
 * first line of output into out. 0, or -errno with a reason in err.
 */
int austin_run_version(const char *root, const char *path, char *out, size_t len,
		       char *err, size_t errlen);

#endif
