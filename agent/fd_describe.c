// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fd_describe.h"

/* Copy src into buf, a byte outside printable ASCII becoming '?': a target
 * names its files as it likes. */
static void copy_printable(char *buf, size_t len, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < len && src[i]; i++)
		buf[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	buf[i] = '\0';
}

uint64_t fd_link_socket_inode(const char *link)
{
	char *end;
	uint64_t ino;

	if (strncmp(link, "socket:[", 8) != 0)
		return 0;
	errno = 0;
	ino = strtoull(link + 8, &end, 10);
	if (errno || end == link + 8 || strcmp(end, "]") != 0)
		return 0;
	return ino;
}

/* "ADDR:PORT" of a table's hex address ("0100007F:1F90"): the address
 * words are in the kernel's byte order, as they lie in memory. */
static int format_endpoint(const char *hex, int ipv6, char *buf, size_t len)
{
	unsigned char addr[16];
	char text[INET6_ADDRSTRLEN];
	size_t n = ipv6 ? 32 : 8;
	unsigned int port;

	if (strlen(hex) != n + 5 || hex[n] != ':' || sscanf(hex + n + 1, "%4X", &port) != 1)
		return -EINVAL;
	for (size_t w = 0; w < n / 8; w++) {
		char word[9];
		uint32_t v;

		memcpy(word, hex + w * 8, 8);
		word[8] = '\0';
		if (strspn(word, "0123456789abcdefABCDEF") != 8)
			return -EINVAL;
		v = (uint32_t)strtoul(word, NULL, 16);
		memcpy(addr + w * 4, &v, 4);
	}
	if (!inet_ntop(ipv6 ? AF_INET6 : AF_INET, addr, text, sizeof(text)))
		return -EINVAL;
	snprintf(buf, len, ipv6 ? "[%s]:%u" : "%s:%u", text, port);
	return 0;
}

int fd_describe_inet_line(const char *line, uint64_t inode, const char *proto, int ipv6,
			  char *buf, size_t len)
{
	char local[64], remote[64], l[80], r[80];
	unsigned long long ino;

	/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
	if (sscanf(line, " %*u: %63s %63s %*x %*x:%*x %*x:%*x %*x %*u %*u %llu",
		   local, remote, &ino) != 3 || ino != inode)
		return 0;
	if (format_endpoint(local, ipv6, l, sizeof(l)) ||
	    format_endpoint(remote, ipv6, r, sizeof(r)))
		return 0;
	snprintf(buf, len, "%s %s \u2192 %s", proto, l, r);
	return 1;
}

/* Look for socket inode in /proc/PID/net/<table>, reading at most *budget
 * lines (taken off it): 1 found (buf set), 0 not. */
static int find_in_table(pid_t pid, const char *table, uint64_t inode, char *buf, size_t len,
			 long *budget)
{
	static const struct { const char *name, *proto; int ipv6; } inet[] = {
		{ "tcp", "TCP", 0 }, { "tcp6", "TCP", 1 }, { "udp", "UDP", 0 }, { "udp6", "UDP", 1 },
	};
	char path[64], line[512];
	int found = 0, is_unix = !strcmp(table, "unix"), i = -1;
	FILE *f;

	for (size_t k = 0; k < sizeof(inet) / sizeof(inet[0]); k++)
		if (!strcmp(inet[k].name, table))
			i = (int)k;
	snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, table);
	f = fopen(path, "re");
	if (!f)
		return 0;
	for (long n = 0; !found && *budget > 0 && fgets(line, sizeof(line), f); n++, --*budget) {
		if (n == 0)
			continue; /* the heading */
		if (is_unix) {
			/* Num RefCount Protocol Flags Type St Inode [Path] */
			unsigned long long ino;
			int end = 0;

			if (sscanf(line, "%*s %*x %*x %*x %*x %*x %llu%n", &ino, &end) == 1 &&
			    ino == inode) {
				char *p = line + end;

				p += strspn(p, " ");
				p[strcspn(p, "\n")] = '\0';
				snprintf(buf, len, "unix socket%s", *p ? " " : "");
				copy_printable(buf + strlen(buf), len - strlen(buf), p);
				found = 1;
			}
		} else if (i >= 0) {
			found = fd_describe_inet_line(line, inode, inet[i].proto, inet[i].ipv6, buf, len);
		}
	}
	fclose(f);
	return found;
}

int fd_describe(pid_t pid, int fd, char *buf, size_t len)
{
	static const char *const tables[] = { "tcp", "tcp6", "udp", "udp6", "unix" };
	char path[64], link[PATH_MAX];
	long budget = FD_DESCRIBE_MAX_LINES;
	uint64_t inode;
	ssize_t n;

	buf[0] = '\0';
	if (pid <= 0 || fd < 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	inode = fd_link_socket_inode(link);
	if (inode)
		for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
			if (find_in_table(pid, tables[i], inode, buf, len, &budget))
				return 0;
	copy_printable(buf, len, link);
	return 0;
}
