// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_cpython_pyoffsets - _Py_DebugOffsets parsing (agent/cpython/
 * pyoffsets.c) on arbitrary bytes. If the first byte is odd, the cookie and
 * a 3.13 or 3.14 version are written in, so the fuzzer reaches the field
 * checks. Whatever is accepted must keep every read inside sane sizes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpython/pyoffsets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct py_offsets o;
	uint32_t hex;
	uint8_t *buf;
	char err[256];

	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (size >= 24 && (data[0] & 1)) {
		uint64_t v = (data[0] & 2) ? 0x030e00f0 : 0x030d00f0, ft = 0;

		memcpy(buf, PY_DEBUG_COOKIE, 8);
		memcpy(buf + 8, &v, 8);
		if (data[0] & 4)
			memcpy(buf + 16, &ft, 8);
	}
	if (pyoffsets_from_debug(buf, size, &o, &hex, err, sizeof(err)) == 0) {
		if (o.ts_read > (1u << 16) || o.frame_read > (1u << 16) || o.code_read > (1u << 16) ||
		    o.frame_owner >= (1u << 16) || o.str_compact_data > 256 || o.bytes_sval > 64)
			abort();
	} else if (!memchr(err, '\0', sizeof(err)) || !err[0]) {
		abort();
	}
	free(buf);
	return 0;
}
