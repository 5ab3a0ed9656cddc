/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pyattach.h - the two halves of py_process_open() (internal to
 * agent/cpython): finding _PyRuntime in the target's files (pyruntime.c),
 * and attaching a reader to a process whose _PyRuntime is known, which
 * reads only its memory (pyreader.c). Tests and the walker's fuzzer call
 * py_process_attach() with a fake remote (see remote.h).
 */
#ifndef BLOCKSNOOP_CPYTHON_PYATTACH_H
#define BLOCKSNOOP_CPYTHON_PYATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pyelf.h"
#include "pyreader.h"
#include "remote.h"

/* Files tried for _PyRuntime per open: the executable and libpython*s. */
#define PY_RUNTIME_FILES_MAX 8

/* Where _PyRuntime was found. */
struct py_runtime_loc {
	uint64_t runtime, py_version; /* run-time addresses; py_version 0 = none */
	char path[4096];              /* the file, as the target sees it */
	bool replaced;                /* the file on disk may not be the one mapped */
	unsigned files_tried;         /* ELF files opened to find it */
	/* The file's .AsyncioDebug section, if it has one (3.14+ with _asyncio
	 * built in): see pyelf.h. */
	uint8_t asyncio_debug[PYELF_ASYNCIO_DEBUG_MAX];
	size_t asyncio_debug_len;
};

/*
 * Find _PyRuntime of process pid in its executable, else in a mapped
 * libpython (one with an executable mapping), trying at most
 * PY_RUNTIME_FILES_MAX distinct files, each once: work linear in the
 * number of mappings, whatever the target maps. 0, or -ENOEXEC (not
 * Python; err says why), -ESRCH, -EPERM, other -errno.
 */
int py_find_runtime(pid_t pid, struct py_runtime_loc *loc, char *err, size_t errlen);

/*
 * Attach to the process behind r, whose _PyRuntime is at loc: choose the
 * layout (_Py_DebugOffsets, Py_Version, else loc->path's name) and check
 * it against the interpreter state. Takes r over (closed on failure too).
 * Returns and fails as py_process_open().
 */
int py_process_attach(struct remote *r, const struct py_runtime_loc *loc,
		      struct py_process **out, char *err, size_t errlen);

/* What a reader keeps and has done, for tests. */
struct py_process_stats {
	size_t codes;      /* code objects cached */
	size_t code_bytes; /* their line tables and strings */
	size_t threads;    /* thread states found by the last scan */
	unsigned scans;    /* thread scans made */
};

void py_process_stats(const struct py_process *p, struct py_process_stats *out);

#endif
