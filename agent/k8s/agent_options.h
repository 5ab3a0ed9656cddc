/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s/agent_options.h - the command line of `blocksnoop agent`, each option
 * also taken from an environment variable (a flag wins over its variable).
 * Pure: reads argv and the environment through a function it is given, so
 * it is unit-tested directly (tests/unit/test_k8s_options.c).
 */
#ifndef BLOCKSNOOP_K8S_AGENT_OPTIONS_H
#define BLOCKSNOOP_K8S_AGENT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "options.h"

#define AGENT_DEFAULT_TOKEN_FILE "/var/run/secrets/kubernetes.io/serviceaccount/token"
#define AGENT_DEFAULT_CA_FILE "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
#define AGENT_DEFAULT_KUBELET_PORT 10250
#define AGENT_DEFAULT_POLL_S 10.0
#define AGENT_MAX_POLL_S 3600.0
#define AGENT_DEFAULT_METRICS_ADDR ":9090"
/* What one pod may ask of the node: the lowest threshold its annotation
 * can set, and how many events a second it may have reported. */
#define AGENT_DEFAULT_MIN_THRESHOLD_MS 10.0
#define AGENT_DEFAULT_MAX_EVENTS_PER_POD 10.0
#define AGENT_DEFAULT_MAX_EVENTS_BURST 50
#define AGENT_MAX_EVENTS_LIMIT 1000000.0

enum agent_command {
	AGENT_RUN,
	AGENT_HELP,
};

struct agent_options {
	enum agent_command command;
	const char *node_name;        /* --node-name / NODE_NAME (required) */
	char kubelet_url[512];        /* --kubelet-url, https:// only; default https://NODE:10250 */
	const char *kubelet_host_ip;  /* --kubelet-host-ip / HOST_IP; NULL: dial the URL's host */
	const char *token_file;       /* --kubelet-token-file; NULL: send no token */
	bool token_file_given;        /* set explicitly (not the default) */
	const char *ca_file;          /* --kubelet-ca-file; NULL: the system's CAs */
	bool ca_file_given;
	bool insecure_skip_verify;    /* --kubelet-insecure-skip-tls-verify */
	double poll_interval_s;       /* --poll-interval, > 0 */
	const char *metrics_addr;     /* --metrics-addr; "" = no HTTP server */
	const char *own_pod_uid;      /* POD_UID: this agent's own pod, skipped */
	/* The output options of the CLI: */
	bool json;
	const char *log_file;
	const char *service;
	const char *env;
	double threshold_ms;          /* -t: the pods' default */
	double error_threshold_ms;    /* --error-threshold: the pods' default */
	double min_threshold_ms;      /* --min-threshold: floor of pods' thresholds, <= threshold_ms */
	double max_events_per_pod;    /* --max-events-per-pod, per second; 0 = no limit */
	unsigned max_events_burst;    /* --max-events-burst, >= 1 */
	enum sampler_kind sampler;    /* --sampler: the pods' default */
	const char *austin;           /* --austin; NULL: "austin" on PATH (or in austin_root) */
	const char *austin_root;      /* --austin-root, absolute; "/" */
	bool austin_given;            /* --austin or --austin-root was set */
	double interval_ms;           /* --interval; 0 = from -t */
	double duration_s;            /* --duration; 0 = until a signal */
	bool no_color;
	bool verbose;
	const char *flame_dir;        /* --flame-dir: per-pod flame graphs; NULL = none */
};

/*
 * Pure. Whether the agent runs the Austin sampler, and so keeps what
 * starting Austin through the namespace shim needs (caps.h CAPS_AUSTIN):
 * only when Austin is the default or was made available explicitly
 * (--austin, --austin-root). Least privilege: an agent nobody asked to run
 * Austin has no helper to start and keeps none of its capabilities.
 */
bool agent_runs_austin(const struct agent_options *o);

/* Pure. Whether the agent runs the built-in sampler: unless --sampler none. */
bool agent_runs_builtin(const struct agent_options *o);

/* How the agent reads its environment: getenv, or a table in tests. */
typedef const char *(*agent_getenv_fn)(const char *name);

/*
 * Parse `agent [OPTIONS]` (argv[0] is "agent") and the environment (through
 * env) into *o. On success returns 0 with defaults applied; o points into
 * argv and the strings env returned, which must outlive it. On a usage
 * error returns EXIT_USAGE with a one-line message (no "blocksnoop:"
 * prefix) in err. Does not check that files exist.
 */
int agent_options_parse(int argc, char **argv, agent_getenv_fn env, struct agent_options *o,
			char *err, size_t errlen);


/*
 * Pure. A duration: seconds as a plain decimal ("10", "0.5", numparse.h)
 * or one with a unit ("500ms", "10s", "2m", "1h"), within r (in seconds).
 * Returns 0 and *seconds, -EINVAL (not such a duration) or -ERANGE
 * (outside r). *seconds is written only on success.
 */
int agent_parse_duration(const char *text, const struct num_range *r, double *seconds);

/* The `blocksnoop agent --help` text. */
extern const char agent_usage[];

#endif
