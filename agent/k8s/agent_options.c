// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exit_codes.h"
#include "k8s/agent_options.h"
#include "k8s/podlist.h"
#include "listen_addr.h"

const char agent_usage[] =
"Usage: blocksnoop agent [OPTIONS]\n"
"\n"
"Kubernetes node agent: watch the asyncio loops of every Python process in\n"
"the pods of this node annotated blocksnoop.io/enabled: \"true\". Pods are\n"
"learnt from the kubelet's /pods; records carry the pod's metadata.\n"
"Every option can also be set through the environment variable in brackets\n"
"(a flag wins).\n"
"\n"
"Kubelet:\n"
"      --node-name NAME      this node's name [NODE_NAME] (required)\n"
"      --kubelet-url URL     the kubelet, https:// only (the token is never sent\n"
"                            in clear) [BLOCKSNOOP_KUBELET_URL]\n"
"                            (default https://NODE_NAME:10250)\n"
"      --kubelet-host-ip IP  dial IP while verifying the certificate for the\n"
"                            URL's host name [HOST_IP]\n"
"      --kubelet-token-file PATH\n"
"                            bearer token, re-read before each poll\n"
"                            [BLOCKSNOOP_KUBELET_TOKEN_FILE] (default the\n"
"                            service account's token; \"\" for none)\n"
"      --kubelet-ca-file PATH\n"
"                            CA that signed the kubelet's certificate\n"
"                            [BLOCKSNOOP_KUBELET_CA_FILE] (default the\n"
"                            service account's ca.crt; \"\" for the system's)\n"
"      --kubelet-insecure-skip-tls-verify\n"
"                            do not verify the kubelet's certificate: whoever\n"
"                            can intercept it can read the token (warned at\n"
"                            start) [BLOCKSNOOP_KUBELET_INSECURE_SKIP_TLS_VERIFY]\n"
"      --poll-interval DURATION\n"
"                            how often to ask the kubelet: 10s, 500ms, 2m;\n"
"                            100ms to 1h [BLOCKSNOOP_POLL_INTERVAL] (default 10s)\n"
"      --metrics-addr [HOST]:PORT\n"
"                            serve /metrics and /healthz there\n"
"                            [BLOCKSNOOP_METRICS_ADDR] (default :9090; \"\" for none)\n"
"\n"
"Detection (defaults for pods without blocksnoop.io/ annotations):\n"
"  -t, --threshold MS        report blocks of at least MS milliseconds\n"
"                            [BLOCKSNOOP_THRESHOLD] (default 100)\n"
"      --error-threshold MS  blocks of at least MS are level \"error\"\n"
"                            [BLOCKSNOOP_ERROR_THRESHOLD] (default 500)\n"
"                            (MS: a decimal number from 0 to 3600000, one hour)\n"
"      --min-threshold MS    the lowest threshold a pod's annotation may set;\n"
"                            lower ones are raised to it\n"
"                            [BLOCKSNOOP_MIN_THRESHOLD] (default 10)\n"
"      --max-events-per-pod N\n"
"                            report at most N events a second per pod, the\n"
"                            rest counted as suppressed; 0: no limit\n"
"                            [BLOCKSNOOP_MAX_EVENTS_PER_POD] (default 10)\n"
"      --max-events-burst N  ... after a burst of up to N events\n"
"                            [BLOCKSNOOP_MAX_EVENTS_BURST] (default 50)\n"
"\n"
"Stacks (a pod may choose its own with blocksnoop.io/sampler):\n"
"      --sampler builtin|austin|none\n"
"                            how pods' Python stacks are read: blocksnoop's own\n"
"                            CPython reader, Austin inside each target's\n"
"                            namespaces, or not at all [BLOCKSNOOP_SAMPLER]\n"
"                            (default builtin)\n"
"      --austin PATH         the Austin binary, inside --austin-root (default:\n"
"                            austin on PATH) [BLOCKSNOOP_AUSTIN]\n"
"      --austin-root DIR     the root file system Austin, its loader and its\n"
"                            libraries come from [BLOCKSNOOP_AUSTIN_ROOT]\n"
"                            (default /)\n"
"                            Austin runs, and its capabilities are kept, only\n"
"                            with --sampler austin or one of these two given;\n"
"                            otherwise pods asking for it get the default\n"
"      --interval MS         stack sampling interval during blocks, 0.5 to 50\n"
"                            [BLOCKSNOOP_INTERVAL] (default threshold/10)\n"
"      --duration DURATION   stop after DURATION, at most 365 days\n"
"                            [BLOCKSNOOP_DURATION]\n"
"\n"
"Output:\n"
"      --json                JSON lines on stdout [BLOCKSNOOP_JSON]\n"
"      --log-file PATH       also append JSON lines to PATH, reopened on\n"
"                            SIGHUP [BLOCKSNOOP_LOG_FILE]\n"
"      --flame-dir DIR       per-pod flame graphs of blocked time in DIR:\n"
"                            NAMESPACE_POD.folded and .speedscope.json\n"
"                            [BLOCKSNOOP_FLAME_DIR]\n"
"      --service NAME        service of records whose pod names none\n"
"                            [BLOCKSNOOP_SERVICE] (default blocksnoop)\n"
"      --env ENV             env field of log records [BLOCKSNOOP_ENV]\n"
"      --no-color            no colours on the console [BLOCKSNOOP_NO_COLOR]\n"
"  -v, --verbose             explain what the agent does [BLOCKSNOOP_VERBOSE]\n"
"  -h, --help                this help\n"
"\n"
"Pod annotations:\n"
"  blocksnoop.io/enabled: \"true\"           watch this pod\n"
"  blocksnoop.io/containers: \"app,worker\"  only these containers\n"
"  blocksnoop.io/threshold-ms: \"250\"       -t for this pod\n"
"  blocksnoop.io/error-threshold-ms: \"1000\" --error-threshold for this pod\n"
"  blocksnoop.io/service: \"checkout\"       service of its records (default:\n"
"                                          label app.kubernetes.io/name, app,\n"
"                                          or the owner's name)\n"
"  blocksnoop.io/sampler: \"austin\"         --sampler for this pod (builtin,\n"
"                                          austin or none)\n"
"The agent skips its own pod (POD_UID). See docs/kubernetes.md.\n";

