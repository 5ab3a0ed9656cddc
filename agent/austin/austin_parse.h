/* SPDX-License-Identifier: Apache-2.0 */
/*
 * austin_parse.h - parsers for what Austin writes on stdout in pipe mode (-P).
 *
 * Two formats exist (see docs/austin.md and the notes on Austin's formats):
 *
 *  - Austin 3.x text: "# key: value" metadata lines (a header, a blank
 *    line, samples, a blank line, a footer) and one sample per line,
 *    "P<pid>;T<iid>:<tid>;<file>:<function>:<line>;... <metric>", frames
 *    root first; before 3.6 the thread is "T<tid>". The tid is decimal.
 *  - MOJO (Austin 3.4+ with -b, the only format of Austin 4): "MOJ", the
 *    version as a MOJO integer (1..4), then events: one id byte and its
 *    fields (MOJO integers, NUL-terminated strings, references to strings
 *    and frames defined earlier). The tid is hexadecimal (or, in newer
 *    Austins, possibly a thread name).
 *
 * Both parsers are pure, incremental (fed arbitrary chunks, as read from a
 * pipe) and bounded in memory. Each is one self-contained module (text.c,
 * mojo.c) so that its fuzzer links it alone; stream.c picks one from the
 * first bytes of the stream.
 *
 * Parsed samples go to a callback with frames innermost first; the
 * strings they point to are valid only during the call. After an error
 * (garbage, or a stream that ends in the middle of a line or an event)
 * the parser takes no more input; its message is one line, without a
 * trailing newline, at most AUSTIN_ERR_MAX bytes.
 */
#ifndef BLOCKSNOOP_AUSTIN_PARSE_H
#define BLOCKSNOOP_AUSTIN_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Frames kept per sample: the innermost ones (as PY_MAX_DEPTH). */
#define AUSTIN_MAX_FRAMES 128
/* The longest text line, or MOJO string, accepted. */
#define AUSTIN_MAX_LINE (1024 * 1024)
#define AUSTIN_MAX_STRING 65536
#define AUSTIN_ERR_MAX 256

struct austin_frame {
	const char *function; /* qualified name from 3.11; "INVALID" for a failed read */
	const char *file;     /* "" for Austin's special frames (INVALID, GC) */
	int line;             /* 0 if none */
};

struct austin_sample {
	long long pid;
	long long iid;        /* interpreter id; -1 if the format has none */
	const char *thread;   /* the thread as written: "4242", "1a2b", or a name */
	long long tid;        /* the thread as a number (decimal in text, hex in
			       * MOJO); -1 if it is not a number */
	int depth;            /* frames kept, <= AUSTIN_MAX_FRAMES */
	bool truncated;       /* deeper than that: the outermost were dropped */
	const struct austin_frame *frames; /* innermost first */
	bool invalid;         /* Austin could not read (all of) the stack */
	bool gc;              /* the interpreter was collecting garbage */
	bool idle;            /* full mode: the thread was idle */
	bool has_time, has_memory;
	long long time_us;    /* wall or CPU time since the previous sample */
	long long memory;     /* memory delta in bytes (may be negative) */
};

struct austin_parse_cb {
	void (*sample)(void *ctx, const struct austin_sample *s);
	/* Metadata, header and footer alike: "austin" "3.7.0", "python"
	 * "3.11.7", "mode" "wall", "duration" ..., "errors" "0/94". May be NULL. */
	void (*meta)(void *ctx, const char *key, const char *value);
	void *ctx;
};

/* ---- text.c: the Austin 3.x text format ---------------------------------- */

struct austin_text;

struct austin_text *austin_text_new(const struct austin_parse_cb *cb);
void austin_text_free(struct austin_text *p);
/* Parse n more bytes. 0, or -1 on an error (then and from then on). */
int austin_text_feed(struct austin_text *p, const void *data, size_t n);
/* The stream ended: a partial last line is an error ("truncated"). */
int austin_text_finish(struct austin_text *p);
/* The error message, "" if none. */
const char *austin_text_error(const struct austin_text *p);

/* ---- mojo.c: MOJO, versions 1 to 4 --------------------------------------- */

struct austin_mojo;

struct austin_mojo *austin_mojo_new(const struct austin_parse_cb *cb);
void austin_mojo_free(struct austin_mojo *p);
int austin_mojo_feed(struct austin_mojo *p, const void *data, size_t n);
/* The stream ended: a pending sample is delivered, a partial event is an
 * error ("truncated"). */
int austin_mojo_finish(struct austin_mojo *p);
const char *austin_mojo_error(const struct austin_mojo *p);
/* The MOJO version from the header; 0 until it has been read. */
int austin_mojo_version(const struct austin_mojo *p);

/* ---- stream.c: either, chosen by the first bytes ------------------------- */

enum austin_format {
	AUSTIN_FORMAT_UNKNOWN = 0, /* nothing read yet */
	AUSTIN_FORMAT_TEXT,
	AUSTIN_FORMAT_MOJO,
};

struct austin_stream;

struct austin_stream *austin_stream_new(const struct austin_parse_cb *cb);
void austin_stream_free(struct austin_stream *s);
/* Bytes "MOJ" start MOJO; anything else is text (checked line by line). */
int austin_stream_feed(struct austin_stream *s, const void *data, size_t n);
int austin_stream_finish(struct austin_stream *s);
const char *austin_stream_error(const struct austin_stream *s);
enum austin_format austin_stream_format(const struct austin_stream *s);
/* Bytes fed so far. */
uint64_t austin_stream_bytes(const struct austin_stream *s);

#endif
