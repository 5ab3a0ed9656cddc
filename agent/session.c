// SPDX-License-Identifier: Apache-2.0
/*
 * session.c - the life of one blocksnoop run.
 *
 * Everything that can wake us is an fd in one epoll set: the detector's ring
 * buffer, a signalfd (SIGINT, SIGTERM, SIGHUP, SIGCHLD), a pidfd that becomes
 * readable when the target exits, and a one-second timerfd for stats frames,
 * loss warnings and the thread-still-alive check. No signal handler runs
 * code, so there is no async-signal-safety to get wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "compat.h"
#include "detector.h"
#include "exit_codes.h"
#include "launch.h"
#include "log.h"
#include "procfs.h"
#include "reporter.h"
#include "sampler.h"
#include "session.h"
#include "timeutil.h"

/* How long a launched command gets to exit after SIGTERM before SIGKILL. */
#define CHILD_GRACE_MS 5000

struct session {
	const struct options *o;
	struct session_info info;
	struct reporter reporter;
	bool reporter_started;
	struct detector *det;
	struct sampler *sampler; /* NULL with --sampler none and in stats mode */
	int slot;
	struct launched child;   /* launch mode; child.pid == 0 once reaped */
	int child_status;        /* wait status once reaped */
	bool child_reaped;
	int sigfd, pidfd, timerfd, epfd;
	uint64_t deadline_ns;    /* --duration; 0 = none */
	uint64_t lost_reported;
	bool done;
	const char *reason;      /* session_summary.termination_reason */
	const char *status;      /* session_summary.status */
	int exit_code;           /* set when done through an error */
};

enum wake_source { WAKE_EVENTS = 1, WAKE_SIGNAL, WAKE_TARGET, WAKE_TIMER, WAKE_SAMPLER };

static void finish(struct session *s, const char *reason, const char *status)
{
	if (s->done)
		return;
	s->done = true;
	s->reason = reason;
	s->status = status;
}

/* Check the attach target before anything is loaded. */
static int check_target(const struct options *o)
{
	char comm[64];

	if (!procfs_process_exists(o->pid)) {
		log_error("no process with PID %d (PIDs are as seen in blocksnoop's PID namespace): check it with 'ps -p %d'",
			  o->pid, o->pid);
		return EXIT_NO_TARGET;
	}
	if (!procfs_is_thread_of(o->pid, o->tid)) {
		log_error("thread %d is not a thread of PID %d: list its threads with 'ls /proc/%d/task'",
			  o->tid, o->pid, o->pid);
		return EXIT_NO_TARGET;
	}
	if (!procfs_is_python(o->pid)) {
		procfs_comm(o->pid, comm, sizeof(comm));
		log_warn("PID %d (%s) does not look like a Python process; watching its epoll loop anyway",
			 o->pid, comm[0] ? comm : "?");
	}
	return 0;
}

static int make_sinks(struct session *s)
{
	const struct options *o = s->o;
	struct sink *sink;
	char err[512];

	if (o->json)
		sink = sink_json_new(STDOUT_FILENO, o->summary_only);
	else
		sink = sink_console_new(STDERR_FILENO,
					!o->no_color && isatty(STDERR_FILENO),
					o->summary_only);
	if (!sink || reporter_add_sink(&s->reporter, sink)) {
		log_error("out of memory");
		return EXIT_RUNTIME;
	}
	if (o->log_file) {
		sink = sink_logfile_new(o->log_file, err, sizeof(err));
		if (!sink) {
			log_error("%s", err);
			return EXIT_USAGE;
		}
		reporter_add_sink(&s->reporter, sink);
	}
	return 0;
}

/* Route the signals we care about to a signalfd. */
static int setup_signals(struct session *s)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	/* A closed stdout pipe (| head) must be an error we report, not a
	 * silent death that loses the summary. */
	signal(SIGPIPE, SIG_IGN);
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return s->sigfd < 0 ? -errno : 0;
}

