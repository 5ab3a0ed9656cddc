// SPDX-License-Identifier: Apache-2.0
/* Unit tests for caps.c: the pure mask logic and message formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/capability.h>

#include <cmocka.h>

#include "caps.h"

#define B(cap) CAPS_BIT(cap)

static void trace_missing_needs_bpf_and_perfmon(void **state)
{
	(void)state;
	assert_int_equal(caps_trace_missing(0, true), B(CAP_BPF) | B(CAP_PERFMON));
	assert_int_equal(caps_trace_missing(B(CAP_BPF), true), B(CAP_PERFMON));
	assert_int_equal(caps_trace_missing(B(CAP_PERFMON), true), B(CAP_BPF));
	assert_int_equal(caps_trace_missing(B(CAP_BPF) | B(CAP_PERFMON), true), 0);
	/* CAP_SYS_PTRACE and friends do not stand in for either. */
	assert_int_equal(caps_trace_missing(B(CAP_SYS_PTRACE) | B(CAP_NET_ADMIN), true),
			 B(CAP_BPF) | B(CAP_PERFMON));
}

static void trace_missing_sys_admin_stands_in(void **state)
{
	(void)state;
	assert_int_equal(caps_trace_missing(B(CAP_SYS_ADMIN), true), 0);
	assert_int_equal(caps_trace_missing(B(CAP_SYS_ADMIN), false), 0);
}

static void trace_missing_old_kernel_wants_sys_admin(void **state)
{
	(void)state;
	/* Before 5.8 the bits may even be set, but mean nothing. */
	assert_int_equal(caps_trace_missing(0, false), B(CAP_SYS_ADMIN));
	assert_int_equal(caps_trace_missing(B(CAP_BPF) | B(CAP_PERFMON), false),
			 B(CAP_SYS_ADMIN));
}

static void format_names_lists_needed_ones_first(void **state)
{
	char buf[128];
	size_t n;

	(void)state;
	n = caps_format_names(B(CAP_PERFMON) | B(CAP_BPF), buf, sizeof(buf));
	assert_string_equal(buf, "CAP_BPF, CAP_PERFMON");
	assert_int_equal(n, strlen(buf));

	caps_format_names(B(CAP_SYS_RESOURCE) | B(CAP_SYS_ADMIN) | B(CAP_SYS_PTRACE) |
			  B(CAP_PERFMON) | B(CAP_BPF) | B(CAP_CHOWN) | B(CAP_NET_RAW) |
			  B(CAP_DAC_READ_SEARCH), buf, sizeof(buf));
	assert_string_equal(buf, "CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, "
				 "CAP_SYS_ADMIN, CAP_SYS_RESOURCE, CAP_CHOWN, CAP_NET_RAW");
}

static void format_names_empty_and_truncated(void **state)
{
	char buf[10];
	size_t n;

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(caps_format_names(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	n = caps_format_names(B(CAP_BPF) | B(CAP_PERFMON), buf, sizeof(buf));
	assert_int_equal(n, strlen("CAP_BPF, CAP_PERFMON"));
	assert_string_equal(buf, "CAP_BPF, ");

	/* len 0: nothing written, length still reported. */
	assert_int_equal(caps_format_names(B(CAP_BPF), NULL, 0), strlen("CAP_BPF"));
}

static void grant_non_root_suggests_sudo_setcap_and_pod(void **state)
{
	char buf[512];

	(void)state;
	caps_format_grant(B(CAP_BPF) | B(CAP_PERFMON) | B(CAP_SYS_PTRACE), 0, false,
			  "/usr/local/bin/blocksnoop", buf, sizeof(buf));
	assert_string_equal(buf,
		"run as root (sudo), or grant them: sudo setcap "
		"cap_bpf,cap_perfmon,cap_sys_ptrace+ep /usr/local/bin/blocksnoop, "
		"or in a pod's securityContext (runAsUser: 0) capabilities.add: "
		"[\"BPF\", \"PERFMON\", \"SYS_PTRACE\"]");
}

static void grant_root_suggests_cap_add(void **state)
{
	char buf[512];

	(void)state;
	caps_format_grant(B(CAP_SYS_ADMIN), B(CAP_BPF), true, "/x", buf, sizeof(buf));
	assert_string_equal(buf,
		"grant it (root, but a container runtime or capsh dropped it): "
		"docker/podman run --cap-add SYS_ADMIN, "
		"or in a pod's securityContext (runAsUser: 0) capabilities.add: "
		"[\"SYS_ADMIN\"]");
	/* No sudo advice for root: it would not help. */
	caps_format_grant(B(CAP_BPF) | B(CAP_PERFMON), 0, true, "/x", buf, sizeof(buf));
	assert_null(strstr(buf, "sudo"));
	assert_non_null(strstr(buf, "--cap-add BPF --cap-add PERFMON"));
}

/* setcap replaces the file's set: the command keeps what is held. */
static void grant_non_root_keeps_held_capabilities(void **state)
{
	char buf[512];

	(void)state;
	caps_format_grant(B(CAP_DAC_READ_SEARCH), B(CAP_BPF) | B(CAP_PERFMON), false,
			  "/b", buf, sizeof(buf));
	assert_string_equal(buf,
		"run as root (sudo), or grant it: sudo setcap "
		"cap_bpf,cap_perfmon,cap_dac_read_search+ep /b (setcap replaces the file's set), "
		"or in a pod's securityContext (runAsUser: 0) capabilities.add: "
		"[\"BPF\", \"PERFMON\", \"DAC_READ_SEARCH\"]");
}

static void grant_without_exe_names_blocksnoop(void **state)
{
	char buf[512];

	(void)state;
	caps_format_grant(B(CAP_BPF), 0, false, "", buf, sizeof(buf));
	assert_non_null(strstr(buf, "sudo setcap cap_bpf+ep blocksnoop, "));
	assert_non_null(strstr(buf, "grant it:"));
}

static void grant_truncates_safely(void **state)
{
	char buf[16];
	size_t n;

	(void)state;
	n = caps_format_grant(B(CAP_BPF), 0, false, "/b", buf, sizeof(buf));
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_true(n > sizeof(buf));
}

/* caps_can_trace() agrees with the pure logic on this very process. */
static void can_trace_matches_effective_set(void **state)
{
	char missing[128], expect[128];
	uint64_t eff, lack;

	(void)state;
	assert_int_equal(caps_effective(&eff), 0);
	lack = caps_trace_missing(eff, caps_kernel_has(CAP_BPF));
	caps_format_names(lack, expect, sizeof(expect));
	assert_int_equal(caps_can_trace(missing, sizeof(missing)), lack == 0);
	assert_string_equal(missing, expect);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(trace_missing_needs_bpf_and_perfmon),
		cmocka_unit_test(trace_missing_sys_admin_stands_in),
		cmocka_unit_test(trace_missing_old_kernel_wants_sys_admin),
		cmocka_unit_test(format_names_lists_needed_ones_first),
		cmocka_unit_test(format_names_empty_and_truncated),
		cmocka_unit_test(grant_non_root_suggests_sudo_setcap_and_pod),
		cmocka_unit_test(grant_root_suggests_cap_add),
		cmocka_unit_test(grant_non_root_keeps_held_capabilities),
		cmocka_unit_test(grant_without_exe_names_blocksnoop),
		cmocka_unit_test(grant_truncates_safely),
		cmocka_unit_test(can_trace_matches_effective_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
