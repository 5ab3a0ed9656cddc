// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "summary.h"

static bool same_string(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/*
 * The slot for a new call site: a new one while there are fewer than
 * SUMMARY_MAX_SITES, else the one with the least blocked time so far, given
 * up (a target that blocks in ever new functions must not grow the
 * summary; the top sites keep their place).
 */
static struct call_site *new_site(struct session_summary *s)
{
	struct call_site *least;

	if (s->nsites < SUMMARY_MAX_SITES) {
		if (s->nsites == s->sites_cap) {
			size_t cap = s->sites_cap ? 2 * s->sites_cap : 16;
			struct call_site *grown = realloc(s->sites, cap * sizeof(*grown));

			if (!grown)
				return NULL;
			s->sites = grown;
			s->sites_cap = cap;
		}
		return &s->sites[s->nsites++];
	}
	least = &s->sites[0];
	for (size_t i = 1; i < s->nsites; i++)
		if (s->sites[i].total_blocked_ms < least->total_blocked_ms)
			least = &s->sites[i];
	intern_put(least->frame.function);
	intern_put(least->frame.file);
	return least;
}

static void count_call_site(struct session_summary *s, const struct blocking_event *e)
{
	const struct frame *f;
	struct call_site *site = NULL;

	if (!e->stacks || !e->stacks->nstacks)
		return;
	f = stack_culprit(&e->stacks->stacks[0].stack);
	if (!f)
		return;
	for (size_t i = 0; i < s->nsites && !site; i++)
		if (s->sites[i].frame.line == f->line &&
		    same_string(s->sites[i].frame.file, f->file) &&
		    same_string(s->sites[i].frame.function, f->function))
			site = &s->sites[i];
	if (!site) {
		site = new_site(s);
		if (!site)
			return;
		/* The site holds its own references: the event's go away. */
		*site = (struct call_site){ .frame = { .function = intern(f->function),
						       .file = intern(f->file), .line = f->line } };
	}
	site->count++;
	site->total_blocked_ms += e->duration_ms;
	if (e->duration_ms > site->max_blocked_ms)
		site->max_blocked_ms = e->duration_ms;
	if (e->anatomy)
		for (int c = 0; c < ANATOMY_CLASSES; c++)
			site->class_ms[c] += e->anatomy->share_ms[c];
}

const char *summary_site_class(const struct call_site *site)
{
	int best = 0;

	for (int c = 1; c < ANATOMY_CLASSES; c++)
		if (site->class_ms[c] > site->class_ms[best])
			best = c;
	return site->class_ms[best] > 0 ? anatomy_class_name(best) : NULL;
}

static void count_blocks(struct process_blocks *p, const struct blocking_event *e)
{
	p->event_count++;
	if (e->is_error)
		p->error_event_count++;
	p->total_blocked_ms += e->duration_ms;
	if (e->duration_ms > p->max_blocked_ms)
		p->max_blocked_ms = e->duration_ms;
}

/* Fold p's counts into other (p gives up its place). */
static void fold(struct process_blocks *other, const struct process_blocks *p)
{
	other->event_count += p->event_count;
	other->error_event_count += p->error_event_count;
	other->total_blocked_ms += p->total_blocked_ms;
	if (p->max_blocked_ms > other->max_blocked_ms)
		other->max_blocked_ms = p->max_blocked_ms;
}

/* The place of e's process: its own, a new one, or the one with the least
 * blocked time, given up (as new_site() does for call sites). */
static struct process_blocks *process_place(struct session_summary *s,
					    const struct blocking_event *e)
{
	struct process_blocks *p = NULL, *least;

	for (size_t i = 0; i < s->nprocesses; i++)
		if (s->processes[i].pid == e->pid)
			p = &s->processes[i];
	if (p)
		return p;
	if (s->nprocesses < SUMMARY_MAX_PROCESSES) {
		p = &s->processes[s->nprocesses++];
	} else {
		least = &s->processes[0];
		for (size_t i = 1; i < s->nprocesses; i++)
			if (s->processes[i].total_blocked_ms < least->total_blocked_ms)
				least = &s->processes[i];
		fold(&s->other_processes, least);
		p = least;
	}
	*p = (struct process_blocks){ .pid = e->pid };
	return p;
}

static void count_process(struct session_summary *s, const struct blocking_event *e)
{
	struct process_blocks *p = process_place(s, e);

	snprintf(p->name, sizeof(p->name), "%s", e->process_name ? e->process_name : "");
	count_blocks(p, e);
}

void summary_add_event(struct session_summary *s, const struct blocking_event *e)
{
	count_process(s, e);
	s->event_count++;
	if (e->is_error)
		s->error_event_count++;
	s->total_blocked_ms += e->duration_ms;
	if (e->duration_ms > s->max_blocked_ms)
		s->max_blocked_ms = e->duration_ms;
	count_call_site(s, e);
}

static int by_total_desc(const void *a, const void *b)
{
	const struct call_site *x = a, *y = b;

	if (x->total_blocked_ms != y->total_blocked_ms)
		return x->total_blocked_ms < y->total_blocked_ms ? 1 : -1;
	return (x->count < y->count) - (x->count > y->count);
}

static int by_blocked_desc(const void *a, const void *b)
{
	const struct process_blocks *x = a, *y = b;

	if (x->total_blocked_ms != y->total_blocked_ms)
		return x->total_blocked_ms < y->total_blocked_ms ? 1 : -1;
	if (x->event_count != y->event_count)
		return x->event_count < y->event_count ? 1 : -1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

size_t summary_top_processes(struct session_summary *s, size_t max)
{
	if (s->nprocesses > 1)
		qsort(s->processes, s->nprocesses, sizeof(s->processes[0]), by_blocked_desc);
	return s->nprocesses < max ? s->nprocesses : max;
}

size_t summary_top_call_sites(struct session_summary *s, size_t max)
{
	if (s->nsites > 1)
		qsort(s->sites, s->nsites, sizeof(*s->sites), by_total_desc);
	return s->nsites < max ? s->nsites : max;
}

void summary_release(struct session_summary *s)
{
	for (size_t i = 0; i < s->nsites; i++) {
		intern_put(s->sites[i].frame.function);
		intern_put(s->sites[i].frame.file);
	}
	free(s->sites);
	s->sites = NULL;
	s->nsites = s->sites_cap = 0;
}
