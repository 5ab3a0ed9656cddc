// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stacks.h"

/*
 * The intern table: open addressing over FNV-1a hashes, grown at 50% load.
 * Strings are file names, function names and source lines of the code that
 * blocked: a few thousand per session at most.
 */
static struct {
	char **slots;
	size_t cap, used;
} strings;

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static int grow(void)
{
	size_t cap = strings.cap ? strings.cap * 2 : 256;
	char **slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < strings.cap; i++) {
		char *s = strings.slots[i];
		size_t j;

		if (!s)
			continue;
		for (j = fnv1a(s) & (cap - 1); slots[j]; j = (j + 1) & (cap - 1))
			;
		slots[j] = s;
	}
	free(strings.slots);
	strings.slots = slots;
	strings.cap = cap;
	return 0;
}

const char *intern(const char *s)
{
	size_t i;

	if (!s)
		return NULL;
	if (strings.used * 2 >= strings.cap && grow())
		return NULL;
	for (i = fnv1a(s) & (strings.cap - 1); strings.slots[i];
	     i = (i + 1) & (strings.cap - 1))
		if (!strcmp(strings.slots[i], s))
			return strings.slots[i];
	strings.slots[i] = strdup(s);
	if (!strings.slots[i])
		return NULL;
	strings.used++;
	return strings.slots[i];
}

bool stack_equal(const struct stack *a, const struct stack *b)
{
	if (a->depth != b->depth)
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
	if (!src->depth)
		return 0;
	dst->frames = malloc(src->depth * sizeof(*dst->frames));
	if (!dst->frames) {
		dst->depth = 0;
		return -ENOMEM;
	}
	memcpy(dst->frames, src->frames, src->depth * sizeof(*dst->frames));
	return 0;
}

void stack_free(struct stack *s)
{
	free(s->frames);
	s->frames = NULL;
	s->depth = 0;
}

void stack_set_free(struct stack_set *set)
{
	if (!set)
		return;
	for (unsigned i = 0; i < set->nstacks; i++)
		stack_free(&set->stacks[i].stack);
	free(set->stacks);
	free(set);
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
