// SPDX-License-Identifier: Apache-2.0
#include <string.h>

#include "pystr.h"

/* PyASCIIObject.state: interned:2, kind:3, compact:1, ascii:1, ... */
#define STATE_KIND_SHIFT 2
#define STATE_KIND_MASK 7u
#define STATE_COMPACT (1u << 5)
#define STATE_ASCII (1u << 6)

int pystr_shape(uint32_t state, struct pystr_shape *out)
{
	unsigned kind = (state >> STATE_KIND_SHIFT) & STATE_KIND_MASK;

	if (kind != 1 && kind != 2 && kind != 4)
		return -1;
	out->kind = kind;
	out->compact = state & STATE_COMPACT;
	out->ascii = state & STATE_ASCII;
	if (out->ascii && (!out->compact || kind != 1))
		return -1;
	return 0;
}

/* The UTF-8 of one code point (replaced if it has none); its length. */
static size_t encode(uint32_t cp, uint8_t buf[4])
{
	/* NUL would end the C string early: replaced like the unencodable. */
	if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		cp = 0xFFFD;
	if (cp < 0x80) {
		buf[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		buf[0] = 0xC0 | (cp >> 6);
		buf[1] = 0x80 | (cp & 0x3F);
		return 2;
	}
	if (cp < 0x10000) {
		buf[0] = 0xE0 | (cp >> 12);
		buf[1] = 0x80 | ((cp >> 6) & 0x3F);
		buf[2] = 0x80 | (cp & 0x3F);
		return 3;
	}
	buf[0] = 0xF0 | (cp >> 18);
	buf[1] = 0x80 | ((cp >> 12) & 0x3F);
	buf[2] = 0x80 | ((cp >> 6) & 0x3F);
	buf[3] = 0x80 | (cp & 0x3F);
	return 4;
}

size_t pystr_to_utf8(const struct pystr_shape *shape, const uint8_t *data, size_t datalen,
		     uint64_t nchars, char *out, size_t outlen)
{
	size_t used = 0;
	uint64_t i;

	if (outlen == 0)
		return 0;
	if (nchars > PYSTR_MAX_CHARS)
		nchars = PYSTR_MAX_CHARS;
	if (nchars > datalen / shape->kind)
		nchars = datalen / shape->kind;
	for (i = 0; i < nchars; i++) {
		const uint8_t *p = data + i * shape->kind;
		uint8_t buf[4];
		uint32_t cp;
		size_t n;

		if (shape->kind == 1) {
			cp = p[0];
			if (shape->ascii && cp >= 0x80)
				cp = 0xFFFD;
		} else if (shape->kind == 2) {
			uint16_t u;

			memcpy(&u, p, 2);
			cp = u;
		} else {
			memcpy(&cp, p, 4);
		}
		n = encode(cp, buf);
		if (used + n >= outlen)
			break;
		memcpy(out + used, buf, n);
		used += n;
	}
	out[used] = '\0';
	return used;
}
