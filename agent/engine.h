/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.h - the watch engine: one blocksnoop run, whoever drives it. The
 * command line (session.c) and the Kubernetes agent (k8s/agent.c) are its
 * clients: they say which processes to watch, how, and with which tags;
 * the engine does the rest, the same way for both.
 *
 * It owns the detector, the stack samplers, the reporter and its sinks,
 * the session's identity (struct session_info) and summary (it numbers the
 * events), and the one epoll loop of the run: the detector's ring buffer
 * (always drained before anything else is handled), a signalfd (SIGINT,
 * SIGTERM, SIGHUP, SIGCHLD), a one-second tick, each sampler's fd, a pidfd
 * per watched process, and the fds a client adds (engine_add_fd). No
 * signal handler runs code. One thread.
 *
 * A run, in order:
 *
 *	engine_new()                 the run's configuration; nothing loaded
 *	engine_add_sink(), engine_add_log_file()
 *	engine_open()                signals, detector, samplers, the loop; the clock starts
 *	engine_watch() ...           (and engine_add_fd() for the client's fds)
 *	engine_drop_privileges()     keep only what the rest of the run needs
 *	engine_start()               session_start record
 *	engine_run()                 until a stop (below)
 *	engine_end()                 the last events; the closing summary
 *	engine_free()
 *
 * A run stops on SIGINT/SIGTERM (unless the client takes them), at
 * --duration, on a runtime error, or when the client says (engine_stop).
 * Functions that return an exit status (exit_codes.h) have reported the
 * error on stderr, in one line, when they return non-zero.
 *
 * A watch is what a client asks for: a process, one of its threads (the
 * main one unless told otherwise) or all of them, and optionally every
 * process it starts (and those it started before), with its thresholds,
 * stack sampler and tags. Each thread the watch gains (in the kernel: a
 * forked child's, a new thread's, from their first instruction) is
 * watched with the watch's configuration, sampled by its sampler and
 * reported with its tags and its own pid, tid and process name, until it
 * exits. The engine tells the client when the watch's own process (or
 * its chosen thread) is gone; the watch, with whatever it gained, ends
 * then. The summary counts the blocks of each process.
 */
#ifndef BLOCKSNOOP_ENGINE_H
#define BLOCKSNOOP_ENGINE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "caps.h"
#include "event.h"
#include "gap_hist.h"      /* struct loop_hist */
#include "options.h"       /* enum sampler_kind */
#include "sampler.h"       /* enum sampler_news */
#include "session_info.h"
#include "sink.h"

struct engine;
struct engine_watch;

struct engine_config {
	const char *mode;             /* session_start's mode: "attach", "launch", "agent" */
	char *const *command;         /* launch mode: the command's argv; else NULL */
	double threshold_ms;          /* the run's (session_start); the built-in sampler's
				       * default interval follows it */
	double error_threshold_ms;
	bool stats;                   /* a stats frame a second, and stats in the summary */
	bool follow, all_threads;     /* what the run's watches do (session_start) */
	const char *service, *env;    /* records' service and env */
	double duration_s;            /* stop after this long; 0: no limit */
	/* The stack samplers to start (engine_open), by kind; a watch picks
	 * one of them. */
	bool samplers[SAMPLER_NONE];
	double interval_ms;           /* --interval; 0: each sampler's default */
	const char *austin;           /* --austin; NULL: "austin" on PATH */
	const char *austin_root;      /* --austin-root; NULL: "/" */
	double correlation_padding_ms;
	/* Run as on a kernel without task storage for BPF tracing programs:
	 * nothing is followed (detector_options.no_task_storage). For tests. */
	bool no_task_storage;
	/* Watches may keep a loop histogram (engine_watch_config.loop_hist):
	 * the detector makes its map for them (detector_options.loop_hists). */
	bool loop_hists;
	/* The built-in sampler polls, also where the kernel could wake it
	 * (detector_options.sampler_wake off): sampler_poll_forced(). */
	bool sampler_poll;
};

/* Whether the built-in sampler polls also where the kernel could wake it:
 * only when the environment variable BLOCKSNOOP_SAMPLER_WAKE is "poll"
 * ("kernel", the default, when unset or empty; another value is warned
 * about once per call and taken as "kernel"). */
bool sampler_poll_forced(void);

/* Why a run ended: the summary's termination_reason and status. */
enum engine_stop {
	ENGINE_RUNNING,        /* not stopped yet */
	ENGINE_TARGET_EXIT,    /* "target_exit", "completed" */
	ENGINE_TARGET_FAILED,  /* "target_exit", "child_failed": a launched command failed */
	ENGINE_DURATION,       /* "duration", "completed" */
	ENGINE_SIGNAL,         /* "signal", "interrupted" */
	ENGINE_ERROR,          /* "runtime_error", "failed" */
};

