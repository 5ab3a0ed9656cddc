// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tracefs.h"

const char *const epoll_variant_names[EPOLL_VARIANT_COUNT] = {
	[EPOLL_VARIANT_WAIT] = "epoll_wait",
	[EPOLL_VARIANT_PWAIT] = "epoll_pwait",
	[EPOLL_VARIANT_PWAIT2] = "epoll_pwait2",
};

/* The order libbpf looks in (it prefers debugfs when that is mounted). */
static const char *const roots[] = {
	"/sys/kernel/debug/tracing",
	"/sys/kernel/tracing",
};

static bool is_tracefs_root(const char *root)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/events", root);
	/* AT_EACCESS: judge by the effective ids and capabilities, so that a
	 * non-root user running a setcap'd blocksnoop is answered truthfully. */
	return faccessat(AT_FDCWD, path, F_OK, AT_EACCESS) == 0;
}

const char *tracefs_find(void)
{
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		if (is_tracefs_root(roots[i]))
			return roots[i];
	return NULL;
}

const char *tracefs_ensure(void)
{
	const char *root = tracefs_find();

	if (root)
		return root;
	root = "/sys/kernel/tracing";
	if (mount("tracefs", root, "tracefs", 0, NULL) != 0) {
		int saved = errno;
		log_info("tracefs is not mounted and mounting it on %s failed: %m", root);
		errno = saved;
		return NULL;
	}
	log_info("tracefs was not mounted: mounted it on %s", root);
	return root;
}

bool tracefs_has_event(const char *root, const char *event)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/events/syscalls/%s/id", root, event);
	return faccessat(AT_FDCWD, path, R_OK, AT_EACCESS) == 0;
}

bool tracefs_has_syscall_pair(const char *root, const char *name)
{
	char event[128];

	snprintf(event, sizeof(event), "sys_enter_%s", name);
	if (!tracefs_has_event(root, event))
		return false;
	snprintf(event, sizeof(event), "sys_exit_%s", name);
	return tracefs_has_event(root, event);
}