enum agent_opt {
	OPT_NODE_NAME = 256,
	OPT_KUBELET_URL,
	OPT_HOST_IP,
	OPT_TOKEN_FILE,
	OPT_CA_FILE,
	OPT_INSECURE,
	OPT_POLL_INTERVAL,
	OPT_METRICS_ADDR,
	OPT_JSON,
	OPT_LOG_FILE,
	OPT_SERVICE,
	OPT_ENV,
	OPT_THRESHOLD,
	OPT_ERROR_THRESHOLD,
	OPT_MIN_THRESHOLD,
	OPT_MAX_EVENTS,
	OPT_MAX_BURST,
	OPT_SAMPLER,
	OPT_AUSTIN,
	OPT_AUSTIN_ROOT,
	OPT_INTERVAL,
	OPT_DURATION,
	OPT_NO_COLOR,
	OPT_VERBOSE,
	OPT_HELP,
	OPT_FLAME_DIR,
};

struct opt_def {
	const char *name;   /* long option */
	int has_arg;
	int id;
	const char *env;    /* environment variable */
};

static const struct opt_def defs[] = {
	{ "node-name", required_argument, OPT_NODE_NAME, "NODE_NAME" },
	{ "kubelet-url", required_argument, OPT_KUBELET_URL, "BLOCKSNOOP_KUBELET_URL" },
	{ "kubelet-host-ip", required_argument, OPT_HOST_IP, "HOST_IP" },
	{ "kubelet-token-file", required_argument, OPT_TOKEN_FILE, "BLOCKSNOOP_KUBELET_TOKEN_FILE" },
	{ "kubelet-ca-file", required_argument, OPT_CA_FILE, "BLOCKSNOOP_KUBELET_CA_FILE" },
	{ "kubelet-insecure-skip-tls-verify", no_argument, OPT_INSECURE,
	  "BLOCKSNOOP_KUBELET_INSECURE_SKIP_TLS_VERIFY" },
	{ "poll-interval", required_argument, OPT_POLL_INTERVAL, "BLOCKSNOOP_POLL_INTERVAL" },
	{ "metrics-addr", required_argument, OPT_METRICS_ADDR, "BLOCKSNOOP_METRICS_ADDR" },
	{ "json", no_argument, OPT_JSON, "BLOCKSNOOP_JSON" },
	{ "log-file", required_argument, OPT_LOG_FILE, "BLOCKSNOOP_LOG_FILE" },
	{ "service", required_argument, OPT_SERVICE, "BLOCKSNOOP_SERVICE" },
	{ "env", required_argument, OPT_ENV, "BLOCKSNOOP_ENV" },
	{ "threshold", required_argument, OPT_THRESHOLD, "BLOCKSNOOP_THRESHOLD" },
	{ "error-threshold", required_argument, OPT_ERROR_THRESHOLD, "BLOCKSNOOP_ERROR_THRESHOLD" },
	{ "min-threshold", required_argument, OPT_MIN_THRESHOLD, "BLOCKSNOOP_MIN_THRESHOLD" },
	{ "max-events-per-pod", required_argument, OPT_MAX_EVENTS, "BLOCKSNOOP_MAX_EVENTS_PER_POD" },
	{ "max-events-burst", required_argument, OPT_MAX_BURST, "BLOCKSNOOP_MAX_EVENTS_BURST" },
	{ "sampler", required_argument, OPT_SAMPLER, "BLOCKSNOOP_SAMPLER" },
	{ "austin", required_argument, OPT_AUSTIN, "BLOCKSNOOP_AUSTIN" },
	{ "austin-root", required_argument, OPT_AUSTIN_ROOT, "BLOCKSNOOP_AUSTIN_ROOT" },
	{ "interval", required_argument, OPT_INTERVAL, "BLOCKSNOOP_INTERVAL" },
	{ "duration", required_argument, OPT_DURATION, "BLOCKSNOOP_DURATION" },
	{ "no-color", no_argument, OPT_NO_COLOR, "BLOCKSNOOP_NO_COLOR" },
	{ "verbose", no_argument, OPT_VERBOSE, "BLOCKSNOOP_VERBOSE" },
	{ "help", no_argument, OPT_HELP, NULL },
	{ "flame-dir", required_argument, OPT_FLAME_DIR, "BLOCKSNOOP_FLAME_DIR" },
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

/* --poll-interval: often enough to notice new pods, rarely enough to
 * spare the kubelet. */
static const struct num_range poll_interval_range = {
	.min = 0.1, .max = AGENT_MAX_POLL_S, .unit = "seconds",
};

/* --max-events-per-pod: 0 means no limit. */
static const struct num_range agent_events_per_s_range = {
	.min = 0, .max = AGENT_MAX_EVENTS_LIMIT, .unit = "events a second",
};

int agent_parse_duration(const char *text, const struct num_range *r, double *seconds)
{
	static const struct { const char *suffix; double scale; } units[] = {
		{ "ms", 1e-3 }, { "s", 1 }, { "m", 60 }, { "h", 3600 },
	};
	char number[64];
	size_t len = strlen(text);
	double v, scale = 1;
	int err;

	if (len >= sizeof(number))
		return -EINVAL;
	memcpy(number, text, len + 1);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t sl = strlen(units[i].suffix);

		if (len > sl && !strcmp(number + len - sl, units[i].suffix)) {
			number[len - sl] = '\0';
			scale = units[i].scale;
			break;
		}
	}
	err = num_parse_decimal(number, &v);
	if (err)
		return err;
	v *= scale;
	if (!num_in_range(v, r))
		return -ERANGE;
	*seconds = v;
	return 0;
}

