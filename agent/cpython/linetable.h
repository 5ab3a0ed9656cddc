/* SPDX-License-Identifier: Apache-2.0 */
/*
 * linetable.h - CPython line-number tables -> source line (internal to
 * agent/cpython). Pure functions over a byte buffer copied from another
 * process: any bytes are accepted, nothing outside tab[0..len) is read, and
 * no input can overflow or loop without bound (the fuzz target
 * tests/fuzz/fuzz_cpython_linetable.c checks this).
 *
 * Each returns the line of the instruction at the given address;
 * PYLINE_NONE when the table says the instruction has no line; or
 * PYLINE_OUTSIDE when the address is past what the table covers (3.10+
 * tables cover every instruction, so for a frame that means its code and
 * instruction pointer were not read at the same moment). An address before
 * the first instruction (< 0; a frame that has not started yet) gives
 * firstlineno, as CPython's PyCode_Addr2Line() does.
 */
#ifndef BLOCKSNOOP_CPYTHON_LINETABLE_H
#define BLOCKSNOOP_CPYTHON_LINETABLE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define PYLINE_NONE INT_MIN
#define PYLINE_OUTSIDE (INT_MIN + 1)

/*
 * 3.8/3.9 co_lnotab: (byte delta u8, line delta i8) pairs; lasti is
 * PyFrameObject.f_lasti, a byte offset into co_code. The table does not
 * say where the code ends: never PYLINE_OUTSIDE.
 */
int pyline_lnotab(const uint8_t *tab, size_t len, int firstlineno, int64_t lasti);

/*
 * 3.10 co_linetable: (byte length u8, line delta i8) pairs, line delta
 * -128 = no line; addr is the byte offset (3.10's f_lasti is in code units:
 * pass 2 * f_lasti).
 */
int pyline_linetable310(const uint8_t *tab, size_t len, int firstlineno, int64_t addr);

/*
 * 3.11+ location table (Objects/locations.md); addr is in code units
 * (2-byte _Py_CODEUNITs) from the start of co_code_adaptive.
 */
int pyline_locations(const uint8_t *tab, size_t len, int firstlineno, int64_t addr);

#endif
