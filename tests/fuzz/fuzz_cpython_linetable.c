// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_cpython_linetable - the three line-table decoders
 * (agent/cpython/linetable.c) on arbitrary tables and addresses.
 *
 * Input: selector (1 byte: 0 lnotab, 1 3.10, 2 location table), firstlineno
 * (i32 LE), address (i64 LE), then the table. Seeds are real tables captured
 * from CPython 3.8-3.13 (tests/fixtures/cpython_capture_tables.py --emit).
 * Besides the given address, every address from -2 to 63 is tried.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpython/linetable.h"

static int decode(int sel, const uint8_t *tab, size_t len, int first, int64_t addr)
{
	switch (sel) {
	case 0:
		return pyline_lnotab(tab, len, first, addr);
	case 1:
		return pyline_linetable310(tab, len, first, addr);
	default:
		return pyline_locations(tab, len, first, addr);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int32_t first;
	int64_t addr, a;
	uint8_t *tab;
	size_t len;
	int sel;

	if (size < 13)
		return 0;
	sel = data[0] % 3;
	memcpy(&first, data + 1, 4);
	memcpy(&addr, data + 5, 8);
	len = size - 13;
	/* An exact-size copy: ASan flags any read past the table. */
	tab = malloc(len ? len : 1);
	if (!tab)
		return 0;
	memcpy(tab, data + 13, len);
	for (a = -2; a < 64; a++) {
		int line = decode(sel, tab, len, first, a);

		if (a < 0 && sel != 0 && line != first)
			abort(); /* before the first instruction: co_firstlineno */
		(void)line;
	}
	decode(sel, tab, len, first, addr);
	free(tab);
	return 0;
}