/* An option's duration (agent_parse_duration), or EXIT_USAGE and a
 * message naming the option, the value and the range. */
static int parse_duration_option(const char *what, const char *text, const struct num_range *r,
				 double *seconds, char *err, size_t errlen)
{
	char range[128];

	if (!agent_parse_duration(text, r, seconds))
		return 0;
	num_range_describe(r, range, sizeof(range));
	return options_usage_error(err, errlen,
		"invalid %s '%s': expected a duration such as 30s, 500ms, 2m or 1h (a bare number is seconds), %s",
		what, text, range);
}

/* A boolean environment variable: 1/true/yes/on or 0/false/no/off/"". */
static int parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "", "0", "false", "no", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!strcasecmp(text, yes[i]))
			return *out = true, 0;
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (!strcasecmp(text, no[i]))
			return *out = false, 0;
	return -EINVAL;
}

/*
 * One option, from a flag or a variable. value is NULL for a flag without
 * argument; from the environment every option has a value (booleans as
 * text). what names the source in messages ("--poll-interval" or
 * "BLOCKSNOOP_POLL_INTERVAL").
 */
static int apply(struct agent_options *o, const struct opt_def *d, const char *value,
		 bool from_env, char *err, size_t errlen)
{
	char what[64];
	bool *flag = NULL;

	if (from_env)
		snprintf(what, sizeof(what), "%s", d->env);
	else
		snprintf(what, sizeof(what), "--%s", d->name);
	switch (d->id) {
	case OPT_NODE_NAME:
		if (!*value)
			return options_usage_error(err, errlen, "%s is empty: give this node's name", what);
		o->node_name = value;
		return 0;
	case OPT_KUBELET_URL:
		/* The bearer token goes with every request: never in clear. */
		if (!strncasecmp(value, "http://", 7))
			return options_usage_error(err, errlen,
				"refusing %s '%s': plain HTTP would send the kubelet bearer token in clear; give the kubelet's https:// address (its authenticated port, 10250)",
				what, value);
		if (strncasecmp(value, "https://", 8) || !value[8])
			return options_usage_error(err, errlen,
				"invalid %s '%s': expected https://HOST:PORT", what, value);
		if (strlen(value) >= sizeof(o->kubelet_url) - 8)
			return options_usage_error(err, errlen, "%s is too long", what);
		snprintf(o->kubelet_url, sizeof(o->kubelet_url), "%s", value);
		return 0;
	case OPT_HOST_IP: {
		unsigned char buf[sizeof(struct in6_addr)];

		if (!*value) {
			o->kubelet_host_ip = NULL;
			return 0;
		}
		if (inet_pton(AF_INET, value, buf) != 1 && inet_pton(AF_INET6, value, buf) != 1)
			return options_usage_error(err, errlen,
				"invalid %s '%s': expected an IPv4 or IPv6 address", what, value);
		o->kubelet_host_ip = value;
		return 0;
	}
	case OPT_TOKEN_FILE:
		o->token_file = *value ? value : NULL;
		o->token_file_given = true;
		return 0;
	case OPT_CA_FILE:
		o->ca_file = *value ? value : NULL;
		o->ca_file_given = true;
		return 0;
	case OPT_POLL_INTERVAL:
		return parse_duration_option(what, value, &poll_interval_range,
					     &o->poll_interval_s, err, errlen);
	case OPT_METRICS_ADDR: {
		struct sockaddr_storage ss;
		socklen_t len;

		if (*value && listen_addr_parse(value, &ss, &len))
			return options_usage_error(err, errlen,
				"invalid %s '%s': expected :PORT, IPV4:PORT or [IPV6]:PORT (\"\" to disable)",
				what, value);
		o->metrics_addr = value;
		return 0;
	}
	case OPT_LOG_FILE:
		o->log_file = *value ? value : NULL;
		return 0;
	case OPT_FLAME_DIR:
		o->flame_dir = *value ? value : NULL;
		return 0;
	case OPT_SERVICE:
		if (!*value)
			return options_usage_error(err, errlen, "%s is empty", what);
		o->service = value;
		return 0;
	case OPT_ENV:
		o->env = value;
		return 0;
	case OPT_THRESHOLD:
		return options_parse_number(what, value, &options_ms_range, &o->threshold_ms,
					    err, errlen);
	case OPT_ERROR_THRESHOLD:
		return options_parse_number(what, value, &options_ms_range,
					    &o->error_threshold_ms, err, errlen);
	case OPT_MIN_THRESHOLD:
		return options_parse_number(what, value, &options_ms_range,
					    &o->min_threshold_ms, err, errlen);
	case OPT_MAX_EVENTS:
		return options_parse_number(what, value, &agent_events_per_s_range,
					    &o->max_events_per_pod, err, errlen);
	case OPT_MAX_BURST: {
		uint64_t burst;

		if (num_parse_uint(value, 1, AGENT_MAX_EVENTS_LIMIT, &burst))
			return options_usage_error(err, errlen,
				"invalid %s '%s': expected a whole number of events from 1 to %.0f",
				what, value, AGENT_MAX_EVENTS_LIMIT);
		o->max_events_burst = (unsigned)burst;
		return 0;
	}
	case OPT_SAMPLER:
		if (!sampler_kind_parse(value, &o->sampler))
			return options_usage_error(err, errlen,
				"invalid %s '%s': expected builtin, austin or none", what, value);
		return 0;
	case OPT_AUSTIN:
		if (!*value)
			return options_usage_error(err, errlen,
				"%s is empty: give the Austin binary's path, or leave it out for austin on PATH",
				what);
		o->austin = value;
		o->austin_given = true;
		return 0;
	case OPT_AUSTIN_ROOT:
		if (value[0] != '/')
			return options_usage_error(err, errlen,
				"invalid %s '%s': expected an absolute directory", what, value);
		o->austin_root = value;
		o->austin_given = true;
		return 0;
	case OPT_INTERVAL:
		return options_parse_number(what, value, &options_interval_range,
					    &o->interval_ms, err, errlen);
	case OPT_DURATION:
		return parse_duration_option(what, value, &options_duration_range,
					     &o->duration_s, err, errlen);
	case OPT_INSECURE: flag = &o->insecure_skip_verify; break;
	case OPT_JSON: flag = &o->json; break;
	case OPT_NO_COLOR: flag = &o->no_color; break;
	case OPT_VERBOSE: flag = &o->verbose; break;
	case OPT_HELP:
		o->command = AGENT_HELP;
		return 0;
	}
	if (!flag)
		return 0;
	if (!from_env) {
		*flag = true;
		return 0;
	}
	if (parse_bool(value, flag))
		return options_usage_error(err, errlen, "invalid %s '%s': expected true or false", what, value);
	return 0;
}

