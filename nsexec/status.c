// SPDX-License-Identifier: Apache-2.0
/*
 * status.c - the status lines of the shim and of the program's set-up, and
 * exit statuses (nsexec_internal.h). Pure functions: no I/O, no
 * allocation. The lines come from our own code, so anything else is
 * refused rather than guessed at.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "nsexec_internal.h"

int nsexec_parse_status(const char *buf, size_t n, char *msg, size_t msglen)
{
	size_t i = 0, start;
	int e = 0;

	if (n == 0 || n > NSEXEC_STATUS_MAX || buf[n - 1] != '\n')
		return -EPROTO;
	for (; i < n && buf[i] >= '0' && buf[i] <= '9' && i < 4; i++)
		e = e * 10 + (buf[i] - '0');
	if (i == 0 || buf[0] == '0' || i >= n || buf[i] != ' ' || e < 1 || e > 4095)
		return -EPROTO;
	start = ++i;
	for (; i < n - 1; i++)
		if (buf[i] == '\n' || buf[i] == '\0')
			return -EPROTO;
	if (i == start)
		return -EPROTO;
	snprintf(msg, msglen, "%.*s", (int)(n - 1 - start), buf + start);
	return e;
}

int nsexec_exit_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return NSEXEC_EXIT_FAILED;
}

int nsexec_parse_setup(const char *buf, size_t n, char *msg, size_t msglen)
{
	static const char running[] = NSEXEC_RUNNING;
	size_t len = sizeof(running) - 1;

	if (n == 0)
		return -ENODATA;
	if (n >= len && !memcmp(buf, running, len)) {
		/* "0 running" alone, or followed by why the exec failed */
		if (n == len)
			return 0;
		buf += len;
		n -= len;
	}
	return nsexec_parse_status(buf, n, msg, msglen);
}
