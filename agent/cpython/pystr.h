/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pystr.h - CPython str objects (PEP 393) copied from another process ->
 * UTF-8 (internal to agent/cpython). Pure functions; any input is safe
 * (fuzzed by tests/fuzz/fuzz_cpython_pystr.c).
 */
#ifndef BLOCKSNOOP_CPYTHON_PYSTR_H
#define BLOCKSNOOP_CPYTHON_PYSTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest string the reader copies, in characters (longer ones are cut). */
#define PYSTR_MAX_CHARS 1024

/*
 * The PyASCIIObject.state bits that matter, the same from 3.8 to 3.15 and in
 * 3.13t (3.14t moves them: its interned flag is a whole byte).
 */
struct pystr_shape {
	unsigned kind;   /* bytes per character: 1, 2 or 4 */
	bool compact;    /* characters follow the header */
	bool ascii;      /* compact ASCII: characters at the PyASCIIObject size */
};

/*
 * Decode the state word. -1 if it cannot be a ready str: kind not 1/2/4, or
 * ascii without compact or with kind != 1.
 */
int pystr_shape(uint32_t state, struct pystr_shape *out);

/*
 * Write the first nchars characters of data (kind bytes each, native byte
 * order; datalen bytes are available) as NUL-terminated UTF-8 into out
 * (outlen >= 1). Characters that cannot be encoded (lone surrogates, values
 * above U+10FFFF, non-ASCII bytes in an ASCII string) and NULs become
 * U+FFFD, so the result is one well-formed C string; the
 * output stops at a character boundary when out, data or PYSTR_MAX_CHARS
 * runs out. Returns the number of bytes written before the NUL.
 */
size_t pystr_to_utf8(const struct pystr_shape *shape, const uint8_t *data, size_t datalen,
		     uint64_t nchars, char *out, size_t outlen);

#endif
