// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * gap_detector.bpf.c - measures how long watched threads stay out of epoll,
 * and follows the processes and threads of a watch from their first
 * instruction.
 *
 * sys_exit_epoll_* opens a gap (the loop got its ready events and starts
 * running callbacks), sys_enter_epoll_* closes it (the loop is ready to wait
 * again). A closed gap at or over the thread's threshold is sent to user space
 * through a ring buffer, or, in stats mode, counted into a per-CPU
 * histogram so that no event per gap ever crosses into user space. A watch
 * that keeps a loop histogram (the Prometheus metric) counts every gap into
 * it as well.
 *
 * Which tasks are watched is a mark per task (gap_detector.h). Two sets of
 * epoll programs find it; user space loads one:
 *   ts_*    task-local storage of the current task: one lookup that needs
 *           no thread id, the cheapest test for the threads nobody watches.
 *   tsid_*  the same, and, on kernels without pidfds for threads (before
 *           6.9), tid_marks, where user space marks the threads it cannot
 *           name by pidfd: looked at only while it is not empty; a thread's
 *           mark moves into task storage on its first epoll call.
 *   id_*    tid_marks alone, by thread id: kernels without task storage for
 *           tracing programs. Nothing is followed there.
 * With task storage, sched_process_fork gives the children of a member
 * process (and the threads it creates) their marks before they first run,
 * sched_process_exec keeps a process that exec'ed a member, and
 * sched_process_exit frees slots and marks; sched_switch follows a watched
 * thread through its gap for the gap's anatomy (gap_anatomy.bpf.h), which
 * each gap_event carries.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "gap_detector.h"
#include "gap_hist.h"

/*
 * The PID namespace that thread ids in slots, marks and events are numbered
 * in: blocksnoop's own. In the initial namespace bpf_get_current_pid_tgid()
 * and task->pid already are those numbers; elsewhere (blocksnoop inside a
 * pod's namespace, e.g. `kubectl debug --target`) they are translated.
 */
const volatile bool targ_in_init_pidns = true;
const volatile __u64 targ_pidns_dev = 0;
const volatile __u64 targ_pidns_ino = 0;

/* Shared with user space through the skeleton's mmap of .bss. */
struct watch_slot watch_slots[MAX_WATCHED_THREADS];
struct watch_config watches[MAX_WATCHES];
struct detector_counters counters;
/* At most this many tasks followed at once (set by user space). */
__u32 follow_limit;

/* Indexes of the free slots; user space fills it after loading. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, MAX_WATCHED_THREADS);
	__type(value, __u32);
} free_slots SEC(".maps");

/* The marks of tasks: task-local storage, freed with the task. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_mark);
} task_marks SEC(".maps");

/* Marks by thread id (blocksnoop's PID namespace), for what task storage
 * cannot hold (see the top of this file). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_WATCHED_THREADS);
	__type(key, __u32);
	__type(value, struct task_mark);
} tid_marks SEC(".maps");

/*
 * A member process's mark on its way from its leader, dying in de_thread(),
 * to the thread that exec'ed, by process id (initial namespace). Only a
 * trusted task pointer can be given task storage, and the exec'ing thread
 * is one only in its own sched_process_exec.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct task_mark);
} exec_handover SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* A ring of its own, so that a burst of forks never costs a gap event. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} notices SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gap_stats);
} gap_stats SEC(".maps");

/*
 * The loop histogram of each watch with WATCH_F_LOOP_HIST, at watch id %
 * MAX_WATCHES as in watches[]. One copy shared by the CPUs, counted with
 * atomic adds: its memory (288 bytes a watch) does not grow with the number
 * of CPUs, and the threads of one watch rarely close gaps at the same
 * instant. User space sizes it before loading (one entry when no watch
 * asks), maps it, and zeroes a watch's entry before the watch starts.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MAX_WATCHES);
	__type(key, __u32);
	__type(value, struct loop_hist);
} loop_hists SEC(".maps");

/* include/linux/pid_namespace.h */
#define MAX_PID_NS_LEVEL 32

/* The current thread's and process's ids in blocksnoop's PID namespace;
 * false if the thread is not visible there. */
static __always_inline bool current_ids(__u32 *pid, __u32 *tid)
{
	struct bpf_pidns_info ns;
	__u64 id;

	if (targ_in_init_pidns) {
		id = bpf_get_current_pid_tgid();
		*pid = id >> 32;
		*tid = (__u32)id;
		return true;
	}
	if (bpf_get_ns_current_pid_tgid(targ_pidns_dev, targ_pidns_ino, &ns, sizeof(ns)))
		return false;
	*pid = ns.tgid;
	*tid = ns.pid;
	return true;
}

/* A task's thread id in blocksnoop's PID namespace (what
 * bpf_get_ns_current_pid_tgid() does, for a task that is not running); 0 if
 * it is not visible there. */
