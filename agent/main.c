// SPDX-License-Identifier: Apache-2.0
/*
 * blocksnoop - find what blocks your asyncio event loop.
 *
 *   blocksnoop [OPTIONS] PID | -- COMMAND   watch a loop (session.c)
 *   blocksnoop doctor [PID]                 read-only preflight (doctor.c)
 */
#include <stdio.h>
#include <string.h>

#include "doctor.h"
#include "exit_codes.h"
#include "log.h"
#include "options.h"
#include "session.h"

int main(int argc, char **argv)
{
	struct options opts;
	char err[512];
	int code;

	if (argc > 1 && !strcmp(argv[1], "doctor"))
		return doctor_main(argc - 1, argv + 1);

	code = options_parse(argc, argv, &opts, err, sizeof(err));
	if (code) {
		log_error("%s", err);
		return code;
	}
	switch (opts.command) {
	case CMD_HELP:
		fputs(options_usage, stdout);
		return EXIT_OK;
	case CMD_VERSION:
		printf("blocksnoop %s\n", BLOCKSNOOP_VERSION);
		return EXIT_OK;
	default:
		break;
	}
	log_set_verbose(opts.verbose);
	return session_run(&opts);
}
