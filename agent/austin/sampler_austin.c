// SPDX-License-Identifier: Apache-2.0
/*
 * sampler_austin.c - Python stacks from the real Austin (--sampler austin).
 *
 * One long-lived Austin per target process, in pipe mode:
 *
 *   austin -P -i <interval us> -t <timeout ms> -p <pid>
 *
 * started directly, or through the namespace shim when the target is in
 * other namespaces or Austin comes from --austin-root (austin_spawn.c).
 * Its stdout is parsed as it comes (text for Austin 3, MOJO for Austin 4:
 * austin_parse.h) and every sample of a watched thread is attributed to the
 * gap that thread is in when the sample arrives.
 *
 * Timing. Austin's samples carry no time stamp, so each is stamped on
 * arrival. Austin 3 writes its text through stdio, which into a pipe is
 * block-buffered: samples then arrive in 4 KiB bursts, 100-200 ms late at
 * 30 Hz (measured). Its stdout is therefore a pseudo-terminal in raw mode,
 * which makes stdio flush every line: samples arrive within a fraction of
 * a millisecond of being taken (measured: median 0.2 ms, 90th percentile
 * 2 ms). Austin 4 flushes after every sample in any case.
 *
 * Attribution. A sample counts for the gap that the detector shows open on
 * its thread when it arrives (detector_gap_open_since(), as the built-in
 * sampler does), and take() returns the samples of the gap that began at
 * start_ns. Samples that arrive while the thread waits in epoll are the
 * idle loop and count for nothing, and so do those that arrive in the
 * first moments of a gap (settle_ns()): they may have been taken just
 * before it. This is the window [start - padding,
 * end + padding] of --correlation-padding with what the detector knows
 * added: no sample stamped before start can have been taken during the
 * block (arrival follows sampling), none stamped after the gap closed is
 * known to belong to it, and every one stamped in between does. A plain
 * window would mix 2 x padding of the idle loop's stacks, and the
 * neighbouring blocks', into every event (docs/austin.md).
 *
 * Failures never stop blocksnoop: Austin's exit is reported once (per
 * distinct reason), with what it said on stderr, and it is restarted with
 * a backoff (0.5 s doubling to 30 s); output that cannot be parsed is
 * reported in one line and Austin is restarted. If blocks happen and no
 * stack comes for a few seconds, that is said once, loudly, with why.
 *
 * The sampler's one fd is an epoll set holding every Austin's stdout, its
 * stderr, a pidfd for its exit, and a timerfd for restarts.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "austin/austin_diag.h"
#include "austin/austin_parse.h"
#include "austin/austin_spawn.h"
#include "compat.h"
#include "cpython/pyreader.h"
#include "log.h"
#include "procfs.h"
#include "sampler.h"
#include "timeutil.h"

#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL

#define RESTART_MIN_NS (500 * NS_PER_MS)
#define RESTART_MAX_NS (30 * NS_PER_S)
/* A run this long (or one that sampled) resets the backoff. */
#define RUN_OK_NS (10 * NS_PER_S)
/* Blocks without stacks for this long are worth a warning. */
#define QUIET_AFTER_NS (3 * NS_PER_S)
/* How long Austin looks for the interpreter before giving up (-t). */
#define AUSTIN_TIMEOUT_MS 5000
/* threshold/3 clamped to this, when --interval is not given. */
#define INTERVAL_MIN_NS NS_PER_MS
#define INTERVAL_MAX_NS NS_PER_S
/* SIGTERM, then this long before SIGKILL. */
#define STOP_GRACE_MS 500
#define STDERR_TAIL 2048
#define READ_CHUNK 65536

enum ev_kind { EV_TIMER = 1, EV_OUT, EV_ERR, EV_EXIT };

struct runner;

/* A watched thread (one per detector slot). */
struct watch {
	struct sampled_thread thread;
	pid_t inner_tid;                /* its TID in its own PID namespace: Austin's */
	pid_t inner_pid;
	struct runner *run;
	/* For saying why there are no stacks. */
	uint64_t samples, empty, idle, early, last_sample_ns;
	unsigned blocks, blocks_bare;
	uint64_t first_bare_ns;
	bool warned, recovered;
};

