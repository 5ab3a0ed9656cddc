/* SPDX-License-Identifier: Apache-2.0 */
/*
 * austin_fuzz_harness.h - the libFuzzer harness both Austin parsers share:
 * the input is fed three ways (at once, in chunks of 1 + size % 13 bytes,
 * and byte by byte for inputs up to 4 KiB); every way must give the same
 * samples, metadata and result (the parsers are incremental), and every
 * sample must be well formed: depth within bounds, every string readable.
 *
 * The including file names its parser first: PARSER (the struct type) and
 * PARSER_NEW, PARSER_FEED, PARSER_FINISH, PARSER_ERROR, PARSER_FREE.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "austin/austin_parse.h"

struct digest {
	uint64_t h;
	unsigned samples, metas;
};

static void mix(struct digest *d, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		d->h = (d->h ^ b[i]) * 0x100000001b3ULL;
}

static void mix_str(struct digest *d, const char *s)
{
	mix(d, s, strlen(s) + 1);
}

static void on_sample(void *ctx, const struct austin_sample *s)
{
	struct digest *d = ctx;

	if (s->depth < 0 || s->depth > AUSTIN_MAX_FRAMES || !s->thread ||
	    (s->depth && !s->frames))
		abort();
	d->samples++;
	mix(d, &s->pid, sizeof(s->pid));
	mix(d, &s->iid, sizeof(s->iid));
	mix(d, &s->tid, sizeof(s->tid));
	mix_str(d, s->thread);
	for (int i = 0; i < s->depth; i++) {
		if (!s->frames[i].function || !s->frames[i].file)
			abort();
		mix_str(d, s->frames[i].function);
		mix_str(d, s->frames[i].file);
		mix(d, &s->frames[i].line, sizeof(s->frames[i].line));
	}
	mix(d, &s->time_us, sizeof(s->time_us));
	mix(d, &s->memory, sizeof(s->memory));
	mix(d, (unsigned char[]){ s->truncated, s->invalid, s->gc, s->idle, s->has_time,
				 s->has_memory }, 6);
}

static void on_meta(void *ctx, const char *key, const char *value)
{
	struct digest *d = ctx;

	d->metas++;
	mix_str(d, key);
	mix_str(d, value);
}

static struct digest run(const uint8_t *data, size_t size, size_t chunk, int *result)
{
	struct digest d = { .h = 0xcbf29ce484222325ULL };
	struct austin_parse_cb cb = { on_sample, on_meta, &d };
	PARSER *p = PARSER_NEW(&cb);
	int ret = 0;

	if (!p)
		abort();
	for (size_t off = 0; off < size && !ret; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		ret = PARSER_FEED(p, data + off, n);
	}
	if (!ret)
		ret = PARSER_FINISH(p);
	if (strlen(PARSER_ERROR(p)) >= AUSTIN_ERR_MAX || (ret && !*PARSER_ERROR(p)) ||
	    strchr(PARSER_ERROR(p), '\n'))
		abort();
	*result = ret;
	PARSER_FREE(p);
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int r1, r2, r3;
	struct digest a = run(data, size, size ? size : 1, &r1);
	struct digest b = run(data, size, 1 + size % 13, &r2);

	if (r1 != r2 || a.h != b.h || a.samples != b.samples || a.metas != b.metas)
		abort();
	if (size <= 4096) {
		struct digest c = run(data, size, 1, &r3);

		if (r1 != r3 || a.h != c.h)
			abort();
	}
	return 0;
}
