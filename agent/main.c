// SPDX-License-Identifier: Apache-2.0
/*
 * blocksnoop - find what blocks your asyncio event loop.
 *
 *   blocksnoop [OPTIONS] PID | -- COMMAND   watch a loop (session.c)
 *   blocksnoop doctor [PID]                 read-only preflight (doctor.c)
 *   blocksnoop agent [OPTIONS]              Kubernetes node agent (k8s/agent.c)
 */
#include <stdio.h>
#include <string.h>

#include "doctor.h"
#include "exit_codes.h"
#include "k8s/agent.h"
#include "log.h"
#include "nsexec.h"
#include "options.h"
#include "session.h"

int main(int argc, char **argv)
{
	struct options opts;
	char err[512];
	int code;

	/* Before anything else: the shim must stay single-threaded and clean
	 * until it execs (nsexec/shim.c). */
	if (argc > 1 && !strcmp(argv[1], "nsexec"))
		return nsexec_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "doctor"))
		return doctor_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "agent"))
		return agent_main(argc - 1, argv + 1);

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