static int epoll_add(int epfd, int fd, enum wake_source what)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = what };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static void on_gap(void *ctx, const struct gap_event *g)
{
	struct session *s = ctx;
	struct stack_set *stacks;
	struct blocking_event e = {
		.number = s->reporter.summary.event_count + 1,
		.start_ns = g->start_ns,
		.end_ns = g->end_ns,
		.duration_ms = (double)(g->end_ns - g->start_ns) / 1e6,
		.pid = detector_slot_pid(s->det, g->slot),
		.tid = g->tid,
	};

	e.wall_start = mono_to_wall(g->start_ns);
	e.timestamp_s = g->start_ns > s->info.start_mono_ns
				? (double)(g->start_ns - s->info.start_mono_ns) / 1e9 : 0;
	e.is_error = e.duration_ms >= s->o->error_threshold_ms;
	stacks = s->sampler ? sampler_take(s->sampler, g->slot, g->start_ns) : NULL;
	e.stacks = stacks;
	reporter_event(&s->reporter, &e);
	stack_set_free(stacks);
}

static void on_still_blocked(void *ctx, int slot, uint64_t gap_start_ns,
			     uint64_t now_ns, const struct stack_set *current)
{
	struct session *s = ctx;
	struct still_blocked b = {
		.start_ns = gap_start_ns,
		.now_ns = now_ns,
		.blocked_ms = (double)(now_ns - gap_start_ns) / 1e6,
		.pid = detector_slot_pid(s->det, slot),
		.tid = detector_slot_tid(s->det, slot),
		.stacks = current,
	};

	b.wall_start = mono_to_wall(gap_start_ns);
	b.timestamp_s = gap_start_ns > s->info.start_mono_ns
				? (double)(gap_start_ns - s->info.start_mono_ns) / 1e9 : 0;
	b.is_error = b.blocked_ms >= s->o->error_threshold_ms;
	reporter_still_blocked(&s->reporter, &b);
}

static void drain_events(struct session *s)
{
	int n = detector_consume(s->det, on_gap, s);

	if (n < 0 && n != -EINTR) {
		log_error("reading events from the kernel failed: %s", strerror(-n));
		s->exit_code = EXIT_RUNTIME;
		finish(s, "runtime_error", "failed");
	}
}

static double elapsed_s(const struct session *s)
{
	return (double)(mono_now_ns() - s->info.start_mono_ns) / 1e9;
}

static int stats_snapshot(struct session *s, struct stats_snapshot *snap)
{
	struct gap_stats sum;
	int err = detector_read_stats(s->det, &sum);

	if (err)
		return err;
	hist_snapshot(&sum, elapsed_s(s), snap);
	return 0;
}

/* Once a second: stats frame, loss warning, watched-thread liveness. */
static void on_tick(struct session *s)
{
	struct stats_snapshot snap;
	uint64_t expirations, lost;

	while (read(s->timerfd, &expirations, sizeof(expirations)) < 0 && errno == EINTR)
		;
	if (s->o->stats && !stats_snapshot(s, &snap))
		reporter_stats(&s->reporter, &snap);

	lost = detector_lost_events(s->det);
	if (lost > s->lost_reported) {
		log_warn("%llu events lost: the ring buffer was full (raise -t to report fewer)",
			 (unsigned long long)(lost - s->lost_reported));
		s->lost_reported = lost;
	}

	/* A watched non-main thread can end while its process lives on. */
	if (!s->child.pid && s->info.tid != s->info.pid &&
	    !procfs_is_thread_of(s->info.pid, s->info.tid)) {
		log_info("thread %d has exited", s->info.tid);
		finish(s, "target_exit", "completed");
	}
}

static void reap_child(struct session *s, int options)
{
	int status;
	pid_t r;

	if (!s->child.pid || s->child_reaped)
		return;
	do
		r = waitpid(s->child.pid, &status, options);
	while (r < 0 && errno == EINTR);
	if (r == s->child.pid) {
		s->child_status = status;
		s->child_reaped = true;
	}
}

/* End a launched command: SIGTERM, a grace period, then SIGKILL. */
static void end_child(struct session *s)
{
	struct pollfd p = { .fd = s->pidfd, .events = POLLIN };

	if (!s->child.pid || s->child_reaped)
		return;
	kill(s->child.pid, SIGTERM);
	if (s->pidfd < 0 || poll(&p, 1, CHILD_GRACE_MS) <= 0) {
		log_warn("the command did not exit within %d s of SIGTERM: killing it",
			 CHILD_GRACE_MS / 1000);
		kill(s->child.pid, SIGKILL);
	}
	reap_child(s, 0);
}

