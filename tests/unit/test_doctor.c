// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for doctor.c: argument and /proc parsing, and the report
 * printed from hand-made facts (no dependency on the machine's state).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "caps.h"
#include "doctor.h"
#include "exit_codes.h"
#include "procfs.h"

/* ------------------------------------------------------------- arguments */

static int parse(struct doctor_args *a, char *err, size_t errlen, ...)
{
	char *argv[8] = { "doctor" };
	int argc = 1;
	va_list ap;
	char *s;

	va_start(ap, errlen);
	while ((s = va_arg(ap, char *)) && argc < 7)
		argv[argc++] = s;
	va_end(ap);
	return doctor_parse_args(argc, argv, a, err, errlen);
}

static void args_none_pid_tid(void **state)
{
	struct doctor_args a;
	char err[128];

	(void)state;
	assert_int_equal(parse(&a, err, sizeof(err), NULL), 0);
	assert_int_equal(a.pid, 0);
	assert_int_equal(a.tid, 0);
	assert_false(a.help);

	assert_int_equal(parse(&a, err, sizeof(err), "1234", NULL), 0);
	assert_int_equal(a.pid, 1234);

	assert_int_equal(parse(&a, err, sizeof(err), "1234", "--tid", "1240", NULL), 0);
	assert_int_equal(a.pid, 1234);
	assert_int_equal(a.tid, 1240);

	assert_int_equal(parse(&a, err, sizeof(err), "--tid=7", "5", NULL), 0);
	assert_int_equal(a.pid, 5);
	assert_int_equal(a.tid, 7);
}

static void args_help(void **state)
{
	struct doctor_args a;
	char err[128];

	(void)state;
	assert_int_equal(parse(&a, err, sizeof(err), "-h", NULL), 0);
	assert_true(a.help);
	/* Help wins over what follows, even nonsense. */
	assert_int_equal(parse(&a, err, sizeof(err), "--help", "abc", NULL), 0);
	assert_true(a.help);
}

static void args_usage_errors(void **state)
{
	struct doctor_args a;
	char err[128];

	(void)state;
	assert_int_equal(parse(&a, err, sizeof(err), "abc", NULL), EXIT_USAGE);
	assert_string_equal(err, "invalid PID 'abc': expected a process id");
	assert_int_equal(parse(&a, err, sizeof(err), "12x", NULL), EXIT_USAGE);
	assert_int_equal(parse(&a, err, sizeof(err), "0", NULL), EXIT_USAGE);
	assert_int_equal(parse(&a, err, sizeof(err), "99999999999", NULL), EXIT_USAGE);
	assert_int_equal(parse(&a, err, sizeof(err), "", NULL), EXIT_USAGE);
	assert_int_equal(parse(&a, err, sizeof(err), "-5", NULL), EXIT_USAGE);
	assert_int_equal(parse(&a, err, sizeof(err), "1", "2", NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "at most one PID"));
	assert_int_equal(parse(&a, err, sizeof(err), "1", "--tid", NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_equal(parse(&a, err, sizeof(err), "1", "--tid", "x", NULL), EXIT_USAGE);
	assert_string_equal(err, "invalid --tid 'x': expected a thread id");
	assert_int_equal(parse(&a, err, sizeof(err), "--tid", "3", NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "--tid needs a PID"));
	assert_int_equal(parse(&a, err, sizeof(err), "--verbose", NULL), EXIT_USAGE);
	assert_string_equal(err, "unknown option '--verbose' (see doctor --help)");
}

static void args_json(void **state)
{
	struct doctor_args a;
	char err[128];

	(void)state;
	assert_int_equal(parse(&a, err, sizeof(err), "42", NULL), 0);
	assert_false(a.json);
	assert_int_equal(parse(&a, err, sizeof(err), "--json", "42", "--tid", "43", NULL), 0);
	assert_true(a.json);
	assert_int_equal(a.pid, 42);
	assert_int_equal(a.tid, 43);
	assert_int_equal(parse(&a, err, sizeof(err), "--json=yes", NULL), EXIT_USAGE);
}

static void args_double_dash(void **state)
{
	struct doctor_args a;
	char err[128];

	(void)state;
	assert_int_equal(parse(&a, err, sizeof(err), "--", "42", NULL), 0);
	assert_int_equal(a.pid, 42);
	/* After "--" a dash is not an option, and not a PID either. */
	assert_int_equal(parse(&a, err, sizeof(err), "--", "-h", NULL), EXIT_USAGE);
}

/* ---------------------------------------------------------- pure parsing */

static void release_parsing(void **state)
{
	int v[3];

	(void)state;
	assert_int_equal(doctor_parse_release("6.18.44-fc-v782", v), 0);
	assert_int_equal(v[0], 6);
	assert_int_equal(v[1], 18);
	assert_int_equal(v[2], 44);
	assert_int_equal(doctor_parse_release("4.18.0-513.el8.x86_64", v), 0);
	assert_int_equal(v[0], 4);
	assert_int_equal(v[1], 18);
	assert_int_equal(v[2], 0);
	assert_int_equal(doctor_parse_release("5.8", v), 0);
	assert_int_equal(v[1], 8);
	assert_int_equal(v[2], 0);
	assert_int_equal(doctor_parse_release("6.1-rc3", v), 0);
	assert_int_equal(v[0], 6);
	assert_int_equal(v[1], 1);
	assert_int_equal(v[2], 0);
	assert_int_equal(doctor_parse_release("", v), -EINVAL);
	assert_int_equal(doctor_parse_release("six", v), -EINVAL);
	assert_int_equal(doctor_parse_release("6", v), -EINVAL);
	assert_int_equal(doctor_parse_release("6.x", v), -EINVAL);
}

static const char status_text[] =
	"Name:\tpython3\n"
	"Umask:\t0022\n"
	"State:\tS (sleeping)\n"
	"Tgid:\t4242\n"
	"Ngid:\t0\n"
	"Pid:\t4243\n"
	"PPid:\t1\n"
	"NSpid:\t4243\t7\n"
	"Seccomp:\t2\n";

static void status_fields(void **state)
{
	long v;

	(void)state;
	assert_int_equal(doctor_status_field(status_text, "Tgid", &v), 0);
	assert_int_equal(v, 4242);
	assert_int_equal(doctor_status_field(status_text, "Pid", &v), 0);
	assert_int_equal(v, 4243);
	/* "PPid" must not match a search for "Pid", nor "Pid" for "PPid". */
	assert_int_equal(doctor_status_field(status_text, "PPid", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(doctor_status_field(status_text, "Seccomp", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(doctor_status_field(status_text, "Name", &v), -EINVAL);
	assert_int_equal(doctor_status_field(status_text, "Gid", &v), -EINVAL);
	assert_int_equal(doctor_status_field("", "Tgid", &v), -EINVAL);
}

static void mounts_lines(void **state)
{
	const char *mounts =
		"sysfs /sys sysfs rw,nosuid 0 0\n"
		"tracefs /sys/kernel/tracing/x tracefs rw 0 0\n"
		"none /sys/kernel/debug debugfs rw 0 0\n"
		"nodev /sys/kernel/tracing tracefs rw,relatime 0 0\n";

	(void)state;
	assert_true(doctor_mounts_has(mounts, "/sys/kernel/tracing", "tracefs"));
	assert_true(doctor_mounts_has(mounts, "/sys/kernel/debug", "debugfs"));
	assert_false(doctor_mounts_has(mounts, "/sys/kernel/debug/tracing", "tracefs"));
	assert_false(doctor_mounts_has(mounts, "/sys", "tracefs"));
	assert_false(doctor_mounts_has(mounts, "/sys/kernel", "tracefs"));
	assert_false(doctor_mounts_has("", "/sys/kernel/tracing", "tracefs"));
	/* A single line without its newline, as getline() may give the last. */
	assert_true(doctor_mounts_has("t /sys/kernel/tracing tracefs",
				      "/sys/kernel/tracing", "tracefs"));
}

/* ---------------------------------------------------------------- report */

#define ALL_CAPS (CAPS_BIT(CAP_BPF) | CAPS_BIT(CAP_PERFMON) | \
		  CAPS_BIT(CAP_SYS_PTRACE) | CAPS_BIT(CAP_SYS_ADMIN))

/* A machine where everything is fine: root on 6.18 with tracefs mounted. */
static void healthy(struct doctor_facts *f)
{
	*f = (struct doctor_facts){ 0 };
	snprintf(f->release, sizeof(f->release), "6.18.44-fc-v782");
	f->kernel[0] = 6;
	f->kernel[1] = 18;
	f->kernel[2] = 44;
	f->kernel_parsed = true;
	f->tracefs = "/sys/kernel/tracing";
	for (int v = 0; v < EPOLL_VARIANT_COUNT; v++)
		f->tracepoint[v][0] = f->tracepoint[v][1] = true;
	f->effective = ALL_CAPS;
	f->kernel_has_cap_bpf = true;
	f->root = true;
	snprintf(f->exe, sizeof(f->exe), "/usr/bin/blocksnoop");
	f->memlock_unlimited = true;
	f->yama_ptrace_scope = 1;
	f->perf_event_paranoid = 2;
	f->ringbuf = PROBE_OK;
	f->tp_prog = PROBE_OK;
	f->seccomp_mode = 0;
	f->self_pidns = PROC_PID_INIT_INO;
	f->self_ns_levels = 1;
}

static void with_target(struct doctor_facts *f, pid_t pid)
{
	f->pid = pid;
	f->pid_exists = true;
	snprintf(f->comm, sizeof(f->comm), "python3");
	f->python = true;
	f->tgid = pid;
	f->pidns = f->self_pidns;
	f->ns_levels = 1;
	f->inner_pid = pid;
}

/* The report of f as one string (free it), and its problem count. */
static char *report(const struct doctor_facts *f, int *problems)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	*problems = doctor_report(out, f);
	fclose(out);
	return text;
}

/* The line of text containing needle, as a new string (free it), or NULL. */
static char *line_with(const char *text, const char *needle)
{
	const char *hit = strstr(text, needle), *start, *end;

	if (!hit)
		return NULL;
	for (start = hit; start > text && start[-1] != '\n'; start--)
		;
	end = strchr(hit, '\n');
	return strndup(start, end ? (size_t)(end - start) : strlen(start));
}

static void assert_line(const char *text, const char *needle, const char *status)
{
	char *l = line_with(text, needle);

	if (!l)
		fail_msg("no line with '%s' in:\n%s", needle, text);
	if (strncmp(l, status, strlen(status)) != 0)
		fail_msg("expected '%s' line, got: %s", status, l);
	free(l);
}

static void count_status(const char *text, const char *status, int *n)
{
	size_t len = strlen(status);

	*n = 0;
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		*n += !strncmp(p, status, len);
}

static void report_healthy_is_ready(void **state)
{
	struct doctor_facts f;
	int problems, fails, warns;
	char *text;

	(void)state;
	healthy(&f);
	text = report(&f, &problems);
	assert_int_equal(problems, 0);
	assert_line(text, "kernel 6.18.44", "ok    kernel 6.18.44 (>= 5.8 needed for BPF ring buffers)");
	assert_line(text, "BTF", "ok    ");
	assert_line(text, "tracefs mounted at /sys/kernel/tracing", "ok    ");
	assert_line(text, "tracepoints syscalls:", "ok    ");
	assert_line(text, "CAP_BPF, CAP_PERFMON", "ok    ");
	assert_line(text, "bpf():", "ok    ");
	assert_line(text, "initial PID namespace", "ok    ");
	count_status(text, "FAIL", &fails);
	count_status(text, "warn", &warns);
	assert_int_equal(fails, 0);
	assert_int_equal(warns, 0);
	/* The last line. */
	assert_non_null(strstr(text, "\nready\n"));
	assert_int_equal(strlen(strstr(text, "\nready\n")), strlen("\nready\n"));
	free(text);
}

/* The JSON report of f, parsed (cJSON_Delete it), and its problem count;
 * it must be one line. */
static cJSON *report_json(const struct doctor_facts *f, int *problems)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	cJSON *doc;

	assert_non_null(out);
	*problems = doctor_report_json(out, f);
	fclose(out);
	assert_true(len > 2);
	assert_int_equal(text[len - 1], '\n');
	assert_null(memchr(text, '\n', len - 1));
	doc = cJSON_Parse(text);
	if (!doc)
		fail_msg("not JSON: %s", text);
	free(text);
	return doc;
}

/*
 * The JSON report says what the text report says: the same checks in the
 * same order with the same status word, each "detail[: fix]" the text
 * line; a stable name on each, a fix on every failure; the verdict.
 */
static void check_json_matches_text(const struct doctor_facts *f)
{
	static const char *const words[][2] = { { "ok", "ok    " }, { "warn", "warn  " },
						{ "fail", "FAIL  " } };
	int problems, json_problems, fails = 0;
	char *text = report(f, &problems), *p = text;
	cJSON *doc = report_json(f, &json_problems), *c;

	assert_int_equal(problems, json_problems);
	assert_string_equal(cJSON_GetObjectItem(doc, "schema")->valuestring, "blocksnoop-doctor/v1");
	assert_int_equal(cJSON_GetObjectItem(doc, "schema_version")->valueint, 1);
	assert_string_equal(cJSON_GetObjectItem(doc, "status")->valuestring,
			    problems ? "not_ready" : "ready");
	assert_int_equal(cJSON_GetObjectItem(doc, "problems")->valueint, problems);
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "checks")) {
		const char *status = cJSON_GetObjectItem(c, "status")->valuestring;
		const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
		const cJSON *fx = cJSON_GetObjectItem(c, "fix");
		char want[2300];
		const char *word = NULL;
		size_t n;

		assert_true(name[0] && strspn(name, "abcdefghijklmnopqrstuvwxyz_") == strlen(name));
		for (size_t i = 0; i < 3; i++)
			if (!strcmp(status, words[i][0]))
				word = words[i][1];
		if (!word)
			fail_msg("check %s has status '%s'", name, status);
		fails += !strcmp(status, "fail");
		if (!strcmp(status, "fail") && !cJSON_IsString(fx))
			fail_msg("failed check %s says nothing to do", name);
		assert_true(cJSON_IsString(fx) || cJSON_IsNull(fx));
		snprintf(want, sizeof(want), "%s%s%s%s\n", word,
			 cJSON_GetObjectItem(c, "detail")->valuestring,
			 cJSON_IsString(fx) ? ": " : "", cJSON_IsString(fx) ? fx->valuestring : "");
		n = strlen(want);
		if (strncmp(p, want, n))
			fail_msg("JSON check %s reads\n%sthe text line\n%.*s", name, want,
				 (int)strcspn(p, "\n"), p);
		p += n;
	}
	assert_int_equal(fails, problems);
	/* Only the verdict is left of the text. */
	assert_true(!strcmp(p, "ready\n") || !strncmp(p, "not ready: ", 11));
	cJSON_Delete(doc);
	free(text);
}

static void report_json_healthy(void **state)
{
	struct doctor_facts f;
	int problems;
	cJSON *doc, *c;

	(void)state;
	healthy(&f);
	check_json_matches_text(&f);
	doc = report_json(&f, &problems);
	assert_int_equal(problems, 0);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(doc, "pid")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(doc, "tid")));
	c = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "checks"), 0);
	assert_string_equal(cJSON_GetObjectItem(c, "name")->valuestring, "kernel");
	assert_string_equal(cJSON_GetObjectItem(c, "status")->valuestring, "ok");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(c, "fix")));
	cJSON_Delete(doc);
}

