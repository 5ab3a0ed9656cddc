// SPDX-License-Identifier: Apache-2.0
/*
 * session.c - the command line's run: attach to a PID or launch a command,
 * watch it with the engine (engine.h) until it ends, a signal or
 * --duration, and exit with the status exit_codes.h describes.
 *
 * What is the command line's own: checking the target before anything is
 * loaded, the launched command (started before it is watched, released
 * once it is, signals forwarded to it, ended at the end), and the exit
 * status (the command's own, or --fail-on's and --fail-on-loss's).
 */
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "cli_metrics.h"
#include "engine.h"
#include "exit_codes.h"
#include "launch.h"
#include "log.h"
#include "procfs.h"
#include "session.h"

/* How long a launched command gets to exit after SIGTERM before SIGKILL. */
#define CHILD_GRACE_MS 5000

struct session {
	const struct options *o;
	struct engine *engine;
	pid_t pid, tid;          /* the target */
	struct launched child;   /* launch mode: child.pid > 0 */
	int launch_error;        /* the command could not be run: 126 or 127 */
	char *flame_dirs[2];     /* the flame graph files' directories */
	struct engine_watch *watch;     /* the target's */
	struct cli_metrics *metrics;    /* --metrics-addr; NULL: none */
};

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

/* ---- what the engine tells us --------------------------------------------------- */

/* SIGINT/SIGTERM in launch mode: the command decides when we end. A
 * terminal's Ctrl-C already reached it (same process group); a kill(1)
 * aimed at us did not. */
static bool on_stop_signal(void *client, int signo, int code)
{
	struct session *s = client;

	if (!s->child.pid)
		return false;
	if (code == SI_USER || code == SI_QUEUE) {
		log_info("forwarding %s to PID %d", strsignal(signo), s->child.pid);
		kill(s->child.pid, signo);
	}
	return true;
}

static void on_gone(void *client, void *watch, enum engine_gone why)
{
	struct session *s = client;

	(void)watch;
	cli_metrics_watch_gone(s->metrics);
	if (why == ENGINE_GONE_THREAD) {
		log_info("thread %d has exited", s->tid);
	} else if (s->child.pid) {
		/* Its pidfd is readable: it has exited, and reaping is at once. */
		launch_reap(&s->child, true);
		log_info("the command exited (%s %d)",
			 WIFSIGNALED(s->child.wstatus) ? "signal" : "status",
			 WIFSIGNALED(s->child.wstatus) ? WTERMSIG(s->child.wstatus)
						       : WEXITSTATUS(s->child.wstatus));
		if (launch_exit_code(s->child.wstatus) != 0) {
			engine_stop(s->engine, ENGINE_TARGET_FAILED);
			return;
		}
	} else {
		log_info("PID %d has exited", s->pid);
	}
	engine_stop(s->engine, ENGINE_TARGET_EXIT);
}

/* ---- set-up ----------------------------------------------------------------------- */

/* The flame graph files: written once now, so that a path that cannot
 * be written is a usage error before anything runs. */
static int add_flame_sink(struct session *s)
{
	const char *paths[] = { s->o->folded, s->o->speedscope };
	char err[512];
	struct sink *sink = sink_flame_new(s->o->folded, s->o->speedscope, err, sizeof(err));
	int code;

	if (!sink) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	code = engine_add_sink(s->engine, sink);
	for (int i = 0; !code && i < 2; i++) {
		char *copy = paths[i] ? strdup(paths[i]) : NULL;

		if (copy) {
			/* The directory stays the engine's for the run. */
			s->flame_dirs[i] = strdup(dirname(copy));
			free(copy);
		}
		if (s->flame_dirs[i])
			engine_add_output_dir(s->engine, s->flame_dirs[i]);
	}
	return code;
}

static int add_sinks(struct session *s)
{
	const struct options *o = s->o;
	struct sink *sink;
	int code;

	if (o->json)
		sink = sink_json_new(STDOUT_FILENO, o->summary_only);
	else
		sink = sink_console_new(STDERR_FILENO, !o->no_color && isatty(STDERR_FILENO),
					o->summary_only);
	code = engine_add_sink(s->engine, sink);
	if (!code && o->log_file)
		code = engine_add_log_file(s->engine, o->log_file);
	if (!code && (o->folded || o->speedscope))
		code = add_flame_sink(s);
	return code;
}

/* Watch the target (and what it starts): 0, or the exit status. A target
 * already gone ends the run at once, as if it had exited while watched. */
static int watch_target(struct session *s)
{
	const struct options *o = s->o;
	struct engine_watch_config wc = {
		.pid = s->pid,
		.tid = s->tid,
		.follow = o->follow,
		.all_threads = o->all_threads,
		.threshold_ms = o->threshold_ms,
		.error_threshold_ms = o->error_threshold_ms,
		.histogram = o->stats,
		.sampler = o->stats ? SAMPLER_NONE : o->sampler,
		.loop_hist = o->metrics_addr != NULL,
	};
	int ret = engine_watch(s->engine, &wc, -1, &s->watch);

	if (ret == -ESRCH) {
		engine_stop(s->engine, ENGINE_TARGET_EXIT);
		return 0;
	}
	if (ret) {
		log_error("cannot watch thread %d: %s", s->tid, strerror(-ret));
		return EXIT_RUNTIME;
	}
	return 0;
}

