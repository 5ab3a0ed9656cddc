// SPDX-License-Identifier: Apache-2.0
/*
 * detector.c - loads bpf/gap_detector.bpf.c and runs its watch list.
 *
 * The watch list has two halves: the slots (configuration and live gap
 * state, in the program's .bss, which libbpf maps into our memory) and the
 * watched_tids hash map that the kernel side looks threads up in. A slot is
 * filled in before its tid is published in the map and unpublished before it
 * is recycled, so the kernel never sees a half-written slot.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "detector.h"
#include "exit_codes.h"
#include "gap_detector.skel.h"
#include "histogram.h"
#include "log.h"
#include "procfs.h"
#include "tracefs.h"

struct detector {
	struct gap_detector_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[2 * EPOLL_VARIANT_COUNT];
	unsigned int attached_variants;
	/* Who each slot watches, as given to detector_watch(); 0 = free. */
	pid_t slot_pid[MAX_WATCHED_THREADS];
	pid_t slot_tid[MAX_WATCHED_THREADS];
	/* Per-CPU read buffer for the stats histogram. */
	struct gap_stats *percpu;
	int ncpus;
	/* The callback of the detector_consume() call in progress. */
	detector_event_fn consume_fn;
	void *consume_ctx;
};

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf explains load failures (verifier logs) at length: show it
	 * with -v only; our own one-line error says what failed. */
	if (!log_verbose())
		return 0;
	(void)level;
	return vfprintf(stderr, fmt, ap);
}

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}

static struct bpf_program *program_of(struct gap_detector_bpf *skel,
				      enum epoll_variant v, bool enter)
{
	switch (v) {
	case EPOLL_VARIANT_WAIT:
		return enter ? skel->progs.enter_epoll_wait : skel->progs.exit_epoll_wait;
	case EPOLL_VARIANT_PWAIT:
		return enter ? skel->progs.enter_epoll_pwait : skel->progs.exit_epoll_pwait;
	case EPOLL_VARIANT_PWAIT2:
		return enter ? skel->progs.enter_epoll_pwait2 : skel->progs.exit_epoll_pwait2;
	default:
		return NULL;
	}
}

/* Tell the kernel side which PID namespace our thread ids are numbered in. */
static int configure_pidns(struct gap_detector_bpf *skel, char *err, size_t errlen)
{
	uint64_t dev, ino;
	int ret = procfs_ns_id("/proc/self/ns/pid", &dev, &ino);

	if (ret)
		return fail(err, errlen, EXIT_RUNTIME,
			    "cannot read /proc/self/ns/pid: %s", strerror(-ret));
	skel->rodata->targ_in_init_pidns = ino == PROC_PID_INIT_INO;
	skel->rodata->targ_pidns_dev = dev;
	skel->rodata->targ_pidns_ino = ino;
	if (ino != PROC_PID_INIT_INO)
		log_info("running in a PID namespace (inode %llu): thread ids are as seen there",
			 (unsigned long long)ino);
	return 0;
}

static int on_ringbuf_event(void *ctx, void *data, size_t size)
{
	struct detector *d = ctx;
	const struct gap_event *e = data;

	if (size < sizeof(*e) || e->slot >= MAX_WATCHED_THREADS)
		return 0;
	/* Queued before its slot was unwatched (or recycled): drop it. */
	if (d->slot_tid[e->slot] != (pid_t)e->tid)
		return 0;
	d->consume_fn(d->consume_ctx, e);
	return 0;
}