static void report_json_not_ready(void **state)
{
	struct doctor_facts f;
	int problems;
	cJSON *doc, *c;
	bool seen = false;

	(void)state;
	healthy(&f);
	f.effective = 0;
	f.root = false;
	f.ringbuf = f.tp_prog = PROBE_SKIPPED;
	f.pid = 4242;
	f.tid = 4243;
	f.yama_ptrace_scope = 3;
	check_json_matches_text(&f);
	doc = report_json(&f, &problems);
	assert_int_equal(problems, 3); /* capabilities, Yama, PID 4242 */
	assert_int_equal(cJSON_GetObjectItem(doc, "pid")->valueint, 4242);
	assert_int_equal(cJSON_GetObjectItem(doc, "tid")->valueint, 4243);
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "checks")) {
		if (strcmp(cJSON_GetObjectItem(c, "name")->valuestring, "capabilities"))
			continue;
		seen = true;
		assert_string_equal(cJSON_GetObjectItem(c, "status")->valuestring, "fail");
		assert_null(strstr(cJSON_GetObjectItem(c, "detail")->valuestring, "setcap"));
		assert_non_null(strstr(cJSON_GetObjectItem(c, "fix")->valuestring,
				       "sudo setcap cap_bpf,cap_perfmon,cap_sys_ptrace+ep /usr/bin/blocksnoop"));
	}
	assert_true(seen);
	cJSON_Delete(doc);
}

