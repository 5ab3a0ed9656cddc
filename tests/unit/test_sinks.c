// SPDX-License-Identifier: Apache-2.0
/*
 * test_sinks.c - the three sinks (agent/sink.h): JSON lines on a fd, the
 * append-only --log-file with reopen, and the human console report.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "anatomy.h"
#include "options.h"
#include "record.h"
#include "sink.h"
#include "stacks.h"
#include "unit_helpers.h"

/* ---- a scripted session ------------------------------------------------------ */

/*
 * One session's worth of calls, as the reporter makes them: start, an
 * event (warning), a still-blocked report, an event (error), one stats
 * tick, the summary. Each record is built with the real builders and handed
 * to the sink.
 */
struct script {
	struct session_info si;
	struct blocking_event ev[2];
	struct still_blocked still;
	struct stats_snapshot snap;
	struct session_summary sum;
	cJSON *start, *event[2], *still_rec, *stats, *summary;
};

/* What each sink receives from the script, as record types. */
#define ALL_TYPES "session_start blocking_event still_blocked blocking_event stats session_summary"

static void script_init(struct script *sc, bool stats_mode)
{
	memset(sc, 0, sizeof(*sc));
	snprintf(sc->si.id, sizeof(sc->si.id), "00000000-0000-4000-8000-000000000001");
	sc->si.mode = "attach";
	sc->si.pid = 1234;
	sc->si.tid = 1234;
	sc->si.threshold_ms = stats_mode ? 0 : 100;
	sc->si.error_threshold_ms = 500;
	sc->si.stats = stats_mode;
	sc->si.service = "svc";
	sc->si.env = "staging";
	sc->si.start_wall.tv_sec = 1700000000;

	sc->ev[0] = (struct blocking_event){ .number = 1, .start_ns = 1000, .end_ns = 302101000,
		.wall_start = { 1700000001, 0 }, .timestamp_s = 1.23, .duration_ms = 302.1,
		.pid = 1234, .tid = 1234, .process_name = "gunicorn" };
	sc->ev[1] = (struct blocking_event){ .number = 2, .start_ns = 9000000000,
		.end_ns = 9750000000, .wall_start = { 1700000009, 0 }, .timestamp_s = 9,
		.duration_ms = 750, .pid = 1234, .tid = 1234, .is_error = true };
	sc->still = (struct still_blocked){ .start_ns = 9000000000, .now_ns = 9600000000,
		.wall_start = { 1700000009, 0 }, .timestamp_s = 9, .blocked_ms = 600,
		.pid = 1234, .tid = 1235, .process_name = "gunicorn", .is_error = true };
	sc->snap = (struct stats_snapshot){ .elapsed_s = 1, .count = 4, .rate = 4,
		.min_ms = 0.5, .avg_ms = 1, .p50_ms = 1, .p90_ms = 1.5, .p95_ms = 1.5,
		.p99_ms = 1.5, .max_ms = 1.5 };
	sc->sum = (struct session_summary){ .duration_s = 10, .event_count = 2,
		.error_event_count = 1, .total_blocked_ms = 1052.1, .max_blocked_ms = 750,
		.termination_reason = "signal", .status = "interrupted" };

	sc->start = record_session_start(&sc->si);
	for (int i = 0; i < 2; i++)
		sc->event[i] = record_blocking_event(&sc->si, &sc->ev[i]);
	sc->still_rec = record_still_blocked(&sc->si, &sc->still);
	sc->stats = record_stats(&sc->si, &sc->snap);
	sc->summary = record_session_summary(&sc->si, &sc->sum,
					     stats_mode ? &sc->snap : NULL);
	assert_non_null(sc->start);
	assert_non_null(sc->event[0]);
	assert_non_null(sc->event[1]);
	assert_non_null(sc->still_rec);
	assert_non_null(sc->stats);
	assert_non_null(sc->summary);
}

static void script_run(struct script *sc, struct sink *s)
{
	s->ops->session_start(s, &sc->si, sc->start);
	s->ops->event(s, &sc->si, &sc->ev[0], sc->event[0]);
	s->ops->still_blocked(s, &sc->si, &sc->still, sc->still_rec);
	s->ops->event(s, &sc->si, &sc->ev[1], sc->event[1]);
	s->ops->stats(s, &sc->si, &sc->snap, sc->stats);
	s->ops->summary(s, &sc->si, &sc->sum, sc->si.stats ? &sc->snap : NULL, sc->summary);
}

static void script_free(struct script *sc)
{
	cJSON_Delete(sc->start);
	cJSON_Delete(sc->event[0]);
	cJSON_Delete(sc->event[1]);
	cJSON_Delete(sc->still_rec);
	cJSON_Delete(sc->stats);
	cJSON_Delete(sc->summary);
}

/* An unlinked temporary file to write into and read back. */
static int temp_fd(void)
{
	int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	return fd;
}

/* The "type" of each JSON line of text, space-separated ("start event"),
 * checking that every line is one complete JSON object. */
