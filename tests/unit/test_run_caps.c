// SPDX-License-Identifier: Apache-2.0
/*
 * test_run_caps.c - caps_run_keep() (agent/caps.h): what a run of the
 * command line keeps after set-up, per mode (docs/security.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/capability.h>

#include <cmocka.h>

#include "caps.h"

#define B(cap) CAPS_BIT(cap)

static void nothing_without_stacks(void **state)
{
	struct caps_run_needs n = { .kernel_has_cap_bpf = true };

	(void)state;
	/* --sampler none or --stats, attach mode, no log file. */
	assert_int_equal(caps_run_keep(&n), 0);
}

static void builtin_sampler(void **state)
{
	struct caps_run_needs n = { .read_stacks = true, .kernel_has_cap_bpf = true };

	(void)state;
	assert_int_equal(caps_run_keep(&n), B(CAP_SYS_PTRACE) | B(CAP_DAC_READ_SEARCH) |
						B(CAP_SETUID) | B(CAP_SETGID));
	/* Launch mode adds CAP_KILL and nothing else. */
	n.launch = true;
	assert_int_equal(caps_run_keep(&n), CAPS_READ_STACKS | B(CAP_KILL));
}

static void austin(void **state)
{
	struct caps_run_needs n = { .austin = true, .kernel_has_cap_bpf = true };

	(void)state;
	assert_int_equal(caps_run_keep(&n), B(CAP_SYS_ADMIN) | B(CAP_SYS_CHROOT) |
						B(CAP_SYS_PTRACE) | B(CAP_SETPCAP));
	/* Never what loading needed. */
	assert_int_equal(caps_run_keep(&n) & (B(CAP_BPF) | B(CAP_PERFMON)), 0);
}

static void log_and_maps_only_when_asked(void **state)
{
	struct caps_run_needs n = { .log_reopen_dac = true, .kernel_has_cap_bpf = true };

	(void)state;
	assert_int_equal(caps_run_keep(&n), B(CAP_DAC_OVERRIDE));
	n = (struct caps_run_needs){ .map_access = true, .kernel_has_cap_bpf = true };
	assert_int_equal(caps_run_keep(&n), B(CAP_BPF));
	/* Before 5.8 CAP_SYS_ADMIN is the only way to BPF maps. */
	n.kernel_has_cap_bpf = false;
	assert_int_equal(caps_run_keep(&n), B(CAP_SYS_ADMIN));
}

/* The agent finds processes it did not start: their /proc files. */
static void find_processes(void **state)
{
	struct caps_run_needs n = { .find_processes = true, .kernel_has_cap_bpf = true };

	(void)state;
	assert_int_equal(caps_run_keep(&n), B(CAP_SYS_PTRACE) | B(CAP_DAC_READ_SEARCH));
	/* With the built-in sampler: what reading stacks needs, no more. */
	n.read_stacks = true;
	assert_int_equal(caps_run_keep(&n), CAPS_READ_STACKS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nothing_without_stacks),
		cmocka_unit_test(builtin_sampler),
		cmocka_unit_test(austin),
		cmocka_unit_test(log_and_maps_only_when_asked),
		cmocka_unit_test(find_processes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
