// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <cjson/cJSON.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "austin/austin_diag.h"
#include "austin/austin_spawn.h"
#include "caps.h"
#include "doctor.h"
#include "exit_codes.h"
#include "k8s/kubelet.h"
#include "log.h"
#include "metrics_http.h"
#include "procfs.h"
#include "tracefs.h"

#define BTF_PATH "/sys/kernel/btf/vmlinux"

/* What blocksnoop may use; kept when advising a new setcap set. */
#define RELEVANT_CAPS (CAPS_BIT(CAP_BPF) | CAPS_BIT(CAP_PERFMON) |             \
		       CAPS_BIT(CAP_SYS_PTRACE) | CAPS_BIT(CAP_DAC_READ_SEARCH) | \
		       CAPS_BIT(CAP_SYS_ADMIN))
#define NOT_READY EXIT_RUNTIME /* 1: some check failed */

static const char usage[] =
"Usage: blocksnoop doctor [PID] [--tid TID]\n"
"       blocksnoop doctor [PID] [--tid TID] [--json] [--austin PATH] [--austin-root DIR]\n"
"\n"
"Check, without changing anything, whether blocksnoop can run here: kernel,\n"
"BTF, tracefs, the epoll tracepoints, capabilities, Austin (for --sampler\n"
"austin) and, given a PID, the target process. One line per check (ok, warn\n"
"or FAIL), then \"ready\" or \"not ready: N problem(s)\".\n"
"\n"
"  PID                 also check this target process\n"
"      --tid TID       also check that TID is a thread of PID\n"
"      --json          one JSON document on stdout instead: every check's\n"
"                      name, status, detail and fix, and the verdict\n"
"                      (status \"ready\" or \"not_ready\"; schema\n"
"                      blocksnoop-doctor/v1, docs/output-schema.md)\n"
"      --austin PATH   the Austin to check (default: austin on PATH)\n"
"      --austin-root DIR  where Austin, its loader and libraries live\n"
"                      (default /); either option makes a missing or\n"
"                      unusable Austin a problem, not a warning\n"
"  -h, --help          this help\n"
"\n"
"Exit status: 0 ready, 1 not ready, 2 usage error, 4 no such process or\n"
"thread.\n";

/* ---------------------------------------------------------------- parsing */

static int usage_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int usage_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

/* A process or thread id: decimal digits only, 1..INT_MAX. */
static int parse_id(const char *s, pid_t *id)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > INT_MAX)
		return -EINVAL;
	*id = (pid_t)v;
	return 0;
}

int doctor_parse_args(int argc, char **argv, struct doctor_args *a,
		      char *err, size_t errlen)
{
	bool options_done = false;

	*a = (struct doctor_args){ .austin_root = "/" };
	if (errlen)
		err[0] = '\0';
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *tid_text = NULL;

		if (!options_done && arg[0] == '-' && arg[1]) {
			const char *value = NULL;
			bool root = false;

			if (!strcmp(arg, "--austin") || !strcmp(arg, "--austin-root")) {
				root = arg[8] == '-';
				if (i + 1 >= argc)
					return usage_error(err, errlen,
						"option '%s' needs a value (see doctor --help)", arg);
				value = argv[++i];
			} else if (!strncmp(arg, "--austin=", 9)) {
				value = arg + 9;
			} else if (!strncmp(arg, "--austin-root=", 14)) {
				value = arg + 14;
				root = true;
			}
			if (value) {
				if (!*value)
					return usage_error(err, errlen,
						"option '--austin%s' needs a value (see doctor --help)",
						root ? "-root" : "");
				if (root && value[0] != '/')
					return usage_error(err, errlen,
						"invalid --austin-root '%s': expected an absolute directory",
						value);
				if (root)
					a->austin_root = value;
				else
					a->austin = value;
				a->austin_given = true;
				continue;
			}
			if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
				a->help = true;
				return 0;
			} else if (!strcmp(arg, "--json")) {
				a->json = true;
				continue;
			} else if (!strcmp(arg, "--")) {
				options_done = true;
				continue;
			} else if (!strcmp(arg, "--tid")) {
				if (i + 1 >= argc)
					return usage_error(err, errlen,
						"option '--tid' needs a value (see doctor --help)");
				tid_text = argv[++i];
			} else if (!strncmp(arg, "--tid=", 6)) {
				tid_text = arg + 6;
			} else {
				return usage_error(err, errlen,
					"unknown option '%s' (see doctor --help)", arg);
			}
			if (parse_id(tid_text, &a->tid))
				return usage_error(err, errlen,
					"invalid --tid '%s': expected a thread id", tid_text);
			continue;
		}
		if (a->pid)
			return usage_error(err, errlen,
				"unexpected argument '%s': doctor takes at most one PID", arg);
		if (parse_id(arg, &a->pid))
			return usage_error(err, errlen,
				"invalid PID '%s': expected a process id", arg);
	}
	if (a->tid && !a->pid)
		return usage_error(err, errlen,
			"--tid needs a PID: blocksnoop doctor PID --tid TID");
	return 0;
}

int doctor_parse_release(const char *release, int v[3])
{
	const char *p = release;

	for (int i = 0; i < 3; i++) {
		char *end;
		long n;

		if (*p < '0' || *p > '9') {
			/* "5.8" and "5.8-rc1" have no patch level. */
			if (i == 2) {
				v[2] = 0;
				return 0;
			}
			return -EINVAL;
		}
		n = strtol(p, &end, 10);
		if (n > INT_MAX)
			return -EINVAL;
		v[i] = (int)n;
		p = end;
		if (i < 2) {
			if (*p != '.') {
				if (i == 1) {
					v[2] = 0;
					return 0;
				}
				return -EINVAL;
			}
			p++;
		}
	}
	return 0;
}

