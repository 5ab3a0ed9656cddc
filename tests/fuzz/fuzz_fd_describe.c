// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_fd_describe - the pure parts of agent/fd_describe.c: a line of
 * /proc/net/{tcp,udp}[6] (a target chooses its sockets' addresses and so
 * part of the table) and an fd's link text (a target names its files). Any
 * bytes: no read past the text, no write past the buffer, and an accepted
 * line gives a NUL-terminated description that starts with its protocol.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fd_describe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), out[48];
	uint64_t inode;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	inode = fd_link_socket_inode(text);
	if (inode && strncmp(text, "socket:[", 8) != 0)
		abort();
	for (int ipv6 = 0; ipv6 < 2; ipv6++) {
		/* A short buffer: descriptions are cut, never overrun. */
		if (fd_describe_inet_line(text, 7, "TCP", ipv6, out, sizeof(out)) &&
		    (strnlen(out, sizeof(out)) == sizeof(out) || strncmp(out, "TCP ", 4) != 0))
			abort();
	}
	free(text);
	return 0;
}
