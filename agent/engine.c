// SPDX-License-Identifier: Apache-2.0
/*
 * engine.c - the watch engine (engine.h): the detector, the samplers, the
 * reporter and the one epoll loop of a run.
 *
 * Each fd in the epoll set carries what it is in the low half of its
 * epoll data and an index in the high half: the detector's id of a
 * watch's pidfd, the sampler's kind, the client fd's place.
 *
 * A watch (struct engine_watch) is the client's; each thread it watches
 * is a struct engine_thread, found by its detector slot: the thread the
 * client asked for, in the slot the engine took for it, and every thread
 * the kernel side gives a slot on its own (a followed process's, another
 * thread of an all-threads watch), announced by a THREAD_ADDED notice and
 * taken back by THREAD_GONE.
 *
 * The flow of an event: the kernel's gap arrives through the ring buffer
 * (drained before anything else a wake-up brings, so a process that ends
 * right after blocking still has that block reported); its slot names the
 * watch; the client may suppress it (admit); the watch's sampler gives the
 * stacks seen during exactly that gap; the engine numbers it, counts it
 * into the summary and hands it to the reporter, which builds its record
 * once for every sink.
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
#include <unistd.h>

#include "anatomy.h"
#include "gil_wait.h"
#include "compat.h"
#include "detector.h"
#include "engine.h"
#include "exit_codes.h"
#include "histogram.h"
#include "log.h"
#include "procfs.h"
#include "reporter.h"
#include "sampler.h"
#include "summary.h"
#include "timeutil.h"

#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL

/* A thread id no kernel hands out (pid_max is at most 2^22): watched once
 * to ask whether map updates still work with fewer capabilities. */
#define PROBE_TID 0x3ffffff0

/* The loop sleeps at most this long, whatever a deadline says (a long
 * --duration in ms does not fit an int). */
#define MAX_SLEEP_MS (3600 * 1000)

/* Processes gained by a watch (followed processes; the threads of one
 * share its place) whose stacks are sampled at once: each costs a reader
 * of its own (bounded, agent/cpython/codecache.h), and a target that forks
 * without end must not multiply that. Past it, blocks are reported without
 * stacks, saying why. */
#define MAX_SAMPLED_GAINED 256
#define TOO_MANY_SAMPLED "more than 256 processes followed are sampled at once: " \
	"blocksnoop reads no more stacks until some exit"

/* Followed processes that have an Austin of their own at once, in the
 * whole run (a watch's own process always has its Austin; MAX_WATCHES
 * bounds those). One Austin 3.7 at the default interval (33 ms) on a
 * Python 3.11 loop measured here: 0.6 % of a core, 2 MB (PSS) for Austin
 * and 4 MB for the namespace shim that waits for it, 3 fds of ours: 32
 * cost about a fifth of a core and 200 MB, which a host with that many
 * workers can spare, and a target that forks without end gets no more.
 * Past it, the blocks of further processes are reported without stacks,
 * saying why. */
#define MAX_AUSTINS_FOLLOWED 32
#define TOO_MANY_AUSTINS "more than 32 processes followed would have an Austin at once: " \
	"blocksnoop starts no Austin for further processes until some exit " \
	"(--sampler builtin reads them all)"

/* A process's name is read again at most this often (it changes with
 * exec and prctl; an exec notice also makes it read again). */
#define NAME_TTL_NS NS_PER_S

enum wake {
	WAKE_EVENTS = 1,
	WAKE_SIGNAL,
	WAKE_TICK,
	WAKE_SAMPLER,      /* index: enum sampler_kind */
	WAKE_WATCH,        /* index: the watch's detector id */
	WAKE_CLIENT,       /* index: in fds[] */
};

struct engine_watch {
	struct engine_watch_config cfg;
	int id;                        /* the detector's watch */
	int pidfd;                     /* its own process */
	struct engine_thread *own;     /* the thread asked for; NULL with all_threads */
};

/* One watched thread: a detector slot. */
struct engine_thread {
	struct engine_watch *watch;
	int slot;
	/* The slot's generation the kernel side gave it; 0 for the slot
	 * the engine took (kept until the watch ends, whatever the thread). */
	uint32_t gen;
	pid_t pid, tid;                /* ours */
	pid_t shown_pid, shown_tid;    /* as its records name it */
	struct sampler *sampler;       /* NULL: no stacks, */
	const char *no_stacks;         /* and why, if the watch has a sampler */
	char name[PROCESS_NAME_LEN];   /* its process's, printable */
	uint64_t name_read_ns;         /* 0: read it (again) */
	/* Its THREAD_GONE came in this round of drain_events(); it is freed
	 * once the events queued before that notice are in (0: it lives). */
	uint64_t exited_round;
	bool counted;                  /* holds its process's place in sampled_gained */
};

struct client_fd {
	int fd;
	engine_fd_fn ready;
	engine_timeout_fn timeout;
	void *ctx;
};

struct engine {
	struct engine_config cfg;
	struct engine_hooks hooks;
	void *client;
	struct session_info info;
	struct reporter reporter;
	struct session_summary summary;
	const char *log_file;
	/* Directories the sinks create files in later (engine_add_output_dir). */
	const char *output_dirs[ENGINE_MAX_OUTPUT_DIRS];
	int noutput_dirs;
	struct detector *det;
	struct sampler *samplers[SAMPLER_NONE];
	/* Large: the engine is never on the stack. */
	struct engine_thread *by_slot[MAX_WATCHED_THREADS];
	int slot_hi;                   /* one past the highest slot in use */
	struct engine_watch *by_id[MAX_WATCHES]; /* by detector id % MAX_WATCHES */
	uint64_t round;                /* detector_dispatch() calls so far */
	unsigned sampled_gained;       /* gained processes with a sampler (MAX_SAMPLED_GAINED) */
	unsigned austins_followed;     /* followed processes with an Austin (MAX_AUSTINS_FOLLOWED) */
	unsigned exited;               /* threads waiting to be freed (exited_round) */
	bool warned_no_follow, warned_sampled, warned_austins;
	struct client_fd fds[ENGINE_MAX_FDS];
	int nfds;
	int epfd, sigfd, tickfd;
	uint64_t deadline_ns;          /* --duration; 0: none */
	uint64_t lost_reported;
	uint64_t overflow_reported;    /* follow_overflow + slot_overflow said */
	bool started, ended, failed;
	enum engine_stop stopped;
};

