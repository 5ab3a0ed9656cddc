// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * BPF programs that do nothing, on the tracepoints blocksnoop uses: two for
 * epoll_wait, one for sched_switch (the gap anatomy). Whatever they cost is
 * the floor of the attach mechanism (tracepoint dispatch + BPF entry),
 * which blocksnoop cannot go below. empty_probes loads one set.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tracepoint/syscalls/sys_enter_epoll_wait")
int empty_enter(void *ctx)
{
	(void)ctx;
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_epoll_wait")
int empty_exit(void *ctx)
{
	(void)ctx;
	return 0;
}

SEC("tp_btf/sched_switch")
int empty_switch(unsigned long long *ctx)
{
	(void)ctx;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
