/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session_info.h - what a session is watching and how; fixed once it starts.
 * Records and sinks read it.
 */
#ifndef BLOCKSNOOP_SESSION_INFO_H
#define BLOCKSNOOP_SESSION_INFO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct session_info {
	char id[37];              /* random UUID (version 4) */
	const char *mode;         /* "attach" or "launch" */
	char *const *command;     /* launch mode: the command's argv; else NULL */
	pid_t pid, tid;           /* in blocksnoop's PID namespace */
	bool follow;              /* the processes it starts are watched too */
	bool all_threads;         /* every thread of a watched process, not one */
	double threshold_ms;
	double error_threshold_ms;
	bool stats;
	const char *service;      /* --service */
	const char *env;          /* --env */
	uint64_t start_mono_ns;   /* CLOCK_MONOTONIC at session start */
	struct timespec start_wall; /* CLOCK_REALTIME at session start */
};

#endif
