// SPDX-License-Identifier: Apache-2.0
/*
 * syscall_loop - time N calls of epoll_wait(epfd, ev, 1, 0) and of getppid().
 *
 * Not a blocksnoop target: it measures what tracepoints cost *every* process
 * on the machine once a probe is attached. epoll_wait with a zero timeout on
 * an empty epoll set returns at once, so the loop is pure syscall entry/exit.
 * getppid() is a syscall nobody traces: it shows the cost that enabling any
 * `syscalls:` tracepoint puts on all other syscalls.
 *
 * Usage: syscall_loop [N]      (default 2000000)
 * Output: one line, "epoll_wait_ns=<f> getppid_ns=<f>".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double time_epoll(int epfd, long n)
{
	struct epoll_event ev;
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		if (epoll_wait(epfd, &ev, 1, 0) < 0) {
			fprintf(stderr, "epoll_wait: %s\n", strerror(errno));
			exit(1);
		}
	}
	return (now_ns() - t0) / n;
}

static double time_getppid(long n)
{
	double t0 = now_ns();

	/* Raw syscall: glibc does not cache getppid, but be explicit. */
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return (now_ns() - t0) / n;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
	int epfd = epoll_create1(0);

	if (n <= 0 || epfd < 0) {
		fprintf(stderr, "usage: %s [N>0]\n", argv[0]);
		return 2;
	}
	/* Warm caches and the branch predictor so the first variant measured
	 * is not penalised. */
	time_epoll(epfd, n / 20 + 1);
	time_getppid(n / 20 + 1);

	double epoll_ns = time_epoll(epfd, n);
	double getppid_ns = time_getppid(n);

	printf("epoll_wait_ns=%.1f getppid_ns=%.1f\n", epoll_ns, getppid_ns);
	close(epfd);
	return 0;
}
