/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink.h - where records go. A sink receives each occurrence both as the
 * typed struct and as the JSON record built once by the reporter, and
 * renders whichever it needs:
 *   console  - human report on stderr (colours only on a terminal)
 *   json     - the records as JSON lines on stdout (--json)
 *   logfile  - the records plus log-shipper fields, appended to a file
 *              (--log-file), reopened on SIGHUP
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