static void report_names_every_missing_capability(void **state)
{
	struct doctor_facts f;
	char *text, *l;
	int problems;

	(void)state;
	healthy(&f);
	f.effective = 0;
	f.root = false;
	f.ringbuf = f.tp_prog = PROBE_SKIPPED;
	text = report(&f, &problems);
	l = line_with(text, "missing CAP_BPF");
	assert_non_null(l);
	assert_memory_equal(l, "FAIL  ", 6);
	assert_non_null(strstr(l, "CAP_BPF, CAP_PERFMON"));
	assert_non_null(strstr(l, "CAP_SYS_PTRACE"));
	assert_non_null(strstr(l, "sudo setcap cap_bpf,cap_perfmon,cap_sys_ptrace+ep /usr/bin/blocksnoop"));
	assert_non_null(strstr(l, "[\"BPF\", \"PERFMON\", \"SYS_PTRACE\"]"));
	free(l);
	assert_line(text, "missing CAP_SYS_ADMIN", "warn  ");
	assert_line(text, "bpf() not probed", "warn  ");
	assert_int_equal(problems, 1);
	assert_non_null(strstr(text, "not ready: 1 problem(s)\n"));
	free(text);
}

static void report_sys_admin_stands_in(void **state)
{
	struct doctor_facts f;
	int problems;
	char *text;

	(void)state;
	healthy(&f);
	f.effective = CAPS_BIT(CAP_SYS_ADMIN) | CAPS_BIT(CAP_SYS_PTRACE);
	text = report(&f, &problems);
	assert_int_equal(problems, 0);
	assert_line(text, "CAP_SYS_ADMIN in place of CAP_BPF, CAP_PERFMON", "ok    ");
	free(text);
}

