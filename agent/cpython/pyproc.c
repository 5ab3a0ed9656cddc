// SPDX-License-Identifier: Apache-2.0
/*
 * pyproc.c - a reader's target process (see pyreader.h and pyattach.h):
 * attaching to it (choosing the layout for its version and checking it
 * against its interpreter state), opening and closing it, and whether it
 * still runs the image it was opened on. pyruntime.c finds _PyRuntime;
 * the layouts themselves are pyoffsets.c's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pyattach.h"
#include "pyprocess.h"

uint64_t py_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void py_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int py_check_alive(const struct py_process *p)
{
	return remote_check_alive(&p->r, p->runtime);
}

int py_read_failure(const struct py_process *p, int err)
{
	int alive;

	if (err != -EFAULT && err != -ESRCH)
		return err;
	alive = py_check_alive(p);
	if (alive)
		return alive;
	return err == -ESRCH ? -ESRCH : -EAGAIN;
}

/* "3.9" from ".../libpython3.9.so.1.0" or ".../python3.9": 0, or -1. */
static int version_from_name(const char *path, int *major, int *minor)
{
	const char *base = strrchr(path, '/'), *s;

	base = base ? base + 1 : path;
	for (s = strstr(base, "python"); s; s = strstr(s + 1, "python")) {
		int ma, mi, n = 0;

		if (sscanf(s + 6, "%d.%d%n", &ma, &mi, &n) == 2 && n > 0 && ma == 3) {
			*major = ma;
			*minor = mi;
			return 0;
		}
	}
	return -1;
}

/*
 * Choose the layout: _Py_DebugOffsets, Py_Version, else the file name.
 * -ENOEXEC if the version cannot be told, -ENOTSUP for a Python this
 * reader cannot read (err names the version and why).
 */
static int choose_layout(struct py_process *p, const struct py_runtime_loc *loc, char *err,
			 size_t errlen)
{
	uint8_t dbg[PY_DEBUG_OFFSETS_MAX];
	int major = 0, minor = 0, micro = -1, rc;
	uint32_t hex;

	rc = remote_read(&p->r, p->runtime, dbg, sizeof(dbg));
	if (rc == -EFAULT)
		rc = remote_read(&p->r, p->runtime, dbg, 16);
	if (rc == -EFAULT) {
		py_seterr(err, errlen, "cannot read _PyRuntime at 0x%llx%s",
			  (unsigned long long)p->runtime,
			  loc->replaced ? " (its file was replaced since it was loaded)" : "");
		return -ENOEXEC;
	}
	if (rc)
		return rc;
	if (pyoffsets_has_cookie(dbg, sizeof(dbg))) {
		size_t n;

		if (pyoffsets_from_debug(dbg, sizeof(dbg), &p->off, &hex, err, errlen) < 0)
			return -ENOTSUP;
		pyoffsets_version_name(hex, p->version, sizeof(p->version));
		/* a free-threaded build as people name it: "3.13.5t" */
		n = strlen(p->version);
		if (p->off.free_threaded)
			snprintf(p->version + n, sizeof(p->version) - n, "t");
		pyoffsets_gil(p->off.minor, p->off.free_threaded, dbg, sizeof(dbg), &p->gil,
			      p->gil_why, sizeof(p->gil_why));
		return 0;
	}
	if (loc->py_version) {
		uint64_t v;

		rc = remote_u64(&p->r, loc->py_version, &v);
		if (rc && rc != -EFAULT)
			return rc;
		if (!rc) {
			major = (v >> 24) & 0xff;
			minor = (v >> 16) & 0xff;
			micro = (v >> 8) & 0xff;
		}
	}
	if (!major && version_from_name(loc->path, &major, &minor) < 0) {
		py_seterr(err, errlen, "cannot tell the Python version of %s", loc->path);
		return -ENOEXEC;
	}
	if (major != 3 || minor < PY_OLDEST_MINOR || minor > PY_NEWEST_MINOR) {
		py_seterr(err, errlen, "CPython %d.%d is not supported (this blocksnoop reads "
			  "CPython 3.%d to 3.%d)", major, minor, PY_OLDEST_MINOR, PY_NEWEST_MINOR);
		return -ENOTSUP;
	}
	if (pyoffsets_builtin(minor, &p->off) < 0) {
		/* 3.13+ describe themselves: one whose description is gone is
		 * not known (a target can overwrite its own _PyRuntime). */
		py_seterr(err, errlen, "CPython %d.%d is not supported without its "
			  "_Py_DebugOffsets (not found at _PyRuntime)", major, minor);
		return -ENOTSUP;
	}
	pyoffsets_gil(minor, false, NULL, 0, &p->gil, p->gil_why, sizeof(p->gil_why));
	if (micro >= 0)
		snprintf(p->version, sizeof(p->version), "%d.%d.%d", major, minor, micro);
	else
		snprintf(p->version, sizeof(p->version), "%d.%d", major, minor);
	return 0;
}

