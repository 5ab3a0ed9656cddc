// SPDX-License-Identifier: Apache-2.0
/*
 * detector.c - loads bpf/gap_detector.bpf.c and runs its watches.
 *
 * The tables shared with the kernel side live in the program's .bss, which
 * libbpf maps into our memory: watches (written here, read there), slots
 * (given out from the free_slots queue by either side) and counters. Marks
 * say which task is what: this side writes them into task storage through a
 * pidfd of the task, or, for a task no pidfd reaches, into tid_marks.
 *
 * Order is what keeps the two sides apart: a slot is filled in before its
 * state is published, published before a mark names it, and a watch is
 * written before any mark names it; the kernel side checks a mark against
 * the slot's generation and the watch's id on every use, so whatever this
 * side ends or recycles is never misattributed.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "detector.h"
#include "detector_tables.h"
#include "exit_codes.h"
#include "gap_detector.skel.h"
#include "histogram.h"
#include "log.h"
#include "procfs.h"
#include "tracefs.h"

/* Setting up the wake timers: tries, and the pause between them. */
#define WAKE_SETUP_TRIES 20
#define WAKE_SETUP_PAUSE_NS 10000000L

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* include/uapi/linux/pidfd.h, Linux 6.9 */
#endif

/* How the programs find a task's mark (gap_detector.bpf.c). */
enum mark_lookup {
	LOOKUP_TASK_STORAGE,         /* ts_* programs; processes are followed */
	LOOKUP_TASK_STORAGE_AND_IDS, /* tsid_*: the same, threads also by id */
	LOOKUP_THREAD_ID,            /* id_* programs */
	LOOKUP_COUNT,
};

struct detector {
	struct gap_detector_bpf *skel;
	enum mark_lookup lookup;
	/* Threads other than the main one can be named by pidfd. */
	bool thread_pidfd;
	uint32_t follow_limit;
	struct ring_buffer *events_rb;
	struct ring_buffer *notices_rb;
	int epfd; /* both rings' epoll fds */
	/* The scheduler programs of the gap anatomy are attached. */
	bool anatomy;
	/* Waking the sampler: asked for and possible so far; the wakes ring
	 * (NULL: the sampler polls), and why not (for -v). */
	bool wake;
	const char *no_wake_why;
	char no_wake_buf[256];
	struct ring_buffer *wakes_rb;
	/* epoll enter and exit, fork, exec, exit, sched_switch, hrtimer */
	struct bpf_link *links[2 * EPOLL_VARIANT_COUNT + 5];
	unsigned int nlinks;
	unsigned int attached_variants;
	/* What each slot was told to be. */
	struct slot_view views[MAX_WATCHED_THREADS];
	uint64_t lost_notices_seen;
	uint32_t next_watch_id;
	/* The kernel side's loop histograms (loop_hists), mapped; NULL
	 * unless detector_options.loop_hists. */
	struct loop_hist *loop_hists;
	size_t loop_hists_len;
	bool want_loop_hists;
	/* Per-CPU read buffer for the stats histogram. */
	struct gap_stats *percpu;
	int ncpus;
	/* The handlers of the detector_dispatch() call in progress. */
	const struct detector_handlers *handlers;
	void *handlers_ctx;
	int delivered;
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

/* ---- loading ------------------------------------------------------------ */

static struct bpf_program *epoll_program(struct gap_detector_bpf *skel, enum mark_lookup lookup,
					 enum epoll_variant v, bool enter)
{
	struct bpf_program *progs[LOOKUP_COUNT][EPOLL_VARIANT_COUNT][2] = {
		[LOOKUP_TASK_STORAGE] = {
			{ skel->progs.ts_exit_epoll_wait, skel->progs.ts_enter_epoll_wait },
			{ skel->progs.ts_exit_epoll_pwait, skel->progs.ts_enter_epoll_pwait },
			{ skel->progs.ts_exit_epoll_pwait2, skel->progs.ts_enter_epoll_pwait2 },
		},
		[LOOKUP_TASK_STORAGE_AND_IDS] = {
			{ skel->progs.tsid_exit_epoll_wait, skel->progs.tsid_enter_epoll_wait },
			{ skel->progs.tsid_exit_epoll_pwait, skel->progs.tsid_enter_epoll_pwait },
			{ skel->progs.tsid_exit_epoll_pwait2, skel->progs.tsid_enter_epoll_pwait2 },
		},
		[LOOKUP_THREAD_ID] = {
			{ skel->progs.id_exit_epoll_wait, skel->progs.id_enter_epoll_wait },
			{ skel->progs.id_exit_epoll_pwait, skel->progs.id_enter_epoll_pwait },
			{ skel->progs.id_exit_epoll_pwait2, skel->progs.id_enter_epoll_pwait2 },
		},
	};

	return progs[lookup][v][enter];
}

/* Whether BTF tracepoint name, found in vmlinux as libbpf finds it (the
 * typedef btf_trace_<name>), can take a program (probe as libbpf-tools do:
 * load the smallest one). */
static bool kernel_has_tp_btf(const struct btf *vmlinux, const char *name)
{
	/* r0 = 0; exit */
	const struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = 0 },
		{ .code = 0x95 },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_RAW_TP);
	char typedef_name[64];
	int fd, id;

	snprintf(typedef_name, sizeof(typedef_name), "btf_trace_%s", name);
	id = btf__find_by_name_kind(vmlinux, typedef_name, BTF_KIND_TYPEDEF);
	if (id <= 0)
		return false;
	opts.attach_btf_id = id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", insns, 2, &opts);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Which BTF tracepoints the kernel side needs can take a program. */
struct tp_btf_support {
	bool follow; /* sched_process_{fork,exec,exit}: following processes */
	bool wake;   /* hrtimer_expire_entry and sched_switch: the kicks */
};

/* Probe them all in one parse of the kernel's BTF: each parse holds two
 * copies of it (~11 MB here) at once, the largest part of our peak memory. */