static void report_only_ptrace_missing(void **state)
{
	struct doctor_facts f;
	char *text, *l;
	int problems;

	(void)state;
	healthy(&f);
	f.effective &= ~CAPS_BIT(CAP_SYS_PTRACE);
	text = report(&f, &problems);
	assert_int_equal(problems, 1);
	l = line_with(text, "missing CAP_SYS_PTRACE");
	assert_non_null(l);
	assert_memory_equal(l, "FAIL  ", 6);
	/* Root already: the advice is to add it to the container. */
	assert_non_null(strstr(l, "--cap-add SYS_PTRACE"));
	assert_null(strstr(l, "CAP_BPF"));
	free(l);
	free(text);
}

static void report_old_kernel(void **state)
{
	struct doctor_facts f;
	int problems;
	char *text;

	(void)state;
	healthy(&f);
	f.kernel[0] = 5;
	f.kernel[1] = 4;
	f.kernel[2] = 0;
	f.ringbuf = PROBE_FAILED;
	f.ringbuf_errno = EINVAL;
	text = report(&f, &problems);
	assert_line(text, "kernel 5.4.0 is too old", "FAIL  ");
	assert_line(text, "could not create a BPF ring buffer", "FAIL  ");
	assert_int_equal(problems, 2);
	free(text);

	/* A backport (RHEL 8): the probe outranks the version number. */
	healthy(&f);
	f.kernel[0] = 4;
	f.kernel[1] = 18;
	f.kernel[2] = 0;
	text = report(&f, &problems);
	assert_line(text, "kernel 4.18.0 is older than 5.8, but it has BPF ring buffers", "warn  ");
	assert_int_equal(problems, 0);
	free(text);
}

