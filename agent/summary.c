// SPDX-License-Identifier: Apache-2.0
#include "summary.h"

void summary_add_event(struct session_summary *s, const struct blocking_event *e)
{
	s->event_count++;
	if (e->is_error)
		s->error_event_count++;
	s->total_blocked_ms += e->duration_ms;
	if (e->duration_ms > s->max_blocked_ms)
		s->max_blocked_ms = e->duration_ms;
}