static uint64_t wake_data(enum wake what, uint32_t index)
{
	return (uint64_t)what | (uint64_t)index << 32;
}

static int epoll_add(struct engine *e, int fd, enum wake what, uint32_t index)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = wake_data(what, index) };

	return epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static uint64_t ms_to_ns(double ms)
{
	return (uint64_t)(ms * 1e6);
}

/* Seconds since the run started, of a kernel timestamp; 0 before. */
static double since_start_s(const struct engine *e, uint64_t mono_ns)
{
	return mono_ns > e->info.start_mono_ns ? (double)(mono_ns - e->info.start_mono_ns) / 1e9
					       : 0;
}

/* ---- set-up ------------------------------------------------------------------- */

struct engine *engine_new(const struct engine_config *cfg, const struct engine_hooks *hooks,
			  void *client)
{
	struct engine *e = calloc(1, sizeof(*e)); /* large (by_slot, by_id) */

	if (!e) {
		log_error("out of memory");
		return NULL;
	}
	e->cfg = *cfg;
	if (hooks)
		e->hooks = *hooks;
	e->client = client;
	e->epfd = e->sigfd = e->tickfd = -1;
	e->info.mode = cfg->mode;
	e->info.command = cfg->command;
	e->info.threshold_ms = cfg->threshold_ms;
	e->info.error_threshold_ms = cfg->error_threshold_ms;
	e->info.stats = cfg->stats;
	e->info.service = cfg->service;
	e->info.env = cfg->env;
	reporter_init(&e->reporter, &e->info);
	return e;
}

int engine_add_sink(struct engine *e, struct sink *sink)
{
	if (!sink) {
		log_error("out of memory");
		return EXIT_RUNTIME;
	}
	if (reporter_add_sink(&e->reporter, sink)) {
		sink->ops->destroy(sink);
		log_error("too many outputs (at most %d)", REPORTER_MAX_SINKS);
		return EXIT_RUNTIME;
	}
	return 0;
}

int engine_add_log_file(struct engine *e, const char *path)
{
	char err[512];
	struct sink *sink = sink_logfile_new(path, err, sizeof(err));
	int code;

	if (!sink) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	code = engine_add_sink(e, sink);
	if (!code)
		e->log_file = path;
	return code;
}

int engine_add_output_dir(struct engine *e, const char *dir)
{
	if (e->noutput_dirs == ENGINE_MAX_OUTPUT_DIRS)
		return -ENOSPC;
	e->output_dirs[e->noutput_dirs++] = dir;
	return 0;
}

/* Route the signals the loop handles to a signalfd. */
static int setup_signals(struct engine *e)
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
	e->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return e->sigfd < 0 ? -errno : 0;
}

static struct engine_thread *thread_at(const struct engine *e, int slot);

/* A sampler's news of a slot, to the client with the watch it is of. */
static void on_sampler_news(void *ctx, int slot, enum sampler_news what, uint64_t n,
			    const char *why)
{
	struct engine *e = ctx;
	struct engine_thread *t = thread_at(e, slot);

	if (!t || !e->hooks.sampler_news)
		return;
	e->hooks.sampler_news(e->client, t->watch->cfg.ctx, t->pid, t->watch->cfg.sampler, what,
			      n, why);
}

/* What the client calls the watch of a slot, for a sampler's warning. */
static void on_sampler_whose(void *ctx, int slot, char *buf, size_t len)
{
	struct engine *e = ctx;
	struct engine_thread *t = thread_at(e, slot);

	buf[0] = '\0';
	if (t && e->hooks.describe)
		e->hooks.describe(e->client, t->watch->cfg.ctx, buf, len);
}

bool sampler_poll_forced(void)
{
	const char *wake = getenv("BLOCKSNOOP_SAMPLER_WAKE");

	if (!wake || !*wake || !strcmp(wake, "kernel"))
		return false;
	if (!strcmp(wake, "poll"))
		return true;
	log_warn("BLOCKSNOOP_SAMPLER_WAKE=%s is neither \"kernel\" nor \"poll\": "
		 "using \"kernel\"", wake);
	return false;
}

static struct sampler *new_sampler(struct engine *e, enum sampler_kind kind)
{
	const struct engine_config *c = &e->cfg;
	uint64_t interval_ns = c->interval_ms > 0 ? ms_to_ns(c->interval_ms) : 0;
	struct sampler *s;

	if (kind == SAMPLER_AUSTIN) {
		s = sampler_austin_new(e->det, c->austin, c->austin_root, interval_ns,
				       ms_to_ns(c->correlation_padding_ms));
	} else {
		if (!interval_ns)
			interval_ns = sampler_default_interval_ns(ms_to_ns(c->threshold_ms));
		s = sampler_builtin_new(e->det, interval_ns);
		if (s)
			log_info("sampling Python stacks every %.2f ms during blocks",
				 interval_ns / 1e6);
	}
	if (s)
		sampler_set_news(s, on_sampler_news, on_sampler_whose, e);
	return s;
}