static void report_old_kernel_wants_sys_admin(void **state)
{
	struct doctor_facts f;
	char *text, *l;
	int problems;

	(void)state;
	healthy(&f);
	f.kernel[0] = 5;
	f.kernel[1] = 4;
	f.kernel_has_cap_bpf = false;
	f.effective = CAPS_BIT(CAP_SYS_PTRACE);
	f.ringbuf = f.tp_prog = PROBE_SKIPPED;
	text = report(&f, &problems);
	l = line_with(text, "missing CAP_SYS_ADMIN");
	assert_non_null(l);
	assert_memory_equal(l, "FAIL  ", 6);
	assert_non_null(strstr(l, "predates CAP_BPF"));
	free(l);
	/* CAP_SYS_ADMIN is not named a second time, as a warning. */
	assert_null(line_with(text, "warn  missing CAP_SYS_ADMIN"));
	/* < 5.11 and a finite RLIMIT_MEMLOCK without CAP_SYS_RESOURCE. */
	free(text);
	f.memlock_unlimited = false;
	f.memlock = 8 << 20;
	text = report(&f, &problems);
	assert_line(text, "RLIMIT_MEMLOCK is 8192 KiB", "warn  ");
	free(text);
}

/* The libraries loaded only when needed: missing is a warning, never a
 * problem (a plain attach runs without them), and says what to install. */
