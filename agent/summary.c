// SPDX-License-Identifier: Apache-2.0
#include <stdlib.h>

#include "summary.h"

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
		/* Interned strings compare by pointer. */
		if (s->sites[i].frame.file == f->file && s->sites[i].frame.line == f->line &&
		    s->sites[i].frame.function == f->function)
			site = &s->sites[i];
	if (!site) {
		if (s->nsites == s->sites_cap) {
			size_t cap = s->sites_cap ? 2 * s->sites_cap : 16;
			struct call_site *grown = realloc(s->sites, cap * sizeof(*grown));

			if (!grown)
				return;
			s->sites = grown;
			s->sites_cap = cap;
		}
		site = &s->sites[s->nsites++];
		*site = (struct call_site){ .frame = *f };
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
	free(s->sites);
	s->sites = NULL;
	s->nsites = s->sites_cap = 0;
}
