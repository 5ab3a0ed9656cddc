// SPDX-License-Identifier: Apache-2.0
/*
 * sink_logfile.c - structured JSON lines for log shippers (--log-file).
 *
 * Append-only (O_APPEND) and one write(2) per line, so concurrent readers
 * (Fluent Bit, Vector, the Datadog agent) never see two lines interleaved;
 * a line that cannot be written whole is cut off again (struct line_out).
 * SIGHUP reopens the path, which is how logrotate's default "create" mode
 * works.
 *
 * The path is the operator's, but the file at its end may have been
 * replaced by whoever can write to its directory: a symbolic link would
 * make root append to the file it names, a FIFO would block the open (and
 * with it the signal loop) for as long as nobody reads it. So the last
 * component is opened O_NOFOLLOW | O_NONBLOCK and must be a regular file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "record.h"
#include "sink.h"

struct logfile_sink {
	struct sink base;
	char *path;
	char *what; /* "log file PATH", for line_out's messages */
	int fd;
	struct line_out out;
};

static const char *file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: return "a directory";
	case S_IFIFO: return "a FIFO";
	case S_IFSOCK: return "a socket";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFLNK: return "a symbolic link";
	default: return "not a regular file";
	}
}

/*
 * Open path for appending, as the header says. Returns the fd (blocking
 * again) or -1 with a one-line reason in err. Never blocks.
 */
static int open_log(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd, flags, e;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW |
			O_NONBLOCK, 0640);
	if (fd < 0) {
		e = errno;
		/* ELOOP: the last component is a link; ENXIO: a FIFO nobody
		 * reads, or a socket; EISDIR: a directory. */
		if ((e == ELOOP || e == ENXIO || e == EISDIR) && !lstat(path, &st))
			snprintf(err, errlen,
				 "cannot use log file %s: it is %s; give the path of a regular file (links are not followed there)",
				 path, file_kind(st.st_mode));
		else
			snprintf(err, errlen,
				 "cannot open log file %s: %s: check the path and its directory's permissions",
				 path, strerror(e));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen,
			 "cannot use log file %s: it is %s; give the path of a regular file",
			 path, file_kind(st.st_mode));
		close(fd);
		return -1;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)) {
		snprintf(err, errlen, "cannot open log file %s: fcntl: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void emit(struct logfile_sink *ls, const struct session_info *si, const cJSON *rec)
{
	cJSON *logged = rec ? record_for_log(si, rec) : NULL;
	char *line = logged ? record_to_line(logged) : NULL;

	cJSON_Delete(logged);
	if (!line) {
		ls->out.dropped++; /* out of memory: as lost as a failed write */
		return;
	}
	line_out_write(&ls->out, line, strlen(line));
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

/* A path that cannot be reopened keeps the old file: its records are
 * still written (to the rotated name), none are lost. */
static void lf_reopen(struct sink *s)
{
	struct logfile_sink *ls = (struct logfile_sink *)s;
	char err[512];
	int fd = open_log(ls->path, err, sizeof(err));

	if (fd < 0) {
		log_warn("%s; still writing to the log file opened before", err);
		return;
	}
	close(ls->fd);
	ls->fd = fd;
	line_out_set_fd(&ls->out, fd);
	log_info("reopened log file %s", ls->path);
}

static void lf_dropped(const struct sink *s, struct dropped_records *out)
{
	const struct logfile_sink *ls = (const struct logfile_sink *)s;

	*out = (struct dropped_records){ .output = "log_file", .count = ls->out.dropped };
}

static void lf_destroy(struct sink *s)
{
	struct logfile_sink *ls = (struct logfile_sink *)s;

	if (ls->fd >= 0)
		close(ls->fd);
	free(ls->path);
	free(ls->what);
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
	.dropped = lf_dropped,
	.destroy = lf_destroy,
};

struct sink *sink_logfile_new(const char *path, char *err, size_t errlen)
{
	struct logfile_sink *ls = calloc(1, sizeof(*ls));

	if (!ls || !(ls->path = strdup(path)) || asprintf(&ls->what, "log file %s", path) < 0) {
		if (ls)
			free(ls->path);
		free(ls);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ls->base.ops = &logfile_ops;
	line_out_init(&ls->out, ls->what);
	ls->fd = open_log(path, err, errlen);
	if (ls->fd < 0) {
		free(ls->what);
		free(ls->path);
		free(ls);
		return NULL;
	}
	line_out_set_fd(&ls->out, ls->fd);
	return &ls->base;
}