static void kernel_probe_tp_btf(struct tp_btf_support *tp)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();

	*tp = (struct tp_btf_support){ 0 };
	if (!vmlinux)
		return;
	tp->follow = kernel_has_tp_btf(vmlinux, "sched_process_fork") &&
		     kernel_has_tp_btf(vmlinux, "sched_process_exec") &&
		     kernel_has_tp_btf(vmlinux, "sched_process_exit");
	tp->wake = kernel_has_tp_btf(vmlinux, "hrtimer_expire_entry") &&
		   kernel_has_tp_btf(vmlinux, "sched_switch");
	btf__free(vmlinux);
}

/*
 * The time between two ticks of a busy CPU, for the kicks of the sampler's
 * wakes: the coarse clocks advance by one tick (their resolution is 1/HZ).
 * 0 (not known) where a CPU is set to stop its tick while it runs one task
 * (nohz_full), as a spinning target thread may be that task.
 */
static uint64_t kernel_tick_ns(void)
{
	struct timespec res;
	char cpus[64] = "";
	FILE *f;

	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) || res.tv_sec ||
	    res.tv_nsec <= 0)
		return 0;
	f = fopen("/sys/devices/system/cpu/nohz_full", "re");
	if (f) {
		if (!fgets(cpus, sizeof(cpus), f))
			cpus[0] = '\0';
		fclose(f);
	}
	/* "(null)" or an empty line when no CPU is. */
	if (cpus[0] && cpus[0] != '\n' && cpus[0] != '(')
		return 0;
	return (uint64_t)res.tv_nsec;
}

/* Whether pidfds can name threads other than the main one (Linux 6.9):
 * a kernel that does not know PIDFD_THREAD refuses it with EINVAL. */
static bool kernel_has_thread_pidfd(void)
{
	int fd = (int)syscall(SYS_pidfd_open, getpid(), PIDFD_THREAD);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Whether the ts_* programs and the process following can run here, and
 * if not, why (for -v). */
static bool kernel_has_task_storage(const struct tp_btf_support *tp, const char **why)
{
	*why = "no task storage maps (Linux 5.11)";
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) != 1)
		return false;
	*why = "tracepoint programs cannot use task storage";
	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_task_storage_get, NULL) != 1 ||
	    libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_get_current_task_btf, NULL) != 1)
		return false;
	*why = "no BTF tracepoints for sched_process_{fork,exec,exit}";
	return tp->follow;
}

/* Tell the kernel side which PID namespace our ids are numbered in. */
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

static void unload(struct detector *d)
{
	if (d->loop_hists)
		munmap(d->loop_hists, d->loop_hists_len);
	d->loop_hists = NULL;
	for (unsigned int i = 0; i < d->nlinks; i++)
		bpf_link__destroy(d->links[i]);
	d->nlinks = 0;
	gap_detector_bpf__destroy(d->skel);
	d->skel = NULL;
}

static int attach_one(struct detector *d, struct bpf_program *prog, const char *what,
		      char *err, size_t errlen)
{
	struct bpf_link *link = bpf_program__attach(prog);
	int ret;

	if (!link) {
		ret = -errno;
		return fail(err, errlen, ret == -EPERM || ret == -EACCES ? EXIT_PRIVILEGE : EXIT_RUNTIME,
			    "cannot attach to %s: %s", what, strerror(-ret));
	}
	d->links[d->nlinks++] = link;
	return 0;
}

/*
 * Set up the wake timers and attach the kicks (load()). A timer's memory
 * is allocated in a way that may fail for a moment (BPF programs do not
 * wait for memory): wake_setup sets up those not set up yet, and is run
 * again a few times after a pause.
 */
static int start_wakes(struct detector *d, char *err, size_t errlen)
{
	const struct timespec pause = { .tv_nsec = WAKE_SETUP_PAUSE_NS };
	LIBBPF_OPTS(bpf_test_run_opts, run);
	int fd = bpf_program__fd(d->skel->progs.wake_setup);

	for (int tries = 0;; tries++) {
		if (bpf_prog_test_run_opts(fd, &run))
			return fail(err, errlen, EXIT_RUNTIME, "cannot set up the wake timers: %s",
				    strerror(errno));
		if (!run.retval)
			break;
		if (tries == WAKE_SETUP_TRIES)
			return fail(err, errlen, EXIT_RUNTIME,
				    "cannot set up the wake timers: %u of %d failed", run.retval,
				    WAKE_TIMERS);
		nanosleep(&pause, NULL);
	}
	/* on_sched_switch, which also kicks, is attached by load(). */
	return attach_one(d, d->skel->progs.wake_on_tick, "timer:hrtimer_expire_entry", err, errlen);
}

/*
 * Open, load and attach the programs of one way of finding marks; the
 * epoll variants to attach are d->attached_variants. On failure returns an
 * exit code with err set, and unloads what it loaded.
 */