static void on_signal(struct session *s)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			reporter_reopen(&s->reporter);
			break;
		case SIGCHLD:
			break; /* the pidfd tells us */
		case SIGINT:
		case SIGTERM:
			if (!s->child.pid) {
				log_info("stopping on %s", strsignal(si.ssi_signo));
				finish(s, "signal", "interrupted");
				break;
			}
			/* A terminal's Ctrl-C already reached the command (same
			 * process group); a kill(1) aimed at us did not. */
			if (si.ssi_code == SI_USER || si.ssi_code == SI_QUEUE) {
				log_info("forwarding %s to PID %d", strsignal(si.ssi_signo),
					 s->child.pid);
				kill(s->child.pid, si.ssi_signo);
			}
			break;
		}
	}
}

static void on_target_exit(struct session *s)
{
	if (s->child.pid) {
		reap_child(s, WNOHANG);
		if (!s->child_reaped)
			return;
		log_info("the command exited (%s %d)",
			 WIFSIGNALED(s->child_status) ? "signal" : "status",
			 WIFSIGNALED(s->child_status) ? WTERMSIG(s->child_status)
						      : WEXITSTATUS(s->child_status));
		if (launch_exit_code(s->child_status) != 0) {
			finish(s, "target_exit", "child_failed");
			return;
		}
	} else {
		log_info("PID %d has exited", s->info.pid);
	}
	finish(s, "target_exit", "completed");
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void run_loop(struct session *s)
{
	struct epoll_event ev[8];
	int timeout, n;

	while (!s->done) {
		timeout = -1;
		if (s->deadline_ns) {
			uint64_t now = mono_now_ns();

			if (now >= s->deadline_ns) {
				finish(s, "duration", "completed");
				break;
			}
			/* Wake at the deadline, or within the hour (a long
			 * --duration in ms does not fit an int). */
			timeout = (int)min_u64((s->deadline_ns - now + 999999) / 1000000,
					       3600 * 1000);
		}
		n = epoll_wait(s->epfd, ev, 8, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("epoll_wait: %m");
			s->exit_code = EXIT_RUNTIME;
			finish(s, "runtime_error", "failed");
			break;
		}
		/* Events first: a target that ends right after blocking must
		 * still have that block reported. */
		drain_events(s);
		for (int i = 0; i < n; i++) {
			switch (ev[i].data.u32) {
			case WAKE_SIGNAL: on_signal(s); break;
			case WAKE_TARGET: on_target_exit(s); break;
			case WAKE_TIMER: on_tick(s); break;
			case WAKE_SAMPLER: sampler_ready(s->sampler, on_still_blocked, s); break;
			default: break;
			}
		}
	}
}

static int setup_wakeups(struct session *s)
{
	struct itimerspec second = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	int err;

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -errno;
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->timerfd < 0 || timerfd_settime(s->timerfd, 0, &second, NULL))
		return -errno;
	err = epoll_add(s->epfd, detector_events_fd(s->det), WAKE_EVENTS);
	if (!err)
		err = epoll_add(s->epfd, s->sigfd, WAKE_SIGNAL);
	if (!err)
		err = epoll_add(s->epfd, s->timerfd, WAKE_TIMER);
	if (!err && s->sampler)
		err = epoll_add(s->epfd, sampler_fd(s->sampler), WAKE_SAMPLER);
	if (err)
		return err;
	s->pidfd = sys_pidfd_open(s->info.pid, 0);
	if (s->pidfd >= 0)
		return epoll_add(s->epfd, s->pidfd, WAKE_TARGET);
	if (errno == ESRCH) {
		finish(s, "target_exit", "completed");
		return 0;
	}
	return -errno;
}

/*
 * Whether reopening the log file on SIGHUP (creating it in its directory,
 * or opening it to append) needs CAP_DAC_OVERRIDE. Asked of the kernel
 * (AT_EACCESS: with the effective set, which the caller has lowered), so
 * modes, ACLs and ownership all count.
 */
static bool log_reopen_needs_dac(const char *path)
{
	char *copy = strdup(path);
	bool ok;

	if (!copy)
		return true;
	ok = !faccessat(AT_FDCWD, dirname(copy), W_OK | X_OK, AT_EACCESS) &&
	     (!faccessat(AT_FDCWD, path, W_OK, AT_EACCESS | AT_SYMLINK_NOFOLLOW) ||
	      errno == ENOENT);
	free(copy);
	return !ok;
}

