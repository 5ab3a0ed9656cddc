// SPDX-License-Identifier: Apache-2.0
/*
 * stream.c - Austin's stdout, whichever format it is in: the first bytes
 * decide. "MOJ" starts MOJO (Austin 4, or 3.x with -b); Austin 3.x in pipe
 * mode starts its text with "# ". Up to three bytes are held back until
 * the choice can be made.
 */
#include <stdlib.h>
#include <string.h>

#include "austin_parse.h"

struct austin_stream {
	struct austin_parse_cb cb;
	enum austin_format format;
	struct austin_text *text;
	struct austin_mojo *mojo;
	char head[3];
	size_t nhead;
	uint64_t bytes;
	char err[AUSTIN_ERR_MAX];
};

struct austin_stream *austin_stream_new(const struct austin_parse_cb *cb)
{
	struct austin_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cb = *cb;
	return s;
}

void austin_stream_free(struct austin_stream *s)
{
	if (!s)
		return;
	austin_text_free(s->text);
	austin_mojo_free(s->mojo);
	free(s);
}

static int start(struct austin_stream *s, enum austin_format f)
{
	s->format = f;
	if (f == AUSTIN_FORMAT_MOJO)
		s->mojo = austin_mojo_new(&s->cb);
	else
		s->text = austin_text_new(&s->cb);
	if (!s->mojo && !s->text) {
		strcpy(s->err, "out of memory");
		return -1;
	}
	return 0;
}

static int forward(struct austin_stream *s, const void *data, size_t n)
{
	if (s->mojo)
		return austin_mojo_feed(s->mojo, data, n);
	return austin_text_feed(s->text, data, n);
}

int austin_stream_feed(struct austin_stream *s, const void *data, size_t n)
{
	const char *d = data;

	if (s->err[0])
		return -1;
	s->bytes += n;
	if (s->format != AUSTIN_FORMAT_UNKNOWN)
		return forward(s, d, n);

	/* Gather the first bytes until they match "MOJ" or cannot. */
	while (n && s->nhead < 3 && d[0] == "MOJ"[s->nhead]) {
		s->head[s->nhead++] = d[0];
		d++;
		n--;
	}
	if (s->nhead < 3 && !n)
		return 0; /* a prefix of "MOJ" so far */
	if (start(s, s->nhead == 3 ? AUSTIN_FORMAT_MOJO : AUSTIN_FORMAT_TEXT))
		return -1;
	if (s->nhead && forward(s, s->head, s->nhead))
		return -1;
	return n ? forward(s, d, n) : 0;
}

int austin_stream_finish(struct austin_stream *s)
{
	if (s->err[0])
		return -1;
	if (s->format == AUSTIN_FORMAT_UNKNOWN) {
		if (!s->nhead)
			return 0; /* nothing at all: not an error of the stream */
		if (start(s, AUSTIN_FORMAT_TEXT) || forward(s, s->head, s->nhead))
			return -1;
	}
	return s->mojo ? austin_mojo_finish(s->mojo) : austin_text_finish(s->text);
}

const char *austin_stream_error(const struct austin_stream *s)
{
	if (s->err[0])
		return s->err;
	if (s->mojo)
		return austin_mojo_error(s->mojo);
	if (s->text)
		return austin_text_error(s->text);
	return "";
}

enum austin_format austin_stream_format(const struct austin_stream *s)
{
	return s->format;
}

uint64_t austin_stream_bytes(const struct austin_stream *s)
{
	return s->bytes;
}