int detector_open(struct detector **out, char *err, size_t errlen)
{
	struct detector *d;
	const char *root;
	int ret, code = EXIT_RUNTIME;
	unsigned int nlinks = 0;

	*out = NULL;
	libbpf_set_print(libbpf_print);

	d = calloc(1, sizeof(*d));
	if (!d)
		return fail(err, errlen, EXIT_RUNTIME, "out of memory");

	/* libbpf attaches tracepoints by name, through tracefs. */
	root = tracefs_ensure();
	if (!root) {
		code = errno == EPERM ? EXIT_PRIVILEGE : EXIT_RUNTIME;
		fail(err, errlen, code,
		     "tracefs is not mounted and cannot be mounted (%s): mount it with 'mount -t tracefs tracefs /sys/kernel/tracing'",
		     strerror(errno));
		goto cleanup;
	}

	d->skel = gap_detector_bpf__open();
	if (!d->skel) {
		fail(err, errlen, code, "cannot open the BPF object: %s", strerror(errno));
		goto cleanup;
	}
	code = configure_pidns(d->skel, err, errlen);
	if (code)
		goto cleanup;
	code = EXIT_RUNTIME;

	/* Load only the pairs this kernel has (no epoll_pwait2 before 5.11,
	 * no epoll_wait on arm64). */
	for (int v = 0; v < EPOLL_VARIANT_COUNT; v++) {
		bool present = tracefs_has_syscall_pair(root, epoll_variant_names[v]);

		if (present)
			d->attached_variants |= 1u << v;
		else
			log_info("this kernel has no %s tracepoints: skipping it",
				 epoll_variant_names[v]);
		bpf_program__set_autoload(program_of(d->skel, v, true), present);
		bpf_program__set_autoload(program_of(d->skel, v, false), present);
	}
	if (!d->attached_variants) {
		fail(err, errlen, code,
		     "no syscalls:sys_{enter,exit}_epoll_* tracepoints under %s: the kernel needs CONFIG_FTRACE_SYSCALLS",
		     root);
		goto cleanup;
	}

	ret = gap_detector_bpf__load(d->skel);
	if (ret) {
		/* EACCES is the verifier's refusal, not a privilege problem. */
		if (ret == -EPERM)
			code = EXIT_PRIVILEGE;
		fail(err, errlen, code,
		     "cannot load the BPF programs: %s%s", strerror(-ret),
		     code == EXIT_PRIVILEGE ? " (run as root, or see 'blocksnoop doctor')"
					    : " (rerun with -v for the kernel's reasons)");
		goto cleanup;
	}

	for (int v = 0; v < EPOLL_VARIANT_COUNT; v++) {
		if (!(d->attached_variants & (1u << v)))
			continue;
		for (int enter = 0; enter < 2; enter++) {
			struct bpf_link *link = bpf_program__attach(program_of(d->skel, v, enter));

			if (!link) {
				ret = -errno;
				if (ret == -EPERM || ret == -EACCES)
					code = EXIT_PRIVILEGE;
				fail(err, errlen, code, "cannot attach to syscalls:sys_%s_%s: %s",
				     enter ? "enter" : "exit", epoll_variant_names[v], strerror(-ret));
				goto cleanup;
			}
			d->links[nlinks++] = link;
		}
		log_info("attached to syscalls:sys_{enter,exit}_%s", epoll_variant_names[v]);
	}

	d->rb = ring_buffer__new(bpf_map__fd(d->skel->maps.events), on_ringbuf_event, d, NULL);
	if (!d->rb) {
		fail(err, errlen, code, "cannot set up the BPF ring buffer: %s", strerror(errno));
		goto cleanup;
	}

	d->ncpus = libbpf_num_possible_cpus();
	if (d->ncpus < 1) {
		fail(err, errlen, code, "cannot count the CPUs: %s", strerror(-d->ncpus));
		goto cleanup;
	}
	d->percpu = calloc(d->ncpus, sizeof(*d->percpu));
	if (!d->percpu) {
		fail(err, errlen, code, "out of memory");
		goto cleanup;
	}

	*out = d;
	return 0;

cleanup:
	detector_free(d);
	return code;
}

