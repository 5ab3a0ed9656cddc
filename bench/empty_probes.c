// SPDX-License-Identifier: Apache-2.0
/*
 * empty_probes - load and attach bench/empty_probes.bpf.c, print "attached"
 * once both programs are live, then wait for SIGINT/SIGTERM.
 */
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "empty_probes.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* empty_probes [epoll|switch]: the epoll pair (default) or sched_switch. */
int main(int argc, char **argv)
{
	bool sched = argc > 1 && !strcmp(argv[1], "switch");
	struct empty_probes_bpf *skel;
	int err;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	skel = empty_probes_bpf__open();
	if (skel) {
		bpf_program__set_autoload(skel->progs.empty_enter, !sched);
		bpf_program__set_autoload(skel->progs.empty_exit, !sched);
		bpf_program__set_autoload(skel->progs.empty_switch, sched);
		if (empty_probes_bpf__load(skel)) {
			empty_probes_bpf__destroy(skel);
			skel = NULL;
		}
	}
	if (!skel) {
		fprintf(stderr, "empty_probes: cannot load BPF object\n");
		return 1;
	}
	err = empty_probes_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "empty_probes: attach failed (%d); is tracefs "
			"mounted at /sys/kernel/tracing?\n", err);
		empty_probes_bpf__destroy(skel);
		return 1;
	}
	/* The benchmark waits for this line before it starts timing. */
	printf("attached\n");
	fflush(stdout);
	while (!stop)
		pause();
	empty_probes_bpf__destroy(skel);
	return 0;
}
