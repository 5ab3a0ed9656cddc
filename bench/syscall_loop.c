// SPDX-License-Identifier: Apache-2.0
/*
 * syscall_loop - time N calls of epoll_wait(epfd, ev, 1, 0) and N of getppid().
 *
 * Not a blocksnoop target: it measures what tracepoints cost *every* process
 * on the machine once a probe is attached. epoll_wait with a zero timeout on
 * an empty epoll set returns at once, so the loop is pure syscall entry/exit.
 * getppid() is a syscall nobody traces: it shows the cost that enabling any
 * `syscalls:` tracepoint puts on all other syscalls.
 *
 * The calls run in BLOCKS blocks, alternating epoll_wait and getppid, so a
 * slow spell of the (virtualised, shared) host hits both alike. Besides the
 * mean over all N calls it prints the fastest block: interference only ever
 * adds time, so the minimum is the steadier estimate of the cost itself.
 * Blocks of 10,000 calls take ~10 ms, short enough that some of them run
 * without being preempted even when other tasks compete for the CPU.
 *
 * Usage: syscall_loop [N]      (default 2000000)
 * Output: "epoll_wait_ns=M getppid_ns=M epoll_wait_min_ns=B getppid_min_ns=B"
 *
 *        syscall_loop --steps N
 * Untimed, driven by the caller: for each byte read from stdin, N calls of
 * epoll_wait, then one "\n" on stdout; exits at end of input. The caller
 * reads the kernel's BPF statistics between steps (bench/benchlib/percall.py),
 * so a step the host interrupts can be told from the others.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BLOCKS 200

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ns spent on n calls of epoll_wait(epfd, ..., 0) */
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
	return now_ns() - t0;
}

/* ns spent on n calls of getppid(); raw syscall so no libc caching can
 * ever turn it into a function call. */
static double time_getppid(long n)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return now_ns() - t0;
}

/* --steps N: N epoll_wait calls per byte of stdin, "\n" after each. */
static int run_steps(int epfd, long n)
{
	char c;

	while (read(STDIN_FILENO, &c, 1) == 1) {
		time_epoll(epfd, n);
		if (write(STDOUT_FILENO, "\n", 1) != 1)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--steps")) {
		long n = strtol(argv[2], NULL, 10);
		int epfd = epoll_create1(0);

		if (n < 1 || epfd < 0) {
			fprintf(stderr, "usage: %s --steps N>=1\n", argv[0]);
			return 2;
		}
		return run_steps(epfd, n);
	}

	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
	int epfd = epoll_create1(0);
	double epoll_sum = 0, getppid_sum = 0, epoll_min = 1e300, getppid_min = 1e300;

	if (n < BLOCKS || epfd < 0) {
		fprintf(stderr, "usage: %s [N>=%d]\n", argv[0], BLOCKS);
		return 2;
	}
	long per_block = n / BLOCKS;

	/* Warm caches and the branch predictor, untimed. */
	time_epoll(epfd, per_block);
	time_getppid(per_block);

	for (int b = 0; b < BLOCKS; b++) {
		double e = time_epoll(epfd, per_block);
		double g = time_getppid(per_block);

		epoll_sum += e;
		getppid_sum += g;
		epoll_min = e < epoll_min ? e : epoll_min;
		getppid_min = g < getppid_min ? g : getppid_min;
	}
	n = per_block * BLOCKS;
	printf("epoll_wait_ns=%.1f getppid_ns=%.1f epoll_wait_min_ns=%.1f getppid_min_ns=%.1f\n",
	       epoll_sum / n, getppid_sum / n, epoll_min / per_block,
	       getppid_min / per_block);
	close(epfd);
	return 0;
}
