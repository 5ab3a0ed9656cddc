// SPDX-License-Identifier: Apache-2.0
/*
 * test_cpython_walker.c - the CPython stack walker (agent/cpython/
 * pyreader.c) on fake processes: interpreters, thread states, frames,
 * code objects, strings and line tables laid out in memory made here, with
 * the layouts of pyoffsets.c (3.8-3.12 built in, 3.13 from a live
 * _Py_DebugOffsets), read through the fake remote of fake_remote.h.
 *
 * What a hostile target could do to the reader's memory and work:
 *   - a new code object with new names for every sample: the cache stays
 *     within its bounds and every stack still comes out right;
 *   - a deep stack whose line tables together exceed the cache: bounded,
 *     and the next sample reads no table again;
 *   - thousands of thread states and a TID that is none of them: one
 *     bounded scan, then the answer is remembered;
 *   - a _Py_DebugOffsets table whose offsets run past their structs:
 *     refused at attach.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpython/codecache.h"
#include "cpython/pyattach.h"
#include "cpython/pyoffsets.h"
#include "cpython/pytid.h"
#include "fake_remote.h"

/* ------------------------------------------------------------------ */
/* a fake process's memory                                              */

#define HEAP_BASE 0x10000000ULL
#define HEAP_SIZE (48u << 20)
#define FAKE_PID 4242

static struct fake_proc fp;
static uint8_t *heap;
static size_t heap_used;

static uint64_t alloc(size_t n)
{
	uint64_t addr = HEAP_BASE + heap_used;

	heap_used += (n + 63) & ~(size_t)63;
	assert_true(heap_used <= HEAP_SIZE);
	return addr;
}

static uint8_t *at(uint64_t addr)
{
	assert_true(addr >= HEAP_BASE && addr < HEAP_BASE + HEAP_SIZE);
	return heap + (addr - HEAP_BASE);
}

static void put64(uint64_t addr, uint64_t v)
{
	memcpy(at(addr), &v, 8);
}

static void put32(uint64_t addr, uint32_t v)
{
	memcpy(at(addr), &v, 4);
}

/* _Py_DebugOffsets of pyenv 3.13.0, read live (as in test_cpython_decoders.c). */
static const uint64_t dbg_3130[73] = {
	0x7970677562656478, 0x30d00f0, 0, 283320, 608, 632, 194968, 7272, 7264, 7344, 7400, 7656,
	7640, 7648, 16, 7752, 0, 7768, 7760, 304, 0, 8, 16, 72, 152, 160, 232, 32, 80, 8, 0, 56,
	72, 70, 208, 112, 120, 128, 136, 68, 52, 96, 104, 200, 16, 8, 416, 24, 88, 168, 32, 24,
	16, 40, 24, 16, 48, 32, 40, 24, 16, 32, 16, 24, 40, 16, 32, 64, 32, 16, 40, 240, 200,
};

/* A Python's objects in the fake memory, laid out with its offsets. */
struct pyfake {
	struct py_offsets o;
	struct py_runtime_loc loc;
	uint64_t code_type, str_type, bytes_type, interp;
};

static struct pyfake py;

static uint64_t mk_type(const char *name)
{
	uint64_t t = alloc(PYOFF_TYPE_MAX), n = alloc(16);

	strcpy((char *)at(n), name);
	put64(t + py.o.type_tp_name, n);
	put64(t + py.o.type_tp_flags, 0);
	return t;
}

static uint64_t mk_str(const char *s)
{
	size_t len = strlen(s);
	uint64_t a = alloc(py.o.str_ascii_data + len + 1);

	put64(a + py.o.ob_type, py.str_type);
	put64(a + py.o.str_length, len);
	put32(a + py.o.str_state, 1u << 2 | 1u << 5 | 1u << 6); /* kind 1, compact, ascii */
	memcpy(at(a + py.o.str_ascii_data), s, len + 1);
	return a;
}

static uint64_t mk_bytes(const void *data, size_t n)
{
	uint64_t a = alloc(py.o.bytes_sval + n + 1);

	put64(a + py.o.ob_type, py.bytes_type);
	put64(a + py.o.bytes_size, n);
	memcpy(at(a + py.o.bytes_sval), data, n);
	return a;
}

/* A line table that puts units 0..7 at firstlineno + 1 (and more bytes of
 * padding, for tests that want big tables). */
