/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session.h - one blocksnoop run: attach to a PID or launch a command, watch
 * it until it ends (or a signal, or --duration), report, and summarise.
 */
#ifndef BLOCKSNOOP_SESSION_H
#define BLOCKSNOOP_SESSION_H

#include "options.h"

/*
 * Run the session described by o (already validated by options_parse).
 * Returns blocksnoop's exit status (exit_codes.h; in launch mode the
 * command's). Every error has been reported on stderr as one line; events
 * seen before an error are flushed and summarised; nothing stays attached
 * and no child process is left behind.
 */
int session_run(const struct options *o);

#endif
