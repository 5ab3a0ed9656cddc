// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_cpython_srcline - the streaming source-line finder
 * (agent/cpython/srcline.c) that pysource.c feeds a target's file through,
 * checked against a plain whole-text implementation of the same rules.
 *
 * Input: wanted line (u16 LE, 0 read as 1), output size (1 byte, 1..256),
 * chunking seed (1 byte), then the text. The text is fed in chunks whose
 * sizes come from the seed (1 byte at a time up to all at once), until the
 * finder says it needs no more. Both must agree on the result and the line.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpython/srcline.h"

static int blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r';
}

/* The rules on the whole text: lines end with '\n', a final one without
 * counts, a BOM at the start is skipped, leading blanks dropped, the rest
 * cut to room bytes at a character boundary, then trailing blanks dropped. */
static int reference(const unsigned char *t, size_t len, int want, char *out, size_t room)
{
	size_t nl = 0, i, start = 0, end, n;
	int line = 1;

	for (i = 0; i < len; i++)
		nl += t[i] == '\n';
	if ((size_t)want > nl + (len > 0 && t[len - 1] != '\n')) {
		out[0] = '\0';
		return -ERANGE;
	}
	for (i = 0; i < len && line < want; i++)
		if (t[i] == '\n') {
			line++;
			start = i + 1;
		}
	for (end = start; end < len && t[end] != '\n'; end++)
		;
	if (want == 1 && end - start >= 3 && memcmp(t, "\xEF\xBB\xBF", 3) == 0)
		start += 3;
	while (start < end && blank(t[start]))
		start++;
	n = end - start;
	if (n > room)
		for (n = room; n > 0 && (t[start + n] & 0xC0) == 0x80; n--)
			;
	while (n > 0 && blank(t[start + n - 1]))
		n--;
	memcpy(out, t + start, n);
	out[n] = '\0';
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char got[257], want_text[257];
	unsigned seed;
	size_t outlen, off = 0;
	struct srcline s;
	int want, rc, ref;

	if (size < 4)
		return 0;
	want = data[0] | data[1] << 8;
	if (want == 0)
		want = 1;
	outlen = 1 + data[2];
	if (outlen > sizeof(got))
		outlen = sizeof(got);
	seed = data[3] | 1u;
	data += 4;
	size -= 4;

	srcline_init(&s, want, got, outlen);
	while (off < size) {
		size_t chunk;

		seed = seed * 1103515245u + 12345u;
		chunk = 1 + (seed >> 16) % (size - off);
		if (seed & 0x8000)
			chunk = 1 + chunk % 4; /* often tiny, to split a BOM or a character */
		if (chunk > size - off)
			chunk = size - off;
		if (srcline_feed(&s, (const char *)data + off, chunk))
			break;
		off += chunk;
	}
	rc = srcline_finish(&s);
	ref = reference(data, size, want, want_text, outlen - 1);
	if (rc != ref || strcmp(got, want_text) != 0)
		abort();
	if (strlen(got) > outlen - 1)
		abort();
	return 0;
}