static uint64_t mk_table(size_t pad)
{
	uint8_t *t = calloc(1, 2 + pad);
	uint64_t a;

	if (py.o.lines == PY_LINES_LOCATIONS) {
		t[0] = 0x80 | 13 << 3 | 7; /* no columns, 8 units, line delta: */
		t[1] = 2;                  /* svarint +1 */
		for (size_t i = 0; i < pad; i++)
			t[2 + i] = 0xf0 | 7; /* PY_CODE_LOCATION_INFO_NONE entries */
	} else if (py.o.lines == PY_LINES_310) {
		t[0] = 16; /* 16 bytes, */
		t[1] = 1;  /* line + 1 */
	} else {
		t[0] = 0; /* from byte 0, */
		t[1] = 1; /* line + 1 */
	}
	a = mk_bytes(t, 2 + pad);
	free(t);
	return a;
}

static uint64_t mk_code(const char *qualname, const char *file, int firstlineno, size_t pad)
{
	uint64_t c = alloc(PYOFF_CODE_MAX + 64);

	put64(c + py.o.ob_type, py.code_type);
	put64(c + py.o.code_filename, mk_str(file));
	put64(c + py.o.code_name, mk_str(qualname));
	if (py.o.code_qualname != PYOFF_NONE)
		put64(c + py.o.code_qualname, mk_str(qualname));
	put64(c + py.o.code_linetable, mk_table(pad));
	put32(c + py.o.code_firstlineno, firstlineno);
	return c;
}

/* Where a frame at code unit 3 of code c stands. */
static void set_where(uint64_t frame, uint64_t c)
{
	if (py.o.frames == PY_FRAMES_OBJECT)
		put32(frame + py.o.frame_lasti, 6 / py.o.lasti_scale); /* byte 6 */
	else
		put64(frame + py.o.frame_lasti, c + py.o.code_adaptive + 2 * 3);
}

/* Frames running codes[0] (innermost) ... codes[n - 1]: the innermost. */
static uint64_t mk_frames(const uint64_t *codes, int n)
{
	uint64_t next = 0, f = 0;
	int i;

	if (py.o.bottom_is_shim) {
		next = alloc(PYOFF_FRAME_MAX);
		*at(next + py.o.frame_owner) = (uint8_t)py.o.owner_shim;
	}
	for (i = n - 1; i >= 0; i--) {
		f = alloc(PYOFF_FRAME_MAX);
		put64(f + py.o.frame_code, codes[i]);
		put64(f + py.o.frame_back, next);
		set_where(f, codes[i]);
		if (py.o.frame_state != PYOFF_NONE)
			*at(f + py.o.frame_state) = __builtin_ctz(py.o.frame_state_live);
		if (py.o.frame_is_entry != PYOFF_NONE)
			*at(f + py.o.frame_is_entry) = i == n - 1;
		next = f;
	}
	return f;
}

/* A thread state for tid running from frame, pushed on the interpreter's list. */
static uint64_t mk_thread(pid_t tid, uint64_t frame)
{
	uint64_t ts = alloc(PYOFF_TS_MAX), root = frame;

	if (py.o.frames == PY_FRAMES_CFRAME) {
		root = alloc(64);
		put64(root + py.o.cframe_current_frame, frame);
	}
	put64(ts + py.o.ts_interp, py.interp);
	put64(ts + py.o.ts_frame, root);
	put64(ts + py.o.ts_next, *(uint64_t *)at(py.interp + py.o.interp_threads_head));
	if (py.o.tids == PY_TID_NATIVE) {
		put64(ts + py.o.ts_native_tid, tid);
	} else {
		/* struct pthread, with the TID where glibc keeps it */
		uint64_t pthread = alloc(PYTID_WINDOW);

		put32(pthread + pytid_preferred_offset(), tid);
		put64(ts + py.o.ts_thread_id, pthread);
		assert_true(fp.ntids < FAKE_MAX_TIDS);
		fp.tids[fp.ntids++] = tid;
	}
	put64(py.interp + py.o.interp_threads_head, ts);
	return ts;
}

/*
 * A fresh fake Python 3.<minor> with one interpreter and no threads yet:
 * 8-12 with the built-in layout and Py_Version, 13 with a live
 * _Py_DebugOffsets (dbg, or dbg_3130).
 */