int agent_options_parse(int argc, char **argv, agent_getenv_fn env, struct agent_options *o,
			char *err, size_t errlen)
{
	struct option longopts[NDEFS + 1];
	int code, c, index;
	const char *v;

	*o = (struct agent_options){
		.command = AGENT_RUN,
		.token_file = AGENT_DEFAULT_TOKEN_FILE,
		.ca_file = AGENT_DEFAULT_CA_FILE,
		.poll_interval_s = AGENT_DEFAULT_POLL_S,
		.metrics_addr = AGENT_DEFAULT_METRICS_ADDR,
		.service = "blocksnoop",
		.env = "",
		.threshold_ms = 100,
		.error_threshold_ms = 500,
		.min_threshold_ms = AGENT_DEFAULT_MIN_THRESHOLD_MS,
		.max_events_per_pod = AGENT_DEFAULT_MAX_EVENTS_PER_POD,
		.max_events_burst = AGENT_DEFAULT_MAX_EVENTS_BURST,
		.sampler = SAMPLER_BUILTIN,
		.austin_root = "/",
	};
	err[0] = '\0';

	/* The environment first, so that flags win. */
	for (size_t i = 0; i < NDEFS; i++) {
		if (!defs[i].env || !(v = env(defs[i].env)))
			continue;
		code = apply(o, &defs[i], v, true, err, errlen);
		if (code)
			return code;
	}
	v = env("POD_UID");
	o->own_pod_uid = v && *v ? v : NULL;

	memset(longopts, 0, sizeof(longopts));
	for (size_t i = 0; i < NDEFS; i++)
		longopts[i] = (struct option){ defs[i].name, defs[i].has_arg, NULL, defs[i].id };
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:vh", longopts, &index)) != -1) {
		const struct opt_def *d = NULL;

		switch (c) {
		case 't': c = OPT_THRESHOLD; break;
		case 'v': c = OPT_VERBOSE; break;
		case 'h': c = OPT_HELP; break;
		case ':':
			return options_usage_error(err, errlen, "option '%s' needs a value (see blocksnoop agent --help)",
					   argv[optind - 1]);
		case '?':
			/* The command line's exit-status policies: an agent runs
			 * until it is stopped, and its status then says nothing. */
			if (!strncmp(argv[optind - 1], "--fail-on", 9))
				return options_usage_error(err, errlen,
					"'%s' does not apply to blocksnoop agent, which runs until it is stopped: alert on blocksnoop_lost_events_total and blocksnoop_blocking_events_total from /metrics instead",
					argv[optind - 1]);
			return options_usage_error(err, errlen, "unknown option '%s' (see blocksnoop agent --help)",
					   argv[optind - 1]);
		}
		for (size_t i = 0; i < NDEFS; i++)
			if (defs[i].id == c)
				d = &defs[i];
		if (!d)
			return options_usage_error(err, errlen, "unknown option (see blocksnoop agent --help)");
		code = apply(o, d, optarg, false, err, errlen);
		if (code)
			return code;
		if (o->command == AGENT_HELP)
			return 0;
	}
	if (optind < argc)
		return options_usage_error(err, errlen,
			"unexpected argument '%s': the agent takes options only (see blocksnoop agent --help)",
			argv[optind]);

	if (o->threshold_ms < o->min_threshold_ms)
		return options_usage_error(err, errlen,
			"-t %g is below --min-threshold %g: raise -t, or lower --min-threshold (the lowest threshold any pod may ask for)",
			o->threshold_ms, o->min_threshold_ms);
	if (!o->node_name)
		return options_usage_error(err, errlen,
			"no node name: give --node-name or set NODE_NAME (in a pod, from the downward API: fieldRef spec.nodeName)");
	if (!o->kubelet_url[0]) {
		bool v6 = strchr(o->node_name, ':') != NULL;

		if (strlen(o->node_name) > 253)
			return options_usage_error(err, errlen, "the node name is too long");
		snprintf(o->kubelet_url, sizeof(o->kubelet_url), "https://%s%s%s:%d", v6 ? "[" : "",
			 o->node_name, v6 ? "]" : "", AGENT_DEFAULT_KUBELET_PORT);
	}
	return 0;
}

bool agent_runs_austin(const struct agent_options *o)
{
	return o->sampler == SAMPLER_AUSTIN || o->austin_given;
}

bool agent_runs_builtin(const struct agent_options *o)
{
	return o->sampler != SAMPLER_NONE;
}