/*
 * Give up what only set-up needed: loading and attaching the BPF programs,
 * mounting tracefs, starting the command. What the run still needs
 * depends on the mode (caps_run_keep). Two needs are asked of the kernel
 * with the effective set lowered first: whether map reads (stats mode)
 * need CAP_BPF (kernels before 6.5), and whether the log directory needs
 * CAP_DAC_OVERRIDE. Capabilities are per thread: there is only one here.
 * A failure keeps everything and says so; it never ends the run.
 */
static void drop_privileges(struct session *s)
{
	const struct options *o = s->o;
	struct caps_run_needs needs = {
		.read_stacks = s->sampler && o->sampler == SAMPLER_BUILTIN,
		.austin = s->sampler && o->sampler == SAMPLER_AUSTIN,
		.launch = s->child.pid > 0,
		.kernel_has_cap_bpf = caps_kernel_has(CAP_BPF),
	};
	struct gap_stats probe;
	uint64_t permitted, keep;
	bool bounding;
	char names[256];
	int ret;

	if (caps_permitted(&permitted))
		return;
	if (!caps_set_effective(caps_run_keep(&needs) & permitted)) {
		needs.map_access = o->stats && detector_read_stats(s->det, &probe) == -EPERM;
		needs.log_reopen_dac = o->log_file && log_reopen_needs_dac(o->log_file);
	}
	keep = caps_run_keep(&needs);
	ret = caps_drop_to(keep, &bounding);
	if (ret) {
		caps_set_effective(permitted);
		log_warn("cannot drop capabilities: %s (running with those it started with)",
			 strerror(-ret));
		return;
	}
	caps_format_names(keep & permitted, names, sizeof(names));
	log_info("set-up done: keeping only %s%s", names[0] ? names : "no capabilities",
		 bounding ? "" : " (the bounding set is unchanged: no CAP_SETPCAP)");
}

/* The exit status once the session is over. */
static int exit_status(const struct session *s)
{
	const struct options *o = s->o;
	const struct session_summary *sum = &s->reporter.summary;
	int code = s->exit_code;

	if (!code && s->child_reaped && strcmp(s->reason, "duration") != 0)
		code = launch_exit_code(s->child_status);
	if (!code && ((o->fail_on == FAIL_ON_EVENT && sum->event_count) ||
		      (o->fail_on == FAIL_ON_ERROR && sum->error_event_count)))
		code = EXIT_POLICY;
	return code;
}