static void mk_python(int minor, const uint64_t *dbg)
{
	uint64_t runtime;
	uint32_t hex;
	char err[256];

	memset(&fp, 0, sizeof(fp));
	memset(heap, 0, heap_used);
	heap_used = 0;
	memset(&py, 0, sizeof(py));
	fp.ns_pid = FAKE_PID;
	assert_true(fake_map(&fp, HEAP_BASE, heap, HEAP_SIZE));
	runtime = alloc(1 << 16);
	if (minor >= 13) {
		memcpy(at(runtime), dbg ? dbg : dbg_3130, sizeof(dbg_3130));
		/* the layout the walker will use (even if it is refused at attach,
		 * the objects are laid out with the real 3.13 one) */
		assert_int_equal(pyoffsets_from_debug((const uint8_t *)dbg_3130, sizeof(dbg_3130),
						      &py.o, &hex, err, sizeof(err)), 0);
	} else {
		uint64_t v = alloc(8);

		put64(v, 0x030000f0ULL | (uint64_t)minor << 16 | 1 << 8);
		py.loc.py_version = v;
		assert_int_equal(pyoffsets_builtin(minor, &py.o), 0);
	}
	py.loc.runtime = runtime;
	snprintf(py.loc.path, sizeof(py.loc.path), "/usr/lib/libpython3.%d.so.1.0", minor);
	py.code_type = mk_type("code");
	py.str_type = mk_type("str");
	py.bytes_type = mk_type("bytes");
	py.interp = alloc(1 << 14);
	put64(runtime + py.o.runtime_interp_head, py.interp);
}

static struct py_process *attach(void)
{
	struct remote r = fake_remote(&fp, FAKE_PID);
	struct py_process *p = NULL;
	char err[256];
	int rc;

	rc = py_process_attach(&r, &py.loc, &p, err, sizeof(err));
	if (rc)
		fail_msg("attach: %d %s", rc, err);
	return p;
}

static int setup(void **state)
{
	(void)state;
	heap = calloc(1, HEAP_SIZE);
	heap_used = HEAP_SIZE;
	return heap ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(heap);
	return 0;
}

/* ------------------------------------------------------------------ */
/* the walk itself, every layout                                        */

/*
 * 3.12 and 3.13 push a shim only to run Python frames: a thread whose
 * current frame is a shim alone was caught while that memory was reused
 * (an owner byte that reads as a shim's, previous NULL) or half-way through
 * a call. Not an empty stack: a torn read, -EAGAIN.
 */
static void test_shims_alone_are_torn(void **state)
{
	static struct py_stack st;
	int minor;

	(void)state;
	for (minor = 12; minor <= 13; minor++) {
		uint64_t shim, codes[1];
		struct py_process *p;

		mk_python(minor, NULL);
		shim = alloc(PYOFF_FRAME_MAX);
		*at(shim + py.o.frame_owner) = (uint8_t)py.o.owner_shim;
		mk_thread(FAKE_PID, shim);
		p = attach();
		assert_int_equal(py_process_sample(p, FAKE_PID, &st), -EAGAIN);
		assert_int_equal(st.depth, 0);
		py_process_close(p);

		/* One Python frame above the same shim: whole. */
		mk_python(minor, NULL);
		codes[0] = mk_code("<module>", "/srv/main.py", 1, 0);
		mk_thread(FAKE_PID, mk_frames(codes, 1));
		p = attach();
		assert_int_equal(py_process_sample(p, FAKE_PID, &st), 0);
		assert_int_equal(st.depth, 1);
		py_process_close(p);
	}
}

static void test_walk_every_layout(void **state)
{
	static struct py_stack st;
	int minor;

	(void)state;
	for (minor = 8; minor <= 13; minor++) {
		uint64_t codes[2];
		struct py_process *p;

		mk_python(minor, NULL);
		codes[0] = mk_code("Server.handle", "/srv/app.py", 10, 0);
		codes[1] = mk_code("<module>", "/srv/main.py", 1, 0);
		mk_thread(FAKE_PID, mk_frames(codes, 2));
		p = attach();
		if (py_process_sample(p, FAKE_PID, &st))
			fail_msg("3.%d: sample failed", minor);
		assert_int_equal(st.depth, 2);
		assert_false(st.truncated);
		assert_string_equal(st.frames[0].function, "Server.handle");
		assert_string_equal(st.frames[0].file, "/srv/app.py");
		assert_int_equal(st.frames[0].line, 11);
		assert_string_equal(st.frames[1].function, "<module>");
		assert_int_equal(st.frames[1].line, 2);
		/* a thread the process does not have */
		assert_int_equal(py_process_sample(p, 99, &st), -ENOENT);
		/* it exec'ed / exited */
		fp.execed = true;
		assert_int_equal(py_process_sample(p, FAKE_PID, &st), -ESTALE);
		fp.exited = true;
		assert_int_equal(py_process_sample(p, FAKE_PID, &st), -ESRCH);
		py_process_close(p);
	}
}

