/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reporter.h - fans each occurrence out to the sinks: builds its JSON record
 * once, hands record and struct to every sink, and keeps the session's
 * running summary.
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
	struct session_summary summary;
};

/* Start with no sinks. session must outlive r. Cannot fail. */
void reporter_init(struct reporter *r, const struct session_info *session);

/* Take ownership of sink (destroyed by reporter_destroy). -ENOSPC if full. */
int reporter_add_sink(struct reporter *r, struct sink *sink);

void reporter_session_start(struct reporter *r);

/* Report one event and count it into r->summary. */
void reporter_event(struct reporter *r, const struct blocking_event *e);

/* Report a block that is still going on. */
void reporter_still_blocked(struct reporter *r, const struct still_blocked *b);

void reporter_stats(struct reporter *r, const struct stats_snapshot *snap);

/* Hand any other record (e.g. the agent's config_error) to the sinks that
 * take such records (sink_ops.record). rec stays the caller's. */
void reporter_record(struct reporter *r, const cJSON *rec);

/* Emit the closing summary from r->summary (caller fills duration, reason,
 * status, lost events; the records each sink could not write are collected
 * here); stats may be NULL outside stats mode. */
void reporter_session_end(struct reporter *r, const struct stats_snapshot *stats);

/* Reopen the sinks' files (SIGHUP). */
void reporter_reopen(struct reporter *r);

/* Destroy every sink. */
void reporter_destroy(struct reporter *r);

#endif
