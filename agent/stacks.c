// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gil_wait.h"
#include "stacks.h"

/*
 * The intern table: open addressing over FNV-1a hashes, linear probing,
 * grown at 50% load and shrunk at 1/8; backward-shift deletion. Each string
 * carries its reference count: a target that invents a new function name
 * for every call must not grow the table, so a string lives only while a
 * frame that some pending gap, event or call site keeps refers to it.
 */
struct istr {
	size_t refs;
	char s[];
};

static struct {
	struct istr **slots;
	size_t cap, used;
} strings;

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static int rehash(size_t cap)
{
	struct istr **slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < strings.cap; i++) {
		struct istr *is = strings.slots[i];
		size_t j;

		if (!is)
			continue;
		for (j = fnv1a(is->s) & (cap - 1); slots[j]; j = (j + 1) & (cap - 1))
			;
		slots[j] = is;
	}
	free(strings.slots);
	strings.slots = slots;
	strings.cap = cap;
	return 0;
}

const char *intern(const char *s)
{
	struct istr *is;
	size_t i, len;

	if (!s)
		return NULL;
	if (strings.used * 2 >= strings.cap &&
	    rehash(strings.cap ? strings.cap * 2 : 256))
		return NULL;
	for (i = fnv1a(s) & (strings.cap - 1); strings.slots[i];
	     i = (i + 1) & (strings.cap - 1)) {
		if (!strcmp(strings.slots[i]->s, s)) {
			strings.slots[i]->refs++;
			return strings.slots[i]->s;
		}
	}
	len = strlen(s);
	is = malloc(sizeof(*is) + len + 1);
	if (!is)
		return NULL;
	is->refs = 1;
	memcpy(is->s, s, len + 1);
	strings.slots[i] = is;
	strings.used++;
	return is->s;
}

void intern_put(const char *s)
{
	size_t mask = strings.cap - 1, i, j;

	if (!s || !strings.cap)
		return;
	for (i = fnv1a(s) & mask; strings.slots[i]; i = (i + 1) & mask)
		if (strings.slots[i]->s == s)
			break;
	if (!strings.slots[i] || --strings.slots[i]->refs)
		return; /* not interned (ignored), or still referred to */
	free(strings.slots[i]);
	strings.slots[i] = NULL;
	strings.used--;
	/* Backward shift: keep every probe chain whole. */
	for (j = (i + 1) & mask; strings.slots[j]; j = (j + 1) & mask) {
		struct istr *moved = strings.slots[j];
		size_t k;

		strings.slots[j] = NULL;
		for (k = fnv1a(moved->s) & mask; strings.slots[k]; k = (k + 1) & mask)
			;
		strings.slots[k] = moved;
	}
	if (strings.cap > 256 && strings.used * 8 < strings.cap)
		rehash(strings.cap / 2); /* out of memory: stays as large */
}

size_t intern_count(void)
{
	return strings.used;
}

/* Give back the references of frames[0..n). */
static void frames_put(struct frame *frames, int n)
{
	for (int i = 0; i < n; i++) {
		intern_put(frames[i].function);
		intern_put(frames[i].file);
		intern_put(frames[i].source);
	}
}

bool stack_equal(const struct stack *a, const struct stack *b)
{
	if (a->depth != b->depth || !task_seen_equal(&a->task, &b->task))
		return false;
	/* Interned strings: equal strings are the same pointer. */
	for (int i = 0; i < a->depth; i++)
		if (a->frames[i].function != b->frames[i].function ||
		    a->frames[i].file != b->frames[i].file ||
		    a->frames[i].line != b->frames[i].line)
			return false;
	return true;
}

int stack_copy(struct stack *dst, const struct stack *src)
{
	*dst = (struct stack){ .depth = src->depth, .truncated = src->truncated };
	if (task_seen_copy(&dst->task, &src->task)) {
		dst->depth = 0;
		return -ENOMEM;
	}
	if (!src->depth)
		return 0;
	dst->frames = malloc(src->depth * sizeof(*dst->frames));
	if (!dst->frames) {
		dst->depth = 0;
		task_seen_put(&dst->task);
		return -ENOMEM;
	}
	for (int i = 0; i < src->depth; i++) {
		const struct frame *f = &src->frames[i];
		struct frame *d = &dst->frames[i];

		*d = (struct frame){ .function = intern(f->function), .file = intern(f->file),
				     .line = f->line, .source = intern(f->source) };
		if ((f->function && !d->function) || (f->file && !d->file) ||
		    (f->source && !d->source)) {
			dst->depth = i + 1;
			stack_free(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

int stack_take(struct stack *dst, struct stack *src)
{
	*dst = (struct stack){ .depth = src->depth, .truncated = src->truncated,
			       .task = src->task };
	memset(&src->task, 0, sizeof(src->task)); /* its references are dst's now */
	if (src->depth) {
		dst->frames = malloc(src->depth * sizeof(*dst->frames));
		if (!dst->frames) {
			dst->depth = 0;
			task_seen_put(&dst->task);
			stack_release(src);
			return -ENOMEM;
		}
		memcpy(dst->frames, src->frames, src->depth * sizeof(*dst->frames));
	}
	src->depth = 0;
	return 0;
}

void stack_release(struct stack *s)
{
	frames_put(s->frames, s->depth);
	s->depth = 0;
	task_seen_put(&s->task);
}

void stack_free(struct stack *s)
{
	stack_release(s);
	free(s->frames);
	s->frames = NULL;
}

void stack_set_free(struct stack_set *set)
{
	if (!set)
		return;
	for (unsigned i = 0; i < set->nstacks; i++)
		stack_free(&set->stacks[i].stack);
	free(set->stacks);
	free(set->unavailable);
	gil_wait_free(set->gil);
	free(set);
}

struct stack_set *stack_set_unavailable(unsigned total_samples, const char *why)
{
	struct stack_set *set = calloc(1, sizeof(*set));

	if (!set)
		return NULL;
	set->total_samples = total_samples;
	set->unavailable = strdup(why);
	if (!set->unavailable) {
		free(set);
		return NULL;
	}
	return set;
}

const char *stack_set_why_none(const struct stack_set *set)
{
	if (!set)
		return STACKS_SAMPLING_OFF;
	if (set->nstacks)
		return NULL;
	return set->unavailable ? set->unavailable : "no stack was sampled during the block";
}

bool frame_is_loop_machinery(const struct frame *f)
{
	static regex_t re;
	static int compiled; /* 0 not yet, 1 ok, -1 failed */

	if (!f->file)
		return false;
	if (!compiled)
		compiled = regcomp(&re,
				   "/lib/python[0-9.]+/(asyncio/[^/]+|selectors\\.py|threading\\.py)$",
				   REG_EXTENDED | REG_NOSUB) ? -1 : 1;
	return compiled == 1 && regexec(&re, f->file, 0, NULL, 0) == 0;
}

const struct frame *stack_culprit(const struct stack *s)
{
	if (!s->depth)
		return NULL;
	for (int i = 0; i < s->depth; i++)
		if (!frame_is_loop_machinery(&s->frames[i]))
			return &s->frames[i];
	return &s->frames[0];
}
