// SPDX-License-Identifier: Apache-2.0
/*
 * text.c - the Austin 3.x text format (pipe mode without -b).
 *
 *   # austin: 3.7.0                       metadata: header ...
 *   # interval: 33333
 *   # mode: wall
 *   # python: 3.11.7
 *                                         (blank line)
 *   P4242;T0:4242;/app/a.py:<module>:9;/app/a.py:Handler.block:31 33407
 *   P4242;T0:4250 33407                   (a thread without Python frames)
 *                                         (blank line)
 *   # duration: 1969333                   ... and footer
 *
 * A sample is "P<pid>;T<thread>" then ";<file>:<function>:<line>" per frame,
 * root first, then a space and the metric: microseconds (wall, cpu), bytes
 * (memory, may be negative) or "time,idle,bytes" (full). <thread> is
 * "<iid>:<tid>" from Austin 3.6, "<tid>" before. Austin's special frames
 * have an empty file and line: ":INVALID:" (a failed read), ":GC:" (-g).
 * File names may hold spaces and colons (the metric is after the last
 * space, the function and line after the last two colons); they cannot
 * hold ';' or a newline, which Austin does not escape.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "austin_parse.h"

enum text_mode { MODE_TIME, MODE_MEMORY, MODE_FULL };

struct austin_text {
	struct austin_parse_cb cb;
	char *line;             /* the line being assembled */
	size_t len, cap;
	unsigned long long lineno;
	enum text_mode mode;
	bool failed;
	char err[AUSTIN_ERR_MAX];
	struct austin_frame frames[AUSTIN_MAX_FRAMES];
};

static int fail(struct austin_text *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct austin_text *p, const char *fmt, ...)
{
	int n = snprintf(p->err, sizeof(p->err), "line %llu: ", p->lineno);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err + n, sizeof(p->err) - (size_t)n, fmt, ap);
	va_end(ap);
	p->failed = true;
	return -1;
}

