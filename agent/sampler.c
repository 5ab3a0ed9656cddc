// SPDX-License-Identifier: Apache-2.0
/*
 * sampler.c - what the stack samplers share: the default interval, the
 * samples of each watched thread's recent gaps, and warnings that name
 * their target as the owner does (sampler.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "sampler.h"

#define NS_PER_S 1000000000ULL

uint64_t sampler_default_interval_ns(uint64_t threshold_ns)
{
	uint64_t ns = threshold_ns / 10;

	if (ns < 500000)
		ns = 500000;
	if (ns > 50000000)
		ns = 50000000;
	return ns;
}

void sampled_thread_init(struct sampled_thread *t, int slot, pid_t pid, pid_t tid,
			 uint64_t threshold_ns)
{
	*t = (struct sampled_thread){
		.slot = slot, .pid = pid, .tid = tid, .threshold_ns = threshold_ns,
	};
}

void sampled_thread_clear(struct sampled_thread *t)
{
	if (!t->gaps)
		return;
	for (int i = 0; i < GAPS_KEPT; i++)
		gap_samples_clear(&t->gaps[i]);
	free(t->gaps);
	t->gaps = NULL;
}

/* The entry of t's gaps for the gap that began at gap_start_ns (see
 * gap_samples_for()); NULL when t has none and none can be allocated. */
static struct gap_samples *gap_of(struct sampled_thread *t, uint64_t gap_start_ns)
{
	if (!t->gaps)
		t->gaps = calloc(GAPS_KEPT, sizeof(*t->gaps));
	return t->gaps ? gap_samples_for(t->gaps, gap_start_ns) : NULL;
}

struct frame sampler_frame(const char *function, const char *file, int line)
{
	return (struct frame){
		.function = intern(function ? function : "?"),
		.file = intern(file ? file : "?"),
		.line = line,
	};
}

/* A block is reported while it goes on once it has lasted its threshold
 * (and a second), then every STILL_BLOCKED_EVERY_S: is one due now? */
static bool still_blocked_due(const struct sampled_thread *t, const struct gap_samples *g,
			      uint64_t now_ns)
{
	return g->nstacks && now_ns - g->gap_start_ns >= still_blocked_after_ns(t->threshold_ns) &&
	       (!g->last_report_ns ||
		now_ns - g->last_report_ns >= STILL_BLOCKED_EVERY_S * NS_PER_S);
}

void sampled_thread_count(struct sampled_thread *t, uint64_t gap_start_ns, uint64_t now_ns,
			  struct stack *st, still_blocked_fn fn, void *ctx)
{
	struct gap_samples *g = gap_of(t, gap_start_ns);
	struct stack_set *current;

	if (!g) {
		stack_release(st); /* out of memory: the sample is lost */
		return;
	}
	gap_samples_add(g, st);
	if (!fn || !still_blocked_due(t, g, now_ns))
		return;
	current = gap_samples_to_set(g, g->last, t->pid);
	g->last_report_ns = now_ns;
	fn(ctx, t->slot, gap_start_ns, now_ns, current);
	stack_set_free(current);
}

void sampled_thread_count_gil(struct sampled_thread *t, uint64_t gap_start_ns,
			      pid_t holder_tid, uint64_t gil_addr, struct stack *st)
{
	struct gap_samples *g = gap_of(t, gap_start_ns);

	if (g)
		gap_samples_add_gil(g, holder_tid, gil_addr, st);
	else
		stack_release(st);
}

struct stack_set *sampled_thread_take(struct sampled_thread *t, uint64_t start_ns)
{
	struct stack_set *set = NULL;

	for (int i = 0; t->gaps && i < GAPS_KEPT; i++) {
		struct gap_samples *g = &t->gaps[i];

		if (g->gap_start_ns != start_ns)
			continue;
		if (g->total)
			set = gap_samples_to_set(g, -1, t->pid);
		gap_samples_clear(g);
		break;
	}
	return set;
}

void sampler_warn(const struct sampler *s, int slot, const char *fmt, ...)
{
	char msg[1024], whose[512] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (slot >= 0 && s->whose)
		s->whose(s->news_ctx, slot, whose, sizeof(whose));
	if (whose[0])
		log_warn("%s: %s", whose, msg);
	else
		log_warn("%s", msg);
}
