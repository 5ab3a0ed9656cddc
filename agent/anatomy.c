// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anatomy.h"
#include "fd_describe.h"
#include "syscalls.h"

static const char *const class_names[ANATOMY_CLASSES] = {
	[ANATOMY_CPU] = "cpu",
	[ANATOMY_SLEEP] = "sleep",
	[ANATOMY_IO] = "io",
	[ANATOMY_LOCK] = "lock",
	[ANATOMY_RUNQUEUE] = "runqueue",
	[ANATOMY_THROTTLED] = "throttled",
};

const char *anatomy_class_name(enum anatomy_class c)
{
	return c < ANATOMY_CLASSES ? class_names[c] : "unknown";
}

static enum anatomy_class wait_class(long nr, uint64_t arg)
{
	if (nr < 0)
		return ANATOMY_IO; /* a page fault, most often */
	switch (syscall_wait_kind(nr, arg)) {
	case WAIT_SLEEP:
		return ANATOMY_SLEEP;
	case WAIT_LOCK:
		return ANATOMY_LOCK;
	default:
		return ANATOMY_IO;
	}
}

static int by_time_desc(const void *a, const void *b)
{
	const struct anatomy_wait *x = a, *y = b;

	return (x->ms < y->ms) - (x->ms > y->ms);
}

bool anatomy_from_kernel(struct event_anatomy *out, const struct gap_anatomy *k, uint64_t gap_ns)
{
	struct event_anatomy a = { 0 };
	size_t n = k->nwaits < GAP_WAITS_MAX ? k->nwaits : GAP_WAITS_MAX;

	(void)gap_ns;
	if (!(k->flags & GAP_ANATOMY_F_MEASURED))
		return false;
	a.on_cpu_ms = (double)k->on_cpu_ns / 1e6;
	a.off_cpu_ms = (double)k->off_cpu_ns / 1e6;
	a.runqueue_ms = (double)k->runqueue_ns / 1e6;
	a.throttled_ms = (double)k->throttled_ns / 1e6;
	a.throttled = k->flags & GAP_ANATOMY_F_THROTTLED;
	a.share_ms[ANATOMY_CPU] = a.on_cpu_ms;
	a.share_ms[ANATOMY_RUNQUEUE] = a.runqueue_ms;
	a.share_ms[ANATOMY_THROTTLED] = a.throttled_ms;
	for (size_t i = 0; i < n; i++) {
		const struct gap_wait *kw = &k->waits[i];
		struct anatomy_wait *w = &a.waits[a.nwaits++];

		w->syscall = (long)kw->syscall;
		w->arg = kw->arg;
		w->ms = (double)kw->ns / 1e6;
		w->class = wait_class(w->syscall, w->arg);
		w->fd = w->syscall >= 0 && syscall_arg_is_fd(w->syscall) && kw->arg <= 0x7fffffff
				? (int)kw->arg : -1;
		syscall_describe(w->syscall, w->name, sizeof(w->name));
		a.share_ms[w->class] += w->ms;
	}
	qsort(a.waits, a.nwaits, sizeof(a.waits[0]), by_time_desc);
	if (k->other_wait_ns) {
		struct anatomy_wait *w = &a.waits[a.nwaits++];

		/* Of syscalls unknown here: counted as io, the widest class. */
		w->syscall = ANATOMY_OTHER_WAITS;
		w->fd = -1;
		w->ms = (double)k->other_wait_ns / 1e6;
		w->class = ANATOMY_IO;
		snprintf(w->name, sizeof(w->name), "other");
		a.share_ms[ANATOMY_IO] += w->ms;
	}
	for (int c = 1; c < ANATOMY_CLASSES; c++)
		if (a.share_ms[c] > a.share_ms[a.dominant])
			a.dominant = c;
	*out = a;
	return true;
}

bool anatomy_so_far(struct event_anatomy *out, const struct anatomy_slot *as,
		    uint64_t gap_start_ns, uint32_t gen, uint64_t now_ns)
{
	uint64_t gap_ns = now_ns > gap_start_ns ? now_ns - gap_start_ns : 0;
	struct gap_anatomy k = { .flags = GAP_ANATOMY_F_MEASURED, .on_cpu_ns = gap_ns };
	uint64_t open_ns;

	if (as->gap_start_ns != gap_start_ns || as->gen != gen)
		return anatomy_from_kernel(out, &k, gap_ns);
	k = as->a;
	/* The kernel's interval close (anatomy_close_interval()). */
	open_ns = now_ns > as->since_ns ? now_ns - as->since_ns : 0;
	switch (as->state) {
	case ANATOMY_ON_CPU:
		k.on_cpu_ns += open_ns;
		break;
	case ANATOMY_RUNNABLE:
		if (as->throttled) {
			k.throttled_ns += open_ns;
			k.flags |= GAP_ANATOMY_F_THROTTLED;
		} else {
			k.runqueue_ns += open_ns;
		}
		break;
	default:
		anatomy_add_wait(&k, as->wait_syscall, as->wait_arg, open_ns);
		break;
	}
	return anatomy_from_kernel(out, &k, gap_ns);
}

void anatomy_describe_fds(struct event_anatomy *a, pid_t pid)
{
	size_t described = 0;

	for (size_t i = 0; i < a->nwaits && described < ANATOMY_FDS_DESCRIBED; i++)
		if (a->waits[i].fd >= 0) {
			fd_describe(pid, a->waits[i].fd, a->waits[i].what, sizeof(a->waits[i].what));
			described++;
		}
}

const char *anatomy_main_wait(const struct event_anatomy *a, char *buf, size_t len)
{
	const struct anatomy_wait *w = a->nwaits ? &a->waits[0] : NULL;

	buf[0] = '\0';
	if (!w)
		return buf;
	if (w->fd >= 0 && w->what[0])
		snprintf(buf, len, "%.1f ms in %s on fd %d (%s)", w->ms, w->name, w->fd, w->what);
	else if (w->fd >= 0)
		snprintf(buf, len, "%.1f ms in %s on fd %d", w->ms, w->name, w->fd);
	else
		snprintf(buf, len, "%.1f ms in %s", w->ms, w->name);
	return buf;
}
