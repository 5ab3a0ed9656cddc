// SPDX-License-Identifier: Apache-2.0
#include <string.h>

#include "pytid.h"

uint32_t pytid_preferred_offset(void)
{
#if defined(__x86_64__) && defined(__GLIBC__)
	return 0x2d0; /* verified on glibc 2.36; stable since 2.26 */
#else
	return 0;
#endif
}

static int valid_tid(int32_t v, const pid_t *valid, int nvalid)
{
	int i;

	for (i = 0; i < nvalid; i++)
		if (valid[i] == v)
			return 1;
	return 0;
}

int pytid_infer_offset(const uint8_t *const *windows, const size_t *lens, int nthreads,
		       const pid_t *valid, int nvalid, pid_t main_tid, uint32_t preferred,
		       uint32_t *off)
{
	size_t minlen = SIZE_MAX, o;
	int found = 0, t, u;

	if (nthreads <= 0 || nvalid <= 0)
		return 0;
	for (t = 0; t < nthreads; t++)
		if (lens[t] < minlen)
			minlen = lens[t];
	for (o = 0; o + 4 <= minlen; o += 4) {
		int has_main = 0, ok = 1;

		for (t = 0; t < nthreads && ok; t++) {
			int32_t v;

			memcpy(&v, windows[t] + o, 4);
			if (v <= 0 || !valid_tid(v, valid, nvalid)) {
				ok = 0;
				break;
			}
			if (v == main_tid)
				has_main = 1;
			for (u = 0; u < t; u++) {
				int32_t w;

				memcpy(&w, windows[u] + o, 4);
				if (w == v)
					ok = 0;
			}
		}
		if (!ok || !has_main)
			continue;
		if (found == 0 || o == preferred)
			*off = (uint32_t)o;
		found++;
	}
	return found;
}
