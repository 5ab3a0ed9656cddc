/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dynlib.h - a shared library loaded when a run first needs it, not at
 * start: libcurl (agent mode's kubelet client) and libmicrohttpd (the
 * /metrics server) bring some 40 libraries (TLS, Kerberos, LDAP) worth
 * ~6 MiB of RSS that a plain attach never uses.
 *
 * A library is named by its exact soname (libcurl.so.4), never by a path:
 * the dynamic linker looks in blocksnoop's own library directories and
 * cache (environment variables count only for a non-privileged run, as
 * for any library we link), never anywhere a target chooses. Once loaded
 * it stays loaded for the process's life (its threads and atexit handlers
 * would outlive a dlclose()).
 */
#ifndef BLOCKSNOOP_DYNLIB_H
#define BLOCKSNOOP_DYNLIB_H

#include <stddef.h>

/* A function the library must provide, and the function pointer (any
 * function pointer type: void * only for the address) that receives it. */
struct dynlib_symbol {
	const char *name;
	void *slot;
};

struct dynlib {
	const char *soname;     /* "libcurl.so.4" */
	const char *package;    /* the Debian package that ships it: for the error */
	const struct dynlib_symbol *symbols;
	size_t count;
};

/*
 * Load lib->soname (RTLD_NOW | RTLD_LOCAL) and store every symbol's address
 * in its slot. Idempotent, single-threaded callers only. Returns 0, or
 * -ENOENT with a one-line reason in err (the library is missing, or lacks a
 * symbol: too old) that names the package to install; the slots are then
 * unspecified and the library is not kept loaded.
 */
int dynlib_load(const struct dynlib *lib, char *err, size_t errlen);

#endif