static void report_agent_libraries(void **state)
{
	struct doctor_facts f;
	int problems;
	char *text;

	(void)state;
	healthy(&f);
	text = report(&f, &problems);
	assert_line(text, BLOCKSNOOP_CURL_SONAME " loads (agent mode's kubelet client)", "ok    ");
	assert_line(text, BLOCKSNOOP_MHD_SONAME " loads (--metrics-addr, agent mode's /metrics)",
		    "ok    ");
	free(text);

	snprintf(f.libcurl_error, sizeof(f.libcurl_error),
		 "cannot load libcurl.so.4: not found (install the libcurl4 package)");
	snprintf(f.libmhd_error, sizeof(f.libmhd_error),
		 "cannot load libmicrohttpd.so.12: not found (install the libmicrohttpd12 package)");
	text = report(&f, &problems);
	assert_line(text, "agent mode (blocksnoop agent) cannot run: cannot load libcurl.so.4: not found (install the libcurl4 package)",
		    "warn  ");
	assert_line(text, "--metrics-addr and agent mode cannot serve /metrics: cannot load libmicrohttpd.so.12: not found (install the libmicrohttpd12 package)",
		    "warn  ");
	assert_int_equal(problems, 0);
	free(text);
}

static void report_tracefs_unmounted(void **state)
{
	struct doctor_facts f;
	int problems;
	char *text;

	(void)state;
	healthy(&f);
	f.tracefs = NULL;
	text = report(&f, &problems);
	assert_line(text, "tracefs is not mounted: blocksnoop will mount it on /sys/kernel/tracing (needs CAP_SYS_ADMIN)",
		    "warn  ");
	assert_line(text, "tracepoints not checked", "warn  ");
	assert_int_equal(problems, 0);
	free(text);

	/* ... and it cannot mount it: that is a problem. */
	f.effective &= ~CAPS_BIT(CAP_SYS_ADMIN);
	text = report(&f, &problems);
	assert_line(text, "tracefs is not mounted, and blocksnoop cannot mount it without CAP_SYS_ADMIN",
		    "FAIL  ");
	assert_line(text, "missing CAP_SYS_ADMIN", "warn  ");
	assert_int_equal(problems, 1);
	free(text);

	/* Mounted but unreadable is not "not mounted". As root (an LSM?)
	 * it is a problem of its own. */
	healthy(&f);
	f.tracefs = NULL;
	f.tracefs_hidden = "/sys/kernel/tracing";
	f.tracefs_hidden_errno = EACCES;
	text = report(&f, &problems);
	assert_line(text, "tracefs is mounted at /sys/kernel/tracing, but blocksnoop cannot read it: Permission denied",
		    "FAIL  ");
	assert_int_equal(problems, 1);
	free(text);
}

/* A non-root user with CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE (setcap)
 * still cannot read tracefs: CAP_DAC_READ_SEARCH joins the one
 * capabilities line, and the tracefs line points to it. */
