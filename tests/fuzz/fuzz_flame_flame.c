// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_flame_flame - frame names a target chooses, through both flame
 * graph writers (agent/flame/: flame.c, flame_folded.c,
 * flame_speedscope.c). The input makes a few blocks with stacks of frames
 * whose function and file names are its NUL-separated strings, counted in
 * a collection small enough that its limits are reached. Then:
 *   - every frame name (flame_frame_name()) is bounded, UTF-8, with no
 *     control byte and no ';';
 *   - every folded line is "frame;...;frame WEIGHT\n": one weight, whole
 *     and not 0, after the last space, and each ';'-separated field a whole
 *     frame name of the input (or a bracketed one), so no name was split;
 *     the weights add up to the blocked time rounded to the millisecond;
 *   - the speedscope file parses (cJSON), its samples name frames that
 *     exist and each has its weight.
 */
#include <assert.h>
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "flame/flame.h"
#include "stacks.h"

#define MAX_EVENTS 4
#define MAX_STACKS 3
#define MAX_DEPTH 5
#define MAX_NAMES (MAX_EVENTS * MAX_STACKS * MAX_DEPTH + 8)

struct input {
	const uint8_t *p, *end;
	char *strings; /* the input, NUL-terminated */
	size_t pos, size;
};

static unsigned next_byte(struct input *in)
{
	return in->p < in->end ? *in->p++ : 0;
}

/* The next string of the input, in turn (from its start again when used
 * up). */
static const char *next_string(struct input *in)
{
	const char *s;

	if (in->pos >= in->size)
		in->pos = 0;
	s = in->strings + in->pos;
	in->pos += strlen(s) + 1;
	return s;
}

static bool is_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t len = p[i] < 0x80 ? 1 : p[i] >= 0xc2 && p[i] <= 0xdf ? 2 :
			     p[i] >= 0xe0 && p[i] <= 0xef ? 3 : p[i] >= 0xf0 && p[i] <= 0xf4 ? 4 : 0;

		if (!len || i + len > n)
			return false;
		for (size_t k = 1; k < len; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
		i += len;
	}
	return true;
}

static char names[MAX_NAMES][FLAME_MAX_NAME + 1];
static unsigned nnames;

static void check_name(const char *function, const char *file, int line)
{
	char *out = names[nnames++];
	size_t n = flame_frame_name(function, file, line, out);

	assert(n == strlen(out) && n <= FLAME_MAX_NAME);
	assert(is_utf8(out, n));
	for (size_t i = 0; i < n; i++)
		assert((unsigned char)out[i] >= 0x20 && out[i] != 0x7f && out[i] != ';');
}

static bool is_known_name(const char *s, size_t n)
{
	static const char *const bracketed[] = { FLAME_NO_STACK, FLAME_TRUNCATED,
						 FLAME_OTHER_STACKS, FLAME_OTHER_FRAME };

	for (unsigned i = 0; i < sizeof(bracketed) / sizeof(bracketed[0]); i++)
		if (strlen(bracketed[i]) == n && !memcmp(bracketed[i], s, n))
			return true;
	for (unsigned i = 0; i < nnames; i++)
		if (strlen(names[i]) == n && !memcmp(names[i], s, n))
			return true;
	return false;
}

static void check_folded(const char *out, size_t len, uint64_t total_us)
{
	uint64_t sum = 0;

	assert(strlen(out) == len && is_utf8(out, len));
	for (const char *line = out; line < out + len;) {
		const char *nl = memchr(line, '\n', (size_t)(out + len - line));
		const char *space, *field;
		uint64_t weight = 0;

		assert(nl);
		space = memrchr(line, ' ', (size_t)(nl - line));
		assert(space && space > line && space + 1 < nl && space[1] != '0');
		for (const char *d = space + 1; d < nl; d++) {
			assert(*d >= '0' && *d <= '9');
			weight = weight * 10 + (uint64_t)(*d - '0');
		}
		sum += weight;
		for (field = line; field < space;) {
			const char *semi = memchr(field, ';', (size_t)(space - field));
			const char *stop = semi ? semi : space;

			assert(is_known_name(field, (size_t)(stop - field)));
			field = stop + 1;
		}
		line = nl + 1;
	}
	assert(sum == (total_us + 500) / 1000);
}

