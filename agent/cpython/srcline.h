/* SPDX-License-Identifier: Apache-2.0 */
/*
 * srcline.h - one line of a text that arrives in pieces (internal to
 * agent/cpython; pure, fuzzed). pysource.c streams a target's source file
 * through it with a small buffer, so no file is ever held whole, and keeps
 * only the first bytes of the line it wants: a 16 MiB line costs what a
 * short one does.
 *
 * Lines end with '\n'; a final line without one counts, a final '\n' does
 * not start another. A UTF-8 BOM at the very start is skipped. The line is
 * returned without its leading and trailing whitespace (space, \t, \f, \v,
 * \r), cut to the room given at a UTF-8 character boundary.
 */
#ifndef BLOCKSNOOP_CPYTHON_SRCLINE_H
#define BLOCKSNOOP_CPYTHON_SRCLINE_H

#include <stdbool.h>
#include <stddef.h>

struct srcline {
	int want;         /* the line wanted, 1-based */
	int line;         /* the line the next byte belongs to */
	size_t offset;    /* bytes fed so far */
	bool bom_possible; /* the bytes so far are a prefix of a BOM */
	bool in_line;     /* a byte of the wanted line was seen */
	bool done;        /* nothing more is needed */
	bool cut;         /* the line did not fit */
	unsigned char after_cut; /* the first byte left out */
	char *out;        /* the caller's buffer */
	size_t room;      /* bytes of the line it can keep (its size - 1) */
	size_t len;       /* bytes kept */
};

/* Start looking for line want (>= 1) into out, of size outlen (>= 1). */
void srcline_init(struct srcline *s, int want, char *out, size_t outlen);

/* Feed the next n bytes. Returns true once the line is complete (or cut):
 * the rest of the text is not needed. */
bool srcline_feed(struct srcline *s, const char *buf, size_t n);

/*
 * At the end of the text (or once srcline_feed() said true): 0 and out holds
 * the line, trimmed and NUL-terminated; or -ERANGE if the text has fewer
 * lines (out is then "").
 */
int srcline_finish(struct srcline *s);

/* The longest prefix of s[0..len) of at most max bytes that does not end
 * inside a UTF-8 sequence (as far as s's bytes tell). */
size_t srcline_utf8_cut(const char *s, size_t len, size_t max);

#endif
