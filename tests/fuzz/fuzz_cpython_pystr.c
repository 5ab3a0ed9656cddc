// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_cpython_pystr - PyUnicode (PEP 393) state + characters -> UTF-8
 * (agent/cpython/pystr.c). Input: state (u32 LE), character count (u64 LE),
 * output size (1 byte, 1..256), then the character data. The output must be
 * NUL-terminated inside the buffer and valid UTF-8.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpython/pystr.h"

/* Whether s[0..n) is well-formed UTF-8 (no surrogates, <= U+10FFFF). */
static int valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, cp, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			need = 1, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			need = 2, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			need = 3, cp = c & 0x07;
		else
			return 0;
		for (k = 1; k <= need; k++) {
			if (i + k >= n || (s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return 0;
		i += need + 1;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pystr_shape shape;
	uint32_t state;
	uint64_t nchars;
	size_t outlen, n, len;
	uint8_t *chars;
	char *out;

	if (size < 13)
		return 0;
	memcpy(&state, data, 4);
	memcpy(&nchars, data + 4, 8);
	outlen = 1 + data[12];
	if (pystr_shape(state, &shape) < 0)
		return 0;
	len = size - 13;
	chars = malloc(len ? len : 1);
	out = malloc(outlen);
	if (!chars || !out)
		abort();
	memcpy(chars, data + 13, len);
	n = pystr_to_utf8(&shape, chars, len, nchars, out, outlen);
	if (n >= outlen || out[n] != '\0' || strlen(out) != n || !valid_utf8((unsigned char *)out, n))
		abort();
	free(chars);
	free(out);
	return 0;
}