static int load(struct detector *d, enum mark_lookup lookup, char *err, size_t errlen)
{
	bool ts = lookup != LOOKUP_THREAD_ID;
	char what[64];
	int ret, code;

	d->lookup = lookup;
	d->skel = gap_detector_bpf__open();
	if (!d->skel)
		return fail(err, errlen, EXIT_RUNTIME, "cannot open the BPF object: %s",
			    strerror(errno));
	code = configure_pidns(d->skel, err, errlen);
	if (code)
		goto fail;
	for (int v = 0; v < EPOLL_VARIANT_COUNT; v++)
		for (int enter = 0; enter < 2; enter++)
			for (int l = 0; l < LOOKUP_COUNT; l++)
				bpf_program__set_autoload(epoll_program(d->skel, l, v, enter),
							  l == (int)lookup &&
							  (d->attached_variants & (1u << v)));
	bpf_program__set_autoload(d->skel->progs.follow_fork, ts);
	bpf_program__set_autoload(d->skel->progs.follow_exec, ts);
	bpf_program__set_autoload(d->skel->progs.follow_exit, ts);
	bpf_map__set_autocreate(d->skel->maps.task_marks, ts);
	/* The loop histograms cost memory only when asked for. */
	bpf_map__set_max_entries(d->skel->maps.loop_hists, d->want_loop_hists ? MAX_WATCHES : 1);
	/* The gap anatomy and the sampler's wakes find threads by their marks
	 * in task storage; one context switch program serves both. */
	d->anatomy = d->anatomy && ts;
	d->wake = d->wake && ts;
	d->skel->rodata->targ_anatomy = d->anatomy;
	d->skel->rodata->targ_wake = d->wake;
	d->skel->rodata->targ_tick_ns = kernel_tick_ns();
	bpf_program__set_autoload(d->skel->progs.on_sched_switch, d->anatomy || d->wake);
	bpf_map__set_autocreate(d->skel->maps.anatomy_slots, d->anatomy);
	bpf_program__set_autoload(d->skel->progs.wake_on_tick, d->wake);
	bpf_program__set_autoload(d->skel->progs.wake_setup, d->wake);
	bpf_map__set_autocreate(d->skel->maps.wake_timers, d->wake);
	bpf_map__set_autocreate(d->skel->maps.wakes, d->wake);

	ret = gap_detector_bpf__load(d->skel);
	if (ret) {
		/* EACCES is the verifier's refusal, not a privilege problem. */
		code = ret == -EPERM ? EXIT_PRIVILEGE : EXIT_RUNTIME;
		fail(err, errlen, code, "cannot load the BPF programs: %s%s", strerror(-ret),
		     code == EXIT_PRIVILEGE ? " (run as root, or see 'blocksnoop doctor')"
					    : " (rerun with -v for the kernel's reasons)");
		goto fail;
	}
	for (int v = 0; v < EPOLL_VARIANT_COUNT; v++) {
		if (!(d->attached_variants & (1u << v)))
			continue;
		for (int enter = 0; enter < 2; enter++) {
			snprintf(what, sizeof(what), "syscalls:sys_%s_%s", enter ? "enter" : "exit",
				 epoll_variant_names[v]);
			code = attach_one(d, epoll_program(d->skel, lookup, v, enter), what,
					  err, errlen);
			if (code)
				goto fail;
		}
	}
	if (ts) {
		code = attach_one(d, d->skel->progs.follow_fork, "sched:sched_process_fork", err, errlen);
		if (!code)
			code = attach_one(d, d->skel->progs.follow_exec, "sched:sched_process_exec",
					  err, errlen);
		if (!code)
			code = attach_one(d, d->skel->progs.follow_exit, "sched:sched_process_exit",
					  err, errlen);
		if (code)
			goto fail;
	}
	if (d->anatomy || d->wake) {
		code = attach_one(d, d->skel->progs.on_sched_switch, "sched:sched_switch", err, errlen);
		if (code)
			goto fail;
	}
	if (d->wake) {
		code = start_wakes(d, err, errlen);
		if (code)
			goto fail;
	}
	return 0;

fail:
	unload(d);
	return code;
}

/* Whether the kernel side may be able to wake the sampler here, and if
 * not, why. Whether BPF timers work there (Linux 5.15) only loading tells:
 * load_waking(). */
static bool kernel_can_wake(const struct tp_btf_support *tp, const char **why)
{
	*why = "no BTF tracepoints for hrtimer_expire_entry and sched_switch";
	return tp->wake;
}

/*
 * Load the programs of a way of finding marks, with the sampler's wakes if
 * d->wake; if those cannot load, or be set up, without them (the sampler
 * polls), keeping why.
 */
static int load_waking(struct detector *d, enum mark_lookup lookup, char *err, size_t errlen)
{
	int code = load(d, lookup, err, errlen);

	if (!code || !d->wake || code == EXIT_PRIVILEGE)
		return code;
	snprintf(d->no_wake_buf, sizeof(d->no_wake_buf), "%s", err);
	d->no_wake_why = d->no_wake_buf;
	d->wake = false;
	return load(d, lookup, err, errlen);
}

/* Fill the free slot queue: every slot starts free. */
static int fill_free_slots(struct detector *d)
{
	int fd = bpf_map__fd(d->skel->maps.free_slots);

	for (__u32 i = 0; i < MAX_WATCHED_THREADS; i++)
		if (bpf_map_update_elem(fd, NULL, &i, BPF_ANY))
			return -errno;
	return 0;
}

/* Map loop_hists (BPF_F_MMAPABLE: page-aligned, MAX_WATCHES entries) into
 * our memory: read and zeroed without a syscall, so also once capabilities
 * are dropped. */
static int map_loop_hists(struct detector *d)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = sizeof(struct loop_hist) * MAX_WATCHES;
	void *p;

	len = (len + (size_t)page - 1) / (size_t)page * (size_t)page;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		 bpf_map__fd(d->skel->maps.loop_hists), 0);
	if (p == MAP_FAILED)
		return -errno;
	d->loop_hists = p;
	d->loop_hists_len = len;
	return 0;
}

static int ring_ready(struct detector *d, struct ring_buffer *rb)
{
	struct epoll_event ev = { .events = EPOLLIN };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(rb), &ev) ? -errno : 0;
}

static int on_event(void *ctx, void *data, size_t size);
static int on_notice(void *ctx, void *data, size_t size);
static int on_wake(void *ctx, void *data, size_t size);

