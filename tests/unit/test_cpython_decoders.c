// SPDX-License-Identifier: Apache-2.0
/*
 * test_cpython_decoders.c - the pure parts of the CPython reader
 * (agent/cpython): str decoding (pystr.h), the per-version layouts and
 * _Py_DebugOffsets parsing (pyoffsets.h) with real 3.13 blobs, the
 * struct pthread TID inference (pytid.h), /proc/<pid>/maps lines
 * (procmaps.h) and the string pool (strpool.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpython/procmaps.h"
#include "cpython/pyoffsets.h"
#include "cpython/pystr.h"
#include "cpython/pytid.h"
#include "cpython/strpool.h"

/* ------------------------------------------------------------------ */
/* pystr                                                                */

#define ST_KIND(k) ((uint32_t)(k) << 2)
#define ST_COMPACT (1u << 5)
#define ST_ASCII (1u << 6)

static const char *utf8(uint32_t state, const void *data, size_t datalen, uint64_t n,
			size_t outlen)
{
	static char out[8192];
	struct pystr_shape sh;

	assert_int_equal(pystr_shape(state, &sh), 0);
	assert_true(outlen <= sizeof(out));
	pystr_to_utf8(&sh, data, datalen, n, out, outlen);
	return out;
}

static void test_pystr_kinds(void **state)
{
	static const uint8_t latin1[] = { 'c', 'a', 'f', 0xe9 };
	static const uint16_t ucs2[] = { 0x3a9, 'x', 0xd800, 0x20ac };
	static const uint32_t ucs4[] = { 0x1f600, 'y', 0x110000, 0xdfff, 0x10ffff };
	uint8_t hi[] = { 'o', 0x80 };

	(void)state;
	/* interned bits (0-1) and the 3.12+ statically_allocated bit do not matter */
	assert_string_equal(utf8(ST_KIND(1) | ST_COMPACT | ST_ASCII | 3 | (1u << 7), "hello", 5, 5, 64),
			    "hello");
	assert_string_equal(utf8(ST_KIND(1) | ST_COMPACT, latin1, 4, 4, 64), "caf\xc3\xa9");
	assert_string_equal(utf8(ST_KIND(2) | ST_COMPACT, ucs2, sizeof(ucs2), 4, 64),
			    "\xce\xa9x\xef\xbf\xbd\xe2\x82\xac");
	assert_string_equal(utf8(ST_KIND(4) | ST_COMPACT, ucs4, sizeof(ucs4), 5, 64),
			    "\xf0\x9f\x98\x80y\xef\xbf\xbd\xef\xbf\xbd\xf4\x8f\xbf\xbf");
	/* legacy (non-compact) strings decode the same */
	assert_string_equal(utf8(ST_KIND(2), ucs2, sizeof(ucs2), 2, 64), "\xce\xa9x");
	/* an embedded NUL is replaced: the result stays one C string */
	assert_string_equal(utf8(ST_KIND(1) | ST_COMPACT | ST_ASCII, "a\0b", 3, 3, 64), "a\xef\xbf\xbd" "b");
	/* a non-ASCII byte in an "ASCII" string is replaced */
	assert_string_equal(utf8(ST_KIND(1) | ST_COMPACT | ST_ASCII, hi, 2, 2, 64), "o\xef\xbf\xbd");
}

static void test_pystr_limits(void **state)
{
	static const uint16_t ucs2[] = { 0x3a9, 0x3a9, 0x3a9 };
	static char big[4 * PYSTR_MAX_CHARS];

	(void)state;
	/* out of room: stop at a character boundary */
	assert_string_equal(utf8(ST_KIND(2) | ST_COMPACT, ucs2, sizeof(ucs2), 3, 4), "\xce\xa9");
	assert_string_equal(utf8(ST_KIND(2) | ST_COMPACT, ucs2, sizeof(ucs2), 3, 1), "");
	/* fewer characters than claimed: only what is there */
	assert_string_equal(utf8(ST_KIND(1) | ST_COMPACT | ST_ASCII, "abc", 3, 1000, 64), "abc");
	assert_string_equal(utf8(ST_KIND(4) | ST_COMPACT, "abcdefg", 7, 9, 64), "\xef\xbf\xbd");
	/* at most PYSTR_MAX_CHARS */
	memset(big, 'a', sizeof(big));
	assert_int_equal(strlen(utf8(ST_KIND(1) | ST_COMPACT | ST_ASCII, big, sizeof(big),
				     sizeof(big), 8192)), PYSTR_MAX_CHARS);
}

static void test_pystr_bad_states(void **state)
{
	struct pystr_shape sh;

	(void)state;
	assert_int_equal(pystr_shape(0, &sh), -1);                          /* kind 0: not ready */
	assert_int_equal(pystr_shape(ST_KIND(3) | ST_COMPACT, &sh), -1);    /* no kind 3 */
	assert_int_equal(pystr_shape(ST_KIND(2) | ST_COMPACT | ST_ASCII, &sh), -1);
	assert_int_equal(pystr_shape(ST_KIND(1) | ST_ASCII, &sh), -1);      /* ascii, not compact */
	assert_int_equal(pystr_shape(ST_KIND(4), &sh), 0);
	assert_int_equal(sh.kind, 4);
	assert_false(sh.compact);
}

/* ------------------------------------------------------------------ */
/* pyoffsets                                                            */

/* _Py_DebugOffsets of pyenv 3.13.0 and Debian 13's 3.13.5, read live. */
static const uint64_t dbg_3130[73] = {
	0x7970677562656478, 0x30d00f0, 0, 283320, 608, 632, 194968, 7272, 7264, 7344, 7400, 7656,
	7640, 7648, 16, 7752, 0, 7768, 7760, 304, 0, 8, 16, 72, 152, 160, 232, 32, 80, 8, 0, 56,
	72, 70, 208, 112, 120, 128, 136, 68, 52, 96, 104, 200, 16, 8, 416, 24, 88, 168, 32, 24,
	16, 40, 24, 16, 48, 32, 40, 24, 16, 32, 16, 24, 40, 16, 32, 64, 32, 16, 40, 240, 200,
};
static const uint64_t dbg_3135[73] = {
	0x7970677562656478, 0x30d05f0, 0, 283376, 608, 632, 194976, 7272, 7264, 7344, 7400, 7656,
	7640, 7648, 16, 7752, 0, 7768, 7760, 304, 0, 8, 16, 72, 152, 160, 232, 32, 80, 8, 0, 56,
	72, 70, 208, 112, 120, 128, 136, 68, 52, 96, 104, 200, 16, 8, 416, 24, 88, 168, 32, 24,
	16, 40, 24, 16, 48, 32, 40, 24, 16, 32, 16, 24, 40, 16, 32, 64, 32, 16, 40, 240, 200,
};

