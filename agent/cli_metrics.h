/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_metrics.h - the command line's --metrics-addr: /metrics with the
 * watched loop's lag histogram (blocksnoop_loop_gap_seconds, every gap)
 * and the run's counters, and /healthz, served (metrics_http.h) from the
 * engine's loop for as long as the run lasts: a long attach, in a sidecar.
 *
 * The series are labelled pid and comm: the process blocksnoop was started
 * on (attached to, or launched), as numbered in blocksnoop's PID namespace,
 * and its name once it runs the command. With following (--follow, the
 * default in launch mode) and --all-threads the histogram counts every
 * thread and process of the watch under that one series.
 */
#ifndef BLOCKSNOOP_CLI_METRICS_H
#define BLOCKSNOOP_CLI_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gap_hist.h"

struct engine;
struct engine_watch;
struct cli_metrics;

/* What /metrics shows. */
struct cli_metrics_view {
	pid_t pid;
	const char *comm;            /* "" before the target is known */
	const struct loop_hist *loop;
	uint64_t events, error_events, lost_events;
	const char *version;
};

/* The /metrics text of v (Prometheus text format 0.0.4), malloc'd, its
 * length in *len; NULL when out of memory. Pure. */
char *cli_metrics_render(const struct cli_metrics_view *v, size_t *len);

/*
 * Listen on addr (valid for listen_addr_parse(): the options checked it)
 * and serve from e's loop; call after engine_open() and before
 * engine_drop_privileges() (a port below 1024). 0 and *out, or the exit
 * status (EXIT_RUNTIME: the port is taken, say) with the error said.
 * Free with cli_metrics_free() after engine_free(e).
 */
int cli_metrics_start(struct engine *e, const char *addr, struct cli_metrics **out);

/* Serve watch w's histogram, labelled pid and pid's name now. Until then
 * the histogram is all zero. */
void cli_metrics_watch(struct cli_metrics *m, struct engine_watch *w, pid_t pid);

/* w is about to end (the engine's gone hook): keep its last counts, served
 * until the run is over. Accepts NULL m. */
void cli_metrics_watch_gone(struct cli_metrics *m);

/* Stop serving. Accepts NULL. */
void cli_metrics_free(struct cli_metrics *m);

#endif