/* One Austin, for one target process. */
struct runner {
	int index;                      /* in runners[], for epoll data */
	pid_t pid;                      /* the target, in blocksnoop's PID namespace */
	uint64_t interval_us;
	int nwatch;
	/* The running Austin; child.pid == 0 when none runs. */
	struct austin_child child;
	int pidfd, out, err;
	bool pty;                       /* out is a pseudo-terminal's master */
	struct austin_stream *parser;
	bool stopping;                  /* we ended it: its exit is no news */
	char stream_error[AUSTIN_ERR_MAX];
	char errtail[STDERR_TAIL];
	size_t errlen;
	uint64_t started_ns;
	uint64_t run_samples;           /* samples of any thread in this run */
	bool announced;                 /* "Austin x samples Python y" said for this run */
	char austin_version[32], python_version[32];
	/* Restarts. */
	uint64_t first_attempt_ns;      /* when the first start was tried */
	uint64_t next_start_ns;         /* 0: not scheduled */
	uint64_t backoff_ns;
	unsigned runs;                  /* starts that succeeded */
	char last_failure[512];         /* the last reason reported */
	bool gone;                      /* the target process has exited */
	/* All samples, for saying which threads Austin does see. */
	uint64_t samples;
	pid_t seen_tids[8];
	int nseen;
};

struct austin_sampler {
	struct sampler base;
	struct detector *det;
	char *program;                  /* --austin, NULL = "austin" */
	char *root;
	uint64_t interval_ns;           /* 0: threshold/3 */
	uint64_t padding_ns;            /* kept, see the top of this file */
	int epfd, timerfd;
	struct watch *watches[MAX_WATCHED_THREADS];
	int nslots;
	struct runner *runners[MAX_WATCHED_THREADS];
	bool warned_pipe;
	/* During a parse: where samples go, and the still-blocked callback. */
	struct runner *parsing;
	uint64_t parse_now;
	still_blocked_fn fn;
	void *fn_ctx;
};

static uint64_t ev_data(enum ev_kind kind, int index)
{
	return (uint64_t)kind << 32 | (uint32_t)index;
}

/* ---- the gaps' samples ------------------------------------------------------ */

/* Count Austin's sample for the gap that began at gap (sampler.h). */
static void count_sample(struct austin_sampler *s, struct watch *w, uint64_t gap, uint64_t now,
			 const struct austin_sample *as)
{
	struct frame frames[AUSTIN_MAX_FRAMES];
	struct stack st = { .depth = as->depth, .truncated = as->truncated, .frames = frames };

	for (int i = 0; i < as->depth; i++)
		frames[i] = sampler_frame(as->frames[i].function, as->frames[i].file,
					  as->frames[i].line);
	sampled_thread_count(&w->thread, gap, now, &st, s->fn, s->fn_ctx);
}

/* ---- samples as they arrive ------------------------------------------------- */

static void runner_healthy(struct runner *r, uint64_t now);

/* A sample that arrives this soon after its gap opened may have been taken
 * before, in epoll: Austin needs time to read a stack and write it (the
 * delivery delay measured here: median 0.2 ms, 90th percentile 2 ms, at
 * most about 10 ms). Such samples are left out, as the built-in sampler
 * leaves out the first quarter of a threshold. */
#define SETTLE_MAX_NS (5 * NS_PER_MS)

static uint64_t settle_ns(const struct watch *w)
{
	return w->thread.threshold_ns / 4 < SETTLE_MAX_NS ? w->thread.threshold_ns / 4
							 : SETTLE_MAX_NS;
}

static bool thread_matches(const struct watch *w, const struct austin_sample *as)
{
	if (as->tid >= 0)
		return as->tid == w->inner_tid;
	/* Newer Austins may name the thread instead. */
	return !strcmp(as->thread, "MainThread") && w->inner_tid == w->inner_pid;
}

static void note_thread(struct runner *r, const struct austin_sample *as)
{
	for (int i = 0; i < r->nseen; i++)
		if (r->seen_tids[i] == as->tid)
			return;
	if (r->nseen < (int)(sizeof(r->seen_tids) / sizeof(r->seen_tids[0])))
		r->seen_tids[r->nseen++] = (pid_t)as->tid;
}

