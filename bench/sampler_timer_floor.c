// SPDX-License-Identifier: Apache-2.0
/* Calibration for bench/sampler_bench.py: the cheapest possible periodic
 * wake-up, a timerfd read from an epoll loop every INTERVAL_US, doing
 * nothing else. Its CPU time is the floor under any sampler that keeps a
 * timer running (blocksnoop's built-in sampler ticks every --interval).
 *
 *   sampler_timer_floor INTERVAL_US      runs until killed
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long long ns = argc > 1 ? atoll(argv[1]) * 1000 : 0;
	struct itimerspec its;
	struct epoll_event ev = { .events = EPOLLIN }, out[8];
	uint64_t expirations;
	int tfd, ep;

	if (ns <= 0) {
		fprintf(stderr, "usage: %s INTERVAL_US\n", argv[0]);
		return 2;
	}
	its.it_interval.tv_sec = its.it_value.tv_sec = ns / 1000000000;
	its.it_interval.tv_nsec = its.it_value.tv_nsec = ns % 1000000000;
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (tfd < 0 || ep < 0 || timerfd_settime(tfd, 0, &its, NULL) ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev)) {
		perror("sampler_timer_floor");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if (epoll_wait(ep, out, 8, -1) > 0)
			while (read(tfd, &expirations, sizeof(expirations)) < 0 &&
			       errno == EINTR)
				;
	}
}
