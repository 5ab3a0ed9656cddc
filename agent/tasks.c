// SPDX-License-Identifier: Apache-2.0
/*
 * tasks.c - an asyncio task seen with a stack (see tasks.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cpython/pytask.h"
#include "options.h"
#include "stacks.h"
#include "tasks.h"

bool task_seen_equal(const struct task_seen *a, const struct task_seen *b)
{
	if (a->state != b->state || a->depth != b->depth || a->truncated != b->truncated ||
	    a->why != b->why)
		return false;
	for (int i = 0; i < a->depth; i++)
		if (a->chain[i].name != b->chain[i].name || a->chain[i].coro != b->chain[i].coro)
			return false;
	return true;
}

void task_seen_put(struct task_seen *t)
{
	for (int i = 0; i < t->depth; i++) {
		intern_put(t->chain[i].name);
		intern_put(t->chain[i].coro);
	}
	intern_put(t->why);
	memset(t, 0, sizeof(*t));
}

int task_seen_copy(struct task_seen *dst, const struct task_seen *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->state = src->state;
	dst->truncated = src->truncated;
	if (src->why && !(dst->why = intern(src->why)))
		goto nomem;
	for (int i = 0; i < src->depth && i < TASK_CHAIN_MAX; i++) {
		dst->chain[i].name = intern(src->chain[i].name);
		dst->chain[i].coro = intern(src->chain[i].coro);
		dst->depth = i + 1;
		if (!dst->chain[i].name || !dst->chain[i].coro)
			goto nomem;
	}
	return 0;
nomem:
	task_seen_put(dst);
	return -ENOMEM;
}

void task_seen_from_py(struct task_seen *dst, const struct py_task *src)
{
	struct task_seen t = { 0 };

	switch (src->state) {
	case PY_TASK_RUNNING:
		t.state = TASK_RUNNING;
		t.truncated = src->truncated;
		for (int i = 0; i < src->depth && i < TASK_CHAIN_MAX; i++) {
			t.chain[i].name = src->chain[i].name;
			t.chain[i].coro = src->chain[i].coro;
			t.depth = i + 1;
		}
		break;
	case PY_TASK_NONE:
		t.state = TASK_NONE;
		break;
	default:
		t.state = TASK_UNAVAILABLE;
		t.why = src->why;
		break;
	}
	if (task_seen_copy(dst, &t) == 0)
		return;
	dst->state = TASK_UNAVAILABLE;
	dst->why = intern("out of memory");
}

const char *task_state_name(enum task_state s)
{
	switch (s) {
	case TASK_RUNNING:
		return "running";
	case TASK_NONE:
		return "no_task";
	default:
		return "unavailable";
	}
}

void task_format_chain(const struct task_seen *t, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < t->depth && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s (%s)",
				 i == 0 ? "" : " \xe2\x86\x90 awaited by ",
				 t->chain[i].name ? t->chain[i].name : "?",
				 t->chain[i].coro ? t->chain[i].coro : "?");

		if (n < 0)
			break;
		used += (size_t)n;
	}
	if (t->truncated && used < len)
		snprintf(buf + used, len - used, " \xe2\x86\x90 ...");
}

const struct task_seen *event_task(const struct stack_set *set, int sampler, const char **why)
{
	const struct task_seen *t;

	*why = NULL;
	if (!set) {
		*why = STACKS_SAMPLING_OFF;
		return NULL;
	}
	if (!set->nstacks) {
		*why = "no stack sample of the block";
		return NULL;
	}
	t = &set->stacks[0].stack.task;
	if (t->state == TASK_UNAVAILABLE) {
		*why = t->why ? t->why : "it could not be read";
		return NULL;
	}
	if (t->state == TASK_NOT_READ) {
		*why = sampler == SAMPLER_AUSTIN ? "the Austin sampler does not read asyncio tasks"
						 : "the sampler does not read asyncio tasks";
		return NULL;
	}
	return t;
}