int detector_open_with(struct detector **out, const struct detector_options *o,
		       char *err, size_t errlen)
{
	static const struct detector_options defaults;
	struct detector *d;
	const char *root, *why = NULL;
	struct tp_btf_support tp;
	int ret, code = EXIT_RUNTIME;

	*out = NULL;
	if (!o)
		o = &defaults;
	libbpf_set_print(libbpf_print);
	/* libbpf parses the kernel's BTF (megabytes) into malloc'd copies.
	 * glibc raises its mmap threshold to the size of the first large
	 * block freed, so the next parse's copies would land in the heap and
	 * stay part of our resident memory for good; a fixed threshold keeps
	 * every large block in a mapping of its own, unmapped on free. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);

	d = calloc(1, sizeof(*d));
	if (!d)
		return fail(err, errlen, EXIT_RUNTIME, "out of memory");
	d->epfd = -1;
	d->next_watch_id = 1;
	d->follow_limit = o->follow_limit ? o->follow_limit : DETECTOR_FOLLOW_LIMIT;
	d->anatomy = !o->no_anatomy;
	d->thread_pidfd = !o->no_thread_pidfd && kernel_has_thread_pidfd();
	d->want_loop_hists = o->loop_hists;
	if (!d->thread_pidfd)
		log_info("no pidfds for threads: other threads than the main one are marked by id");

	/* libbpf attaches the epoll tracepoints by name, through tracefs. */
	root = tracefs_ensure();
	if (!root) {
		code = errno == EPERM ? EXIT_PRIVILEGE : EXIT_RUNTIME;
		fail(err, errlen, code,
		     "tracefs is not mounted and cannot be mounted (%s): mount it with 'mount -t tracefs tracefs /sys/kernel/tracing'",
		     strerror(errno));
		goto cleanup;
	}
	/* Load only the pairs this kernel has (no epoll_pwait2 before 5.11,
	 * no epoll_wait on arm64). */
	for (int v = 0; v < EPOLL_VARIANT_COUNT; v++) {
		if (tracefs_has_syscall_pair(root, epoll_variant_names[v]))
			d->attached_variants |= 1u << v;
		else
			log_info("this kernel has no %s tracepoints: skipping it",
				 epoll_variant_names[v]);
	}
	if (!d->attached_variants) {
		fail(err, errlen, code,
		     "no syscalls:sys_{enter,exit}_epoll_* tracepoints under %s: the kernel needs CONFIG_FTRACE_SYSCALLS",
		     root);
		goto cleanup;
	}

	kernel_probe_tp_btf(&tp);
	d->no_wake_why = "turned off";
	if (o->sampler_wake)
		d->wake = kernel_can_wake(&tp, &d->no_wake_why);
	if (o->no_task_storage)
		why = "turned off";
	if (!why && kernel_has_task_storage(&tp, &why)) {
		enum mark_lookup ts = d->thread_pidfd ? LOOKUP_TASK_STORAGE
						      : LOOKUP_TASK_STORAGE_AND_IDS;

		code = load_waking(d, ts, err, errlen);
		if (code && code != EXIT_PRIVILEGE && d->anatomy) {
			/* Keep following processes without the anatomy. */
			log_warn("the gap anatomy cannot be loaded (%s): events will have none", err);
			d->anatomy = false;
			code = load_waking(d, ts, err, errlen);
		}
		if (!code)
			goto loaded;
		/* A kernel that passes the probes can still refuse a part
		 * (BPF atomics before 5.12): the thread-id way needs less. */
		why = err;
		if (code == EXIT_PRIVILEGE)
			goto cleanup;
	}
	log_info("threads are looked up by id and no process is followed: %s", why);
	if (d->wake) {
		/* The kicks find threads in task storage. */
		d->wake = false;
		d->no_wake_why = "no task storage";
	}
	code = load(d, LOOKUP_THREAD_ID, err, errlen);
	if (code)
		goto cleanup;
loaded:
	malloc_trim(0); /* what loading freed, back to the system */
	log_info("attached to the epoll tracepoints (%s)",
		 d->lookup == LOOKUP_THREAD_ID ? "thread ids" : "task storage, processes followed");
	code = EXIT_RUNTIME;
	d->skel->bss->follow_limit = d->follow_limit;
	if (d->want_loop_hists) {
		ret = map_loop_hists(d);
		if (ret) {
			fail(err, errlen, code, "cannot map the loop histograms: %s", strerror(-ret));
			goto cleanup;
		}
	}
	ret = fill_free_slots(d);
	if (ret) {
		fail(err, errlen, code, "cannot fill the slot queue: %s", strerror(-ret));
		goto cleanup;
	}

	d->events_rb = ring_buffer__new(bpf_map__fd(d->skel->maps.events), on_event, d, NULL);
	d->notices_rb = ring_buffer__new(bpf_map__fd(d->skel->maps.notices), on_notice, d, NULL);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!d->events_rb || !d->notices_rb || d->epfd < 0 || ring_ready(d, d->events_rb) ||
	    ring_ready(d, d->notices_rb)) {
		fail(err, errlen, code, "cannot set up the BPF ring buffers: %s", strerror(errno));
		goto cleanup;
	}

	if (d->wake) {
		d->wakes_rb = ring_buffer__new(bpf_map__fd(d->skel->maps.wakes), on_wake, d, NULL);
		if (!d->wakes_rb) {
			fail(err, errlen, code, "cannot set up the BPF ring buffers: %s",
			     strerror(errno));
			goto cleanup;
		}
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

int detector_open(struct detector **out, char *err, size_t errlen)
{
	return detector_open_with(out, NULL, err, errlen);
}

void detector_free(struct detector *d)
{
	if (!d)
		return;
	ring_buffer__free(d->events_rb);
	ring_buffer__free(d->notices_rb);
	ring_buffer__free(d->wakes_rb);
	if (d->epfd >= 0)
		close(d->epfd);
	unload(d);
	free(d->percpu);
	free(d);
}

bool detector_can_follow(const struct detector *d)
{
	return d->lookup != LOOKUP_THREAD_ID;
}

/* ---- slots -------------------------------------------------------------- */

static bool slot_index_ok(int slot)
{
	return slot >= 0 && slot < MAX_WATCHED_THREADS;
}

/* Take a free slot for thread tid of pid in watch w and publish it as the
 * caller's own. Returns the slot or -ENOSPC / -errno. */
static int take_slot(struct detector *d, const struct watch_config *w, pid_t pid, pid_t tid)
{
	struct watch_slot *s;
	union watch_slot_state st;
	__u32 idx;

	if (bpf_map_lookup_and_delete_elem(bpf_map__fd(d->skel->maps.free_slots), NULL, &idx))
		return errno == ENOENT ? -ENOSPC : -errno;
	__atomic_fetch_add(&d->skel->bss->counters.slots_out, 1, __ATOMIC_RELAXED);
	if (idx >= MAX_WATCHED_THREADS)
		return -EIO;
	s = &d->skel->bss->watch_slots[idx];
	st.word = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
	st.gen = st.gen + 1 ? st.gen + 1 : 1;
	st.flags = WATCH_F_ACTIVE | WATCH_F_USER | (w->flags & SLOT_WATCH_FLAGS);
	s->gap_start_ns = 0;
	s->lost_events = 0;
	s->threshold_ns = w->threshold_ns;
	s->tid = (__u32)tid;
	s->pid = (__u32)pid;
	s->watch = w->id;
	s->gap_variant = 0;
	/* The kernel side must see a complete slot once a mark names it. */
	__atomic_store_n(&s->state, st.word, __ATOMIC_RELEASE);
	d->views[idx] = (struct slot_view){
		.gen = st.gen, .watch = w->id, .pid = pid, .tid = tid, .live = true, .user = true,
	};
	return (int)idx;
}

/* Free slot idx if it still is incarnation gen: whether this call did. The
 * kernel side may free or deactivate it at the same time: one wins. */
static bool free_slot(struct detector *d, __u32 idx, __u32 gen)
{
	struct watch_slot *s = &d->skel->bss->watch_slots[idx];
	union watch_slot_state old, new = { .gen = gen };

	old.word = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
	do {
		if (old.gen != gen || !(old.flags & (WATCH_F_ACTIVE | WATCH_F_USER)))
			return false;
	} while (!__atomic_compare_exchange_n(&s->state, &old.word, new.word, false,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	__atomic_store_n(&s->gap_start_ns, 0, __ATOMIC_RELAXED);
	d->views[idx].live = false;
	d->views[idx].user = false;
	if (bpf_map_update_elem(bpf_map__fd(d->skel->maps.free_slots), NULL, &idx, BPF_ANY))
		log_warn("slot %u lost: cannot return it to the queue: %s", idx, strerror(errno));
	else
		__atomic_fetch_sub(&d->skel->bss->counters.slots_out, 1, __ATOMIC_RELAXED);
	return true;
}

int detector_slot_watch(const struct detector *d, int slot)
{
	if (!slot_index_ok(slot) || !(d->views[slot].live || d->views[slot].user))
		return 0;
	return (int)d->views[slot].watch;
}

pid_t detector_slot_pid(const struct detector *d, int slot)
{
	return detector_slot_watch(d, slot) ? d->views[slot].pid : 0;
}

pid_t detector_slot_tid(const struct detector *d, int slot)
{
	return detector_slot_watch(d, slot) ? d->views[slot].tid : 0;
}

uint64_t detector_gap_open_since(const struct detector *d, int slot)
{
	if (!slot_index_ok(slot))
		return 0;
	return __atomic_load_n(&d->skel->bss->watch_slots[slot].gap_start_ns, __ATOMIC_RELAXED);
}

/* Copies of a switching thread's entry read before one is taken as torn. */
#define ANATOMY_READ_TRIES 4

int detector_read_anatomy(const struct detector *d, int slot, uint64_t gap_start_ns,
			  struct anatomy_slot *out, uint32_t *gen, uint64_t *read_ns)
{
	struct anatomy_slot again;
	struct timespec ts;
	__u32 key = (__u32)slot;
	int fd, err = -EAGAIN;

	if (!d->anatomy)
		return -ENODATA;
	if (!slot_index_ok(slot))
		return -EINVAL;
	fd = bpf_map__fd(d->skel->maps.anatomy_slots);
	for (int i = 0; i < ANATOMY_READ_TRIES; i++) {
		if (bpf_map_lookup_elem(fd, &key, out) || bpf_map_lookup_elem(fd, &key, &again)) {
			err = -errno;
			break;
		}
		if (!memcmp(out, &again, sizeof(again))) {
			err = 0;
			break;
		}
	}
	if (err)
		return err;
	/* After the copy: every switch it holds came before this time. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	*read_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	*gen = __atomic_load_n(&d->skel->bss->watch_slots[slot].gen, __ATOMIC_RELAXED);
	/* A gap that closed meanwhile left the entry of its end (or of the
	 * next gap's first switch), not of the gap so far. */
	if (detector_gap_open_since(d, slot) != gap_start_ns)
		return -ESTALE;
	return 0;
}

/* ---- watches and marks -------------------------------------------------- */

static struct watch_config *watch_of(struct detector *d, int id)
{
	struct watch_config *w;

	if (id <= 0)
		return NULL;
	w = &d->skel->bss->watches[(uint32_t)id % MAX_WATCHES];
	if (w->id != (uint32_t)id || !(w->flags & WATCH_F_ACTIVE))
		return NULL;
	return w;
}

static bool mark_is_live(struct detector *d, const struct task_mark *m)
{
	return watch_of(d, (int)m->watch) != NULL;
}

/*
 * Whether the process a pidfd pins (pid) is the child of parent: read its
 * /proc entry, then check the pinned process still lives, so the entry
 * read was its own and not a recycled pid's.
 */
static bool is_child_of(int pidfd, pid_t pid, pid_t parent)
{
	char path[64], text[1024];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return false;
	text[n] = 0;
	return parse_stat_ppid(text) == parent &&
	       !syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0);
}

/* Mark a task through a pidfd of it; with a parent, only if it is that
 * process's child. -EOPNOTSUPP if no pidfd names it here (a thread before
 * 6.9), -EEXIST if a live mark is there already, -ESRCH if it is gone
 * (or not parent's child). */
static int mark_by_pidfd(struct detector *d, pid_t pid, pid_t tid, const struct task_mark *m,
			 pid_t parent)
{
	int mapfd = bpf_map__fd(d->skel->maps.task_marks);
	bool leader = tid == pid;
	struct task_mark old;
	int fd, ret = 0;

	if (d->lookup == LOOKUP_THREAD_ID || (!leader && !d->thread_pidfd))
		return -EOPNOTSUPP;
	fd = (int)syscall(SYS_pidfd_open, tid, leader ? 0 : PIDFD_THREAD);
	if (fd < 0)
		return -errno;
	/* The id may have been reused since the caller read it. */
	if ((!leader && !procfs_is_thread_of(pid, tid)) ||
	    (parent && !is_child_of(fd, pid, parent))) {
		ret = -ESRCH;
		goto out;
	}
	if (!bpf_map_lookup_elem(mapfd, &fd, &old) && mark_is_live(d, &old)) {
		ret = -EEXIST;
		goto out;
	}
	if (bpf_map_update_elem(mapfd, &fd, m, BPF_ANY))
		ret = -errno;
out:
	close(fd);
	return ret;
}

/* Mark a thread by its id (tid_marks). -EEXIST if a live mark is there. */
static int mark_by_tid(struct detector *d, pid_t tid, const struct task_mark *m)
{
	int mapfd = bpf_map__fd(d->skel->maps.tid_marks);
	__u32 key = (__u32)tid;
	struct task_mark old;

	if (!bpf_map_lookup_elem(mapfd, &key, &old)) {
		if (mark_is_live(d, &old))
			return -EEXIST;
		/* A stale one: replace it, the count stays. */
		return bpf_map_update_elem(mapfd, &key, m, BPF_EXIST) ? -errno : 0;
	}
	if (bpf_map_update_elem(mapfd, &key, m, BPF_NOEXIST))
		return -errno;
	__atomic_fetch_add(&d->skel->bss->counters.tid_marks, 1, __ATOMIC_RELEASE);
	return 0;
}

/*
 * Mark thread tid of pid: by pidfd where one names it, else by its id: a
 * thread before Linux 6.9, or one that does not exist (a plain watch keeps
 * its id in case it appears). A process mark (following) exists only in
 * task storage; without need_process it is optional and dropped there.
 */
static int mark_task(struct detector *d, pid_t pid, pid_t tid, const struct task_mark *m,
		     bool need_process)
{
	struct task_mark by_id = *m;
	int ret = mark_by_pidfd(d, pid, tid, m, 0);

	if ((ret != -EOPNOTSUPP && ret != -ESRCH) || need_process)
		return ret;
	by_id.flags &= ~MARK_F_PROCESS;
	return mark_by_tid(d, tid, &by_id);
}

struct mark_threads_ctx {
	struct detector *d;
	pid_t pid;
	const struct task_mark *m;
};

static int mark_one_thread(void *ctx, pid_t tid)
{
	struct mark_threads_ctx *c = ctx;
	int r;

	if (tid == c->pid)
		return 0;
	r = mark_task(c->d, c->pid, tid, c->m, false);
	/* Gone meanwhile, or followed already: fine. */
	return r == -ESRCH || r == -EEXIST ? 0 : r;
}

/* Mark every thread of pid (ALL_THREADS) but its leader, marked before:
 * threads created from now on are marked by the kernel side. */
static int mark_threads(struct detector *d, pid_t pid, const struct task_mark *m)
{
	struct mark_threads_ctx c = { .d = d, .pid = pid, .m = m };

	return procfs_each_thread(pid, mark_one_thread, &c);
}

/* Remove the tid_marks entries of watch id (the kernel side drops the
 * task storage ones itself). */
static void unmark_tids(struct detector *d, uint32_t id)
{
	int mapfd = bpf_map__fd(d->skel->maps.tid_marks);
	__u32 key, next, *prev = NULL;
	struct task_mark m;

	while (!bpf_map_get_next_key(mapfd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(mapfd, &key, &m) || m.watch != id)
			continue;
		if (!bpf_map_delete_elem(mapfd, &key))
			__atomic_fetch_sub(&d->skel->bss->counters.tid_marks, 1, __ATOMIC_RELEASE);
	}
}

void detector_remove_watch(struct detector *d, int watch)
{
	struct watch_config *w = watch_of(d, watch);

	if (!w)
		return;
	/* From here on the kernel side gives this watch nothing new. */
	__atomic_store_n(&w->flags, 0, __ATOMIC_RELEASE);
	for (__u32 i = 0; i < MAX_WATCHED_THREADS; i++) {
		struct watch_slot *s = &d->skel->bss->watch_slots[i];
		union watch_slot_state st;

		st.word = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		if ((st.flags & (WATCH_F_ACTIVE | WATCH_F_USER)) &&
		    __atomic_load_n(&s->watch, __ATOMIC_RELAXED) == (uint32_t)watch)
			free_slot(d, i, st.gen);
		if (d->views[i].watch == (uint32_t)watch)
			d->views[i].live = d->views[i].user = false;
	}
	unmark_tids(d, (uint32_t)watch);
}

int detector_add_watch(struct detector *d, const struct watch_spec *spec, int *slot_out)
{
	const uint32_t allowed = WATCH_F_HISTOGRAM | WATCH_F_FOLLOW | WATCH_F_ALL_THREADS |
				 WATCH_F_LOOP_HIST;
	bool all = spec->flags & WATCH_F_ALL_THREADS;
	pid_t tid = spec->tid ? spec->tid : spec->pid;
	struct task_mark m = { .slot = NO_SLOT, .pid = (__u32)spec->pid };
	struct watch_config *w;
	uint32_t id;
	int slot = -1, ret;

	if (slot_out)
		*slot_out = -1;
	if (spec->pid <= 0 || tid <= 0 || (spec->flags & ~allowed))
		return -EINVAL;
	if ((spec->flags & (WATCH_F_FOLLOW | WATCH_F_ALL_THREADS)) && !detector_can_follow(d))
		return -EOPNOTSUPP;
	if ((spec->flags & WATCH_F_LOOP_HIST) && !d->loop_hists)
		return -EOPNOTSUPP;
	for (int i = 0; i < MAX_WATCHED_THREADS && !all; i++)
		if (d->views[i].user && d->views[i].tid == tid)
			return -EEXIST;
	id = watch_id_take(&d->next_watch_id, d->skel->bss->watches);
	if (!id)
		return -ENOSPC;

	w = &d->skel->bss->watches[id % MAX_WATCHES];
	w->threshold_ns = spec->threshold_ns;
	w->id = id;
	/* The previous watch at this index is over: its counts go. */
	if (d->loop_hists)
		memset(&d->loop_hists[id % MAX_WATCHES], 0, sizeof(struct loop_hist));
	/* No mark names the watch before it is complete. */
	__atomic_store_n(&w->flags, spec->flags | WATCH_F_ACTIVE, __ATOMIC_RELEASE);
	m.watch = id;

	if (all) {
		/* The leader first: the kernel side marks every thread
		 * created from then on, the walk those that were there. */
		m.flags = MARK_F_THREAD | MARK_F_PROCESS;
		ret = mark_task(d, spec->pid, spec->pid, &m, true);
		if (!ret) {
			m.flags = MARK_F_THREAD;
			ret = mark_threads(d, spec->pid, &m);
		}
	} else {
		slot = take_slot(d, w, spec->pid, tid);
		if (slot < 0) {
			ret = slot;
			goto fail;
		}
		m.slot = (__u32)slot;
		m.slot_gen = d->views[slot].gen;
		m.flags = MARK_F_THREAD | (tid == spec->pid ? MARK_F_PROCESS : 0);
		ret = mark_task(d, spec->pid, tid, &m,
				tid == spec->pid && (spec->flags & WATCH_F_FOLLOW));
		if (!ret && tid != spec->pid && (spec->flags & WATCH_F_FOLLOW)) {
			/* One thread watched, the process followed. */
			struct task_mark pm = {
				.slot = NO_SLOT, .watch = id, .flags = MARK_F_PROCESS,
				.pid = (__u32)spec->pid,
			};

			ret = mark_task(d, spec->pid, spec->pid, &pm, true);
		}
	}
	if (ret)
		goto fail;
	if (slot_out)
		*slot_out = slot;
	return (int)id;

fail:
	detector_remove_watch(d, (int)id);
	return ret;
}

/* detector_add_process(), of a child of parent (0: any process). */
static int add_process(struct detector *d, int watch, pid_t pid, pid_t parent)
{
	struct watch_config *w = watch_of(d, watch);
	struct task_mark m = {
		.slot = NO_SLOT, .watch = (__u32)watch, .flags = MARK_F_THREAD | MARK_F_PROCESS,
		.pid = (__u32)pid,
	};
	int ret;

	if (!w)
		return -ENOENT;
	if (!detector_can_follow(d))
		return -EOPNOTSUPP;
	if (pid <= 0)
		return -EINVAL;
	ret = mark_by_pidfd(d, pid, pid, &m, parent);
	if (!ret && (w->flags & WATCH_F_ALL_THREADS)) {
		m.flags = MARK_F_THREAD;
		ret = mark_threads(d, pid, &m);
	}
	return ret;
}

int detector_add_process(struct detector *d, int watch, pid_t pid)
{
	return add_process(d, watch, pid, 0);
}

/* A /proc file of the kernel's own making (no target controls its size
 * beyond its number of children), read whole into a string; NULL if it
 * cannot be read. */
static char *read_proc_text(const char *path)
{
	size_t len = 0, cap = 4096;
	char *text = malloc(cap), *grown;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !text)
		goto fail;
	while ((n = read(fd, text + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 == cap) {
			grown = cap < (1u << 24) ? realloc(text, cap * 2) : NULL;
			if (!grown)
				goto fail;
			text = grown;
			cap *= 2;
		}
	}
	if (n < 0)
		goto fail;
	close(fd);
	text[len] = 0;
	return text;
fail:
	if (fd >= 0)
		close(fd);
	free(text);
	return NULL;
}

/* Processes found in a walk, each with the parent it was listed under. */
struct found {
	pid_t pid;
	pid_t parent;
};

struct walk {
	struct found *list;
	size_t len, cap, max;
};

struct children_ctx {
	struct walk *w;
	pid_t pid;
};

/* Append the children of thread tid of c->pid to the walk (at most
 * walk->max in all); 0 or -ENOMEM. */
static int list_thread_children(void *ctx, pid_t tid)
{
	struct children_ctx *c = ctx;
	struct walk *w = c->w;
	char path[96], *text;
	pid_t *kids = NULL;
	int count, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)c->pid, (int)tid);
	text = read_proc_text(path);
	if (!text)
		return 0; /* the thread exited */
	count = parse_children(text, NULL, 0);
	if (count > 0) {
		kids = malloc((size_t)count * sizeof(*kids));
		ret = kids ? 0 : -ENOMEM;
	}
	if (!ret && count > 0 && w->len + (size_t)count > w->cap && w->len < w->max) {
		size_t ncap = w->len + (size_t)count;
		struct found *grown = realloc(w->list, ncap * sizeof(*grown));

		if (grown) {
			w->list = grown;
			w->cap = ncap;
		} else {
			ret = -ENOMEM;
		}
	}
	if (!ret && count > 0)
		parse_children(text, kids, (size_t)count);
	for (int i = 0; !ret && i < count && w->len < w->max && w->len < w->cap; i++)
		w->list[w->len++] = (struct found){ .pid = kids[i], .parent = c->pid };
	free(kids);
	free(text);
	return ret;
}

