// SPDX-License-Identifier: Apache-2.0
/*
 * sink_flame.c - the run's flame graph files (--folded, --speedscope;
 * sink.h): every block counted in one collection (flame.h), the files
 * replaced whole now and then and at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "flame/flame.h"
#include "flame/flame_output.h"
#include "log.h"
#include "sink.h"

/* What one run keeps: enough for any real program's blocks. */
static const struct flame_limits run_limits = { .max_stacks = 4096, .max_frames = 16384 };

struct flame_sink {
	struct sink base;
	struct flame *flame;
	struct flame_file folded, speedscope;
	bool dirty;
	unsigned ticks;
};

static void write_files(struct flame_sink *fs)
{
	flame_file_write(&fs->folded, fs->flame);
	flame_file_write(&fs->speedscope, fs->flame);
	fs->dirty = false;
	fs->ticks = 0;
}

static void fl_start(struct sink *s, const struct session_info *si, const cJSON *rec)
{
	(void)s; (void)si; (void)rec;
}

static void fl_event(struct sink *s, const struct session_info *si,
		     const struct blocking_event *e, const cJSON *rec)
{
	struct flame_sink *fs = (struct flame_sink *)s;

	(void)si; (void)rec;
	if (flame_add_event(fs->flame, e))
		log_warn("out of memory: block #%llu is missing from the flame graph",
			 (unsigned long long)e->number);
	fs->dirty = true;
}

static void fl_still_blocked(struct sink *s, const struct session_info *si,
			     const struct still_blocked *b, const cJSON *rec)
{
	/* Counted once it ends, as a blocking_event. */
	(void)s; (void)si; (void)b; (void)rec;
}

static void fl_stats(struct sink *s, const struct session_info *si,
		     const struct stats_snapshot *snap, const cJSON *rec)
{
	(void)s; (void)si; (void)snap; (void)rec;
}

static void fl_summary(struct sink *s, const struct session_info *si,
		       const struct session_summary *sum,
		       const struct stats_snapshot *snap, const cJSON *rec)
{
	(void)si; (void)sum; (void)snap; (void)rec;
	write_files((struct flame_sink *)s);
}

static void fl_tick(struct sink *s)
{
	struct flame_sink *fs = (struct flame_sink *)s;

	if (fs->dirty && ++fs->ticks >= FLAME_REWRITE_S)
		write_files(fs);
}

static void fl_destroy(struct sink *s)
{
	struct flame_sink *fs = (struct flame_sink *)s;

	flame_file_close(&fs->folded);
	flame_file_close(&fs->speedscope);
	flame_free(fs->flame);
	free(fs);
}

static const struct sink_ops flame_ops = {
	.session_start = fl_start,
	.event = fl_event,
	.still_blocked = fl_still_blocked,
	.stats = fl_stats,
	.summary = fl_summary,
	.tick = fl_tick,
	.destroy = fl_destroy,
};

struct sink *sink_flame_new(const char *folded_path, const char *speedscope_path,
			    char *err, size_t errlen)
{
	struct flame_sink *fs = calloc(1, sizeof(*fs));

	if (!fs || !(fs->flame = flame_new(&run_limits))) {
		free(fs);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	fs->base.ops = &flame_ops;
	flame_file_init(&fs->folded, FLAME_FOLDED);
	flame_file_init(&fs->speedscope, FLAME_SPEEDSCOPE);
	if ((folded_path && flame_file_open(&fs->folded, folded_path, err, errlen)) ||
	    (speedscope_path && flame_file_open(&fs->speedscope, speedscope_path, err, errlen)) ||
	    flame_file_write_first(&fs->folded, fs->flame, err, errlen) ||
	    flame_file_write_first(&fs->speedscope, fs->flame, err, errlen)) {
		fl_destroy(&fs->base);
		return NULL;
	}
	return &fs->base;
}