/* Up to max bytes of s as printable ASCII (others as '?'), for messages. */
static void excerpt(const char *s, size_t n, char *out, size_t max)
{
	size_t i;

	for (i = 0; i < n && i + 1 < max; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[i] = '\0';
}

/* A decimal integer filling s[0..n): optional '-' if allow_neg, 1-18 digits. */
static bool parse_dec(const char *s, size_t n, bool allow_neg, long long *out)
{
	long long v = 0;
	bool neg = false;
	size_t i = 0;

	if (allow_neg && n && s[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == n || n - i > 18)
		return false;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = neg ? -v : v;
	return true;
}

static void on_meta(struct austin_text *p, char *line, size_t len)
{
	char *colon, *value;

	/* "# key: value"; other comment lines are ignored. */
	if (len < 3 || line[1] != ' ')
		return;
	colon = strchr(line + 2, ':');
	if (!colon || colon == line + 2)
		return;
	*colon = '\0';
	value = colon + 1;
	if (*value == ' ')
		value++;
	if (!strcmp(line + 2, "mode"))
		p->mode = !strcmp(value, "memory") ? MODE_MEMORY :
			  !strcmp(value, "full") ? MODE_FULL : MODE_TIME;
	if (p->cb.meta)
		p->cb.meta(p->cb.ctx, line + 2, value);
}

/* The metric after the last space: one or three comma-separated numbers. */
static int parse_metric(struct austin_text *p, const char *m, struct austin_sample *s)
{
	long long v[3];
	int n = 0;
	const char *start = m;

	for (;;) {
		const char *end = start + strcspn(start, ",");

		if (n == 3 || !parse_dec(start, (size_t)(end - start), true, &v[n]))
			return fail(p, "bad metric '%.32s'", m);
		n++;
		if (!*end)
			break;
		start = end + 1;
	}
	if (n == 3) {
		s->has_time = s->has_memory = true;
		s->time_us = v[0];
		s->idle = v[1] != 0;
		s->memory = v[2];
	} else if (n == 1 && p->mode == MODE_MEMORY) {
		s->has_memory = true;
		s->memory = v[0];
	} else if (n == 1) {
		s->has_time = true;
		s->time_us = v[0];
	} else {
		return fail(p, "bad metric '%.32s'", m);
	}
	return 0;
}

/* "file:function:line" in seg (NUL-terminated, modified in place). */
static int parse_frame(struct austin_text *p, char *seg, struct austin_frame *f,
		       struct austin_sample *s)
{
	char *last = strrchr(seg, ':'), *mid;
	long long line = 0;
	char ex[48];

	if (last) {
		*last = '\0';
		mid = strrchr(seg, ':');
		*last = ':';
	}
	if (!last || !mid) {
		excerpt(seg, strlen(seg), ex, sizeof(ex));
		return fail(p, "malformed frame '%s'", ex);
	}
	/* Austin prints the line with %d: CPython's "no line" is -1. */
	if (last[1] && !parse_dec(last + 1, strlen(last + 1), true, &line)) {
		excerpt(seg, strlen(seg), ex, sizeof(ex));
		return fail(p, "malformed frame '%s'", ex);
	}
	*mid = '\0';
	*last = '\0';
	f->file = seg;
	f->function = mid + 1;
	f->line = line < 0 ? 0 : line > INT_MAX ? INT_MAX : (int)line;
	if (!*seg) {
		if (!strcmp(f->function, "INVALID"))
			s->invalid = true;
		else if (!strcmp(f->function, "GC"))
			s->gc = true;
	}
	return 0;
}

static int on_sample(struct austin_text *p, char *line, size_t len)
{
	struct austin_sample s = { .iid = -1, .tid = -1, .frames = p->frames };
	char *space = strrchr(line, ' '), *thread, *end, *colon;
	long long pid;

	if (!space)
		return fail(p, "sample without a metric");
	*space = '\0';
	if (parse_metric(p, space + 1, &s))
		return -1;

	/* "P<pid>;T<thread>" */
	end = strchr(line, ';');
	if (!end || !parse_dec(line + 1, (size_t)(end - line - 1), false, &pid) || end[1] != 'T')
		return fail(p, "sample does not start with P<pid>;T");
	s.pid = pid;
	thread = end + 2;
	end = strchr(thread, ';');
	if (end)
		*end = '\0';
	colon = strchr(thread, ':');
	if (colon) {
		if (!parse_dec(thread, (size_t)(colon - thread), true, &s.iid))
			return fail(p, "bad interpreter id in T%.32s", thread);
		thread = colon + 1;
	}
	if (!*thread)
		return fail(p, "sample without a thread");
	s.thread = thread;
	if (!parse_dec(thread, strlen(thread), false, &s.tid))
		s.tid = -1;

	/* Frames, from the innermost (last) back: the frames are the bytes
	 * between the ';' after the thread and the metric's space. */
	if (end) {
		char *lo = end + 1, *seg_end = space;

		for (;;) {
			char *seg = seg_end;

			while (seg > lo && seg[-1] != ';')
				seg--;
			if (s.depth == AUSTIN_MAX_FRAMES) {
				s.truncated = true;
				break;
			}
			*seg_end = '\0';
			if (parse_frame(p, seg, &p->frames[s.depth], &s))
				return -1;
			s.depth++;
			if (seg == lo)
				break;
			seg_end = seg - 1;
		}
	}
	(void)len;
	if (p->cb.sample)
		p->cb.sample(p->cb.ctx, &s);
	return 0;
}

static int on_line(struct austin_text *p, char *line, size_t len)
{
	char ex[48];

	p->lineno++;
	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	if (!len)
		return 0;
	if (memchr(line, '\0', len))
		return fail(p, "binary data in Austin's text output");
	if (line[0] == '#') {
		on_meta(p, line, len);
		return 0;
	}
	if (line[0] == 'P' && len > 1 && line[1] >= '0' && line[1] <= '9')
		return on_sample(p, line, len);
	if (!strncmp(line, "Thread ", 7) || !strncmp(line, "Process ", 8))
		return fail(p, "this is the output format of Austin 1 or 2; blocksnoop needs Austin 3 or later");
	excerpt(line, len, ex, sizeof(ex));
	return fail(p, "unexpected output '%s'", ex);
}

struct austin_text *austin_text_new(const struct austin_parse_cb *cb)
{
	struct austin_text *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->cb = *cb;
	return p;
}

void austin_text_free(struct austin_text *p)
{
	if (!p)
		return;
	free(p->line);
	free(p);
}

static int append(struct austin_text *p, const char *data, size_t n)
{
	if (p->len + n + 1 > p->cap) {
		size_t cap = p->cap ? p->cap : 4096;
		char *bigger;

		while (cap < p->len + n + 1)
			cap *= 2;
		bigger = realloc(p->line, cap);
		if (!bigger)
			return fail(p, "out of memory");
		p->line = bigger;
		p->cap = cap;
	}
	memcpy(p->line + p->len, data, n);
	p->len += n;
	p->line[p->len] = '\0';
	return 0;
}

int austin_text_feed(struct austin_text *p, const void *data, size_t n)
{
	const char *d = data;

	if (p->failed)
		return -1;
	while (n) {
		const char *nl = memchr(d, '\n', n);
		size_t take = nl ? (size_t)(nl - d) : n;

		if (p->len + take > AUSTIN_MAX_LINE) {
			p->lineno++;
			return fail(p, "line longer than %d bytes", AUSTIN_MAX_LINE);
		}
		if (append(p, d, take))
			return -1;
		d += take;
		n -= take;
		if (!nl)
			break;
		d++;
		n--;
		if (on_line(p, p->line, p->len))
			return -1;
		p->len = 0;
	}
	return 0;
}

int austin_text_finish(struct austin_text *p)
{
	if (p->failed)
		return -1;
	if (p->len) {
		p->lineno++;
		return fail(p, "truncated: the output ends in the middle of a line");
	}
	return 0;
}

const char *austin_text_error(const struct austin_text *p)
{
	return p->err;
}
