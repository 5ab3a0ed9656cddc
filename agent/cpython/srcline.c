// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>

#include "srcline.h"

static const unsigned char bom[3] = { 0xEF, 0xBB, 0xBF };

static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r';
}

void srcline_init(struct srcline *s, int want, char *out, size_t outlen)
{
	memset(s, 0, sizeof(*s));
	s->want = want;
	s->line = 1;
	s->bom_possible = true;
	s->out = out;
	s->room = outlen - 1;
	out[0] = '\0';
}

/* One byte of the text, the BOM already dealt with. */
static void take(struct srcline *s, unsigned char c)
{
	if (c == '\n') {
		if (s->line == s->want)
			s->in_line = s->done = true; /* possibly an empty line */
		else
			s->line++;
		return;
	}
	if (s->line != s->want)
		return;
	s->in_line = true;
	if (s->len == 0 && is_blank(c))
		return; /* leading whitespace is not kept */
	if (s->len == s->room) {
		s->cut = true;
		s->after_cut = c;
		s->done = true;
		return;
	}
	s->out[s->len++] = (char)c;
}

bool srcline_feed(struct srcline *s, const char *buf, size_t n)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t i;

	for (i = 0; i < n && !s->done; i++, s->offset++) {
		if (s->bom_possible && s->offset < 3) {
			if (p[i] == bom[s->offset]) {
				if (s->offset == 2) {
					s->bom_possible = false; /* a whole BOM: skipped */
					s->in_line = s->want == 1;
				}
				continue;
			}
			/* Not a BOM after all: its first bytes were text. */
			s->bom_possible = false;
			for (size_t k = 0; k < s->offset && !s->done; k++)
				take(s, bom[k]);
			if (s->done)
				break;
		}
		s->bom_possible = false;
		take(s, p[i]);
	}
	return s->done;
}

size_t srcline_utf8_cut(const char *s, size_t len, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n;

	if (len <= max)
		return len;
	/* u[n] is the first byte left out: back up while it continues a
	 * character that started before it. */
	for (n = max; n > 0 && (u[n] & 0xC0) == 0x80; n--)
		;
	return n;
}

int srcline_finish(struct srcline *s)
{
	size_t n = s->len;

	if (s->bom_possible) {
		/* The text was shorter than a BOM: what there was is text. */
		s->bom_possible = false;
		for (size_t k = 0; k < s->offset && !s->done; k++)
			take(s, bom[k]);
		n = s->len;
	}
	if (s->line != s->want || !s->in_line) {
		s->out[0] = '\0';
		return -ERANGE;
	}
	if (s->cut) {
		/* Back up to a character boundary: after_cut is the byte after. */
		unsigned char next = s->after_cut;

		while (n > 0 && (next & 0xC0) == 0x80)
			next = (unsigned char)s->out[--n];
	}
	while (n > 0 && is_blank((unsigned char)s->out[n - 1]))
		n--;
	s->out[n] = '\0';
	return 0;
}