static void report_setcap_user_needs_dac_read_search(void **state)
{
	struct doctor_facts f;
	char *text, *l;
	int problems;

	(void)state;
	healthy(&f);
	f.root = false;
	f.effective = CAPS_BIT(CAP_BPF) | CAPS_BIT(CAP_PERFMON) | CAPS_BIT(CAP_SYS_PTRACE);
	f.tracefs = NULL;
	f.tracefs_hidden = "/sys/kernel/tracing";
	f.tracefs_hidden_errno = EACCES;
	text = report(&f, &problems);
	assert_line(text, "tracefs is mounted at /sys/kernel/tracing, but blocksnoop cannot read it",
		    "warn  ");
	l = line_with(text, "missing CAP_DAC_READ_SEARCH");
	assert_non_null(l);
	assert_memory_equal(l, "FAIL  ", 6);
	assert_non_null(strstr(l, "sudo setcap cap_bpf,cap_perfmon,cap_sys_ptrace,cap_dac_read_search+ep "
				  "/usr/bin/blocksnoop"));
	free(l);
	assert_int_equal(problems, 1);
	free(text);

	/* With it, nothing is said about it. */
	f.effective |= CAPS_BIT(CAP_DAC_READ_SEARCH);
	f.tracefs = "/sys/kernel/tracing";
	f.tracefs_hidden = NULL;
	f.tracefs_hidden_errno = 0;
	text = report(&f, &problems);
	assert_null(strstr(text, "missing CAP_DAC_READ_SEARCH"));
	assert_line(text, "CAP_BPF, CAP_PERFMON (load", "ok    ");
	free(text);
}

static void report_tracepoints(void **state)
{
	struct doctor_facts f;
	int problems;
	char *text;

	(void)state;
	/* epoll_pwait2 absent (kernel < 5.11): a warning. */
	healthy(&f);
	f.tracepoint[EPOLL_VARIANT_PWAIT2][0] = false;
	f.tracepoint[EPOLL_VARIANT_PWAIT2][1] = false;
	text = report(&f, &problems);
	assert_line(text, "missing tracepoints syscalls:sys_enter_epoll_pwait2, syscalls:sys_exit_epoll_pwait2: loops waiting in epoll_pwait2",
		    "warn  ");
	assert_int_equal(problems, 0);
	free(text);

	/* No complete pair at all: a problem. Halves do not count. */
	f.tracepoint[EPOLL_VARIANT_WAIT][0] = false;
	f.tracepoint[EPOLL_VARIANT_PWAIT][1] = false;
	text = report(&f, &problems);
	assert_line(text, "no complete enter/exit pair of epoll tracepoints", "FAIL  ");
	assert_int_equal(problems, 1);
	free(text);

	healthy(&f);
	f.syscalls_errno = ENOENT;
	text = report(&f, &problems);
	assert_line(text, "CONFIG_FTRACE_SYSCALLS", "FAIL  ");
	free(text);
}

static void report_bpf_refused(void **state)
{
	struct doctor_facts f;
	int problems;
	char *text;

	(void)state;
	healthy(&f);
	f.ringbuf = PROBE_FAILED;
	f.ringbuf_errno = EPERM;
	f.seccomp_mode = 2;
	text = report(&f, &problems);
	assert_line(text, "bpf() could not create a BPF ring buffer: Operation not permitted (a seccomp filter",
		    "FAIL  ");
	assert_int_equal(problems, 1);
	free(text);
}

static void report_target_missing_and_tid(void **state)
{
	struct doctor_facts f;
	int problems;
	char *text;

	(void)state;
	healthy(&f);
	f.pid = 999999;
	text = report(&f, &problems);
	assert_line(text, "PID 999999 does not exist", "FAIL  ");
	assert_int_equal(problems, 1);
	assert_non_null(strstr(text, "not ready: 1 problem(s)\n"));
	free(text);

	healthy(&f);
	with_target(&f, 100);
	f.tid = 101;
	f.tid_is_thread = false;
	text = report(&f, &problems);
	assert_line(text, "PID 100 exists (python3)", "ok    ");
	assert_line(text, "PID 100 looks like Python", "ok    ");
	assert_line(text, "TID 101 is not a thread of PID 100", "FAIL  ");
	assert_line(text, "can read the memory of PID 100", "ok    ");
	assert_line(text, "PID 100 is in blocksnoop's PID namespace", "ok    ");
	assert_int_equal(problems, 1);
	free(text);
}

