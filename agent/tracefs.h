/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tracefs.h - where the kernel's tracing file system is, and which epoll
 * tracepoints it offers. libbpf attaches tracepoints by name through
 * tracefs, which fresh hosts and containers often leave unmounted.
 */
#ifndef BLOCKSNOOP_TRACEFS_H
#define BLOCKSNOOP_TRACEFS_H

#include <stdbool.h>

#include "gap_detector.h"

/* The syscall names of enum epoll_variant, e.g. "epoll_pwait2". */
extern const char *const epoll_variant_names[EPOLL_VARIANT_COUNT];

/*
 * The mounted tracefs root ("/sys/kernel/tracing" or
 * "/sys/kernel/debug/tracing"), or NULL if neither is mounted. Read-only.
 */
const char *tracefs_find(void);

/*
 * Make sure tracefs is mounted: if tracefs_find() finds nothing, mount
 * tracefs on /sys/kernel/tracing (saying so with -v). Returns the root, or
 * NULL with errno set (EPERM without CAP_SYS_ADMIN).
 */
const char *tracefs_ensure(void);

/* Whether syscalls:sys_{enter,exit}_<name> both exist under root. */
bool tracefs_has_syscall_pair(const char *root, const char *name);

/* Whether the single event syscalls:<event> exists under root. */
bool tracefs_has_event(const char *root, const char *event);

#endif
