/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exit_codes.h - blocksnoop's exit status, documented in the README.
 * In launch mode the command's own status wins (128+N when signal N ended
 * it), except that a --fail-on or --fail-on-loss hit turns a clean 0 into
 * EXIT_POLICY.
 */
#ifndef BLOCKSNOOP_EXIT_CODES_H
#define BLOCKSNOOP_EXIT_CODES_H

enum exit_code {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,     /* BPF load/attach failure, I/O error, ... */
	EXIT_USAGE = 2,       /* bad option or value */
	EXIT_POLICY = 3,      /* --fail-on event|error was hit, or --fail-on-loss */
	EXIT_NO_TARGET = 4,   /* no such PID, or --tid not a thread of it */
	EXIT_PRIVILEGE = 5,   /* missing capabilities */
	EXIT_NOT_FOUND = 127, /* launch mode: the command could not be run */
};

#endif
