/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nsexec_internal.h - what the spawning side (spawn.c), the shim (shim.c)
 * and the unit tests share: the shim's argument form, the status-pipe
 * protocols, the loader's command line, the preloaded object, and the pure
 * helpers that decide which files the shim opens. Not for the rest of
 * blocksnoop: use nsexec.h.
 *
 * The shim's command line (built only by nsexec_format_args()):
 *
 *   blocksnoop nsexec --status-fd N --target PID --root DIR
 *                     --keep-caps 0xHEX [--parent PID] -- PROGRAM [ARG...]
 *
 * Every option appears at most once; --target, --root and --keep-caps are
 * required; numbers are plain decimal (hex for --keep-caps) without sign,
 * blanks or leading zeros; DIR and PROGRAM are absolute paths. Anything
 * else is rejected. --status-fd comes first so that even an error in the
 * rest of the line reaches the status pipe.
 *
 * The shim's environment is the program's (nsexec_spawn() sets it from
 * req->env): checked by nsexec_check_env() on both sides.
 *
 * Status pipe, shim to blocksnoop: the write end is --status-fd,
 * close-on-exec. One line: NSEXEC_RUNNING once the program runs, or
 * "<errno> <message>\n" (and exit status NSEXEC_EXIT_FAILED) when it
 * could not be started.
 *
 * Set-up pipe, the shim's child (and after exec the preloaded object's
 * constructor) to the shim: read to EOF, decoded by nsexec_parse_setup().
 * NSEXEC_RUNNING when the program is about to run (written by the
 * constructor, or by the child just before it execs a static program),
 * "<errno> <message>\n" when a step failed (after NSEXEC_RUNNING too, if
 * the exec of a static program failed), nothing if the loader died first.
 */
#ifndef BLOCKSNOOP_NSEXEC_INTERNAL_H
#define BLOCKSNOOP_NSEXEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nsexec.h"

#define NSEXEC_MAX_ARGS 256     /* program arguments, argv[0] excluded */
#define NSEXEC_MAX_LIBDIRS 12   /* candidate library directories */
#define NSEXEC_PATH_MAX 1024    /* a path inside the root (program, loader, library dir) */
#define NSEXEC_STATUS_MAX 512   /* one status line, newline included */
#define NSEXEC_MAX_ENV 64       /* environment entries of the program */
#define NSEXEC_ENV_MAX 4096     /* bytes in one environment entry */
#define NSEXEC_MAX_NEEDED 32    /* DT_NEEDED entries of one ELF file */
#define NSEXEC_MAX_LIBS 128     /* libraries a program needs, all told */
#define NSEXEC_NAME_MAX 256     /* one DT_NEEDED name */

#define NSEXEC_RUNNING "0 running\n"

struct nsexec_args {
	int status_fd;          /* -1 if not given */
	pid_t target;
	const char *root;
	uint64_t keep_caps;
	pid_t parent;           /* 0 if not given: no check that it still lives */
	char **program;         /* PROGRAM [ARG...], NULL-terminated (points into argv) */
};

/*
 * Pure. Parse the shim's arguments (argv[0] is "nsexec"). Returns 0, or
 * -EINVAL with a one-line reason in err. a->status_fd is set as soon as
 * --status-fd has been read, even when a later argument is rejected.
 */
int nsexec_parse_args(int argc, char **argv, struct nsexec_args *a, char *err, size_t errlen);

/*
 * Pure. The shim's argv for req (argv[0] "blocksnoop", argv[1] "nsexec"),
 * written into argv (room for max entries, NULL-terminated) with the numbers
 * formatted into nums (room for numlen bytes). parent and status_fd as in
 * struct nsexec_args. Returns the number of entries, or -EINVAL (bad
 * request, reason in err) / -E2BIG (too many arguments).
 */
int nsexec_format_args(const struct nsexec_request *req, pid_t parent, int status_fd,
		       char **argv, size_t max, char *nums, size_t numlen,
		       char *err, size_t errlen);

/*
 * Pure. Parse one status line (n bytes, not NUL-terminated). Returns the
 * positive errno it carries and copies the message into msg; or -EPROTO if
 * the line is malformed.
 */
int nsexec_parse_status(const char *buf, size_t n, char *msg, size_t msglen);

/*
 * Pure. Decode everything read from the set-up pipe (n bytes, to EOF).
 * Returns 0 (NSEXEC_RUNNING alone: the program runs), a positive errno
 * with the message in msg (a failure line, alone or after NSEXEC_RUNNING),
 * -ENODATA (nothing: the process died before its set-up said anything), or
 * -EPROTO (anything else).
 */
int nsexec_parse_setup(const char *buf, size_t n, char *msg, size_t msglen);

