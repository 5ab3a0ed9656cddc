/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pyreader.h - read the Python stacks of a running CPython (3.8 to 3.15,
 * GIL builds, and 3.13's free-threaded build; 64-bit) from outside, with
 * process_vm_readv(2). The only public header of agent/cpython.
 *
 * Nothing is ever executed from, injected into or written to the target;
 * the target is not stopped, so a stack is a snapshot that can be torn
 * while the target runs (py_process_sample() detects most such reads and
 * says -EAGAIN). The target's files (its ELF files, its sources) are opened
 * through its own root (/proc/<pid>/root) with symlinks resolved inside it,
 * so this works across mount namespaces and cannot be tricked into reading
 * host files.
 *
 * Needs ptrace read access to the target (CAP_SYS_PTRACE, or the same uid
 * and no Yama restriction).
 *
 * PIDs and TIDs are always in blocksnoop's own PID namespace.
 *
 * A struct py_process is not thread-safe: use each from one thread at a
 * time. py_source_line() may be called from any thread.
 *
 * Typical use:
 *
 *	struct py_process *p;
 *	struct py_stack st;
 *	char err[256];
 *
 *	if (py_process_open(pid, &p, err, sizeof(err)) < 0)
 *		... report err ...
 *	if (py_process_sample(p, tid, &st) == 0)
 *		for (int i = 0; i < st.depth; i++)  // innermost first
 *			printf("%s (%s:%d)\n", st.frames[i].function,
 *			       st.frames[i].file, st.frames[i].line);
 *	py_process_close(p);
 */
#ifndef BLOCKSNOOP_CPYTHON_PYREADER_H
#define BLOCKSNOOP_CPYTHON_PYREADER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PY_MAX_DEPTH 128

struct py_frame {
	/*
	 * function: co_qualname (3.11+, e.g. "Server.handle") or co_name;
	 * file: co_filename as the target sees it (may be relative, or a
	 * pseudo-name such as "<frozen importlib._bootstrap>").
	 * Both are UTF-8, never NULL, and owned by the py_process: valid until
	 * the next py_process_sample() or py_process_close() on it (what it
	 * keeps is bounded, so strings of code the target no longer runs are
	 * freed; copy what must last longer).
	 */
	const char *function;
	const char *file;
	int line; /* 1-based; 0 if the code object has no line for the instruction */
};

struct py_stack {
	int depth;      /* frames used, 0..PY_MAX_DEPTH */
	bool truncated; /* the stack was deeper than PY_MAX_DEPTH (outermost frames dropped) */
	struct py_frame frames[PY_MAX_DEPTH]; /* innermost first */
};

struct py_process;

/*
 * Attach to the CPython process pid: find _PyRuntime (ELF symbols of the
 * executable or of a mapped libpython, read with libelf: .dynsym, then
 * .symtab, then the .PyRuntime section), tell its version (_Py_DebugOffsets
 * 3.13+, Py_Version 3.11+, else the libpythonX.Y / pythonX.Y file name) and
 * choose the layout for it.
 *
 * Returns 0 and *out (free it with py_process_close()), or:
 *   -ENOEXEC not Python (or not yet: a launched command may not have
 *            exec'ed its interpreter), or its version cannot be told;
 *   -ENOTSUP a Python this reader cannot read: err names its version and
 *            why, e.g. "CPython 3.16.0 is not supported (this blocksnoop
 *            reads CPython 3.8 to 3.15)", "free-threaded CPython 3.14.2 is
 *            not supported (...)", "CPython 3.14.8 is not supported: its
 *            _Py_DebugOffsets give an implausible ts_next (...)";
 *   -ESRCH   no such process (or it exited meanwhile);
 *   -EPERM   no permission to read it (needs CAP_SYS_PTRACE);
 *   other -errno (-ENOMEM, ...).
 * On failure *out is NULL and err (errlen > 0) holds a one-line message
 * without a trailing newline; on success err is "".
 * A process whose interpreter has not started yet opens fine; its samples
 * are -ENOENT until it has threads.
 */
int py_process_open(pid_t pid, struct py_process **out, char *err, size_t errlen);

/* Release p and every string its samples returned. Accepts NULL. */
void py_process_close(struct py_process *p);

/*
 * The target's Python version, "3.11.7", "3.13.5t" for a free-threaded
 * build, or "3.9" when the patch level cannot be known without running the
 * target (3.8-3.10). Valid until py_process_close(). Never NULL.
 */
const char *py_process_version(const struct py_process *p);

/*
 * The current Python stack of OS thread tid of p's process, innermost
 * frame first, into *out (always initialised: depth 0 on failure).
 * Returns:
 *   0        ok; depth 0 if the thread is a Python thread running no Python
 *            code right now;
 *   -ENOENT  tid is not a Python thread of the process (not a thread of it,
 *            or one Python does not know, or the interpreter is not up);
 *   -ESRCH   the process is gone;
 *   -EAGAIN  the read was inconsistent (the target changed what was being
 *            read); the caller may retry or skip this sample;
 *   -ESTALE  the process exec'ed or its Python runtime went away: close and
 *            reopen;
 *   other -errno (-EPERM if access was lost, -ENOMEM).
 * A torn read is retried once inside before -EAGAIN is returned; a stack
 * returned is always whole down to the thread's first frame (or truncated,
 * as said).
 * Fast on the hot path: code objects are cached by address (re-checked
 * against the target on every sample, so a freed and reused address is
 * noticed), and so is the TID -> thread-state mapping; frames are read a
 * page at a time. Bounded whatever the target does: the cache keeps at most
 * 1024 code objects, and line tables only while its tables and names stay
 * within 4 MiB; a sample reads at most 4096 thread states, and a TID not
 * found is not looked for again for a while (-ENOENT at once).
 * A 10-frame stack costs 6 system calls with 3.11+ and 12
 * with 3.8-3.10 (whose frames are scattered heap objects): 20-40 us on a
 * 2-core VM. The first sample of new code costs more (its strings and
 * line table are read once).
 */
int py_process_sample(struct py_process *p, pid_t tid, struct py_stack *out);

/*
 * Line `line` (1-based) of the target's file `file` as the target process
 * pid sees it (through /proc/<pid>/root, symlinks resolved inside that root;
 * a relative file is taken from the target's current directory), with
 * leading and trailing whitespace removed, NUL-terminated into buf (cut to
 * len - 1 bytes). Returns 0, or -ENOENT (no such file, or a pseudo-file
 * such as "<string>"), -ERANGE (the file has fewer lines), -EINVAL (bad
 * arguments, not a regular file, or buf too small to hold anything),
 * -EFBIG (file over 16 MiB), -ESRCH, -EPERM, other -errno.
 * Files are cached per (target root, file) and re-checked (size, mtime,
 * inode) at most once a second; thread-safe.
 */
int py_source_line(pid_t pid, const char *file, int line, char *buf, size_t len);

#endif