/*
 * Byte positions of fields in the 3.13, 3.14 and 3.15 _Py_DebugOffsets
 * (offsetof() on each version's pycore_debug_offsets.h).
 */
struct pos {
	const char *name;
	uint32_t p313, p314, p315;
};
static const struct pos positions[] = {
	{ "free_threaded", 16, 16, 16 },          { "interpreters_head", 40, 40, 40 },
	{ "interp.next", 64, 64, 64 },            { "interp.threads_head", 72, 72, 72 },
	{ "ts.size", 152, 176, 176 },             { "ts.next", 168, 192, 192 },
	{ "ts.interp", 176, 200, 200 },           { "ts.current_frame", 184, 208, 208 },
	{ "ts.thread_id", 192, 216, 240 },        { "ts.native_thread_id", 200, 224, 248 },
	{ "frame.size", 224, 248, 312 },          { "frame.previous", 232, 256, 320 },
	{ "frame.executable", 240, 264, 328 },    { "frame.instr_ptr", 248, 272, 336 },
	{ "frame.owner", 264, 288, 352 },         { "code.size", 272, 312, 376 },
	{ "code.filename", 280, 320, 384 },       { "code.name", 288, 328, 392 },
	{ "code.qualname", 296, 336, 400 },       { "code.linetable", 304, 344, 408 },
	{ "code.firstlineno", 312, 352, 416 },    { "code.co_code_adaptive", 344, 384, 448 },
	{ "pyobject.ob_type", 360, 408, 472 },    { "type.tp_name", 376, 424, 488 },
	{ "type.tp_flags", 392, 440, 504 },
	{ "bytes.ob_size", 520, 600, 696 },       { "bytes.ob_sval", 528, 608, 704 },
	{ "unicode.state", 544, 624, 720 },       { "unicode.length", 552, 632, 728 },
	{ "unicode.asciiobject_size", 560, 640, 736 },
};
/* 3.15 only: unicode_object.compactunicodeobject_size */
#define P315_COMPACT_SIZE 744

/* The live 3.13.0 table moved to the positions of minor 14 or 15. */
static void moved_313(uint64_t *blob, size_t len, int minor, uint32_t hexversion)
{
	const uint8_t *src = (const uint8_t *)dbg_3130;
	size_t i;

	memset(blob, 0, len);
	memcpy(blob, dbg_3130, 8); /* cookie */
	blob[1] = hexversion;
	for (i = 0; i < sizeof(positions) / sizeof(positions[0]); i++)
		memcpy((uint8_t *)blob + (minor == 14 ? positions[i].p314 : positions[i].p315),
		       src + positions[i].p313, 8);
	if (minor == 15)
		blob[P315_COMPACT_SIZE / 8] = 56; /* what 3.13 implies: PyASCIIObject + 16 */
}

static void test_builtin_tables(void **state)
{
	struct py_offsets o;
	int m;

	(void)state;
	for (m = 8; m <= 12; m++) {
		assert_int_equal(pyoffsets_builtin(m, &o), 0);
		assert_int_equal(o.major, 3);
		assert_int_equal(o.minor, m);
		assert_true(o.ts_read >= 24 && o.ts_read <= 512);
		assert_true(o.frame_read >= 16 && o.frame_read <= 512);
		assert_true(o.code_read >= 64 && o.code_read <= 512);
	}
	for (m = 8; m <= 12; m++) {
		char err[256] = "";

		pyoffsets_builtin(m, &o);
		if (pyoffsets_check(&o, err, sizeof(err)))
			fail_msg("3.%d: %s", m, err);
	}
	assert_int_equal(pyoffsets_builtin(7, &o), -1);
	assert_int_equal(pyoffsets_builtin(13, &o), -1);

	/* Spot checks against offsets measured with offsetof() on each version's headers. */
	for (m = 8; m <= 12; m++) {
		pyoffsets_builtin(m, &o);
		assert_int_equal(o.ob_type, 8);
		assert_int_equal(o.type_tp_name, 24);
		assert_int_equal(o.type_tp_flags, 168);
	}
	pyoffsets_builtin(8, &o);
	assert_int_equal(o.frames, PY_FRAMES_OBJECT);
	assert_int_equal(o.lines, PY_LINES_LNOTAB);
	assert_int_equal(o.tids, PY_TID_PTHREAD);
	assert_int_equal(o.ts_thread_id, 176);
	assert_int_equal(o.frame_lasti, 104);
	assert_int_equal(o.code_qualname, PYOFF_NONE);
	pyoffsets_builtin(10, &o);
	assert_int_equal(o.lines, PY_LINES_310);
	assert_int_equal(o.frame_lasti, 96);
	assert_int_equal(o.lasti_scale, 2);
	pyoffsets_builtin(11, &o);
	assert_int_equal(o.frames, PY_FRAMES_CFRAME);
	assert_int_equal(o.tids, PY_TID_NATIVE);
	assert_int_equal(o.interp_threads_head, 16);
	assert_int_equal(o.cframe_current_frame, 8);
	assert_int_equal(o.frame_code, 32);
	assert_int_equal(o.frame_owner, 69);
	assert_int_equal(o.code_adaptive, 184);
	assert_int_equal(o.str_ascii_data, 48);
	pyoffsets_builtin(12, &o);
	assert_int_equal(o.interp_threads_head, 72);
	assert_int_equal(o.ts_native_tid, 144);
	assert_int_equal(o.owner_shim, 3);
	assert_int_equal(o.code_firstlineno, 68);
	assert_int_equal(o.str_ascii_data, 40);
	assert_int_equal(o.str_compact_data, 56);
}

/*
 * _Py_DebugOffsets of a free-threaded 3.13.5t (Debian 13's python3.13
 * source configured --disable-gil, build/rootfs-freethreaded), read live.
 */
