// SPDX-License-Identifier: Apache-2.0
/*
 * loader.c - the ELF loader's command line (nsexec_internal.h): which
 * options each kind of loader takes. Pure functions. One home for the
 * differences between glibc's ld.so and musl's.
 */
#include <errno.h>
#include <string.h>

#include "nsexec_internal.h"

enum nsexec_loader nsexec_loader_kind(const char *interp)
{
	const char *base = strrchr(interp, '/');

	base = base ? base + 1 : interp;
	/* musl names its loader ld-musl-<arch>.so.1; glibc's are ld-linux*,
	 * ld64.so.*, ld.so.1 ... */
	return strncmp(base, "ld-musl-", 8) ? NSEXEC_LOADER_GLIBC : NSEXEC_LOADER_MUSL;
}

int nsexec_loader_argv(const char *interp, const char *libpath, const char *preload,
		       const char *program, char *const *args, char **argv, size_t max)
{
	size_t n = 0, need = 6 + (nsexec_loader_kind(interp) == NSEXEC_LOADER_GLIBC);

	for (char *const *a = args; a && *a; a++)
		need++;
	if (need + 1 > max)
		return -E2BIG;
	argv[n++] = (char *)interp;
	/* glibc only (musl has no cache, and refuses options it does not
	 * know): not even blocksnoop's ld.so.cache, whose libraries are not
	 * the root's. */
	if (nsexec_loader_kind(interp) == NSEXEC_LOADER_GLIBC)
		argv[n++] = "--inhibit-cache";
	argv[n++] = "--library-path";
	argv[n++] = (char *)libpath;
	/* glibc >= 2.30 and musl >= 1.1.1; an older loader takes the option
	 * for the program's name and fails before anything runs. */
	argv[n++] = "--preload";
	argv[n++] = (char *)preload;
	argv[n++] = (char *)program;
	for (char *const *a = args; a && *a; a++)
		argv[n++] = *a;
	argv[n] = NULL;
	return (int)n;
}
