// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_cpython_pyoffsets - _Py_DebugOffsets parsing (agent/cpython/
 * pyoffsets.c) on arbitrary bytes. If the first byte is odd, the cookie and
 * a 3.13 or 3.14 version are written in, so the fuzzer reaches the field
 * checks. Whatever is accepted must keep every field inside the bytes the
 * reader copies of its struct.
 *
 * The same bytes are also the _AsyncioDebug offsets (and 3.13's debug
 * prefix) of pyoffsets_tasks(), for 3.11 to 3.15: a task layout accepted
 * must keep every task field inside what the reader copies of a task, and
 * the running task inside the thread state. And they are the debug prefix
 * pyoffsets_gil() reads for 3.13 to 3.15: a GIL layout accepted must keep
 * both fields inside the bytes read of the GIL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpython/pyoffsets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct py_offsets o;
	uint32_t hex;
	uint8_t *buf;
	char err[256];

	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (size >= 24 && (data[0] & 1)) {
		uint64_t v = (data[0] & 2) ? 0x030e00f0 : 0x030d00f0, ft = 0;

		memcpy(buf, PY_DEBUG_COOKIE, 8);
		memcpy(buf + 8, &v, 8);
		if (data[0] & 4)
			memcpy(buf + 16, &ft, 8);
	}
	if (pyoffsets_from_debug(buf, size, &o, &hex, err, sizeof(err)) == 0) {
		/* every field inside the bytes the reader copies of its struct */
		if (pyoffsets_check(&o, err, sizeof(err)) != 0 || o.ts_read > PYOFF_TS_MAX ||
		    o.frame_read > PYOFF_FRAME_MAX || o.code_read > PYOFF_CODE_MAX ||
		    o.bytes_size + 8 > o.bytes_sval || o.ob_type + 8 > o.bytes_sval ||
		    o.str_length + 8 > o.str_ascii_data || o.str_ascii_data > PYOFF_STR_MAX)
			abort();
	} else if (!memchr(err, '\0', sizeof(err)) || !err[0]) {
		abort();
	}
	for (int minor = 11; minor <= 15; minor++) {
		struct py_task_offsets t;

		if (pyoffsets_tasks(minor, false, buf, size, buf, size, &t, err, sizeof(err)) == 0) {
			if (t.task_read > PYOFF_TASK_MAX || t.task_name + 8 > t.task_read ||
			    t.task_coro + 8 > t.task_read ||
			    (t.task_awaited_by != PYOFF_NONE && t.task_awaited_by + 8 > t.task_read) ||
			    (t.style == PY_TASKS_THREAD_STATE && t.ts_running_task >= (1u << 16)))
				abort();
		} else if (!memchr(err, '\0', sizeof(err)) || !err[0] || t.style != PY_TASKS_NONE) {
			abort();
		}
	}
	for (int minor = 11; minor <= 15; minor++) {
		struct py_gil_offsets g;

		if (pyoffsets_gil(minor, false, buf, size, &g, err, sizeof(err)) == 0) {
			if (g.home == PY_GIL_NONE || g.gil_locked + 4 > PYOFF_GIL_READ ||
			    g.gil_holder + 8 > PYOFF_GIL_READ)
				abort();
		} else if (!memchr(err, '\0', sizeof(err)) || !err[0] || g.home != PY_GIL_NONE) {
			abort();
		}
	}
	free(buf);
	return 0;
}
