// SPDX-License-Identifier: Apache-2.0
/*
 * sampler_builtin.c - the built-in sampler. It samples only watched
 * threads, and only while they are blocked: on each tick it reads every
 * watched thread's "out of epoll since" time from the detector (a memory
 * read, no syscall) and samples the threads whose current gap has lasted at
 * least a quarter of their threshold (its sampling point). Where the
 * detector can, the kernel wakes it when a gap reaches its sampling point,
 * and an idle loop, or one whose callbacks are all short, costs no wake-up
 * at all; elsewhere it polls, a few wake-ups per threshold (arm_timer()).
 *
 * Samples are attributed to gaps exactly: a sample counts for the gap whose
 * start time the detector showed both before and after the read, and an
 * event collects the samples of the gap with its own start_ns. No time
 * windows, no guessing.
 *
 * A process is read through one reader, however many of its threads are
 * watched (--all-threads on a server with a loop per thread): a reader
 * costs an ELF parse to open and its caches while open, and a process that
 * cannot be read is said once. Its threads share the reader's open and
 * retry schedule (struct target_process); what is per thread (its samples,
 * why its gaps have none) stays in struct target.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cpython/pygil.h"
#include "cpython/pyreader.h"
#include "cpython/pytask.h"
#include "log.h"
#include "procfs.h"
#include "sampler.h"
#include "tasks.h"
#include "timeutil.h"

/* Retry opening a target's interpreter after 20 ms, doubling up to 1 s: a
 * launched interpreter becomes readable within milliseconds of starting,
 * and its first block may come right after. */
#define OPEN_RETRY_MIN_NS 20000000ULL
#define OPEN_RETRY_MAX_NS 1000000000ULL
/* Say that stacks cannot be read only once this has been failing this long
 * (a launched interpreter needs a moment to start). */
#define OPEN_COMPLAIN_AFTER_NS 3000000000ULL

/* Why the samples of one gap gave no stack: the last failure seen. */
struct gap_failure {
	uint64_t gap_start_ns; /* 0 = none */
	unsigned tries;        /* samples that failed */
	int err;               /* -errno of the last */
};

/* A watched process: its reader, shared by its watched threads. */
struct target_process {
	pid_t pid;
	unsigned threads;                /* watched threads that point here */
	struct py_process *proc;         /* NULL while not open */
	bool gone;                       /* the process has exited */
	uint64_t first_open_attempt_ns;
	uint64_t next_open_ns;
	uint64_t open_backoff_ns;
	bool complained;                 /* that it cannot be read, once */
	int open_err;                    /* last failed open: -errno, 0 = none */
	char open_why[256];              /* ... and what it said */
	struct target_process *next;     /* in builtin_sampler.processes */
};

/* A watched thread. */
struct target {
	struct sampled_thread thread;
	struct target_process *process;  /* its process; one reference */
	struct gap_failure failed[GAPS_KEPT];
	/* Woken by the kernel: the sampling point of a gap that was already
	 * open when the thread was watched (0: none). The kernel's kick for
	 * it may have come before the slot was wanted (a followed worker's
	 * first callback blocks before its thread is watched here), so it is
	 * looked at once without waiting for a wake. */
	uint64_t first_look_ns;
};

struct builtin_sampler {
	struct sampler base;
	struct detector *det;
	uint64_t interval_ns;
	int timerfd;
	/* Woken by the kernel: the detector's wake fd and an epoll set of it
	 * and timerfd, which is then our fd; -1 when polling. */
	int wakefd;
	int epfd;
	/* Indexed by detector slot; allocated while watched. */
	struct target *targets[MAX_WATCHED_THREADS];
	int nslots; /* one past the highest slot ever watched */
	struct target_process *processes; /* those of the watched threads */
	struct py_stack scratch;         /* large: kept off the stack */
	struct py_task task;             /* the running task, read with each sample */
	struct py_stack holder;          /* the GIL holder's stack, read with each sample */
	uint64_t gil_addr;               /* ... and where its GIL is */
};

/* Whether the kernel wakes s when a gap reaches its sampling point. */
static bool woken_by_kernel(const struct builtin_sampler *s)
{
	return s->epfd >= 0;
}

/* Start p's open schedule and complaints afresh, as for a new process. */
static void process_restart(struct target_process *p)
{
	p->gone = false;
	p->first_open_attempt_ns = 0;
	p->next_open_ns = 0;
	p->open_backoff_ns = OPEN_RETRY_MIN_NS;
	p->complained = false;
	p->open_err = 0;
	p->open_why[0] = '\0';
}