static void line_types(const char *text, char *out, size_t len)
{
	const char *p = text;

	out[0] = '\0';
	while (*p) {
		const char *nl = strchr(p, '\n');
		char *line;
		cJSON *r;

		assert_non_null(nl); /* every line ends in '\n' */
		line = strndup(p, nl - p);
		r = cJSON_Parse(line);
		if (!r)
			fail_msg("not one JSON object per line: '%s'", line);
		assert_true(cJSON_IsString(cJSON_GetObjectItem(r, "type")));
		if (out[0])
			strncat(out, " ", len - strlen(out) - 1);
		strncat(out, cJSON_GetObjectItem(r, "type")->valuestring, len - strlen(out) - 1);
		cJSON_Delete(r);
		free(line);
		p = nl + 1;
	}
}

static void want_prefix(const char *text, const char *prefix)
{
	if (strncmp(text, prefix, strlen(prefix)))
		fail_msg("output does not start with '%s':\n%s", prefix, text);
}

/* ---- sink_json ----------------------------------------------------------------- */

/* Every record, exactly as record_to_line() serialises it, one per line. */
static void test_json_all_records(void **state)
{
	struct script sc;
	struct sink *s;
	char *text, *want, types[256];
	int fd = temp_fd();

	(void)state;
	script_init(&sc, false);
	s = sink_json_new(fd, false);
	assert_non_null(s);
	script_run(&sc, s);
	s->ops->destroy(s);

	text = uh_read_fd_file(fd);
	assert_non_null(text);
	line_types(text, types, sizeof(types));
	assert_string_equal(types, ALL_TYPES);
	/* Byte for byte what record_to_line() gives (no log-file fields). */
	want = record_to_line(sc.event[1]);
	assert_non_null(strstr(text, want));
	assert_null(strstr(text, "\"dd\""));
	free(want);
	free(text);
	script_free(&sc);
	close(fd);
}

static void test_json_summary_only(void **state)
{
	struct script sc;
	struct sink *s;
	char *text, types[256];
	int fd = temp_fd();

	(void)state;
	script_init(&sc, true);
	s = sink_json_new(fd, true);
	assert_non_null(s);
	script_run(&sc, s);
	s->ops->destroy(s);

	text = uh_read_fd_file(fd);
	line_types(text, types, sizeof(types));
	assert_string_equal(types, "session_start session_summary");
	free(text);
	script_free(&sc);
	close(fd);
}

