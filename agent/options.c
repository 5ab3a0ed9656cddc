// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "exit_codes.h"
#include "listen_addr.h"
#include "options.h"

const char options_usage[] =
"Usage: blocksnoop [OPTIONS] PID\n"
"       blocksnoop [OPTIONS] -- COMMAND [ARG...]\n"
"       blocksnoop doctor [PID] [--tid TID]\n"
"\n"
"Report every time a Python asyncio event loop is blocked for longer than a\n"
"threshold: the time its thread spends between two epoll waits.\n"
"\n"
"Target:\n"
"  PID                       attach to a running process (its main thread)\n"
"  -- COMMAND [ARG...]       run COMMAND and watch it from its first instruction,\n"
"                            and every process it starts (gunicorn's workers)\n"
"      --follow              attach mode: also watch PID's descendants, those\n"
"                            running now and those it starts later\n"
"      --no-follow           launch mode: watch only COMMAND's own process\n"
"      --all-threads         watch every thread that waits in epoll (an event\n"
"                            loop in each), not only the main thread\n"
"      --tid TID             watch thread TID of PID instead of the main thread\n"
"\n"
"Detection:\n"
"  -t, --threshold MS        report blocks of at least MS milliseconds\n"
"                            (default 100; 0 with --stats)\n"
"      --error-threshold MS  blocks of at least MS are level \"error\" (default 500)\n"
"                            (MS: a decimal number from 0 to 3600000, one hour)\n"
"      --stats               measure the distribution of all gaps instead of\n"
"                            reporting events (percentiles every second)\n"
"      --duration SECONDS    stop after SECONDS, at most 31536000 (365 days);\n"
"                            launch mode: end the command\n"
"\n"
"Stacks:\n"
"      --sampler builtin|austin|none\n"
"                            how Python stacks are read: blocksnoop's own\n"
"                            CPython reader (default), Austin, or not at all\n"
"      --austin PATH         the Austin binary (default: austin on PATH)\n"
"      --austin-root DIR     the root file system Austin, its loader and its\n"
"                            libraries come from (default /)\n"
"      --interval MS         sampling interval while a block is in progress,\n"
"                            0.5 to 50 (default threshold/10, within those)\n"
"      --correlation-padding MS\n"
"                            accepted for compatibility; both samplers match\n"
"                            samples to blocks by the detector's gap state,\n"
"                            which needs no time window\n"
"\n"
"Output:\n"
"      --json                JSON lines on stdout instead of the console report\n"
"      --log-file PATH       also append structured JSON lines to PATH\n"
"                            (reopened on SIGHUP)\n"
"      --service NAME        service name in log records (default blocksnoop)\n"
"      --env ENV             environment name in log records\n"
"      --summary-only        print only the session start and summary\n"
"      --folded FILE         write blocked time by stack as collapsed stacks\n"
"                            (FlameGraph, inferno, speedscope) to FILE\n"
"      --speedscope FILE     write it as a speedscope JSON file to FILE\n"
"                            (both replaced whole every 10 s and at exit)\n"
"      --no-color            no colours on the console\n"
"      --metrics-addr ADDR:PORT\n"
"                            serve Prometheus /metrics (the loop's lag\n"
"                            histogram, events) and /healthz there, e.g.\n"
"                            127.0.0.1:9464, :9464 (every address), [::1]:9464\n"
"  -v, --verbose             explain what blocksnoop does\n"
"\n"
"Exit status:\n"
"      --fail-on none|event|error\n"
"                            exit 3 if any event (or any error-level event)\n"
"                            was seen\n"
"      --fail-on-loss        exit 3 if events were lost: the kernel's ring\n"
"                            buffer was full, or an output could not write a\n"
"                            record (after everything seen is written)\n"
"  0 ok, 1 runtime failure, 2 usage error, 3 --fail-on or --fail-on-loss hit,\n"
"  4 no such process or thread, 5 missing privileges; in launch mode the\n"
"  command's own status (128+N if signal N ended it) when it is not 0.\n"
"\n"
"  -h, --help                this help\n"
"      --version             print the version\n"
"\n"
"Examples:\n"
"  sudo blocksnoop -- python3 app.py        run app.py, report blocks >= 100 ms\n"
"  sudo blocksnoop -t 50 1234               attach to PID 1234, blocks >= 50 ms\n"
"  sudo blocksnoop -t 50 -- gunicorn -w 2 -k uvicorn.workers.UvicornWorker app:app\n"
"                                           the master and every worker\n"
"  sudo blocksnoop --follow 1234            PID 1234 and its workers, old and new\n"
"  sudo blocksnoop --stats 1234             distribution of all gaps\n"
"  sudo blocksnoop --json --log-file /var/log/blocksnoop.json 1234\n";

