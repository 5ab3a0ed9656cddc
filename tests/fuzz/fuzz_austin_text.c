// SPDX-License-Identifier: Apache-2.0
/* fuzz_austin_text - the Austin 3.x text parser (agent/austin/text.c), through the shared harness. */
#include "austin/austin_parse.h"

#define PARSER struct austin_text
#define PARSER_NEW austin_text_new
#define PARSER_FEED austin_text_feed
#define PARSER_FINISH austin_text_finish
#define PARSER_ERROR austin_text_error
#define PARSER_FREE austin_text_free
#include "austin_fuzz_harness.h"