/* Append the children of every thread of pid to the walk (at most
 * walk->max in all); -errno. */
static int list_children(struct walk *w, pid_t pid)
{
	struct children_ctx c = { .w = w, .pid = pid };

	return procfs_each_thread(pid, list_thread_children, &c);
}

int detector_add_descendants(struct detector *d, int watch, pid_t pid)
{
	struct watch_config *wc = watch_of(d, watch);
	struct walk w = { .max = d->follow_limit };
	size_t head = 0;
	int added = 0, ret;

	if (!wc)
		return -ENOENT;
	if (!(wc->flags & WATCH_F_FOLLOW))
		return -EINVAL;
	/* Breadth first: each process is a member before its children are
	 * listed. */
	ret = list_children(&w, pid);
	while (!ret && head < w.len) {
		struct found f = w.list[head++];
		int r = add_process(d, watch, f.pid, f.parent);

		if (r == -ESRCH)
			continue; /* exited (or reparented) meanwhile */
		if (r && r != -EEXIST) {
			ret = r;
			break;
		}
		added += !r;
		ret = list_children(&w, f.pid);
		if (ret == -ENOENT || ret == -ESRCH)
			ret = 0;
	}
	free(w.list);
	return ret ? ret : added;
}

/* ---- delivery ----------------------------------------------------------- */

