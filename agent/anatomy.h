/* SPDX-License-Identifier: Apache-2.0 */
/*
 * anatomy.h - a blocking event's anatomy: where the loop thread's time went
 * during the gap, as the kernel's scheduler saw it (bpf/gap_anatomy.bpf.h),
 * in classes, with the syscalls it slept in named and their fds described.
 */
#ifndef BLOCKSNOOP_ANATOMY_H
#define BLOCKSNOOP_ANATOMY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gap_detector.h"

/* What the thread did with a share of the gap. */
enum anatomy_class {
	ANATOMY_CPU,       /* ran */
	ANATOMY_SLEEP,     /* slept on a timer (time.sleep) */
	ANATOMY_IO,        /* waited for a file, socket, pipe, child, page fault */
	ANATOMY_LOCK,      /* waited for another thread (futex, file lock) */
	ANATOMY_RUNQUEUE,  /* runnable, waiting for a CPU */
	ANATOMY_THROTTLED, /* runnable, held back by its cgroup's CPU limit */
	ANATOMY_CLASSES,
};

/* "cpu", "sleep", ... (static). */
const char *anatomy_class_name(enum anatomy_class c);

/* anatomy_wait.syscall of the waits that found no place in the kernel's
 * table (their sum). */
#define ANATOMY_OTHER_WAITS (-2L)
#define ANATOMY_WAITS_MAX (GAP_WAITS_MAX + 1)

/* Off-CPU time in one syscall with one first argument. */
struct anatomy_wait {
	long syscall;          /* number; GAP_WAIT_NO_SYSCALL; ANATOMY_OTHER_WAITS */
	char name[32];         /* "recvfrom", "syscall 435", "no syscall", "other" */
	uint64_t arg;          /* the first argument */
	int fd;                /* arg, if the syscall takes an fd first; else -1 */
	char what[160];        /* what fd is (fd_describe()), "" if unknown */
	double ms;
	enum anatomy_class class;
};

struct event_anatomy {
	enum anatomy_class dominant;       /* the largest share */
	double share_ms[ANATOMY_CLASSES];  /* sum to the gap */
	double on_cpu_ms, off_cpu_ms, runqueue_ms, throttled_ms;
	bool throttled;                    /* its cgroup was throttled while it waited */
	size_t nwaits;
	struct anatomy_wait waits[ANATOMY_WAITS_MAX]; /* most time first; "other" last */
};

/*
 * The anatomy of a gap of gap_ns from the kernel's k. False (out
 * untouched) if the kernel did not measure this gap (stats mode, or no
 * scheduler programs). Pure.
 */
bool anatomy_from_kernel(struct event_anatomy *out, const struct gap_anatomy *k, uint64_t gap_ns);

/*
 * The anatomy of the gap that began at gap_start_ns, still open at now_ns,
 * from the kernel's entry as of its slot (detector_read_anatomy()) and the
 * slot's generation gen: what was measured so far, with the time since the
 * thread's last switch counted as the kernel counts it when the gap closes
 * (on CPU; runnable: run queue, or throttled if its group was at the
 * switch-out; asleep: a wait in its syscall). An entry of another gap
 * means no switch has come yet: on CPU throughout. What the kernel
 * settles at the thread's next switch (the part of its last sleep it then
 * spent runnable) stays in that sleep's wait. Pure; always true.
 */
bool anatomy_so_far(struct event_anatomy *out, const struct anatomy_slot *as,
		    uint64_t gap_start_ns, uint32_t gen, uint64_t now_ns);

/* Describe the fds of a's longest ANATOMY_FDS_DESCRIBED fd waits, of
 * process pid (blocksnoop's PID namespace), from /proc (fd_describe.h).
 * What cannot be described stays "". */
#define ANATOMY_FDS_DESCRIBED 3
void anatomy_describe_fds(struct event_anatomy *a, pid_t pid);

/*
 * The wait that took most time, described in words: "290.1 ms in
 * clock_nanosleep", "280.0 ms in recvfrom on fd 7 (TCP ...)", into buf
 * (len > 0); "" if there is none. Returns buf.
 */
const char *anatomy_main_wait(const struct event_anatomy *a, char *buf, size_t len);

#endif
