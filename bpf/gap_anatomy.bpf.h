/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * gap_anatomy.bpf.h - where a watched thread's time goes while it is in a
 * gap: on CPU, runnable but waiting for one (the run queue, or CPU
 * bandwidth control holding its cgroup back), or asleep in a syscall,
 * and which syscall with which first argument.
 *
 * Included by gap_detector.bpf.c after its marks and slots; its functions
 * are called from that file's sched_switch program and its gap_closes().
 *
 * Every context switch on the host runs the sched_switch program. A task
 * that has no task storage at all (nearly every task) costs one pointer
 * load each for prev and next; one that has some, a task-storage lookup of
 * its mark; only a marked thread whose slot has a gap open goes further.
 * The state of a gap is reset lazily: the first switch of a gap finds the
 * state of an older gap (another gap_start_ns or slot generation) and
 * starts afresh from the gap's start, when the thread was on CPU (it had
 * just returned from epoll).
 *
 * No wake-up program: how long a thread that slept then waited runnable
 * for a CPU is the kernel's own count (sched_info.run_delay), which grows
 * when the thread is given a CPU; it is read at the thread's next
 * switch-out or gap end, and that much of its last sleep moves to the run
 * queue (or to throttled). A preempted thread's whole time off CPU is run
 * queue (or throttled) time.
 *
 * Ordering: a thread's switch-out and switch-in are serialised by the
 * scheduler, and its gap opens and closes on its own CPU while it runs:
 * no locks needed.
 */
#ifndef BLOCKSNOOP_GAP_ANATOMY_BPF_H
#define BLOCKSNOOP_GAP_ANATOMY_BPF_H

#include "gap_detector.h"
#include "syscall_regs.bpf.h"

/* Whether the scheduler programs are attached (user space decides). */
const volatile bool targ_anatomy = false;

/* By slot index (struct anatomy_slot: gap_detector.h). Not in .bss: user
 * space reads it only for a block still in progress, by lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_WATCHED_THREADS);
	__type(key, __u32);
	__type(value, struct anatomy_slot);
} anatomy_slots SEC(".maps");

/* A task_struct before 5.14 kept its state in "state". */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

/* Whether a task being switched out stays runnable (preempted, yielded, or
 * woken before it could sleep) rather than going to sleep. */
static __always_inline bool anatomy_stays_runnable(struct task_struct *t, bool preempt)
{
	if (preempt)
		return true;
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state) == 0; /* TASK_RUNNING */
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state) == 0;
}

/* A task_struct of 6.18 on marks a task that throttled itself on its way
 * back to user space (throttling per task). */
struct task_struct___618 {
	bool throttled;
} __attribute__((preserve_access_index));

/* Whether CPU bandwidth control holds t's group (or one above) back now. */
static __always_inline bool anatomy_throttled_now(struct task_struct *t)
{
	struct task_struct___618 *t618 = (void *)t;
	struct cfs_rq *cfs_rq = NULL;

	if (bpf_core_field_exists(t618->throttled) && BPF_CORE_READ(t618, throttled))
		return true;
	if (!bpf_core_field_exists(t->se.cfs_rq) || !bpf_core_field_exists(cfs_rq->throttle_count))
		return false;
	/* throttle_count counts the throttled groups at and above it. */
	cfs_rq = BPF_CORE_READ(t, se.cfs_rq);
	return cfs_rq && BPF_CORE_READ(cfs_rq, throttle_count) > 0;
}

#define ANATOMY_GROUP_DEPTH 8

/* How often t's group and those above it (up to ANATOMY_GROUP_DEPTH) were
 * throttled so far: a change while t waits means it waited throttled. */
static __always_inline __u64 anatomy_throttle_events(struct task_struct *t)
{
	struct task_group *tg = NULL;
	__u64 sum = 0;

	if (!bpf_core_field_exists(t->sched_task_group) ||
	    !bpf_core_field_exists(tg->cfs_bandwidth))
		return 0;
	tg = BPF_CORE_READ(t, sched_task_group);
	for (int i = 0; i < ANATOMY_GROUP_DEPTH && tg; i++) {
		sum += (__u32)BPF_CORE_READ(tg, cfs_bandwidth.nr_throttled);
		tg = BPF_CORE_READ(tg, parent);
	}
	return sum;
}

/* The time t has waited runnable for a CPU so far (CONFIG_SCHED_INFO); 0
 * where the kernel does not count it. */
static __always_inline __u64 anatomy_run_delay(struct task_struct *t)
{
	if (!bpf_core_field_exists(t->sched_info.run_delay))
		return 0;
	return BPF_CORE_READ(t, sched_info.run_delay);
}

/*
 * t, in its own context (it has been given a CPU since its last sleep):
 * the part of that sleep it spent waiting runnable, which the kernel
 * counted in run_delay meanwhile, moves out of its wait.
 */
static __always_inline void anatomy_settle(struct anatomy_slot *as, struct task_struct *t)
{
	__u64 rd = anatomy_run_delay(t), queued = rd - as->run_delay;
	__s32 i = as->last_sleep;

	as->run_delay = rd;
	if (i == ANATOMY_NO_SLEEP)
		return;
	as->last_sleep = ANATOMY_NO_SLEEP;
	if (queued > as->last_sleep_ns)
		queued = as->last_sleep_ns;
	if (!queued)
		return;
	if (i >= 0 && i < GAP_WAITS_MAX)
		as->a.waits[i].ns -= queued;
	else
		as->a.other_wait_ns -= queued;
	as->a.off_cpu_ns -= queued;
	if (as->last_sleep_throttled) {
		as->a.throttled_ns += queued;
		as->a.flags |= GAP_ANATOMY_F_THROTTLED;
	} else {
		as->a.runqueue_ns += queued;
	}
}