static __always_inline __u32 task_ns_tid(struct task_struct *task)
{
	struct pid *pid;
	struct upid upid;
	unsigned int level;

	if (targ_in_init_pidns)
		return BPF_CORE_READ(task, pid);
	pid = BPF_CORE_READ(task, thread_pid);
	level = BPF_CORE_READ(pid, level);
	for (unsigned int i = 0; i < MAX_PID_NS_LEVEL && i <= level; i++) {
		if (bpf_core_read(&upid, sizeof(upid), &pid->numbers[i]))
			return 0;
		if (BPF_CORE_READ(upid.ns, ns.inum) == targ_pidns_ino)
			return upid.nr;
	}
	return 0;
}

/* The watch with this id if it is still on. */
static __always_inline const struct watch_config *live_watch(__u32 id)
{
	const struct watch_config *w;

	if (!id)
		return NULL;
	w = &watches[id & (MAX_WATCHES - 1)];
	if (w->id != id || !(w->flags & WATCH_F_ACTIVE))
		return NULL;
	return w;
}

/* The slot a mark names, if it is still that mark's. */
static __always_inline struct watch_slot *slot_of(const struct task_mark *m)
{
	union watch_slot_state st;
	struct watch_slot *s;
	__u32 i = m->slot;

	if (i >= MAX_WATCHED_THREADS)
		return NULL;
	s = &watch_slots[i];
	st.word = s->state;
	if (st.gen != m->slot_gen || !(st.flags & WATCH_F_ACTIVE))
		return NULL;
	return s;
}

static __always_inline void notify(__u32 kind, __u32 watch, __u32 pid, __u32 tid,
				   __u32 ppid, __u32 slot, __u32 gen)
{
	struct task_notice *n = bpf_ringbuf_reserve(&notices, sizeof(*n), 0);

	if (!n) {
		__sync_fetch_and_add(&counters.lost_notices, 1);
		return;
	}
	n->time_ns = bpf_ktime_get_ns();
	n->kind = kind;
	n->watch = watch;
	n->pid = pid;
	n->tid = tid;
	n->ppid = ppid;
	n->slot = slot;
	n->gen = gen;
	n->pad = 0;
	bpf_ringbuf_submit(n, 0);
}

/*
 * Give the current thread (marked m, of watch w) a slot of its own: the
 * first time a member thread returns from epoll. Counts the thread once in
 * slot_overflow if none is free, and tries again on its next return.
 */
static __always_inline struct watch_slot *give_slot(struct task_mark *m,
						    const struct watch_config *w)
{
	union watch_slot_state st;
	struct watch_slot *s;
	__u32 pid, tid, idx;

	if (!current_ids(&pid, &tid))
		return NULL;
	if (bpf_map_pop_elem(&free_slots, &idx)) {
		if (!(m->flags & MARK_F_OVERFLOWED)) {
			m->flags |= MARK_F_OVERFLOWED;
			__sync_fetch_and_add(&counters.slot_overflow, 1);
		}
		return NULL;
	}
	__sync_fetch_and_add(&counters.slots_out, 1);
	if (idx >= MAX_WATCHED_THREADS)
		return NULL;
	s = &watch_slots[idx];
	st.word = s->state;
	st.gen = st.gen + 1 ? st.gen + 1 : 1;
	st.flags = WATCH_F_ACTIVE | (w->flags & SLOT_WATCH_FLAGS);
	s->gap_start_ns = 0;
	s->lost_events = 0;
	s->threshold_ns = w->threshold_ns;
	s->tid = tid;
	s->pid = pid;
	s->watch = m->watch;
	s->gap_variant = 0;
	/* Publish: an atomic exchange orders the stores above before it. */
	__sync_lock_test_and_set(&s->state, st.word);
	m->slot = idx;
	m->slot_gen = st.gen;
	notify(TASK_NOTICE_THREAD_ADDED, m->watch, pid, tid, 0, idx, st.gen);
	return s;
}

/*
 * The slot of a mark stops being its thread's (the thread exited, or its
 * id changed in exec): free it, or, if user space allocated it, leave it
 * inactive for user space to free. Tells user space, once.
 */
static __always_inline void release_slot(const struct task_mark *m)
{
	union watch_slot_state old, new;
	struct watch_slot *s;
	__u32 i = m->slot;

	if (i >= MAX_WATCHED_THREADS)
		return;
	s = &watch_slots[i];
	old.word = s->state;
	if (old.gen != m->slot_gen || !(old.flags & WATCH_F_ACTIVE))
		return;
	new.gen = old.gen;
	new.flags = old.flags & WATCH_F_USER;
	if (__sync_val_compare_and_swap(&s->state, old.word, new.word) != old.word)
		return;
	s->gap_start_ns = 0;
	notify(TASK_NOTICE_THREAD_GONE, s->watch, s->pid, s->tid, 0, i, old.gen);
	if (!(old.flags & WATCH_F_USER) && !bpf_map_push_elem(&free_slots, &i, 0))
		__sync_fetch_and_add(&counters.slots_out, -1);
}

