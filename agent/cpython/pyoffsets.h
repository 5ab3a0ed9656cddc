/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pyoffsets.h - the one home of CPython version drift (internal to
 * agent/cpython). Everything the reader needs to know about a version is a
 * `struct py_offsets` value: a static table per minor version for 3.8-3.12
 * (x86_64/LP64 release GIL builds, measured with offsetof() on the real
 * headers), and for 3.13-3.15 a table filled from the target's own
 * _Py_DebugOffsets (where each of its fields sits differs per minor
 * version: debug_layout in pyoffsets.c). The walker branches only on the
 * style fields.
 */
#ifndef BLOCKSNOOP_CPYTHON_PYOFFSETS_H
#define BLOCKSNOOP_CPYTHON_PYOFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a thread's frames are linked. */
enum py_frame_style {
	PY_FRAMES_OBJECT,  /* 3.8-3.10: ts->frame, PyFrameObject.f_back, int f_lasti */
	PY_FRAMES_CFRAME,  /* 3.11-3.12: ts->cframe->current_frame, _PyInterpreterFrame */
	PY_FRAMES_DIRECT,  /* 3.13+: ts->current_frame, _PyInterpreterFrame */
};

/* Which line table co_lnotab / co_linetable holds. */
enum py_line_style {
	PY_LINES_LNOTAB,    /* 3.8-3.9 */
	PY_LINES_310,       /* 3.10 */
	PY_LINES_LOCATIONS, /* 3.11+ */
};

/* How a thread state gives its OS thread id. */
enum py_tid_style {
	PY_TID_PTHREAD, /* 3.8-3.10: only thread_id (pthread_t); TID inside struct pthread */
	PY_TID_NATIVE,  /* 3.11+: native_thread_id */
};

#define PYOFF_NONE UINT32_MAX /* the field does not exist in this version */

struct py_offsets {
	int major, minor;
	/*
	 * A free-threaded ("t") build's (3.13t): its objects have a larger
	 * header, which its _Py_DebugOffsets describe; nothing else differs.
	 */
	bool free_threaded;
	enum py_frame_style frames;
	enum py_line_style lines;
	enum py_tid_style tids;

	/* _PyRuntimeState */
	uint32_t runtime_interp_head;
	/* PyInterpreterState */
	uint32_t interp_next, interp_threads_head;
	/* PyThreadState: ts_frame is frame (OBJECT), cframe (CFRAME) or current_frame */
	uint32_t ts_next, ts_interp, ts_frame, ts_thread_id, ts_native_tid;
	/* _PyCFrame (CFRAME style only) */
	uint32_t cframe_current_frame;

	/*
	 * Frames. OBJECT: frame_back = f_back, frame_code = f_code, frame_lasti
	 * = int f_lasti times lasti_scale gives a byte offset. Interpreter
	 * frames: frame_back = previous, frame_code = f_code/f_executable (a
	 * pointer, `& code_ptr_mask` for 3.14's tagged _PyStackRef),
	 * frame_lasti = prev_instr/instr_ptr, frame_owner = owner (char).
	 * Frames with owner >= owner_shim are C-stack/interpreter shims to skip;
	 * an owner above owner_max is no frame at all (one caught while its
	 * memory is reused: a torn read).
	 */
	uint32_t frame_back, frame_code, frame_lasti, frame_owner;
	uint32_t lasti_scale;
	uint64_t code_ptr_mask;
	uint32_t owner_shim;
	uint8_t owner_max;

	/*
	 * Telling a whole stack from a torn read (a frame caught while it is
	 * set up or torn down looks like the end of the stack):
	 * - PyFrameObject: the outermost frame must be running: the byte at
	 *   frame_state (f_executing 3.8/3.9, f_state 3.10) must be a value
	 *   v < 8 with bit v set in frame_state_live (a freed frame waiting for
	 *   reuse has no f_back and is not running);
	 * - 3.11: the outermost frame must be an entry frame (bool at
	 *   frame_is_entry);
	 * - 3.12+: the outermost frame must be a shim (bottom_is_shim): every
	 *   entry into the eval loop pushes one, the first at the thread's base;
	 * - 3.12-3.14: and a walk must find a Python frame (shims_alone_torn):
	 *   a shim is pushed only to run one, so shims alone are a frame caught
	 *   while its memory was reused (an owner byte that reads as a shim's,
	 *   previous NULL) or a call half-way through. 3.15 gives every thread
	 *   a base frame, alone while the thread runs no Python.
	 */
	uint32_t frame_state;
	uint8_t frame_state_live;
	uint32_t frame_is_entry;
	bool bottom_is_shim;
	bool shims_alone_torn;

	/* PyCodeObject (code_qualname PYOFF_NONE before 3.11) */
	uint32_t code_filename, code_name, code_qualname, code_linetable, code_firstlineno;
	uint32_t code_adaptive; /* co_code_adaptive (3.11+) */

