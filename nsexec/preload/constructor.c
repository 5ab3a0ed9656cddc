// SPDX-License-Identifier: Apache-2.0
/*
 * constructor.c - the preloaded object's only code besides ../enter.c.
 *
 * The shim's child execs the program's ELF loader while it still sees
 * blocksnoop's file system, with `--preload /proc/self/fd/N` naming a
 * sealed memfd that holds this object (built by the Makefile, embedded in
 * blocksnoop by ../preload.c). The loader maps the program, its libraries
 * and this object from blocksnoop's side, runs the libraries'
 * constructors, then this one, then the program's main(). This one enters
 * the target (nsexec_enter()) and says on the status fd whether the
 * program may run: "0 running\n", or "<errno> <what failed>\n" and exit
 * status NSEXEC_EXIT_FAILED before the program's main() ever runs.
 *
 * No C library (see ../sys.h): it must load under the program's libc,
 * whichever it is and however old. No exported symbol: nothing of the
 * program can bind to us, and we bind to nothing.
 */
#include <stddef.h>

#include "enter.h"
#include "nsexec_internal.h"
#include "sys.h"

/* Filled in by the shim in its copy of this object (NSEXEC_ENTER_SECTION). */
__attribute__((section(NSEXEC_ENTER_SECTION), used))
const volatile struct nsexec_enter_params nsexec_enter_params = {
	.magic = "unfilled",
	.status_fd = -1, .net_fd = -1, .ipc_fd = -1, .mnt_fd = -1, .root_fd = -1, .exec_fd = -1,
};

static size_t append(char *buf, size_t used, size_t size, const char *s)
{
	while (*s && used + 1 < size)
		buf[used++] = *s++;
	return used;
}

static size_t append_num(char *buf, size_t used, size_t size, unsigned long v)
{
	char digits[24];
	size_t n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < sizeof(digits));
	while (n && used + 1 < size)
		buf[used++] = digits[--n];
	return used;
}

/* strerror() for what the steps can fail with; the number for the rest. */
static const char *describe(long err)
{
	switch (err) {
	case 1: return "Operation not permitted";
	case 2: return "No such file or directory";
	case 3: return "No such process";
	case 9: return "Bad file descriptor";
	case 12: return "Cannot allocate memory";
	case 13: return "Permission denied";
	case 14: return "Bad address";
	case 20: return "Not a directory";
	case 22: return "Invalid argument";
	case 38: return "Function not implemented";
	default: return NULL;
	}
}

__attribute__((noreturn))
static void fail(int fd, long err, const char *what)
{
	char line[NSEXEC_STATUS_MAX];
	const char *why = describe(err);
	size_t n = 0;

	if (fd >= 0) {
		n = append_num(line, n, sizeof(line), (unsigned long)err);
		n = append(line, n, sizeof(line), " ");
		n = append(line, n, sizeof(line), what);
		n = append(line, n, sizeof(line), ": ");
		if (why) {
			n = append(line, n, sizeof(line), why);
		} else {
			n = append(line, n, sizeof(line), "error ");
			n = append_num(line, n, sizeof(line), (unsigned long)err);
		}
		line[n++] = '\n';
		nsexec_sys(__NR_write, fd, line, n);
	}
	for (;;)
		nsexec_sys(__NR_exit_group, NSEXEC_EXIT_FAILED, 0, 0);
}

__attribute__((constructor))
static void nsexec_preload_enter(void)
{
	static const char running[] = NSEXEC_RUNNING;
	static const char magic[] = NSEXEC_ENTER_MAGIC;
	struct nsexec_enter_params p;
	const char *what = "";
	long r;

	for (size_t i = 0; i < sizeof(p); i++)
		((char *)&p)[i] = ((const volatile char *)&nsexec_enter_params)[i];
	for (size_t i = 0; i < sizeof(magic); i++)
		if (p.magic[i] != magic[i])
			fail(-1, 0, ""); /* not filled in by the shim: never run the program */
	r = nsexec_enter(&p, &what);
	if (r < 0)
		fail(p.status_fd, -r, what);
	if (nsexec_sys(__NR_write, p.status_fd, running, sizeof(running) - 1) !=
	    (long)sizeof(running) - 1)
		fail(-1, 0, ""); /* the shim is gone: so are we */
	nsexec_sys(__NR_close, p.status_fd, 0, 0);
}