static const uint64_t dbg_3135t[73] = {
	0x7970677562656478, 0x30d05f0, 1, 328320, 608, 632, 215616, 7272, 7264, 7344, 7400, 7664,
	7648, 7656, 16, 7760, 0, 7784, 7776, 304, 0, 8, 16, 72, 152, 160, 232, 32, 80, 8, 0, 56,
	72, 70, 224, 128, 136, 144, 152, 84, 68, 112, 120, 216, 32, 24, 432, 40, 104, 184, 48, 40,
	32, 56, 40, 32, 64, 48, 56, 40, 32, 48, 32, 40, 56, 32, 48, 80, 48, 32, 56, 248, 200,
};
static void check_313(const struct py_offsets *o)
{
	assert_int_equal(o->frames, PY_FRAMES_DIRECT);
	assert_int_equal(o->lines, PY_LINES_LOCATIONS);
	assert_int_equal(o->tids, PY_TID_NATIVE);
	assert_int_equal(o->runtime_interp_head, 632);
	assert_int_equal(o->interp_next, 7264);
	assert_int_equal(o->interp_threads_head, 7344);
	assert_int_equal(o->ts_next, 8);
	assert_int_equal(o->ts_interp, 16);
	assert_int_equal(o->ts_frame, 72);
	assert_int_equal(o->ts_thread_id, 152);
	assert_int_equal(o->ts_native_tid, 160);
	assert_int_equal(o->frame_back, 8);
	assert_int_equal(o->frame_code, 0);
	assert_int_equal(o->frame_lasti, 56);
	assert_int_equal(o->frame_owner, 70);
	assert_int_equal(o->code_filename, 112);
	assert_int_equal(o->code_name, 120);
	assert_int_equal(o->code_qualname, 128);
	assert_int_equal(o->code_linetable, 136);
	assert_int_equal(o->code_firstlineno, 68);
	assert_int_equal(o->code_adaptive, 200);
	assert_int_equal(o->ob_type, 8);
	assert_int_equal(o->type_tp_name, 24);
	assert_int_equal(o->type_tp_flags, 168);
	assert_int_equal(o->bytes_size, 16);
	assert_int_equal(o->bytes_sval, 32);
	assert_int_equal(o->str_length, 16);
	assert_int_equal(o->str_state, 32);
	assert_int_equal(o->str_ascii_data, 40);
	assert_int_equal(o->str_compact_data, 56);
	assert_int_equal(o->owner_shim, 3);
	assert_int_equal(o->ts_read, 168);
	assert_int_equal(o->frame_read, 71);
	assert_int_equal(o->code_read, 144);
}

static void test_debug_offsets_313(void **state)
{
	struct py_offsets o;
	uint32_t hex;
	char err[128];

	(void)state;
	assert_true(pyoffsets_has_cookie((const uint8_t *)dbg_3130, sizeof(dbg_3130)));
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)dbg_3130, sizeof(dbg_3130), &o,
					      &hex, err, sizeof(err)), 0);
	assert_int_equal(hex, 0x030d00f0);
	assert_int_equal(o.minor, 13);
	check_313(&o);
	assert_true(o.code_ptr_mask == ~(uint64_t)0);

	assert_int_equal(pyoffsets_from_debug((const uint8_t *)dbg_3135, sizeof(dbg_3135), &o,
					      &hex, err, sizeof(err)), 0);
	assert_int_equal(hex, 0x030d05f0);
	check_313(&o);
}

/*
 * 3.13t: read. Its thread states and frames are the GIL build's; every
 * object's header is 16 bytes longer (ob_tid, ob_flags, ob_mutex,
 * ob_gc_bits, ob_ref_local and ob_ref_shared before ob_type), and the
 * str state's bits are where the GIL build has them.
 */
static void test_debug_offsets_313t(void **state)
{
	struct py_offsets gil, o;
	uint32_t hex;
	char err[128];

	(void)state;
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)dbg_3135, sizeof(dbg_3135), &gil,
					      &hex, err, sizeof(err)), 0);
	assert_false(gil.free_threaded);
	if (pyoffsets_from_debug((const uint8_t *)dbg_3135t, sizeof(dbg_3135t), &o, &hex, err,
				 sizeof(err)))
		fail_msg("3.13t refused: %s", err);
	assert_int_equal(hex, 0x030d05f0);
	assert_true(o.free_threaded);
	assert_int_equal(o.ob_type, 24);
	assert_int_equal(o.type_tp_name, 40);
	assert_int_equal(o.type_tp_flags, 184);
	assert_int_equal(o.bytes_size, 32);
	assert_int_equal(o.bytes_sval, 48);
	assert_int_equal(o.str_length, 32);
	assert_int_equal(o.str_state, 48);
	assert_int_equal(o.str_ascii_data, 56);
	assert_int_equal(o.str_compact_data, 72);
	assert_int_equal(o.code_filename, 128);
	assert_int_equal(o.code_name, 136);
	assert_int_equal(o.code_qualname, 144);
	assert_int_equal(o.code_linetable, 152);
	assert_int_equal(o.code_firstlineno, 84);
	assert_int_equal(o.code_adaptive, 216);
	assert_int_equal(o.code_read, 160);
	/* what is not an object's is the GIL build's */
	assert_int_equal(o.runtime_interp_head, gil.runtime_interp_head);
	assert_int_equal(o.interp_next, gil.interp_next);
	assert_int_equal(o.interp_threads_head, gil.interp_threads_head);
	assert_int_equal(o.ts_next, gil.ts_next);
	assert_int_equal(o.ts_frame, gil.ts_frame);
	assert_int_equal(o.ts_native_tid, gil.ts_native_tid);
	assert_int_equal(o.ts_read, gil.ts_read);
	assert_int_equal(o.frame_back, gil.frame_back);
	assert_int_equal(o.frame_code, gil.frame_code);
	assert_int_equal(o.frame_lasti, gil.frame_lasti);
	assert_int_equal(o.frame_owner, gil.frame_owner);
	assert_int_equal(o.frame_read, gil.frame_read);
	assert_int_equal(o.owner_shim, gil.owner_shim);
	assert_int_equal(o.owner_max, gil.owner_max);
	assert_true(o.code_ptr_mask == gil.code_ptr_mask);
}

/*
 * The 3.14 and 3.15 code paths, fed the live 3.13 values moved to their
 * positions: the same table must come out, with the _PyStackRef tag mask
 * and the frame owners of each.
 */
