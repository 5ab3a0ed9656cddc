// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_nsexec_args - the shim's argument parser and the environment check
 * (nsexec/args.c). The input is split at NUL bytes into the words after
 * "nsexec". Whatever parses must be well formed, and must come back the
 * same through nsexec_format_args(): the writer and the reader agree.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nsexec_internal.h"

#define MAX_WORDS (NSEXEC_MAX_ARGS + 32)

static void check_round_trip(const struct nsexec_args *a)
{
	struct nsexec_request req = { .target = a->target, .root = a->root,
				      .program = a->program[0], .args = a->program + 1,
				      .keep_caps = a->keep_caps };
	char *argv[MAX_WORDS + 8], nums[96], err[256];
	struct nsexec_args b;
	int n;

	n = nsexec_format_args(&req, a->parent, a->status_fd, argv, MAX_WORDS + 8, nums,
			       sizeof(nums), err, sizeof(err));
	if (n < 0)
		abort(); /* the reader accepted what the writer cannot write */
	if (nsexec_parse_args(n - 1, argv + 1, &b, err, sizeof(err)))
		abort();
	if (b.status_fd != a->status_fd || b.target != a->target || strcmp(b.root, a->root) ||
	    b.keep_caps != a->keep_caps || b.parent != a->parent)
		abort();
	for (int i = 0;; i++) {
		if (!a->program[i] != !b.program[i])
			abort();
		if (!a->program[i])
			break;
		if (strcmp(a->program[i], b.program[i]))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *words[MAX_WORDS + 2], err[256];
	struct nsexec_args a;
	int argc = 0;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	words[argc++] = "nsexec";
	for (size_t i = 0; i <= size && argc < MAX_WORDS + 1;) {
		words[argc++] = copy + i;
		i += strlen(copy + i) + 1;
	}
	words[argc] = NULL;

	err[0] = '\0';
	if (nsexec_parse_args(argc, words, &a, err, sizeof(err)) == 0) {
		if (a.target <= 0 || a.root[0] != '/' || a.program[0][0] != '/' ||
		    (a.status_fd != -1 && a.status_fd < 3) || a.parent < 0)
			abort();
		check_round_trip(&a);
	} else if (!err[0] || (a.status_fd != -1 && a.status_fd < 3)) {
		/* (the reason may quote the bad word, newlines and all: the shim
		 * makes one line of it before it reports) */
		abort();
	}

	/* the same words as an environment */
	err[0] = '\0';
	if (nsexec_check_env(words + 1, err, sizeof(err)) == 0) {
		for (int i = 1; i < argc; i++)
			if (!strchr(words[i], '=') || !strncmp(words[i], "LD_", 3))
				abort();
	} else if (!err[0]) {
		abort();
	}
	free(copy);
	return 0;
}