/*
 * A frame whose code object is not code: a torn read (-EAGAIN), unless the
 * process has exec'ed meanwhile (-ESTALE: the caller must reopen it, not
 * retry forever).
 */
static void test_torn_or_execed(void **state)
{
	static struct py_stack st;
	uint64_t codes[2];
	struct py_process *p;

	(void)state;
	mk_python(12, NULL);
	codes[0] = mk_code("handler", "/srv/app.py", 10, 0);
	codes[1] = mk_code("<module>", "/srv/main.py", 1, 0);
	mk_thread(FAKE_PID, mk_frames(codes, 2));
	p = attach();
	assert_int_equal(py_process_sample(p, FAKE_PID, &st), 0);
	put64(codes[0] + py.o.ob_type, py.str_type);
	assert_int_equal(py_process_sample(p, FAKE_PID, &st), -EAGAIN);
	assert_int_equal(st.depth, 0);
	fp.execed = true;
	assert_int_equal(py_process_sample(p, FAKE_PID, &st), -ESTALE);
	py_process_close(p);

	/* In another PID namespace: a TID that is none of its threads is
	 * -ENOENT, and -ESTALE once it has exec'ed. */
	mk_python(12, NULL);
	fp.host_offset = 100000;
	codes[0] = mk_code("handler", "/srv/app.py", 10, 0);
	codes[1] = mk_code("<module>", "/srv/main.py", 1, 0);
	mk_thread(FAKE_PID, mk_frames(codes, 2));
	p = attach();
	assert_int_equal(py_process_sample(p, 100000 + FAKE_PID, &st), 0);
	assert_int_equal(st.depth, 2);
	assert_int_equal(py_process_sample(p, 77, &st), -ENOENT);
	fp.execed = true;
	assert_int_equal(py_process_sample(p, 77, &st), -ESTALE);
	py_process_close(p);
}

/* ------------------------------------------------------------------ */
/* names a target invents                                               */

/*
 * A new code object, with new long names, under the same frame before
 * every sample: every stack comes out right, and what the reader keeps
 * stays within the cache's bounds.
 */
static void test_invented_names_bounded(void **state)
{
	static struct py_stack st;
	struct py_process_stats stats;
	char name[300], file[300];
	uint64_t codes[2], frame;
	size_t most_codes = 0, most_bytes = 0;
	struct py_process *p;
	int i;

	(void)state;
	mk_python(12, NULL);
	codes[0] = mk_code("first", "/srv/first.py", 1, 0);
	codes[1] = mk_code("<module>", "/srv/main.py", 1, 0);
	frame = mk_frames(codes, 2);
	mk_thread(FAKE_PID, frame);
	p = attach();
	for (i = 0; i < 3 * CODE_CACHE_ENTRIES; i++) {
		uint64_t c;

		snprintf(name, sizeof(name), "invented_%d_%0200d", i, i);
		snprintf(file, sizeof(file), "/invented/%d/%0200d.py", i, i);
		c = mk_code(name, file, 100 + i, 200);
		put64(frame + py.o.frame_code, c);
		set_where(frame, c);
		assert_int_equal(py_process_sample(p, FAKE_PID, &st), 0);
		assert_int_equal(st.depth, 2);
		assert_string_equal(st.frames[0].function, name);
		assert_string_equal(st.frames[0].file, file);
		assert_int_equal(st.frames[0].line, 101 + i);
		assert_string_equal(st.frames[1].function, "<module>");
		py_process_stats(p, &stats);
		if (stats.codes > most_codes)
			most_codes = stats.codes;
		if (stats.code_bytes > most_bytes)
			most_bytes = stats.code_bytes;
	}
	assert_true(most_codes <= CODE_CACHE_ENTRIES);
	assert_true(most_codes >= CODE_CACHE_ENTRIES / 2); /* it did cache */
	assert_true(most_bytes <= CODE_CACHE_BYTES);
	py_process_close(p);
}

/*
 * The same, as CPython does it: each code object is freed after its call
 * and the next one made at the same address. Entries are replaced one by
 * one; their old strings must not pile up in the pool.
 */