/* On a pipe, as stdout usually is. */
static void test_json_pipe(void **state)
{
	struct script sc;
	struct sink *s;
	char buf[16384], types[256];
	ssize_t n;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	script_init(&sc, false);
	s = sink_json_new(p[1], false);
	script_run(&sc, s);
	s->ops->destroy(s);
	close(p[1]); /* the sink does not own the fd: closing it is ours */
	n = read(p[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	line_types(buf, types, sizeof(types));
	assert_string_equal(types, ALL_TYPES);
	assert_int_equal(uh_count_lines(buf), 6);
	close(p[0]);
	script_free(&sc);
}

/* A NULL record (out of memory upstream) is skipped, not a crash. */
static void test_json_null_record(void **state)
{
	struct script sc;
	struct sink *s;
	char *text;
	int fd = temp_fd();

	(void)state;
	script_init(&sc, false);
	s = sink_json_new(fd, false);
	s->ops->event(s, &sc.si, &sc.ev[0], NULL);
	s->ops->session_start(s, &sc.si, sc.start);
	s->ops->destroy(s);
	text = uh_read_fd_file(fd);
	assert_int_equal(uh_count_lines(text), 1);
	free(text);
	script_free(&sc);
	close(fd);
}

/* ---- sink_logfile ---------------------------------------------------------------- */

/* Appends record_for_log() lines after what the file held; no stats lines. */
static void test_logfile_appends(void **state)
{
	struct script sc;
	struct sink *s;
	char dir[64], path[128], err[256] = "", types[256], *text;
	struct stat st;
	mode_t old_umask = umask(022);

	(void)state;
	assert_int_equal(uh_mkdtemp(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/blocksnoop.json", dir);

	/* Created 0640 when missing. */
	script_init(&sc, false);
	s = sink_logfile_new(path, err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(err, "");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	s->ops->destroy(s);

	/* Appends to an existing file. */
	assert_int_equal(uh_write_file(path, "{\"type\":\"earlier\"}\n"), 0);
	s = sink_logfile_new(path, err, sizeof(err));
	assert_non_null(s);
	script_run(&sc, s);
	s->ops->destroy(s);

	text = uh_read_file(path);
	assert_non_null(text);
	assert_true(strncmp(text, "{\"type\":\"earlier\"}\n", 19) == 0);
	line_types(text, types, sizeof(types));
	/* Everything but the per-second stats. */
	assert_string_equal(types, "earlier session_start blocking_event still_blocked "
			    "blocking_event session_summary");
	/* The log form of the record, with service, env, dd... */
	{
		cJSON *logged = record_for_log(&sc.si, sc.event[1]);
		char *want = record_to_line(logged);

		assert_non_null(strstr(text, want));
		free(want);
		cJSON_Delete(logged);
	}
	assert_non_null(strstr(text, "\"service\":\"svc\""));
	assert_non_null(strstr(text, "\"level\":\"error\""));
	free(text);
	script_free(&sc);
	uh_rmtree(dir);
	umask(old_umask);
}

static void test_logfile_bad_path(void **state)
{
	char err[256] = "";
	struct sink *s;

	(void)state;
	s = sink_logfile_new("/nonexistent-blocksnoop-dir/x/log.json", err, sizeof(err));
	assert_null(s);
	assert_true(strlen(err) > 0);
	assert_null(strchr(err, '\n'));
	assert_non_null(strstr(err, "/nonexistent-blocksnoop-dir/x/log.json"));
	assert_non_null(strstr(err, "No such file or directory"));

	/* A directory is not a log file either. */
	err[0] = '\0';
	assert_null(sink_logfile_new("/tmp", err, sizeof(err)));
	assert_true(strlen(err) > 0);
}

/* logrotate's "create" mode: rename the file, SIGHUP (reopen), and the
 * next lines go to a new file at the path. */
static void test_logfile_reopen(void **state)
{
	struct script sc;
	struct sink *s;
	char dir[64], path[128], rotated[140], err[256], types[256], *text;

	(void)state;
	assert_int_equal(uh_mkdtemp(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/bs.json", dir);
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	script_init(&sc, false);
	s = sink_logfile_new(path, err, sizeof(err));
	assert_non_null(s);
	assert_non_null(s->ops->reopen);

	s->ops->session_start(s, &sc.si, sc.start);
	assert_int_equal(rename(path, rotated), 0);
	s->ops->event(s, &sc.si, &sc.ev[0], sc.event[0]); /* still the old file */
	s->ops->reopen(s);
	s->ops->event(s, &sc.si, &sc.ev[1], sc.event[1]);
	s->ops->summary(s, &sc.si, &sc.sum, NULL, sc.summary);
	s->ops->destroy(s);

	text = uh_read_file(rotated);
	line_types(text, types, sizeof(types));
	assert_string_equal(types, "session_start blocking_event");
	free(text);
	text = uh_read_file(path);
	assert_non_null(text);
	line_types(text, types, sizeof(types));
	assert_string_equal(types, "blocking_event session_summary");
	assert_non_null(strstr(text, "\"event_number\":2,"));
	free(text);
	script_free(&sc);
	uh_rmtree(dir);
}

/* A reopen that fails keeps writing to the file already open. */
static void test_logfile_reopen_fails(void **state)
{
	struct script sc;
	struct sink *s;
	char dir[64], moved[80], path[128], now[160], err[256], types[256], *text;
	int saved_stderr, devnull;

	(void)state;
	assert_int_equal(uh_mkdtemp(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/bs.json", dir);
	snprintf(moved, sizeof(moved), "%s-moved", dir);
	snprintf(now, sizeof(now), "%s/bs.json", moved);
	script_init(&sc, false);
	s = sink_logfile_new(path, err, sizeof(err));
	assert_non_null(s);
	s->ops->session_start(s, &sc.si, sc.start);
	/* The directory goes away: the path cannot be opened any more. */
	assert_int_equal(rename(dir, moved), 0);
	saved_stderr = dup(STDERR_FILENO); /* keep the expected error quiet */
	devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, STDERR_FILENO);
	s->ops->reopen(s);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	close(devnull);
	s->ops->event(s, &sc.si, &sc.ev[0], sc.event[0]);
	s->ops->destroy(s);

	text = uh_read_file(now);
	assert_non_null(text);
	line_types(text, types, sizeof(types));
	assert_string_equal(types, "session_start blocking_event");
	free(text);
	script_free(&sc);
	uh_rmtree(moved);
}

/* ---- whole lines or nothing -------------------------------------------------- */

/* stderr to /dev/null while a test provokes expected errors. */
static int quiet_stderr(void)
{
	int saved = dup(STDERR_FILENO), devnull = open("/dev/null", O_WRONLY);

	dup2(devnull, STDERR_FILENO);
	close(devnull);
	return saved;
}

static void restore_stderr(int saved)
{
	dup2(saved, STDERR_FILENO);
	close(saved);
}

/*
 * A full disk, deterministically: RLIMIT_FSIZE makes a write that crosses
 * the limit write up to it and return short, and the next one fail with
 * EFBIG, which is what ENOSPC does to a line in mid-write.
 */
static struct rlimit limit_file_size(rlim_t bytes)
{
	struct rlimit old, lim;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = (struct rlimit){ .rlim_cur = bytes, .rlim_max = old.rlim_max };
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	return old;
}

static void unlimit_file_size(struct rlimit old)
{
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
}

static char *line_of_n(char c, size_t n)
{
	char *line = malloc(n + 1);

	assert_non_null(line);
	memset(line, c, n - 1);
	line[n - 1] = '\n';
	line[n] = '\0';
	return line;
}

/* A line that fails part-way is cut off the file again, on a file opened
 * with and without O_APPEND. */
static void test_lines_cut_back(void **state)
{
	for (int append = 0; append <= 1; append++) {
		char *a = line_of_n('a', 100), *b = line_of_n('b', 100), *c = line_of_n('c', 100);
		char want[301], *text;
		struct line_out lo;
		struct rlimit old;
		int fd = temp_fd(), saved;

		(void)state;
		if (append)
			assert_int_equal(fcntl(fd, F_SETFL, O_APPEND), 0);
		line_out_init(&lo, "the test file");
		line_out_set_fd(&lo, fd);
		assert_true(lo.seekable);
		assert_int_equal(line_out_write(&lo, a, 100), 0);

		saved = quiet_stderr();
		old = limit_file_size(150); /* b fits half-way */
		assert_int_equal(line_out_write(&lo, b, 100), -EFBIG);
		assert_int_equal(line_out_write(&lo, b, 100), -EFBIG);
		unlimit_file_size(old);
		restore_stderr(saved);
		assert_int_equal(lo.dropped, 2);
		assert_false(lo.mid_line);
		assert_int_equal(lseek(fd, 0, SEEK_END), 100); /* the half line is gone */

		assert_int_equal(line_out_write(&lo, c, 100), 0);
		assert_int_equal(lo.dropped, 2);
		text = uh_read_fd_file(fd);
		snprintf(want, sizeof(want), "%s%s", a, c);
		assert_string_equal(text, want);
		free(text);
		free(a);
		free(b);
		free(c);
		close(fd);
	}
}

/* Where a fragment cannot be taken back (a pipe), the next line starts
 * with '\n': it is still a whole line of its own. */
static void test_lines_fresh_line_after_fragment(void **state)
{
	char *big = line_of_n('x', 6000), *next = line_of_n('y', 50), *text, *last;
	char buf[8192];
	struct line_out lo;
	size_t got = 0;
	ssize_t n;
	int p[2], saved;

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	assert_int_equal(fcntl(p[1], F_SETPIPE_SZ, 4096), 4096);
	line_out_init(&lo, "the test pipe");
	line_out_set_fd(&lo, p[1]);
	assert_false(lo.seekable);
	saved = quiet_stderr();
	/* 6000 bytes into a 4096-byte pipe: part of it, then EAGAIN. */
	assert_int_equal(line_out_write(&lo, big, 6000), -EAGAIN);
	restore_stderr(saved);
	assert_int_equal(lo.dropped, 1);
	assert_true(lo.mid_line);
	while ((n = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	assert_true(got > 0 && got < 6000);
	assert_int_equal(line_out_write(&lo, next, 50), 0);
	assert_false(lo.mid_line);
	while ((n = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	text = buf;
	last = strrchr(text, '\n');
	*last = '\0';
	last = strrchr(text, '\n');
	assert_non_null(last); /* the fragment ended with the '\n' added */
	assert_int_equal(strlen(last + 1), 49);
	assert_int_equal(strspn(last + 1, "y"), 49);
	assert_int_equal(last - text, (ptrdiff_t)got - 51);
	free(big);
	free(next);
	close(p[0]);
	close(p[1]);
}

/* The JSON sink on a file that fills up: every line in it parses, and
 * what it could not write is reported as dropped. */
static void test_json_full_file_drops(void **state)
{
	struct dropped_records d;
	struct rlimit old;
	struct script sc;
	struct sink *s;
	char *text, types[256];
	int fd = temp_fd(), saved;
	size_t start_len;

	(void)state;
	script_init(&sc, false);
	s = sink_json_new(fd, false);
	assert_non_null(s->ops->dropped);
	s->ops->session_start(s, &sc.si, sc.start);
	start_len = (size_t)lseek(fd, 0, SEEK_CUR);
	saved = quiet_stderr();
	old = limit_file_size(start_len + 40); /* the next line fits 40 bytes */
	s->ops->event(s, &sc.si, &sc.ev[0], sc.event[0]);
	s->ops->still_blocked(s, &sc.si, &sc.still, sc.still_rec);
	unlimit_file_size(old);
	restore_stderr(saved);
	s->ops->event(s, &sc.si, &sc.ev[1], sc.event[1]);
	s->ops->dropped(s, &d);
	assert_string_equal(d.output, "stdout");
	assert_int_equal(d.count, 2);
	s->ops->destroy(s);

	text = uh_read_fd_file(fd);
	line_types(text, types, sizeof(types));
	assert_string_equal(types, "session_start blocking_event");
	assert_non_null(strstr(text, "\"event_number\":2,"));
	free(text);
	script_free(&sc);
	close(fd);
}

/* The last component of --log-file must be a regular file: no symbolic
 * link is followed, and a FIFO (read or not) never blocks the open. */
static void test_logfile_refuses_links_and_fifos(void **state)
{
	char dir[64], target[128], link[128], dangling[128], fifo[128], err[512];
	struct stat st;
	char *text;
	int reader;

	(void)state;
	assert_int_equal(uh_mkdtemp(dir, sizeof(dir)), 0);
	snprintf(target, sizeof(target), "%s/precious", dir);
	snprintf(link, sizeof(link), "%s/link.json", dir);
	snprintf(dangling, sizeof(dangling), "%s/dangling.json", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo.json", dir);
	assert_int_equal(uh_write_file(target, "keep\n"), 0);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(symlink("created-through-link", dangling), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(20); /* an open that blocks fails the test instead of hanging it */

	assert_null(sink_logfile_new(link, err, sizeof(err)));
	assert_non_null(strstr(err, "symbolic link"));
	assert_non_null(strstr(err, link));
	assert_null(strchr(err, '\n'));
	text = uh_read_file(target);
	assert_string_equal(text, "keep\n");
	free(text);

	assert_null(sink_logfile_new(dangling, err, sizeof(err)));
	assert_non_null(strstr(err, "symbolic link"));
	snprintf(target, sizeof(target), "%s/created-through-link", dir);
	assert_int_equal(stat(target, &st), -1);

	/* Nobody reads the FIFO: open(O_WRONLY) alone would block forever. */
	assert_null(sink_logfile_new(fifo, err, sizeof(err)));
	assert_non_null(strstr(err, "a FIFO"));
	/* Somebody does: the open succeeds, fstat tells. */
	reader = open(fifo, O_RDONLY | O_NONBLOCK);
	assert_true(reader >= 0);
	assert_null(sink_logfile_new(fifo, err, sizeof(err)));
	assert_non_null(strstr(err, "a FIFO"));
	close(reader);

	assert_null(sink_logfile_new(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "a directory"));
	assert_null(sink_logfile_new("/dev/null", err, sizeof(err)));
	assert_non_null(strstr(err, "a character device"));
	alarm(0);
	uh_rmtree(dir);
}

/* What a reopen finds at the path is checked as at start; if it is not a
 * regular file, the sink keeps the file it has. */
static void test_logfile_reopen_refuses_links_and_fifos(void **state)
{
	char dir[64], path[128], rotated[140], target[128], err[512], types[256], *text;
	struct script sc;
	struct sink *s;
	int saved;

	(void)state;
	assert_int_equal(uh_mkdtemp(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/bs.json", dir);
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	snprintf(target, sizeof(target), "%s/precious", dir);
	assert_int_equal(uh_write_file(target, "keep\n"), 0);
	script_init(&sc, false);
	s = sink_logfile_new(path, err, sizeof(err));
	assert_non_null(s);
	s->ops->session_start(s, &sc.si, sc.start);
	alarm(20);

	assert_int_equal(rename(path, rotated), 0);
	assert_int_equal(symlink(target, path), 0);
	saved = quiet_stderr();
	s->ops->reopen(s);
	restore_stderr(saved);
	s->ops->event(s, &sc.si, &sc.ev[0], sc.event[0]);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	saved = quiet_stderr();
	s->ops->reopen(s);
	restore_stderr(saved);
	s->ops->event(s, &sc.si, &sc.ev[1], sc.event[1]);
	alarm(0);
	s->ops->destroy(s);

	text = uh_read_file(target);
	assert_string_equal(text, "keep\n");
	free(text);
	text = uh_read_file(rotated);
	line_types(text, types, sizeof(types));
	assert_string_equal(types, "session_start blocking_event blocking_event");
	free(text);
	script_free(&sc);
	uh_rmtree(dir);
}

/* The console summary says how many records an output missed. */
static void test_console_dropped(void **state)
{
	struct script sc;
	struct sink *s;
	char *text;
	int fd = temp_fd();

	(void)state;
	script_init(&sc, false);
	sc.sum.dropped[0] = (struct dropped_records){ .output = "stdout", .count = 0 };
	sc.sum.dropped[1] = (struct dropped_records){ .output = "log_file", .count = 7 };
	sc.sum.noutputs = 2;
	s = sink_console_new(fd, false, false);
	s->ops->summary(s, &sc.si, &sc.sum, NULL, sc.summary);
	s->ops->destroy(s);
	text = uh_read_fd_file(fd);
	assert_non_null(strstr(text, "Dropped records: 7 not written to the log file"));
	assert_null(strstr(text, "to stdout")); /* nothing dropped there: not said */
	free(text);
	close(fd);

	fd = temp_fd();
	sc.sum.noutputs = 0;
	s = sink_console_new(fd, false, false);
	s->ops->summary(s, &sc.si, &sc.sum, NULL, sc.summary);
	s->ops->destroy(s);
	text = uh_read_fd_file(fd);
	assert_null(strstr(text, "Dropped"));
	free(text);
	close(fd);
	script_free(&sc);
}

/* ---- sink_console ---------------------------------------------------------------- */

static char *console_output(bool color, bool summary_only, bool stats_mode)
{
	struct script sc;
	struct sink *s;
	char *text;
	int fd = temp_fd();

	script_init(&sc, stats_mode);
	s = sink_console_new(fd, color, summary_only);
	assert_non_null(s);
	script_run(&sc, s);
	s->ops->destroy(s);
	text = uh_read_fd_file(fd);
	assert_non_null(text);
	script_free(&sc);
	close(fd);
	return text;
}

static void test_console_plain(void **state)
{
	char *text = console_output(false, false, false);

	(void)state;
	/* Each event names its process and thread (the name when known). */
	if (!strstr(text, "\n[   1.23s] #1  BLOCKED  302.1ms  pid=1234 (gunicorn) tid=1234\n"
			  "    no Python stack: stack sampling is off\n"
			  "[   9.00s]     STILL BLOCKED  600.0ms so far  pid=1234 (gunicorn) tid=1235\n"
			  "    no Python stack: stack sampling is off\n"
			  "[   9.00s] #2  BLOCKED  750.0ms  pid=1234 tid=1234\n"
			  "    no Python stack: stack sampling is off\n"))
		fail_msg("event lines not as documented:\n%s", text);
	want_prefix(text, "blocksnoop: watching PID 1234 thread 1234 for blocks "
		    ">= 100.0 ms... Ctrl-C to stop\n");
	/* A non-terminal gets one plain line per stats tick. */
	assert_non_null(strstr(text, "blocksnoop stats: pid=1234 elapsed=1.0s count=4 "
			   "rate=4/s min=0.500 avg=1.000 p50=1.000 p90=1.500 p95=1.500 "
			   "p99=1.500 max=1.500 ms\n"));
	assert_non_null(strstr(text, "--- blocksnoop session ---\n"
			   "Duration:        10.0s\n"
			   "Blocking events: 2 (1 at error level)\n"
			   "Blocked time:    total 1052.1 ms, longest 750.0 ms\n"
			   "Lost events:     0\n"));
	assert_null(strchr(text, '\033'));
	free(text);
}

/* A still-blocked report shows its anatomy so far under its line, in
 * shares of the time blocked so far. */
static void test_console_still_blocked_anatomy(void **state)
{
	struct session_info si = { .id = "abc", .mode = "attach", .pid = 1234, .tid = 1234 };
	struct gap_anatomy k = {
		.flags = GAP_ANATOMY_F_MEASURED,
		.on_cpu_ns = 30000000,
		.off_cpu_ns = 2970000000,
		.nwaits = 1,
		.waits = { { SYS_recvfrom, 7, 2970000000 } },
	};
	struct event_anatomy a;
	struct still_blocked b = { .timestamp_s = 9, .blocked_ms = 3000, .pid = 1234,
				   .tid = 1234, .process_name = "p", .anatomy = &a };
	int fd = temp_fd();
	struct sink *s;
	char *text;

	(void)state;
	assert_true(anatomy_from_kernel(&a, &k, 3000000000ULL));
	snprintf(a.waits[0].what, sizeof(a.waits[0].what), "TCP 127.0.0.1:5 -> 127.0.0.1:6");
	s = sink_console_new(fd, false, false);
	assert_non_null(s);
	s->ops->still_blocked(s, &si, &b, NULL);
	s->ops->destroy(s);
	text = uh_read_fd_file(fd);
	if (!strstr(text, "STILL BLOCKED  3000.0ms so far  pid=1234 (p) tid=1234\n"
			  "    io 99%: on-CPU 1%, off-CPU 99% \u2014 2970.0 ms in recvfrom on fd 7 "
			  "(TCP 127.0.0.1:5 -> 127.0.0.1:6)\n"))
		fail_msg("still-blocked anatomy not as documented:\n%s", text);
	free(text);
	close(fd);
}

static void test_console_color(void **state)
{
	char *text = console_output(true, false, false);

	(void)state;
	/* Warning-level events in yellow, error-level in bold red. */
	assert_non_null(strstr(text, "#1  \033[33mBLOCKED\033[0m  302.1ms"));
	assert_non_null(strstr(text, "#2  \033[1;31mBLOCKED\033[0m  750.0ms"));
	assert_non_null(strstr(text, "]     \033[1;31mSTILL BLOCKED\033[0m  600.0ms"));
	assert_non_null(strstr(text, "    \033[2mno Python stack: stack sampling is off\033[0m\n"));
	assert_non_null(strstr(text, "\033[1m--- blocksnoop session ---\033[0m"));
	free(text);
}

static void test_console_summary_only(void **state)
{
	char *text = console_output(false, true, false);

	(void)state;
	assert_null(strstr(text, "BLOCKED")); /* nor STILL BLOCKED */
	assert_null(strstr(text, "blocksnoop stats:"));
	assert_non_null(strstr(text, "blocksnoop: watching PID 1234"));
	assert_non_null(strstr(text, "Blocking events: 2 (1 at error level)"));
	free(text);
}

static void test_console_stats_mode(void **state)
{
	char *text = console_output(false, false, true);

	(void)state;
	want_prefix(text, "blocksnoop: measuring epoll gaps of PID 1234 thread 1234"
		    "... Ctrl-C to stop\n");
	assert_non_null(strstr(text, "Gaps measured: 4 (4/s)\n"));
	assert_non_null(strstr(text, "(ms)\n"));
	assert_null(strchr(text, '\033'));
	free(text);
}

/* Python stacks on the console: traceback order (outermost first), the
 * loop's own frames hidden and counted, at most 3 stacks per event. */
static void test_console_stacks(void **state)
{
	struct frame f_main[] = {
		{ "time.sleep", "<built-in>", 0, NULL },
		{ "handler", "/srv/app.py", 42, "time.sleep(0.3)" },
		{ "Handle._run", "/usr/lib/python3.11/asyncio/events.py", 80, "self._context.run()" },
		{ "BaseEventLoop._run_once", "/usr/lib/python3.11/asyncio/base_events.py", 1922, NULL },
	};
	struct frame f_other[] = { { "parse", "/srv/app.py", 7, NULL } };
	struct stack_count stacks[] = {
		{ { .depth = 4, .truncated = false, .frames = f_main }, 6 },
		{ { .depth = 1, .truncated = true, .frames = f_other }, 1 },
		{ { .depth = 1, .truncated = false, .frames = f_other }, 1 },
		{ { .depth = 1, .truncated = false, .frames = f_other }, 1 },
		{ { .depth = 1, .truncated = false, .frames = f_other }, 1 },
	};
	struct stack_set set = { .total_samples = 10, .nstacks = 5, .stacks = stacks };
	struct script sc;
	struct sink *s;
	char *text;
	int fd = temp_fd();

	(void)state;
	script_init(&sc, false);
	sc.ev[0].stacks = &set;
	s = sink_console_new(fd, false, false);
	s->ops->event(s, &sc.si, &sc.ev[0], sc.event[0]);
	s->ops->destroy(s);
	text = uh_read_fd_file(fd);
	if (!strstr(text, "[   1.23s] #1  BLOCKED  302.1ms  pid=1234 (gunicorn) tid=1234\n"
			  "    Python stack (most recent call last), 6 of 10 samples:\n"
			  "      /srv/app.py:42 in handler\n"
			  "        time.sleep(0.3)\n"
			  "      <built-in>:0 in time.sleep\n"
			  "      (2 asyncio/selectors/threading frames hidden; --json has them)\n"
			  "    ---\n"
			  "    Python stack (most recent call last), 1 of 10 samples:\n"
			  "      /srv/app.py:7 in parse\n"
			  "      ... (outer frames beyond the depth limit)\n"
			  "    ---\n"
			  "    Python stack (most recent call last), 1 of 10 samples:\n"
			  "      /srv/app.py:7 in parse\n"
			  "    (2 more stacks; --json has them)\n"))
		fail_msg("stacks not as expected:\n%s", text);
	assert_null(strstr(text, "base_events"));
	assert_null(strstr(text, "no Python stack"));
	free(text);
	script_free(&sc);
	close(fd);
}

/* The asyncio task on its own line under the header: the chain, a bare
 * callback, a task that could not be read; nothing for a sampler that
 * reads no tasks. */
static void test_console_task(void **state)
{
	struct frame f[] = { { "handler", "/srv/app.py", 42, NULL } };
	struct stack_count stacks[] = { { .stack = { .depth = 1, .frames = f }, .samples = 2 } };
	struct stack_set set = { .total_samples = 2, .nstacks = 1, .stacks = stacks };
	static const struct {
		struct task_seen task;
		const char *line; /* NULL: no task line */
	} cases[] = {
		{ { .state = TASK_RUNNING, .depth = 2,
		    .chain = { { "checkout-42", "handle_order" }, { "Task-1", "main" } } },
		  "tid=1234\n    task checkout-42 (handle_order) \xe2\x86\x90 awaited by Task-1 (main)\n"
		  "    Python stack" },
		{ { .state = TASK_RUNNING, .depth = 1, .truncated = true,
		    .chain = { { "a", "f" } } },
		  "tid=1234\n    task a (f) \xe2\x86\x90 ...\n    Python stack" },
		{ { .state = TASK_NONE }, "tid=1234\n    no task: a bare callback, not a task step\n" },
		{ { .state = TASK_UNAVAILABLE, .why = "it moved" },
		  "tid=1234\n    task unavailable: it moved\n" },
		{ { .state = TASK_NOT_READ }, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct script sc;
		struct sink *s;
		char *text;
		int fd = temp_fd();

		script_init(&sc, false);
		stacks[0].stack.task = cases[i].task;
		sc.ev[0].stacks = &set;
		sc.ev[0].sampler = SAMPLER_BUILTIN;
		s = sink_console_new(fd, false, false);
		s->ops->event(s, &sc.si, &sc.ev[0], sc.event[0]);
		s->ops->destroy(s);
		text = uh_read_fd_file(fd);
		if (cases[i].line ? !strstr(text, cases[i].line)
				  : strstr(text, "task") != NULL)
			fail_msg("case %zu: task line not as expected:\n%s", i, text);
		free(text);
		script_free(&sc);
		close(fd);
	}
}

/* The summary lists the top call sites (already sorted by the caller). */
static void test_console_call_sites(void **state)
{
	struct call_site sites[] = {
		{ { "handler", "/srv/app.py", 42, NULL }, 3, 903.36, 301.2, { 0 } },
		{ { "parse", "/srv/app.py", 7, NULL }, 12, 150.04, 20, { 0 } },
	};
	struct script sc;
	struct sink *s;
	char *text;
	int fd = temp_fd();

	(void)state;
	script_init(&sc, false);
	sc.sum.sites = sites;
	sc.sum.nsites = 2;
	s = sink_console_new(fd, false, true); /* summary-only still shows them */
	s->ops->summary(s, &sc.si, &sc.sum, NULL, sc.summary);
	s->ops->destroy(s);
	text = uh_read_fd_file(fd);
	if (!strstr(text, "Lost events:     0\n"
			  "Top blocking call sites:\n"
			  "     903.4 ms     3x  /srv/app.py:42 in handler\n"
			  "     150.0 ms    12x  /srv/app.py:7 in parse\n"))
		fail_msg("call sites not as expected:\n%s", text);
	free(text);
	script_free(&sc);
	close(fd);
}

/* The banner says what is watched; the summary lists the blocks of each
 * process once there is more than one (the caller sorted them), the top
 * ten, then the rest (places beyond them and other_processes) in a line. */
static void test_console_processes(void **state)
{
	struct script sc;
	struct sink *s;
	char *text;
	int fd = temp_fd();

	(void)state;
	script_init(&sc, false);
	sc.si.follow = true;
	sc.si.all_threads = true;
	for (int i = 0; i < 12; i++)
		sc.sum.processes[i] = (struct process_blocks){
			.pid = 2000 + i, .event_count = 2, .total_blocked_ms = 1000 - i,
		};
	snprintf(sc.sum.processes[0].name, sizeof(sc.sum.processes[0].name), "gunicorn");
	sc.sum.nprocesses = 12;
	sc.sum.other_processes = (struct process_blocks){ .event_count = 5, .total_blocked_ms = 500 };
	s = sink_console_new(fd, false, false);
	s->ops->session_start(s, &sc.si, sc.start);
	s->ops->summary(s, &sc.si, &sc.sum, NULL, sc.summary);
	s->ops->destroy(s);
	text = uh_read_fd_file(fd);
	want_prefix(text, "blocksnoop: watching PID 1234 (every thread) and every process it "
		    "starts for blocks >= 100.0 ms... Ctrl-C to stop\n");
	if (!strstr(text, "Lost events:     0\n"
			  "Blocks by process:\n"
			  "    1000.0 ms     2x  pid 2000 (gunicorn)\n"
			  "     999.0 ms     2x  pid 2001\n") ||
	    !strstr(text, "     991.0 ms     2x  pid 2009\n"
			  "    2479.0 ms     9x  other processes\n") || strstr(text, "pid 2010"))
		fail_msg("processes not as expected:\n%s", text);
	free(text);
	close(fd);

	/* One process: nothing to compare, no list. */
	fd = temp_fd();
	sc.sum.nprocesses = 1;
	sc.sum.other_processes.event_count = 0;
	s = sink_console_new(fd, false, false);
	s->ops->summary(s, &sc.si, &sc.sum, NULL, sc.summary);
	s->ops->destroy(s);
	text = uh_read_fd_file(fd);
	assert_null(strstr(text, "Blocks by process"));
	free(text);
	close(fd);

	/* Nor in agent mode, where a pid does not say which pod's. */
	fd = temp_fd();
	sc.sum.nprocesses = 12;
	sc.si.mode = "agent";
	s = sink_console_new(fd, false, false);
	s->ops->summary(s, &sc.si, &sc.sum, NULL, sc.summary);
	s->ops->destroy(s);
	text = uh_read_fd_file(fd);
	assert_null(strstr(text, "Blocks by process"));
	free(text);
	close(fd);
	script_free(&sc);
}

/* On a terminal the stats frame is redrawn in place: the second frame
 * moves the cursor up over the first (3 lines) and clears it. */
static void test_console_stats_tty(void **state)
{
	struct script sc;
	struct sink *s;
	char buf[8192];
	ssize_t n, got = 0;
	int master, slave;

	(void)state;
	if (openpty(&master, &slave, NULL, NULL, NULL) != 0) {
		print_message("no pty: in-place redraw not checked\n");
		return;
	}
	script_init(&sc, true);
	s = sink_console_new(slave, false, false);
	s->ops->stats(s, &sc.si, &sc.snap, sc.stats);
	s->ops->stats(s, &sc.si, &sc.snap, sc.stats);
	s->ops->destroy(s);
	close(slave);
	while ((n = read(master, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	close(master);
	script_free(&sc);
	assert_non_null(strstr(buf, "blocksnoop stats — PID 1234"));
	/* Drawn twice, the second time after "up 3, clear". */
	assert_non_null(strstr(buf, "\033[3A\033[J"));
	assert_null(strstr(strstr(buf, "\033[3A\033[J") + 1, "\033[3A"));
	/* color=false: no colour codes even on a terminal. */
	assert_null(strstr(buf, "\033[1m"));
	assert_null(strstr(buf, "\033[33m"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_all_records),
		cmocka_unit_test(test_json_summary_only),
		cmocka_unit_test(test_json_pipe),
		cmocka_unit_test(test_json_null_record),
		cmocka_unit_test(test_logfile_appends),
		cmocka_unit_test(test_logfile_bad_path),
		cmocka_unit_test(test_logfile_reopen),
		cmocka_unit_test(test_logfile_reopen_fails),
		cmocka_unit_test(test_lines_cut_back),
		cmocka_unit_test(test_lines_fresh_line_after_fragment),
		cmocka_unit_test(test_json_full_file_drops),
		cmocka_unit_test(test_logfile_refuses_links_and_fifos),
		cmocka_unit_test(test_logfile_reopen_refuses_links_and_fifos),
		cmocka_unit_test(test_console_dropped),
		cmocka_unit_test(test_console_plain),
		cmocka_unit_test(test_console_color),
		cmocka_unit_test(test_console_still_blocked_anatomy),
		cmocka_unit_test(test_console_summary_only),
		cmocka_unit_test(test_console_stats_mode),
		cmocka_unit_test(test_console_stacks),
		cmocka_unit_test(test_console_task),
		cmocka_unit_test(test_console_call_sites),
		cmocka_unit_test(test_console_processes),
		cmocka_unit_test(test_console_stats_tty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