int session_run(const struct options *o)
{
	struct session s = {
		.o = o, .slot = -1, .sigfd = -1, .pidfd = -1, .timerfd = -1, .epfd = -1,
	};
	char err[512], missing[256];
	struct stats_snapshot final_stats;
	bool have_final_stats = false;
	int code = 0, ret;

	reporter_init(&s.reporter, &s.info);

	/* Check what the user gave us before loading anything. */
	if (!o->launch_argv) {
		code = check_target(o);
		if (code)
			goto out;
	} else {
		code = launch_check(o->launch_argv[0], err, sizeof(err));
		if (code) {
			log_error("%s", err);
			goto out;
		}
	}
	if (!caps_can_trace(missing, sizeof(missing))) {
		log_error("missing capabilities %s: run as root (sudo blocksnoop ...), or see 'blocksnoop doctor'",
			  missing);
		code = EXIT_PRIVILEGE;
		goto out;
	}
	code = make_sinks(&s);
	if (code)
		goto out;
	ret = setup_signals(&s);
	if (ret) {
		log_error("cannot set up signal handling: %s", strerror(-ret));
		code = EXIT_RUNTIME;
		goto out;
	}

	/* Load and attach the detector. */
	code = detector_open(&s.det, err, sizeof(err));
	if (code) {
		log_error("%s", err);
		goto out;
	}

	/* In launch mode the child waits before exec until it is watched. */
	if (o->launch_argv) {
		ret = launch_prepare(o->launch_argv, o->json, &s.child);
		if (ret) {
			log_error("cannot start the command: %s", strerror(-ret));
			code = EXIT_RUNTIME;
			goto out;
		}
		s.info.pid = s.info.tid = s.child.pid;
		s.info.mode = "launch";
		s.info.command = o->launch_argv;
	} else {
		s.info.pid = o->pid;
		s.info.tid = o->tid;
		s.info.mode = "attach";
	}
	uuid4(s.info.id, sizeof(s.info.id));
	s.info.threshold_ms = o->threshold_ms;
	s.info.error_threshold_ms = o->error_threshold_ms;
	s.info.stats = o->stats;
	s.info.service = o->service;
	s.info.env = o->env;
	s.info.start_mono_ns = mono_now_ns();
	clock_gettime(CLOCK_REALTIME, &s.info.start_wall);
	if (o->duration_s > 0)
		s.deadline_ns = s.info.start_mono_ns + (uint64_t)(o->duration_s * 1e9);

	s.slot = detector_watch(s.det, s.info.pid, s.info.tid,
				(uint64_t)(o->threshold_ms * 1e6),
				o->stats ? WATCH_F_HISTOGRAM : 0);
	if (s.slot < 0) {
		log_error("cannot watch thread %d: %s", s.info.tid, strerror(-s.slot));
		code = EXIT_RUNTIME;
		goto out;
	}
	if (o->sampler != SAMPLER_NONE && !o->stats) {
		uint64_t threshold_ns = (uint64_t)(o->threshold_ms * 1e6);
		uint64_t interval_ns = o->interval_ms > 0 ? (uint64_t)(o->interval_ms * 1e6)
							  : sampler_default_interval_ns(threshold_ns);

		if (o->sampler == SAMPLER_AUSTIN)
			s.sampler = sampler_austin_new(s.det, o->austin, o->austin_root,
						       o->interval_ms > 0 ? interval_ns : 0,
						       (uint64_t)(o->correlation_padding_ms * 1e6));
		else
			s.sampler = sampler_builtin_new(s.det, interval_ns);
		ret = s.sampler ? sampler_watch(s.sampler, s.slot, s.info.pid, s.info.tid,
						threshold_ns) : -errno;
		if (ret) {
			log_error("cannot start the stack sampler: %s", strerror(-ret));
			code = EXIT_RUNTIME;
			goto out;
		}
		if (o->sampler == SAMPLER_BUILTIN)
			log_info("sampling Python stacks every %.2f ms during blocks",
				 interval_ns / 1e6);
	}
	ret = setup_wakeups(&s);
	if (ret) {
		log_error("cannot set up the event loop: %s", strerror(-ret));
		code = EXIT_RUNTIME;
		goto out;
	}
	if (o->threshold_ms == 0 && !o->stats)
		log_warn("-t 0 reports every gap between two epoll calls as an event; --stats summarises them instead");
	drop_privileges(&s);

	reporter_session_start(&s.reporter);
	s.reporter_started = true;

	if (s.child.pid) {
		code = launch_release(&s.child, err, sizeof(err));
		if (code) {
			log_error("cannot run '%s': %s", o->launch_argv[0], err);
			reap_child(&s, 0);
			s.exit_code = code;
			finish(&s, "runtime_error", "failed");
		}
	}

	run_loop(&s);

	/* Wind down: end a launched command, then collect what is left. */
	if (s.child.pid && !s.child_reaped)
		end_child(&s);
	drain_events(&s);
	if (o->stats && !stats_snapshot(&s, &final_stats))
		have_final_stats = true;
	code = exit_status(&s);

out:
	if (s.reporter_started) {
		s.reporter.summary.duration_s = elapsed_s(&s);
		s.reporter.summary.lost_event_count = s.det ? detector_lost_events(s.det) : 0;
		s.reporter.summary.termination_reason = s.reason ? s.reason : "runtime_error";
		s.reporter.summary.status = s.status ? s.status : "failed";
		reporter_session_end(&s.reporter, have_final_stats ? &final_stats : NULL);
	}
	if (s.child.pid && !s.child_reaped)
		launch_abort(&s.child);
	reporter_destroy(&s.reporter);
	sampler_free(s.sampler);
	detector_free(s.det);
	if (s.epfd >= 0)
		close(s.epfd);
	if (s.timerfd >= 0)
		close(s.timerfd);
	if (s.pidfd >= 0)
		close(s.pidfd);
	if (s.sigfd >= 0)
		close(s.sigfd);
	return code;
}
