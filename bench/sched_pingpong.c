// SPDX-License-Identifier: Apache-2.0
/*
 * sched_pingpong - context switches of unrelated work, as fast as they come:
 * two threads pinned to one CPU hand a byte back and forth over two pipes,
 * so every round trip is two context switches and two wake-ups.
 *
 *   sched_pingpong ROUNDS [CPU [fifo]]
 *
 * With "fifo" both threads run SCHED_FIFO (priority 1): the other work on a
 * busy machine cannot come between them, so the time measured is theirs
 * and the probes'. Keep ROUNDS to well under a second of it (RT throttling).
 *
 * Prints the nanoseconds per round trip, one line: of CPU time used by the
 * two threads (CLOCK_PROCESS_CPUTIME_ID: on a virtual machine whose host
 * is busy this leaves out the time the hypervisor took the CPU away, with
 * paravirtual steal-time accounting), then of wall-clock time.
 * bench/sched_cost.py runs it with and without blocksnoop's scheduler
 * programs attached.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int ping[2], pong[2];
static int cpu;
static int fifo;

static void pin(void)
{
	struct sched_param prio = { .sched_priority = 1 };
	cpu_set_t set;

	if (fifo && sched_setscheduler(0, SCHED_FIFO, &prio)) {
		perror("sched_setscheduler");
		exit(1);
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("sched_setaffinity");
		exit(1);
	}
}

static void *echo(void *arg)
{
	char b;

	(void)arg;
	pin();
	while (read(ping[0], &b, 1) == 1)
		if (write(pong[1], &b, 1) != 1)
			break;
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1, c0, c1;
	long rounds = argc > 1 ? atol(argv[1]) : 200000;
	pthread_t t;
	char b = 'x';

	cpu = argc > 2 ? atoi(argv[2]) : 0;
	fifo = argc > 3 && !strcmp(argv[3], "fifo");
	if (rounds <= 0 || pipe(ping) || pipe(pong)) {
		fprintf(stderr, "usage: sched_pingpong ROUNDS [CPU]\n");
		return 2;
	}
	pin();
	if (pthread_create(&t, NULL, echo, NULL))
		return 1;
	for (long i = 0; i < rounds / 10; i++) /* warm up */
		if (write(ping[1], &b, 1) != 1 || read(pong[0], &b, 1) != 1)
			return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	for (long i = 0; i < rounds; i++)
		if (write(ping[1], &b, 1) != 1 || read(pong[0], &b, 1) != 1)
			return 1;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.1f %.1f\n", ((c1.tv_sec - c0.tv_sec) * 1e9 + (c1.tv_nsec - c0.tv_nsec)) / rounds,
	       ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / rounds);
	close(ping[1]);
	pthread_join(t, NULL);
	return 0;
}
