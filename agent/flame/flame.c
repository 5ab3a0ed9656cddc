// SPDX-License-Identifier: Apache-2.0
/*
 * flame.c - blocked time by Python stack (flame.h): the frames table, the
 * distinct stacks with their time, the profiles of thread loops.
 *
 * A stack is kept root first, as both formats write it, as indices into
 * the frames table; stacks are found again by a hash of those indices and
 * a comparison, frames by a hash table of their names.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flame.h"
#include "flame_internal.h"
#include "stacks.h"

struct flame_frame {
	char *name;  /* escaped, as flame_frame_name() makes it */
	char *file;  /* escaped; NULL for the bracketed frames */
	int line;
};

struct flame_stack {
	unsigned profile;
	unsigned depth;
	uint32_t *frames; /* root first */
	uint64_t hash;
	uint64_t us;
};

struct flame_profile {
	pid_t pid, tid;   /* 0, 0: FLAME_OTHER_THREADS */
	char process_name[PROCESS_NAME_LEN];
	uint64_t us;
};

struct flame {
	struct flame_limits limits;
	struct flame_frame *frames;
	unsigned nframes;
	uint32_t *frame_slots;  /* hash table: frame index + 1, 0 = empty */
	unsigned nslots;        /* a power of two, > 2 * max_frames */
	struct flame_stack *stacks;
	unsigned nstacks, stacks_cap;
	struct flame_profile profiles[FLAME_MAX_PROFILES + 1];
	unsigned nprofiles;
	uint64_t total_us;
};

/* ---- names -------------------------------------------------------------------- */

/* Length of the UTF-8 character at s (n bytes available), or 0 if the
 * bytes there are not one (overlong forms and surrogates included). */
static size_t utf8_char_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* Append s, escaped (flame.h), to out at *used, keeping room for "...".
 * False once something had to be cut. */
static bool append_escaped(char *out, size_t *used, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "?");
	size_t n = strlen((const char *)p);
	const size_t room = FLAME_MAX_NAME - 3;

	while (n) {
		char piece[8];
		size_t plen, clen = utf8_char_len(p, n);

		if (clen == 1 && *p == '\\')
			plen = (size_t)snprintf(piece, sizeof(piece), "\\\\");
		else if (clen == 1 && (*p < 0x20 || *p == 0x7f || *p == ';'))
			plen = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", *p);
		else if (clen == 0)
			plen = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", *p), clen = 1;
		else
			memcpy(piece, p, clen), plen = clen;
		if (*used + plen > room)
			return false;
		memcpy(out + *used, piece, plen);
		*used += plen;
		p += clen;
		n -= clen;
	}
	return true;
}

static bool append_plain(char *out, size_t *used, const char *s)
{
	size_t n = strlen(s);

	if (*used + n > FLAME_MAX_NAME - 3)
		return false;
	memcpy(out + *used, s, n);
	*used += n;
	return true;
}

size_t flame_frame_name(const char *function, const char *file, int line, char *out)
{
	char num[24];
	size_t used = 0;
	bool whole;

	snprintf(num, sizeof(num), ":%d)", line);
	whole = append_escaped(out, &used, function) && append_plain(out, &used, " (") &&
		append_escaped(out, &used, file) && append_plain(out, &used, line > 0 ? num : ")");
	if (!whole) {
		memcpy(out + used, "...", 3);
		used += 3;
	}
	out[used] = '\0';
	return used;
}

static char *escaped_copy(const char *s)
{
	char out[FLAME_MAX_NAME + 1];
	size_t used = 0;

	if (!append_escaped(out, &used, s)) {
		memcpy(out + used, "...", 3);
		used += 3;
	}
	out[used] = '\0';
	return strdup(out);
}

/* ---- frames ------------------------------------------------------------------- */

static uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	/* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}
#define HASH_SEED 0xcbf29ce484222325ULL

/* The index of the frame named name (made if new, with file and line; the
 * last kept frame, FLAME_OTHER_FRAME, once the table is full), or -ENOMEM. */
static long frame_index(struct flame *f, const char *name, const char *file, int line)
{
	uint64_t h = hash_bytes(HASH_SEED, name, strlen(name));
	unsigned mask = f->nslots - 1, i = (unsigned)h & mask;
	struct flame_frame *fr;

	for (; f->frame_slots[i]; i = (i + 1) & mask)
		if (!strcmp(f->frames[f->frame_slots[i] - 1].name, name))
			return f->frame_slots[i] - 1;
	/* The last slot of the table is kept for FLAME_OTHER_FRAME. */
	if (f->nframes + 1 >= f->limits.max_frames && strcmp(name, FLAME_OTHER_FRAME))
		return frame_index(f, FLAME_OTHER_FRAME, NULL, 0);
	fr = &f->frames[f->nframes];
	fr->name = strdup(name);
	fr->file = file ? escaped_copy(file) : NULL;
	fr->line = line;
	if (!fr->name || (file && !fr->file)) {
		free(fr->name);
		free(fr->file);
		return -ENOMEM;
	}
	f->frame_slots[i] = ++f->nframes;
	return f->nframes - 1;
}