static void test_invented_names_reused_address(void **state)
{
	static struct py_stack st;
	struct py_process_stats stats;
	char name[300], file[300];
	uint64_t codes[2], frame;
	size_t most_bytes = 0;
	struct py_process *p;
	int i;

	(void)state;
	mk_python(12, NULL);
	codes[0] = mk_code("first", "/srv/first.py", 1, 0);
	codes[1] = mk_code("<module>", "/srv/main.py", 1, 0);
	frame = mk_frames(codes, 2);
	mk_thread(FAKE_PID, frame);
	p = attach();
	for (i = 0; i < 3 * CODE_CACHE_ENTRIES; i++) {
		snprintf(name, sizeof(name), "reused_%d_%0200d", i, i);
		snprintf(file, sizeof(file), "/reused/%d/%0200d.py", i, i);
		/* new strings, new firstlineno, same code object address */
		put64(codes[0] + py.o.code_filename, mk_str(file));
		put64(codes[0] + py.o.code_name, mk_str(name));
		put64(codes[0] + py.o.code_qualname, mk_str(name));
		put32(codes[0] + py.o.code_firstlineno, 100 + i);
		assert_int_equal(py_process_sample(p, FAKE_PID, &st), 0);
		assert_string_equal(st.frames[0].function, name);
		assert_string_equal(st.frames[0].file, file);
		assert_int_equal(st.frames[0].line, 101 + i);
		py_process_stats(p, &stats);
		if (stats.code_bytes > most_bytes)
			most_bytes = stats.code_bytes;
	}
	/* a few hundred strings at most, not 6000 */
	assert_true(most_bytes <= 256u << 10);
	py_process_close(p);
}

/*
 * Code that ran once and not again leaves the cache after CODE_CACHE_AGE
 * samples of other code, well before the cache is full.
 */
static void test_old_code_ages_out(void **state)
{
	static struct py_stack st;
	struct py_process_stats stats;
	uint64_t codes[2], frame, hot;
	struct py_process *p;
	char name[32];
	int i;

	(void)state;
	mk_python(12, NULL);
	codes[0] = mk_code("first", "/srv/first.py", 1, 0);
	codes[1] = mk_code("<module>", "/srv/main.py", 1, 0);
	frame = mk_frames(codes, 2);
	mk_thread(FAKE_PID, frame);
	p = attach();
	for (i = 0; i < 300; i++) {
		uint64_t c;

		snprintf(name, sizeof(name), "once_%d", i);
		c = mk_code(name, "/srv/once.py", 1, 0);
		put64(frame + py.o.frame_code, c);
		set_where(frame, c);
		assert_int_equal(py_process_sample(p, FAKE_PID, &st), 0);
	}
	py_process_stats(p, &stats);
	assert_true(stats.codes >= 300);
	hot = mk_code("hot", "/srv/hot.py", 1, 0);
	put64(frame + py.o.frame_code, hot);
	set_where(frame, hot);
	for (i = 0; i < 2 * CODE_CACHE_AGE; i++)
		assert_int_equal(py_process_sample(p, FAKE_PID, &st), 0);
	assert_string_equal(st.frames[0].function, "hot");
	py_process_stats(p, &stats);
	assert_int_equal(stats.codes, 2);
	py_process_close(p);
}

/*
 * A stack of PY_MAX_DEPTH frames whose line tables are 64 KiB each, twice
 * the cache: the cache stays within its bytes (deeper frames get line 0),
 * and the next sample of the same stack reads no line table again.
 */
static void test_huge_tables_bounded(void **state)
{
	static struct py_stack st;
	static uint64_t codes[PY_MAX_DEPTH];
	struct py_process_stats stats;
	unsigned long bytes_before;
	struct py_process *p;
	int i, with_lines = 0;

	(void)state;
	mk_python(12, NULL);
	for (i = 0; i < PY_MAX_DEPTH; i++) {
		char name[32];

		snprintf(name, sizeof(name), "deep_%d", i);
		codes[i] = mk_code(name, "/srv/deep.py", 10 * i, (64u << 10) - 2);
	}
	mk_thread(FAKE_PID, mk_frames(codes, PY_MAX_DEPTH));
	p = attach();
	assert_int_equal(py_process_sample(p, FAKE_PID, &st), 0);
	assert_int_equal(st.depth, PY_MAX_DEPTH);
	for (i = 0; i < PY_MAX_DEPTH; i++) {
		assert_true(st.frames[i].line == 0 || st.frames[i].line == 10 * i + 1);
		with_lines += st.frames[i].line != 0;
	}
	assert_true(with_lines > 0 && with_lines < PY_MAX_DEPTH);
	py_process_stats(p, &stats);
	assert_true(stats.code_bytes <= CODE_CACHE_BYTES);

	bytes_before = fp.bytes;
	assert_int_equal(py_process_sample(p, FAKE_PID, &st), 0);
	assert_int_equal(st.depth, PY_MAX_DEPTH);
	/* frames, code headers: a few pages, not megabytes of tables */
	assert_true(fp.bytes - bytes_before < 256u << 10);
	py_process_close(p);
}

