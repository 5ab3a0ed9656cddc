// SPDX-License-Identifier: Apache-2.0
/*
 * linetable.c - the three CPython line tables, decoded the way CPython's own
 * PyCode_Addr2Line() of each version does (Objects/codeobject.c), but over
 * untrusted bytes: every read is bounds-checked and the running line is kept
 * in 64 bits and clamped, so garbage gives a wrong line, never UB.
 */
#include "linetable.h"

/* A running line number that garbage cannot overflow. */
static int64_t clamp_line(int64_t line)
{
	if (line > INT_MAX / 2)
		return INT_MAX / 2;
	if (line < -(INT_MAX / 2))
		return -(INT_MAX / 2);
	return line;
}

int pyline_lnotab(const uint8_t *tab, size_t len, int firstlineno, int64_t lasti)
{
	int64_t line = firstlineno, addr = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		addr += tab[i];
		if (addr > lasti)
			break;
		line = clamp_line(line + (int8_t)tab[i + 1]);
	}
	return (int)line;
}

int pyline_linetable310(const uint8_t *tab, size_t len, int firstlineno, int64_t addr)
{
	int64_t line = firstlineno, start = 0, end;
	size_t i;

	if (addr < 0)
		return firstlineno;
	for (i = 0; i + 1 < len; i += 2) {
		int ldelta = (int8_t)tab[i + 1];
		int cur;

		end = start + tab[i];
		if (ldelta != -128) {
			line = clamp_line(line + ldelta);
			cur = (int)line;
		} else {
			cur = PYLINE_NONE;
		}
		/* Empty ranges only move the line. */
		if (start <= addr && addr < end)
			return cur;
		start = end;
	}
	return PYLINE_OUTSIDE;
}

/* Location-table entry kinds (the 4 bits after the entry's top bit). */
enum {
	LOC_ONE_LINE0 = 10,
	LOC_ONE_LINE2 = 12,
	LOC_NO_COLUMNS = 13,
	LOC_LONG = 14,
	LOC_NONE = 15,
};

/* An unsigned varint of 6-bit groups (0x40 = more), within tab[i..end). */
static uint32_t read_varint(const uint8_t *tab, size_t i, size_t end)
{
	uint32_t val = 0;
	unsigned shift = 0;

	while (i < end) {
		uint8_t b = tab[i++];

		if (shift < 32)
			val |= (uint32_t)(b & 63) << shift;
		shift += 6;
		if (!(b & 64))
			break;
	}
	return val;
}

static int64_t read_svarint(const uint8_t *tab, size_t i, size_t end)
{
	uint32_t v = read_varint(tab, i, end);

	return (v & 1) ? -(int64_t)(v >> 1) : (int64_t)(v >> 1);
}

int pyline_locations(const uint8_t *tab, size_t len, int firstlineno, int64_t addr)
{
	int64_t line = firstlineno, start = 0, end;
	size_t i = 0, next;

	if (addr < 0)
		return firstlineno;
	while (i < len) {
		uint8_t first = tab[i];
		int code = (first >> 3) & 15;
		int cur;

		/*
		 * An entry runs to the next byte with the top bit set: that is
		 * how CPython's own iterator steps, whatever the entry's kind.
		 */
		for (next = i + 1; next < len && !(tab[next] & 0x80); next++)
			;
		end = start + (first & 7) + 1;
		if (code == LOC_NO_COLUMNS || code == LOC_LONG)
			line = clamp_line(line + read_svarint(tab, i + 1, next));
		else if (code >= LOC_ONE_LINE0 && code <= LOC_ONE_LINE2)
			line += code - LOC_ONE_LINE0;
		line = clamp_line(line);
		cur = code == LOC_NONE ? PYLINE_NONE : (int)line;
		if (start <= addr && addr < end)
			return cur;
		start = end;
		i = next;
	}
	return PYLINE_OUTSIDE;
}