static int setup_loop(struct engine *e)
{
	struct itimerspec second = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	int err;

	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0)
		return -errno;
	e->tickfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (e->tickfd < 0 || timerfd_settime(e->tickfd, 0, &second, NULL))
		return -errno;
	err = epoll_add(e, detector_events_fd(e->det), WAKE_EVENTS, 0);
	if (!err)
		err = epoll_add(e, e->sigfd, WAKE_SIGNAL, 0);
	if (!err)
		err = epoll_add(e, e->tickfd, WAKE_TICK, 0);
	for (int k = 0; !err && k < SAMPLER_NONE; k++)
		if (e->samplers[k])
			err = epoll_add(e, sampler_fd(e->samplers[k]), WAKE_SAMPLER, (uint32_t)k);
	return err;
}

int engine_open(struct engine *e)
{
	char err[512];
	int code, ret;

	ret = setup_signals(e);
	if (ret) {
		log_error("cannot set up signal handling: %s", strerror(-ret));
		return EXIT_RUNTIME;
	}
	code = detector_open_with(&e->det,
				  &(struct detector_options){
					  .no_task_storage = e->cfg.no_task_storage,
					  .loop_hists = e->cfg.loop_hists,
					  .no_anatomy = e->cfg.stats,
					  .sampler_wake = e->cfg.samplers[SAMPLER_BUILTIN] &&
							  !e->cfg.sampler_poll,
				  },
				  err, sizeof(err));
	if (code) {
		log_error("%s", err);
		return code;
	}
	for (int k = 0; k < SAMPLER_NONE; k++) {
		if (!e->cfg.samplers[k])
			continue;
		e->samplers[k] = new_sampler(e, (enum sampler_kind)k);
		if (!e->samplers[k]) {
			log_error("cannot start the stack sampler: %m");
			return EXIT_RUNTIME;
		}
	}
	ret = setup_loop(e);
	if (ret) {
		log_error("cannot set up the event loop: %s", strerror(-ret));
		return EXIT_RUNTIME;
	}
	/* The run's clock starts before the first watch: no gap can begin
	 * before it, so every event's timestamp_s is its start on this clock. */
	e->info.start_mono_ns = mono_now_ns();
	clock_gettime(CLOCK_REALTIME, &e->info.start_wall);
	if (e->cfg.duration_s > 0)
		e->deadline_ns = e->info.start_mono_ns + (uint64_t)(e->cfg.duration_s * 1e9);
	return 0;
}

int engine_add_fd(struct engine *e, int fd, engine_fd_fn ready, engine_timeout_fn timeout,
		  void *ctx)
{
	int err;

	if (e->nfds == ENGINE_MAX_FDS)
		return -ENOSPC;
	err = epoll_add(e, fd, WAKE_CLIENT, (uint32_t)e->nfds);
	if (err)
		return err;
	e->fds[e->nfds++] = (struct client_fd){ .fd = fd, .ready = ready, .timeout = timeout,
						.ctx = ctx };
	return 0;
}

/* ---- watches ------------------------------------------------------------------ */

/* The ids records give a thread: ours, or its own namespace's (NSpid). */
static void shown_ids(const struct engine_watch_config *wc, pid_t pid, pid_t tid,
		      pid_t *shown_pid, pid_t *shown_tid)
{
	*shown_pid = pid;
	*shown_tid = tid;
	if (!wc->ids_in_own_ns)
		return;
	*shown_pid = procfs_tid_in_own_ns(pid, pid);
	*shown_tid = tid == pid ? *shown_pid : procfs_tid_in_own_ns(pid, tid);
}

static struct engine_watch *watch_by_id(const struct engine *e, uint32_t id)
{
	struct engine_watch *w = id ? e->by_id[id % MAX_WATCHES] : NULL;

	return w && (uint32_t)w->id == id ? w : NULL;
}

static struct engine_thread *thread_at(const struct engine *e, int slot)
{
	return slot >= 0 && slot < MAX_WATCHED_THREADS ? e->by_slot[slot] : NULL;
}

/* The sampler of w's threads, or NULL (w samples nothing). The Austin
 * sampler runs one Austin per process, followed processes included:
 * thread_choose_sampler() bounds how many. */
static struct sampler *thread_sampler(struct engine *e, const struct engine_watch *w)
{
	return w->cfg.sampler < SAMPLER_NONE ? e->samplers[w->cfg.sampler] : NULL;
}

/* Whether t has an Austin of a process followed (not its watch's own). */
static bool has_followed_austin(const struct engine *e, const struct engine_thread *t)
{
	return t->sampler && t->sampler == e->samplers[SAMPLER_AUSTIN] &&
	       t->pid != t->watch->cfg.pid;
}

/* Whether t samples (its process's reader), and whether a gained t does. */
static bool is_sampled(const struct engine *e, const struct engine_thread *t)
{
	(void)e;
	return t->sampler != NULL;
}

static bool is_sampled_gained(const struct engine *e, const struct engine_thread *t)
{
	return is_sampled(e, t) && t->gen;
}

/* A watched thread of pid other than `except` for which match() holds, or
 * NULL. */
static struct engine_thread *other_thread_of(const struct engine *e, pid_t pid,
					     const struct engine_thread *except,
					     bool (*match)(const struct engine *,
							   const struct engine_thread *))
{
	for (int slot = 0; slot < e->slot_hi; slot++) {
		struct engine_thread *t = e->by_slot[slot];

		if (t && t != except && t->pid == pid && match(e, t))
			return t;
	}
	return NULL;
}

/* Whether a watched thread of pid other than `except` has an Austin of a
 * followed process: pid's Austin runs, and counts, already. */
static bool followed_austin_runs(const struct engine *e, pid_t pid,
				 const struct engine_thread *except)
{
	return other_thread_of(e, pid, except, has_followed_austin) != NULL;
}