/* ------------------------------------------------------------------ */
/* threads                                                              */

/*
 * Two interpreters of 4096 thread states each, and a TID that is none of
 * them, sampled 100 times: one scan, of at most 4096 thread states, then
 * the answer is remembered. A thread that is there is still found.
 */
static void test_unknown_tid_scan_bounded(void **state)
{
	static struct py_stack st;
	struct py_process_stats stats;
	unsigned long reads;
	uint64_t codes[1], frame, second;
	struct py_process *p;
	int i;

	(void)state;
	mk_python(12, NULL);
	codes[0] = mk_code("work", "/srv/app.py", 1, 0);
	frame = mk_frames(codes, 1);
	for (i = 0; i < 4096; i++)
		mk_thread(100000 + i, frame);
	/* a second interpreter, with as many threads, after the first */
	second = py.interp;
	py.interp = alloc(1 << 14);
	put64(second + py.o.interp_next, py.interp);
	for (i = 0; i < 4096; i++)
		mk_thread(200000 + i, frame);
	py.interp = second;
	mk_thread(FAKE_PID, frame); /* the newest of the first interpreter */

	p = attach();
	reads = fp.readv_calls;
	assert_int_equal(py_process_sample(p, 77, &st), -ENOENT);
	assert_true(fp.readv_calls - reads <= 4096 + 16);
	for (i = 0; i < 99; i++)
		assert_int_equal(py_process_sample(p, 77, &st), -ENOENT);
	py_process_stats(p, &stats);
	assert_true(stats.scans <= 2);
	assert_true(stats.threads <= 4096);
	assert_true(fp.readv_calls - reads <= 2 * (4096 + 16) + 100 * 4);

	assert_int_equal(py_process_sample(p, FAKE_PID, &st), 0);
	assert_int_equal(st.depth, 1);
	assert_string_equal(st.frames[0].function, "work");
	py_process_close(p);
}

/* ------------------------------------------------------------------ */
/* a lying _Py_DebugOffsets                                             */

static void test_lying_debug_offsets(void **state)
{
	/* (index in the 3.13 table, value): past the struct they describe */
	static const struct {
		int idx;
		uint64_t v;
		const char *field;
	} lies[] = {
		{ 520 / 8, 63, "bytes.ob_size" },          /* 8 bytes at 63 of 32 read */
		{ 360 / 8, 63, "ob_type" },                /* in every header */
		{ 552 / 8, 60, "unicode.length" },         /* past the str header */
		{ 544 / 8, 62, "unicode.state" },
		{ 528 / 8, 8, "ob_type" },                 /* ob_sval before the header's end */
		{ 560 / 8, 127, "unicode.data" },          /* str header past its buffer */
	};
	uint64_t dbg[sizeof(dbg_3130) / 8];
	struct remote r;
	struct py_process *p;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		memcpy(dbg, dbg_3130, sizeof(dbg));
		dbg[lies[i].idx] = lies[i].v;
		mk_python(13, dbg);
		r = fake_remote(&fp, FAKE_PID);
		err[0] = '\0';
		assert_int_equal(py_process_attach(&r, &py.loc, &p, err, sizeof(err)), -ENOTSUP);
		assert_null(p);
		if (!strstr(err, lies[i].field) || !strstr(err, "outside"))
			fail_msg("lie %zu: %s", i, err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk_every_layout),
		cmocka_unit_test(test_shims_alone_are_torn),
		cmocka_unit_test(test_torn_or_execed),
		cmocka_unit_test(test_invented_names_bounded),
		cmocka_unit_test(test_invented_names_reused_address),
		cmocka_unit_test(test_old_code_ages_out),
		cmocka_unit_test(test_huge_tables_bounded),
		cmocka_unit_test(test_unknown_tid_scan_bounded),
		cmocka_unit_test(test_lying_debug_offsets),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