void detector_free(struct detector *d)
{
	if (!d)
		return;
	ring_buffer__free(d->rb);
	for (size_t i = 0; i < sizeof(d->links) / sizeof(d->links[0]); i++)
		bpf_link__destroy(d->links[i]);
	gap_detector_bpf__destroy(d->skel);
	free(d->percpu);
	free(d);
}

int detector_watch(struct detector *d, pid_t pid, pid_t tid,
		   uint64_t threshold_ns, uint32_t flags)
{
	struct watch_slot *slot;
	__u32 key = tid, index;
	int free_slot = -1;

	for (int i = 0; i < MAX_WATCHED_THREADS; i++) {
		if (d->slot_tid[i] == tid)
			return -EEXIST;
		if (free_slot < 0 && !d->slot_tid[i])
			free_slot = i;
	}
	if (free_slot < 0)
		return -ENOSPC;

	slot = &d->skel->bss->watch_slots[free_slot];
	slot->gap_start_ns = 0;
	slot->lost_events = 0;
	slot->threshold_ns = threshold_ns;
	slot->tid = tid;
	slot->gap_variant = 0;
	/* The kernel must see a complete slot once the tid is published. */
	__atomic_store_n(&slot->flags, flags | WATCH_F_ACTIVE, __ATOMIC_RELEASE);

	index = free_slot;
	if (bpf_map_update_elem(bpf_map__fd(d->skel->maps.watched_tids), &key, &index,
				BPF_NOEXIST)) {
		int ret = -errno;

		__atomic_store_n(&slot->flags, 0, __ATOMIC_RELEASE);
		return ret;
	}
	d->slot_pid[free_slot] = pid;
	d->slot_tid[free_slot] = tid;
	return free_slot;
}

void detector_unwatch(struct detector *d, int slot)
{
	__u32 key;

	if (slot < 0 || slot >= MAX_WATCHED_THREADS || !d->slot_tid[slot])
		return;
	key = d->slot_tid[slot];
	bpf_map_delete_elem(bpf_map__fd(d->skel->maps.watched_tids), &key);
	__atomic_store_n(&d->skel->bss->watch_slots[slot].flags, 0, __ATOMIC_RELEASE);
	d->slot_pid[slot] = 0;
	d->slot_tid[slot] = 0;
}

pid_t detector_slot_pid(const struct detector *d, int slot)
{
	return slot >= 0 && slot < MAX_WATCHED_THREADS ? d->slot_pid[slot] : 0;
}

pid_t detector_slot_tid(const struct detector *d, int slot)
{
	return slot >= 0 && slot < MAX_WATCHED_THREADS ? d->slot_tid[slot] : 0;
}

uint64_t detector_gap_open_since(const struct detector *d, int slot)
{
	if (slot < 0 || slot >= MAX_WATCHED_THREADS)
		return 0;
	return __atomic_load_n(&d->skel->bss->watch_slots[slot].gap_start_ns,
			       __ATOMIC_RELAXED);
}

int detector_events_fd(const struct detector *d)
{
	return ring_buffer__epoll_fd(d->rb);
}

int detector_consume(struct detector *d, detector_event_fn fn, void *ctx)
{
	d->consume_fn = fn;
	d->consume_ctx = ctx;
	return ring_buffer__consume(d->rb);
}

uint64_t detector_lost_events(const struct detector *d)
{
	return __atomic_load_n(&d->skel->bss->lost_events, __ATOMIC_RELAXED);
}

int detector_read_stats(const struct detector *d, struct gap_stats *out)
{
	__u32 zero = 0;
	int fd = bpf_map__fd(d->skel->maps.gap_stats);

	if (bpf_map_lookup_elem(fd, &zero, d->percpu))
		return -errno;
	memset(out, 0, sizeof(*out));
	for (int cpu = 0; cpu < d->ncpus; cpu++)
		hist_accumulate(out, &d->percpu[cpu]);
	return 0;
}

unsigned int detector_attached_variants(const struct detector *d)
{
	return d->attached_variants;
}
