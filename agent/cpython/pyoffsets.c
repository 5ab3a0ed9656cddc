// SPDX-License-Identifier: Apache-2.0
/*
 * pyoffsets.c - per-version CPython layouts (see pyoffsets.h).
 *
 * 3.8-3.12 were measured with offsetof() against each version's own headers
 * (3.8.18 ... 3.12.1 built with Py_BUILD_CORE) and checked against live
 * interpreters; 3.13-3.15 are read from the target, at positions inside
 * _Py_DebugOffsets measured with offsetof() on each branch's
 * Include/internal/pycore_debug_offsets.h (3.13.5, 3.14.8 and 3.15.0 as
 * Debian ships them) and checked against live interpreters.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pyoffsets.h"

#define MAX2(a, b) ((a) > (b) ? (a) : (b))

/* Field reach: offset + size, 0 for a missing field. */
static uint32_t reach(uint32_t off, uint32_t size)
{
	return off == PYOFF_NONE ? 0 : off + size;
}

/* Compute the read sizes from the fields. */
static void finish(struct py_offsets *o)
{
	uint32_t n;

	n = MAX2(reach(o->ts_next, 8), reach(o->ts_interp, 8));
	n = MAX2(n, reach(o->ts_frame, 8));
	n = MAX2(n, reach(o->ts_thread_id, 8));
	o->ts_read = MAX2(n, reach(o->ts_native_tid, 8));

	n = MAX2(reach(o->frame_back, 8), reach(o->frame_code, 8));
	n = MAX2(n, reach(o->frame_lasti, o->frames == PY_FRAMES_OBJECT ? 4 : 8));
	n = MAX2(n, reach(o->frame_state, 1));
	n = MAX2(n, reach(o->frame_is_entry, 1));
	o->frame_read = MAX2(n, reach(o->frame_owner, 1));

	n = MAX2(reach(o->ob_type, 8), reach(o->code_filename, 8));
	n = MAX2(n, reach(o->code_name, 8));
	n = MAX2(n, reach(o->code_qualname, 8));
	n = MAX2(n, reach(o->code_linetable, 8));
	o->code_read = MAX2(n, reach(o->code_firstlineno, 4));
}

/* What 3.8-3.10 share. */
#define PY_OBJECT_FRAMES                                                    \
	.major = 3, .frames = PY_FRAMES_OBJECT, .tids = PY_TID_PTHREAD,     \
	.runtime_interp_head = 32, .interp_next = 0, .interp_threads_head = 8, \
	.ts_next = 8, .ts_interp = 16, .ts_frame = 24, .ts_thread_id = 176, \
	.ts_native_tid = PYOFF_NONE, .cframe_current_frame = PYOFF_NONE,    \
	.frame_back = 24, .frame_code = 32, .frame_owner = PYOFF_NONE,      \
	.frame_is_entry = PYOFF_NONE,                                       \
	.code_ptr_mask = ~(uint64_t)0, .owner_shim = 256, .owner_max = 255, \
	.code_filename = 104, .code_name = 112, .code_qualname = PYOFF_NONE, \
	.code_linetable = 120, .code_firstlineno = 40, .code_adaptive = PYOFF_NONE, \
	.ob_type = 8, .type_tp_name = 24, .type_tp_flags = 168,             \
	.bytes_size = 16, .bytes_sval = 32,                                 \
	.str_length = 16, .str_state = 32, .str_ascii_data = 48, .str_compact_data = 72