static long python_frame_index(struct flame *f, const struct frame *pf)
{
	char name[FLAME_MAX_NAME + 1];

	flame_frame_name(pf->function, pf->file, pf->line, name);
	return frame_index(f, name, pf->file ? pf->file : "?", pf->line);
}

/* ---- stacks and profiles -------------------------------------------------------- */

/* The profile of e's thread: its own, or FLAME_OTHER_THREADS when all are
 * taken. */
static unsigned profile_index(struct flame *f, const struct blocking_event *e)
{
	unsigned i;

	for (i = 0; i < f->nprofiles; i++)
		if (f->profiles[i].pid == e->pid && f->profiles[i].tid == e->tid)
			return i;
	if (f->nprofiles == FLAME_MAX_PROFILES) {
		for (i = 0; i < f->nprofiles; i++)
			if (!f->profiles[i].pid)
				return i;
		f->profiles[f->nprofiles] = (struct flame_profile){ 0 };
		return f->nprofiles++;
	}
	f->profiles[f->nprofiles] = (struct flame_profile){ .pid = e->pid, .tid = e->tid };
	snprintf(f->profiles[f->nprofiles].process_name, PROCESS_NAME_LEN, "%s",
		 e->process_name ? e->process_name : "");
	return f->nprofiles++;
}

static struct flame_stack *find_stack(struct flame *f, unsigned profile, const uint32_t *frames,
				      unsigned depth, uint64_t hash)
{
	for (unsigned i = 0; i < f->nstacks; i++) {
		struct flame_stack *s = &f->stacks[i];

		if (s->hash == hash && s->profile == profile && s->depth == depth &&
		    !memcmp(s->frames, frames, depth * sizeof(*frames)))
			return s;
	}
	return NULL;
}

/*
 * Add us to the stack frames[0..depth) (root first) of profile: an existing
 * one, a new one, or once max_stacks are kept the profile's
 * FLAME_OTHER_STACKS. 0 or -ENOMEM.
 */