/* Whether t's group was throttled while t was off CPU (it switched out
 * marked so, or the count moved). */
static __always_inline bool anatomy_was_throttled(struct anatomy_slot *as, struct task_struct *t)
{
	return as->throttled || anatomy_throttled_now(t) ||
	       anatomy_throttle_events(t) != as->throttles;
}

/* Account [since_ns, now) to the state the thread was in. */
static __always_inline void anatomy_close_interval(struct anatomy_slot *as, struct task_struct *t,
						   __u64 now)
{
	__u64 ns = now > as->since_ns ? now - as->since_ns : 0;

	switch (as->state) {
	case ANATOMY_ON_CPU:
		as->a.on_cpu_ns += ns;
		break;
	case ANATOMY_RUNNABLE:
		if (anatomy_was_throttled(as, t)) {
			as->a.throttled_ns += ns;
			as->a.flags |= GAP_ANATOMY_F_THROTTLED;
		} else {
			as->a.runqueue_ns += ns;
		}
		break;
	default:
		as->last_sleep = anatomy_add_wait(&as->a, as->wait_syscall, as->wait_arg, ns);
		as->last_sleep_ns = ns;
		as->last_sleep_throttled = anatomy_was_throttled(as, t);
		break;
	}
	as->since_ns = now;
}

/*
 * The anatomy of the gap task t is in, or NULL if it is in none we
 * measure: not a watched thread with a slot, no gap open, or a stats-mode
 * watch. With fresh, the state of an older gap is reset to this one's
 * start (only a switch-out may: it is the first thing a gap sees).
 */
static __always_inline struct anatomy_slot *anatomy_of(struct task_struct *t, bool fresh)
{
	struct anatomy_slot *as;
	struct task_mark *m;
	struct watch_slot *s;
	__u64 start;
	__u32 idx;

	/* Nearly every task has no task storage at all: one load says so,
	 * without the helper call. */
	if (bpf_core_field_exists(t->bpf_storage) && !t->bpf_storage)
		return NULL;
	m = bpf_task_storage_get(&task_marks, t, 0, 0);
	if (!m)
		return NULL;
	s = slot_of(m);
	if (!s || (s->flags & WATCH_F_HISTOGRAM))
		return NULL;
	start = s->gap_start_ns;
	if (!start)
		return NULL;
	idx = m->slot;
	as = bpf_map_lookup_elem(&anatomy_slots, &idx);
	if (!as)
		return NULL;
	if (as->gap_start_ns == start && as->gen == m->slot_gen)
		return as;
	if (!fresh)
		return NULL;
	__builtin_memset(&as->a, 0, sizeof(as->a));
	as->a.flags = GAP_ANATOMY_F_MEASURED;
	as->gap_start_ns = start;
	as->gen = m->slot_gen;
	as->state = ANATOMY_ON_CPU;
	as->since_ns = start;
	as->last_sleep = ANATOMY_NO_SLEEP;
	/* On CPU since the gap began: run_delay has not moved since. */
	as->run_delay = anatomy_run_delay(t);
	return as;
}

/* sched_switch: prev leaves the CPU, next takes it. */
static __always_inline void anatomy_on_switch(bool preempt, struct task_struct *prev,
					      struct task_struct *next)
{
	struct anatomy_slot *as;
	__u64 now = 0;

	as = anatomy_of(prev, true);
	if (as) {
		now = bpf_ktime_get_ns();
		anatomy_settle(as, prev);
		anatomy_close_interval(as, prev, now);
		as->throttles = anatomy_throttle_events(prev);
		if (anatomy_stays_runnable(prev, preempt)) {
			as->state = ANATOMY_RUNNABLE;
			as->throttled = anatomy_throttled_now(prev);
		} else {
			as->throttled = false;
			as->state = ANATOMY_OFF_CPU;
			/* prev is current here: its saved registers are its
			 * syscall's. */
			if (!task_syscall(prev, &as->wait_syscall, &as->wait_arg)) {
				as->wait_syscall = GAP_WAIT_NO_SYSCALL;
				as->wait_arg = 0;
			}
		}
	}
	as = anatomy_of(next, false);
	if (as) {
		if (!now)
			now = bpf_ktime_get_ns();
		anatomy_close_interval(as, next, now);
		as->state = ANATOMY_ON_CPU;
	}
}

/*
 * The gap of slot idx (generation gen) that began at start closes now, its
 * thread on CPU: the anatomy goes into out. A gap no switch ever saw was
 * on CPU throughout.
 */
static __always_inline void anatomy_gap_closes(__u32 idx, __u32 gen, __u64 start, __u64 now,
					       struct gap_anatomy *out)
{
	struct anatomy_slot *as;
	struct task_struct *t;

	__builtin_memset(out, 0, sizeof(*out));
	if (!targ_anatomy)
		return;
	as = bpf_map_lookup_elem(&anatomy_slots, &idx);
	if (!as || as->gap_start_ns != start || as->gen != gen) {
		out->on_cpu_ns = now - start;
		out->flags = GAP_ANATOMY_F_MEASURED;
		return;
	}
	t = bpf_get_current_task_btf();
	anatomy_settle(as, t);
	anatomy_close_interval(as, t, now);
	*out = as->a;
	/* A late wake-up of this thread must not touch the next gap. */
	as->gap_start_ns = 0;
}

#endif