/* Remove a mark (in task storage, or in tid_marks under tid), but not its
 * slot. */
static __always_inline void drop_mark(struct task_mark *m, struct task_struct *task,
				      __u32 tid, bool in_hash)
{
	bool followed = m->flags & MARK_F_FOLLOWED;
	long err;

	if (in_hash) {
		err = bpf_map_delete_elem(&tid_marks, &tid);
		if (!err)
			__sync_fetch_and_add(&counters.tid_marks, -1);
	} else {
		err = bpf_task_storage_delete(&task_marks, task);
	}
	if (!err && followed)
		__sync_fetch_and_add(&counters.followed, -1);
}

/* A mark goes (its watch ended): its slot too. */
static __always_inline void forget_mark(struct task_mark *m, struct task_struct *task,
					__u32 tid, bool in_hash)
{
	release_slot(m);
	drop_mark(m, task, tid, in_hash);
}

/*
 * The slot the current thread's epoll calls go to, or NULL. A stale mark
 * (its watch ended) is dropped; with take, a member thread without a slot
 * gets one.
 */
static __always_inline struct watch_slot *mark_slot(struct task_mark *m,
						    struct task_struct *task, __u32 tid,
						    bool in_hash, bool take)
{
	struct watch_slot *s = slot_of(m);
	const struct watch_config *w;

	/* A slot is active only while its watch is (user space frees a
	 * watch's slots as it ends it), so a thread with its slot, every
	 * epoll call of a watched loop, needs no look at the watch: one cache
	 * line fewer on the way in from user code. */
	if (s)
		return s;
	w = live_watch(m->watch);
	if (!w) {
		/* The watch ended (a slot given meanwhile goes back too). */
		forget_mark(m, task, tid, in_hash);
		return NULL;
	}
	if (!take || !(m->flags & MARK_F_THREAD))
		return NULL;
	return give_slot(m, w);
}

/* Move the mark of thread tid of process pid from tid_marks into task's
 * storage, where it is found from then on. */
static __always_inline struct task_mark *adopt_tid_mark(struct task_struct *task, __u32 pid,
							__u32 tid)
{
	struct task_mark copy, *hm, *m;

	hm = bpf_map_lookup_elem(&tid_marks, &tid);
	if (!hm || hm->pid != pid)
		return NULL;
	copy = *hm;
	m = bpf_task_storage_get(&task_marks, task, &copy, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!m)
		return NULL;
	if (!bpf_map_delete_elem(&tid_marks, &tid))
		__sync_fetch_and_add(&counters.tid_marks, -1);
	return m;
}

/*
 * Whether task may have task storage at all: its bpf_storage pointer, one
 * load from the task_struct the caller holds. Nearly every task on a host
 * has none (no BPF program ever gave it storage), and this test is what
 * they pay instead of a bpf_task_storage_get() call (a helper call that
 * takes and drops a per-CPU lock), on every epoll call and every context
 * switch.
 */
static __always_inline bool task_has_storage(struct task_struct *task)
{
	return task->bpf_storage != NULL;
}

/* task's mark in task storage, or NULL. */
static __always_inline struct task_mark *task_mark_of(struct task_struct *task)
{
	if (!task_has_storage(task))
		return NULL;
	return bpf_task_storage_get(&task_marks, task, 0, 0);
}

/*
 * The current task's mark (ts_* and tsid_* programs). Every load on the way
 * to "not watched" is paid by every epoll call of every thread on the host
 * (a map value out of the TLB costs more than the lookup itself), so only
 * tsid_*, loaded where existing threads may be marked in tid_marks (no
 * pidfds for threads), look there, and only while it holds some. A thread
 * found there makes its first epoll call: its mark moves into task storage.
 */
static __always_inline struct task_mark *ts_current_mark(struct task_struct *task,
							 bool tid_marks)
{
	struct task_mark *m = task_mark_of(task);
	__u32 pid, tid;

	if (m || !tid_marks || !counters.tid_marks)
		return m;
	if (!current_ids(&pid, &tid))
		return NULL;
	return adopt_tid_mark(task, pid, tid);
}

/* The current thread's mark in tid_marks, and its tid (id_* programs, and
 * the exit of a thread marked there). */
static __always_inline struct task_mark *id_current_mark(__u32 *tid)
{
	struct task_mark *m;
	__u32 pid;

	if (!current_ids(&pid, tid))
		return NULL;
	m = bpf_map_lookup_elem(&tid_marks, tid);
	/* A thread id reused by another process since it was marked. */
	if (!m || m->pid != pid)
		return NULL;
	return m;
}