enum long_only {
	OPT_STATS = 256,
	OPT_TID,
	OPT_JSON,
	OPT_LOG_FILE,
	OPT_SERVICE,
	OPT_ENV,
	OPT_NO_COLOR,
	OPT_ERROR_THRESHOLD,
	OPT_PADDING,
	OPT_DURATION,
	OPT_FAIL_ON,
	OPT_SUMMARY_ONLY,
	OPT_VERSION,
	OPT_SAMPLER,
	OPT_INTERVAL,
	OPT_AUSTIN,
	OPT_AUSTIN_ROOT,
	OPT_FOLLOW,
	OPT_NO_FOLLOW,
	OPT_ALL_THREADS,
	OPT_FOLDED,
	OPT_SPEEDSCOPE,
	OPT_FAIL_ON_LOSS,
	OPT_METRICS_ADDR,
};

static const struct option long_options[] = {
	{ "threshold", required_argument, NULL, 't' },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "tid", required_argument, NULL, OPT_TID },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "log-file", required_argument, NULL, OPT_LOG_FILE },
	{ "service", required_argument, NULL, OPT_SERVICE },
	{ "env", required_argument, NULL, OPT_ENV },
	{ "no-color", no_argument, NULL, OPT_NO_COLOR },
	{ "verbose", no_argument, NULL, 'v' },
	{ "error-threshold", required_argument, NULL, OPT_ERROR_THRESHOLD },
	{ "correlation-padding", required_argument, NULL, OPT_PADDING },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "fail-on", required_argument, NULL, OPT_FAIL_ON },
	{ "summary-only", no_argument, NULL, OPT_SUMMARY_ONLY },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "sampler", required_argument, NULL, OPT_SAMPLER },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "austin", required_argument, NULL, OPT_AUSTIN },
	{ "austin-root", required_argument, NULL, OPT_AUSTIN_ROOT },
	{ "follow", no_argument, NULL, OPT_FOLLOW },
	{ "no-follow", no_argument, NULL, OPT_NO_FOLLOW },
	{ "all-threads", no_argument, NULL, OPT_ALL_THREADS },
	{ "folded", required_argument, NULL, OPT_FOLDED },
	{ "speedscope", required_argument, NULL, OPT_SPEEDSCOPE },
	{ "fail-on-loss", no_argument, NULL, OPT_FAIL_ON_LOSS },
	{ "metrics-addr", required_argument, NULL, OPT_METRICS_ADDR },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

const struct num_range options_ms_range = {
	.min = 0, .max = OPTIONS_MAX_MS, .unit = "milliseconds",
};
const struct num_range options_interval_range = {
	.min = OPTIONS_MIN_INTERVAL_MS, .max = OPTIONS_MAX_INTERVAL_MS, .unit = "milliseconds",
};
const struct num_range options_duration_range = {
	.min = 0, .min_excluded = true, .max = OPTIONS_MAX_DURATION_S, .unit = "seconds",
};

int options_usage_error(char *err, size_t errlen, const char *fmt, ...)
{
	char text[1024];
	size_t used = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* The message quotes what it was given, which may hold any byte: a
	 * newline or an escape sequence must not make it two lines or
	 * repaint the terminal. */
	for (const char *p = text; *p && used + 1 < errlen; p++) {
		unsigned char c = (unsigned char)*p;

		if (c >= 0x20 && c != 0x7f) {
			err[used++] = (char)c;
		} else if (used + 5 < errlen) {
			snprintf(err + used, 5, "\\x%02x", c);
			used += 4;
		} else {
			break;
		}
	}
	if (errlen)
		err[used] = '\0';
	return EXIT_USAGE;
}

int options_parse_number(const char *what, const char *text, const struct num_range *r,
			 double *out, char *err, size_t errlen)
{
	char range[128];

	if (!num_parse_in(text, r, out))
		return 0;
	num_range_describe(r, range, sizeof(range));
	return options_usage_error(err, errlen, "invalid %s '%s': expected a decimal number %s",
				   what, text, range);
}