	/* PyObject / PyTypeObject */
	uint32_t ob_type, type_tp_name, type_tp_flags;
	/* PyBytesObject */
	uint32_t bytes_size, bytes_sval;
	/*
	 * PyUnicodeObject: characters of a compact ASCII string at
	 * str_ascii_data, of another compact string at str_compact_data; a
	 * non-compact string keeps a pointer to them at str_compact_data.
	 */
	uint32_t str_length, str_state, str_ascii_data, str_compact_data;

	/* Bytes to read for one struct: last field used + its size. */
	uint32_t ts_read, frame_read, code_read;
};

/*
 * The most the reader copies of each struct: the sizes of its buffers, and
 * so the bounds every field is checked against. A layout with a field
 * (offset + width) beyond the bytes read of its struct is refused.
 */
#define PYOFF_TS_MAX 1024   /* PyThreadState: ts_read */
#define PYOFF_FRAME_MAX 512 /* a frame: frame_read */
#define PYOFF_CODE_MAX 512  /* a PyCodeObject header: code_read */
#define PYOFF_TYPE_MAX 512  /* a PyTypeObject, up to tp_name and tp_flags */
#define PYOFF_STR_MAX 128   /* a str header: str_ascii_data bytes are read */
#define PYOFF_BYTES_MAX 64  /* a bytes header: bytes_sval bytes are read */

/*
 * Whether every field of o lies inside the bytes the reader copies of its
 * struct (the PYOFF_*_MAX above, and for str and bytes headers the part
 * before their characters): 0, or -1 with the first field that does not in
 * err. Pure.
 */
int pyoffsets_check(const struct py_offsets *o, char *err, size_t errlen);

/*
 * Copy the built-in table for 3.<minor> (8..12) into *out: 0, or -1 if
 * there is none (3.13+ come only from the target's _Py_DebugOffsets).
 */
int pyoffsets_builtin(int minor, struct py_offsets *out);

/* The versions read: built-in tables, then _Py_DebugOffsets. */
#define PY_OLDEST_MINOR 8
#define PY_NEWEST_MINOR 15
#define PY_NEWEST_BUILTIN_MINOR 12

/* Size of _Py_DebugOffsets the reader needs for 3.13 to 3.15. */
#define PY_DEBUG_OFFSETS_MAX 888
#define PY_DEBUG_COOKIE "xdebugpy"

/*
 * Fill *out from a copy of the start of _PyRuntime (len bytes, at least
 * PY_DEBUG_OFFSETS_MAX when the target has that much). Checks the cookie,
 * that the version is 3.13 to 3.15 (the layouts known here; a release
 * candidate or final release, not an alpha or beta), that a free-threaded
 * build is one read here (3.13t; out->free_threaded says it is one; 3.14t
 * and 3.15t are refused), that every offset and size is plausible
 * and that every field fits what the reader copies of its struct
 * (pyoffsets_check). Returns 0, or -1 with a one-line reason in err that
 * names the version ("CPython 3.16.0 is not supported (...)"). Pure;
 * fuzzed. *hexversion gets PY_VERSION_HEX whenever the cookie matched.
 */
int pyoffsets_from_debug(const uint8_t *buf, size_t len, struct py_offsets *out,
			 uint32_t *hexversion, char *err, size_t errlen);

/*
 * PY_VERSION_HEX as people write it: "3.15.0", "3.15.0b2", "3.14.0rc1".
 * Pure; buf is always terminated (len > 0).
 */
void pyoffsets_version_name(uint32_t hexversion, char *buf, size_t len);

/* Whether buf starts with the _Py_DebugOffsets cookie. */
bool pyoffsets_has_cookie(const uint8_t *buf, size_t len);

/*
 * ---- asyncio tasks (pytask.c) ----
 * Which task a thread runs is kept apart from the stack layout above: it
 * lives in the _asyncio module, whose layout is its own.
 *   3.11-3.13 (PY_TASKS_CURRENT_DICT): asyncio.tasks._current_tasks, a dict
 *     loop -> running task (the C module's own dict, or the pure-Python
 *     fallback's), reached through sys.modules (the interpreter state's
 *     modules dict). Which entry is the thread's: the one whose coroutine's
 *     frame (inside the coroutine object, at gen_iframe) the thread's stack
 *     goes through. TaskObj, PyGenObject and the dict layouts were measured
 *     on live 3.11.2, 3.12.1 and 3.13.5 (3.13's modules offset comes from
 *     its _Py_DebugOffsets).
 *   3.14+ (PY_TASKS_THREAD_STATE): _PyThreadStateImpl.asyncio_running_task,
 *     and the task layout, from the _AsyncioDebug offsets the _asyncio
 *     module publishes in its ELF section ".AsyncioDebug"; awaited_by gives
 *     the tasks waiting for it (one task, or a set of them).
 * GIL builds only: the free-threaded ones have other object headers.
 */
enum py_task_style {
	PY_TASKS_NONE,         /* tasks are not read for this version */
	PY_TASKS_CURRENT_DICT, /* 3.11-3.13 */
	PY_TASKS_THREAD_STATE, /* 3.14+ */
};

