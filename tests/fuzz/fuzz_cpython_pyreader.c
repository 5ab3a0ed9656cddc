// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_cpython_pyreader - the whole CPython stack walker (agent/cpython/
 * pyreader.c and everything it uses) on a process the input makes up. The
 * remote-read primitive is tests/unit/fake_remote.h's (linked instead of
 * agent/cpython/remote.c), serving memory from the input: attaching picks
 * the layout as for a real target (_Py_DebugOffsets, Py_Version, else the
 * file name), then samples walk interpreters -> thread states -> frames ->
 * code objects -> strings and line tables.
 *
 * Input (little-endian):
 *   u8  minor       libpython3.<minor>.so.1.0 is the file _PyRuntime is in
 *   u8  flags       bit 0: the process exits, bit 1: it execs, after the
 *                   first sample; bit 2: it is in another PID namespace
 *                   (our TIDs are its TIDs + 100000)
 *   u8  nsamples    samples taken: 1 + nsamples % 4
 *   u8  ntids       its threads (3.8-3.10 TID inference): at most 16
 *   u32 tid         the thread sampled
 *   u64 runtime     address of _PyRuntime
 *   u64 py_version  address of Py_Version, 0 for none
 *   u32 ns_pid      its PID (in its own namespace)
 *   u32 reserved
 *   ntids x u32     its TIDs
 *   then regions to the end: u64 addr, u32 len, len bytes (cut at the end);
 *   a region at address 0 ends the memory of the first sample: the regions
 *   after it are mapped after that sample (the target moved on: where they
 *   start at the same address as one before, they are what is read)
 * Seeds are captured from real interpreters by tests/fixtures/cpython_record
 * (see tests/fixtures/cpython_capture_tables.py --emit).
 *
 * Whatever the memory says: no crash, no read outside a buffer, no hang;
 * a stack returned has at most PY_MAX_DEPTH frames, each with UTF-8
 * strings of bounded length and a line >= 0. After each stack, the asyncio
 * task of the thread is read too (pytask.c, on the same made-up memory;
 * 3.14+ with Debian 3.14.8's _AsyncioDebug offsets as the executable's):
 * a state it can have, a chain within PY_TASK_CHAIN_MAX, terminated names.
 *
 * With FUZZ_PYREADER_PRINT set in the environment, each sample is printed
 * as cpython_record prints it (to check that a seed replays).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/fake_remote.h"
#include "cpython/pyattach.h"
#include "cpython/pytask.h"

struct header {
	uint8_t minor, flags, nsamples, ntids;
	uint32_t tid;
	uint64_t runtime, py_version;
	uint32_t ns_pid, reserved;
} __attribute__((packed));

#define MAX_TIDS 16
/* Longest UTF-8 of a PYSTR_MAX_CHARS string (agent/cpython/pystr.h). */
#define MAX_STRING (1024 * 4)

static struct fake_proc fp;

/*
 * Map the regions of data from pos, up to the end or to a region at
 * address 0: returns where the next region starts (size if none).
 */
static size_t map_regions(const uint8_t *data, size_t size, size_t pos)
{
	while (pos + 12 <= size) {
		uint64_t addr;
		uint32_t len;

		memcpy(&addr, data + pos, 8);
		memcpy(&len, data + pos + 8, 4);
		pos += 12;
		if (len > size - pos)
			len = size - pos;
		if (!addr)
			return pos + len;
		if (len && !fake_map(&fp, addr, data + pos, len))
			return size;
		pos += len;
	}
	return size;
}

/* Debian 3.14.8's .AsyncioDebug section. */
static const uint64_t asyncio_debug[13] = { 168, 136, 96, 108, 109, 128, 152,
					    225864, 10880, 936, 864, 872, 880 };

