/* SPDX-License-Identifier: Apache-2.0 */
/*
 * listen_addr.h - the address a --metrics-addr server listens on (the
 * agent's and the command line's). Pure.
 */
#ifndef BLOCKSNOOP_LISTEN_ADDR_H
#define BLOCKSNOOP_LISTEN_ADDR_H

#include <sys/socket.h>

/*
 * A listen address: ":PORT" (every address, IPv6 and IPv4),
 * "HOST:PORT" with a numeric IPv4 HOST, or "[IPV6]:PORT"; PORT 0..65535.
 * Returns 0 and fills *ss and *len, or -EINVAL.
 */
int listen_addr_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len);

#endif