struct py_task_offsets {
	enum py_task_style style;
	/* CURRENT_DICT: PyInterpreterState.modules (3.12+ imports.modules) */
	uint32_t interp_modules;
	/* PyDictObject.ma_keys; PyModuleObject.md_dict */
	uint32_t dict_keys, module_dict;
	/* THREAD_STATE: _PyThreadStateImpl.asyncio_running_task */
	uint32_t ts_running_task;
	/* TaskObj (task_awaited_by* PYOFF_NONE before 3.14); bytes read of one */
	uint32_t task_name, task_coro, task_awaited_by, task_awaited_by_is_set, task_read;
	/* PyGenObject / PyCoroObject: gi_qualname, the embedded frame */
	uint32_t gen_qualname, gen_iframe;
	/* PyLongObject (a 3.12+ task's default name is its number until asked
	 * for): size or lv_tag (3.12+: digits = tag >> 3), then 30-bit digits */
	uint32_t long_size, long_digits;
	bool long_tagged;
	/* PySetObject: mask, table (of {key, hash} entries) */
	uint32_t set_mask, set_table;
};

/* The most the reader copies of a TaskObj: task_read. */
#define PYOFF_TASK_MAX 512
/* Size of the _AsyncioDebug offsets read (13 uint64_t in 3.14 and 3.15). */
#define PY_ASYNCIO_DEBUG_SIZE 104
/* Bytes of the start of _Py_DebugOffsets pyoffsets_tasks() needs (3.13). */
#define PY_TASK_DEBUG_PREFIX 96

/*
 * The task layout of CPython 3.<minor> into *out. 3.11 and 3.12 are built
 * in; 3.13 also needs the first PY_TASK_DEBUG_PREFIX bytes of its
 * _Py_DebugOffsets in dbg (where imports.modules is); 3.14+ need the
 * _AsyncioDebug offsets in adbg (PY_ASYNCIO_DEBUG_SIZE bytes, NULL if the
 * _asyncio module has not been found), each checked to be plausible and to
 * fit the reader's buffers. free_threaded: a free-threaded build (never
 * read). 0, or -1 with a one-line reason in err (what is not available
 * and why). Pure; fuzzed.
 */
int pyoffsets_tasks(int minor, bool free_threaded, const uint8_t *dbg, size_t dbglen,
		    const uint8_t *adbg, size_t adbglen, struct py_task_offsets *out,
		    char *err, size_t errlen);

/*
 * ---- the GIL (pygil.c) ----
 * Who holds the GIL is kept apart from the stack layout: the reader needs
 * it only to name the thread another thread waits for. The lock is a
 * struct _gil_runtime_state, whose `locked` (int: 1 held, 0 free, -1 not
 * yet created) and `last_holder` (PyThreadState *: the holder while it is
 * held) sit at gil_locked and gil_holder inside it. Where the struct is:
 *   3.11 (PY_GIL_IN_RUNTIME): inside _PyRuntime (ceval.gil), gil_at bytes
 *     in; measured with offsetof() on the 3.11.2 headers.
 *   3.12+ (PY_GIL_IN_INTERP): one per interpreter, through the pointer at
 *     gil_at in PyInterpreterState (ceval.gil; subinterpreters that share
 *     the main GIL point at the main one's). 3.12 measured with offsetof()
 *     on the 3.12.1 headers; 3.13 to 3.15 from the target's
 *     _Py_DebugOffsets (interpreter_state.ceval_gil, gil_runtime_state and
 *     its _locked and _holder fields).
 * 3.8-3.10 are not read; a free-threaded build has no GIL to wait for.
 */
enum py_gil_home {
	PY_GIL_NONE,       /* not read for this version */
	PY_GIL_IN_RUNTIME, /* 3.11: _PyRuntime + gil_at */
	PY_GIL_IN_INTERP,  /* 3.12+: *(interp + gil_at) */
};

struct py_gil_offsets {
	enum py_gil_home home;
	uint32_t gil_at;
	uint32_t gil_locked, gil_holder; /* inside struct _gil_runtime_state */
};

/* Bytes read of a struct _gil_runtime_state: both fields lie inside. */
#define PYOFF_GIL_READ 64
/* Bytes of the start of _Py_DebugOffsets pyoffsets_gil() needs (3.14+). */
#define PY_GIL_DEBUG_PREFIX 160

/*
 * The GIL layout of CPython 3.<minor> into *out. 3.11 and 3.12 are built
 * in; 3.13+ need the first PY_GIL_DEBUG_PREFIX bytes of their
 * _Py_DebugOffsets in dbg, whose GIL fields are checked to be plausible
 * and to fit PYOFF_GIL_READ. free_threaded: a free-threaded build (no
 * GIL). 0, or -1 (out->home PY_GIL_NONE) with a one-line reason in err.
 * Pure; fuzzed.
 */
int pyoffsets_gil(int minor, bool free_threaded, const uint8_t *dbg, size_t dbglen,
		  struct py_gil_offsets *out, char *err, size_t errlen);

#endif