static void on_sample(void *ctx, const struct austin_sample *as)
{
	struct austin_sampler *s = ctx;
	struct runner *r = s->parsing;
	uint64_t now = s->parse_now;

	if (!r)
		return;
	r->samples++;
	r->run_samples++;
	note_thread(r, as);
	if (!r->announced) {
		r->announced = true;
		if (r->runs > 1)
			log_info("Austin samples PID %d again", r->pid);
		log_info("Austin %s samples Python %s in PID %d every %.2f ms (%s output)",
			 r->austin_version[0] ? r->austin_version : "?",
			 r->python_version[0] ? r->python_version : "?", r->pid,
			 r->interval_us / 1e3,
			 austin_stream_format(r->parser) == AUSTIN_FORMAT_MOJO ? "MOJO" : "text");
	}
	runner_healthy(r, now);
	for (int slot = 0; slot < s->nslots; slot++) {
		struct watch *w = s->watches[slot];
		uint64_t gap;

		if (!w || w->run != r || !thread_matches(w, as))
			continue;
		w->samples++;
		w->last_sample_ns = now;
		sampler_tell(&s->base, slot, SAMPLER_NEWS_SAMPLES, 1, NULL);
		if (as->invalid || !as->depth) {
			w->empty++;
			continue;
		}
		gap = detector_gap_open_since(s->det, slot);
		if (!gap || gap > now) {
			w->idle++; /* waiting in epoll: the idle loop */
			continue;
		}
		if (now - gap < settle_ns(w)) {
			w->early++; /* may have been taken just before the gap */
			continue;
		}
		if (w->warned && !w->recovered) {
			w->recovered = true;
			log_warn("Python stacks from Austin for thread %d of PID %d now arrive",
				 w->thread.tid, w->thread.pid);
		}
		count_sample(s, w, gap, now, as);
	}
}

static void on_meta(void *ctx, const char *key, const char *value)
{
	struct austin_sampler *s = ctx;
	struct runner *r = s->parsing;

	if (!r)
		return;
	if (!strcmp(key, "austin"))
		snprintf(r->austin_version, sizeof(r->austin_version), "%s", value);
	else if (!strcmp(key, "python"))
		snprintf(r->python_version, sizeof(r->python_version), "%s", value);
}

/* ---- one Austin --------------------------------------------------------------- */