/*
 * A reference to the process pid, for a thread of it being watched: the one
 * its other watched threads share, or a new one (not open yet). NULL when
 * out of memory.
 * A process found gone has exited while threads of it were still watched,
 * so the thread now watched is of a new process that got the same PID:
 * its reader is opened afresh rather than the PID being taken for gone
 * forever. (One not seen gone yet whose PID was reused meanwhile has a
 * reader bound to the old process: its next read says so, -ESRCH, and
 * sample_target() reopens it, for the new one.)
 */
static struct target_process *process_get(struct builtin_sampler *s, pid_t pid)
{
	struct target_process *p;

	for (p = s->processes; p; p = p->next)
		if (p->pid == pid)
			break;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		p->pid = pid;
		process_restart(p);
		p->next = s->processes;
		s->processes = p;
	} else if (p->gone) {
		process_restart(p);
	}
	p->threads++;
	return p;
}

/* Drop a reference to p; the last closes its reader. Accepts NULL. */
static void process_put(struct builtin_sampler *s, struct target_process *p)
{
	struct target_process **pp;

	if (!p || --p->threads)
		return;
	for (pp = &s->processes; *pp != p; pp = &(*pp)->next)
		;
	*pp = p->next;
	py_process_close(p->proc);
	free(p);
}

static void target_free(struct builtin_sampler *s, struct target *t)
{
	if (!t)
		return;
	process_put(s, t->process);
	sampled_thread_clear(&t->thread);
	free(t);
}

static void builtin_destroy(struct sampler *base)
{
	struct builtin_sampler *s = (struct builtin_sampler *)base;
	struct detector_counts c;

	if (woken_by_kernel(s)) {
		detector_read_counts(s->det, &c);
		log_info("the kernel set %llu wake timers and woke the sampler %llu times "
			 "(%llu wakes failed)", (unsigned long long)c.wake_arms,
			 (unsigned long long)c.wakes_sent, (unsigned long long)c.wakes_failed);
	}
	for (int i = 0; i < s->nslots; i++)
		target_free(s, s->targets[i]);
	if (s->timerfd >= 0)
		close(s->timerfd);
	if (s->epfd >= 0)
		close(s->epfd);
	free(s);
}

/*
 * Wake up only when there may be work: every interval while some watched
 * thread is in a gap past its sampling point; a target not yet opened is
 * retried on its own schedule. Polling, also when the youngest open gap
 * reaches its sampling point, else after a quarter of the smallest
 * threshold (a gap that opens meanwhile is then first sampled between a
 * quarter and half of its threshold): an idle loop costs 4/threshold
 * wake-ups a second rather than 1/interval. Woken by the kernel, nothing
 * else: the timer stays off until the kernel's next wake.
 */
