/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fd_describe.h - what a target's file descriptor is, in a few words, for a
 * reported wait: "TCP 127.0.0.1:43210 → 127.0.0.1:5432" for a socket, the
 * path for a file.
 *
 * Only /proc is read: the fd's link text (readlink, never followed: nothing
 * of the target is opened) and, for a socket, the kernel's socket tables of
 * the target's network namespace (/proc/PID/net/{tcp,tcp6,udp,udp6,unix}),
 * matched by the socket's inode, at most FD_DESCRIBE_MAX_LINES lines in all
 * (a target with that many sockets gets its fds described less, never
 * more of blocksnoop's time).
 * Everything the target names (paths) is made printable ASCII.
 *
 * The answer is of the fd now, not of when the wait happened: a target may
 * have closed or reused it since.
 */
#ifndef BLOCKSNOOP_FD_DESCRIBE_H
#define BLOCKSNOOP_FD_DESCRIBE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FD_DESCRIBE_MAX_LINES 100000

/*
 * Describe fd of process pid (blocksnoop's PID namespace) into buf (len >
 * 0), NUL-terminated, cut at len. 0, or -errno with buf "" (-ENOENT: no
 * such fd or process).
 */
int fd_describe(pid_t pid, int fd, char *buf, size_t len);

/*
 * The pure parts, for tests. fd_link_socket_inode(): the inode of a link
 * text "socket:[N]", or 0. fd_describe_inet_line(): if a line of
 * /proc/net/{tcp,udp}[6] is of socket inode, write "PROTO LOCAL → REMOTE"
 * (proto "TCP" or "UDP"; ipv6 for the *6 tables) and return 1, else 0.
 */
uint64_t fd_link_socket_inode(const char *link);
int fd_describe_inet_line(const char *line, uint64_t inode, const char *proto, int ipv6,
			  char *buf, size_t len);

#endif
