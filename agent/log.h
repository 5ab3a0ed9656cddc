/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h - blocksnoop's own diagnostics on stderr ("blocksnoop: ..." lines).
 * Never used for records: those go through the sinks (sink.h).
 */
#ifndef BLOCKSNOOP_LOG_H
#define BLOCKSNOOP_LOG_H

#include <stdbool.h>

/* Show log_info/log_debug lines (-v). Off by default. */
void log_set_verbose(bool verbose);
bool log_verbose(void);

/* "blocksnoop: error: ..." - always shown. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "blocksnoop: warning: ..." - always shown. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "blocksnoop: ..." - only with -v. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
