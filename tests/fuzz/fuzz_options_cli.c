// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_options_cli - blocksnoop's command line (agent/options.c) from
 * arbitrary bytes: the input, split at NUL bytes, is argv after
 * "blocksnoop". Whatever it holds, the parser answers 0 or EXIT_USAGE with
 * one line of message; an accepted command line has exactly one target and
 * every number within its documented range (so nothing downstream
 * overflows); argv is left as it was; and a second parse of the same argv
 * gives the same result (getopt's global state is reset).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exit_codes.h"
#include "options.h"

#define MAX_ARGS 32

static void check_accepted(const struct options *o, char **argv, int argc)
{
	if (o->command != CMD_RUN)
		return;
	assert(!o->pid != !o->launch_argv); /* one target */
	assert(o->launch_argv ? !o->pid && !o->tid : o->pid >= 1 && o->tid >= 1);
	assert(!o->launch_argv || (o->launch_argv > argv && o->launch_argv < argv + argc &&
				   o->launch_argv[0]));
	assert(num_in_range(o->threshold_ms, &options_ms_range));
	assert(num_in_range(o->error_threshold_ms, &options_ms_range));
	assert(num_in_range(o->correlation_padding_ms, &options_ms_range));
	assert(o->interval_ms == 0 || num_in_range(o->interval_ms, &options_interval_range));
	assert(o->duration_s == 0 || num_in_range(o->duration_s, &options_duration_range));
	assert(o->sampler == SAMPLER_BUILTIN || o->sampler == SAMPLER_AUSTIN ||
	       o->sampler == SAMPLER_NONE);
	assert(!o->stats || (o->sampler == SAMPLER_NONE && o->fail_on == FAIL_ON_NONE));
	assert(o->austin_root && o->austin_root[0] == '/');
	assert(o->service && o->env);
	assert(!o->all_threads || o->tid == o->pid); /* every thread: no --tid */
}

/* Field by field: the struct's padding is not part of the result. */
static bool same_options(const struct options *a, const struct options *b)
{
	return a->command == b->command && a->pid == b->pid && a->tid == b->tid &&
	       a->launch_argv == b->launch_argv && a->threshold_ms == b->threshold_ms &&
	       a->stats == b->stats && a->json == b->json && a->log_file == b->log_file &&
	       a->service == b->service && a->env == b->env && a->no_color == b->no_color &&
	       a->verbose == b->verbose && a->error_threshold_ms == b->error_threshold_ms &&
	       a->correlation_padding_ms == b->correlation_padding_ms &&
	       a->duration_s == b->duration_s && a->fail_on == b->fail_on &&
	       a->summary_only == b->summary_only && a->sampler == b->sampler &&
	       a->interval_ms == b->interval_ms && a->austin == b->austin &&
	       a->austin_root == b->austin_root && a->follow == b->follow &&
	       a->all_threads == b->all_threads;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 2], *copy[MAX_ARGS + 2], err[256], err2[256];
	char *text = malloc(size + 1);
	struct options o, again;
	int argc = 1, ret;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	argv[0] = "blocksnoop";
	for (char *p = text; argc <= MAX_ARGS && p <= text + size; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	memcpy(copy, argv, sizeof(argv));

	ret = options_parse(argc, argv, &o, err, sizeof(err));
	assert(ret == 0 || ret == EXIT_USAGE);
	assert(!memcmp(copy, argv, sizeof(argv[0]) * (size_t)(argc + 1)));
	if (ret) {
		assert(err[0] && !strchr(err, '\n'));
	} else {
		assert(!err[0]);
		check_accepted(&o, argv, argc);
	}
	assert(options_parse(argc, argv, &again, err2, sizeof(err2)) == ret);
	assert(!strcmp(err, err2));
	assert(ret || same_options(&o, &again));
	free(text);
	return 0;
}