static const struct py_offsets builtin[] = {
	/* char f_executing == 1 */
	{ PY_OBJECT_FRAMES, .minor = 8, .lines = PY_LINES_LNOTAB,
	  .frame_lasti = 104, .lasti_scale = 1, .frame_state = 116, .frame_state_live = 1 << 1 },
	{ PY_OBJECT_FRAMES, .minor = 9, .lines = PY_LINES_LNOTAB,
	  .frame_lasti = 104, .lasti_scale = 1, .frame_state = 116, .frame_state_live = 1 << 1 },
	/*
	 * 3.10 counts f_lasti in code units; f_state is FRAME_EXECUTING (0),
	 * or FRAME_UNWINDING (2) while an exception passes through.
	 */
	{ PY_OBJECT_FRAMES, .minor = 10, .lines = PY_LINES_310,
	  .frame_lasti = 96, .lasti_scale = 2, .frame_state = 108,
	  .frame_state_live = 1 << 0 | 1 << 2 },
	{
		.major = 3, .minor = 11, .frames = PY_FRAMES_CFRAME,
		.lines = PY_LINES_LOCATIONS, .tids = PY_TID_NATIVE,
		.runtime_interp_head = 40, .interp_next = 0, .interp_threads_head = 16,
		.ts_next = 8, .ts_interp = 16, .ts_frame = 56, .ts_thread_id = 152,
		.ts_native_tid = 160, .cframe_current_frame = 8,
		.frame_back = 48, .frame_code = 32, .frame_lasti = 56, .frame_owner = 69,
		.lasti_scale = 1, .code_ptr_mask = ~(uint64_t)0,
		.owner_shim = 256, /* 3.11 has no shim frames */
		.owner_max = 2,    /* FRAME_OWNED_BY_FRAME_OBJECT */
		.frame_state = PYOFF_NONE, .frame_is_entry = 68,
		.code_filename = 112, .code_name = 120, .code_qualname = 128,
		.code_linetable = 136, .code_firstlineno = 72, .code_adaptive = 184,
		.ob_type = 8, .type_tp_name = 24, .type_tp_flags = 168,
		.bytes_size = 16, .bytes_sval = 32,
		.str_length = 16, .str_state = 32, .str_ascii_data = 48, .str_compact_data = 72,
	},
	{
		.major = 3, .minor = 12, .frames = PY_FRAMES_CFRAME,
		.lines = PY_LINES_LOCATIONS, .tids = PY_TID_NATIVE,
		.runtime_interp_head = 40, .interp_next = 0, .interp_threads_head = 72,
		.ts_next = 8, .ts_interp = 16, .ts_frame = 56, .ts_thread_id = 136,
		.ts_native_tid = 144, .cframe_current_frame = 0,
		.frame_back = 8, .frame_code = 0, .frame_lasti = 56, .frame_owner = 70,
		.lasti_scale = 1, .code_ptr_mask = ~(uint64_t)0,
		.owner_shim = 3, .owner_max = 3, /* FRAME_OWNED_BY_CSTACK */
		.frame_state = PYOFF_NONE, .frame_is_entry = PYOFF_NONE, .bottom_is_shim = true,
		.shims_alone_torn = true,
		.code_filename = 112, .code_name = 120, .code_qualname = 128,
		.code_linetable = 136, .code_firstlineno = 68, .code_adaptive = 192,
		/* 3.12 dropped wstr: smaller str headers */
		.ob_type = 8, .type_tp_name = 24, .type_tp_flags = 168,
		.bytes_size = 16, .bytes_sval = 32,
		.str_length = 16, .str_state = 32, .str_ascii_data = 40, .str_compact_data = 56,
	},
};

/*
 * One field's bytes [off, off + width) must lie inside the `size` bytes
 * read of its struct. A missing field (PYOFF_NONE) is never read.
 */
static bool field_fits(uint32_t off, uint32_t width, uint32_t size, const char *name,
		       const char *where, char *err, size_t errlen)
{
	if (off == PYOFF_NONE || ((uint64_t)off + width <= size))
		return true;
	snprintf(err, errlen, "implausible layout: %s (offset %u, %u bytes) lies outside the "
		 "%u bytes read of %s", name, (unsigned)off, (unsigned)width, (unsigned)size, where);
	return false;
}