/* t gets no sampler past a cap: its events say why, and so does stderr,
 * once per cap (*warned). */
static void thread_unsampled(struct engine_thread *t, const char *why, bool *warned)
{
	t->sampler = NULL;
	t->counted = false;
	t->no_stacks = why;
	if (!*warned) {
		*warned = true;
		log_warn("%s (said once)", why);
	}
}

/* Set t (not yet in by_slot) to sample, or not, as the caps allow: at most
 * MAX_SAMPLED_GAINED gained processes, MAX_AUSTINS_FOLLOWED followed
 * processes with an Austin. A thread of a process already sampled shares
 * its reader and its place. Past either cap, t has no sampler and says
 * why, and so does stderr, once. */
static void thread_choose_sampler(struct engine *e, struct engine_thread *t)
{
	t->sampler = thread_sampler(e, t->watch);
	if (!t->sampler)
		return;
	if (t->gen && !other_thread_of(e, t->pid, NULL, is_sampled)) {
		if (e->sampled_gained >= MAX_SAMPLED_GAINED) {
			thread_unsampled(t, TOO_MANY_SAMPLED, &e->warned_sampled);
			return;
		}
		t->counted = true;
	}
	if (!has_followed_austin(e, t) || followed_austin_runs(e, t->pid, NULL))
		return;
	if (e->austins_followed >= MAX_AUSTINS_FOLLOWED) {
		thread_unsampled(t, TOO_MANY_AUSTINS, &e->warned_austins);
		return;
	}
	e->austins_followed++;
}

static void thread_free(struct engine *e, struct engine_thread *t)
{
	if (!t)
		return;
	/* The Austin sampler stops and reaps a process's Austin as its last
	 * watched thread goes. */
	if (t->sampler)
		sampler_unwatch(t->sampler, t->slot);
	if (has_followed_austin(e, t) && !followed_austin_runs(e, t->pid, t))
		e->austins_followed--;
	if (t->counted) {
		/* Another gained thread of the process, if any, takes its place. */
		struct engine_thread *heir = other_thread_of(e, t->pid, t, is_sampled_gained);

		if (heir)
			heir->counted = true;
		else
			e->sampled_gained--;
	}
	if (t->exited_round)
		e->exited--;
	if (t->watch->own == t)
		t->watch->own = NULL;
	e->by_slot[t->slot] = NULL;
	while (e->slot_hi > 0 && !e->by_slot[e->slot_hi - 1])
		e->slot_hi--;
	free(t);
}

/* Watch thread tid of pid in slot (generation gen; 0: the engine's own
 * slot) for w: its sampler too. 0 or -errno. */
static int thread_new(struct engine *e, struct engine_watch *w, int slot, uint32_t gen,
		      pid_t pid, pid_t tid, struct engine_thread **out)
{
	struct engine_thread *t;
	int err;

	if (slot < 0 || slot >= MAX_WATCHED_THREADS)
		return -EINVAL;
	/* The slot's previous thread exited (its notice came, or was lost). */
	thread_free(e, e->by_slot[slot]);
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	*t = (struct engine_thread){ .watch = w, .slot = slot, .gen = gen, .pid = pid, .tid = tid };
	shown_ids(&w->cfg, pid, tid, &t->shown_pid, &t->shown_tid);
	thread_choose_sampler(e, t);
	/* In its slot before its sampler starts, which may tell news of
	 * the slot at once (an Austin that cannot start). */
	e->by_slot[slot] = t;
	if (slot >= e->slot_hi)
		e->slot_hi = slot + 1;
	e->sampled_gained += t->counted;
	if (t->sampler) {
		err = sampler_watch(t->sampler, slot, pid, tid, ms_to_ns(w->cfg.threshold_ms));
		if (err) {
			thread_free(e, t);
			return err;
		}
	}
	if (out)
		*out = t;
	return 0;
}

/* The name of t's process, read again once it may have changed. */
static const char *thread_name(struct engine_thread *t)
{
	uint64_t now = mono_now_ns();

	if (!t->name_read_ns || now - t->name_read_ns >= NAME_TTL_NS) {
		procfs_comm(t->pid, t->name, sizeof(t->name));
		t->name_read_ns = now;
	}
	return t->name;
}

/* What a watch asks of the detector, as far as this kernel can: said once
 * when it cannot follow. */
static uint32_t watch_flags(struct engine *e, const struct engine_watch_config *wc)
{
	uint32_t flags = (wc->histogram ? WATCH_F_HISTOGRAM : 0) |
			 (wc->follow ? WATCH_F_FOLLOW : 0) |
			 (wc->all_threads ? WATCH_F_ALL_THREADS : 0);
	uint32_t loop_hist = wc->loop_hist ? WATCH_F_LOOP_HIST : 0;

	if (!(flags & (WATCH_F_FOLLOW | WATCH_F_ALL_THREADS)) || detector_can_follow(e->det))
		return flags | loop_hist;
	if (!e->warned_no_follow) {
		e->warned_no_follow = true;
		log_warn("this kernel cannot follow processes and threads (BPF programs there have no task storage, or no BTF tracepoints): watching only PID %d's %s thread, not %s%s%s",
			 wc->pid, wc->tid && wc->tid != wc->pid && !wc->all_threads ? "chosen" : "main",
			 wc->follow ? "the processes it starts" : "",
			 wc->follow && wc->all_threads ? " or " : "",
			 wc->all_threads ? "its other threads" : "");
	}
	return (flags & WATCH_F_HISTOGRAM) | loop_hist;
}

int engine_watch(struct engine *e, const struct engine_watch_config *wc, int pidfd,
		 struct engine_watch **out)
{
	struct watch_spec spec = { .threshold_ns = ms_to_ns(wc->threshold_ms) };
	struct engine_watch *w;
	int slot = -1, err;

