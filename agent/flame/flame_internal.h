/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flame_internal.h - what the two formats (flame_folded.c,
 * flame_speedscope.c) read of a collection (flame.c). Indices run from 0
 * to the count; the strings stay the collection's.
 */
#ifndef BLOCKSNOOP_FLAME_INTERNAL_H
#define BLOCKSNOOP_FLAME_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "flame.h"

unsigned flame_nframes(const struct flame *f);
unsigned flame_nstacks(const struct flame *f);
unsigned flame_nprofiles(const struct flame *f);

/* Frame i: its escaped name, its file (NULL for a bracketed frame) and
 * line (0 if none). */
void flame_frame_at(const struct flame *f, unsigned i, const char **name, const char **file,
		    int *line);

/* Stack i: its profile, its frames root first (indices of frames), its
 * time in microseconds. */
void flame_stack_at(const struct flame *f, unsigned i, unsigned *profile, const uint32_t **frames,
		    unsigned *depth, uint64_t *us);

/* Profile i: its thread loop (pid 0: FLAME_OTHER_THREADS), its process's
 * name ("" if unknown), its time in microseconds. */
void flame_profile_at(const struct flame *f, unsigned i, pid_t *pid, pid_t *tid,
		      const char **process_name, uint64_t *us);

#endif
