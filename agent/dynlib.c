// SPDX-License-Identifier: Apache-2.0
#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dynlib.h"

/* dlsym() hands a function's address back as a void *, which POSIX makes
 * the same size and representation as a function pointer. */
static_assert(sizeof(void *) == sizeof(void (*)(void)), "function pointers differ from void *");

int dynlib_load(const struct dynlib *lib, char *err, size_t errlen)
{
	void *handle, *address;
	size_t i;

	/* A bare soname (no '/'): dlopen() searches the system's directories. */
	assert(!strchr(lib->soname, '/'));
	handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		snprintf(err, errlen, "cannot load %s: %s (install the %s package)", lib->soname,
			 dlerror(), lib->package);
		return -ENOENT;
	}
	for (i = 0; i < lib->count; i++) {
		dlerror();
		address = dlsym(handle, lib->symbols[i].name);
		if (!address) {
			snprintf(err, errlen, "%s has no %s: it is too old (install a newer %s package)",
				 lib->soname, lib->symbols[i].name, lib->package);
			dlclose(handle);
			return -ENOENT;
		}
		/* Copied, not assigned: the slot is a function pointer. */
		memcpy(lib->symbols[i].slot, &address, sizeof(address));
	}
	/* Never closed: dlopen() counts references, so a second load is
	 * cheap and this one keeps the library mapped for good. */
	return 0;
}
