// SPDX-License-Identifier: Apache-2.0
/*
 * sink_logfile.c - structured JSON lines for log shippers (--log-file).
 *
 * Append-only (O_APPEND) and one write(2) per line, so concurrent readers
 * (Fluent Bit, Vector, the Datadog agent) never see a torn line. SIGHUP
 * reopens the path, which is how logrotate's default "create" mode works.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "record.h"
#include "sink.h"

struct logfile_sink {
	struct sink base;
	char *path;
	int fd;
	bool broken;
};

static int open_log(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

static void emit(struct logfile_sink *ls, const struct session_info *si, const cJSON *rec)
{
	cJSON *logged;
	char *line;
	int err;

	if (ls->fd < 0 || !rec)
		return;
	logged = record_for_log(si, rec);
	line = logged ? record_to_line(logged) : NULL;
	cJSON_Delete(logged);
	if (!line)
		return;
	err = sink_write_all(ls->fd, line, strlen(line));
	if (err && !ls->broken) {
		ls->broken = true;
		log_error("cannot write to log file %s: %s", ls->path, strerror(-err));
	} else if (!err) {
		ls->broken = false;
	}
	free(line);
}

static void lf_start(struct sink *s, const struct session_info *si, const cJSON *rec)
{
	emit((struct logfile_sink *)s, si, rec);
}

static void lf_event(struct sink *s, const struct session_info *si,
		     const struct blocking_event *e, const cJSON *rec)
{
	(void)e;
	emit((struct logfile_sink *)s, si, rec);
}

static void lf_still_blocked(struct sink *s, const struct session_info *si,
			     const struct still_blocked *b, const cJSON *rec)
{
	(void)b;
	emit((struct logfile_sink *)s, si, rec);
}

static void lf_stats(struct sink *s, const struct session_info *si,
		     const struct stats_snapshot *snap, const cJSON *rec)
{
	/* A line per second is a metric, not a log: only the summary is logged. */
	(void)s; (void)si; (void)snap; (void)rec;
}

static void lf_summary(struct sink *s, const struct session_info *si,
		       const struct session_summary *sum,
		       const struct stats_snapshot *snap, const cJSON *rec)
{
	(void)sum; (void)snap;
	emit((struct logfile_sink *)s, si, rec);
}

static void lf_record(struct sink *s, const struct session_info *si, const cJSON *rec)
{
	emit((struct logfile_sink *)s, si, rec);
}

static void lf_reopen(struct sink *s)
{
	struct logfile_sink *ls = (struct logfile_sink *)s;
	int fd = open_log(ls->path);

	if (fd < 0) {
		log_error("cannot reopen log file %s: %m (still writing to the old one)",
			  ls->path);
		return;
	}
	if (ls->fd >= 0)
		close(ls->fd);
	ls->fd = fd;
	log_info("reopened log file %s", ls->path);
}

static void lf_destroy(struct sink *s)
{
	struct logfile_sink *ls = (struct logfile_sink *)s;

	if (ls->fd >= 0)
		close(ls->fd);
	free(ls->path);
	free(ls);
}

static const struct sink_ops logfile_ops = {
	.session_start = lf_start,
	.event = lf_event,
	.still_blocked = lf_still_blocked,
	.stats = lf_stats,
	.summary = lf_summary,
	.record = lf_record,
	.reopen = lf_reopen,
	.destroy = lf_destroy,
};

struct sink *sink_logfile_new(const char *path, char *err, size_t errlen)
{
	struct logfile_sink *ls = calloc(1, sizeof(*ls));

	if (!ls || !(ls->path = strdup(path))) {
		free(ls);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ls->base.ops = &logfile_ops;
	ls->fd = open_log(path);
	if (ls->fd < 0) {
		snprintf(err, errlen, "cannot open log file %s: %s: check the path and its directory's permissions",
			 path, strerror(errno));
		free(ls->path);
		free(ls);
		return NULL;
	}
	return &ls->base;
}