int pyoffsets_check(const struct py_offsets *o, char *err, size_t errlen)
{
	const uint32_t lasti_width = o->frames == PY_FRAMES_OBJECT ? 4 : 8;
	const struct {
		uint32_t off, width, size;
		const char *name, *where;
	} f[] = {
		/* read sizes themselves: the reader's buffers */
		{ 0, o->ts_read, PYOFF_TS_MAX, "thread state", "a thread state" },
		{ 0, o->frame_read, PYOFF_FRAME_MAX, "frame", "a frame" },
		{ 0, o->code_read, PYOFF_CODE_MAX, "code header", "a code object" },
		{ 0, o->str_ascii_data, PYOFF_STR_MAX, "str header", "a str" },
		{ 0, o->bytes_sval, PYOFF_BYTES_MAX, "bytes header", "a bytes object" },
		/* PyThreadState, read ts_read bytes */
		{ o->ts_next, 8, o->ts_read, "ts.next", "a thread state" },
		{ o->ts_interp, 8, o->ts_read, "ts.interp", "a thread state" },
		{ o->ts_frame, 8, o->ts_read, "ts.current_frame", "a thread state" },
		{ o->ts_thread_id, 8, o->ts_read, "ts.thread_id", "a thread state" },
		{ o->ts_native_tid, 8, o->ts_read, "ts.native_thread_id", "a thread state" },
		/* frames, read frame_read bytes */
		{ o->frame_back, 8, o->frame_read, "frame.previous", "a frame" },
		{ o->frame_code, 8, o->frame_read, "frame.executable", "a frame" },
		{ o->frame_lasti, lasti_width, o->frame_read, "frame.instr_ptr", "a frame" },
		{ o->frame_owner, 1, o->frame_read, "frame.owner", "a frame" },
		{ o->frame_state, 1, o->frame_read, "frame.state", "a frame" },
		{ o->frame_is_entry, 1, o->frame_read, "frame.is_entry", "a frame" },
		/* code objects, read code_read bytes */
		{ o->ob_type, 8, o->code_read, "ob_type", "a code object" },
		{ o->code_filename, 8, o->code_read, "code.filename", "a code object" },
		{ o->code_name, 8, o->code_read, "code.name", "a code object" },
		{ o->code_qualname, 8, o->code_read, "code.qualname", "a code object" },
		{ o->code_linetable, 8, o->code_read, "code.linetable", "a code object" },
		{ o->code_firstlineno, 4, o->code_read, "code.firstlineno", "a code object" },
		/* type objects */
		{ o->type_tp_name, 8, PYOFF_TYPE_MAX, "type.tp_name", "a type" },
		{ o->type_tp_flags, 8, PYOFF_TYPE_MAX, "type.tp_flags", "a type" },
		/* str headers: the PyASCIIObject, before the characters */
		{ o->ob_type, 8, o->str_ascii_data, "ob_type", "a str" },
		{ o->str_length, 8, o->str_ascii_data, "unicode.length", "a str" },
		{ o->str_state, 4, o->str_ascii_data, "unicode.state", "a str" },
		{ o->str_compact_data, 8, PYOFF_STR_MAX, "unicode.data", "a str" },
		/* bytes headers: everything before ob_sval */
		{ o->ob_type, 8, o->bytes_sval, "ob_type", "a bytes object" },
		{ o->bytes_size, 8, o->bytes_sval, "bytes.ob_size", "a bytes object" },
	};
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (!field_fits(f[i].off, f[i].width, f[i].size, f[i].name, f[i].where, err, errlen))
			return -1;
	return 0;
}

int pyoffsets_builtin(int minor, struct py_offsets *out)
{
	size_t i;

	for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		if (builtin[i].minor == minor) {
			*out = builtin[i];
			finish(out);
			/* The built-in tables are checked by the unit tests. */
			return pyoffsets_check(out, NULL, 0);
		}
	}
	return -1;
}

/*
 * Where each field the reader uses sits inside _Py_DebugOffsets (all
 * uint64_t). 3.14 inserted interpreter_state.threads_main,
 * code_object_generation and tlbc_generation, interpreter_frame.stackpointer
 * and tlbc_index, code_object.co_tlbc and set_object, and appended
 * gen_object, llist_node and debugger_support; 3.15 inserted
 * thread_state.base_frame, last_profiled_frame(_seq), holds_gil,
 * gil_requested, current_exception and exc_state, err_stackitem,
 * type_object.tp_basicsize and tp_dictoffset, heap_type_object,
 * unicode_object.compactunicodeobject_size and three gc fields.
 */
struct debug_layout {
	int minor;
	uint32_t total;
	uint32_t free_threaded, interp_head, interp_next, threads_head;
	uint32_t ts_size, ts_next, ts_interp, ts_frame, ts_thread_id, ts_native_tid;
	uint32_t frame_size, frame_back, frame_code, frame_lasti, frame_owner;
	uint32_t code_size, code_filename, code_name, code_qualname, code_linetable;
	uint32_t code_firstlineno, code_adaptive;
	uint32_t ob_type, tp_name, tp_flags, bytes_size, bytes_sval;
	uint32_t str_state, str_length, str_ascii_size;
	uint32_t str_compact_size; /* PYOFF_NONE: PyASCIIObject + 16 (utf8_length, utf8) */
	uint64_t code_ptr_mask;
	uint32_t owner_shim;
	uint8_t owner_max;
	/*
	 * Whether its free-threaded build is read too. 3.13t differs from 3.13
	 * only in what the debug offsets say (a longer object header; checked
	 * against a live 3.13.5t). 3.14t adds thread-local bytecode (a frame's
	 * instr_ptr may point into its thread's copy of the code, found through
	 * co_tlbc and the frame's tlbc_index) and moves the bits of str's state
	 * (interned becomes a byte), neither of which this reader follows.
	 */
	bool free_threaded_read;
};