int doctor_status_field(const char *status, const char *key, long *value)
{
	size_t klen = strlen(key);
	const char *p = status;

	while (p) {
		if (!strncmp(p, key, klen) && p[klen] == ':') {
			char *end;
			long v;

			p += klen + 1;
			p += strspn(p, " \t");
			if ((*p < '0' || *p > '9') && *p != '-')
				return -EINVAL;
			errno = 0;
			v = strtol(p, &end, 10);
			if (errno || end == p)
				return -EINVAL;
			*value = v;
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -EINVAL;
}

bool doctor_mounts_has(const char *mounts, const char *dir, const char *fstype)
{
	size_t dlen = strlen(dir), tlen = strlen(fstype);
	const char *p = mounts;

	/* "SOURCE DIR FSTYPE OPTIONS 0 0" per line; neither dir nor fstype
	 * here needs the octal escapes the kernel uses for spaces. */
	while (p && *p) {
		const char *d = strchr(p, ' ');
		const char *nl = strchr(p, '\n');

		if (d && (!nl || d < nl)) {
			d++;
			if (!strncmp(d, dir, dlen) && d[dlen] == ' ' &&
			    !strncmp(d + dlen + 1, fstype, tlen) &&
			    (d[dlen + 1 + tlen] == ' ' || d[dlen + 1 + tlen] == '\n' ||
			     !d[dlen + 1 + tlen]))
				return true;
		}
		p = nl ? nl + 1 : NULL;
	}
	return false;
}

/* --------------------------------------------------------------- gathering */

/* A whole small file into buf (NUL-terminated). Returns 0 or a positive
 * errno. */
static int read_file(const char *path, char *buf, size_t len)
{
	size_t used = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	while (used + 1 < len) {
		ssize_t n = read(fd, buf + used, len - 1 - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			break;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	buf[used] = '\0';
	close(fd);
	return err;
}

/* A file holding one integer (a sysctl), or fallback. */
static int read_int(const char *path, int fallback)
{
	char text[32];
	char *end;
	long v;

	if (read_file(path, text, sizeof(text)) != 0)
		return fallback;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || v < INT_MIN || v > INT_MAX)
		return fallback;
	return (int)v;
}

/* With the effective ids and capabilities, as open() will be: plain
 * access() uses the real uid and, for a non-root user, no capabilities,
 * which misjudges a setcap'd blocksnoop. */
static int access_errno(const char *path, int mode)
{
	return faccessat(AT_FDCWD, path, mode, AT_EACCESS) == 0 ? 0 : errno;
}

static void gather_kernel(struct doctor_facts *f)
{
	struct utsname u;

	if (uname(&u) == 0)
		snprintf(f->release, sizeof(f->release), "%s", u.release);
	f->kernel_parsed = doctor_parse_release(f->release, f->kernel) == 0;
	f->btf_errno = access_errno(BTF_PATH, R_OK);
}

/* The mount point of a tracefs at one of the places blocksnoop looks, from
 * /proc/self/mounts, or NULL. */
static const char *tracefs_in_mounts(void)
{
	static const char *const places[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	const char *found = NULL;
	char *text = NULL;
	size_t cap = 0;
	FILE *mounts;

	/* Line by line: a Kubernetes node can have thousands of mounts. */
	mounts = fopen("/proc/self/mounts", "re");
	if (!mounts)
		return NULL;
	while (!found && getline(&text, &cap, mounts) > 0)
		for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++)
			if (doctor_mounts_has(text, places[i], "tracefs"))
				found = places[i];
	free(text);
	fclose(mounts);
	return found;
}

static void gather_tracefs(struct doctor_facts *f)
{
	char path[PATH_MAX], event[64];

	/* Only looks: tracefs_ensure() would mount it. */
	f->tracefs = tracefs_find();
	if (!f->tracefs) {
		/* tracefs is root's alone (mode 0700): to anyone else, mounted
		 * looks like absent. */
		const char *place = tracefs_in_mounts();

		if (!place)
			return;
		snprintf(path, sizeof(path), "%s/events", place);
		f->tracefs_hidden_errno = access_errno(path, X_OK);
		if (f->tracefs_hidden_errno) {
			f->tracefs_hidden = place;
			return;
		}
		/* Readable after all (tracefs_find() judged with other
		 * credentials): check it like any other. */
		f->tracefs = place;
	}
	snprintf(path, sizeof(path), "%s/events/syscalls", f->tracefs);
	f->syscalls_errno = access_errno(path, X_OK);
	for (int v = 0; v < EPOLL_VARIANT_COUNT; v++)
		for (int exit = 0; exit < 2; exit++) {
			snprintf(event, sizeof(event), "sys_%s_%s",
				 exit ? "exit" : "enter", epoll_variant_names[v]);
			f->tracepoint[v][exit] = tracefs_has_event(f->tracefs, event);
		}
}

static void gather_privileges(struct doctor_facts *f)
{
	struct rlimit rl;
	char status[8192];
	ssize_t n;
	long mode;

	f->caps_errno = -caps_effective(&f->effective);
	f->kernel_has_cap_bpf = caps_kernel_has(CAP_BPF);
	f->root = geteuid() == 0;
	n = readlink("/proc/self/exe", f->exe, sizeof(f->exe) - 1);
	f->exe[n > 0 ? n : 0] = '\0';
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
		f->memlock_unlimited = rl.rlim_cur == RLIM_INFINITY;
		f->memlock = rl.rlim_cur;
	} else {
		f->memlock_unlimited = true; /* unknown: do not warn */
	}
	f->yama_ptrace_scope = read_int("/proc/sys/kernel/yama/ptrace_scope", -1);
	f->perf_event_paranoid = read_int("/proc/sys/kernel/perf_event_paranoid", -100);
	f->seccomp_mode = -1;
	if (read_file("/proc/self/status", status, sizeof(status)) == 0 &&
	    doctor_status_field(status, "Seccomp", &mode) == 0)
		f->seccomp_mode = (int)mode;
}

/* Each probe creates one object and closes it at once: nothing stays
 * loaded, nothing is attached. */
static int probe_ringbuf(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0,
				(__u32)getpagesize(), NULL);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int probe_tracepoint_prog(void)
{
	/* r0 = 0; exit */
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_TRACEPOINT, "bs_doctor", "GPL",
			       insns, sizeof(insns) / sizeof(insns[0]), NULL);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static void gather_bpf(struct doctor_facts *f)
{
	int err;

	/* Without the capabilities the kernel would refuse the probes with
	 * EPERM, which says nothing new. Unknown capabilities: just try. */
	if (!f->caps_errno &&
	    caps_trace_missing(f->effective, f->kernel_has_cap_bpf))
		return;
	err = probe_ringbuf();
	f->ringbuf = err ? PROBE_FAILED : PROBE_OK;
	f->ringbuf_errno = err;
	err = probe_tracepoint_prog();
	f->tp_prog = err ? PROBE_FAILED : PROBE_OK;
	f->tp_prog_errno = err;
	/* Only blocksnoop outside the initial PID namespace calls it. */
	if (f->tp_prog == PROBE_OK && !f->self_pidns_errno &&
	    f->self_pidns != PROC_PID_INIT_INO)
		f->ns_helper = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT,
						       BPF_FUNC_get_ns_current_pid_tgid,
						       NULL) == 1
				       ? PROBE_OK : PROBE_FAILED;
}

static void gather_self_pidns(struct doctor_facts *f)
{
	pid_t ids[PROCFS_MAX_NS_LEVELS];
	char status[8192];
	uint64_t dev;
	int n;

	f->self_pidns_errno = -procfs_ns_id("/proc/self/ns/pid", &dev, &f->self_pidns);
	/* /proc/self, not getpid(): the numbers count from /proc's namespace. */
	if (read_file("/proc/self/status", status, sizeof(status)) == 0 &&
	    (n = procfs_parse_nspid(status, ids)) > 0)
		f->self_ns_levels = n;
}

static void gather_target(const struct doctor_args *a, struct doctor_facts *f)
{
	pid_t ids[PROCFS_MAX_NS_LEVELS];
	char path[64], status[8192];
	uint64_t dev;
	long tgid;
	int fd, n;

	f->pid = a->pid;
	f->tid = a->tid;
	if (!a->pid)
		return;
	f->pid_exists = procfs_process_exists(a->pid);
	if (!f->pid_exists)
		return;
	procfs_comm(a->pid, f->comm, sizeof(f->comm));
	f->python = procfs_is_python(a->pid);
	if (a->tid)
		f->tid_is_thread = procfs_is_thread_of(a->pid, a->tid);

	snprintf(path, sizeof(path), "/proc/%d/status", a->pid);
	if (read_file(path, status, sizeof(status)) == 0) {
		if (doctor_status_field(status, "Tgid", &tgid) == 0)
			f->tgid = (pid_t)tgid;
		n = procfs_parse_nspid(status, ids);
		if (n > 0) {
			f->ns_levels = n;
			f->inner_pid = ids[n - 1];
		}
	}

	/* Opening mem makes the same ptrace-attach check that reading it
	 * with process_vm_readv() does; nothing is read. */
	snprintf(path, sizeof(path), "/proc/%d/mem", a->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	f->mem_errno = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", a->pid);
	f->pidns_errno = -procfs_ns_id(path, &dev, &f->pidns);
}

/* Austin: where it is, `austin -V` (through its own loader when it comes
 * from another root), and whether a target needs the namespace shim. */
static void gather_austin(const struct doctor_args *a, struct doctor_facts *f)
{
	const char *root = a->austin_root ? a->austin_root : "/";

	f->austin_wanted = a->austin_given;
	snprintf(f->austin_root, sizeof(f->austin_root), "%s", root);
	f->austin_found = austin_locate(root, a->austin, f->austin_path, sizeof(f->austin_path),
					f->austin_error, sizeof(f->austin_error)) == 0;
	if (f->austin_found &&
	    austin_run_version(root, f->austin_path, f->austin_version,
			       sizeof(f->austin_version), f->austin_error,
			       sizeof(f->austin_error)) == 0)
		f->austin_version_parsed = austin_parse_version(f->austin_version, f->austin_v) == 0;
	if (strcmp(root, "/")) {
		f->austin_shim = f->austin_shim_known = true;
	} else if (f->pid && f->pid_exists) {
		f->austin_shim = austin_needs_shim(f->pid, root);
		f->austin_shim_known = true;
	}
	/* Only asked where Austin is blocksnoop's own (with --austin-root it is
	 * always started through the shim). */
	f->austin_elf = f->austin_found && !strcmp(root, "/") && austin_is_elf(f->austin_path);
}

/* Loading them maps them into doctor (and runs their constructors): they
 * are the system's libraries, the ones a run would load. */
static void gather_libraries(struct doctor_facts *f)
{
	kubelet_load_libcurl(f->libcurl_error, sizeof(f->libcurl_error));
	metrics_http_load_libmicrohttpd(f->libmhd_error, sizeof(f->libmhd_error));
}

void doctor_gather(const struct doctor_args *a, struct doctor_facts *f)
{
	*f = (struct doctor_facts){ 0 };
	gather_kernel(f);
	gather_tracefs(f);
	gather_privileges(f);
	gather_self_pidns(f);
	gather_bpf(f);
	gather_target(a, f);
	gather_austin(a, f);
	gather_libraries(f);
}

/* ---------------------------------------------------------------- reporting */

enum status { ST_OK, ST_WARN, ST_FAIL };

/*
 * One check at a time: check() opens it (name, status, what was found),
 * fix() may add what to do about it, and the next check() or the end of
 * the report writes it out, as a text line ("FAIL  detail: what to do")
 * or as an object of the JSON report's "checks".
 */
struct report {
	FILE *out;
	cJSON *checks;          /* JSON report: the array; NULL: text */
	bool json_failed;       /* out of memory building it */
	int problems;
	bool open;              /* a check is waiting to be written */
	const char *name;       /* static */
	enum status status;
	char detail[1024];
	char fix[1024];         /* "" when there is nothing to do */
};

static const char *const status_word[] = {
	[ST_OK] = "ok", [ST_WARN] = "warn", [ST_FAIL] = "FAIL",
};
static const char *const status_json[] = {
	[ST_OK] = "ok", [ST_WARN] = "warn", [ST_FAIL] = "fail",
};

static void put_check(struct report *r)
{
	cJSON *c;

	if (!r->open)
		return;
	r->open = false;
	if (!r->checks) {
		fprintf(r->out, "%-6s%s%s%s\n", status_word[r->status], r->detail,
			r->fix[0] ? ": " : "", r->fix);
		return;
	}
	c = cJSON_CreateObject();
	if (!c || !cJSON_AddItemToArray(r->checks, c)) {
		cJSON_Delete(c);
		r->json_failed = true;
		return;
	}
	if (!cJSON_AddStringToObject(c, "name", r->name) ||
	    !cJSON_AddStringToObject(c, "status", status_json[r->status]) ||
	    !cJSON_AddStringToObject(c, "detail", r->detail) ||
	    !(r->fix[0] ? cJSON_AddStringToObject(c, "fix", r->fix)
			: cJSON_AddNullToObject(c, "fix")))
		r->json_failed = true;
}

static void check(struct report *r, const char *name, enum status st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void check(struct report *r, const char *name, enum status st, const char *fmt, ...)
{
	va_list ap;

	put_check(r);
	r->open = true;
	r->name = name;
	r->status = st;
	r->fix[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
	if (st == ST_FAIL)
		r->problems++;
}

/* What to do about the check just opened. */
static void fix(struct report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fix(struct report *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->fix, sizeof(r->fix), fmt, ap);
	va_end(ap);
}

static bool has(const struct doctor_facts *f, int cap)
{
	return !f->caps_errno && (f->effective & CAPS_BIT(cap));
}

static bool kernel_at_least(const struct doctor_facts *f, int major, int minor)
{
	return f->kernel_parsed &&
	       (f->kernel[0] > major ||
		(f->kernel[0] == major && f->kernel[1] >= minor));
}

/* Whether tracefs is unreadable for want of CAP_DAC_READ_SEARCH: it is
 * root's alone, and a non-root blocksnoop (setcap) lacks the capability. */
static bool tracefs_wants_dac(const struct doctor_facts *f)
{
	return f->tracefs_hidden && f->tracefs_hidden_errno == EACCES &&
	       !f->root && !f->caps_errno && !has(f, CAP_DAC_READ_SEARCH) &&
	       !has(f, CAP_DAC_OVERRIDE);
}

static void report_kernel(struct report *r, const struct doctor_facts *f)
{
	const int *k = f->kernel;

	if (!f->kernel_parsed)
		check(r, "kernel", ST_WARN, "kernel '%s': cannot tell its version (>= 5.8 needed for BPF ring buffers)",
		      f->release);
	else if (kernel_at_least(f, 5, 8))
		check(r, "kernel", ST_OK, "kernel %d.%d.%d (>= 5.8 needed for BPF ring buffers)",
		      k[0], k[1], k[2]);
	else if (f->ringbuf == PROBE_OK)
		/* Distribution kernels backport (RHEL 8's 4.18 has ring
		 * buffers): the probe outranks the number. */
		check(r, "kernel", ST_WARN, "kernel %d.%d.%d is older than 5.8, but it has BPF ring buffers (backported)",
		      k[0], k[1], k[2]);
	else {
		check(r, "kernel", ST_FAIL, "kernel %d.%d.%d is too old: blocksnoop needs >= 5.8 (BPF ring buffers; 5.7 for bpf_get_ns_current_pid_tgid)",
		      k[0], k[1], k[2]);
		fix(r, "run a kernel of 5.8 or later");
	}

	if (!f->btf_errno) {
		check(r, "btf", ST_OK, "BTF at " BTF_PATH " (CO-RE relocations)");
	} else if (f->btf_errno == ENOENT) {
		check(r, "btf", ST_FAIL, "no BTF at " BTF_PATH);
		fix(r, "blocksnoop's CO-RE programs need a kernel built with CONFIG_DEBUG_INFO_BTF=y");
	} else {
		check(r, "btf", ST_FAIL, "cannot read " BTF_PATH ": %s", strerror(f->btf_errno));
		fix(r, "run blocksnoop as root, or with CAP_DAC_READ_SEARCH");
	}
}

static void report_tracefs(struct report *r, const struct doctor_facts *f)
{
	char missing[256] = "", partial[128] = "";
	size_t mlen = 0, plen = 0;
	int complete = 0;

	if (f->tracefs) {
		check(r, "tracefs", ST_OK, "tracefs mounted at %s", f->tracefs);
	} else if (f->tracefs_hidden) {
		/* A problem, unless the capabilities line already counts it. */
		check(r, "tracefs", tracefs_wants_dac(f) ? ST_WARN : ST_FAIL,
		      "tracefs is mounted at %s, but blocksnoop cannot read it: %s",
		      f->tracefs_hidden, strerror(f->tracefs_hidden_errno));
		fix(r, "run as root or grant CAP_DAC_READ_SEARCH");
	} else if (has(f, CAP_SYS_ADMIN) || f->caps_errno) {
		check(r, "tracefs", ST_WARN, "tracefs is not mounted: blocksnoop will mount it on /sys/kernel/tracing (needs CAP_SYS_ADMIN)");
	} else {
		check(r, "tracefs", ST_FAIL, "tracefs is not mounted, and blocksnoop cannot mount it without CAP_SYS_ADMIN");
		fix(r, "mount it first (mount -t tracefs tracefs /sys/kernel/tracing), or grant CAP_SYS_ADMIN");
	}

	if (f->tracefs_hidden) {
		check(r, "tracepoints", ST_WARN, "epoll tracepoints not checked: tracefs cannot be read");
		return;
	}
	if (!f->tracefs) {
		check(r, "tracepoints", ST_WARN, "epoll tracepoints not checked: that needs tracefs mounted, and doctor mounts nothing");
		return;
	}
	if (f->syscalls_errno == ENOENT) {
		check(r, "tracepoints", ST_FAIL, "no syscall tracepoints in %s/events/syscalls",
		      f->tracefs);
		fix(r, "run a kernel built with CONFIG_FTRACE_SYSCALLS=y");
		return;
	}
	if (f->syscalls_errno) {
		check(r, "tracepoints", ST_WARN, "epoll tracepoints not checked: cannot read %s/events/syscalls: %s",
		      f->tracefs, strerror(f->syscalls_errno));
		return;
	}
	for (int v = 0; v < EPOLL_VARIANT_COUNT; v++) {
		bool both = f->tracepoint[v][0] && f->tracepoint[v][1];

		complete += both;
		if (!both && plen < sizeof(partial))
			plen += snprintf(partial + plen, sizeof(partial) - plen, "%s%s",
					 plen ? ", " : "", epoll_variant_names[v]);
		for (int exit = 0; exit < 2; exit++)
			if (!f->tracepoint[v][exit] && mlen < sizeof(missing))
				mlen += snprintf(missing + mlen, sizeof(missing) - mlen,
						 "%ssyscalls:sys_%s_%s", mlen ? ", " : "",
						 exit ? "exit" : "enter", epoll_variant_names[v]);
	}
	if (!complete) {
		check(r, "tracepoints", ST_FAIL, "no complete enter/exit pair of epoll tracepoints: missing %s",
		      missing);
		fix(r, "run a kernel built with CONFIG_FTRACE_SYSCALLS=y");
	} else if (complete < EPOLL_VARIANT_COUNT) {
		check(r, "tracepoints", ST_WARN, "missing tracepoints %s: loops waiting in %s will not be seen",
		      missing, partial);
	} else {
		check(r, "tracepoints", ST_OK, "tracepoints syscalls:sys_{enter,exit}_{epoll_wait,epoll_pwait,epoll_pwait2}");
	}
}

static void report_caps(struct report *r, const struct doctor_facts *f)
{
	char names[128], grant[512], why[384];
	uint64_t trace, need;
	size_t w = 0;

	if (f->caps_errno) {
		check(r, "capabilities", ST_WARN, "capabilities not checked: cannot read them: %s",
		      strerror(f->caps_errno));
		return;
	}
	trace = caps_trace_missing(f->effective, f->kernel_has_cap_bpf);
	need = trace | (has(f, CAP_SYS_PTRACE) ? 0 : CAPS_BIT(CAP_SYS_PTRACE)) |
	       (tracefs_wants_dac(f) ? CAPS_BIT(CAP_DAC_READ_SEARCH) : 0);

	/* 1. What running at all needs: one line naming all that is missing,
	 * so that one grant fixes it. */
	if (!need) {
		check(r, "capabilities", ST_OK, "%s (load and attach the BPF programs), CAP_SYS_PTRACE (read Python stacks)",
		      !f->kernel_has_cap_bpf ? "CAP_SYS_ADMIN" :
		      has(f, CAP_BPF) && has(f, CAP_PERFMON) ? "CAP_BPF, CAP_PERFMON" :
		      "CAP_SYS_ADMIN in place of CAP_BPF, CAP_PERFMON");
	} else {
		why[0] = '\0';
		if (trace) {
			caps_format_names(trace, names, sizeof(names));
			w += snprintf(why + w, sizeof(why) - w, "%s (load and attach the BPF programs%s)",
				      names, trace & CAPS_BIT(CAP_SYS_ADMIN) ?
				      ": this kernel predates CAP_BPF" :
				      "; CAP_SYS_ADMIN would also do");
		}
		if ((need & CAPS_BIT(CAP_SYS_PTRACE)) && w < sizeof(why))
			w += snprintf(why + w, sizeof(why) - w, "%sCAP_SYS_PTRACE (read other processes' memory for Python stacks)",
				      w ? ", " : "");
		if ((need & CAPS_BIT(CAP_DAC_READ_SEARCH)) && w < sizeof(why))
			snprintf(why + w, sizeof(why) - w, "%sCAP_DAC_READ_SEARCH (read tracefs, which is root's alone)",
				 w ? ", " : "");
		caps_format_grant(need, f->effective & RELEVANT_CAPS, f->root,
				  f->exe, grant, sizeof(grant));
		check(r, "capabilities", ST_FAIL, "missing %s", why);
		fix(r, "%s", grant);
	}

	/* 2. CAP_SYS_ADMIN for the rest, unless named above already. */
	if (!(trace & CAPS_BIT(CAP_SYS_ADMIN))) {
		if (has(f, CAP_SYS_ADMIN)) {
			check(r, "cap_sys_admin", ST_OK, "CAP_SYS_ADMIN (mount tracefs when missing, enter a container's namespaces)");
		} else {
			caps_format_grant(CAPS_BIT(CAP_SYS_ADMIN),
					  f->effective & RELEVANT_CAPS, f->root,
					  f->exe, grant, sizeof(grant));
			check(r, "cap_sys_admin", ST_WARN, "missing CAP_SYS_ADMIN: blocksnoop cannot mount tracefs%s or enter a container's namespaces",
			      f->tracefs ? " (it is mounted)" : "");
			fix(r, "to allow that, %s", grant);
		}
	}

	/* 3. CAP_SYS_RESOURCE, informational: libbpf raises RLIMIT_MEMLOCK
	 * with it, which only kernels before 5.11 charge BPF memory to. */
	if (!f->kernel_parsed || kernel_at_least(f, 5, 11))
		check(r, "memlock", ST_OK, "CAP_SYS_RESOURCE %s: not needed, kernels >= 5.11 charge BPF memory to the memory cgroup",
		      has(f, CAP_SYS_RESOURCE) ? "present" : "missing");
	else if (has(f, CAP_SYS_RESOURCE) || f->memlock_unlimited)
		check(r, "memlock", ST_OK, "RLIMIT_MEMLOCK can hold the BPF maps (kernel < 5.11 charges them to it)");
	else {
		check(r, "memlock", ST_WARN, "missing CAP_SYS_RESOURCE, and RLIMIT_MEMLOCK is %llu KiB: kernels < 5.11 charge BPF maps to it",
		      (unsigned long long)(f->memlock / 1024));
		fix(r, "raise it (ulimit -l unlimited) or grant CAP_SYS_RESOURCE");
	}

	if (f->perf_event_paranoid > 2 && !has(f, CAP_SYS_ADMIN)) {
		check(r, "perf_event_paranoid", ST_WARN, "kernel.perf_event_paranoid is %d: some distribution kernels then refuse perf_event_open(), which attaches tracepoints, without CAP_SYS_ADMIN",
		      f->perf_event_paranoid);
		fix(r, "grant CAP_SYS_ADMIN, or lower it (sysctl kernel.perf_event_paranoid=2)");
	}
	if (f->yama_ptrace_scope >= 3) {
		check(r, "yama_ptrace_scope", ST_FAIL, "kernel.yama.ptrace_scope is %d: no process may read another's memory, so no Python stacks",
		      f->yama_ptrace_scope);
		fix(r, "only a reboot lowers it: set kernel.yama.ptrace_scope below 3 at boot, or run with --sampler none (no stacks)");
	}
}

static void report_bpf(struct report *r, const struct doctor_facts *f)
{
	const char *why = "";

	if (f->ringbuf == PROBE_SKIPPED) {
		check(r, "bpf", ST_WARN, "bpf() not probed: it needs the capabilities above");
		return;
	}
	if (f->ringbuf == PROBE_OK && f->tp_prog == PROBE_OK) {
		check(r, "bpf", ST_OK, "bpf(): created a ring buffer and loaded a tracepoint program (closed again)");
		return;
	}
	if (f->ringbuf_errno == EPERM || f->tp_prog_errno == EPERM)
		why = f->seccomp_mode == 2 ?
		      " (a seccomp filter is active, e.g. a container's default profile, and may refuse bpf())" :
		      " (an LSM or kernel lockdown may refuse bpf())";
	if (f->ringbuf == PROBE_FAILED)
		check(r, "bpf", ST_FAIL, "bpf() could not create a BPF ring buffer: %s%s",
		      strerror(f->ringbuf_errno),
		      f->ringbuf_errno == EINVAL ? " (kernel without ring buffers, < 5.8)" : why);
	else
		check(r, "bpf", ST_FAIL, "bpf() could not load a tracepoint program: %s%s",
		      strerror(f->tp_prog_errno), why);
	fix(r, "%s", f->ringbuf_errno == EINVAL ? "run a kernel of 5.8 or later" :
	    f->seccomp_mode == 2 ? "run blocksnoop without a seccomp filter (a container: --security-opt seccomp=unconfined)" :
	    "allow bpf() to blocksnoop (LSM policy, kernel lockdown, kernel.unprivileged_bpf_disabled for a non-root user)");
}

static void report_self_pidns(struct report *r, const struct doctor_facts *f)
{
	if (f->self_pidns_errno)
		check(r, "pid_namespace", ST_WARN, "cannot read /proc/self/ns/pid: %s", strerror(f->self_pidns_errno));
	else if (f->self_pidns == PROC_PID_INIT_INO)
		check(r, "pid_namespace", ST_OK, "blocksnoop runs in the initial PID namespace");
	else if (f->ns_helper == PROBE_FAILED) {
		check(r, "pid_namespace", ST_FAIL, "blocksnoop runs in PID namespace pid:[%llu], not the initial one, and the kernel lacks bpf_get_ns_current_pid_tgid (5.7) to number threads as it does",
		      (unsigned long long)f->self_pidns);
		fix(r, "run blocksnoop in the host's PID namespace (docker --pid=host, hostPID: true)");
	} else
		check(r, "pid_namespace", ST_OK, "blocksnoop runs in PID namespace pid:[%llu], not the initial one: the BPF programs translate thread ids with bpf_get_ns_current_pid_tgid",
		      (unsigned long long)f->self_pidns);
}

static void report_target(struct report *r, const struct doctor_facts *f)
{
	pid_t pid = f->pid;
	char ns[40];
	bool same;

	if (!pid)
		return;
	if (!f->pid_exists) {
		check(r, "target", ST_FAIL, "PID %d does not exist", pid);
		fix(r, "give the PID as blocksnoop's PID namespace numbers it (ps -p %d)", pid);
		return;
	}
	check(r, "target", ST_OK, "PID %d exists (%s)", pid, f->comm[0] ? f->comm : "?");
	if (f->tgid && f->tgid != pid) {
		check(r, "target_process", ST_WARN, "PID %d is a thread of process %d", pid, f->tgid);
		fix(r, "to watch that thread, use blocksnoop %d --tid %d", f->tgid, pid);
	}
	if (f->python)
		check(r, "target_python", ST_OK, "PID %d looks like Python", pid);
	else
		check(r, "target_python", ST_WARN, "PID %d does not look like Python: its executable is not python* and no libpython is mapped (or doctor may not read /proc/%d/exe and maps)",
		      pid, pid);
	if (f->tid) {
		check(r, "target_tid", f->tid_is_thread ? ST_OK : ST_FAIL, "TID %d is %sa thread of PID %d",
		      f->tid, f->tid_is_thread ? "" : "not ", pid);
		if (!f->tid_is_thread)
			fix(r, "list its threads with ls /proc/%d/task", pid);
	}
	if (!f->mem_errno) {
		check(r, "target_memory", ST_OK, "can read the memory of PID %d (Python stacks)", pid);
	} else {
		check(r, "target_memory", ST_FAIL, "cannot read the memory of PID %d: %s",
		      pid, strerror(f->mem_errno));
		fix(r, "grant CAP_SYS_PTRACE, or run as the same user with a Yama ptrace_scope of 0");
	}

	/* Compare namespace inodes when both are readable (the target's needs
	 * ptrace access); otherwise the depth of NSpid, which anyone may
	 * read, tells nested from not. */
	if (!f->pidns_errno && !f->self_pidns_errno)
		same = f->pidns == f->self_pidns;
	else if (f->ns_levels && f->self_ns_levels)
		same = f->ns_levels == f->self_ns_levels;
	else {
		check(r, "target_pid_namespace", ST_WARN, "cannot tell the PID namespace of PID %d: %s", pid,
		      strerror(f->pidns_errno ? f->pidns_errno : EINVAL));
		return;
	}
	if (f->pidns_errno)
		ns[0] = '\0';
	else
		snprintf(ns, sizeof(ns), " pid:[%llu]", (unsigned long long)f->pidns);
	if (same) {
		check(r, "target_pid_namespace", ST_OK, "PID %d is in blocksnoop's PID namespace", pid);
	} else if (f->ns_levels > f->self_ns_levels) {
		check(r, "target_pid_namespace", has(f, CAP_SYS_ADMIN) ? ST_OK : ST_WARN,
		      "PID %d is in a nested PID namespace%s, where it is PID %d%s",
		      pid, ns, f->inner_pid, has(f, CAP_SYS_ADMIN) ? "" :
		      "; entering it, to read its files as it sees them, needs CAP_SYS_ADMIN, which is missing");
		if (!has(f, CAP_SYS_ADMIN))
			fix(r, "grant CAP_SYS_ADMIN");
	} else {
		check(r, "target_pid_namespace", ST_WARN, "PID %d is in PID namespace%s, neither blocksnoop's nor one nested in it (is /proc from another namespace?)",
		      pid, ns);
		fix(r, "run blocksnoop in the target's PID namespace or an ancestor of it (docker --pid=host, hostPID: true)");
	}
}

/* Austin is optional (--sampler austin): only when asked for with --austin
 * or --austin-root is a missing or unusable one a problem. */
static void report_austin(struct report *r, const struct doctor_facts *f)
{
	enum status bad = f->austin_wanted ? ST_FAIL : ST_WARN;
	const char *in = strcmp(f->austin_root, "/") ? " in " : "";
	const char *root = strcmp(f->austin_root, "/") ? f->austin_root : "";

	if (!f->austin_root[0])
		return; /* not checked */
	if (!f->austin_found && !f->austin_wanted) {
		check(r, "austin", ST_OK, "Austin not found, which only --sampler austin needs: %s",
		      f->austin_error);
		return;
	}
	if (!f->austin_found) {
		/* austin_locate()'s message says where it looked and what to do. */
		check(r, "austin", bad, "Austin (--sampler austin) not found");
		fix(r, "%s", f->austin_error);
		return;
	}
	if (!f->austin_version[0]) {
		check(r, "austin", bad, "Austin at %s%s%s does not run: %s", f->austin_path, in, root,
		      f->austin_error);
		fix(r, "give --austin-root the root file system Austin and its libraries come from");
	} else if (!f->austin_version_parsed) {
		check(r, "austin", bad, "%s%s%s is not Austin: '%s -V' printed '%s'", f->austin_path, in,
		      root, f->austin_path, f->austin_version);
		fix(r, "give --austin the Austin binary");
	} else if (f->austin_v[0] < 3) {
		check(r, "austin", bad, "Austin %d.%d.%d at %s%s%s is too old: --sampler austin needs Austin 3 or later (pipe mode)",
		      f->austin_v[0], f->austin_v[1], f->austin_v[2], f->austin_path, in, root);
		fix(r, "install Austin 3 or later (Debian 12 ships 1.0.1, Debian 13 3.7.0), or give --austin-root a root that has it");
	} else {
		check(r, "austin", ST_OK, "Austin %d.%d.%d at %s%s%s (--sampler austin): %s output in pipe mode",
		      f->austin_v[0], f->austin_v[1], f->austin_v[2], f->austin_path, in, root,
		      f->austin_v[0] >= 4 ? "MOJO (binary)" : "text");
	}
	if (!f->austin_shim_known)
		return;
	if (!f->pid)
		check(r, "austin_shim", ST_OK, "Austin from %s runs through blocksnoop's namespace shim (its own loader and libraries)",
		      f->austin_root);
	else if (f->austin_shim) {
		check(r, "austin_shim", has(f, CAP_SYS_ADMIN) || f->caps_errno ? ST_OK : ST_WARN,
		      "Austin for PID %d runs through blocksnoop's namespace shim (%s), with -p %d%s",
		      f->pid, strcmp(f->austin_root, "/") ? "Austin comes from --austin-root" :
		      "the target's mount namespace or root differs from blocksnoop's",
		      f->inner_pid ? f->inner_pid : f->pid,
		      has(f, CAP_SYS_ADMIN) || f->caps_errno ? "" :
		      "; entering its namespaces needs CAP_SYS_ADMIN, which is missing");
		if (!has(f, CAP_SYS_ADMIN) && !f->caps_errno)
			fix(r, "grant CAP_SYS_ADMIN");
	} else if (f->austin_elf) {
		check(r, "austin_shim", ST_OK, "Austin for PID %d runs confined through blocksnoop's namespace shim, entering nothing: the target shares blocksnoop's mount namespace and root",
		      f->pid);
	} else {
		check(r, "austin_shim", ST_WARN, "Austin for PID %d is not an ELF binary (a script?): it would run unconfined, with blocksnoop's privileges",
		      f->pid);
		fix(r, "give --austin the Austin binary itself");
	}
}

/* Not needed to attach, so never a problem: a warning for the modes that
 * need them. */
static void report_libraries(struct report *r, const struct doctor_facts *f)
{
	if (f->libcurl_error[0])
		check(r, "libcurl", ST_WARN, "agent mode (blocksnoop agent) cannot run: %s",
		      f->libcurl_error);
	else
		check(r, "libcurl", ST_OK, "%s loads (agent mode's kubelet client)",
		      BLOCKSNOOP_CURL_SONAME);
	if (f->libmhd_error[0])
		check(r, "libmicrohttpd", ST_WARN, "--metrics-addr and agent mode cannot serve /metrics: %s",
		      f->libmhd_error);
	else
		check(r, "libmicrohttpd", ST_OK, "%s loads (--metrics-addr, agent mode's /metrics)",
		      BLOCKSNOOP_MHD_SONAME);
}

/* Every check, in the order the report gives them. */
static void run_checks(struct report *r, const struct doctor_facts *f)
{
	report_kernel(r, f);
	report_tracefs(r, f);
	report_caps(r, f);
	report_bpf(r, f);
	report_self_pidns(r, f);
	report_target(r, f);
	report_austin(r, f);
	report_libraries(r, f);
	put_check(r);
}

int doctor_report(FILE *out, const struct doctor_facts *f)
{
	struct report r = { .out = out };

	run_checks(&r, f);
	if (r.problems)
		fprintf(out, "not ready: %d problem(s)\n", r.problems);
	else
		fprintf(out, "ready\n");
	return r.problems;
}

static cJSON *add_id(cJSON *doc, const char *name, pid_t id)
{
	return id ? cJSON_AddNumberToObject(doc, name, id) : cJSON_AddNullToObject(doc, name);
}

int doctor_report_json(FILE *out, const struct doctor_facts *f)
{
	struct report r = { .out = out };
	cJSON *doc = cJSON_CreateObject();
	char *text = NULL;
	bool ok;

	ok = doc &&
	     cJSON_AddStringToObject(doc, "schema", DOCTOR_SCHEMA) &&
	     cJSON_AddNumberToObject(doc, "schema_version", DOCTOR_SCHEMA_VERSION) &&
	     cJSON_AddStringToObject(doc, "version", BLOCKSNOOP_VERSION) &&
	     add_id(doc, "pid", f->pid) && add_id(doc, "tid", f->tid) &&
	     (r.checks = cJSON_AddArrayToObject(doc, "checks"));
	if (ok) {
		run_checks(&r, f);
		ok = !r.json_failed &&
		     cJSON_AddStringToObject(doc, "status", r.problems ? "not_ready" : "ready") &&
		     cJSON_AddNumberToObject(doc, "problems", r.problems) &&
		     (text = cJSON_PrintUnformatted(doc));
	}
	/* The whole document or nothing: a reader never gets half of one. */
	if (ok)
		fprintf(out, "%s\n", text);
	free(text);
	cJSON_Delete(doc);
	return ok ? r.problems : -ENOMEM;
}

int doctor_main(int argc, char **argv)
{
	struct doctor_facts f;
	struct doctor_args a;
	char err[256];
	int problems;

	if (doctor_parse_args(argc, argv, &a, err, sizeof(err))) {
		log_error("doctor: %s", err);
		return EXIT_USAGE;
	}
	if (a.help) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	doctor_gather(&a, &f);
	problems = a.json ? doctor_report_json(stdout, &f) : doctor_report(stdout, &f);
	if (problems < 0) {
		log_error("doctor: out of memory writing the report");
		return EXIT_RUNTIME;
	}
	if (fflush(stdout) || ferror(stdout)) {
		log_error("doctor: cannot write the report: %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	if (a.pid && (!f.pid_exists || (a.tid && !f.tid_is_thread)))
		return EXIT_NO_TARGET;
	return problems ? NOT_READY : EXIT_OK;
}
