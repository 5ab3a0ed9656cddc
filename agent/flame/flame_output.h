/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flame_output.h - a collection (flame.h) rendered in one of its formats
 * and written as a file, replaced whole (atomic_file.h). Shared by the
 * flame sinks (sink_flame.c, sink_flame_pods.c).
 */
#ifndef BLOCKSNOOP_FLAME_OUTPUT_H
#define BLOCKSNOOP_FLAME_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "flame.h"

enum flame_format {
	FLAME_FOLDED,     /* flame_folded() */
	FLAME_SPEEDSCOPE, /* flame_speedscope() */
};

#define FLAME_FILE_MODE 0640
#define FLAME_TITLE "blocksnoop: blocked time by Python stack"

/* Write f in format as name in dirfd (atomic_file_write(); title names a
 * speedscope file). 0, or -errno (-ENOMEM). */
int flame_write_at(int dirfd, const char *name, enum flame_format format, const struct flame *f,
		   const char *title);

/* One file the command line was given. */
struct flame_file {
	enum flame_format format;
	int dirfd;        /* its directory; -1: no such file asked for */
	char *name;       /* its last component */
	char *path;       /* as given, for messages */
	bool failing;     /* the last write failed (said once) */
};

/* No file yet. Cannot fail. */
void flame_file_init(struct flame_file *ff, enum flame_format format);

/*
 * The file at path: its directory opened (followed, as the operator's), its
 * name checked (a component that is not a directory). 0, or -1 and a
 * one-line reason in err.
 */
int flame_file_open(struct flame_file *ff, const char *path, char *err, size_t errlen);

/* The first write, at the start: 0 (also with no file), or -1 and a
 * one-line reason in err. */
int flame_file_write_first(struct flame_file *ff, const struct flame *f, char *err, size_t errlen);

/* Rewrite it (nothing with no file). A failure is said once on stderr, and
 * so is the recovery. */
void flame_file_write(struct flame_file *ff, const struct flame *f);

/* Close and free. Accepts a file never opened. */
void flame_file_close(struct flame_file *ff);

#endif
