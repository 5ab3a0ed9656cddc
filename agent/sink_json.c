// SPDX-License-Identifier: Apache-2.0
/* sink_json.c - the records as JSON lines on stdout (--json). */
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "sink.h"

struct json_sink {
	struct sink base;
	struct line_out out;
	bool summary_only;
};

static void emit(struct json_sink *js, const cJSON *rec)
{
	char *line = rec ? record_to_line(rec) : NULL;

	if (!line) {
		js->out.dropped++; /* out of memory: as lost as a failed write */
		return;
	}
	/* One write(2) per record, so a reader never sees half a line
	 * interleaved with another writer's. */
	line_out_write(&js->out, line, strlen(line));
	free(line);
}

static void json_start(struct sink *s, const struct session_info *si, const cJSON *rec)
{
	(void)si;
	emit((struct json_sink *)s, rec);
}

static void json_event(struct sink *s, const struct session_info *si,
		       const struct blocking_event *e, const cJSON *rec)
{
	struct json_sink *js = (struct json_sink *)s;

	(void)si; (void)e;
	if (!js->summary_only)
		emit(js, rec);
}

static void json_still_blocked(struct sink *s, const struct session_info *si,
			       const struct still_blocked *b, const cJSON *rec)
{
	struct json_sink *js = (struct json_sink *)s;

	(void)si; (void)b;
	if (!js->summary_only)
		emit(js, rec);
}

static void json_stats(struct sink *s, const struct session_info *si,
		       const struct stats_snapshot *snap, const cJSON *rec)
{
	struct json_sink *js = (struct json_sink *)s;

	(void)si; (void)snap;
	if (!js->summary_only)
		emit(js, rec);
}

static void json_summary(struct sink *s, const struct session_info *si,
			 const struct session_summary *sum,
			 const struct stats_snapshot *snap, const cJSON *rec)
{
	(void)si; (void)sum; (void)snap;
	emit((struct json_sink *)s, rec);
}

static void json_record(struct sink *s, const struct session_info *si, const cJSON *rec)
{
	struct json_sink *js = (struct json_sink *)s;

	(void)si;
	if (!js->summary_only)
		emit(js, rec);
}

static void json_dropped(const struct sink *s, struct dropped_records *out)
{
	const struct json_sink *js = (const struct json_sink *)s;

	*out = (struct dropped_records){ .output = "stdout", .count = js->out.dropped };
}

static void json_destroy(struct sink *s)
{
	free(s);
}

static const struct sink_ops json_ops = {
	.session_start = json_start,
	.event = json_event,
	.still_blocked = json_still_blocked,
	.stats = json_stats,
	.summary = json_summary,
	.record = json_record,
	.dropped = json_dropped,
	.destroy = json_destroy,
};

struct sink *sink_json_new(int fd, bool summary_only)
{
	struct json_sink *js = calloc(1, sizeof(*js));

	if (!js)
		return NULL;
	js->base.ops = &json_ops;
	line_out_init(&js->out, "stdout");
	line_out_set_fd(&js->out, fd);
	js->summary_only = summary_only;
	return &js->base;
}