	w = calloc(1, sizeof(*w));
	if (!w) {
		err = -ENOMEM;
		goto fail;
	}
	w->cfg = *wc;
	if (!w->cfg.tid)
		w->cfg.tid = w->cfg.pid;
	w->pidfd = -1;
	if (wc->sampler != SAMPLER_NONE &&
	    (wc->sampler > SAMPLER_NONE || !e->samplers[wc->sampler])) {
		err = -EINVAL;
		goto fail;
	}
	/* Pin the process first: its exit is what ends the watch. */
	w->pidfd = pidfd >= 0 ? pidfd : sys_pidfd_open(w->cfg.pid, 0);
	pidfd = -1;
	if (w->pidfd < 0) {
		err = -errno;
		goto fail;
	}
	spec.flags = watch_flags(e, &w->cfg);
	w->cfg.follow = spec.flags & WATCH_F_FOLLOW;
	w->cfg.all_threads = spec.flags & WATCH_F_ALL_THREADS;
	spec.pid = w->cfg.pid;
	spec.tid = w->cfg.all_threads ? 0 : w->cfg.tid;
	if (w->cfg.all_threads)
		w->cfg.tid = w->cfg.pid;
	err = detector_add_watch(e->det, &spec, &slot);
	if (err < 0)
		goto fail;
	w->id = err;
	e->by_id[(uint32_t)w->id % MAX_WATCHES] = w;
	if (slot >= 0) {
		err = thread_new(e, w, slot, 0, w->cfg.pid, w->cfg.tid, &w->own);
		if (err)
			goto fail;
	}
	/* The descendants it has now; those it starts from now on the kernel
	 * side follows. */
	if (w->cfg.follow) {
		err = detector_add_descendants(e->det, w->id, w->cfg.pid);
		if (err < 0) {
			err = err == -ENOENT ? -ESRCH : err;
			goto fail;
		}
		if (err > 0)
			log_info("watching the %d processes PID %d has started", err, w->cfg.pid);
	}
	err = epoll_add(e, w->pidfd, WAKE_WATCH, (uint32_t)w->id);
	if (err)
		goto fail;
	*out = w;
	return 0;

fail:
	if (pidfd >= 0)
		close(pidfd);
	if (w && w->id > 0) {
		detector_remove_watch(e->det, w->id);
		thread_free(e, w->own);
		e->by_id[(uint32_t)w->id % MAX_WATCHES] = NULL;
	}
	if (w && w->pidfd >= 0)
		close(w->pidfd);
	free(w);
	return err;
}

void engine_unwatch(struct engine *e, struct engine_watch *w)
{
	if (!w)
		return;
	detector_remove_watch(e->det, w->id);
	for (int slot = 0; slot < e->slot_hi; slot++)
		if (e->by_slot[slot] && e->by_slot[slot]->watch == w)
			thread_free(e, e->by_slot[slot]);
	epoll_ctl(e->epfd, EPOLL_CTL_DEL, w->pidfd, NULL);
	close(w->pidfd);
	e->by_id[(uint32_t)w->id % MAX_WATCHES] = NULL;
	free(w);
}

/* Whether w's process has exited: its pidfd is readable. (A wake-up
 * names a watch id, and a hook may have unwatched it since.) */
