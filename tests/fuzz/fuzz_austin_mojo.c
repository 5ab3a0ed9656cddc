// SPDX-License-Identifier: Apache-2.0
/* fuzz_austin_mojo - the Austin MOJO parser (agent/austin/mojo.c), through the shared harness. */
#include "austin/austin_parse.h"

#define PARSER struct austin_mojo
#define PARSER_NEW austin_mojo_new
#define PARSER_FEED austin_mojo_feed
#define PARSER_FINISH austin_mojo_finish
#define PARSER_ERROR austin_mojo_error
#define PARSER_FREE austin_mojo_free
#include "austin_fuzz_harness.h"