static void check_speedscope(const char *out, size_t len)
{
	cJSON *doc, *frames, *profiles, *prof;
	int nframes;

	assert(strlen(out) == len && is_utf8(out, len));
	doc = cJSON_ParseWithLength(out, len);
	assert(doc);
	frames = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "shared"),
						  "frames");
	profiles = cJSON_GetObjectItemCaseSensitive(doc, "profiles");
	assert(cJSON_IsArray(frames) && cJSON_IsArray(profiles));
	nframes = cJSON_GetArraySize(frames);
	for (int i = 0; i < nframes; i++) {
		cJSON *name = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(frames, i), "name");

		assert(cJSON_IsString(name) && is_known_name(name->valuestring, strlen(name->valuestring)));
	}
	cJSON_ArrayForEach(prof, profiles) {
		cJSON *samples = cJSON_GetObjectItemCaseSensitive(prof, "samples");
		cJSON *weights = cJSON_GetObjectItemCaseSensitive(prof, "weights");
		cJSON *sample, *frame;

		assert(cJSON_IsArray(samples) && cJSON_IsArray(weights));
		assert(cJSON_GetArraySize(samples) == cJSON_GetArraySize(weights));
		cJSON_ArrayForEach(sample, samples)
			cJSON_ArrayForEach(frame, sample)
				assert(cJSON_IsNumber(frame) && frame->valueint >= 0 &&
				       frame->valueint < nframes);
	}
	cJSON_Delete(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct flame_limits limits = { .max_stacks = 4, .max_frames = 12 };
	struct frame frames[MAX_EVENTS][MAX_STACKS][MAX_DEPTH];
	struct stack_count counts[MAX_EVENTS][MAX_STACKS];
	struct stack_set sets[MAX_EVENTS];
	struct input in = { .p = data, .end = data + size, .size = size };
	struct flame *f = flame_new(&limits);
	unsigned nevents;
	char *out;
	size_t len;

	in.strings = malloc(size + 1);
	if (!f || !in.strings)
		goto out;
	memcpy(in.strings, data, size);
	in.strings[size] = '\0';
	nnames = 0;
	nevents = next_byte(&in) % MAX_EVENTS + 1;
	for (unsigned e = 0; e < nevents; e++) {
		unsigned nstacks = next_byte(&in) % (MAX_STACKS + 1);
		struct blocking_event ev = {
			.number = e + 1,
			.duration_ms = (double)(next_byte(&in) << 8 | next_byte(&in)) / 7.0,
			.pid = (pid_t)(next_byte(&in) % 3 + 1),
			.tid = (pid_t)(next_byte(&in) % 2 + 1),
			.process_name = "python3",
			.stacks = &sets[e],
		};

		sets[e] = (struct stack_set){ .nstacks = nstacks, .stacks = counts[e] };
		for (unsigned s = 0; s < nstacks; s++) {
			unsigned depth = next_byte(&in) % (MAX_DEPTH + 1);

			counts[e][s] = (struct stack_count){
				.stack = { .depth = (int)depth, .frames = frames[e][s],
					   .truncated = next_byte(&in) & 1 },
				.samples = next_byte(&in) % 4,
			};
			for (unsigned d = 0; d < depth; d++) {
				struct frame *fr = &frames[e][s][d];

				fr->function = next_string(&in);
				fr->file = next_string(&in);
				fr->line = (int)next_byte(&in) - 8;
				check_name(fr->function, fr->file, fr->line);
			}
		}
		assert(!flame_add_event(f, &ev));
	}
	out = flame_folded(f, &len);
	assert(out);
	check_folded(out, len, flame_total_us(f));
	free(out);
	out = flame_speedscope(f, "fuzz", &len);
	assert(out);
	check_speedscope(out, len);
	free(out);
out:
	flame_free(f);
	free(in.strings);
	return 0;
}
