// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * gap_detector.bpf.c - measures how long watched threads stay out of epoll.
 *
 * sys_exit_epoll_* opens a gap (the loop got its ready events and starts
 * running callbacks), sys_enter_epoll_* closes it (the loop is ready to wait
 * again). A closed gap at or over the thread's threshold is sent to user space
 * through a ring buffer, or, in stats mode, counted into a per-CPU
 * histogram so that no event per gap ever crosses into user space.
 *
 * Threads not being watched cost one hash lookup per epoll call.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "gap_detector.h"
#include "gap_hist.h"

/*
 * The PID namespace that thread ids in watched_tids are numbered in:
 * blocksnoop's own. In the initial namespace bpf_get_current_pid_tgid()
 * already returns those numbers; elsewhere (blocksnoop inside a pod's
 * namespace, e.g. `kubectl debug --target`) the kernel translates them.
 */
const volatile bool targ_in_init_pidns = true;
const volatile __u64 targ_pidns_dev = 0;
const volatile __u64 targ_pidns_ino = 0;

/* Shared with user space through the skeleton's mmap of .bss. */
struct watch_slot watch_slots[MAX_WATCHED_THREADS];
__u64 lost_events;

/* tid (blocksnoop's PID namespace) -> index into watch_slots. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_WATCHED_THREADS);
	__type(key, __u32);
	__type(value, __u32);
} watched_tids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gap_stats);
} gap_stats SEC(".maps");

/* The current thread's id in blocksnoop's PID namespace, or 0 if the thread
 * is not visible there. */
static __always_inline __u32 current_tid(void)
{
	struct bpf_pidns_info ns;

	if (targ_in_init_pidns)
		return (__u32)bpf_get_current_pid_tgid();
	if (bpf_get_ns_current_pid_tgid(targ_pidns_dev, targ_pidns_ino, &ns,
					sizeof(ns)))
		return 0;
	return ns.pid;
}

/* The watched slot of the current thread, or NULL. */
static __always_inline struct watch_slot *current_slot(__u32 *tid, __u32 *index)
{
	struct watch_slot *slot;
	__u32 *idx;

	*tid = current_tid();
	if (!*tid)
		return NULL;
	idx = bpf_map_lookup_elem(&watched_tids, tid);
	if (!idx)
		return NULL;
	*index = *idx;
	if (*index >= MAX_WATCHED_THREADS)
		return NULL;
	slot = &watch_slots[*index];
	/* A slot being recycled by user space may briefly name another thread. */
	if (!(slot->flags & WATCH_F_ACTIVE) || slot->tid != *tid)
		return NULL;
	return slot;
}

static __always_inline void count_gap(__u64 gap_ns)
{
	__u32 zero = 0;
	struct gap_stats *st = bpf_map_lookup_elem(&gap_stats, &zero);
	__u32 bucket;

	if (!st)
		return;
	/* Per-CPU value, and tracepoint programs do not nest on one CPU:
	 * plain updates are safe. */
	st->count++;
	st->sum_ns += gap_ns;
	if (!st->min_ns || gap_ns < st->min_ns)
		st->min_ns = gap_ns;
	if (gap_ns > st->max_ns)
		st->max_ns = gap_ns;
	bucket = hist_bucket(gap_ns);
	/* Always true, but clang proves that and drops the check, and the
	 * verifier cannot: hide the value from clang so the check stays. */
	barrier_var(bucket);
	if (bucket < HIST_BUCKETS)
		st->buckets[bucket]++;
}

static __always_inline int gap_opens(__u32 variant)
{
	struct watch_slot *slot;
	__u32 tid, index;

	slot = current_slot(&tid, &index);
	if (!slot)
		return 0;
	slot->gap_variant = variant;
	slot->gap_start_ns = bpf_ktime_get_ns();
	return 0;
}

static __always_inline int gap_closes(__u32 variant)
{
	struct watch_slot *slot;
	struct gap_event *e;
	__u64 start, now;
	__u32 tid, index;

	slot = current_slot(&tid, &index);
	if (!slot)
		return 0;
	start = slot->gap_start_ns;
	if (!start) /* watched since it was already running: no known start */
		return 0;
	now = bpf_ktime_get_ns();
	slot->gap_start_ns = 0;
	if (now - start < slot->threshold_ns)
		return 0;

	if (slot->flags & WATCH_F_HISTOGRAM) {
		count_gap(now - start);
		return 0;
	}

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&slot->lost_events, 1);
		__sync_fetch_and_add(&lost_events, 1);
		return 0;
	}
	e->start_ns = start;
	e->end_ns = now;
	e->slot = index;
	e->tid = tid;
	e->start_variant = slot->gap_variant;
	e->end_variant = variant;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/*
 * One program per syscall and direction. User space turns off the pairs this
 * kernel lacks (epoll_pwait2 arrived in 5.11; arm64 has no epoll_wait).
 */
#define EPOLL_PROBES(name, variant)                                  \
	SEC("tracepoint/syscalls/sys_exit_" #name)                   \
	int exit_##name(void *ctx __attribute__((unused))) { return gap_opens(variant); }    \
	SEC("tracepoint/syscalls/sys_enter_" #name)                  \
	int enter_##name(void *ctx __attribute__((unused))) { return gap_closes(variant); }

EPOLL_PROBES(epoll_wait, EPOLL_VARIANT_WAIT)
EPOLL_PROBES(epoll_pwait, EPOLL_VARIANT_PWAIT)
EPOLL_PROBES(epoll_pwait2, EPOLL_VARIANT_PWAIT2)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