/* A process or thread id: decimal digits only, 1..INT_MAX. */
static int parse_id(const char *text, pid_t *out)
{
	uint64_t v;

	if (num_parse_uint(text, 1, INT_MAX, &v))
		return -EINVAL;
	*out = (pid_t)v;
	return 0;
}

/* The option getopt just complained about: for a short option inside a
 * cluster (-xv) that is optopt, not the whole argument. */
static const char *option_text(char **argv, int ind)
{
	static char short_opt[3];
	const char *arg = argv[ind - 1];

	if (optopt > ' ' && optopt < 127 && strncmp(arg, "--", 2) != 0) {
		short_opt[0] = '-';
		short_opt[1] = (char)optopt;
		return short_opt;
	}
	return arg;
}

static bool looks_like_id(const char *text)
{
	return *text && strspn(text, "0123456789") == strlen(text);
}

int options_parse(int argc, char **argv, struct options *o, char *err,
		  size_t errlen)
{
	bool threshold_set = false, follow_set = false, no_follow_set = false;
	int c, code;

	*o = (struct options){
		.command = CMD_RUN,
		.service = "blocksnoop",
		.env = "",
		.threshold_ms = 100,
		.error_threshold_ms = 500,
		.correlation_padding_ms = 200,
		.austin_root = "/",
	};
	err[0] = '\0';

	/*
	 * '+': stop at the first non-option, so that the options of a launched
	 * command are never taken for ours. A numeric argument there is the
	 * PID and parsing continues after it; anything else starts the command.
	 */
	optind = 0;
	opterr = 0;
	for (;;) {
		int before = optind;

		c = getopt_long(argc, argv, "+:t:vh", long_options, NULL);
		if (c == -1) {
			/* Did getopt stop at a "--" of its own (not an option's value)? */
			bool dashdash = optind > before && !strcmp(argv[optind - 1], "--");

			if (optind < argc && !o->pid && looks_like_id(argv[optind]) && !dashdash) {
				if (parse_id(argv[optind], &o->pid))
					return options_usage_error(err, errlen,
						"invalid PID '%s': expected a process id", argv[optind]);
				optind++;
				continue;
			}
			break;
		}
		switch (c) {
		case 't':
			code = options_parse_number("--threshold", optarg, &options_ms_range,
						    &o->threshold_ms, err, errlen);
			if (code)
				return code;
			threshold_set = true;
			break;
		case OPT_ERROR_THRESHOLD:
			code = options_parse_number("--error-threshold", optarg, &options_ms_range,
						    &o->error_threshold_ms, err, errlen);
			if (code)
				return code;
			break;
		case OPT_PADDING:
			code = options_parse_number("--correlation-padding", optarg, &options_ms_range,
						    &o->correlation_padding_ms, err, errlen);
			if (code)
				return code;
			break;
		case OPT_DURATION:
			code = options_parse_number("--duration", optarg, &options_duration_range,
						    &o->duration_s, err, errlen);
			if (code)
				return code;
			break;
		case OPT_TID:
			if (parse_id(optarg, &o->tid))
				return options_usage_error(err, errlen,
					"invalid --tid '%s': expected a thread id", optarg);
			break;
		case OPT_FAIL_ON:
			if (!strcmp(optarg, "none"))
				o->fail_on = FAIL_ON_NONE;
			else if (!strcmp(optarg, "event"))
				o->fail_on = FAIL_ON_EVENT;
			else if (!strcmp(optarg, "error"))
				o->fail_on = FAIL_ON_ERROR;
			else
				return options_usage_error(err, errlen,
					"invalid --fail-on '%s': expected none, event or error", optarg);
			break;
		case OPT_SAMPLER:
			if (!sampler_kind_parse(optarg, &o->sampler))
				return options_usage_error(err, errlen,
					"invalid --sampler '%s': expected builtin, austin or none", optarg);
			break;
		case OPT_AUSTIN: o->austin = optarg; break;
		case OPT_AUSTIN_ROOT:
			if (optarg[0] != '/')
				return options_usage_error(err, errlen,
					"invalid --austin-root '%s': expected an absolute directory", optarg);
			o->austin_root = optarg;
			break;
		case OPT_INTERVAL:
			code = options_parse_number("--interval", optarg, &options_interval_range,
						    &o->interval_ms, err, errlen);
			if (code)
				return code;
			break;
		case OPT_FOLLOW: follow_set = true; break;
		case OPT_NO_FOLLOW: no_follow_set = true; break;
		case OPT_ALL_THREADS: o->all_threads = true; break;
		case OPT_FOLDED: o->folded = optarg; break;
		case OPT_SPEEDSCOPE: o->speedscope = optarg; break;
		case OPT_FAIL_ON_LOSS: o->fail_on_loss = true; break;
		case OPT_METRICS_ADDR: {
			struct sockaddr_storage ss;
			socklen_t len;

			if (listen_addr_parse(optarg, &ss, &len))
				return options_usage_error(err, errlen,
					"invalid --metrics-addr '%s': expected ADDR:PORT such as 127.0.0.1:9464, :9464 (every address) or [::1]:9464",
					optarg);
			o->metrics_addr = optarg;
			break;
		}
		case OPT_STATS: o->stats = true; break;
		case OPT_JSON: o->json = true; break;
		case OPT_LOG_FILE: o->log_file = optarg; break;
		case OPT_SERVICE: o->service = optarg; break;
		case OPT_ENV: o->env = optarg; break;
		case OPT_NO_COLOR: o->no_color = true; break;
		case OPT_SUMMARY_ONLY: o->summary_only = true; break;
		case 'v': o->verbose = true; break;
		case 'h': o->command = CMD_HELP; return 0;
		case OPT_VERSION: o->command = CMD_VERSION; return 0;
		case ':':
			return options_usage_error(err, errlen, "option '%s' needs a value (see --help)",
					   option_text(argv, optind));
		default:
			return options_usage_error(err, errlen, "unknown option '%s' (see --help)",
					   option_text(argv, optind));
		}
	}

	if (optind < argc)
		o->launch_argv = &argv[optind];

	if (o->pid && o->launch_argv)
		return options_usage_error(err, errlen,
			"give either a PID to attach to or a command to run, not both");
	if (!o->pid && !o->launch_argv)
		return options_usage_error(err, errlen,
			"nothing to watch: give a PID (blocksnoop 1234) or a command (blocksnoop -- python3 app.py)");
	if (o->tid && !o->pid)
		return options_usage_error(err, errlen,
			"--tid needs a PID: a launched command has no threads yet");
	if (follow_set && no_follow_set)
		return options_usage_error(err, errlen,
			"--follow and --no-follow contradict each other: give one");
	if (o->all_threads && o->tid)
		return options_usage_error(err, errlen,
			"--all-threads watches every thread: it does not go with --tid");
	/* Each is the default of one mode, and harmless in the other. */
	o->follow = follow_set || (o->launch_argv && !no_follow_set);
	if (o->stats && o->fail_on != FAIL_ON_NONE)
		return options_usage_error(err, errlen,
			"--fail-on does not apply to --stats, which reports no events");
	if (o->stats && (o->folded || o->speedscope))
		return options_usage_error(err, errlen,
			"--folded and --speedscope do not apply to --stats, which reports no events");
	if (o->folded && o->speedscope && !strcmp(o->folded, o->speedscope))
		return options_usage_error(err, errlen,
			"--folded and --speedscope name the same file '%s': give each its own", o->folded);
	if (o->stats && !threshold_set)
		o->threshold_ms = 0;
	if (o->stats)
		o->sampler = SAMPLER_NONE; /* stats mode reports no events to attach stacks to */
	if (!o->tid)
		o->tid = o->pid;
	return 0;
}

const char *sampler_kind_name(int kind)
{
	switch (kind) {
	case SAMPLER_BUILTIN:
		return "builtin";
	case SAMPLER_AUSTIN:
		return "austin";
	default:
		return NULL;
	}
}

bool sampler_kind_parse(const char *name, enum sampler_kind *out)
{
	if (!name)
		return false;
	if (!strcmp(name, "none")) {
		*out = SAMPLER_NONE;
		return true;
	}
	for (int k = 0; k < SAMPLER_NONE; k++) {
		if (!strcmp(name, sampler_kind_name(k))) {
			*out = (enum sampler_kind)k;
			return true;
		}
	}
	return false;
}
