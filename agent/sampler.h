/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sampler.h - Python stack samplers: how the engine drives them, and what
 * they share (sampler.c). A sampler watches the same threads as the
 * detector (by detector slot) and hands each blocking event the stacks
 * seen during it.
 *
 * What every sampler does the same way lives in sampler.c, on a struct
 * sampled_thread each keeps per watched thread: counting a sample for the
 * gap it was taken in, deciding when a block is reported as still going
 * on, and giving an event the stacks of its gap. A sampler implements only
 * how it gets samples and which gap each belongs to.
 */
#ifndef BLOCKSNOOP_SAMPLER_H
#define BLOCKSNOOP_SAMPLER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "detector.h"
#include "gap_samples.h"
#include "stacks.h"

/*
 * Called while a block goes on: once it has lasted its threshold and at
 * least STILL_BLOCKED_AFTER_MIN_S, then every STILL_BLOCKED_EVERY_S seconds.
 * `current` holds the most recent stack.
 */
#define STILL_BLOCKED_AFTER_MIN_S 1
#define STILL_BLOCKED_EVERY_S 5
/* When a block of a thread with this threshold is first reported while in
 * progress: once it has lasted its threshold and at least
 * STILL_BLOCKED_AFTER_MIN_S, so that the ordinary sub-second block is
 * reported once, when it ends, and a hung loop within threshold + 1 s. */
static inline uint64_t still_blocked_after_ns(uint64_t threshold_ns)
{
	const uint64_t floor_ns = STILL_BLOCKED_AFTER_MIN_S * 1000000000ULL;

	return threshold_ns > floor_ns ? threshold_ns : floor_ns;
}

/* A block still in progress, with its most recent stack and the GIL
 * holder its samples saw most (gap_samples_to_set()): current stays the
 * caller's, but the callee may confirm or drop current->gil
 * (gil_wait_confirm()). */
typedef void (*still_blocked_fn)(void *ctx, int slot, uint64_t gap_start_ns,
				 uint64_t now_ns, struct stack_set *current);

struct sampler;

/*
 * What a sampler tells its owner besides stacks, for counters (the agent's
 * /metrics): about the thread watched in `slot`, or for a helper that
 * serves a whole process (an Austin), about one of that process's slots.
 * Whatever needed saying on stderr the sampler has said; news is never a
 * second report.
 */
enum sampler_news {
	SAMPLER_NEWS_SAMPLES,  /* n samples were counted for the slot's gaps */
	SAMPLER_NEWS_RESTART,  /* its helper was started again after it ended (why: how) */
	SAMPLER_NEWS_FAILURE,  /* sampling it failed (why; n: 1) */
};

typedef void (*sampler_news_fn)(void *ctx, int slot, enum sampler_news what, uint64_t n,
				const char *why);

/* Who the target of slot is, for the sampler's warnings about it, as its
 * owner names it (the agent: "pod ns/name container c"): written into buf
 * (len > 0, always NUL-terminated), "" for nothing to add. */
typedef void (*sampler_whose_fn)(void *ctx, int slot, char *buf, size_t len);

/* What every stack sampler does; the engine knows only this. */
struct sampler_ops {
	/* Sample thread tid of pid, watched in detector slot `slot`, whose
	 * blocks of threshold_ns matter. 0 or -errno. */
	int (*watch)(struct sampler *s, int slot, pid_t pid, pid_t tid,
		     uint64_t threshold_ns);
	/* Stop sampling a slot and drop its samples. Idempotent. */
	void (*unwatch)(struct sampler *s, int slot);
	/* One fd, fixed for the sampler's life, to wait on for readability. */
	int (*fd)(const struct sampler *s);
	/* The fd is readable: do the work that is due. Never fails; problems
	 * are reported once on stderr and retried. */
	void (*ready)(struct sampler *s, still_blocked_fn fn, void *ctx);
	/* The stacks of the block of `slot` that began at start_ns (kernel
	 * CLOCK_MONOTONIC; a gap is known by its exact start), most sampled
	 * first, with source lines; owned by the caller (stack_set_free).
	 * With no stack, a set that says why (stack_set_unavailable()); NULL
	 * only when out of memory. The sampler keeps none of them. */
	struct stack_set *(*take)(struct sampler *s, int slot, uint64_t start_ns);
	void (*destroy)(struct sampler *s);
};

/* Every sampler struct starts with this. */
struct sampler {
	const struct sampler_ops *ops;
	sampler_news_fn news;            /* NULL: nobody listens */
	sampler_whose_fn whose;          /* NULL: warnings name PIDs only */
	void *news_ctx;                  /* both functions' */
};

/* Where s tells its news (fn NULL: nowhere), and who names its targets in
 * its warnings (whose NULL: nobody). */
static inline void sampler_set_news(struct sampler *s, sampler_news_fn fn,
				    sampler_whose_fn whose, void *ctx)
{
	s->news = fn;
	s->whose = whose;
	s->news_ctx = ctx;
}

/*
 * For implementations: a warning about the target of slot (-1: none in
 * particular) on stderr (log_warn), introduced by what the owner calls it
 * ("pod ns/name container c: ..."), so that an agent watching many pods
 * says whose it is.
 */
