// SPDX-License-Identifier: Apache-2.0
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "anatomy.h"
#include "cpython/pygil.h"
#include "gil_wait.h"

void gil_tally_add(struct gil_tally *t, pid_t tid, uint64_t gil_addr, struct stack *st)
{
	struct gil_holder *h = NULL;

	t->gil_addr = gil_addr;
	for (unsigned i = 0; i < t->nholders; i++)
		if (t->holders[i].tid == tid)
			h = &t->holders[i];
	if (!h && t->nholders < GIL_HOLDERS_KEPT) {
		h = &t->holders[t->nholders++];
		h->tid = tid;
	}
	if (!h) {
		stack_release(st);
		return;
	}
	h->samples++;
	if (st->depth || !h->stack.depth) {
		struct stack fresh;

		if (stack_take(&fresh, st))
			return;
		stack_free(&h->stack);
		h->stack = fresh;
	} else {
		stack_release(st);
	}
}

void gil_tally_clear(struct gil_tally *t)
{
	for (unsigned i = 0; i < t->nholders; i++)
		stack_free(&t->holders[i].stack);
	memset(t, 0, sizeof(*t));
}

struct gil_wait *gil_tally_candidate(const struct gil_tally *t)
{
	const struct gil_holder *best = NULL;
	struct gil_wait *w;

	for (unsigned i = 0; i < t->nholders; i++)
		if (!best || t->holders[i].samples > best->samples)
			best = &t->holders[i];
	if (!best)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->holder_tid = best->tid;
	w->samples = best->samples;
	w->gil_addr = t->gil_addr;
	if (best->stack.depth && stack_copy(&w->stack, &best->stack))
		w->stack = (struct stack){ 0 };
	return w;
}

void gil_wait_confirm(struct gil_wait **w, const struct event_anatomy *a, double gap_ms)
{
	double asleep_ms = 0;

	if (!*w)
		return;
	for (size_t i = 0; a && i < a->nwaits; i++) {
		const struct anatomy_wait *x = &a->waits[i];

		if (x->syscall == SYS_futex && x->arg >= (*w)->gil_addr &&
		    x->arg - (*w)->gil_addr < PY_GIL_SPAN)
			asleep_ms += x->ms;
	}
	if (!a || gap_ms <= 0 || asleep_ms / gap_ms < GIL_SHARE_MIN) {
		gil_wait_free(*w);
		*w = NULL;
		return;
	}
	(*w)->share = asleep_ms / gap_ms;
}

void gil_wait_free(struct gil_wait *w)
{
	if (!w)
		return;
	stack_free(&w->stack);
	free(w);
}
