// SPDX-License-Identifier: Apache-2.0
/*
 * test_caps_drop.c - after a privilege drop that keeps what reading stacks
 * needs (caps_drop_to(CAPS_READ_STACKS), agent/caps.h), CAP_SETUID and
 * CAP_SETGID are permitted but not effective, and the CPython reader can
 * still open a file as another user from that state
 * (cpython/target_creds.h), and comes back to it. Runs in a child process
 * (the drop is for good); needs root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "cpython/target_creds.h"

static void read_caps(uint64_t *eff, uint64_t *perm)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		_exit(20);
	*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	*perm = d[0].permitted | (uint64_t)d[1].permitted << 32;
}

static int after_drop(void)
{
	const uint64_t setid = (1ULL << CAP_SETUID) | (1ULL << CAP_SETGID);
	struct tcreds nobody = { .fsuid = 65534, .fsgid = 65534 };
	struct tcreds_saved saved;
	uint64_t eff, perm, eff2, perm2;
	bool bounding;
	int fd;

	if (caps_drop_to(CAPS_READ_STACKS, &bounding))
		return 1;
	read_caps(&eff, &perm);
	if ((perm & setid) != setid)
		return 2; /* kept */
	if (eff & setid)
		return 3; /* but not effective */
	if (!(eff & (1ULL << CAP_SYS_PTRACE)))
		return 4;
	if (tcreds_become(&nobody, &saved))
		return 5;
	fd = open("/etc/shadow", O_RDONLY | O_CLOEXEC); /* 0640 root:shadow */
	if (fd >= 0 || errno != EACCES)
		return 6;
	if ((uint32_t)syscall(SYS_setfsuid, -1) != 65534)
		return 7;
	tcreds_restore(&saved);
	read_caps(&eff2, &perm2);
	if (eff2 != eff || perm2 != perm || (uint32_t)syscall(SYS_setfsuid, -1) != 0)
		return 8;
	return 0;
}

static void test_reader_after_drop(void **state)
{
	pid_t child;
	int status;

	(void)state;
	if (geteuid() != 0)
		fail_msg("this test drops root's capabilities: run it as root");
	if (access("/etc/shadow", F_OK) != 0)
		fail_msg("needs /etc/shadow");
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(after_drop());
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_after_drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