/* Deliver a notice, unless its watch ended since. */
static void deliver_notice(void *ctx, const struct task_notice *n)
{
	struct detector *d = ctx;

	if (d->handlers && d->handlers->task && watch_of(d, (int)n->watch))
		d->handlers->task(d->handlers_ctx, n);
}

static int on_notice(void *ctx, void *data, size_t size)
{
	struct detector *d = ctx;
	const struct task_notice *n = data;

	if (size < sizeof(*n))
		return 0;
	/* The view follows the kernel side whatever the watch. */
	if (slot_view_apply(d->views, MAX_WATCHED_THREADS, n))
		deliver_notice(d, n);
	return 0;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct detector *d = ctx;
	const struct gap_event *e = data;
	const struct slot_view *v;

	if (size < sizeof(*e) || e->slot >= MAX_WATCHED_THREADS)
		return 0;
	/* Queued before its watch ended: drop it. */
	if (!watch_of(d, (int)e->watch))
		return 0;
	/* Its thread's THREAD_ADDED was queued before it, in the other
	 * ring: deliver that first. */
	v = &d->views[e->slot];
	if (v->gen != e->gen)
		ring_buffer__consume(d->notices_rb);
	if (d->handlers->gap)
		d->handlers->gap(d->handlers_ctx, e);
	d->delivered++;
	return 0;
}