static void test_debug_offsets_314_315_from_313(void **state)
{
	uint64_t blob[PY_DEBUG_OFFSETS_MAX / 8];
	struct py_offsets o13, o;
	uint32_t hex;
	char err[256];
	int minor;

	(void)state;
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)dbg_3130, sizeof(dbg_3130), &o13,
					      &hex, err, sizeof(err)), 0);
	assert_int_equal(o13.owner_max, 3);
	for (minor = 14; minor <= 15; minor++) {
		moved_313(blob, sizeof(blob), minor, 0x030000f0 | minor << 16);
		if (pyoffsets_from_debug((const uint8_t *)blob, sizeof(blob), &o, &hex, err,
					 sizeof(err)))
			fail_msg("3.%d layout refused: %s", minor, err);
		assert_int_equal(o.minor, minor);
		assert_true(o.code_ptr_mask == ~(uint64_t)3);
		assert_int_equal(o.owner_shim, 3);
		/* 3.14: INTERPRETER (3) and CSTACK (4); 3.15 has no CSTACK */
		assert_int_equal(o.owner_max, minor == 14 ? 4 : 3);
		/* 3.15's base frame is alone while its thread runs no Python */
		assert_true(o13.shims_alone_torn);
		assert_int_equal(o.shims_alone_torn, minor == 14);
		o.minor = 13;
		o.code_ptr_mask = o13.code_ptr_mask;
		o.owner_max = o13.owner_max;
		o.shims_alone_torn = o13.shims_alone_torn;
		assert_memory_equal(&o13, &o, sizeof(o13));
		/* their free-threaded builds are refused, saying so */
		blob[2] = 1;
		assert_int_equal(pyoffsets_from_debug((const uint8_t *)blob, sizeof(blob), &o, &hex,
						      err, sizeof(err)), -1);
		assert_string_equal(err, minor == 14 ?
				    "free-threaded CPython 3.14.0 is not supported (of the "
				    "free-threaded builds, this blocksnoop reads 3.13's only)" :
				    "free-threaded CPython 3.15.0 is not supported (of the "
				    "free-threaded builds, this blocksnoop reads 3.13's only)");
		blob[2] = 0;
	}
	/* 3.15 says where a compact str's characters start */
	blob[P315_COMPACT_SIZE / 8] = 64;
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)blob, sizeof(blob), &o, &hex, err,
					      sizeof(err)), 0);
	assert_int_equal(o.str_compact_data, 64);
	assert_int_equal(o.str_ascii_data, 40);
	/* A 3.14 blob is too short for the 3.15 layout, a 3.13 one for 3.14's. */
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)blob, 760, &o, &hex, err,
					      sizeof(err)), -1);
	assert_non_null(strstr(err, "CPython 3.15.0 is not supported: its _Py_DebugOffsets are "
				    "cut short (760 of 888 bytes)"));
	moved_313(blob, sizeof(blob), 14, 0x030e08f0);
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)blob, 584, &o, &hex, err,
					      sizeof(err)), -1);
	assert_non_null(strstr(err, "CPython 3.14.8 is not supported: its _Py_DebugOffsets are "
				    "cut short"));
}

/* A frame owner beyond the version's is a torn read, not a shim. */
static void test_owner_max(void **state)
{
	struct py_offsets o;

	(void)state;
	assert_int_equal(pyoffsets_builtin(11, &o), 0);
	assert_int_equal(o.owner_max, 2);
	assert_int_equal(pyoffsets_builtin(12, &o), 0);
	assert_int_equal(o.owner_max, 3);
	assert_true(o.shims_alone_torn);
}

/* 3.14 with its own (source-derived) values. */
static void test_debug_offsets_314(void **state)
{
	static const struct {
		uint32_t pos;
		uint64_t v;
	} f[] = {
		{ 40, 808 }, { 64, 7272 }, { 72, 7344 }, { 176, 824 }, { 192, 8 }, { 200, 16 },
		{ 208, 72 }, { 216, 152 }, { 224, 160 }, { 248, 88 }, { 256, 8 }, { 264, 0 },
		{ 272, 56 }, { 288, 74 }, { 312, 224 }, { 320, 112 }, { 328, 120 }, { 336, 128 },
		{ 344, 136 }, { 352, 68 }, { 384, 208 }, { 408, 8 }, { 424, 24 }, { 440, 168 }, { 600, 16 },
		{ 608, 32 }, { 624, 32 }, { 632, 16 }, { 640, 40 },
	};
	uint64_t blob[PY_DEBUG_OFFSETS_MAX / 8];
	struct py_offsets o;
	uint32_t hex;
	char err[128];
	size_t i;

	(void)state;
	memset(blob, 0, sizeof(blob));
	memcpy(blob, PY_DEBUG_COOKIE, 8);
	blob[1] = 0x030e01f0;
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		blob[f[i].pos / 8] = f[i].v;
	if (pyoffsets_from_debug((const uint8_t *)blob, sizeof(blob), &o, &hex, err, sizeof(err)))
		fail_msg("refused: %s", err);
	assert_int_equal(hex, 0x030e01f0);
	assert_int_equal(o.runtime_interp_head, 808);
	assert_int_equal(o.frame_owner, 74);
	assert_int_equal(o.code_adaptive, 208);
	assert_int_equal(o.owner_shim, 3); /* INTERPRETER (3) and CSTACK (4) are shims */
	assert_int_equal(o.frame_read, 75);

	/* free-threaded 3.14t: refused, saying so */
	blob[2] = 1;
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)blob, sizeof(blob), &o, &hex, err,
					      sizeof(err)), -1);
	assert_string_equal(err, "free-threaded CPython 3.14.1 is not supported (of the "
				 "free-threaded builds, this blocksnoop reads 3.13's only)");
}