void sampler_warn(const struct sampler *s, int slot, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* For implementations: tell news of slot, if anyone listens. */
static inline void sampler_tell(const struct sampler *s, int slot, enum sampler_news what,
				uint64_t n, const char *why)
{
	if (s->news)
		s->news(s->news_ctx, slot, what, n, why);
}

static inline int sampler_watch(struct sampler *s, int slot, pid_t pid, pid_t tid,
				uint64_t threshold_ns)
{
	return s->ops->watch(s, slot, pid, tid, threshold_ns);
}

static inline void sampler_unwatch(struct sampler *s, int slot)
{
	s->ops->unwatch(s, slot);
}

static inline int sampler_fd(const struct sampler *s)
{
	return s->ops->fd(s);
}

static inline void sampler_ready(struct sampler *s, still_blocked_fn fn, void *ctx)
{
	s->ops->ready(s, fn, ctx);
}

static inline struct stack_set *sampler_take(struct sampler *s, int slot, uint64_t start_ns)
{
	return s->ops->take(s, slot, start_ns);
}

/* Stop and free a sampler. Accepts NULL. */
static inline void sampler_free(struct sampler *s)
{
	if (s)
		s->ops->destroy(s);
}

/* The default interval for a threshold: threshold/10, within [0.5, 50] ms. */
uint64_t sampler_default_interval_ns(uint64_t threshold_ns);

/* ---- for sampler implementations (sampler.c) ----------------------------------- */

/* What a sampler keeps of each watched thread. */
struct sampled_thread {
	int slot;                        /* the detector's */
	pid_t pid, tid;                  /* in blocksnoop's PID namespace */
	uint64_t threshold_ns;
	/* GAPS_KEPT entries, allocated at the first sample: a watched thread
	 * whose blocks never last a quarter of its threshold (an idle or
	 * healthy loop, most of a thousand watched threads) costs none of
	 * their 14 KiB. NULL until then, and after sampled_thread_clear(). */
	struct gap_samples *gaps;
};

/* Start t empty, for thread tid of pid in detector slot `slot`. */
void sampled_thread_init(struct sampled_thread *t, int slot, pid_t pid, pid_t tid,
			 uint64_t threshold_ns);

/* Drop every sample (their strings are given back). t stays usable. */
void sampled_thread_clear(struct sampled_thread *t);

/*
 * A frame of a sample: its names interned (stacks.h; "?" for a missing
 * one), the references to be handed to sampled_thread_count() in a
 * struct stack.
 */
struct frame sampler_frame(const char *function, const char *file, int line);

/*
 * Count sample st (innermost frame first; its string references are
 * handed over and st is left empty, as gap_samples_add) for the gap that
 * began at gap_start_ns, taken at now_ns. It is the caller's to know that
 * the sample belongs to that gap. Then, if fn is not NULL, the gap has
 * lasted still_blocked_after_ns(threshold) and nothing was reported of it
 * for STILL_BLOCKED_EVERY_S, fn is called with its most recent stack.
 */
void sampled_thread_count(struct sampled_thread *t, uint64_t gap_start_ns, uint64_t now_ns,
			  struct stack *st, still_blocked_fn fn, void *ctx);

/*
 * Count, for the gap that began at gap_start_ns, that a sample of it found
 * the GIL (at gil_addr) held by thread holder_tid, whose stack was st (handed over as
 * for sampled_thread_count(); may have depth 0). Call it after counting
 * the sample itself with sampled_thread_count().
 */
void sampled_thread_count_gil(struct sampled_thread *t, uint64_t gap_start_ns,
			      pid_t holder_tid, uint64_t gil_addr, struct stack *st);

/* What sampler_ops.take answers for t: the stacks of the gap that began at
 * start_ns, which t then forgets; NULL if it has none. */
struct stack_set *sampled_thread_take(struct sampled_thread *t, uint64_t start_ns);

/*
 * The built-in sampler (sampler_builtin.c): blocksnoop's own CPython reader,
 * ticking every interval_ns, reading gap state from det (which must outlive
 * it). It samples a watched thread only while its current gap has lasted a
 * quarter of its threshold, and attributes a sample to a gap only if the
 * detector showed that same gap before and after the read; the process is
 * opened lazily, so a launched command can first start its interpreter.
 * NULL with errno set on failure.
 */
struct sampler *sampler_builtin_new(struct detector *det, uint64_t interval_ns);

/*
 * The Austin sampler (austin/sampler_austin.c): one long-lived Austin per
 * target process in pipe mode, started through the namespace shim when the
 * target is in other namespaces or austin_root is not "/". austin is
 * --austin (NULL: "austin" on PATH, or in austin_root's bin directories);
 * interval_ns 0 samples every threshold/3 (clamped to [1 ms, 1 s]);
 * padding_ns is --correlation-padding. Samples are attributed to the gap
 * that is open when they arrive; Austin's failures are reported and it is
 * restarted, never failing the session. det must outlive it. NULL with
 * errno set on failure.
 */
struct sampler *sampler_austin_new(struct detector *det, const char *austin,
				   const char *austin_root, uint64_t interval_ns,
				   uint64_t padding_ns);

#endif