int detector_dispatch(struct detector *d, const struct detector_handlers *h, void *ctx)
{
	uint64_t lost;
	int ret;

	d->handlers = h;
	d->handlers_ctx = ctx;
	d->delivered = 0;
	/* Gaps first: those of a thread queued before its THREAD_GONE come
	 * before it. */
	ret = ring_buffer__consume(d->events_rb);
	if (ret >= 0)
		ret = ring_buffer__consume(d->notices_rb);
	lost = __atomic_load_n(&d->skel->bss->counters.lost_notices, __ATOMIC_RELAXED);
	if (lost != d->lost_notices_seen) {
		d->lost_notices_seen = lost;
		slot_views_reconcile(d->views, d->skel->bss->watch_slots, MAX_WATCHED_THREADS,
				     deliver_notice, d);
	}
	d->handlers = NULL;
	return ret < 0 ? ret : d->delivered;
}

int detector_events_fd(const struct detector *d)
{
	return d->epfd;
}

/* ---- waking the sampler ------------------------------------------------- */

int detector_wake_fd(const struct detector *d, const char **why)
{
	if (why)
		*why = d->wakes_rb ? NULL : d->no_wake_why;
	/* The ring's own fd: it polls readable while a record waits. */
	return d->wakes_rb ? bpf_map__fd(d->skel->maps.wakes) : -1;
}