static void check_task(const struct py_task *t)
{
	if (t->state != PY_TASK_RUNNING && t->state != PY_TASK_NONE &&
	    t->state != PY_TASK_UNAVAILABLE)
		abort();
	if ((t->state == PY_TASK_RUNNING) != (t->depth > 0) || t->depth > PY_TASK_CHAIN_MAX ||
	    !memchr(t->why, '\0', sizeof(t->why)) ||
	    (t->state == PY_TASK_UNAVAILABLE && !t->why[0]))
		abort();
	for (int i = 0; i < t->depth; i++)
		if (!memchr(t->chain[i].name, '\0', PY_TASK_NAME_MAX) ||
		    !memchr(t->chain[i].coro, '\0', PY_TASK_NAME_MAX))
			abort();
}

static void check_stack(const struct py_stack *st)
{
	int i;

	if (st->depth < 0 || st->depth > PY_MAX_DEPTH)
		abort();
	for (i = 0; i < st->depth; i++) {
		const struct py_frame *f = &st->frames[i];

		if (!f->function || !f->file || f->line < 0 ||
		    strnlen(f->function, MAX_STRING + 1) > MAX_STRING ||
		    strnlen(f->file, MAX_STRING + 1) > MAX_STRING)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct py_stack st;
	struct py_runtime_loc loc;
	struct py_process *p = NULL;
	struct header h;
	struct remote r;
	char err[256];
	size_t pos = sizeof(h), later = 0;
	bool print = getenv("FUZZ_PYREADER_PRINT");
	pid_t tid;
	int i, n, rc;

	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	memset(&fp, 0, sizeof(fp));
	fp.ns_pid = (pid_t)h.ns_pid;
	fp.host_offset = h.flags & 4 ? 100000 : 0;
	/* Wraps rather than overflows: any id is a fair test of the reader. */
	tid = (pid_t)((uint32_t)h.tid + (uint32_t)fp.host_offset);
	for (i = 0; i < h.ntids && i < MAX_TIDS && pos + 4 <= size; i++, pos += 4)
		memcpy(&fp.tids[fp.ntids++], data + pos, 4);
	pos = map_regions(data, size, pos);
	if (pos < size)
		later = pos; /* after the separator */

	memset(&loc, 0, sizeof(loc));
	loc.runtime = h.runtime;
	loc.py_version = h.py_version;
	snprintf(loc.path, sizeof(loc.path), "/usr/lib/libpython3.%u.so.1.0", h.minor);
	/* never looked for in files: the fake process has none */
	memcpy(loc.asyncio_debug, asyncio_debug, sizeof(asyncio_debug));
	loc.asyncio_debug_len = sizeof(asyncio_debug);
	r = fake_remote(&fp, 4242);
	err[0] = '\0';
	rc = py_process_attach(&r, &loc, &p, err, sizeof(err));
	if (print && rc)
		printf("{\"rc\":%d,\"error\":\"%s\"}\n", rc, err);
	if (rc) {
		/* refused: one line saying why */
		if (p || !err[0] || strchr(err, '\n'))
			abort();
		return 0;
	}
	n = 1 + h.nsamples % 4;
	if ((h.flags & 3) && n < 2)
		n = 2; /* a sample after the exit or exec */
	for (i = 0; i < n; i++) {
		rc = py_process_sample(p, tid, &st);
		if (rc == 0)
			check_stack(&st);
		else if (st.depth != 0)
			abort();
		if (rc == 0) {
			static struct py_task task;
			int trc = py_process_task(p, tid, &task);

			check_task(&task);
			if (trc && trc != -ESRCH && trc != -ESTALE)
				abort();
		}
		if (print) {
			printf("{\"rc\":%d,\"depth\":%d", rc, st.depth);
			if (st.depth)
				printf(",\"innermost\":\"%s\"", st.frames[0].function);
			printf("}\n");
			fflush(stdout);
		}
		/* gone, or another image: whatever was being read, it is said */
		if (i > 0 && tid > 0 &&
		    ((fp.exited && rc != -ESRCH) || (fp.execed && !fp.exited && rc != -ESTALE)))
			abort();
		if (i == 0) {
			fp.exited = h.flags & 1;
			fp.execed = h.flags & 2;
			if (later)
				map_regions(data, size, later);
		}
	}
	py_process_close(p);
	return 0;
}
