/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reporter.h - fans each occurrence out to the sinks: builds its JSON record
 * once (record.h) and hands record and struct to every sink, in the order
 * the sinks were added. It keeps nothing of what it reports: the summary
 * is its caller's (the engine's).
 */
#ifndef BLOCKSNOOP_REPORTER_H
#define BLOCKSNOOP_REPORTER_H

#include "event.h"
#include "histogram.h"
#include "session_info.h"
#include "sink.h"
#include "summary.h"

#define REPORTER_MAX_SINKS 4

struct reporter {
	const struct session_info *session; /* not owned; outlives the reporter */
	struct sink *sinks[REPORTER_MAX_SINKS]; /* owned */
	int nsinks;
};

/* Start with no sinks. session must outlive r. Cannot fail. */
void reporter_init(struct reporter *r, const struct session_info *session);

/* Take ownership of sink (destroyed by reporter_destroy). -ENOSPC if full
 * (sink stays the caller's). */
int reporter_add_sink(struct reporter *r, struct sink *sink);

void reporter_session_start(struct reporter *r);

/* Report one event. */
void reporter_event(struct reporter *r, const struct blocking_event *e);

/* Report a block that is still going on. */
void reporter_still_blocked(struct reporter *r, const struct still_blocked *b);

void reporter_stats(struct reporter *r, const struct stats_snapshot *snap);

/* Hand any other record (e.g. the agent's config_error) to the sinks that
 * take such records (sink_ops.record). rec stays the caller's. */
void reporter_record(struct reporter *r, const cJSON *rec);

/* Emit the closing summary sum (the caller fills duration, reason, status,
 * lost events; this collects the records each sink could not write into
 * sum->dropped and ranks its call sites); stats may be NULL outside stats
 * mode. */
void reporter_session_end(struct reporter *r, struct session_summary *sum,
			  const struct stats_snapshot *stats);

/* Once a second: the sinks that keep files up to date (sink_ops.tick). */
void reporter_tick(struct reporter *r);

/* The records the sinks could not write so far, all outputs together, as
 * they count them now: after reporter_session_end() this includes a
 * summary that was not written. Cannot fail. */
uint64_t reporter_dropped_records(const struct reporter *r);

/* Reopen the sinks' files (SIGHUP). */
void reporter_reopen(struct reporter *r);

/* Destroy every sink. */
void reporter_destroy(struct reporter *r);

#endif