/* Why a watch is gone. */
enum engine_gone {
	ENGINE_GONE_PROCESS,   /* its own process exited (whatever it started may live on) */
	ENGINE_GONE_THREAD,    /* its thread (not the main one) exited; the process lives on */
};

/*
 * What the engine tells its client. Every member may be NULL. client is
 * engine_new()'s; watch is the watch's engine_watch_config.ctx.
 */
struct engine_hooks {
	/* SIGINT or SIGTERM arrived; code is its si_code (SI_USER: kill(2)).
	 * True if the client deals with it; false stops the run (ENGINE_SIGNAL). */
	bool (*stop_signal)(void *client, int signo, int code);
	/* The watch is gone (its last events are reported); the engine
	 * unwatches it once this returns, so the client must not. */
	void (*gone)(void *client, void *watch, enum engine_gone why);
	/* Whether to report a block of the watch that ended at end_ns (kernel
	 * CLOCK_MONOTONIC). False counts it as suppressed in the summary
	 * instead, and the client counts it its own way. */
	bool (*admit)(void *client, void *watch, uint64_t end_ns);
	/* A block of the watch (of any thread it gained), or a block still
	 * going on, was reported. */
	void (*event)(void *client, void *watch, const struct blocking_event *e);
	void (*still_blocked)(void *client, void *watch, const struct still_blocked *b);
	/* The sampler of a thread of the watch, in process pid (ours), had
	 * news (sampler.h: samples counted, its Austin restarted, a failure
	 * and why), for the client's counters. */
	void (*sampler_news)(void *client, void *watch, pid_t pid, enum sampler_kind kind,
			     enum sampler_news what, uint64_t n, const char *why);
	/* What to call the watch in a sampler's warning about one of its
	 * processes (the agent: "pod ns/name container c"), written into
	 * buf (len > 0): printable text, "" for nothing. */
	void (*describe)(void *client, void *watch, char *buf, size_t len);
	/* Once a second, after the engine's own checks. */
	void (*tick)(void *client);
	/* The run is over and its last events are reported: the client's
	 * last records before the summary. */
	void (*closing)(void *client);
};

/*
 * A run configured by cfg (copied; its strings are not, and must outlive
 * the engine), telling hooks (copied; may be NULL) with client as their
 * first argument. NULL when out of memory (said on stderr).
 */
struct engine *engine_new(const struct engine_config *cfg, const struct engine_hooks *hooks,
			  void *client);

/*
 * Hand a sink to the engine (sink.h), which destroys it. NULL (its
 * constructor ran out of memory) is EXIT_RUNTIME. Sinks see records in
 * the order they were added.
 */
int engine_add_sink(struct engine *e, struct sink *sink);

/* The JSON log file at path (sink_logfile_new()): 0, or EXIT_USAGE if it
 * cannot be used. Its reopening on SIGHUP is kept possible through the
 * privilege drop. */
int engine_add_log_file(struct engine *e, const char *path);

/*
 * A directory a sink creates files in for the whole run (flame graphs):
 * the privilege drop keeps what creating them there needs. dir is not
 * copied. 0, or -ENOSPC past ENGINE_MAX_OUTPUT_DIRS.
 */
#define ENGINE_MAX_OUTPUT_DIRS 4
int engine_add_output_dir(struct engine *e, const char *dir);

/*
 * Route the signals to the loop (SIGPIPE is ignored: a closed stdout is
 * an error the sinks report), load and attach the detector, start the
 * samplers cfg names, and set up the loop. The run's clock starts here,
 * before any watch (records' timestamp_s, --duration). 0, or the exit
 * status (EXIT_PRIVILEGE, EXIT_RUNTIME).
 */
int engine_open(struct engine *e);

/* One watch: a process, which of its threads and processes are watched,
 * how, and its tags. */
struct engine_watch_config {
	pid_t pid, tid;               /* in blocksnoop's PID namespace; tid 0: pid */
	/* Also every thread of pid that waits in epoll, now and later (tid
	 * is then ignored), and of each process followed. */
	bool all_threads;
	/* Also every descendant of pid: those it has now, and each process a
	 * watched process starts later, from its first instruction (its main
	 * thread, or with all_threads all of them). On a kernel that cannot
	 * follow (detector_can_follow()), the engine says so once on stderr
	 * and watches only what it can: pid's one thread. */
	bool follow;
	double threshold_ms;
	double error_threshold_ms;
	bool histogram;               /* stats mode: gaps go to the histogram, not events */
	/* Count every gap into the watch's loop histogram (engine_loop_hist);
	 * needs engine_config.loop_hists. */
	bool loop_hist;
	/* One cfg started, or SAMPLER_NONE. The Austin sampler runs one
	 * Austin per process, followed ones included (at most 32 of those at
	 * once in the run: events of further processes have no stacks, and
	 * say why); it is stopped and reaped as the process's last watched
	 * thread goes. */
	enum sampler_kind sampler;
	/* Records name the thread as its own PID namespace does (NSpid),
	 * not as blocksnoop's does. */
	bool ids_in_own_ns;
	const struct target_meta *meta; /* its records' tags; NULL: the run's. Not
					 * copied: must outlive the watch */
	void *ctx;                    /* the client's, handed to hooks */
};

