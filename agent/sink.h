/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink.h - where records go. A sink receives each occurrence both as the
 * typed struct and as the JSON record built once by the reporter, and
 * renders whichever it needs:
 *   console  - human report on stderr (colours only on a terminal)
 *   json     - the records as JSON lines on stdout (--json)
 *   logfile  - the records plus log-shipper fields, appended to a file
 *              (--log-file), reopened on SIGHUP
 * A sink never fails its caller: write errors are reported once on stderr.
 */
#ifndef BLOCKSNOOP_SINK_H
#define BLOCKSNOOP_SINK_H

#include <cjson/cJSON.h>
#include <stdbool.h>

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
 * Append-only JSON log file at path, created 0640 if missing. Returns NULL
 * and a one-line reason in err if the file cannot be opened.
 */
struct sink *sink_logfile_new(const char *path, char *err, size_t errlen);

/* Write all of buf to fd (retrying on EINTR and short writes). 0 or -errno. */
int sink_write_all(int fd, const char *buf, size_t len);

#endif
