// SPDX-License-Identifier: Apache-2.0
/*
 * detector_tables.c - pure helpers of the detector's user-space half
 * (see detector_tables.h).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "detector_tables.h"

static bool is_thread_notice(uint32_t kind)
{
	return kind == TASK_NOTICE_THREAD_ADDED || kind == TASK_NOTICE_THREAD_GONE;
}

bool slot_view_apply(struct slot_view *views, size_t nslots, const struct task_notice *n)
{
	struct slot_view *v;

	if (!is_thread_notice(n->kind))
		return true;
	if (n->slot >= nslots)
		return false;
	v = &views[n->slot];
	if (n->kind == TASK_NOTICE_THREAD_ADDED) {
		/* Known already (made up for), or an incarnation that is gone:
		 * a later one was seen. Generations only grow, modulo 2^32. */
		if (v->gen == n->gen || (v->gen && (int32_t)(n->gen - v->gen) < 0))
			return false;
		*v = (struct slot_view){
			.gen = n->gen, .watch = n->watch, .pid = (pid_t)n->pid,
			.tid = (pid_t)n->tid, .live = true,
		};
		return true;
	}
	if (v->gen != n->gen || !v->live)
		return false;
	v->live = false;
	return true;
}

/* Read slot s consistently: its state word before and after the fields. */
static union watch_slot_state read_slot(const struct watch_slot *s, struct watch_slot *copy)
{
	union watch_slot_state before, after;

	do {
		before.word = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		copy->tid = __atomic_load_n(&s->tid, __ATOMIC_RELAXED);
		copy->pid = __atomic_load_n(&s->pid, __ATOMIC_RELAXED);
		copy->watch = __atomic_load_n(&s->watch, __ATOMIC_RELAXED);
		after.word = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
	} while (before.word != after.word);
	return after;
}

void slot_views_reconcile(struct slot_view *views, const struct watch_slot *slots,
			  size_t nslots,
			  void (*fn)(void *ctx, const struct task_notice *n), void *ctx)
{
	for (size_t i = 0; i < nslots; i++) {
		struct slot_view *v = &views[i];
		struct watch_slot copy;
		union watch_slot_state st = read_slot(&slots[i], &copy);
		bool active = st.flags & WATCH_F_ACTIVE;
		struct task_notice n = { .slot = (uint32_t)i };

		if (v->live && (v->gen != st.gen || !active)) {
			n.kind = TASK_NOTICE_THREAD_GONE;
			n.gen = v->gen;
			n.watch = v->watch;
			n.pid = (uint32_t)v->pid;
			n.tid = (uint32_t)v->tid;
			v->live = false;
			fn(ctx, &n);
		}
		/* The caller's own slots are never announced. */
		if (active && !(st.flags & WATCH_F_USER) && v->gen != st.gen) {
			n.kind = TASK_NOTICE_THREAD_ADDED;
			n.gen = st.gen;
			n.watch = copy.watch;
			n.pid = copy.pid;
			n.tid = copy.tid;
			*v = (struct slot_view){
				.gen = st.gen, .watch = copy.watch, .pid = (pid_t)copy.pid,
				.tid = (pid_t)copy.tid, .live = true,
			};
			fn(ctx, &n);
		}
	}
}

uint32_t watch_id_take(uint32_t *next, const struct watch_config watches[MAX_WATCHES])
{
	for (int tries = 0; tries < MAX_WATCHES; tries++) {
		uint32_t id = (*next)++;

		if (!id)
			id = (*next)++;
		if (!(__atomic_load_n(&watches[id % MAX_WATCHES].flags, __ATOMIC_RELAXED) &
		      WATCH_F_ACTIVE))
			return id;
	}
	return 0;
}

int parse_stat_ppid(const char *text)
{
	const char *p = strrchr(text, ')');
	long ppid = 0;

	/* ") S 1234 ..." */
	if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
		return -EINVAL;
	p += 4;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	while (*p >= '0' && *p <= '9') {
		ppid = ppid * 10 + (*p++ - '0');
		if (ppid > INT_MAX)
			return -EINVAL;
	}
	return *p == ' ' ? (int)ppid : -EINVAL;
}

int parse_children(const char *text, pid_t *out, size_t max)
{
	int count = 0;

	for (const char *p = text; *p;) {
		long pid = 0;

		if (*p == ' ' || *p == '\n') {
			p++;
			continue;
		}
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9') {
			pid = pid * 10 + (*p++ - '0');
			if (pid > INT_MAX)
				return -EINVAL;
		}
		if (!pid || (*p && *p != ' ' && *p != '\n') || count == INT_MAX)
			return -EINVAL;
		if ((size_t)count < max)
			out[count] = (pid_t)pid;
		count++;
	}
	return count;
}
