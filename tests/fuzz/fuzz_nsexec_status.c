// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_nsexec_status - the status lines (nsexec/status.c): what the shim
 * tells blocksnoop, and what the program's set-up tells the shim. Every
 * answer is in range, every message one NUL-terminated line within its
 * buffer, and a line that parses is exactly what "%d %s\n" writes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nsexec_internal.h"

static void check_msg(const char *msg, size_t msglen)
{
	size_t n = strnlen(msg, msglen);

	if (n == msglen || memchr(msg, '\n', n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	char msg[NSEXEC_STATUS_MAX], line[NSEXEC_STATUS_MAX + 16];
	size_t small = 1 + (size ? data[0] % 16 : 0);
	int e;

	e = nsexec_parse_status(buf, size, msg, sizeof(msg));
	if (e != -EPROTO && (e < 1 || e > 4095))
		abort();
	if (e > 0) {
		check_msg(msg, sizeof(msg));
		snprintf(line, sizeof(line), "%d %s\n", e, msg);
		if (strlen(line) != size || memcmp(line, buf, size))
			abort();
		/* a small buffer truncates, never overflows */
		if (nsexec_parse_status(buf, size, msg, small) != e)
			abort();
		check_msg(msg, small);
	}

	e = nsexec_parse_setup(buf, size, msg, sizeof(msg));
	if (e != 0 && e != -EPROTO && e != -ENODATA && (e < 1 || e > 4095))
		abort();
	if ((e == -ENODATA) != (size == 0))
		abort();
	if (e == 0 && (size != strlen(NSEXEC_RUNNING) || memcmp(buf, NSEXEC_RUNNING, size)))
		abort();
	if (e > 0)
		check_msg(msg, sizeof(msg));
	return 0;
}