/*
 * Watch what wc says. pidfd: the process, pinned by the caller (a pidfd
 * taken before checking that pid is the process meant), or -1 for the
 * engine to open one; it becomes the engine's, also on failure. All or
 * nothing: 0 and *out (the engine's until engine_unwatch() or a gone
 * hook), or -errno and nothing watched: -ESRCH the process is gone,
 * -EEXIST the thread is watched already, -ENOSPC MAX_WATCHED_THREADS
 * threads or MAX_WATCHES watches are, -EINVAL a sampler cfg did not start.
 * Threads gained later that find no free slot are counted by the kernel
 * side, not watched.
 */
int engine_watch(struct engine *e, const struct engine_watch_config *wc, int pidfd,
		 struct engine_watch **out);

/* Stop watching and free w, with every thread and process it gained;
 * events of it not reported yet are dropped. Accepts NULL. */
void engine_unwatch(struct engine *e, struct engine_watch *w);

typedef void (*engine_fd_fn)(void *ctx);
typedef long (*engine_timeout_fn)(void *ctx);

/*
 * Another fd in the loop (not the engine's: the caller closes it after
 * engine_free()): ready(ctx) runs when it is readable. With a timeout
 * function, for libraries that keep timers of their own (libmicrohttpd),
 * ready also runs after every wake-up of the loop, and the loop sleeps at
 * most timeout(ctx) ms (-1: no limit). At most ENGINE_MAX_FDS. 0 or -errno.
 */
#define ENGINE_MAX_FDS 8
int engine_add_fd(struct engine *e, int fd, engine_fd_fn ready, engine_timeout_fn timeout,
		  void *ctx);

/*
 * Give up what only set-up needed: keep what caps_run_keep() says for
 * needs, where the client sets launch and find_processes and the engine
 * adds what its samplers and log file need, and whether this kernel
 * checks capabilities on map reads (stats mode) or updates (when
 * processes found later are watched), asked of the kernel with the
 * effective set lowered. Capabilities are per thread: call this before
 * any other thread exists. A failure keeps everything and says so; it
 * never ends the run.
 */
void engine_drop_privileges(struct engine *e, struct caps_run_needs needs);

/*
 * Start the run: its id and the session_start record. pid and tid are the
 * run's target as that record names it (0 when there is none, as in the
 * agent); it says whether the run follows and watches all threads as cfg
 * asks and this kernel can.
 */
void engine_start(struct engine *e, pid_t pid, pid_t tid);

/* Run the loop until the run stops (at once if it has). */
void engine_run(struct engine *e);

/* Stop the run for why, unless it has stopped already (the first reason
 * stays). */
void engine_stop(struct engine *e, enum engine_stop why);

/*
 * End a started run: report the events still waiting, then (the closing
 * hook) the client's last records, then the summary. Does nothing before
 * engine_start() or a second time.
 */
void engine_end(struct engine *e);

/* Everything the engine owns (sinks, samplers, watches, detector, fds).
 * Accepts NULL. */
void engine_free(struct engine *e);

/* ---- what a run tells its client ---------------------------------------------- */

enum engine_stop engine_stopped(const struct engine *e);

/* Whether a runtime error (reading the kernel's events, the loop itself)
 * happened; the run stopped as ENGINE_ERROR unless it had stopped already. */
bool engine_failed(const struct engine *e);

/* Blocks reported so far, and those of them at the error threshold. */
uint64_t engine_event_count(const struct engine *e);
uint64_t engine_error_event_count(const struct engine *e);

/*
 * The loop histogram of watch w (one with loop_hist) into *out: every gap
 * of every thread it has had, counted in the kernel since it started; from
 * memory, so also after engine_drop_privileges(). 0, or -ENOENT (w keeps
 * none, or is NULL). Read it in the gone hook to keep the last counts.
 */
int engine_loop_hist(const struct engine *e, const struct engine_watch *w,
		     struct loop_hist *out);

/* Events the kernel could not queue (its ring buffer was full). */
uint64_t engine_lost_events(const struct engine *e);

/*
 * Everything the run lost, for --fail-on-loss: the events the kernel could
 * not queue plus the records an output could not write (a full disk, a
 * closed pipe), the summary included once engine_end() has written it.
 * Suppressed events (agent mode) are a limit the user set, not a loss.
 */
uint64_t engine_losses(const struct engine *e);



/* The run's identity, for records a client builds (record.h). Valid
 * until engine_free(). */
const struct session_info *engine_session(const struct engine *e);

/* Hand a record the client built to the sinks that take such records
 * (sink_ops.record); rec stays the caller's. */
void engine_report(struct engine *e, const cJSON *rec);

#endif
