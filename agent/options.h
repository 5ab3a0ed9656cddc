/* SPDX-License-Identifier: Apache-2.0 */
/*
 * options.h - the command line, parsed and checked. Pure: no I/O besides
 * reading argv, so it is unit-tested directly.
 */
#ifndef BLOCKSNOOP_OPTIONS_H
#define BLOCKSNOOP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "numparse.h"

enum command {
	CMD_RUN,     /* watch a PID or a launched command */
	CMD_HELP,
	CMD_VERSION,
};

enum fail_on {
	FAIL_ON_NONE,
	FAIL_ON_EVENT, /* exit 3 if any blocking event was seen */
	FAIL_ON_ERROR, /* exit 3 if any event reached --error-threshold */
};

enum sampler_kind {
	SAMPLER_BUILTIN, /* blocksnoop's own CPython reader (default) */
	SAMPLER_AUSTIN,  /* the real Austin, as a long-lived subprocess */
	SAMPLER_NONE,    /* no stacks */
};

/* "builtin", "austin", or NULL for SAMPLER_NONE (and anything else): the
 * name records and options use. */
const char *sampler_kind_name(int kind);

/* The sampler_kind named name ("builtin", "austin", "none"): true and
 * *out, or false for any other string (NULL included). */
bool sampler_kind_parse(const char *name, enum sampler_kind *out);

struct options {
	enum command command;
	pid_t pid;            /* attach target; 0 in launch mode */
	pid_t tid;            /* --tid; 0 = the main thread (tid == pid) */
	/* Also watch the processes the target starts, from their first
	 * instruction (attach mode: and those it started before): the default
	 * in launch mode (--no-follow turns it off), --follow in attach mode. */
	bool follow;
	bool all_threads;     /* --all-threads: every thread that waits in epoll */
	char **launch_argv;   /* NULL-terminated, points into argv; NULL = attach */
	double threshold_ms;  /* 100, or 0 with --stats, unless -t */
	bool stats;
	bool json;
	const char *log_file; /* NULL = none */
	const char *service;  /* "blocksnoop" */
	const char *env;      /* "" */
	bool no_color;
	bool verbose;
	double error_threshold_ms;     /* 500 */
	double correlation_padding_ms; /* 200 */
	double duration_s;             /* 0 = until the target ends or a signal */
	enum fail_on fail_on;
	/* --fail-on-loss: exit EXIT_POLICY if anything was lost (engine_losses). */
	bool fail_on_loss;
	bool summary_only;
	enum sampler_kind sampler;
	double interval_ms;            /* --interval; 0 = threshold/10 in [0.5, 50] */
	const char *austin;            /* --austin; NULL = "austin" on PATH (or in --austin-root) */
	const char *austin_root;       /* --austin-root: where Austin, its loader and libraries live; "/" */
	/* Flame graph files (sink_flame_new()); NULL = none. */
	const char *folded;            /* --folded */
	const char *speedscope;        /* --speedscope */
	/* --metrics-addr: serve /metrics and /healthz there (a valid
	 * listen_addr_parse() address); NULL = no server. */
	const char *metrics_addr;
};

/*
 * Parse argv into *o. On success returns 0 and *o is complete (defaults
 * applied, cross-option checks done). On a usage error returns EXIT_USAGE
 * and writes a one-line message (no trailing newline, no "blocksnoop:"
 * prefix) that says what to do into err. argv is not modified; o keeps
 * pointers into it.
 */
int options_parse(int argc, char **argv, struct options *o, char *err,
		  size_t errlen);

/* The --help text. */
extern const char options_usage[];

/*
 * The ranges of the number options, shared with `blocksnoop agent` and
 * listed in README's option table. Thresholds stay far below what the
 * kernel side's u64 nanoseconds hold; the interval is the sampler's
 * documented 0.5-50 ms; the duration's nanoseconds fit a u64 deadline.
 */
#define OPTIONS_MAX_MS 3600000.0          /* thresholds, padding: one hour */
#define OPTIONS_MIN_INTERVAL_MS 0.5
#define OPTIONS_MAX_INTERVAL_MS 50.0
#define OPTIONS_MAX_DURATION_S 31536000.0 /* 365 days */
extern const struct num_range options_ms_range;       /* -t, --error-threshold, --correlation-padding */
extern const struct num_range options_interval_range; /* --interval */
extern const struct num_range options_duration_range; /* --duration */

/*
 * Helpers both option parsers share. options_usage_error() formats a usage
 * error into err (truncated to fit, always NUL-terminated if errlen > 0),
 * with every control character, newlines included, written as \xNN so the
 * message stays one line whatever the quoted values hold; returns
 * EXIT_USAGE.
 */
int options_usage_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * An option's number: text, a plain decimal (numparse.h) within r, into
 * *out; 0. Otherwise EXIT_USAGE with "invalid WHAT 'TEXT': expected a
 * decimal number from 0 to 3600000 milliseconds" in err, where what names
 * the option as the user set it ("--threshold", "BLOCKSNOOP_THRESHOLD").
 * *out is written only on success.
 */
int options_parse_number(const char *what, const char *text, const struct num_range *r,
			 double *out, char *err, size_t errlen);

#endif
