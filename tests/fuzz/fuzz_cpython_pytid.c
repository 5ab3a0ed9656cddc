// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_cpython_pytid - inferring the TID's place in struct pthread
 * (agent/cpython/pytid.c) from arbitrary memory windows and TID sets.
 * Input: thread count (1 byte, 1..8), valid TID count (1 byte, 1..16), the
 * valid TIDs (i32 LE each), then the windows, split evenly (each may be cut
 * short). A chosen offset must really hold a valid TID in every window.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpython/pytid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *wins[8];
	size_t lens[8], each, rest;
	pid_t valid[16];
	uint8_t *copy;
	int nthr, nvalid, i, found;
	uint32_t off = 0;

	if (size < 2)
		return 0;
	nthr = 1 + data[0] % 8;
	nvalid = 1 + data[1] % 16;
	if (size < 2 + 4 * (size_t)nvalid)
		return 0;
	memcpy(valid, data + 2, 4 * nvalid);
	rest = size - 2 - 4 * nvalid;
	copy = malloc(rest ? rest : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 2 + 4 * nvalid, rest);
	each = rest / nthr;
	for (i = 0; i < nthr; i++) {
		wins[i] = copy + i * each;
		lens[i] = each - (i & 1 ? each / 3 : 0);
	}
	found = pytid_infer_offset(wins, lens, nthr, valid, nvalid, valid[0], 0x2d0, &off);
	if (found > 0) {
		for (i = 0; i < nthr; i++) {
			int32_t v;
			int k, ok = 0;

			if (off + 4 > lens[i])
				abort();
			memcpy(&v, wins[i] + off, 4);
			for (k = 0; k < nvalid; k++)
				ok |= valid[k] == v;
			if (!ok)
				abort();
		}
	}
	free(copy);
	return 0;
}