#include "gap_anatomy.bpf.h"

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

/* Count a closed gap of slot s into its watch's loop histogram, if the
 * watch keeps one. */
static __always_inline void count_loop_gap(const struct watch_slot *s, __u64 gap_ns)
{
	__u32 idx = s->watch & (MAX_WATCHES - 1), bucket;
	struct loop_hist *h;

	if (!(s->flags & WATCH_F_LOOP_HIST))
		return;
	h = bpf_map_lookup_elem(&loop_hists, &idx);
	if (!h)
		return;
	bucket = loop_hist_bucket(gap_ns);
	/* As in count_gap(): keep the check the verifier needs. */
	barrier_var(bucket);
	if (bucket < LOOP_HIST_BUCKETS)
		__sync_fetch_and_add(&h->buckets[bucket], 1);
	__sync_fetch_and_add(&h->sum_ns, gap_ns);
}

static __always_inline void gap_opens(struct task_mark *m, struct task_struct *task,
				      __u32 tid, bool in_hash, __u32 variant)
{
	struct watch_slot *s = mark_slot(m, task, tid, in_hash, true);

	if (!s)
		return;
	s->gap_variant = variant;
	s->gap_start_ns = bpf_ktime_get_ns();
}

static __always_inline void gap_closes(struct task_mark *m, struct task_struct *task,
				       __u32 tid, bool in_hash, __u32 variant)
{
	struct watch_slot *s = mark_slot(m, task, tid, in_hash, false);
	struct gap_event *e;
	__u64 start, now;

	if (!s)
		return;
	start = s->gap_start_ns;
	if (!start) /* watched since it was already running: no known start */
		return;
	now = bpf_ktime_get_ns();
	s->gap_start_ns = 0;
	count_loop_gap(s, now - start);
	if (now - start < s->threshold_ns)
		return;

	if (s->flags & WATCH_F_HISTOGRAM) {
		count_gap(now - start);
		return;
	}

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&s->lost_events, 1);
		__sync_fetch_and_add(&counters.lost_events, 1);
		return;
	}
	e->start_ns = start;
	e->end_ns = now;
	e->slot = m->slot;
	e->gen = m->slot_gen;
	e->tid = s->tid;
	e->pid = s->pid;
	e->watch = s->watch;
	e->start_variant = s->gap_variant;
	e->end_variant = variant;
	e->pad = 0;
	anatomy_gap_closes(m->slot, m->slot_gen, start, now, &e->anatomy);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int ts_epoll(__u32 variant, bool exit, bool tid_marks)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_mark *m = ts_current_mark(task, tid_marks);

	if (!m)
		return 0;
	if (exit)
		gap_opens(m, task, 0, false, variant);
	else
		gap_closes(m, task, 0, false, variant);
	return 0;
}

static __always_inline int id_epoll(__u32 variant, bool exit)
{
	struct task_mark *m;
	__u32 tid;

	m = id_current_mark(&tid);
	if (!m)
		return 0;
	if (exit)
		gap_opens(m, NULL, tid, true, variant);
	else
		gap_closes(m, NULL, tid, true, variant);
	return 0;
}

/*
 * One program per syscall, direction and way of finding marks. User space
 * loads one way, and turns off the syscalls this kernel lacks (epoll_pwait2
 * arrived in 5.11; arm64 has no epoll_wait).
 */