static void test_debug_offsets_refused(void **state)
{
	uint64_t blob[73];
	struct py_offsets o;
	uint32_t hex;
	char err[128];

	(void)state;
	memcpy(blob, dbg_3130, sizeof(blob));
	blob[0] ^= 1;
	assert_false(pyoffsets_has_cookie((const uint8_t *)blob, sizeof(blob)));
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)blob, sizeof(blob), &o, &hex, err,
					      sizeof(err)), -1);

	memcpy(blob, dbg_3130, sizeof(blob));
	blob[1] = 0x031000f0; /* 3.16: layout unknown here */
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)blob, sizeof(blob), &o, &hex, err,
					      sizeof(err)), -1);
	assert_string_equal(err, "CPython 3.16.0 is not supported (this blocksnoop reads "
				 "CPython 3.8 to 3.15)");
	blob[1] = 0x1030d00f0ULL; /* 3.13 in the low bits, more above */
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)blob, sizeof(blob), &o, &hex, err,
					      sizeof(err)), -1);

	memcpy(blob, dbg_3130, sizeof(blob));
	blob[1] = 0x030d00b3; /* 3.13.0b3: layouts still moved in betas */
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)blob, sizeof(blob), &o, &hex, err,
					      sizeof(err)), -1);
	assert_non_null(strstr(err, "CPython 3.13.0b3 is not supported: a pre-release"));
	blob[1] = 0x030d00c1; /* 3.13.0rc1: accepted */
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)blob, sizeof(blob), &o, &hex, err,
					      sizeof(err)), 0);

	memcpy(blob, dbg_3130, sizeof(blob));
	blob[19] = 0; /* thread_state.size 0: every offset in it would be implausible */
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)blob, sizeof(blob), &o, &hex, err,
					      sizeof(err)), -1);
	assert_non_null(strstr(err, "CPython 3.13.0 is not supported: its _Py_DebugOffsets"));

	memcpy(blob, dbg_3130, sizeof(blob));
	blob[33] = 1u << 20; /* interpreter_frame.owner far outside the frame */
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)blob, sizeof(blob), &o, &hex, err,
					      sizeof(err)), -1);
	assert_non_null(strstr(err, "implausible"));

	assert_int_equal(pyoffsets_from_debug((const uint8_t *)dbg_3130, 100, &o, &hex, err,
					      sizeof(err)), -1);
}

/*
 * Offsets a target can put in its _Py_DebugOffsets that are each within
 * the plausible range of the field, but whose field (offset + width) runs
 * past the bytes the reader copies of its struct: all refused. The first
 * was accepted once, and reading 8 bytes at 63 of a 64-byte header ran
 * past a stack buffer.
 */