/*
 * Pure. Whether env (NULL: empty) is fit to be the program's environment:
 * at most NSEXEC_MAX_ENV entries of "NAME=VALUE", NAME non-empty and made of
 * letters, digits and '_', not starting with a digit, not LD_* nor
 * GLIBC_TUNABLES (they would configure the loader, which is the shim's job);
 * each entry shorter than NSEXEC_ENV_MAX. Returns 0 or -EINVAL with the
 * reason in err.
 */
int nsexec_check_env(char *const *env, char *err, size_t errlen);

/* Pure. 0..255 for an exit, 128+N for death by signal N (the shell's rule). */
int nsexec_exit_code(int wstatus);

enum nsexec_loader { NSEXEC_LOADER_GLIBC, NSEXEC_LOADER_MUSL };

/* Pure. Which kind of ELF loader interp (a PT_INTERP path) is, by its name. */
enum nsexec_loader nsexec_loader_kind(const char *interp);

/*
 * Pure. The loader's argv (argv[0] = interp): for glibc --inhibit-cache,
 * then --library-path libpath --preload preload program args...; written
 * into argv (room for max entries, NULL-terminated; the strings are not
 * copied). Returns the number of entries or -E2BIG.
 */
int nsexec_loader_argv(const char *interp, const char *libpath, const char *preload,
		       const char *program, char *const *args, char **argv, size_t max);

/* What the shim needs from the program's ELF headers. */
struct nsexec_elf {
	bool dynamic;                   /* has PT_INTERP */
	char interp[NSEXEC_PATH_MAX];   /* PT_INTERP, e.g. "/lib64/ld-linux-x86-64.so.2" */
	char runpath[NSEXEC_PATH_MAX];  /* DT_RUNPATH, else DT_RPATH; "" if neither */
	unsigned machine;               /* e_machine */
	bool elf64;
	unsigned nneeded;               /* DT_NEEDED names, in order */
	char needed[NSEXEC_MAX_NEEDED][NSEXEC_NAME_MAX];
};

/*
 * Read fd's ELF headers with libelf. Returns 0, or -ENOEXEC (not an ELF
 * executable or shared object, or a bad PT_INTERP or .dynamic) / -E2BIG
 * (too many DT_NEEDED) / -ENAMETOOLONG / -EIO with the reason in err.
 */
int nsexec_read_elf(int fd, struct nsexec_elf *elf, char *err, size_t errlen);

struct nsexec_dirs {
	unsigned n;
	char path[NSEXEC_MAX_LIBDIRS][NSEXEC_PATH_MAX];
};

/*
 * Pure. The directories, inside the root, where the program's libraries
 * may be, in search order: the entries of runpath (colon-separated; $ORIGIN
 * and ${ORIGIN} become program's directory; relative entries and other
 * $TOKENS are skipped), then /lib/<triplet> and /usr/lib/<triplet> for
 * machine's Debian multiarch triplet, /lib64 and /usr/lib64 for 64-bit
 * machines, /lib and /usr/lib. Duplicates are dropped; entries beyond
 * NSEXEC_MAX_LIBDIRS or NSEXEC_PATH_MAX are dropped too.
 */
void nsexec_lib_dirs(const char *program, const char *runpath, unsigned machine, bool elf64,
		     struct nsexec_dirs *dirs);

/*
 * Open path (absolute or not) as if rootfd were "/": symlinks and ".." never
 * leave it (openat2 RESOLVE_IN_ROOT, Linux 5.6) and magic links are not
 * followed. flags as for openat (O_CLOEXEC is added). Returns the fd or
 * -errno.
 */
int nsexec_open_in_root(int rootfd, const char *path, int flags);

/*
 * Whether every library prog needs (its DT_NEEDED, then theirs, and so on)
 * is in one of the ndirs directories dirfd[] (opened inside the root
 * rootfd; dirname[] their paths there), as the loader will look for it:
 * the first file of that name with prog's class and machine, reached by
 * the same path inside the root (an absolute symlink that leads elsewhere
 * is refused). The loader itself (PT_INTERP's name) counts as present.
 * Returns 0, or -ENOENT (not found) / -ELOOP / -ENOEXEC / -E2BIG / -errno
 * with the reason in err.
 */
int nsexec_check_libraries(int rootfd, const struct nsexec_elf *prog, const int *dirfd,
			   const char *const *dirname, unsigned ndirs, char *err, size_t errlen);

struct nsexec_enter_params;

/* The embedded preloaded object, unfilled (for tests). */
const void *nsexec_preload_object(size_t *len);

/*
 * Pure. The offset in image (len bytes, an ELF shared object) of the
 * section that holds struct nsexec_enter_params. Returns 0, or -ENOEXEC /
 * -ENOMEM with the reason in err.
 */
int nsexec_preload_params_offset(const void *image, size_t len, size_t *off,
				 char *err, size_t errlen);

/*
 * A memfd (close-on-exec, sealed against any change) holding the
 * preloaded object with params filled in (its magic set here). Returns the
 * fd, or -errno with the reason in err.
 */
int nsexec_preload_memfd(const struct nsexec_enter_params *params, char *err, size_t errlen);

#endif