static const struct debug_layout layouts[] = {
	{
		.minor = 13, .total = 584, .free_threaded = 16, .interp_head = 40,
		.interp_next = 64, .threads_head = 72,
		.ts_size = 152, .ts_next = 168, .ts_interp = 176, .ts_frame = 184,
		.ts_thread_id = 192, .ts_native_tid = 200,
		.frame_size = 224, .frame_back = 232, .frame_code = 240,
		.frame_lasti = 248, .frame_owner = 264,
		.code_size = 272, .code_filename = 280, .code_name = 288,
		.code_qualname = 296, .code_linetable = 304, .code_firstlineno = 312,
		.code_adaptive = 344,
		.ob_type = 360, .tp_name = 376, .tp_flags = 392, .bytes_size = 520, .bytes_sval = 528,
		.str_state = 544, .str_length = 552, .str_ascii_size = 560,
		.str_compact_size = PYOFF_NONE,
		.code_ptr_mask = ~(uint64_t)0,
		/* FRAME_OWNED_BY_CSTACK = 3 */
		.owner_shim = 3, .owner_max = 3,
		.free_threaded_read = true,
	},
	{
		.minor = 14, .total = 760, .free_threaded = 16, .interp_head = 40,
		.interp_next = 64, .threads_head = 72,
		.ts_size = 176, .ts_next = 192, .ts_interp = 200, .ts_frame = 208,
		.ts_thread_id = 216, .ts_native_tid = 224,
		.frame_size = 248, .frame_back = 256, .frame_code = 264,
		.frame_lasti = 272, .frame_owner = 288,
		.code_size = 312, .code_filename = 320, .code_name = 328,
		.code_qualname = 336, .code_linetable = 344, .code_firstlineno = 352,
		.code_adaptive = 384,
		.ob_type = 408, .tp_name = 424, .tp_flags = 440, .bytes_size = 600, .bytes_sval = 608,
		.str_state = 624, .str_length = 632, .str_ascii_size = 640,
		.str_compact_size = PYOFF_NONE,
		/* f_executable is a _PyStackRef: low bits are tags (Py_TAG_BITS) */
		.code_ptr_mask = ~(uint64_t)3,
		/* FRAME_OWNED_BY_INTERPRETER = 3, FRAME_OWNED_BY_CSTACK = 4 */
		.owner_shim = 3, .owner_max = 4,
	},
	{
		.minor = 15, .total = 888, .free_threaded = 16, .interp_head = 40,
		.interp_next = 64, .threads_head = 72,
		.ts_size = 176, .ts_next = 192, .ts_interp = 200, .ts_frame = 208,
		.ts_thread_id = 240, .ts_native_tid = 248,
		.frame_size = 312, .frame_back = 320, .frame_code = 328,
		.frame_lasti = 336, .frame_owner = 352,
		.code_size = 376, .code_filename = 384, .code_name = 392,
		.code_qualname = 400, .code_linetable = 408, .code_firstlineno = 416,
		.code_adaptive = 448,
		.ob_type = 472, .tp_name = 488, .tp_flags = 504, .bytes_size = 696, .bytes_sval = 704,
		.str_state = 720, .str_length = 728, .str_ascii_size = 736,
		.str_compact_size = 744,
		.code_ptr_mask = ~(uint64_t)3,
		/* FRAME_OWNED_BY_INTERPRETER = 3 (FRAME_OWNED_BY_CSTACK is gone);
		 * every thread's stack starts at its base_frame, owned so */
		.owner_shim = 3, .owner_max = 3,
	},
};

bool pyoffsets_has_cookie(const uint8_t *buf, size_t len)
{
	return len >= 8 && memcmp(buf, PY_DEBUG_COOKIE, 8) == 0;
}

