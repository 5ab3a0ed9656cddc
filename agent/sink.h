/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink.h - where records go. A sink receives each occurrence both as the
 * typed struct and as the JSON record built once by the reporter, and
 * renders whichever it needs:
 *   console  - human report on stderr (colours only on a terminal)
 *   json     - the records as JSON lines on stdout (--json)
 *   logfile  - the records plus log-shipper fields, appended to a file
 *              (--log-file), reopened on SIGHUP
 *   flame    - blocked time by stack, rewritten whole as flame graph files
 *              (--folded, --speedscope; the agent's --flame-dir, per pod)
 * A sink never fails its caller: write errors are reported once on stderr,
 * and the records a JSON sink could not write are counted for the summary
 * (sink_ops.dropped). JSON lines are written whole or not at all
 * (struct line_out).
 */
#ifndef BLOCKSNOOP_SINK_H
#define BLOCKSNOOP_SINK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "histogram.h"
#include "session_info.h"
#include "summary.h"

struct sink;

struct sink_ops {
	void (*session_start)(struct sink *, const struct session_info *, const cJSON *rec);
	void (*event)(struct sink *, const struct session_info *,
		      const struct blocking_event *, const cJSON *rec);
	void (*still_blocked)(struct sink *, const struct session_info *,
			      const struct still_blocked *, const cJSON *rec);
	void (*stats)(struct sink *, const struct session_info *,
		      const struct stats_snapshot *, const cJSON *rec);
	void (*summary)(struct sink *, const struct session_info *,
			const struct session_summary *, const struct stats_snapshot *,
			const cJSON *rec);
	/* Any other record, built by its producer (the Kubernetes agent's
	 * config_error). Optional: sinks without it skip such records. */
	void (*record)(struct sink *, const struct session_info *, const cJSON *rec);
	/* Once a second (files rewritten now and then). Optional. */
	void (*tick)(struct sink *);
	/* Reopen output files (SIGHUP). Optional. */
	void (*reopen)(struct sink *);
	/* The records this sink could not write so far, as the summary's
	 * dropped_records entry (output "stdout" or "log_file"). Optional:
	 * sinks without it (the console) are not records outputs. */
	void (*dropped)(const struct sink *, struct dropped_records *out);
	void (*destroy)(struct sink *);
};

/* Every sink struct starts with this. */
struct sink {
	const struct sink_ops *ops;
};

/*
 * Console report on fd (stderr). color: use ANSI colours (the caller
 * decides: a terminal and no --no-color). summary_only: skip events and
 * per-second stats. NULL when out of memory.
 */
struct sink *sink_console_new(int fd, bool color, bool summary_only);

/* JSON lines on fd (stdout). NULL when out of memory. */
struct sink *sink_json_new(int fd, bool summary_only);

/*
 * Append-only JSON log file at path, created 0640 if missing. The last
 * component of path must not be a symbolic link and must be a regular
 * file (no FIFO, device or directory): opened O_NOFOLLOW | O_NONBLOCK and
 * checked with fstat, so opening never blocks. The directories on the way
 * are the operator's choice and are followed. Returns NULL and a one-line
 * reason in err if the file cannot be used. On reopen (SIGHUP) the same
 * checks apply; if they fail, the sink warns and keeps writing to the file
 * it has.
 */
struct sink *sink_logfile_new(const char *path, char *err, size_t errlen);

/*
 * Flame graph files of the whole run (flame.h): the collapsed stacks at
 * folded_path and speedscope's JSON at speedscope_path (either may be
 * NULL, not both), each replaced whole (atomic_file.h) at the start (an
 * empty graph: a path that cannot be written fails now, not at the end),
 * every FLAME_REWRITE_S while new blocks come, and with the summary. The
 * directories on the way are followed; the file itself is replaced, never
 * written through (a link there is replaced too). NULL and a one-line
 * reason in err if a file cannot be written.
 */
#define FLAME_REWRITE_S 10
struct sink *sink_flame_new(const char *folded_path, const char *speedscope_path,
			    char *err, size_t errlen);

/*
 * The Kubernetes agent's flame graphs: per pod, DIR/<namespace>_<pod>.folded
 * and .speedscope.json (names made safe: sink_flame_pod_base()), written as
 * sink_flame_new()'s are. DIR (created 0750 if missing) is the agent's:
 * files of those kinds an earlier run left there are removed at the start,
 * and at most SINK_FLAME_MAX_PODS pods have files at once (a new pod takes
 * the place of the one whose last block is the oldest, whose files are
 * removed). Events without a pod are left out. NULL and a one-line reason
 * in err if DIR cannot be used.
 */
#define SINK_FLAME_MAX_PODS 64
struct sink *sink_flame_pods_new(const char *dir, char *err, size_t errlen);

/*
 * The file name (without suffix) of a pod's flame graphs into out
 * (SINK_FLAME_BASE_LEN bytes): "<namespace>_<pod>" when both are names
 * Kubernetes allows (letters, digits, '-', '.', not starting with '.');
 * otherwise every other byte becomes '-', a leading '.' too, each part is
 * cut (63 and 100 bytes) and "_x" and 16 hex digits of a hash of both
 * original names follow, so that no name leaves the directory or hides,
 * and two pods do not share files. Pure.
 */
#define SINK_FLAME_BASE_LEN 192
void sink_flame_pod_base(const char *namespace, const char *pod, char *out);

/* Write all of buf to fd (retrying on EINTR and short writes). 0 or -errno. */
int sink_write_all(int fd, const char *buf, size_t len);

/*
 * Whole JSON lines to one fd (sink_lines.c). A line that cannot be written
 * is counted in dropped and never leaves part of itself in front of the
 * next one: on a regular file it is cut off again (ftruncate back to where
 * it began, if nobody wrote after it); otherwise the next line starts with
 * '\n'. The first failure of a run of them is reported on stderr, and so is
 * the recovery.
 */
struct line_out {
	int fd;           /* not owned; -1 = none */
	const char *what; /* "stdout", "log file PATH": for messages; not owned */
	uint64_t dropped; /* lines not written */
	bool seekable;    /* a regular file: failed lines can be cut off */
	bool mid_line;    /* a fragment could not be removed: start afresh */
	bool failing;     /* the last line failed (said once) */
};

/* Start with no fd and nothing dropped. what must outlive lo. */
void line_out_init(struct line_out *lo, const char *what);

/* Write to fd from now on (after a reopen, say); dropped is kept. */
void line_out_set_fd(struct line_out *lo, int fd);

/* Write line (len bytes ending in '\n'). 0, or -errno (counted, reported). */
int line_out_write(struct line_out *lo, const char *line, size_t len);

#endif