static void arm_timer(struct builtin_sampler *s, uint64_t now)
{
	const uint64_t never = UINT64_MAX;
	uint64_t next = woken_by_kernel(s) ? never : now + 1000000000ULL;
	uint64_t soonest = now + s->interval_ns;
	struct itimerspec its = { 0 };

	for (int slot = 0; slot < s->nslots; slot++) {
		const struct target *t = s->targets[slot];
		const struct target_process *p;
		uint64_t gap, due;

		if (!t)
			continue;
		p = t->process;
		gap = detector_gap_open_since(s->det, slot);
		due = (gap ? gap : now) + WAKE_SAMPLING_POINT(t->thread.threshold_ns);
		if (woken_by_kernel(s) && (!gap || due > now))
			due = never; /* the kernel wakes us for it */
		if (t->first_look_ns && t->first_look_ns < due)
			due = t->first_look_ns;
		if (!p->proc && !p->gone && p->next_open_ns < due)
			due = p->next_open_ns;
		if (due < next)
			next = due;
	}
	if (next != never) {
		if (next < soonest)
			next = soonest;
		its.it_value.tv_sec = next / 1000000000ULL;
		its.it_value.tv_nsec = next % 1000000000ULL;
	}
	/* it_value zero: off */
	timerfd_settime(s->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int builtin_watch(struct sampler *base, int slot, pid_t pid, pid_t tid,
			 uint64_t threshold_ns)
{
	struct builtin_sampler *s = (struct builtin_sampler *)base;
	struct target *t;
	uint64_t gap;

	if (slot < 0 || slot >= MAX_WATCHED_THREADS)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	/* The process before the slot's previous thread is let go: a slot
	 * watched again for the same process keeps its reader open. */
	t->process = process_get(s, pid);
	if (!t->process) {
		free(t);
		return -ENOMEM;
	}
	target_free(s, s->targets[slot]);
	s->targets[slot] = t;
	if (slot >= s->nslots)
		s->nslots = slot + 1;
	sampled_thread_init(&t->thread, slot, pid, tid, threshold_ns);
	detector_wake_slot(s->det, slot, true);
	gap = detector_gap_open_since(s->det, slot);
	if (gap && woken_by_kernel(s))
		t->first_look_ns = gap + WAKE_SAMPLING_POINT(threshold_ns);
	/* The timer may be set for an idle second: bring it forward so the
	 * new thread's interpreter is opened and its blocks sampled at once. */
	arm_timer(s, mono_now_ns());
	return 0;
}

static void builtin_unwatch(struct sampler *base, int slot)
{
	struct builtin_sampler *s = (struct builtin_sampler *)base;

	if (slot >= 0 && slot < MAX_WATCHED_THREADS) {
		if (s->targets[slot])
			detector_wake_slot(s->det, slot, false);
		target_free(s, s->targets[slot]);
		s->targets[slot] = NULL;
	}
}

static int builtin_fd(const struct sampler *base)
{
	const struct builtin_sampler *s = (const struct builtin_sampler *)base;

	return woken_by_kernel(s) ? s->epfd : s->timerfd;
}

/*
 * Open the interpreter of the process of the thread in slot if it is not
 * open yet; false if not ready. Its other watched threads share what this
 * does: one open attempt per process on its schedule, not one per thread.
 * A failure is said once per process, as a warning: at once for an
 * interpreter this reader cannot read or no permission (that will not
 * change by waiting), after OPEN_COMPLAIN_AFTER_NS for anything else (a
 * launched command takes a moment to exec its interpreter). Every failure
 * is kept for the events (open_why).
 */
static bool ensure_open(struct builtin_sampler *s, int slot, uint64_t now)
{
	struct target_process *p = s->targets[slot]->process;
	char err[sizeof(p->open_why)] = "";
	bool definite;
	int ret;

	if (p->proc)
		return true;
	if (p->gone || now < p->next_open_ns)
		return false;
	if (!p->first_open_attempt_ns)
		p->first_open_attempt_ns = now;
	ret = py_process_open(p->pid, &p->proc, err, sizeof(err));
	if (!ret) {
		log_info("reading Python %s stacks of PID %d", py_process_version(p->proc),
			 p->pid);
		p->open_backoff_ns = OPEN_RETRY_MIN_NS;
		p->open_err = 0;
		return true;
	}
	p->proc = NULL;
	p->open_err = ret;
	snprintf(p->open_why, sizeof(p->open_why), "%s", err[0] ? err : strerror(-ret));
	/*
	 * "No such process" from a process that still exists is a moment
	 * of its exec (a launched command passes through a shell or
	 * unshare on its way to Python, and its maps are empty while the
	 * kernel swaps them): try again like any other failure.
	 */
	if (ret == -ESRCH && !procfs_process_exists(p->pid)) {
		p->gone = true;
		return false;
	}
	p->next_open_ns = now + p->open_backoff_ns;
	if (p->open_backoff_ns < OPEN_RETRY_MAX_NS)
		p->open_backoff_ns *= 2;
	definite = ret == -ENOTSUP || ret == -EPERM;
	if (!p->complained &&
	    (definite || now - p->first_open_attempt_ns >= OPEN_COMPLAIN_AFTER_NS)) {
		p->complained = true;
		sampler_tell(&s->base, slot, SAMPLER_NEWS_FAILURE, 1, p->open_why);
		sampler_warn(&s->base, slot, "cannot read the Python stacks of PID %d: %s; its "
			     "events will have no Python stack", p->pid, p->open_why);
	}
	return false;
}

/* Note a failed sample of the gap that began at gap_start_ns. */
static void note_failure(struct target *t, uint64_t gap_start_ns, int err)
{
	struct gap_failure *f = &t->failed[0];

	for (int i = 0; i < GAPS_KEPT; i++) {
		if (t->failed[i].gap_start_ns == gap_start_ns) {
			f = &t->failed[i];
			break;
		}
		if (t->failed[i].gap_start_ns < f->gap_start_ns)
			f = &t->failed[i]; /* the oldest, to recycle */
	}
	if (f->gap_start_ns != gap_start_ns)
		*f = (struct gap_failure){ .gap_start_ns = gap_start_ns };
	f->tries++;
	f->err = err;
}

/* What a failed sample means, for an event. */
static const char *sample_error(int err)
{
	switch (err) {
	case -ENOENT:
		return "the thread ran no Python code the interpreter knows of (not a Python "
		       "thread, or its interpreter not started yet)";
	case -EAGAIN:
		return "the target changed its stack faster than it could be read";
	case -ESRCH:
		return "the target exited during the block";
	case -ESTALE:
		return "the target exec'ed during the block";
	case -EPERM:
		return "permission to read the target was lost";
	default:
		return strerror(-err);
	}
}

/*
 * Why the gap that began at gap_start_ns has no stack (total: its samples
 * that gave one, 0 here): the stack set the event carries. NULL when out
 * of memory.
 */
static struct stack_set *no_stack(const struct target *t, uint64_t gap_start_ns,
				  const struct builtin_sampler *s)
{
	char why[512];

	for (int i = 0; i < GAPS_KEPT; i++) {
		const struct gap_failure *f = &t->failed[i];

		if (f->gap_start_ns != gap_start_ns || !f->tries)
			continue;
		if (f->err == -ESRCH || f->err == -ESTALE)
			return stack_set_unavailable(0, sample_error(f->err));
		snprintf(why, sizeof(why), "none of the %u sample%s of the block could be read: %s",
			 f->tries, f->tries == 1 ? "" : "s", sample_error(f->err));
		return stack_set_unavailable(0, why);
	}
	if (!t->process->proc && t->process->gone)
		return stack_set_unavailable(0, "the target exited");
	if (!t->process->proc && t->process->open_err)
		return stack_set_unavailable(0, t->process->open_why);
	snprintf(why, sizeof(why), "no sample landed in the block: it ended before the sampler's "
		 "first look, a quarter of the threshold in (%.1f ms; then every %.1f ms)",
		 WAKE_SAMPLING_POINT(t->thread.threshold_ns) / 1e6, s->interval_ns / 1e6);
	return stack_set_unavailable(0, why);
}

/* A sample's frames as a struct stack in frames[PY_MAX_DEPTH]. */
static void stack_of(struct stack *st, const struct py_stack *py)
{
	st->depth = py->depth;
	st->truncated = py->truncated;
	for (int i = 0; i < st->depth; i++)
		st->frames[i] = sampler_frame(py->frames[i].function, py->frames[i].file,
					      py->frames[i].line);
}

/*
 * Who holds the GIL of the thread just sampled: if another thread does,
 * its TID, its stack in s->holder (depth 0 if it could not be read) and
 * the GIL's address in s->gil_addr; else 0. At most one more stack read per sample.
 */
static pid_t read_gil_holder(struct builtin_sampler *s, const struct target *t)
{
	struct py_process *proc = t->process->proc;
	struct py_gil gil;

	s->holder.depth = 0;
	if (py_process_gil(proc, t->thread.tid, &gil) || gil.state != PY_GIL_OTHER)
		return 0;
	py_process_sample(proc, gil.holder_tid, &s->holder);
	s->gil_addr = gil.addr;
	return gil.holder_tid;
}

/*
 * The process's reader read that it exited (-ESRCH) or exec'ed (-ESTALE):
 * close it and reopen it soon (an exec may well start a new interpreter),
 * for every watched thread of it.
 */
static void process_lost(struct target_process *p, int err, uint64_t now)
{
	py_process_close(p->proc);
	p->proc = NULL;
	p->gone = err == -ESRCH && !procfs_process_exists(p->pid);
	p->next_open_ns = now + OPEN_RETRY_MIN_NS;
	p->first_open_attempt_ns = now;
}

/*
 * Sample the thread in slot if its gap is past its sampling point. The
 * frames' strings are the reader's only until its next sample, of any
 * thread of the process: each is interned (stack_of) before the next read.
 */
static void sample_target(struct builtin_sampler *s, int slot, uint64_t now,
			  still_blocked_fn fn, void *ctx)
{
	struct target *t = s->targets[slot];
	struct frame frames[PY_MAX_DEPTH];
	struct stack st = { .frames = frames };
	struct py_process *proc;
	uint64_t before, after;
	pid_t holder = 0;
	int ret;

	before = detector_gap_open_since(s->det, slot);
	if (!before || now < before || now - before < WAKE_SAMPLING_POINT(t->thread.threshold_ns))
		return;
	if (!ensure_open(s, slot, now))
		return;
	proc = t->process->proc;

	ret = py_process_sample(proc, t->thread.tid, &s->scratch);
	/* The task is read inside the same window as the stack, so that it is
	 * attributed to the gap exactly as the stack is. */
	if (!ret)
		ret = py_process_task(proc, t->thread.tid, &s->task);
	if (!ret) {
		/* Interned before the holder's stack is read: that sample may
		 * free the strings of this one. */
		stack_of(&st, &s->scratch);
		task_seen_from_py(&st.task, &s->task);
		holder = read_gil_holder(s, t);
	}
	after = detector_gap_open_since(s->det, slot);
	if (ret && before == after)
		note_failure(t, before, ret);
	if (ret == -ESRCH || ret == -ESTALE)
		process_lost(t->process, ret, now);
	/* The thread went back to epoll during the read: the sample may
	 * straddle two gaps, so it belongs to neither. */
	if (ret || before != after) {
		stack_release(&st);
		return;
	}

	sampled_thread_count(&t->thread, before, now, &st, fn, ctx);
	if (holder) {
		stack_of(&st, &s->holder);
		sampled_thread_count_gil(&t->thread, before, holder, s->gil_addr, &st);
	}
	sampler_tell(&s->base, slot, SAMPLER_NEWS_SAMPLES, 1, NULL);
}


static void builtin_ready(struct sampler *base, still_blocked_fn fn, void *ctx)
{
	struct builtin_sampler *s = (struct builtin_sampler *)base;
	uint64_t expirations, now;

	/* Woken by either the timer or the kernel: both are consumed (the
	 * timer may not have expired: its read fails with EAGAIN), and every
	 * slot looked at. */
	while (read(s->timerfd, &expirations, sizeof(expirations)) < 0 && errno == EINTR)
		;
	detector_wake_drain(s->det);
	now = mono_now_ns();
	for (int slot = 0; slot < s->nslots; slot++) {
		struct target *t = s->targets[slot];

		if (!t)
			continue;
		/* Open eagerly, so that the first block is not spent parsing ELF. */
		if (!t->process->proc)
			ensure_open(s, slot, now);
		if (t->first_look_ns && now >= t->first_look_ns)
			t->first_look_ns = 0; /* looked at: from here on, as any gap */
		sample_target(s, slot, now, fn, ctx);
	}
	arm_timer(s, mono_now_ns());
}

static struct stack_set *builtin_take(struct sampler *base, int slot, uint64_t start_ns)
{
	struct builtin_sampler *s = (struct builtin_sampler *)base;
	struct stack_set *set;
	struct target *t;

	if (slot < 0 || slot >= MAX_WATCHED_THREADS || !s->targets[slot])
		return NULL;
	t = s->targets[slot];
	set = sampled_thread_take(&t->thread, start_ns);
	/* No stack: say why. */
	if (!set)
		set = no_stack(t, start_ns, s);
	for (int i = 0; i < GAPS_KEPT; i++)
		if (t->failed[i].gap_start_ns == start_ns)
			t->failed[i] = (struct gap_failure){ 0 };
	return set;
}

static const struct sampler_ops builtin_ops = {
	.watch = builtin_watch,
	.unwatch = builtin_unwatch,
	.fd = builtin_fd,
	.ready = builtin_ready,
	.take = builtin_take,
	.destroy = builtin_destroy,
};

struct sampler *sampler_builtin_new(struct detector *det, uint64_t interval_ns)
{
	struct itimerspec its = {
		.it_value = { interval_ns / 1000000000ULL, interval_ns % 1000000000ULL },
	};
	struct builtin_sampler *s = calloc(1, sizeof(*s));
	struct epoll_event in = { .events = EPOLLIN };
	const char *why;
	int err;

	if (!s)
		return NULL;
	s->base.ops = &builtin_ops;
	s->det = det;
	s->interval_ns = interval_ns;
	s->epfd = -1;
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->timerfd < 0 || timerfd_settime(s->timerfd, 0, &its, NULL))
		goto fail;
	s->wakefd = detector_wake_fd(det, &why);
	if (s->wakefd >= 0) {
		s->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (s->epfd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->timerfd, &in) ||
		    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wakefd, &in))
			goto fail;
		log_info("the sampler sleeps until the kernel wakes it: when a block reaches "
			 "a quarter of its threshold");
	} else {
		log_info("the sampler polls every quarter of the threshold (no wake-ups from "
			 "the kernel: %s)", why);
	}
	return &s->base;

fail:
	err = errno;
	builtin_destroy(&s->base);
	errno = err;
	return NULL;
}
