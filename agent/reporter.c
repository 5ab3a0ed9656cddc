// SPDX-License-Identifier: Apache-2.0
/* reporter.c - one record per occurrence, to every sink (reporter.h). */
#include <errno.h>
#include <string.h>

#include "record.h"
#include "reporter.h"

void reporter_init(struct reporter *r, const struct session_info *session)
{
	memset(r, 0, sizeof(*r));
	r->session = session;
}

int reporter_add_sink(struct reporter *r, struct sink *sink)
{
	if (r->nsinks == REPORTER_MAX_SINKS)
		return -ENOSPC;
	r->sinks[r->nsinks++] = sink;
	return 0;
}

void reporter_session_start(struct reporter *r)
{
	cJSON *rec = record_session_start(r->session);

	for (int i = 0; i < r->nsinks; i++)
		r->sinks[i]->ops->session_start(r->sinks[i], r->session, rec);
	cJSON_Delete(rec);
}

void reporter_event(struct reporter *r, const struct blocking_event *e)
{
	cJSON *rec = record_blocking_event(r->session, e);

	for (int i = 0; i < r->nsinks; i++)
		r->sinks[i]->ops->event(r->sinks[i], r->session, e, rec);
	cJSON_Delete(rec);
}

void reporter_still_blocked(struct reporter *r, const struct still_blocked *b)
{
	cJSON *rec = record_still_blocked(r->session, b);

	for (int i = 0; i < r->nsinks; i++)
		r->sinks[i]->ops->still_blocked(r->sinks[i], r->session, b, rec);
	cJSON_Delete(rec);
}

void reporter_stats(struct reporter *r, const struct stats_snapshot *snap)
{
	cJSON *rec = record_stats(r->session, snap);

	for (int i = 0; i < r->nsinks; i++)
		r->sinks[i]->ops->stats(r->sinks[i], r->session, snap, rec);
	cJSON_Delete(rec);
}

void reporter_record(struct reporter *r, const cJSON *rec)
{
	for (int i = 0; i < r->nsinks; i++)
		if (r->sinks[i]->ops->record)
			r->sinks[i]->ops->record(r->sinks[i], r->session, rec);
}

/* What each JSON output could not write, into the summary. The summary
 * record itself cannot count its own fate. */
static void collect_dropped(struct reporter *r, struct session_summary *sum)
{
	sum->noutputs = 0;
	for (int i = 0; i < r->nsinks && sum->noutputs < SUMMARY_MAX_OUTPUTS; i++)
		if (r->sinks[i]->ops->dropped)
			r->sinks[i]->ops->dropped(r->sinks[i], &sum->dropped[sum->noutputs++]);
}

void reporter_session_end(struct reporter *r, struct session_summary *sum,
			  const struct stats_snapshot *stats)
{
	cJSON *rec;

	summary_top_call_sites(sum, RECORD_TOP_CALL_SITES);
	summary_top_processes(sum, SUMMARY_MAX_PROCESSES);
	collect_dropped(r, sum);
	rec = record_session_summary(r->session, sum, stats);

	for (int i = 0; i < r->nsinks; i++)
		r->sinks[i]->ops->summary(r->sinks[i], r->session, sum, stats, rec);
	cJSON_Delete(rec);
}

void reporter_tick(struct reporter *r)
{
	for (int i = 0; i < r->nsinks; i++)
		if (r->sinks[i]->ops->tick)
			r->sinks[i]->ops->tick(r->sinks[i]);
}

uint64_t reporter_dropped_records(const struct reporter *r)
{
	struct dropped_records d;
	uint64_t total = 0;

	for (int i = 0; i < r->nsinks; i++) {
		if (!r->sinks[i]->ops->dropped)
			continue;
		r->sinks[i]->ops->dropped(r->sinks[i], &d);
		total += d.count;
	}
	return total;
}

void reporter_reopen(struct reporter *r)
{
	for (int i = 0; i < r->nsinks; i++)
		if (r->sinks[i]->ops->reopen)
			r->sinks[i]->ops->reopen(r->sinks[i]);
}

void reporter_destroy(struct reporter *r)
{
	for (int i = 0; i < r->nsinks; i++)
		r->sinks[i]->ops->destroy(r->sinks[i]);
	r->nsinks = 0;
}
