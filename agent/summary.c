// SPDX-License-Identifier: Apache-2.0
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
}

void summary_add_event(struct session_summary *s, const struct blocking_event *e)
{
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