static uint64_t get_u64(const uint8_t *buf, uint32_t pos)
{
	uint64_t v;

	memcpy(&v, buf + pos, sizeof(v));
	return v;
}

/* Read one offset field; it must lie below limit. */
static int field(const uint8_t *buf, uint32_t pos, uint64_t limit, uint32_t *out,
		 const char *name, char *err, size_t errlen)
{
	uint64_t v = get_u64(buf, pos);

	if (strncmp(name, "out->", 5) == 0)
		name += 5;
	if (v >= limit) {
		snprintf(err, errlen, ": its _Py_DebugOffsets give an implausible %s (%llu)",
			 name, (unsigned long long)v);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* Object sizes and offsets inside them stay below this. */
#define MAX_STRUCT (1u << 16)
/* _PyRuntimeState and PyInterpreterState are large. */
#define MAX_BIG_STRUCT (1u << 22)

void pyoffsets_version_name(uint32_t hexversion, char *buf, size_t len)
{
	static const char *const levels[16] = { [0xa] = "a", [0xb] = "b", [0xc] = "rc" };
	unsigned level = (hexversion >> 4) & 0xf, serial = hexversion & 0xf;
	int n;

	n = snprintf(buf, len, "%u.%u.%u", hexversion >> 24, (hexversion >> 16) & 0xff,
		     (hexversion >> 8) & 0xff);
	if (n > 0 && (size_t)n < len && level != 0xf)
		snprintf(buf + n, len - n, "%s%u", levels[level] ? levels[level] : "?", serial);
}

/* Refuse a layout: "CPython <version> is not supported<why>". */
static int refuse(uint32_t hexversion, char *err, size_t errlen, const char *why)
{
	char name[32];

	pyoffsets_version_name(hexversion, name, sizeof(name));
	snprintf(err, errlen, "CPython %s is not supported%s", name, why);
	return -1;
}

int pyoffsets_from_debug(const uint8_t *buf, size_t len, struct py_offsets *out,
			 uint32_t *hexversion, char *err, size_t errlen)
{
	const struct debug_layout *l = NULL;
	uint32_t ts_size, frame_size, code_size, ascii_size, compact_size;
	char why[192];
	uint64_t version;
	int major, minor;
	size_t i;

	if (!pyoffsets_has_cookie(buf, len) || len < 16) {
		snprintf(err, errlen, "no _Py_DebugOffsets cookie");
		return -1;
	}
	version = get_u64(buf, 8);
	*hexversion = (uint32_t)version;
	major = (version >> 24) & 0xff;
	minor = (version >> 16) & 0xff;
	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (major == 3 && layouts[i].minor == minor && version <= UINT32_MAX)
			l = &layouts[i];
	if (!l) {
		snprintf(why, sizeof(why), " (this blocksnoop reads CPython 3.%d to 3.%d)",
			 PY_OLDEST_MINOR, PY_NEWEST_MINOR);
		return refuse(*hexversion, err, errlen, why);
	}
	/*
	 * Internal layouts may change until the release candidates: an alpha
	 * or beta is not the layout known here.
	 */
	if ((version & 0xf0) != 0xf0 && (version & 0xf0) != 0xc0)
		return refuse(*hexversion, err, errlen, ": a pre-release, whose layout may not be "
			      "the release's (release candidates and releases are read)");
	if (len < l->total) {
		snprintf(why, sizeof(why), ": its _Py_DebugOffsets are cut short (%zu of %u bytes)",
			 len, (unsigned)l->total);
		return refuse(*hexversion, err, errlen, why);
	}
	if (get_u64(buf, l->free_threaded) != 0 && !l->free_threaded_read) {
		char name[32];

		pyoffsets_version_name(*hexversion, name, sizeof(name));
		snprintf(err, errlen, "free-threaded CPython %s is not supported (of the "
			 "free-threaded builds, this blocksnoop reads 3.13's only)", name);
		return -1;
	}

	memset(out, 0, sizeof(*out));
	out->major = major;
	out->minor = minor;
	out->free_threaded = get_u64(buf, l->free_threaded) != 0;
	out->frames = PY_FRAMES_DIRECT;
	out->lines = PY_LINES_LOCATIONS;
	out->tids = PY_TID_NATIVE;
	out->cframe_current_frame = PYOFF_NONE;
	out->lasti_scale = 1;
	out->code_ptr_mask = l->code_ptr_mask;
	out->owner_shim = l->owner_shim;
	out->owner_max = l->owner_max;
	out->frame_state = PYOFF_NONE;
	out->frame_is_entry = PYOFF_NONE;
	out->bottom_is_shim = true;
	out->shims_alone_torn = l->minor < 15;

#define F(pos, limit, dst) do {                                                 \
		if (field(buf, (pos), (limit), &(dst), #dst, why, sizeof(why)) < 0) \
			return refuse(*hexversion, err, errlen, why);           \
	} while (0)
	F(l->ts_size, MAX_STRUCT, ts_size);
	F(l->frame_size, MAX_STRUCT, frame_size);
	F(l->code_size, MAX_STRUCT, code_size);
	if (ts_size < 8 || frame_size < 8 || code_size < 8)
		return refuse(*hexversion, err, errlen, ": its _Py_DebugOffsets give implausible "
			      "struct sizes");
	F(l->interp_head, MAX_BIG_STRUCT - 8, out->runtime_interp_head);
	F(l->interp_next, MAX_BIG_STRUCT - 8, out->interp_next);
	F(l->threads_head, MAX_BIG_STRUCT - 8, out->interp_threads_head);
	F(l->ts_next, ts_size - 7, out->ts_next);
	F(l->ts_interp, ts_size - 7, out->ts_interp);
	F(l->ts_frame, ts_size - 7, out->ts_frame);
	F(l->ts_thread_id, ts_size - 7, out->ts_thread_id);
	F(l->ts_native_tid, ts_size - 7, out->ts_native_tid);
	F(l->frame_back, frame_size - 7, out->frame_back);
	F(l->frame_code, frame_size - 7, out->frame_code);
	F(l->frame_lasti, frame_size - 7, out->frame_lasti);
	F(l->frame_owner, frame_size, out->frame_owner);
	F(l->code_filename, code_size - 7, out->code_filename);
	F(l->code_name, code_size - 7, out->code_name);
	F(l->code_qualname, code_size - 7, out->code_qualname);
	F(l->code_linetable, code_size - 7, out->code_linetable);
	F(l->code_firstlineno, code_size - 3, out->code_firstlineno);
	F(l->code_adaptive, code_size + 1, out->code_adaptive);
	F(l->ob_type, 64, out->ob_type);
	F(l->tp_name, 1024, out->type_tp_name);
	F(l->tp_flags, 1024, out->type_tp_flags);
	F(l->bytes_size, 64, out->bytes_size);
	F(l->bytes_sval, 64, out->bytes_sval);
	F(l->str_state, 64, out->str_state);
	F(l->str_length, 64, out->str_length);
	F(l->str_ascii_size, 128, ascii_size);
	/* PyCompactUnicodeObject = PyASCIIObject + utf8_length + utf8 (3.12+) */
	compact_size = ascii_size + 16;
	if (l->str_compact_size != PYOFF_NONE)
		F(l->str_compact_size, 128, compact_size);
#undef F
	out->str_ascii_data = ascii_size;
	out->str_compact_data = compact_size;
	finish(out);
	if (pyoffsets_check(out, why + 2, sizeof(why) - 2) < 0) {
		why[0] = ':';
		why[1] = ' ';
		return refuse(*hexversion, err, errlen, why);
	}
	return 0;
}

/* ---- asyncio tasks (see pyoffsets.h) ---- */

/* What every GIL build of 3.11+ shares. */
#define PY_TASK_COMMON .dict_keys = 32, .module_dict = 16, .long_size = 16, .long_digits = 24, \
	.set_mask = 32, .set_table = 40, .ts_running_task = PYOFF_NONE,                      \
	.task_awaited_by = PYOFF_NONE, .task_awaited_by_is_set = PYOFF_NONE

/* 3.11-3.13, measured live (TaskObj is private to _asynciomodule.c). */
static const struct {
	int minor;
	struct py_task_offsets o;
} task_builtin[] = {
	{ 11, { .style = PY_TASKS_CURRENT_DICT, PY_TASK_COMMON, .interp_modules = 888,
		.task_name = 144, .task_coro = 136, .gen_qualname = 40, .gen_iframe = 80 } },
	{ 12, { .style = PY_TASKS_CURRENT_DICT, PY_TASK_COMMON, .interp_modules = 944,
		.task_name = 144, .task_coro = 136, .gen_qualname = 32, .gen_iframe = 72,
		.long_tagged = true } },
	/* interp_modules: from _Py_DebugOffsets.interpreter_state.imports_modules */
	{ 13, { .style = PY_TASKS_CURRENT_DICT, PY_TASK_COMMON, .interp_modules = PYOFF_NONE,
		.task_name = 128, .task_coro = 120, .gen_qualname = 32, .gen_iframe = 72,
		.long_tagged = true } },
};

/* Where 3.13's _Py_DebugOffsets keep interpreter_state.imports_modules. */
#define DEBUG313_IMPORTS_MODULES 88

/*
 * _AsyncioDebug (3.14, 3.15): asyncio_task_object {size, task_name,
 * task_awaited_by, task_is_task, task_awaited_by_is_set, task_coro,
 * task_node}, asyncio_interpreter_state {size, asyncio_tasks_head},
 * asyncio_thread_state {size, asyncio_running_loop, asyncio_running_task,
 * asyncio_tasks_head}: the position of each uint64_t used.
 */
enum {
	ADBG_TASK_SIZE = 0, ADBG_TASK_NAME = 8, ADBG_TASK_AWAITED_BY = 16,
	ADBG_TASK_AWAITED_BY_IS_SET = 32, ADBG_TASK_CORO = 40,
	ADBG_TS_SIZE = 72, ADBG_TS_RUNNING_TASK = 88,
};

static void task_finish(struct py_task_offsets *o)
{
	uint32_t n = MAX2(reach(o->task_name, 8), reach(o->task_coro, 8));

	n = MAX2(n, reach(o->task_awaited_by, 8));
	o->task_read = MAX2(n, reach(o->task_awaited_by_is_set, 1));
}

int pyoffsets_tasks(int minor, bool free_threaded, const uint8_t *dbg, size_t dbglen,
		    const uint8_t *adbg, size_t adbglen, struct py_task_offsets *out,
		    char *err, size_t errlen)
{
	uint64_t task_size, ts_size, v[4];
	size_t i;

	memset(out, 0, sizeof(*out));
	out->style = PY_TASKS_NONE;
	if (minor < 11) {
		snprintf(err, errlen, "not read for CPython 3.%d (tasks are read from 3.11 on)",
			 minor);
		return -1;
	}
	if (free_threaded) {
		snprintf(err, errlen, "not read for a free-threaded CPython");
		return -1;
	}
	for (i = 0; i < sizeof(task_builtin) / sizeof(task_builtin[0]); i++) {
		if (task_builtin[i].minor != minor)
			continue;
		*out = task_builtin[i].o;
		if (out->interp_modules == PYOFF_NONE) {
			if (!dbg || dbglen < DEBUG313_IMPORTS_MODULES + 8 ||
			    !pyoffsets_has_cookie(dbg, dbglen)) {
				snprintf(err, errlen, "its _Py_DebugOffsets are missing");
				goto refuse;
			}
			v[0] = get_u64(dbg, DEBUG313_IMPORTS_MODULES);
			if (v[0] < 8 || v[0] >= MAX_BIG_STRUCT - 8 || (v[0] & 7)) {
				snprintf(err, errlen, "its _Py_DebugOffsets give an implausible "
					 "imports.modules (%llu)", (unsigned long long)v[0]);
				goto refuse;
			}
			out->interp_modules = (uint32_t)v[0];
		}
		task_finish(out);
		return 0;
	}
	if (!adbg) {
		snprintf(err, errlen, "the _asyncio module's .AsyncioDebug section was not found "
			 "(asyncio not imported yet, or a build without it)");
		goto refuse;
	}
	if (adbglen < PY_ASYNCIO_DEBUG_SIZE) {
		snprintf(err, errlen, "its _AsyncioDebug offsets are cut short (%zu of %u bytes)",
			 adbglen, PY_ASYNCIO_DEBUG_SIZE);
		goto refuse;
	}
	task_size = get_u64(adbg, ADBG_TASK_SIZE);
	ts_size = get_u64(adbg, ADBG_TS_SIZE);
	v[0] = get_u64(adbg, ADBG_TASK_NAME);
	v[1] = get_u64(adbg, ADBG_TASK_CORO);
	v[2] = get_u64(adbg, ADBG_TASK_AWAITED_BY);
	v[3] = get_u64(adbg, ADBG_TASK_AWAITED_BY_IS_SET);
	if (task_size < 16 || task_size > PYOFF_TASK_MAX || ts_size < 16 || ts_size > MAX_STRUCT ||
	    get_u64(adbg, ADBG_TS_RUNNING_TASK) > ts_size - 8 || v[0] > task_size - 8 ||
	    v[1] > task_size - 8 || v[2] > task_size - 8 || v[3] > task_size - 1) {
		snprintf(err, errlen, "its _AsyncioDebug offsets are implausible");
		goto refuse;
	}
	*out = (struct py_task_offsets){
		.style = PY_TASKS_THREAD_STATE, PY_TASK_COMMON, .interp_modules = PYOFF_NONE,
		.gen_qualname = 32, .gen_iframe = PYOFF_NONE, .long_tagged = true,
	};
	out->ts_running_task = (uint32_t)get_u64(adbg, ADBG_TS_RUNNING_TASK);
	out->task_name = (uint32_t)v[0];
	out->task_coro = (uint32_t)v[1];
	out->task_awaited_by = (uint32_t)v[2];
	out->task_awaited_by_is_set = (uint32_t)v[3];
	task_finish(out);
	return 0;
refuse:
	memset(out, 0, sizeof(*out));
	out->style = PY_TASKS_NONE;
	return -1;
}

/* ---- the GIL (see pyoffsets.h) ---- */

/* Where interpreter_state.ceval_gil sits in _Py_DebugOffsets; the three
 * gil_runtime_state fields that matter follow it: the struct's own offset
 * (+8), then enabled (+16), locked (+24), last_holder (+32). 3.14 inserted
 * threads_main before them. */
#define DEBUG313_CEVAL_GIL 112
#define DEBUG314_CEVAL_GIL 120

int pyoffsets_gil(int minor, bool free_threaded, const uint8_t *dbg, size_t dbglen,
		  struct py_gil_offsets *out, char *err, size_t errlen)
{
	uint64_t ceval_gil, gil, locked, holder;
	uint32_t at;

	memset(out, 0, sizeof(*out));
	out->home = PY_GIL_NONE;
	if (free_threaded) {
		snprintf(err, errlen, "a free-threaded CPython has no GIL");
		return -1;
	}
	if (minor < 11) {
		snprintf(err, errlen, "not read for CPython 3.%d (the GIL holder is read from "
			 "3.11 on)", minor);
		return -1;
	}
	if (minor == 11) {
		/* _PyRuntime.ceval.gil: interval, last_holder, locked */
		*out = (struct py_gil_offsets){ .home = PY_GIL_IN_RUNTIME, .gil_at = 360,
						.gil_holder = 8, .gil_locked = 16 };
		return 0;
	}
	if (minor == 12) {
		*out = (struct py_gil_offsets){ .home = PY_GIL_IN_INTERP, .gil_at = 384,
						.gil_holder = 8, .gil_locked = 16 };
		return 0;
	}
	at = minor == 13 ? DEBUG313_CEVAL_GIL : DEBUG314_CEVAL_GIL;
	if (!dbg || dbglen < PY_GIL_DEBUG_PREFIX || !pyoffsets_has_cookie(dbg, dbglen)) {
		snprintf(err, errlen, "its _Py_DebugOffsets are missing");
		return -1;
	}
	ceval_gil = get_u64(dbg, at);
	gil = get_u64(dbg, at + 8);
	locked = get_u64(dbg, at + 24);
	holder = get_u64(dbg, at + 32);
	/* The pointer and the embedded struct are in PyInterpreterState; the
	 * two fields are the struct's, so they lie just after its start. */
	if (ceval_gil >= MAX_BIG_STRUCT - 8 || (ceval_gil & 7) || gil >= MAX_BIG_STRUCT ||
	    locked < gil || holder < gil || locked - gil > PYOFF_GIL_READ - 4 ||
	    holder - gil > PYOFF_GIL_READ - 8 || (holder & 7)) {
		snprintf(err, errlen, "its _Py_DebugOffsets give an implausible GIL layout");
		return -1;
	}
	*out = (struct py_gil_offsets){ .home = PY_GIL_IN_INTERP, .gil_at = (uint32_t)ceval_gil,
					.gil_holder = (uint32_t)(holder - gil),
					.gil_locked = (uint32_t)(locked - gil) };
	return 0;
}
