/* SPDX-License-Identifier: Apache-2.0 */
/*
 * launch.h - launch mode: run a command that is watched from its very first
 * instruction.
 *
 * launch_prepare() forks a child that waits, before exec, until
 * launch_release(). Between the two the caller adds the child's PID (which
 * exec keeps) to the detector, so there is no window in which the command
 * runs unwatched.
 */
#ifndef BLOCKSNOOP_LAUNCH_H
#define BLOCKSNOOP_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct launched {
	pid_t pid;      /* 0: none, or aborted */
	int release_fd; /* write end: one byte lets the child exec */
	int exec_fd;    /* read end: EOF on successful exec, else the errno */
	bool reaped;    /* its exit status is collected: */
	int wstatus;    /* as waitpid(2) gave it */
};

/*
 * Check, before anything starts, that the command can be executed: a name
 * with a '/' must be an executable file, any other name must be found as
 * one in PATH. Returns 0, or EXIT_NOT_FOUND (127) / 126 (found but not
 * executable) with a one-line reason in err.
 */
int launch_check(const char *command, char *err, size_t errlen);

/*
 * Fork the child for argv (looked up in PATH). The child restores the
 * default signal mask and dispositions, dies with blocksnoop
 * (PR_SET_PDEATHSIG), and, with stdout_to_stderr, writes its stdout to
 * blocksnoop's stderr so that it never mixes into a JSON stream.
 * Returns 0 or -errno.
 */
int launch_prepare(char *const argv[], bool stdout_to_stderr, struct launched *l);

/*
 * Let the child exec and wait until it has. Returns 0, or EXIT_NOT_FOUND
 * (127) / 126 with the reason (strerror text) in err if the command could not be
 * run (the child has then exited; reap it with waitpid).
 */
int launch_release(struct launched *l, char *err, size_t errlen);

/* Abandon a prepared child that was never released: kill and reap it. */
void launch_abort(struct launched *l);

/* Collect the child's exit status into l if it has exited (wait: wait
 * until it has). Whether it is reaped; true at once if it was already. */
bool launch_reap(struct launched *l, bool wait);

/*
 * End the command, unless it is reaped already: SIGTERM, up to grace_ms
 * for it to exit, then SIGKILL (said on stderr). Reaped when this returns.
 */
void launch_end(struct launched *l, int grace_ms);

/* The shell convention for a wait status: the exit code, or 128+N if
 * signal N ended the process. */
int launch_exit_code(int wstatus);

#endif