void detector_wake_slot(struct detector *d, int slot, bool on)
{
	if (!d->wakes_rb || !slot_index_ok(slot))
		return;
	__atomic_store_n(&d->skel->bss->slot_wakes[slot].want_gen, on ? d->views[slot].gen : 0,
			 __ATOMIC_RELAXED);
}

/* A wake's only news is that it came. */
static int on_wake(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return 0;
}

int detector_wake_drain(struct detector *d)
{
	return d->wakes_rb ? ring_buffer__consume(d->wakes_rb) : 0;
}

/* ---- counters ----------------------------------------------------------- */

void detector_read_counts(const struct detector *d, struct detector_counts *out)
{
	const struct detector_counters *c = &d->skel->bss->counters;

	out->lost_events = __atomic_load_n(&c->lost_events, __ATOMIC_RELAXED);
	out->lost_notices = __atomic_load_n(&c->lost_notices, __ATOMIC_RELAXED);
	out->follow_overflow = __atomic_load_n(&c->follow_overflow, __ATOMIC_RELAXED);
	out->slot_overflow = __atomic_load_n(&c->slot_overflow, __ATOMIC_RELAXED);
	out->followed = __atomic_load_n(&c->followed, __ATOMIC_RELAXED);
	out->slots_in_use = __atomic_load_n(&c->slots_out, __ATOMIC_RELAXED);
	out->wake_arms = __atomic_load_n(&c->wake_arms, __ATOMIC_RELAXED);
	out->wakes_sent = __atomic_load_n(&c->wakes_sent, __ATOMIC_RELAXED);
	out->wakes_failed = __atomic_load_n(&c->wakes_failed, __ATOMIC_RELAXED);
}

uint64_t detector_lost_events(const struct detector *d)
{
	return __atomic_load_n(&d->skel->bss->counters.lost_events, __ATOMIC_RELAXED);
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

int detector_read_loop_hist(const struct detector *d, int watch, struct loop_hist *out)
{
	const struct watch_config *w;
	const struct loop_hist *h;

	if (watch <= 0 || !d->loop_hists)
		return -ENOENT;
	w = &d->skel->bss->watches[(uint32_t)watch % MAX_WATCHES];
	if (w->id != (uint32_t)watch || !(w->flags & WATCH_F_LOOP_HIST))
		return -ENOENT;
	/* The kernel side adds as we read: each word is read whole, and a
	 * gap counted in a bucket may miss the sum until the next read. */
	h = &d->loop_hists[(uint32_t)watch % MAX_WATCHES];
	out->sum_ns = __atomic_load_n(&h->sum_ns, __ATOMIC_RELAXED);
	out->pad = 0;
	for (unsigned int b = 0; b < LOOP_HIST_BUCKETS; b++)
		out->buckets[b] = __atomic_load_n(&h->buckets[b], __ATOMIC_RELAXED);
	return 0;
}