static int add_time(struct flame *f, unsigned profile, const uint32_t *frames, unsigned depth,
		    uint64_t us)
{
	uint64_t hash = hash_bytes(HASH_SEED, frames, depth * sizeof(*frames));
	struct flame_stack *s = find_stack(f, profile, frames, depth, hash);
	uint32_t other;
	long idx;

	if (!s && f->nstacks >= f->limits.max_stacks) {
		idx = frame_index(f, FLAME_OTHER_STACKS, NULL, 0);
		if (idx < 0)
			return (int)idx;
		other = (uint32_t)idx;
		hash = hash_bytes(HASH_SEED, &other, sizeof(other));
		s = find_stack(f, profile, &other, 1, hash);
		frames = &other;
		depth = 1;
	}
	if (!s) {
		if (f->nstacks == f->stacks_cap) {
			/* The FLAME_OTHER_STACKS stacks, one a profile, may go
			 * beyond max_stacks. */
			unsigned cap = f->stacks_cap ? f->stacks_cap * 2 : 16;
			struct flame_stack *grown = reallocarray(f->stacks, cap, sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			f->stacks = grown;
			f->stacks_cap = cap;
		}
		s = &f->stacks[f->nstacks];
		*s = (struct flame_stack){ .profile = profile, .depth = depth, .hash = hash };
		s->frames = malloc(depth * sizeof(*frames));
		if (!s->frames)
			return -ENOMEM;
		memcpy(s->frames, frames, depth * sizeof(*frames));
		f->nstacks++;
	}
	s->us += us;
	f->profiles[profile].us += us;
	f->total_us += us;
	return 0;
}

/* The frames of st, root first, into frames (FLAME_MAX_DEPTH + 1): its
 * depth, or -ENOMEM. */
static long stack_frames(struct flame *f, const struct stack *st, uint32_t *frames)
{
	unsigned depth = 0, keep = st->depth > FLAME_MAX_DEPTH ? FLAME_MAX_DEPTH : (unsigned)st->depth;
	long idx;

	if (st->truncated || (unsigned)st->depth > keep) {
		idx = frame_index(f, FLAME_TRUNCATED, NULL, 0);
		if (idx < 0)
			return idx;
		frames[depth++] = (uint32_t)idx;
	}
	/* st->frames is innermost first: its root is at keep - 1. */
	for (int i = (int)keep - 1; i >= 0; i--) {
		idx = python_frame_index(f, &st->frames[i]);
		if (idx < 0)
			return idx;
		frames[depth++] = (uint32_t)idx;
	}
	return depth;
}

int flame_add_event(struct flame *f, const struct blocking_event *e)
{
	uint32_t frames[FLAME_MAX_DEPTH + 1];
	const struct stack_set *set = e->stacks;
	uint64_t us = e->duration_ms > 0 ? (uint64_t)(e->duration_ms * 1000.0 + 0.5) : 0;
	uint64_t samples = 0, seen = 0, given = 0;
	unsigned profile = profile_index(f, e);
	long depth;
	int err;

	for (unsigned i = 0; set && i < set->nstacks; i++)
		samples += set->stacks[i].samples;
	if (!samples) {
		depth = frame_index(f, FLAME_NO_STACK, NULL, 0);
		if (depth < 0)
			return (int)depth;
		frames[0] = (uint32_t)depth;
		return add_time(f, profile, frames, 1, us);
	}
	/* Each stack gets its share of the samples seen so far, less what
	 * those before it got: the shares add up to us exactly. */
	for (unsigned i = 0; i < set->nstacks; i++) {
		uint64_t upto;

		seen += set->stacks[i].samples;
		upto = (uint64_t)((unsigned __int128)us * seen / samples);
		depth = stack_frames(f, &set->stacks[i].stack, frames);
		if (depth < 0)
			return (int)depth;
		if (!depth) {
			err = (int)(depth = frame_index(f, FLAME_NO_STACK, NULL, 0));
			if (depth < 0)
				return err;
			frames[0] = (uint32_t)depth;
			depth = 1;
		}
		err = add_time(f, profile, frames, (unsigned)depth, upto - given);
		if (err)
			return err;
		given = upto;
	}
	return 0;
}

bool flame_is_empty(const struct flame *f)
{
	return f->nstacks == 0;
}

uint64_t flame_total_us(const struct flame *f)
{
	return f->total_us;
}

/* ---- the collection ----------------------------------------------------------- */

struct flame *flame_new(const struct flame_limits *limits)
{
	struct flame *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->limits = *limits;
	if (f->limits.max_frames < 8)
		f->limits.max_frames = 8;
	if (f->limits.max_stacks < 1)
		f->limits.max_stacks = 1;
	for (f->nslots = 16; f->nslots <= 2 * f->limits.max_frames; f->nslots *= 2)
		;
	f->frames = calloc(f->limits.max_frames, sizeof(*f->frames));
	f->frame_slots = calloc(f->nslots, sizeof(*f->frame_slots));
	if (!f->frames || !f->frame_slots) {
		flame_free(f);
		return NULL;
	}
	return f;
}

void flame_free(struct flame *f)
{
	if (!f)
		return;
	for (unsigned i = 0; i < f->nframes; i++) {
		free(f->frames[i].name);
		free(f->frames[i].file);
	}
	for (unsigned i = 0; i < f->nstacks; i++)
		free(f->stacks[i].frames);
	free(f->frames);
	free(f->frame_slots);
	free(f->stacks);
	free(f);
}

/* ---- the formats' access (flame_internal.h) ------------------------------------ */

unsigned flame_nframes(const struct flame *f) { return f->nframes; }
unsigned flame_nstacks(const struct flame *f) { return f->nstacks; }
unsigned flame_nprofiles(const struct flame *f) { return f->nprofiles; }

void flame_frame_at(const struct flame *f, unsigned i, const char **name, const char **file,
		    int *line)
{
	*name = f->frames[i].name;
	*file = f->frames[i].file;
	*line = f->frames[i].line;
}

void flame_stack_at(const struct flame *f, unsigned i, unsigned *profile, const uint32_t **frames,
		    unsigned *depth, uint64_t *us)
{
	*profile = f->stacks[i].profile;
	*frames = f->stacks[i].frames;
	*depth = f->stacks[i].depth;
	*us = f->stacks[i].us;
}

void flame_profile_at(const struct flame *f, unsigned i, pid_t *pid, pid_t *tid,
		      const char **process_name, uint64_t *us)
{
	*pid = f->profiles[i].pid;
	*tid = f->profiles[i].tid;
	*process_name = f->profiles[i].process_name;
	*us = f->profiles[i].us;
}