static void report_target_not_python_nor_readable(void **state)
{
	struct doctor_facts f;
	int problems;
	char *text;

	(void)state;
	healthy(&f);
	with_target(&f, 100);
	snprintf(f.comm, sizeof(f.comm), "node");
	f.python = false;
	f.mem_errno = EACCES;
	f.tgid = 90;
	text = report(&f, &problems);
	assert_line(text, "PID 100 does not look like Python", "warn  ");
	assert_line(text, "cannot read the memory of PID 100: Permission denied", "FAIL  ");
	assert_line(text, "PID 100 is a thread of process 90", "warn  ");
	assert_int_equal(problems, 1);
	free(text);
}

static void report_target_nested_namespace(void **state)
{
	struct doctor_facts f;
	int problems;
	char *text;

	(void)state;
	healthy(&f);
	with_target(&f, 5000);
	f.pidns = 4026532177ULL;
	f.ns_levels = 2;
	f.inner_pid = 1;
	text = report(&f, &problems);
	assert_line(text, "PID 5000 is in a nested PID namespace pid:[4026532177], where it is PID 1",
		    "ok    ");
	assert_int_equal(problems, 0);
	free(text);

	/* Without CAP_SYS_ADMIN (and without ptrace access to its ns link):
	 * NSpid still tells, and the missing capability is named. */
	f.effective &= ~CAPS_BIT(CAP_SYS_ADMIN);
	f.pidns_errno = EACCES;
	text = report(&f, &problems);
	assert_line(text, "PID 5000 is in a nested PID namespace, where it is PID 1; entering it",
		    "warn  ");
	assert_non_null(strstr(text, "needs CAP_SYS_ADMIN, which is missing"));
	free(text);
}

static void report_blocksnoop_in_a_pod_namespace(void **state)
{
	struct doctor_facts f;
	int problems;
	char *text;

	(void)state;
	healthy(&f);
	f.self_pidns = 4026532300ULL;
	f.ns_helper = PROBE_OK;
	text = report(&f, &problems);
	assert_line(text, "blocksnoop runs in PID namespace pid:[4026532300], not the initial one",
		    "ok    ");
	free(text);

	f.ns_helper = PROBE_FAILED;
	text = report(&f, &problems);
	assert_line(text, "lacks bpf_get_ns_current_pid_tgid", "FAIL  ");
	assert_int_equal(problems, 1);
	free(text);
}

static void report_yama_3_and_paranoid(void **state)
{
	struct doctor_facts f;
	int problems;
	char *text;

	(void)state;
	healthy(&f);
	f.yama_ptrace_scope = 3;
	f.perf_event_paranoid = 3;
	f.effective &= ~CAPS_BIT(CAP_SYS_ADMIN);
	text = report(&f, &problems);
	assert_line(text, "kernel.yama.ptrace_scope is 3", "FAIL  ");
	assert_line(text, "kernel.perf_event_paranoid is 3", "warn  ");
	assert_int_equal(problems, 1);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(args_none_pid_tid),
		cmocka_unit_test(args_help),
		cmocka_unit_test(args_usage_errors),
		cmocka_unit_test(args_double_dash),
		cmocka_unit_test(release_parsing),
		cmocka_unit_test(status_fields),
		cmocka_unit_test(mounts_lines),
		cmocka_unit_test(report_healthy_is_ready),
		cmocka_unit_test(report_names_every_missing_capability),
		cmocka_unit_test(report_sys_admin_stands_in),
		cmocka_unit_test(report_only_ptrace_missing),
		cmocka_unit_test(report_old_kernel),
		cmocka_unit_test(report_old_kernel_wants_sys_admin),
		cmocka_unit_test(report_tracefs_unmounted),
		cmocka_unit_test(report_agent_libraries),
		cmocka_unit_test(report_setcap_user_needs_dac_read_search),
		cmocka_unit_test(report_tracepoints),
		cmocka_unit_test(report_bpf_refused),
		cmocka_unit_test(report_target_missing_and_tid),
		cmocka_unit_test(report_target_not_python_nor_readable),
		cmocka_unit_test(report_target_nested_namespace),
		cmocka_unit_test(report_blocksnoop_in_a_pod_namespace),
		cmocka_unit_test(report_yama_3_and_paranoid),
		cmocka_unit_test(args_json),
		cmocka_unit_test(report_json_healthy),
		cmocka_unit_test(report_json_not_ready),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
