// SPDX-License-Identifier: Apache-2.0
#include <stdlib.h>
#include <string.h>

#include "gil_wait.h"

void gil_tally_add(struct gil_tally *t, pid_t tid, struct stack *st)
{
	struct gil_holder *h = NULL;

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

struct gil_wait *gil_tally_verdict(const struct gil_tally *t, unsigned total)
{
	const struct gil_holder *best = NULL;
	struct gil_wait *w;

	for (unsigned i = 0; i < t->nholders; i++)
		if (!best || t->holders[i].samples > best->samples)
			best = &t->holders[i];
	if (!best || !total || (double)best->samples / total < GIL_SHARE_MIN)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->holder_tid = best->tid;
	w->share = (double)best->samples / total;
	if (best->stack.depth && stack_copy(&w->stack, &best->stack))
		w->stack = (struct stack){ 0 };
	return w;
}

void gil_wait_free(struct gil_wait *w)
{
	if (!w)
		return;
	stack_free(&w->stack);
	free(w);
}