#define EPOLL_PROBES(name, variant)                                              \
	SEC("tracepoint/syscalls/sys_exit_" #name)                               \
	int ts_exit_##name(void *ctx __attribute__((unused)))                    \
	{ return ts_epoll(variant, true, false); }                               \
	SEC("tracepoint/syscalls/sys_enter_" #name)                              \
	int ts_enter_##name(void *ctx __attribute__((unused)))                   \
	{ return ts_epoll(variant, false, false); }                              \
	SEC("tracepoint/syscalls/sys_exit_" #name)                               \
	int tsid_exit_##name(void *ctx __attribute__((unused)))                  \
	{ return ts_epoll(variant, true, true); }                                \
	SEC("tracepoint/syscalls/sys_enter_" #name)                              \
	int tsid_enter_##name(void *ctx __attribute__((unused)))                 \
	{ return ts_epoll(variant, false, true); }                               \
	SEC("tracepoint/syscalls/sys_exit_" #name)                               \
	int id_exit_##name(void *ctx __attribute__((unused)))                    \
	{ return id_epoll(variant, true); }                                      \
	SEC("tracepoint/syscalls/sys_enter_" #name)                              \
	int id_enter_##name(void *ctx __attribute__((unused)))                   \
	{ return id_epoll(variant, false); }

EPOLL_PROBES(epoll_wait, EPOLL_VARIANT_WAIT)
EPOLL_PROBES(epoll_pwait, EPOLL_VARIANT_PWAIT)
EPOLL_PROBES(epoll_pwait2, EPOLL_VARIANT_PWAIT2)

/* ---- following processes and threads (task storage only) ---------------- */

/* Take one of follow_limit's places; false if they are all taken. */
static __always_inline bool take_follow_place(void)
{
	if (__sync_fetch_and_add(&counters.followed, 1) < follow_limit)
		return true;
	__sync_fetch_and_add(&counters.followed, -1);
	return false;
}

/*
 * A task was created: the parent's process is a member if its thread group
 * leader has a process mark. A member's new thread is marked if the watch
 * wants all threads, its child process if it follows children. Runs in the
 * parent before the child's first instruction.
 */
SEC("tp_btf/sched_process_fork")
int follow_fork(__u64 *ctx)
{
	struct task_struct *parent = (void *)ctx[0], *child = (void *)ctx[1];
	struct task_mark *pm, init = {}, *cm;
	const struct watch_config *w;
	bool thread = child->tgid == parent->tgid;
	__u32 pid, tid;

	/* A thread id user space asked for before it existed appears. */
	if (counters.tid_marks && current_ids(&pid, &tid)) {
		tid = task_ns_tid(child);
		if (adopt_tid_mark(child, thread ? pid : tid, tid))
			return 0;
	}
	pm = task_mark_of(parent->group_leader);
	if (!pm || !(pm->flags & MARK_F_PROCESS))
		return 0;
	w = live_watch(pm->watch);
	if (!w)
		return 0;
	if (!(w->flags & (thread ? WATCH_F_ALL_THREADS : WATCH_F_FOLLOW)))
		return 0;

	init.slot = NO_SLOT;
	init.watch = pm->watch;
	init.flags = MARK_F_THREAD | MARK_F_FOLLOWED | (thread ? 0 : MARK_F_PROCESS);
	init.pid = thread ? pm->pid : task_ns_tid(child);
	if (!init.pid)
		return 0;
	if (!take_follow_place()) {
		__sync_fetch_and_add(&counters.follow_overflow, 1);
		return 0;
	}
	cm = bpf_task_storage_get(&task_marks, child, &init, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!cm) {
		__sync_fetch_and_add(&counters.followed, -1);
		__sync_fetch_and_add(&counters.follow_overflow, 1);
		return 0;
	}
	if (!thread)
		notify(TASK_NOTICE_PROCESS_ADDED, init.watch, init.pid, init.pid, pm->pid,
		       NO_SLOT, 0);
	return 0;
}

/* A signal_struct before 5.16 named the thread that exec'ed so. */
struct signal_struct___pre516 {
	struct task_struct *group_exit_task;
} __attribute__((preserve_access_index));

/* Whether task dies because another thread of its process exec'ed:
 * de_thread() names that thread while the others die. */
static __always_inline bool execing_thread(struct task_struct *task)
{
	struct signal_struct *sig = task->signal;
	struct task_struct *execer;

	if (bpf_core_field_exists(sig->group_exec_task))
		execer = sig->group_exec_task;
	else
		execer = ((struct signal_struct___pre516 *)sig)->group_exit_task;
	return execer && execer != task;
}

/*
 * The leader of a member process dies because another of its threads
 * exec'ed: that thread becomes the process (same PID), so it takes the
 * membership over and, its id being the process's now, the main thread's
 * watching (it gets a slot on its first return from epoll). It gets the mark
 * in its sched_process_exec.
 */
static __always_inline void hand_over(const struct task_mark *m, struct task_struct *task)
{
	struct task_mark init = {};
	__u32 tgid = task->tgid;

	init.slot = NO_SLOT;
	init.watch = m->watch;
	init.pid = m->pid;
	init.flags = MARK_F_THREAD | MARK_F_PROCESS;
	if (!bpf_map_update_elem(&exec_handover, &tgid, &init, BPF_NOEXIST))
		__sync_fetch_and_add(&counters.handovers, 1);
	else
		bpf_map_update_elem(&exec_handover, &tgid, &init, BPF_EXIST);
}

/* Take the mark a dying leader handed over to this process's exec'ing
 * thread, if there is one. */
static __always_inline struct task_mark *take_over(struct task_struct *task, struct task_mark *m)
{
	struct task_mark *h;
	__u32 tgid = task->tgid;

	if (!counters.handovers)
		return m;
	h = bpf_map_lookup_elem(&exec_handover, &tgid);
	if (!h)
		return m;
	if (m) {
		m->watch = h->watch;
		m->pid = h->pid;
		m->flags |= MARK_F_THREAD | MARK_F_PROCESS;
	} else {
		m = bpf_task_storage_get(&task_marks, task, h, BPF_LOCAL_STORAGE_GET_F_CREATE);
	}
	if (!bpf_map_delete_elem(&exec_handover, &tgid))
		__sync_fetch_and_add(&counters.handovers, -1);
	return m;
}

/* A process whose exec failed after de_thread() dies with its handover. */
static __always_inline void forget_handover(struct task_struct *task)
{
	__u32 tgid = task->tgid;

	if (counters.handovers && !bpf_map_delete_elem(&exec_handover, &tgid))
		__sync_fetch_and_add(&counters.handovers, -1);
}

/* The last thread of a process whose leader exited earlier is gone: the
 * leader's process mark goes with it. */
static __always_inline void leader_gone(struct task_struct *leader)
{
	struct task_mark *lm = task_mark_of(leader);
	__u32 watch, pid, flags;

	if (!lm || !(lm->flags & MARK_F_PROCESS))
		return;
	watch = lm->watch;
	pid = lm->pid;
	flags = lm->flags;
	if (bpf_task_storage_delete(&task_marks, leader))
		return; /* another thread's exit got there first */
	if (flags & MARK_F_FOLLOWED)
		__sync_fetch_and_add(&counters.followed, -1);
	if (live_watch(watch))
		notify(TASK_NOTICE_PROCESS_GONE, watch, pid, pid, 0, NO_SLOT, 0);
}

SEC("tp_btf/sched_process_exit")
int follow_exit(__u64 *ctx)
{
	struct task_struct *task = (void *)ctx[0];
	struct task_mark *m;
	bool group_dead, leader, in_hash = false;
	__u32 tid = 0;

	/* Runs in the exiting task: current_ids() are its own. */
	m = task_mark_of(task);
	if (!m && counters.tid_marks) {
		m = id_current_mark(&tid);
		in_hash = true;
	}
	/* do_exit() counted this thread out of signal->live before. */
	group_dead = BPF_CORE_READ(task, signal, live.counter) == 0;
	leader = task->group_leader == task;

	if (m) {
		release_slot(m);
		if (!(m->flags & MARK_F_PROCESS) || !live_watch(m->watch)) {
			drop_mark(m, task, tid, in_hash);
		} else if (execing_thread(task)) {
			hand_over(m, task);
			drop_mark(m, task, tid, in_hash);
		} else if (group_dead) {
			notify(TASK_NOTICE_PROCESS_GONE, m->watch, m->pid, m->pid, 0, NO_SLOT, 0);
			drop_mark(m, task, tid, in_hash);
		} else {
			/* The main thread left before the others: the process
			 * stays a member until its last thread exits. */
			m->slot = NO_SLOT;
			m->flags &= ~MARK_F_THREAD;
		}
	}
	if (group_dead && !leader)
		leader_gone(task->group_leader);
	if (group_dead)
		forget_handover(task);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int follow_exec(__u64 *ctx)
{
	struct task_struct *task = (void *)ctx[0];
	pid_t old_pid = (pid_t)ctx[1];
	struct task_mark *m = task_mark_of(task);

	m = take_over(task, m);
	if (!m)
		return 0;
	if (!live_watch(m->watch)) {
		forget_mark(m, task, 0, false);
		return 0;
	}
	if (task->pid != old_pid) {
		/* A thread other than the main one exec'ed and now has the
		 * process's id: its slot named the old one. */
		release_slot(m);
		m->slot = NO_SLOT;
		m->flags |= MARK_F_THREAD;
	}
	if (m->flags & MARK_F_PROCESS)
		notify(TASK_NOTICE_PROCESS_EXEC, m->watch, m->pid, m->pid, 0, NO_SLOT, 0);
	return 0;
}

/* ---- waking the sampler (wake_* programs; task storage only) ------------ */

/*
 * The built-in sampler sleeps until a gap of a thread it samples reaches
 * its sampling point (WAKE_SAMPLING_POINT into the gap): then a record in
 * the wakes ring wakes it. Nothing here runs per gap: the classic syscall
 * tracepoints above cannot use timers, and a timer per gap would be set
 * hundreds of times a second by a busy loop. Instead two events the kernel
 * has anyway "kick" a gap that is open:
 *   - a timer interrupt (hrtimer_expire_entry, the tick on a busy CPU)
 *     looks at the task it interrupted: a thread spinning in a gap is
 *     current at its CPU's tick;
 *   - a context switch looks at the task leaving its CPU: a thread that
 *     sleeps or blocks in a gap (time.sleep, a blocking read), or is
 *     preempted in one, leaves it then.
 * A kicked gap past its sampling point is sent at once; else a timer is
 * set for the sampling point, and sends the wake if the same gap is still
 * open then, unless the next tick will see it in time (next_tick_in_time).
 * A gap shorter than the time to the next tick is rarely seen: an idle or
 * healthy loop costs no timer and no wake-up, and a busy one, whose gaps
 * the ticks see, none for them either. Which slots want
 * wakes is user space's to say (slot_wake.want_gen): stats mode and the
 * Austin sampler want none.
 */
struct slot_wake slot_wakes[MAX_WATCHED_THREADS];

/* Set by user space: the wakes are loaded (wake_timers and wakes exist). */
const volatile bool targ_wake = false;
/* Set by user space: the time between two ticks of a busy CPU (1/HZ); 0
 * where a busy CPU may not tick (nohz_full) or it is not known. */
const volatile __u64 targ_tick_ns = 0;

/* The timers, set up once by wake_setup (nothing is allocated later, in a
 * context switch), set by kicks and by themselves. */
struct wake_timer {
	struct bpf_timer timer;
	/* When it is set to go off (CLOCK_MONOTONIC); 0: not set. */
	__u64 due;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WAKE_TIMERS);
	__type(key, __u32);
	__type(value, struct wake_timer);
} wake_timers SEC(".maps");

/* Records only wake user space; a full ring means it is due anyway. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} wakes SEC(".maps");

#define CLOCK_MONOTONIC 1
#define SLOTS_PER_TIMER (MAX_WATCHED_THREADS / WAKE_TIMERS)

/* Send the wake of gap start of slot i (gen), once per gap. */
static __always_inline void wake_send(__u32 i, __u32 gen, __u64 start)
{
	struct sampler_wake rec = { .gap_start_ns = start, .slot = i, .gen = gen };
	__u64 sent;

	if (i >= MAX_WATCHED_THREADS)
		return;
	sent = slot_wakes[i].sent_start;
	if (sent == start ||
	    __sync_val_compare_and_swap(&slot_wakes[i].sent_start, sent, start) != sent)
		return;
	if (bpf_ringbuf_output(&wakes, &rec, sizeof(rec), BPF_RB_FORCE_WAKEUP))
		__sync_fetch_and_add(&counters.wakes_failed, 1);
	else
		__sync_fetch_and_add(&counters.wakes_sent, 1);
}

/* The slot i's gap now, if the sampler wants it woken: its start (0: no
 * gap, or not wanted), with its generation in *gen and sampling point in
 * *point. */
static __always_inline __u64 wanted_gap(__u32 i, __u32 *gen, __u64 *point)
{
	struct watch_slot *s;
	union watch_slot_state st;
	__u64 start;

	if (i >= MAX_WATCHED_THREADS)
		return 0;
	s = &watch_slots[i];
	st.word = *(volatile __u64 *)&s->state;
	if (!(st.flags & WATCH_F_ACTIVE) || (st.flags & WATCH_F_HISTOGRAM) ||
	    slot_wakes[i].want_gen != st.gen)
		return 0;
	start = *(volatile __u64 *)&s->gap_start_ns;
	*gen = st.gen;
	*point = start + WAKE_SAMPLING_POINT(s->threshold_ns);
	return start;
}

/*
 * Have timer t go off at point (now is now), unless it goes off sooner
 * already: then its callback sets it again for what is left. A kick and
 * the callback race only over due; whoever changes it from what it read
 * sets the timer.
 */
static __always_inline void timer_set_by(struct wake_timer *t, __u64 point, __u64 now)
{
	for (int tries = 0; tries < 4; tries++) {
		__u64 due = t->due;

		if (due && due <= point)
			return;
		if (__sync_val_compare_and_swap(&t->due, due, point) != due)
			continue;
		if (bpf_timer_start(&t->timer, point > now ? point - now : 0, 0))
			__sync_fetch_and_add(&counters.wakes_failed, 1);
		else
			__sync_fetch_and_add(&counters.wake_arms, 1);
		return;
	}
}

/* Where a timer that went off is in looking at the slots that share it. */
struct timer_check {
	__u32 timer;
	__u64 now;
	__u64 next; /* the earliest sampling point still to come */
};

/* The j-th slot sharing a timer that went off: wake for its gap if the gap
 * the timer was set for is open and due; else keep its sampling point. */
static long timer_check_slot(__u32 j, struct timer_check *c)
{
	__u32 i = c->timer + j * WAKE_TIMERS, gen;
	__u64 start, point;

	start = wanted_gap(i, &gen, &point);
	if (!start || i >= MAX_WATCHED_THREADS || start != slot_wakes[i].armed_start ||
	    start == slot_wakes[i].sent_start)
		return 0;
	if (c->now >= point)
		wake_send(i, gen, start);
	else if (point < c->next)
		c->next = point;
	return 0;
}

/* Timer *key went off: look at the slots that share it. A gap that closed
 * meanwhile (or whose slot went to another thread) has another start, and
 * is not woken for. */
static int wake_timer_fired(void *map __attribute__((unused)), __u32 *key,
			    struct wake_timer *t)
{
	struct timer_check c = { .timer = *key, .next = ~0ULL };

	__sync_lock_test_and_set(&t->due, 0);
	c.now = bpf_ktime_get_ns();
	bpf_loop(SLOTS_PER_TIMER, timer_check_slot, &c, 0);
	if (c.next != ~0ULL)
		timer_set_by(t, c.next, c.now);
	return 0;
}

/*
 * Whether a tick that sees a gap young (now, before its sampling point)
 * may leave it to the next tick: a thread spinning in the gap is current
 * at its CPU's next tick too, at most a tick later, which then finds it
 * due and wakes user space at once. That is left to it when it comes no
 * later than a quarter of the threshold past the sampling point (the
 * bound polling has). A busy server's many short gaps are so seen by
 * tick after tick and none of them costs a timer set and fired; a gap
 * left so that sleeps or is preempted meanwhile is kicked, and timed, as
 * it leaves its CPU.
 */
static __always_inline bool next_tick_in_time(__u64 now, __u64 start, __u64 point)
{
	/* point - start: the sampling point's distance into the gap, a
	 * quarter of the threshold */
	return targ_tick_ns && now + targ_tick_ns <= point + (point - start);
}

/*
 * Kick the gap of task, if it is in one the sampler wants: past its
 * sampling point, wake user space now; else have its slot's timer go off
 * then, once per gap (the compare-and-swap decides between two kicks),
 * unless, at a tick, the next tick is in time for it.
 */
static __always_inline void wake_kick(struct task_struct *task, bool at_tick)
{
	struct task_mark *m = task_mark_of(task);
	struct wake_timer *t;
	__u64 start, point, now, armed;
	__u32 i, gen, k;

	if (!m)
		return;
	i = m->slot;
	start = wanted_gap(i, &gen, &point);
	if (!start || gen != m->slot_gen || i >= MAX_WATCHED_THREADS)
		return;
	armed = slot_wakes[i].armed_start;
	if (start == armed || start == slot_wakes[i].sent_start)
		return;
	now = bpf_ktime_get_ns();
	if (now >= point) {
		wake_send(i, gen, start);
		return;
	}
	if (at_tick && next_tick_in_time(now, start, point))
		return;
	if (__sync_val_compare_and_swap(&slot_wakes[i].armed_start, armed, start) != armed)
		return;
	k = i % WAKE_TIMERS;
	t = bpf_map_lookup_elem(&wake_timers, &k);
	if (t)
		timer_set_by(t, point, now);
}

/* A task leaves its CPU (sched_switch): if it sleeps or is preempted in a
 * gap, this is the last look at it before it runs again. */
static __always_inline void wake_on_switch_out(struct task_struct *prev)
{
	wake_kick(prev, false);
}

/* A timer interrupt: the task it interrupted may spin in a gap. */
SEC("tp_btf/hrtimer_expire_entry")
int wake_on_tick(__u64 *ctx __attribute__((unused)))
{
	wake_kick(bpf_get_current_task_btf(), true);
	return 0;
}


/* Set up timer k unless an earlier run did; count it in *left if its
 * memory was not to be had. */
static long wake_setup_one(__u32 k, int *left)
{
	struct wake_timer *t = bpf_map_lookup_elem(&wake_timers, &k);
	long err;

	if (!t)
		return 1; /* cannot be: stop */
	err = bpf_timer_init(&t->timer, &wake_timers, CLOCK_MONOTONIC);
	if (err == -16) /* EBUSY: set up by an earlier run */
		return 0;
	if (err || bpf_timer_set_callback(&t->timer, wake_timer_fired))
		(*left)++;
	return 0;
}

/*
 * Run by user space after loading (BPF_PROG_RUN): sets up the timers not
 * set up yet. Returns how many are left (their memory was not to be had
 * just then; user space runs it again).
 */
SEC("syscall")
int wake_setup(void *ctx __attribute__((unused)))
{
	int left = 0;

	if (bpf_loop(WAKE_TIMERS, wake_setup_one, &left, 0) != WAKE_TIMERS)
		return WAKE_TIMERS;
	return left;
}


/* ---- every context switch: the gap anatomy and the sampler's wakes ------- */

/* One program for both, so a context switch pays for one program run. Both
 * look only at tasks with task storage, which almost none have: a switch
 * between two tasks without any (nearly every switch on a host) costs the
 * two loads of the first test. */
SEC("tp_btf/sched_switch")
int on_sched_switch(__u64 *ctx)
{
	bool preempt = (bool)ctx[0];
	struct task_struct *prev = (void *)ctx[1], *next = (void *)ctx[2];

	if (!task_has_storage(prev) && !task_has_storage(next))
		return 0;
	if (targ_anatomy)
		anatomy_on_switch(preempt, prev, next);
	if (targ_wake)
		wake_on_switch_out(prev);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
