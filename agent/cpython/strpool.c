// SPDX-License-Identifier: Apache-2.0
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strpool.h"

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int grow(struct strpool *sp)
{
	size_t ncap = sp->cap ? sp->cap * 2 : 256, i, j;
	char **slots = calloc(ncap, sizeof(*slots));

	if (!slots)
		return -1;
	for (i = 0; i < sp->cap; i++) {
		if (!sp->slots[i])
			continue;
		for (j = hash(sp->slots[i]) & (ncap - 1); slots[j]; j = (j + 1) & (ncap - 1))
			;
		slots[j] = sp->slots[i];
	}
	free(sp->slots);
	sp->slots = slots;
	sp->cap = ncap;
	return 0;
}

const char *strpool_intern(struct strpool *sp, const char *s)
{
	size_t i;

	if ((sp->used + 1) * 2 > sp->cap && grow(sp) < 0)
		return NULL;
	for (i = hash(s) & (sp->cap - 1); sp->slots[i]; i = (i + 1) & (sp->cap - 1))
		if (strcmp(sp->slots[i], s) == 0)
			return sp->slots[i];
	sp->slots[i] = strdup(s);
	if (!sp->slots[i])
		return NULL;
	sp->used++;
	sp->bytes += strlen(s) + 1;
	return sp->slots[i];
}

void strpool_free(struct strpool *sp)
{
	size_t i;

	for (i = 0; i < sp->cap; i++)
		free(sp->slots[i]);
	free(sp->slots);
	sp->slots = NULL;
	sp->cap = sp->used = sp->bytes = 0;
}