static bool process_exited(const struct engine_watch *w)
{
	struct pollfd p = { .fd = w->pidfd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* Tell the client w is gone, then unwatch it. */
static void gone(struct engine *e, struct engine_watch *w, enum engine_gone why)
{
	if (e->hooks.gone)
		e->hooks.gone(e->client, w->cfg.ctx, why);
	engine_unwatch(e, w);
}

/* What the kernel side did on its own: threads come and go. */
static void on_task(void *ctx, const struct task_notice *n)
{
	struct engine *e = ctx;
	struct engine_watch *w = watch_by_id(e, n->watch);
	struct engine_thread *t;
	int err;

	if (!w)
		return;
	switch (n->kind) {
	case TASK_NOTICE_THREAD_ADDED:
		err = thread_new(e, w, (int)n->slot, n->gen, (pid_t)n->pid, (pid_t)n->tid, NULL);
		if (err)
			log_warn("cannot watch thread %u of PID %u: %s", n->tid, n->pid, strerror(-err));
		else
			log_info("watching thread %u of PID %u", n->tid, n->pid);
		break;
	case TASK_NOTICE_THREAD_GONE:
		t = thread_at(e, (int)n->slot);
		/* The engine's own slot stays until the watch ends. */
		if (!t || !t->gen || t->gen != n->gen || t->exited_round)
			break;
		t->exited_round = e->round;
		e->exited++;
		break;
	case TASK_NOTICE_PROCESS_ADDED:
		log_info("following PID %u, started by PID %u", n->pid, n->ppid);
		break;
	case TASK_NOTICE_PROCESS_EXEC:
		for (int slot = 0; slot < e->slot_hi; slot++)
			if (e->by_slot[slot] && e->by_slot[slot]->pid == (pid_t)n->pid)
				e->by_slot[slot]->name_read_ns = 0;
		break;
	default:
		break;
	}
}

/* ---- privileges --------------------------------------------------------------- */

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

/* Whether watching a thread (a BPF map update) needs more than the
 * effective set has now: kernels before 6.5 check CAP_BPF on every one. */
static bool map_update_needs_caps(struct engine *e)
{
	struct watch_spec probe = { .pid = PROBE_TID, .threshold_ns = UINT64_MAX };
	int id = detector_add_watch(e->det, &probe, NULL);

	if (id < 0)
		return true;
	detector_remove_watch(e->det, id);
	return false;
}

void engine_drop_privileges(struct engine *e, struct caps_run_needs needs)
{
	struct gap_stats probe;
	uint64_t permitted, keep;
	bool bounding;
	char names[256];
	int ret;

	needs.read_stacks = e->samplers[SAMPLER_BUILTIN] != NULL;
	needs.austin = e->samplers[SAMPLER_AUSTIN] != NULL;
	needs.kernel_has_cap_bpf = caps_kernel_has(CAP_BPF);
	if (caps_permitted(&permitted))
		return;
	/* What the rest of the run does, asked with the effective set it
	 * will have. */
	if (!caps_set_effective(caps_run_keep(&needs) & permitted)) {
		if (e->cfg.stats && detector_read_stats(e->det, &probe) == -EPERM)
			needs.map_access = true;
		if (needs.find_processes && map_update_needs_caps(e)) {
			needs.map_access = true;
			log_info("this kernel checks capabilities on BPF map updates: keeping %s",
				 needs.kernel_has_cap_bpf ? "CAP_BPF" : "CAP_SYS_ADMIN");
		}
		needs.log_reopen_dac = e->log_file && log_reopen_needs_dac(e->log_file);
		/* Files replaced in a directory need the same as a log
		 * file created there. */
		for (int i = 0; i < e->noutput_dirs; i++)
			if (faccessat(AT_FDCWD, e->output_dirs[i], W_OK | X_OK, AT_EACCESS))
				needs.log_reopen_dac = true;
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

/* ---- events ------------------------------------------------------------------- */

void engine_stop(struct engine *e, enum engine_stop why)
{
	if (e->stopped == ENGINE_RUNNING)
		e->stopped = why;
}

static void fail(struct engine *e)
{
	e->failed = true;
	engine_stop(e, ENGINE_ERROR);
}

/*
 * A gap of t (of watch w). t is NULL for a gap whose thread is no longer
 * known (its slot was given to another thread before the gap came): it is
 * still reported, with the ids the kernel gave, without stacks.
 */
static void report_gap(struct engine *e, struct engine_watch *w, struct engine_thread *t,
		       const struct gap_event *g)
{
	struct stack_set *stacks = NULL;
	struct event_anatomy anatomy;
	struct blocking_event ev = {
		.start_ns = g->start_ns,
		.end_ns = g->end_ns,
		.duration_ms = (double)(g->end_ns - g->start_ns) / 1e6,
		.process_name = "",
	};

	/* The kernel's own clock of the event keeps a rate limit exact. */
	if (e->hooks.admit && !e->hooks.admit(e->client, w->cfg.ctx, g->end_ns)) {
		e->summary.suppressed_event_count++;
		return; /* its samples, if any, are overwritten by later gaps */
	}
	ev.number = e->summary.event_count + 1;
	if (t) {
		ev.pid = t->shown_pid;
		ev.tid = t->shown_tid;
		ev.process_name = thread_name(t);
	} else {
		shown_ids(&w->cfg, (pid_t)g->pid, (pid_t)g->tid, &ev.pid, &ev.tid);
	}
	ev.wall_start = mono_to_wall(g->start_ns);
	ev.timestamp_s = since_start_s(e, g->start_ns);
	ev.is_error = ev.duration_ms >= w->cfg.error_threshold_ms;
	ev.meta = w->cfg.meta;
	ev.sampler = w->cfg.sampler;
	if (t && t->sampler)
		stacks = sampler_take(t->sampler, t->slot, g->start_ns);
	else if (t && t->no_stacks)
		stacks = stack_set_unavailable(0, t->no_stacks);
	else if (!t && w->cfg.sampler != SAMPLER_NONE)
		stacks = stack_set_unavailable(0, "its thread exited before the block was collected");
	ev.stacks = stacks;
	if (anatomy_from_kernel(&anatomy, &g->anatomy, g->end_ns - g->start_ns)) {
		/* The fds are the thread's process's, named in our /proc. */
		anatomy_describe_fds(&anatomy, t ? t->pid : (pid_t)g->pid);
		ev.anatomy = &anatomy;
	}
	/* Whether it waited for the GIL is the kernel's to say (gil_wait.h). */
	if (stacks)
		gil_wait_confirm(&stacks->gil, ev.anatomy, ev.duration_ms);
	summary_add_event(&e->summary, &ev);
	reporter_event(&e->reporter, &ev);
	if (e->hooks.event)
		e->hooks.event(e->client, w->cfg.ctx, &ev);
	stack_set_free(stacks);
}

static void on_gap(void *ctx, const struct gap_event *g)
{
	struct engine *e = ctx;
	struct engine_thread *t = thread_at(e, (int)g->slot);
	struct engine_watch *w = watch_by_id(e, g->watch);

	if (!w)
		return;
	if (t && (t->watch != w || (t->gen && t->gen != g->gen)))
		t = NULL;
	report_gap(e, w, t, g);
}

/*
 * The anatomy of t's block b so far into *a, b's time becoming the time
 * it was read (the report's, a little after its stack's); false if gaps
 * have no anatomy here (as the events then have none), or it could not be
 * read while the block was still open.
 */
static bool block_so_far(struct engine *e, const struct engine_thread *t,
			 struct still_blocked *b, struct event_anatomy *a)
{
	struct anatomy_slot as;
	uint64_t read_ns;
	uint32_t gen;

	if (detector_read_anatomy(e->det, t->slot, b->start_ns, &as, &gen, &read_ns))
		return false;
	if (read_ns > b->now_ns) {
		b->now_ns = read_ns;
		b->blocked_ms = (double)(read_ns - b->start_ns) / 1e6;
	}
	return anatomy_so_far(a, &as, b->start_ns, gen, b->now_ns);
}

static void on_still_blocked(void *ctx, int slot, uint64_t gap_start_ns, uint64_t now_ns,
			     struct stack_set *current)
{
	struct engine *e = ctx;
	struct engine_thread *t = thread_at(e, slot);
	struct engine_watch *w;
	struct event_anatomy anatomy;
	struct still_blocked b = {
		.start_ns = gap_start_ns,
		.now_ns = now_ns,
		.blocked_ms = (double)(now_ns - gap_start_ns) / 1e6,
		.stacks = current,
	};

	if (!t)
		return;
	w = t->watch;
	b.pid = t->shown_pid;
	b.tid = t->shown_tid;
	b.process_name = thread_name(t);
	b.wall_start = mono_to_wall(gap_start_ns);
	b.timestamp_s = since_start_s(e, gap_start_ns);
	b.meta = w->cfg.meta;
	if (block_so_far(e, t, &b, &anatomy)) {
		b.anatomy = &anatomy;
		/* One description per fd per report, as for an event. */
		anatomy_describe_fds(&anatomy, t->pid);
	}
	b.is_error = b.blocked_ms >= w->cfg.error_threshold_ms;
	/* Whether it waits for the GIL is the kernel's to say, as for an
	 * event (gil_wait.h), of the block so far. */
	if (current)
		gil_wait_confirm(&current->gil, b.anatomy, b.blocked_ms);
	reporter_still_blocked(&e->reporter, &b);
	if (e->hooks.still_blocked)
		e->hooks.still_blocked(e->client, w->cfg.ctx, &b);
}

static int dispatch(struct engine *e)
{
	static const struct detector_handlers handlers = { .gap = on_gap, .task = on_task };

	e->round++;
	return detector_dispatch(e->det, &handlers, e);
}

/* Free the threads whose THREAD_GONE came before round `before`. */
static void free_exited(struct engine *e, uint64_t before)
{
	for (int slot = e->slot_hi - 1; slot >= 0 && e->exited; slot--) {
		struct engine_thread *t = e->by_slot[slot];

		if (t && t->exited_round && t->exited_round < before)
			thread_free(e, t);
	}
}

/*
 * Report every event waiting, and take in the threads that came and went.
 * A thread's last gaps were queued before its THREAD_GONE, but in the other
 * ring: those queued while the notices were read come in one more round,
 * so an exited thread is freed (with its samples) only after that one.
 */
static void drain_events(struct engine *e)
{
	int n = dispatch(e);

	if (n >= 0 && e->exited) {
		uint64_t round = e->round;

		n = dispatch(e);
		free_exited(e, round + 1);
	}
	if (n < 0 && n != -EINTR) {
		log_error("reading events from the kernel failed: %s", strerror(-n));
		fail(e);
	}
}

/* ---- the loop ----------------------------------------------------------------- */

static int stats_snapshot(struct engine *e, struct stats_snapshot *snap)
{
	struct gap_stats sum;
	int err = detector_read_stats(e->det, &sum);

	if (err)
		return err;
	hist_snapshot(&sum, (double)(mono_now_ns() - e->info.start_mono_ns) / 1e9, snap);
	return 0;
}

static void drain_fd(int fd)
{
	uint64_t expirations;

	while (read(fd, &expirations, sizeof(expirations)) < 0 && errno == EINTR)
		;
}

/* Processes and threads that were to be followed but found no room (at
 * most DETECTOR_FOLLOW_LIMIT followed, MAX_WATCHED_THREADS slots): said
 * as they happen, at most once a second. */
static void warn_overflow(struct engine *e)
{
	struct detector_counts c;
	uint64_t overflow;

	detector_read_counts(e->det, &c);
	overflow = c.follow_overflow + c.slot_overflow;
	if (overflow <= e->overflow_reported)
		return;
	log_warn("%llu processes or threads not watched: at most %d are followed and %d threads "
		 "watched at once", (unsigned long long)(overflow - e->overflow_reported),
		 DETECTOR_FOLLOW_LIMIT, MAX_WATCHED_THREADS);
	e->overflow_reported = overflow;
}

/* Once a second: stats frame, loss warning, watched threads still there. */
static void on_tick(struct engine *e)
{
	struct stats_snapshot snap;
	uint64_t lost;

	drain_fd(e->tickfd);
	if (e->cfg.stats && !stats_snapshot(e, &snap))
		reporter_stats(&e->reporter, &snap);

	lost = detector_lost_events(e->det);
	if (lost > e->lost_reported) {
		log_warn("%llu events lost: the ring buffer was full (raise -t to report fewer)",
			 (unsigned long long)(lost - e->lost_reported));
		e->lost_reported = lost;
	}
	warn_overflow(e);

	/* A thread asked for other than the main one can end while its
	 * process lives on: its pidfd does not say so. */
	for (int slot = 0; slot < e->slot_hi; slot++) {
		struct engine_thread *t = e->by_slot[slot];

		if (t && t->watch->own == t && t->tid != t->pid &&
		    !procfs_is_thread_of(t->pid, t->tid))
			gone(e, t->watch, ENGINE_GONE_THREAD);
	}
	reporter_tick(&e->reporter);
	if (e->hooks.tick)
		e->hooks.tick(e->client);
}

static void on_signal(struct engine *e)
{
	struct signalfd_siginfo si;

	while (read(e->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			reporter_reopen(&e->reporter);
			break;
		case SIGINT:
		case SIGTERM:
			if (e->hooks.stop_signal &&
			    e->hooks.stop_signal(e->client, (int)si.ssi_signo, si.ssi_code))
				break;
			log_info("stopping on %s", strsignal((int)si.ssi_signo));
			engine_stop(e, ENGINE_SIGNAL);
			break;
		default:
			break; /* SIGCHLD: pidfds tell */
		}
	}
}

/* How long the loop may sleep: until the deadline, or a client's timer. */
static int sleep_ms(struct engine *e)
{
	long timeout = -1;

	if (e->deadline_ns) {
		uint64_t now = mono_now_ns(), left_ms;

		left_ms = now < e->deadline_ns ? (e->deadline_ns - now + NS_PER_MS - 1) / NS_PER_MS : 0;
		timeout = left_ms < MAX_SLEEP_MS ? (long)left_ms : MAX_SLEEP_MS;
	}
	for (int i = 0; i < e->nfds; i++) {
		long t = e->fds[i].timeout ? e->fds[i].timeout(e->fds[i].ctx) : -1;

		if (t >= 0 && (timeout < 0 || t < timeout))
			timeout = t > MAX_SLEEP_MS ? MAX_SLEEP_MS : t;
	}
	return (int)timeout;
}

void engine_run(struct engine *e)
{
	struct epoll_event ev[32];
	int n;

	while (e->stopped == ENGINE_RUNNING) {
		if (e->deadline_ns && mono_now_ns() >= e->deadline_ns) {
			engine_stop(e, ENGINE_DURATION);
			break;
		}
		n = epoll_wait(e->epfd, ev, 32, sleep_ms(e));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("epoll_wait: %m");
			fail(e);
			break;
		}
		/* Events first: a process that ends right after blocking must
		 * still have that block reported before it is gone. */
		drain_events(e);
		for (int i = 0; i < n; i++) {
			enum wake what = (enum wake)(uint32_t)ev[i].data.u64;
			uint32_t index = (uint32_t)(ev[i].data.u64 >> 32);
			struct engine_watch *w;

			switch (what) {
			case WAKE_SIGNAL:
				on_signal(e);
				break;
			case WAKE_TICK:
				on_tick(e);
				break;
			case WAKE_SAMPLER:
				sampler_ready(e->samplers[index], on_still_blocked, e);
				break;
			case WAKE_WATCH:
				w = watch_by_id(e, index);
				if (w && process_exited(w))
					gone(e, w, ENGINE_GONE_PROCESS);
				break;
			case WAKE_CLIENT:
				if (!e->fds[index].timeout)
					e->fds[index].ready(e->fds[index].ctx);
				break;
			default:
				break;
			}
		}
		/* Libraries with timers of their own run after every wake-up. */
		for (int i = 0; i < e->nfds; i++)
			if (e->fds[i].timeout)
				e->fds[i].ready(e->fds[i].ctx);
	}
}

/* ---- start and end ------------------------------------------------------------ */

void engine_start(struct engine *e, pid_t pid, pid_t tid)
{
	uuid4(e->info.id, sizeof(e->info.id));
	e->info.pid = pid;
	e->info.tid = tid;
	e->info.follow = e->cfg.follow && detector_can_follow(e->det);
	e->info.all_threads = e->cfg.all_threads && detector_can_follow(e->det);
	reporter_session_start(&e->reporter);
	e->started = true;
}

/* The summary's termination_reason and status for each way a run ends
 * (never running: it did not get as far as a stop). */
static const struct {
	const char *reason, *status;
} stop_names[] = {
	[ENGINE_RUNNING] = { "runtime_error", "failed" },
	[ENGINE_TARGET_EXIT] = { "target_exit", "completed" },
	[ENGINE_TARGET_FAILED] = { "target_exit", "child_failed" },
	[ENGINE_DURATION] = { "duration", "completed" },
	[ENGINE_SIGNAL] = { "signal", "interrupted" },
	[ENGINE_ERROR] = { "runtime_error", "failed" },
};

void engine_end(struct engine *e)
{
	struct stats_snapshot stats;
	bool have_stats = false;

	if (!e->started || e->ended)
		return;
	e->ended = true;
	drain_events(e);
	if (e->cfg.stats && !stats_snapshot(e, &stats))
		have_stats = true;
	if (e->hooks.closing)
		e->hooks.closing(e->client);
	e->summary.duration_s = (double)(mono_now_ns() - e->info.start_mono_ns) / 1e9;
	e->summary.lost_event_count = detector_lost_events(e->det);
	e->summary.termination_reason = stop_names[e->stopped].reason;
	e->summary.status = stop_names[e->stopped].status;
	reporter_session_end(&e->reporter, &e->summary, have_stats ? &stats : NULL);
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	reporter_destroy(&e->reporter);
	summary_release(&e->summary);
	for (int i = 0; i < MAX_WATCHES; i++)
		engine_unwatch(e, e->by_id[i]);
	for (int k = 0; k < SAMPLER_NONE; k++)
		sampler_free(e->samplers[k]);
	detector_free(e->det);
	if (e->epfd >= 0)
		close(e->epfd);
	if (e->tickfd >= 0)
		close(e->tickfd);
	if (e->sigfd >= 0)
		close(e->sigfd);
	free(e);
}

/* ---- what a run tells its client ---------------------------------------------- */

enum engine_stop engine_stopped(const struct engine *e)
{
	return e->stopped;
}

bool engine_failed(const struct engine *e)
{
	return e->failed;
}

uint64_t engine_event_count(const struct engine *e)
{
	return e->summary.event_count;
}

uint64_t engine_error_event_count(const struct engine *e)
{
	return e->summary.error_event_count;
}

int engine_loop_hist(const struct engine *e, const struct engine_watch *w,
		     struct loop_hist *out)
{
	return e->det && w ? detector_read_loop_hist(e->det, w->id, out) : -ENOENT;
}

uint64_t engine_lost_events(const struct engine *e)
{
	return e->det ? detector_lost_events(e->det) : 0;
}

uint64_t engine_losses(const struct engine *e)
{
	return engine_lost_events(e) + reporter_dropped_records(&e->reporter);
}

const struct session_info *engine_session(const struct engine *e)
{
	return &e->info;
}

void engine_report(struct engine *e, const cJSON *rec)
{
	reporter_record(&e->reporter, rec);
}
