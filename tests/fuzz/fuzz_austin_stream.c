// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_austin_stream - Austin's stdout as blocksnoop reads it
 * (agent/austin/stream.c): the first bytes choose the text or the MOJO
 * parser, whatever the chunking, then every byte goes to it. Through the
 * shared harness, so a format chosen differently for a different
 * chunking shows as a different digest.
 */
#include "austin/austin_parse.h"

#define PARSER struct austin_stream
#define PARSER_NEW austin_stream_new
#define PARSER_FEED austin_stream_feed
#define PARSER_FINISH austin_stream_finish
#define PARSER_ERROR austin_stream_error
#define PARSER_FREE austin_stream_free
#include "austin_fuzz_harness.h"