static void epoll_del(struct austin_sampler *s, int fd)
{
	if (fd >= 0)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void close_fd(struct austin_sampler *s, int *fd)
{
	if (*fd >= 0) {
		epoll_del(s, *fd);
		close(*fd);
		*fd = -1;
	}
}

/*
 * Report a failure of r, unless it is the one reported last: a failure that
 * repeats at every restart is said once (until Austin has run well for a
 * while, see runner_healthy()). The restart delay is said, not compared.
 */
static void report(struct austin_sampler *s, struct runner *r, uint64_t restart_in_ns,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* One of the slots r's process is watched in (news is told by slot); -1
 * if none is. */
static int runner_slot(const struct austin_sampler *s, const struct runner *r)
{
	for (int slot = 0; slot < s->nslots; slot++)
		if (s->watches[slot] && s->watches[slot]->run == r)
			return slot;
	return -1;
}

static void report(struct austin_sampler *s, struct runner *r, uint64_t restart_in_ns,
		   const char *fmt, ...)
{
	char msg[sizeof(r->last_failure)];
	int slot = runner_slot(s, r);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Every failure counts; a repeated one is not said again. */
	if (slot >= 0)
		sampler_tell(&s->base, slot, SAMPLER_NEWS_FAILURE, 1, msg);
	if (!strcmp(msg, r->last_failure))
		return;
	snprintf(r->last_failure, sizeof(r->last_failure), "%s", msg);
	if (restart_in_ns)
		sampler_warn(&s->base, slot, "%s; restarting it in %.1f s", msg, restart_in_ns / 1e9);
	else
		sampler_warn(&s->base, slot, "%s", msg);
}

/* Austin has sampled for RUN_OK_NS: the next failure is news again, and
 * restarts begin again at the shortest delay. */
static void runner_healthy(struct runner *r, uint64_t now)
{
	if (r->child.pid && r->run_samples && now - r->started_ns >= RUN_OK_NS) {
		r->last_failure[0] = '\0';
		r->backoff_ns = RESTART_MIN_NS;
	}
}

/* The kernel's PF_EXITING task flag (include/linux/sched.h), set as a task
 * starts to exit; /proc/PID/stat shows the flags word. */
#define TASK_FLAG_EXITING 0x00000004U

/*
 * Whether the target still runs: a zombie (exited, its parent has not
 * reaped it yet) does not, nor a target on its way out. The latter matters
 * when the target is PID 1 of its namespace: its exit kills Austin (which
 * runs in that namespace) and waits for it to be reaped before the target
 * itself becomes a zombie, so Austin's death is seen first.
 */
static bool target_alive(pid_t pid)
{
	char path[64], stat[512], *paren, state;
	unsigned int flags;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return false;
	stat[n] = '\0';
	paren = strrchr(stat, ')');
	if (!paren)
		return true; /* cannot tell: keep restarting, as for a live one */
	/* state, ppid, pgrp, session, tty_nr, tpgid, flags */
	if (sscanf(paren + 1, " %c %*d %*d %*d %*d %*d %u", &state, &flags) != 2)
		return true;
	return state != 'Z' && state != 'X' && !(flags & TASK_FLAG_EXITING);
}

static void schedule_restart(struct austin_sampler *s, struct runner *r, uint64_t now);

/* Feed what Austin wrote to the parser; on garbage, say so and end it. */
static void feed(struct austin_sampler *s, struct runner *r, const char *buf, size_t n,
		 uint64_t now)
{
	if (!r->parser || r->stream_error[0])
		return;
	s->parsing = r;
	s->parse_now = now;
	if (austin_stream_feed(r->parser, buf, n)) {
		snprintf(r->stream_error, sizeof(r->stream_error), "%s",
			 austin_stream_error(r->parser));
		report(s, r, r->backoff_ns, "Austin's output for PID %d is not what blocksnoop reads (%s)",
		       r->pid, r->stream_error);
		r->stopping = true;
		if (r->child.pid)
			kill(r->child.pid, SIGKILL);
	}
	s->parsing = NULL;
}

/* Read all that Austin's stdout holds now. Returns false at its end. */
static bool drain_out(struct austin_sampler *s, struct runner *r)
{
	static char buf[READ_CHUNK];

	while (r->out >= 0) {
		ssize_t n = read(r->out, buf, sizeof(buf));

		if (n > 0) {
			feed(s, r, buf, (size_t)n, mono_now_ns());
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		/* EOF, or EIO: a pseudo-terminal whose other end is closed. */
		if (r->parser && !r->stream_error[0]) {
			s->parsing = r;
			s->parse_now = mono_now_ns();
			if (austin_stream_finish(r->parser) && !r->stopping)
				snprintf(r->stream_error, sizeof(r->stream_error), "%s",
					 austin_stream_error(r->parser));
			s->parsing = NULL;
		}
		close_fd(s, &r->out);
		return false;
	}
	return false;
}

static void drain_err(struct austin_sampler *s, struct runner *r)
{
	char buf[4096];

	while (r->err >= 0) {
		ssize_t n = read(r->err, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0 || errno != EAGAIN)
				close_fd(s, &r->err);
			return;
		}
		/* Keep the tail. */
		if ((size_t)n >= sizeof(r->errtail)) {
			memcpy(r->errtail, buf + n - sizeof(r->errtail), sizeof(r->errtail));
			r->errlen = sizeof(r->errtail);
		} else {
			if (r->errlen + (size_t)n > sizeof(r->errtail)) {
				size_t drop = r->errlen + (size_t)n - sizeof(r->errtail);

				memmove(r->errtail, r->errtail + drop, r->errlen - drop);
				r->errlen -= drop;
			}
			memcpy(r->errtail + r->errlen, buf, (size_t)n);
			r->errlen += (size_t)n;
		}
	}
}

/* What Austin said on stderr, as ": Austin said: ..." or "". */
static void said(const struct runner *r, char *out, size_t len)
{
	char text[400];

	austin_one_line(r->errtail, r->errlen, text, sizeof(text));
	if (text[0])
		snprintf(out, len, "; Austin said: %s", text);
	else
		out[0] = '\0';
}

/* A pseudo-terminal in raw mode, so that Austin's stdio flushes every
 * line; a pipe if there is none (samples then come in bursts). */
static int make_stdout(struct austin_sampler *s, int *master, int *slave, bool *pty)
{
	char name[128];
	struct termios tio;
	int fds[2];

	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master >= 0) {
		if (!grantpt(*master) && !unlockpt(*master) &&
		    !ptsname_r(*master, name, sizeof(name))) {
			*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
			if (*slave >= 0 && !tcgetattr(*slave, &tio)) {
				cfmakeraw(&tio);
				if (!tcsetattr(*slave, TCSANOW, &tio) &&
				    !fcntl(*master, F_SETFL, O_NONBLOCK)) {
					*pty = true;
					return 0;
				}
			}
			if (*slave >= 0)
				close(*slave);
		}
		close(*master);
	}
	if (!s->warned_pipe) {
		s->warned_pipe = true;
		log_warn("no pseudo-terminal for Austin's output (%s): its samples will arrive in bursts, and blocks may get fewer stacks",
			 strerror(errno));
	}
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	*master = fds[0];
	*slave = fds[1];
	*pty = false;
	return 0;
}

static int epoll_add(struct austin_sampler *s, int fd, enum ev_kind kind, int index)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ev_data(kind, index) };

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static void arm_timer(struct austin_sampler *s)
{
	struct itimerspec its = { 0 };
	uint64_t next = 0;

	for (int i = 0; i < MAX_WATCHED_THREADS; i++) {
		struct runner *r = s->runners[i];

		if (r && r->next_start_ns && (!next || r->next_start_ns < next))
			next = r->next_start_ns;
	}
	if (next) {
		its.it_value.tv_sec = (time_t)(next / NS_PER_S);
		its.it_value.tv_nsec = (long)(next % NS_PER_S);
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(s->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void schedule_restart(struct austin_sampler *s, struct runner *r, uint64_t now)
{
	r->next_start_ns = now + r->backoff_ns;
	r->backoff_ns = r->backoff_ns * 2 > RESTART_MAX_NS ? RESTART_MAX_NS : r->backoff_ns * 2;
	arm_timer(s);
}

/* Start Austin for r; on failure say why (once) and schedule a retry. */
static void runner_start(struct austin_sampler *s, struct runner *r)
{
	char path[PATH_MAX], err[512], interval[32], timeout[32], pid_text[32];
	char *args[] = { "-P", "-i", interval, "-t", timeout, "-p", pid_text, NULL };
	uint64_t now = mono_now_ns();
	bool shim;
	pid_t austin_pid;
	int out = -1, slave = -1, errp[2] = { -1, -1 }, ret, slot;

	r->next_start_ns = 0;
	if (r->child.pid || r->gone)
		return;
	if (!r->first_attempt_ns)
		r->first_attempt_ns = now;
	if (!target_alive(r->pid)) {
		r->gone = true;
		return;
	}
	ret = austin_locate(s->root, s->program, path, sizeof(path), err, sizeof(err));
	if (ret) {
		report(s, r, r->backoff_ns, "cannot sample Python stacks of PID %d with Austin: %s",
		       r->pid, err);
		goto retry;
	}
	shim = austin_needs_shim(r->pid, s->root);
	ret = austin_target_pid(r->pid, shim, &austin_pid);
	if (ret) {
		if (ret == -ESRCH || ret == -ENOENT) {
			r->gone = true;
			return;
		}
		report(s, r, r->backoff_ns, "cannot tell the PID of %d in its namespace: %s", r->pid,
		       strerror(-ret));
		goto retry;
	}
	snprintf(interval, sizeof(interval), "%llu", (unsigned long long)r->interval_us);
	snprintf(timeout, sizeof(timeout), "%d", AUSTIN_TIMEOUT_MS);
	snprintf(pid_text, sizeof(pid_text), "%d", austin_pid);

	ret = make_stdout(s, &out, &slave, &r->pty);
	if (!ret && pipe2(errp, O_CLOEXEC))
		ret = -errno;
	if (ret) {
		report(s, r, r->backoff_ns, "cannot start Austin for PID %d: %s", r->pid,
		       strerror(-ret));
		goto fail;
	}
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	ret = austin_spawn(r->pid, s->root, path, args, slave, errp[1], &r->child, err, sizeof(err));
	close(slave);
	slave = -1;
	close(errp[1]);
	errp[1] = -1;
	if (ret) {
		r->child.pid = 0;
		report(s, r, r->backoff_ns, "cannot start Austin for PID %d: %s", r->pid, err);
		goto fail;
	}
	r->pidfd = sys_pidfd_open(r->child.pid, 0);
	r->out = out;
	r->err = errp[0];
	out = errp[0] = -1;
	r->parser = austin_stream_new(&(struct austin_parse_cb){ on_sample, on_meta, s });
	if (r->pidfd < 0 || !r->parser || epoll_add(s, r->pidfd, EV_EXIT, r->index) ||
	    epoll_add(s, r->out, EV_OUT, r->index) || epoll_add(s, r->err, EV_ERR, r->index)) {
		report(s, r, r->backoff_ns, "cannot watch Austin for PID %d: %s", r->pid,
		       strerror(errno));
		r->stopping = true;
		kill(r->child.pid, SIGKILL);
		while (waitpid(r->child.pid, NULL, 0) < 0 && errno == EINTR)
			;
		r->child.pid = 0;
		close_fd(s, &r->pidfd);
		close_fd(s, &r->out);
		close_fd(s, &r->err);
		austin_stream_free(r->parser);
		r->parser = NULL;
		goto retry;
	}
	r->started_ns = now;
	r->stopping = false;
	r->stream_error[0] = '\0';
	r->errlen = 0;
	r->run_samples = 0;
	r->announced = false;
	r->austin_version[0] = r->python_version[0] = '\0';
	if (r->runs && (slot = runner_slot(s, r)) >= 0)
		sampler_tell(&s->base, slot, SAMPLER_NEWS_RESTART, 1,
			     r->last_failure[0] ? r->last_failure : "it ended");
	r->runs++;
	log_info("started Austin (PID %d%s) for PID %d: %s -P -i %s -t %s -p %s", r->child.pid,
		 r->child.via_shim ? ", through the namespace shim" : "", r->pid, path, interval,
		 timeout, pid_text);
	return;
fail:
	if (out >= 0)
		close(out);
	if (slave >= 0)
		close(slave);
	if (errp[0] >= 0)
		close(errp[0]);
	if (errp[1] >= 0)
		close(errp[1]);
retry:
	schedule_restart(s, r, now);
}

/* Austin's process ended (its pidfd is readable): collect it and its last
 * words, say why if that is news, and schedule a restart. */
static void runner_exited(struct austin_sampler *s, struct runner *r)
{
	char why[256], words[512];
	uint64_t now = mono_now_ns();
	int status = 0;
	pid_t got;

	do
		got = waitpid(r->child.pid, &status, WNOHANG);
	while (got < 0 && errno == EINTR);
	if (got == 0)
		return; /* not yet (cannot happen with a readable pidfd) */
	drain_out(s, r);
	drain_err(s, r);
	runner_healthy(r, now);
	close_fd(s, &r->pidfd);
	close_fd(s, &r->out);
	close_fd(s, &r->err);
	austin_stream_free(r->parser);
	r->parser = NULL;
	r->child.pid = 0;

	if (!target_alive(r->pid)) {
		r->gone = true; /* the session sees the target go */
		return;
	}
	if (!r->stopping) {
		austin_describe_exit(got < 0 ? 0 : status, r->child.via_shim, r->pid, why,
				     sizeof(why));
		said(r, words, sizeof(words));
		if (r->stream_error[0])
			report(s, r, r->backoff_ns, "Austin for PID %d %s, its output cut short (%s)%s",
			       r->pid, why, r->stream_error, words);
		else
			report(s, r, r->backoff_ns, "Austin for PID %d %s%s", r->pid, why, words);
	}
	r->stopping = false;
	schedule_restart(s, r, now);
}

/* End r's Austin now: SIGTERM, a grace period, SIGKILL; always reaped. */
static void runner_stop(struct austin_sampler *s, struct runner *r)
{
	struct pollfd p = { .fd = r->pidfd, .events = POLLIN };

	if (r->child.pid) {
		r->stopping = true;
		kill(r->child.pid, SIGTERM);
		if (r->pidfd < 0 || poll(&p, 1, STOP_GRACE_MS) <= 0)
			kill(r->child.pid, SIGKILL);
		while (waitpid(r->child.pid, NULL, 0) < 0 && errno == EINTR)
			;
		r->child.pid = 0;
	}
	close_fd(s, &r->pidfd);
	close_fd(s, &r->out);
	close_fd(s, &r->err);
	austin_stream_free(r->parser);
	r->parser = NULL;
	r->next_start_ns = 0;
}

static void runner_free(struct austin_sampler *s, struct runner *r)
{
	if (!r)
		return;
	runner_stop(s, r);
	s->runners[r->index] = NULL;
	free(r);
	arm_timer(s);
}

static struct runner *runner_for(struct austin_sampler *s, pid_t pid, uint64_t interval_us)
{
	struct runner *r;
	int free_index = -1;

	for (int i = 0; i < MAX_WATCHED_THREADS; i++) {
		if (s->runners[i] && s->runners[i]->pid == pid)
			return s->runners[i];
		if (!s->runners[i] && free_index < 0)
			free_index = i;
	}
	if (free_index < 0)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->index = free_index;
	r->pid = pid;
	r->interval_us = interval_us;
	r->pidfd = r->out = r->err = -1;
	r->backoff_ns = RESTART_MIN_NS;
	s->runners[free_index] = r;
	return r;
}

/* ---- the sampler interface ------------------------------------------------------ */

static void watch_free(struct austin_sampler *s, struct watch *w)
{
	if (!w)
		return;
	sampled_thread_clear(&w->thread);
	if (w->run && --w->run->nwatch == 0)
		runner_free(s, w->run);
	free(w);
}

static void austin_unwatch(struct sampler *base, int slot)
{
	struct austin_sampler *s = (struct austin_sampler *)base;

	if (slot >= 0 && slot < MAX_WATCHED_THREADS && s->watches[slot]) {
		struct watch *w = s->watches[slot];

		s->watches[slot] = NULL;
		watch_free(s, w);
	}
}

static int austin_watch(struct sampler *base, int slot, pid_t pid, pid_t tid,
			uint64_t threshold_ns)
{
	struct austin_sampler *s = (struct austin_sampler *)base;
	uint64_t interval_ns = s->interval_ns;
	struct watch *w;
	struct runner *r;

	if (slot < 0 || slot >= MAX_WATCHED_THREADS)
		return -EINVAL;
	if (!interval_ns) {
		interval_ns = threshold_ns / 3;
		if (interval_ns < INTERVAL_MIN_NS)
			interval_ns = INTERVAL_MIN_NS;
		if (interval_ns > INTERVAL_MAX_NS)
			interval_ns = INTERVAL_MAX_NS;
	}
	austin_unwatch(base, slot);
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	r = runner_for(s, pid, interval_ns / 1000 ? interval_ns / 1000 : 1);
	if (!r) {
		free(w);
		return -ENOMEM;
	}
	sampled_thread_init(&w->thread, slot, pid, tid, threshold_ns);
	w->inner_pid = procfs_tid_in_own_ns(pid, pid);
	w->inner_tid = tid == pid ? w->inner_pid : procfs_tid_in_own_ns(pid, tid);
	w->run = r;
	r->nwatch++;
	s->watches[slot] = w;
	if (slot >= s->nslots)
		s->nslots = slot + 1;
	/* Start now: Austin waits (-t) for an interpreter that is still
	 * starting, e.g. a launched command not yet exec'ed. */
	if (!r->child.pid && !r->next_start_ns)
		runner_start(s, r);
	return 0;
}

static int austin_fd(const struct sampler *base)
{
	return ((const struct austin_sampler *)base)->epfd;
}

static void austin_ready(struct sampler *base, still_blocked_fn fn, void *ctx)
{
	struct austin_sampler *s = (struct austin_sampler *)base;
	struct epoll_event ev[16];
	int n;

	s->fn = fn;
	s->fn_ctx = ctx;
	n = epoll_wait(s->epfd, ev, 16, 0);
	/* Output before exits: a runner's last samples come first. */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < n; i++) {
			enum ev_kind kind = (enum ev_kind)(ev[i].data.u64 >> 32);
			int index = (int)(uint32_t)ev[i].data.u64;
			struct runner *r = kind == EV_TIMER ? NULL : s->runners[index];

			if (kind != EV_TIMER && !r)
				continue;
			if (pass == 0 && kind == EV_OUT)
				drain_out(s, r);
			else if (pass == 0 && kind == EV_ERR)
				drain_err(s, r);
			else if (pass == 1 && kind == EV_EXIT && r->child.pid)
				runner_exited(s, r);
			else if (pass == 1 && kind == EV_TIMER) {
				uint64_t expirations, now = mono_now_ns();

				while (read(s->timerfd, &expirations, sizeof(expirations)) < 0 &&
				       errno == EINTR)
					;
				for (int j = 0; j < MAX_WATCHED_THREADS; j++) {
					struct runner *t = s->runners[j];

					if (t && t->next_start_ns && t->next_start_ns <= now)
						runner_start(s, t);
				}
				arm_timer(s);
			}
		}
	}
	s->fn = NULL;
	s->fn_ctx = NULL;
}

/* Why a watched thread gets no stacks, for the one loud warning. */
static void why_bare(const struct austin_sampler *s, const struct watch *w, char *out,
		     size_t len)
{
	const struct runner *r = w->run;
	char words[512], tids[96] = "";
	size_t used = 0;

	(void)s;
	said(r, words, sizeof(words));
	if (!r->child.pid) {
		snprintf(out, len, "Austin is not running; %s",
			 r->last_failure[0] ? r->last_failure : "it has not started yet");
		return;
	}
	if (!r->parser || !austin_stream_bytes(r->parser)) {
		snprintf(out, len, "Austin (PID %d) has written nothing since it started %.1f s ago%s",
			 r->child.pid, (mono_now_ns() - r->started_ns) / 1e9, words);
		return;
	}
	if (!r->samples) {
		snprintf(out, len, "Austin (PID %d) wrote no samples, only its header (Python %s)%s",
			 r->child.pid, r->python_version[0] ? r->python_version : "unknown", words);
		return;
	}
	if (!w->samples) {
		for (int i = 0; i < r->nseen && used < sizeof(tids); i++)
			used += (size_t)snprintf(tids + used, sizeof(tids) - used, "%s%d",
						 i ? ", " : "", r->seen_tids[i]);
		snprintf(out, len, "Austin samples threads %s of PID %d, but not thread %d (%d in its PID namespace)",
			 tids, w->thread.pid, w->thread.tid, w->inner_tid);
		return;
	}
	if (w->empty == w->samples) {
		snprintf(out, len, "all %llu of Austin's samples of thread %d have no Python frames (unreadable or empty stacks)",
			 (unsigned long long)w->samples, w->thread.tid);
		return;
	}
	snprintf(out, len, "Austin's samples of thread %d all arrived while it waited in epoll (%llu of %llu) or as a block began (%llu): are they late?",
		 w->thread.tid, (unsigned long long)w->idle, (unsigned long long)w->samples,
		 (unsigned long long)w->early);
}

static struct stack_set *austin_take(struct sampler *base, int slot, uint64_t start_ns)
{
	struct austin_sampler *s = (struct austin_sampler *)base;
	struct stack_set *set;
	uint64_t now = mono_now_ns();
	struct watch *w;

	if (slot < 0 || slot >= MAX_WATCHED_THREADS || !s->watches[slot])
		return NULL;
	w = s->watches[slot];
	/* Samples written up to now, so that the block's last ones count. */
	if (w->run->out >= 0)
		drain_out(s, w->run);
	/* Gaps are identified by their exact start (see the top of this
	 * file for why the padding window adds nothing to that). */
	set = sampled_thread_take(&w->thread, start_ns);
	w->blocks++;
	if (set) {
		w->blocks_bare = 0;
		return set;
	}
	if (!w->blocks_bare++)
		w->first_bare_ns = now;
	if (!w->warned && w->run->first_attempt_ns &&
	    now - w->run->first_attempt_ns >= QUIET_AFTER_NS &&
	    now - w->first_bare_ns >= QUIET_AFTER_NS && w->blocks_bare >= 2 &&
	    (!w->last_sample_ns || now - w->last_sample_ns >= QUIET_AFTER_NS ||
	     w->idle + w->empty + w->early == w->samples)) {
		char why[768];

		why_bare(s, w, why, sizeof(why));
		w->warned = true;
		sampler_warn(&s->base, slot, "no Python stacks from Austin for thread %d of PID %d in %u blocks over %.0f s: %s; events carry no stack",
			 w->thread.tid, w->thread.pid, w->blocks_bare, (now - w->first_bare_ns) / 1e9, why);
	}
	/* The event says why it has no stack (NULL: out of memory). */
	return stack_set_unavailable(0, "no Austin sample landed in the block");
}

static void austin_destroy(struct sampler *base)
{
	struct austin_sampler *s = (struct austin_sampler *)base;

	for (int i = 0; i < s->nslots; i++)
		austin_unwatch(base, i);
	for (int i = 0; i < MAX_WATCHED_THREADS; i++)
		if (s->runners[i]) {
			runner_stop(s, s->runners[i]);
			free(s->runners[i]);
		}
	if (s->timerfd >= 0)
		close(s->timerfd);
	if (s->epfd >= 0)
		close(s->epfd);
	free(s->program);
	free(s->root);
	free(s);
}

static const struct sampler_ops austin_ops = {
	.watch = austin_watch,
	.unwatch = austin_unwatch,
	.fd = austin_fd,
	.ready = austin_ready,
	.take = austin_take,
	.destroy = austin_destroy,
};

struct sampler *sampler_austin_new(struct detector *det, const char *austin,
				   const char *austin_root, uint64_t interval_ns,
				   uint64_t padding_ns)
{
	struct austin_sampler *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return NULL;
	s->base.ops = &austin_ops;
	s->det = det;
	s->interval_ns = interval_ns;
	s->padding_ns = padding_ns;
	s->timerfd = -1;
	s->program = austin ? strdup(austin) : NULL;
	s->root = strdup(austin_root && *austin_root ? austin_root : "/");
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (!s->root || (austin && !s->program) || s->epfd < 0 || s->timerfd < 0 ||
	    epoll_add(s, s->timerfd, EV_TIMER, 0)) {
		err = errno ? errno : ENOMEM;
		austin_destroy(&s->base);
		errno = err;
		return NULL;
	}
	return &s->base;
}