/*
 * If the interpreter is up, check that the layout fits: the first thread
 * state must point back at its interpreter. -ENOTSUP if it does not.
 */
static int check_layout(struct py_process *p, bool replaced, char *err, size_t errlen)
{
	const struct py_offsets *o = &p->off;
	uint64_t interp, ts, back;
	int rc;

	rc = remote_u64(&p->r, p->runtime + o->runtime_interp_head, &interp);
	if (!rc && interp) {
		if (!remote_ptr_ok(interp))
			rc = -EFAULT;
		else
			rc = remote_u64(&p->r, interp + o->interp_threads_head, &ts);
		if (!rc && ts) {
			if (!remote_ptr_ok(ts))
				rc = -EFAULT;
			else
				rc = remote_u64(&p->r, ts + o->ts_interp, &back);
			if (!rc && back != interp)
				rc = -EFAULT;
		}
	}
	if (rc == -EFAULT) {
		py_seterr(err, errlen, "CPython %s is not supported: its interpreter state does not "
			  "match the layout this blocksnoop has for it%s", p->version,
			  replaced ? " (its file was replaced since it was loaded)" : "");
		return -ENOTSUP;
	}
	return rc;
}

/* The message for a failure that has none yet. */
static void default_error(pid_t pid, int rc, char *err, size_t errlen)
{
	if (!err || !errlen || err[0])
		return;
	if (rc == -ESRCH)
		py_seterr(err, errlen, "no process %d", pid);
	else if (rc == -EPERM)
		py_seterr(err, errlen, "no permission to read process %d (needs CAP_SYS_PTRACE)", pid);
	else
		py_seterr(err, errlen, "cannot read process %d: %s", pid, strerror(-rc));
}

int py_process_attach(struct remote *r, const struct py_runtime_loc *loc,
		      struct py_process **out, char *err, size_t errlen)
{
	struct py_process *p;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		remote_close(r);
		return -ENOMEM;
	}
	p->r = *r;
	p->runtime = loc->runtime;
	p->exe_asyncio_debug_len = loc->asyncio_debug_len;
	memcpy(p->exe_asyncio_debug, loc->asyncio_debug, loc->asyncio_debug_len);
	rc = choose_layout(p, loc, err, errlen);
	if (!rc)
		rc = check_layout(p, loc->replaced, err, errlen);
	if (rc)
		goto fail;
	p->scratch = malloc((size_t)(PY_MAX_DEPTH + 1) * p->off.code_read);
	p->strbuf[0] = malloc(PY_STR_BUF);
	p->strbuf[1] = malloc(PY_STR_BUF);
	p->seen = malloc(sizeof(*p->seen));
	if (!p->scratch || !p->strbuf[0] || !p->strbuf[1] || !p->seen ||
	    pagecache_init(&p->pc)) {
		rc = -ENOMEM;
		goto fail;
	}
	*out = p;
	return 0;
fail:
	default_error(r->pid, rc, err, errlen);
	py_process_close(p);
	return rc;
}

int py_process_open(pid_t pid, struct py_process **out, char *err, size_t errlen)
{
	struct py_runtime_loc *loc;
	struct remote r;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (pid <= 0) {
		py_seterr(err, errlen, "invalid pid %d", pid);
		return -EINVAL;
	}
	loc = calloc(1, sizeof(*loc));
	if (!loc)
		return -ENOMEM;
	rc = remote_open(pid, &r);
	if (!rc)
		rc = py_find_runtime(pid, loc, err, errlen);
	if (rc) {
		remote_close(&r);
		default_error(pid, rc, err, errlen);
	} else {
		rc = py_process_attach(&r, loc, out, err, errlen);
	}
	free(loc);
	return rc;
}

void py_process_close(struct py_process *p)
{
	if (!p)
		return;
	codecache_free(&p->codes);
	free(p->threads);
	free(p->tids);
	free(p->scratch);
	free(p->strbuf[0]);
	free(p->strbuf[1]);
	pagecache_free(&p->pc);
	free(p->seen);
	py_tasks_free(p->tasks);
	remote_close(&p->r);
	free(p);
}

void py_process_stats(const struct py_process *p, struct py_process_stats *out)
{
	*out = (struct py_process_stats){
		.codes = p->codes.used,
		.code_bytes = codecache_bytes(&p->codes),
		.threads = p->nthreads,
		.scans = p->scans,
	};
}

const char *py_process_version(const struct py_process *p)
{
	return p ? p->version : "";
}
