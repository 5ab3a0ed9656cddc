// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_options_agent - `blocksnoop agent`'s flags and environment
 * (agent/k8s/agent_options.c) from arbitrary bytes: the input, split at NUL
 * bytes, is argv after "agent", except that pieces starting with '=' are
 * environment entries ("=NAME=VALUE"). The parser answers 0 or EXIT_USAGE
 * with one line of message; an accepted configuration names a node and a
 * kubelet URL, has a listen address the server can bind, and every number
 * within its documented range; a second parse gives the same result.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exit_codes.h"
#include "k8s/agent_options.h"
#include "listen_addr.h"

#define MAX_ARGS 32

static const char *env_entries[MAX_ARGS + 1];

static const char *env_get(const char *name)
{
	size_t n = strlen(name);
	const char *found = NULL;

	for (const char *const *e = env_entries; *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			found = *e + n + 1; /* the last one wins, as setenv would */
	return found;
}

static void check_accepted(const struct agent_options *o)
{
	const struct num_range poll = { .min = 0.1, .max = AGENT_MAX_POLL_S, .unit = "s" };
	struct sockaddr_storage ss;
	socklen_t len;

	if (o->command != AGENT_RUN)
		return;
	assert(o->node_name && o->node_name[0]);
	assert(memchr(o->kubelet_url, '\0', sizeof(o->kubelet_url)));
	assert(!strncasecmp(o->kubelet_url, "https://", 8)); /* schemes are case-insensitive */
	assert(num_in_range(o->poll_interval_s, &poll));
	assert(o->metrics_addr);
	assert(!o->metrics_addr[0] || !listen_addr_parse(o->metrics_addr, &ss, &len));
	assert(num_in_range(o->threshold_ms, &options_ms_range));
	assert(num_in_range(o->error_threshold_ms, &options_ms_range));
	assert(o->interval_ms == 0 || num_in_range(o->interval_ms, &options_interval_range));
	assert(o->duration_s == 0 || num_in_range(o->duration_s, &options_duration_range));
	assert(o->sampler == SAMPLER_BUILTIN || o->sampler == SAMPLER_NONE);
	assert(o->service && o->service[0] && o->env);
	assert(!o->own_pod_uid || o->own_pod_uid[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 2], *argv2[MAX_ARGS + 2], err[512], err2[512];
	char *text = malloc(size + 1);
	struct agent_options o, again;
	int argc = 1, nenv = 0, ret;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	argv[0] = "agent";
	for (char *p = text; argc <= MAX_ARGS && nenv < MAX_ARGS && p <= text + size;
	     p += strlen(p) + 1) {
		if (p[0] == '=')
			env_entries[nenv++] = p + 1;
		else
			argv[argc++] = p;
	}
	argv[argc] = NULL;
	env_entries[nenv] = NULL;
	/* getopt_long may permute argv: keep the original order for the
	 * second parse. */
	memcpy(argv2, argv, sizeof(argv));

	ret = agent_options_parse(argc, argv, env_get, &o, err, sizeof(err));
	assert(ret == 0 || ret == EXIT_USAGE);
	if (ret) {
		assert(err[0] && !strchr(err, '\n'));
	} else {
		assert(!err[0]);
		check_accepted(&o);
	}
	assert(agent_options_parse(argc, argv2, env_get, &again, err2, sizeof(err2)) == ret);
	assert(!strcmp(err, err2));
	if (!ret) {
		assert(o.command == again.command);
		assert(!strcmp(o.kubelet_url, again.kubelet_url));
		assert(o.threshold_ms == again.threshold_ms && o.duration_s == again.duration_s &&
		       o.poll_interval_s == again.poll_interval_s &&
		       o.interval_ms == again.interval_ms);
	}
	free(text);
	return 0;
}
