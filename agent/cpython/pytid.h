/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pytid.h - where glibc's struct pthread keeps the TID, inferred from the
 * target's own memory (internal to agent/cpython; for 3.8-3.10, whose
 * thread states hold only pthread_self()).
 */
#ifndef BLOCKSNOOP_CPYTHON_PYTID_H
#define BLOCKSNOOP_CPYTHON_PYTID_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bytes read at each pthread_t to look for the TID. */
#define PYTID_WINDOW 2048

/*
 * The known offset of `tid` in struct pthread, preferred when the
 * evidence allows several (0x2d0 on x86_64 glibc 2.26+), or 0 if none is
 * known for this build.
 */
uint32_t pytid_preferred_offset(void);

/*
 * Given a window of memory at each Python thread's pthread_t (windows[i],
 * lens[i] bytes), the set of TIDs the process really has (in the target's
 * own PID namespace) and its PID there (the main thread's TID), find a
 * 4-aligned offset at which every window holds a distinct valid TID and one
 * of them is the PID (the main thread runs Python). Among several, prefer
 * `preferred`, else the lowest. Pure.
 * Returns the number of offsets that fit (0 = none; >1 = ambiguous, a
 * guess), and the chosen one in *off.
 */
int pytid_infer_offset(const uint8_t *const *windows, const size_t *lens, int nthreads,
		       const pid_t *valid, int nvalid, pid_t main_tid, uint32_t preferred,
		       uint32_t *off);

#endif
