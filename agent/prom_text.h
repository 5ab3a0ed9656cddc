/* SPDX-License-Identifier: Apache-2.0 */
/*
 * prom_text.h - writing the Prometheus text exposition format (0.0.4): a
 * growing buffer, escaped label values, metric heads, and the histogram of
 * a loop's gaps (struct loop_hist) as blocksnoop_loop_gap_seconds. Shared
 * by the agent's metrics (k8s/metrics.c) and the command line's
 * (cli_metrics.c). Pure: no I/O.
 *
 * Out of memory is sticky: every later call does nothing, and
 * prom_finish() says so once at the end, so callers check nothing between.
 */
#ifndef BLOCKSNOOP_PROM_TEXT_H
#define BLOCKSNOOP_PROM_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "gap_hist.h"

/* The histogram of every gap of a watched loop. */
#define PROM_LOOP_GAP "blocksnoop_loop_gap_seconds"
#define PROM_LOOP_GAP_HELP \
	"Time an event loop spent between two epoll waits (its lag), every gap, in seconds."

/* Zero-initialise ({ 0 }) before the first call. */
struct prom_text {
	char *buf;
	size_t len, cap;
	bool oom;
};

/* Append printf-style text. */
void prom_put(struct prom_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append name="value" with value escaped (\\, \", \n), and a comma unless
 * last. */
void prom_label(struct prom_text *t, const char *name, const char *value, bool last);

/* Append the # HELP and # TYPE lines of a metric. */
void prom_head(struct prom_text *t, const char *name, const char *type, const char *help);

/*
 * Append the series of one loop histogram: name_bucket with an `le` label
 * for each bucket boundary of gap_hist.h's loop histogram (262.144 us to
 * 17.179869184 s, exact seconds) and +Inf, cumulative; name_sum (seconds)
 * and name_count. labels: the series' other labels, rendered
 * (prom_label), "" for none. The head is the caller's.
 */
void prom_loop_hist(struct prom_text *t, const char *name, const char *labels,
		    const struct loop_hist *h);

/* The `le` value of loop histogram bucket b's upper bound (b + 1's lower),
 * for 0 <= b < LOOP_HIST_BUCKETS - 1: seconds, exact, no trailing zeros,
 * into buf (at least 24 bytes). */
void prom_loop_hist_le(unsigned int b, char *buf, size_t len);

/*
 * The text, NUL-terminated, malloc'd for the caller to free, its length in
 * *len; NULL when out of memory (the buffer is freed). t is empty after.
 */
char *prom_finish(struct prom_text *t, size_t *len);

#endif