static void test_debug_offsets_out_of_range(void **state)
{
	static const struct {
		int idx;   /* in the 3.13 table: byte position / 8 */
		uint64_t v;
		const char *field;
	} lies[] = {
		{ 520 / 8, 63, "bytes.ob_size" },    /* 8 bytes at 63 of a 32-byte header */
		{ 520 / 8, 25, "bytes.ob_size" },    /* 8 bytes at 25 of 32 */
		{ 528 / 8, 16, "bytes.ob_size" },    /* ob_sval before ob_size's end */
		{ 360 / 8, 63, "ob_type" },
		{ 360 / 8, 33, "ob_type" },          /* past a 40-byte str header */
		{ 552 / 8, 60, "unicode.length" },
		{ 544 / 8, 37, "unicode.state" },    /* 4 bytes at 37 of 40 */
		{ 560 / 8, 127, "unicode.data" },    /* compact data pointer past 128 */
		{ 376 / 8, 1000, "type.tp_name" },   /* in a type, past what is read of it */
		{ 392 / 8, 505, "type.tp_flags" },
	};
	uint64_t blob[73];
	struct py_offsets o;
	uint32_t hex;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		memcpy(blob, dbg_3130, sizeof(blob));
		blob[lies[i].idx] = lies[i].v;
		err[0] = '\0';
		assert_int_equal(pyoffsets_from_debug((const uint8_t *)blob, sizeof(blob), &o, &hex,
						      err, sizeof(err)), -1);
		if (!strstr(err, lies[i].field))
			fail_msg("lie %zu (%s = %llu): %s", i, lies[i].field,
				 (unsigned long long)lies[i].v, err);
	}

	/* Structs larger than the reader copies: their far fields are refused. */
	memcpy(blob, dbg_3130, sizeof(blob));
	blob[152 / 8] = 60000; /* thread_state.size */
	blob[168 / 8] = 50000; /* thread_state.next, inside it */
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)blob, sizeof(blob), &o, &hex, err,
					      sizeof(err)), -1);
	assert_non_null(strstr(err, "thread state"));
	memcpy(blob, dbg_3130, sizeof(blob));
	blob[224 / 8] = 60000; /* interpreter_frame.size */
	blob[264 / 8] = 59999; /* owner */
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)blob, sizeof(blob), &o, &hex, err,
					      sizeof(err)), -1);
	assert_non_null(strstr(err, "frame"));
	memcpy(blob, dbg_3130, sizeof(blob));
	blob[272 / 8] = 8000; /* code_object.size */
	blob[280 / 8] = 4000; /* filename */
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)blob, sizeof(blob), &o, &hex, err,
					      sizeof(err)), -1);
	assert_non_null(strstr(err, "code"));

	/* Every layout that is accepted passes the check on its own. */
	assert_int_equal(pyoffsets_from_debug((const uint8_t *)dbg_3130, sizeof(dbg_3130), &o,
					      &hex, err, sizeof(err)), 0);
	assert_int_equal(pyoffsets_check(&o, err, sizeof(err)), 0);
	o.bytes_size = 30;
	assert_int_equal(pyoffsets_check(&o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bytes.ob_size"));
}

/* ------------------------------------------------------------------ */
/* pytid                                                                */

static void put32(uint8_t *w, size_t off, int32_t v)
{
	memcpy(w + off, &v, 4);
}

/* ---- asyncio task layouts (pyoffsets_tasks) ---- */

/* The .AsyncioDebug sections of Debian's 3.14.8 (_asyncio.cpython-314-*.so)
 * and 3.15.0 (python3.15, _asyncio built in), as read from the files. */
static const uint64_t adbg_3148[13] = { 168, 136, 96, 108, 109, 128, 152,
					225864, 10880, 936, 864, 872, 880 };
static const uint64_t adbg_3150[13] = { 168, 136, 96, 108, 109, 128, 152,
					226240, 10856, 1104, 1024, 1032, 1048 };

static void test_task_offsets_builtin(void **state)
{
	struct py_task_offsets t;
	char err[160];

	(void)state;
	assert_int_equal(pyoffsets_tasks(11, false, NULL, 0, NULL, 0, &t, err, sizeof(err)), 0);
	assert_int_equal(t.style, PY_TASKS_CURRENT_DICT);
	assert_int_equal(t.interp_modules, 888);
	assert_int_equal(t.task_name, 144);
	assert_int_equal(t.task_coro, 136);
	assert_int_equal(t.gen_qualname, 40);
	assert_int_equal(t.gen_iframe, 80);
	assert_false(t.long_tagged);
	assert_int_equal(t.task_awaited_by, PYOFF_NONE);
	assert_int_equal(t.task_read, 152);

	assert_int_equal(pyoffsets_tasks(12, false, NULL, 0, NULL, 0, &t, err, sizeof(err)), 0);
	assert_int_equal(t.interp_modules, 944);
	assert_int_equal(t.gen_iframe, 72);
	assert_true(t.long_tagged);

	/* 3.13: imports.modules from its own _Py_DebugOffsets */
	assert_int_equal(pyoffsets_tasks(13, false, (const uint8_t *)dbg_3130, sizeof(dbg_3130),
					 NULL, 0, &t, err, sizeof(err)), 0);
	assert_int_equal(t.style, PY_TASKS_CURRENT_DICT);
	assert_int_equal(t.interp_modules, 7656);
	assert_int_equal(t.task_name, 128);
	assert_int_equal(t.task_coro, 120);
	assert_int_equal(pyoffsets_tasks(13, false, NULL, 0, NULL, 0, &t, err, sizeof(err)), -1);
	assert_int_equal(t.style, PY_TASKS_NONE);
	assert_non_null(strstr(err, "_Py_DebugOffsets are missing"));
	{
		uint8_t bad[PY_TASK_DEBUG_PREFIX];
		uint64_t v = 1ULL << 40;

		memcpy(bad, dbg_3130, sizeof(bad));
		memcpy(bad + 88, &v, 8);
		assert_int_equal(pyoffsets_tasks(13, false, bad, sizeof(bad), NULL, 0, &t, err,
						 sizeof(err)), -1);
		assert_non_null(strstr(err, "implausible imports.modules"));
	}

	/* Not read: before 3.11, and free-threaded builds */
	assert_int_equal(pyoffsets_tasks(10, false, NULL, 0, NULL, 0, &t, err, sizeof(err)), -1);
	assert_string_equal(err, "not read for CPython 3.10 (tasks are read from 3.11 on)");
	assert_int_equal(pyoffsets_tasks(13, true, (const uint8_t *)dbg_3130, sizeof(dbg_3130),
					 NULL, 0, &t, err, sizeof(err)), -1);
	assert_string_equal(err, "not read for a free-threaded CPython");
}

static void test_task_offsets_asyncio_debug(void **state)
{
	struct py_task_offsets t;
	uint64_t blob[13];
	char err[160];

	(void)state;
	assert_int_equal(pyoffsets_tasks(14, false, NULL, 0, (const uint8_t *)adbg_3148,
					 sizeof(adbg_3148), &t, err, sizeof(err)), 0);
	assert_int_equal(t.style, PY_TASKS_THREAD_STATE);
	assert_int_equal(t.ts_running_task, 872);
	assert_int_equal(t.task_name, 136);
	assert_int_equal(t.task_coro, 128);
	assert_int_equal(t.task_awaited_by, 96);
	assert_int_equal(t.task_awaited_by_is_set, 109);
	assert_int_equal(t.task_read, 144);
	assert_int_equal(t.gen_qualname, 32);
	assert_int_equal(pyoffsets_tasks(15, false, NULL, 0, (const uint8_t *)adbg_3150,
					 sizeof(adbg_3150), &t, err, sizeof(err)), 0);
	assert_int_equal(t.ts_running_task, 1032);

	/* not found yet (asyncio not imported), cut short, implausible */
	assert_int_equal(pyoffsets_tasks(14, false, NULL, 0, NULL, 0, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ".AsyncioDebug section was not found"));
	assert_int_equal(pyoffsets_tasks(14, false, NULL, 0, (const uint8_t *)adbg_3148, 96, &t,
					 err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cut short (96 of 104 bytes)"));
	for (int field = 0; field < 13; field++) {
		static const int checked[] = { 0, 1, 2, 4, 5, 9, 11 };
		bool is_checked = false;

		for (size_t k = 0; k < sizeof(checked) / sizeof(checked[0]); k++)
			is_checked |= checked[k] == field;
		memcpy(blob, adbg_3148, sizeof(blob));
		blob[field] = 1ULL << 33;
		assert_int_equal(pyoffsets_tasks(14, false, NULL, 0, (const uint8_t *)blob,
						 sizeof(blob), &t, err, sizeof(err)),
				 is_checked ? -1 : 0);
		if (is_checked) {
			assert_string_equal(err, "its _AsyncioDebug offsets are implausible");
			assert_int_equal(t.style, PY_TASKS_NONE);
		}
	}
	/* a field that reaches past its struct: the running task past the thread
	 * state, a name past the task, a task larger than the reader copies */
	memcpy(blob, adbg_3148, sizeof(blob));
	blob[11] = blob[9] - 4;
	assert_int_equal(pyoffsets_tasks(14, false, NULL, 0, (const uint8_t *)blob, sizeof(blob),
					 &t, err, sizeof(err)), -1);
	memcpy(blob, adbg_3148, sizeof(blob));
	blob[1] = blob[0] - 7;
	assert_int_equal(pyoffsets_tasks(14, false, NULL, 0, (const uint8_t *)blob, sizeof(blob),
					 &t, err, sizeof(err)), -1);
	memcpy(blob, adbg_3148, sizeof(blob));
	blob[0] = PYOFF_TASK_MAX + 8;
	assert_int_equal(pyoffsets_tasks(14, false, NULL, 0, (const uint8_t *)blob, sizeof(blob),
					 &t, err, sizeof(err)), -1);
}


/* ---- the GIL (pyoffsets_gil) ---- */

static void test_gil_offsets(void **state)
{
	uint64_t blob[PY_GIL_DEBUG_PREFIX / 8];
	struct py_gil_offsets g;
	char err[256];

	(void)state;
	/* 3.11: _PyRuntime.ceval.gil, offsetof() on the 3.11.2 headers */
	assert_int_equal(pyoffsets_gil(11, false, NULL, 0, &g, err, sizeof(err)), 0);
	assert_int_equal(g.home, PY_GIL_IN_RUNTIME);
	assert_int_equal(g.gil_at + g.gil_holder, 368);
	assert_int_equal(g.gil_at + g.gil_locked, 376);
	/* 3.12: PyInterpreterState.ceval.gil, on the 3.12.1 headers */
	assert_int_equal(pyoffsets_gil(12, false, NULL, 0, &g, err, sizeof(err)), 0);
	assert_int_equal(g.home, PY_GIL_IN_INTERP);
	assert_int_equal(g.gil_at, 384);
	assert_int_equal(g.gil_holder, 8);
	assert_int_equal(g.gil_locked, 16);
	/* 3.13: from its _Py_DebugOffsets (ceval.gil at 16, _gil at 7752,
	 * _gil.locked at 7768, _gil.last_holder at 7760) */
	assert_int_equal(pyoffsets_gil(13, false, (const uint8_t *)dbg_3130, sizeof(dbg_3130),
				       &g, err, sizeof(err)), 0);
	assert_int_equal(g.home, PY_GIL_IN_INTERP);
	assert_int_equal(g.gil_at, 16);
	assert_int_equal(g.gil_holder, 8);
	assert_int_equal(g.gil_locked, 16);
	/* 3.14 and 3.15: the same fields, 8 bytes later (threads_main) */
	memset(blob, 0, sizeof(blob));
	memcpy(blob, PY_DEBUG_COOKIE, 8);
	blob[15] = 24, blob[16] = 9000, blob[18] = 9020, blob[19] = 9008;
	for (int minor = 14; minor <= 15; minor++) {
		assert_int_equal(pyoffsets_gil(minor, false, (const uint8_t *)blob, sizeof(blob), &g,
					       err, sizeof(err)), 0);
		assert_int_equal(g.gil_at, 24);
		assert_int_equal(g.gil_holder, 8);
		assert_int_equal(g.gil_locked, 20);
	}

	/* No GIL, or not read */
	assert_int_equal(pyoffsets_gil(13, true, (const uint8_t *)dbg_3130, sizeof(dbg_3130), &g,
				       err, sizeof(err)), -1);
	assert_string_equal(err, "a free-threaded CPython has no GIL");
	assert_int_equal(g.home, PY_GIL_NONE);
	assert_int_equal(pyoffsets_gil(10, false, NULL, 0, &g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "3.10"));
	assert_int_equal(pyoffsets_gil(13, false, NULL, 0, &g, err, sizeof(err)), -1);
	assert_string_equal(err, "its _Py_DebugOffsets are missing");
	assert_int_equal(pyoffsets_gil(14, false, (const uint8_t *)blob, sizeof(blob) - 8, &g, err,
				       sizeof(err)), -1);

	/* Implausible: fields before the struct, beyond what is read of it,
	 * unaligned, or a pointer outside any interpreter state */
	{
		static const struct {
			int idx;
			uint64_t v;
		} bad[] = {
			{ 19, 8992 },           /* last_holder before the struct */
			{ 18, 9000 + PYOFF_GIL_READ }, /* locked beyond what is read */
			{ 19, 9012 },           /* last_holder unaligned */
			{ 15, 27 },             /* ceval.gil unaligned */
			{ 15, 1ull << 40 },     /* ceval.gil far away */
			{ 16, ~0ull },          /* _gil far away */
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			uint64_t b[PY_GIL_DEBUG_PREFIX / 8];

			memcpy(b, blob, sizeof(b));
			b[bad[i].idx] = bad[i].v;
			assert_int_equal(pyoffsets_gil(14, false, (const uint8_t *)b, sizeof(b), &g,
						       err, sizeof(err)), -1);
			assert_string_equal(err, "its _Py_DebugOffsets give an implausible GIL "
					    "layout");
			assert_int_equal(g.home, PY_GIL_NONE);
		}
	}
}

static void test_pytid(void **state)
{
	static uint8_t w1[1024], w2[1024], w3[600];
	const uint8_t *wins[] = { w1, w2, w3 };
	size_t lens[] = { sizeof(w1), sizeof(w2), sizeof(w3) };
	pid_t valid[] = { 4242, 4250, 4251, 1, 2 };
	uint32_t off = 0;

	(void)state;
	memset(w1, 0, sizeof(w1));
	memset(w2, 0, sizeof(w2));
	memset(w3, 0, sizeof(w3));
	put32(w1, 0x2d0, 4242); /* main thread: TID = PID */
	put32(w2, 0x2d0, 4250);
	assert_int_equal(pytid_infer_offset(wins, lens, 2, valid, 5, 4242, 0x2d0, &off), 1);
	assert_int_equal(off, 0x2d0);
	/* Same TID at another offset in one window only: not a candidate. */
	put32(w1, 0x100, 4242);
	assert_int_equal(pytid_infer_offset(wins, lens, 2, valid, 5, 4242, 0, &off), 1);
	assert_int_equal(off, 0x2d0);
	/* A window too short for the offset rules it out. */
	put32(w3, 0x100, 4251);
	assert_int_equal(pytid_infer_offset(wins, lens, 3, valid, 5, 4242, 0x2d0, &off), 0);
	/* No main thread among them: nothing. */
	assert_int_equal(pytid_infer_offset(wins + 1, lens + 1, 1, valid, 5, 4242, 0, &off), 0);

	/*
	 * PID 1 in a container, main thread only: 1 is everywhere (flags,
	 * counts); the known offset wins, else the lowest.
	 */
	memset(w1, 0, sizeof(w1));
	put32(w1, 0x40, 1);
	put32(w1, 0x2d0, 1);
	put32(w1, 0x300, 1);
	assert_int_equal(pytid_infer_offset(wins, lens, 1, valid, 5, 1, 0x2d0, &off), 3);
	assert_int_equal(off, 0x2d0);
	assert_int_equal(pytid_infer_offset(wins, lens, 1, valid, 5, 1, 0, &off), 3);
	assert_int_equal(off, 0x40);
	/* A second thread (TID 2) settles it: the values must differ. */
	memset(w2, 0, sizeof(w2));
	put32(w2, 0x40, 1);
	put32(w2, 0x300, 2);
	put32(w2, 0x2d0, 1);
	assert_int_equal(pytid_infer_offset(wins, lens, 2, valid, 5, 1, 0x2d0, &off), 1);
	assert_int_equal(off, 0x300);
}

/* ------------------------------------------------------------------ */
/* procmaps                                                             */

static void test_pmap_lines(void **state)
{
	struct pmap m;

	(void)state;
	assert_int_equal(pmap_parse_line("7f1c2a000000-7f1c2a021000 r-xp 00002000 fe:01 1312345"
					 "                    /usr/lib/libpython3.11.so.1.0", &m), 0);
	assert_true(m.start == 0x7f1c2a000000ULL && m.end == 0x7f1c2a021000ULL);
	assert_string_equal(m.perms, "r-xp");
	assert_true(m.offset == 0x2000);
	assert_int_equal(m.dev_major, 0xfe);
	assert_int_equal(m.dev_minor, 1);
	assert_true(m.inode == 1312345);
	assert_string_equal(m.path, "/usr/lib/libpython3.11.so.1.0");

	assert_int_equal(pmap_parse_line("00400000-00420000 r--p 00000000 00:00 0 ", &m), 0);
	assert_string_equal(m.path, "");
	assert_int_equal(pmap_parse_line("7ffd1000-7ffd2000 rw-p 00000000 00:00 0     [stack]", &m), 0);
	assert_string_equal(m.path, "[stack]");
	assert_int_equal(pmap_parse_line("1000-2000 r--p 00000000 08:02 77 /a dir/py (deleted)", &m), 0);
	assert_string_equal(m.path, "/a dir/py (deleted)");

	assert_int_equal(pmap_parse_line("", &m), -1);
	assert_int_equal(pmap_parse_line("2000-1000 r--p 00000000 00:00 0", &m), -1);
	assert_int_equal(pmap_parse_line("1000-2000 r-p 00000000 00:00 0", &m), -1);
	assert_int_equal(pmap_parse_line("1000-2000 r--p 0 00:00", &m), -1);
	assert_int_equal(pmap_parse_line("11112222333344445-2000 r--p 0 00:00 0", &m), -1);
	assert_int_equal(pmap_parse_line("zz-2000 r--p 0 00:00 0", &m), -1);
}

static void test_pmap_read_self(void **state)
{
	struct pmap_list l;
	size_t i;
	bool stack = false;

	(void)state;
	assert_int_equal(pmap_read(getpid(), &l), 0);
	assert_true(l.n > 5);
	for (i = 0; i < l.n; i++)
		stack |= strcmp(l.maps[i].path, "[stack]") == 0;
	assert_true(stack);
	pmap_free(&l);
	assert_int_equal(pmap_read(0x3fffffff, &l), -ESRCH);
}

static bool named_lib(const struct pmap *m, void *ctx)
{
	(void)ctx;
	return strstr(m->path, "/libpython") && m->perms[2] == 'x';
}

/*
 * pmap_files(): distinct files, each given as its lowest mapping, at most
 * max of them, over 10,000 mappings: one linear pass (the set it keeps has
 * max files), whatever the maps hold.
 */
static void test_pmap_files(void **state)
{
	enum { N = 10000 };
	static struct pmap maps[N];
	static char paths[N][40];
	struct pmap_list l = { .maps = maps, .n = N };
	const struct pmap *out[100];
	bool more;
	size_t i, n;

	(void)state;
	for (i = 0; i < N; i++) {
		/* files 0..99, each mapped 100 times; odd files executable */
		size_t f = i % 100;

		snprintf(paths[i], sizeof(paths[i]), "/lib/libpython3.12-%zu.so", f);
		maps[i] = (struct pmap){ .start = 0x10000 + i * 0x1000, .end = 0x11000 + i * 0x1000,
					 .offset = (i / 100) * 0x1000, .inode = 1000 + f,
					 .dev_major = 8, .perms = "r--p", .path = paths[i] };
		if (f % 2 && i >= 100)
			maps[i].perms[2] = 'x';
	}
	n = pmap_files(&l, named_lib, NULL, out, 8, &more);
	assert_int_equal(n, 8);
	assert_true(more);
	for (i = 0; i < n; i++) {
		/* the odd files in order, each as its very first (r--p) mapping */
		assert_ptr_equal(out[i], &maps[2 * i + 1]);
		assert_int_equal(out[i]->offset, 0);
	}
	/* The same path on another device, or another inode, is another file. */
	maps[N - 1] = maps[101];
	maps[N - 1].dev_major = 9;
	maps[N - 1].start = 0x7f0000000000;
	n = pmap_files(&l, named_lib, NULL, out, 100, &more);
	assert_int_equal(n, 51);
	assert_false(more);
	assert_ptr_equal(out[50], &maps[N - 1]);
	assert_int_equal(pmap_files(&l, named_lib, NULL, out, 0, &more), 0);
	assert_true(more);
}

/* ------------------------------------------------------------------ */
/* strpool                                                              */

static void test_strpool(void **state)
{
	struct strpool sp = { 0 };
	const char *a, *b, *first[1000];
	char buf[32];
	int i;

	(void)state;
	a = strpool_intern(&sp, "handler");
	b = strpool_intern(&sp, "handler");
	assert_ptr_equal(a, b);
	assert_string_equal(a, "handler");
	/* Growing keeps every earlier pointer valid. */
	for (i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "f%d", i);
		first[i] = strpool_intern(&sp, buf);
	}
	for (i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "f%d", i);
		assert_ptr_equal(strpool_intern(&sp, buf), first[i]);
	}
	assert_ptr_equal(strpool_intern(&sp, "handler"), a);
	strpool_free(&sp);
	strpool_free(&sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pystr_kinds),
		cmocka_unit_test(test_pystr_limits),
		cmocka_unit_test(test_pystr_bad_states),
		cmocka_unit_test(test_builtin_tables),
		cmocka_unit_test(test_debug_offsets_313),
		cmocka_unit_test(test_debug_offsets_313t),
		cmocka_unit_test(test_debug_offsets_314_315_from_313),
		cmocka_unit_test(test_owner_max),
		cmocka_unit_test(test_debug_offsets_314),
		cmocka_unit_test(test_debug_offsets_refused),
		cmocka_unit_test(test_debug_offsets_out_of_range),
		cmocka_unit_test(test_task_offsets_builtin),
		cmocka_unit_test(test_task_offsets_asyncio_debug),
		cmocka_unit_test(test_gil_offsets),
		cmocka_unit_test(test_pytid),
		cmocka_unit_test(test_pmap_lines),
		cmocka_unit_test(test_pmap_read_self),
		cmocka_unit_test(test_pmap_files),
		cmocka_unit_test(test_strpool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