/* The exit status once the run is over. */
static int exit_status(const struct session *s)
{
	const struct options *o = s->o;
	int code = s->launch_error ? s->launch_error : engine_failed(s->engine) ? EXIT_RUNTIME : 0;

	if (!code && s->child.reaped && engine_stopped(s->engine) != ENGINE_DURATION)
		code = launch_exit_code(s->child.wstatus);
	if (!code && ((o->fail_on == FAIL_ON_EVENT && engine_event_count(s->engine)) ||
		      (o->fail_on == FAIL_ON_ERROR && engine_error_event_count(s->engine))))
		code = EXIT_POLICY;
	if (!code && o->fail_on_loss && engine_losses(s->engine)) {
		log_error("%llu events or records were lost (--fail-on-loss): see lost_event_count and dropped_records in the summary",
			  (unsigned long long)engine_losses(s->engine));
		code = EXIT_POLICY;
	}
	return code;
}

int session_run(const struct options *o)
{
	const struct engine_hooks hooks = { .stop_signal = on_stop_signal, .gone = on_gone };
	struct engine_config cfg = {
		.mode = o->launch_argv ? "launch" : "attach",
		.command = o->launch_argv,
		.threshold_ms = o->threshold_ms,
		.error_threshold_ms = o->error_threshold_ms,
		.stats = o->stats,
		.follow = o->follow,
		.all_threads = o->all_threads,
		.service = o->service,
		.env = o->env,
		.duration_s = o->duration_s,
		.interval_ms = o->interval_ms,
		.austin = o->austin,
		.austin_root = o->austin_root,
		.correlation_padding_ms = o->correlation_padding_ms,
		/* For tests: run as on a kernel that cannot follow. */
		.no_task_storage = getenv("BLOCKSNOOP_NO_TASK_STORAGE") != NULL,
		.loop_hists = o->metrics_addr != NULL,
		/* For tests: poll as on a kernel that cannot wake the sampler. */
		.sampler_poll = sampler_poll_forced(),
	};
	struct session s = { .o = o, .pid = o->pid, .tid = o->tid };
	char err[512], missing[256];
	int code, ret;

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

	/* Outputs, then the detector and the loop. */
	if (!o->stats && o->sampler != SAMPLER_NONE)
		cfg.samplers[o->sampler] = true;
	s.engine = engine_new(&cfg, &hooks, &s);
	if (!s.engine) {
		code = EXIT_RUNTIME;
		goto out;
	}
	code = add_sinks(&s);
	if (!code)
		code = engine_open(s.engine);
	/* Bound before privileges go (a port below 1024). */
	if (!code && o->metrics_addr)
		code = cli_metrics_start(s.engine, o->metrics_addr, &s.metrics);
	if (code)
		goto out;

	/* In launch mode the child waits before exec until it is watched. */
	if (o->launch_argv) {
		ret = launch_prepare(o->launch_argv, o->json, &s.child);
		if (ret) {
			log_error("cannot start the command: %s", strerror(-ret));
			code = EXIT_RUNTIME;
			goto out;
		}
		s.pid = s.tid = s.child.pid;
	}
	code = watch_target(&s);
	if (code)
		goto out;
	if (o->threshold_ms == 0 && !o->stats)
		log_warn("-t 0 reports every gap between two epoll calls as an event; --stats summarises them instead");
	engine_drop_privileges(s.engine, (struct caps_run_needs){ .launch = s.child.pid > 0 });
	engine_start(s.engine, s.pid, s.tid);

	if (s.child.pid) {
		s.launch_error = launch_release(&s.child, err, sizeof(err));
		if (s.launch_error) {
			log_error("cannot run '%s': %s", o->launch_argv[0], err);
			launch_reap(&s.child, true);
			engine_stop(s.engine, ENGINE_ERROR);
		}
	}
	/* Named once it runs the command (a launched one has exec'ed now). */
	if (s.metrics && s.watch)
		cli_metrics_watch(s.metrics, s.watch, s.pid);

	engine_run(s.engine);

	/* Wind down: end a launched command, then collect what is left. */
	if (s.child.pid)
		launch_end(&s.child, CHILD_GRACE_MS);
	engine_end(s.engine);
	code = exit_status(&s);

out:
	if (s.child.pid && !s.child.reaped)
		launch_abort(&s.child);
	engine_free(s.engine);
	free(s.flame_dirs[0]);
	free(s.flame_dirs[1]);
	cli_metrics_free(s.metrics);
	return code;
}
