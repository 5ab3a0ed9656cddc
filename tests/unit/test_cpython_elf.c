// SPDX-License-Identifier: Apache-2.0
/*
 * test_cpython_elf.c - finding _PyRuntime and Py_Version with libelf and
 * turning link-time addresses into run-time ones (agent/cpython/pyelf.h,
 * with procmaps.h), checked on this very test program, which carries a
 * fake .PyRuntime section and a Py_Version symbol, and on the system's
 * /usr/bin/python3 (a build dependency).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "cpython/procmaps.h"
#include "cpython/pyelf.h"

/* What a 3.10+ interpreter has: _PyRuntime alone in a .PyRuntime section. */
__attribute__((section(".PyRuntime"), used)) char fake_runtime[64] = "xdebugpy";
__attribute__((used)) const unsigned long Py_Version = 0x030b07f0;

static void test_self(void **state)
{
	char exe[PATH_MAX], err[256] = "";
	struct pmap_list maps;
	struct pyelf e;
	uint64_t bias = 0;
	bool found = false;
	ssize_t n;
	size_t i;
	int fd;

	(void)state;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	fd = open(exe, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	if (pyelf_inspect(fd, &e, err, sizeof(err)))
		fail_msg("%s", err);
	close(fd);
	/* No _PyRuntime symbol here: the section stands in for it. */
	assert_true(e.has_runtime);
	assert_true(e.runtime_from_section);
	assert_true(e.has_py_version); /* from .symtab */
	assert_true(e.nloads >= 2);

	/* The file's lowest mapping gives the bias. */
	assert_int_equal(pmap_read(getpid(), &maps), 0);
	for (i = 0; i < maps.n && !found; i++) {
		if (strcmp(maps.maps[i].path, exe) != 0)
			continue;
		assert_int_equal(pyelf_bias(&e, maps.maps[i].start, maps.maps[i].offset,
					    (uint64_t)sysconf(_SC_PAGESIZE), &bias), 0);
		found = true;
	}
	pmap_free(&maps);
	assert_true(found);
	assert_true(e.runtime + bias == (uint64_t)(uintptr_t)fake_runtime);
	assert_true(e.py_version + bias == (uint64_t)(uintptr_t)&Py_Version);
}

static void test_bias_rules(void **state)
{
	struct pyelf e = { .nloads = 2 };
	uint64_t bias;

	(void)state;
	/* a non-PIE layout (Debian's python3.11): loaded where linked */
	e.loads[0] = (struct pyelf_load){ .vaddr = 0x400000, .offset = 0, .filesz = 0x1e3e8 };
	e.loads[1] = (struct pyelf_load){ .vaddr = 0x945dc8, .offset = 0x544dc8 };
	assert_int_equal(pyelf_bias(&e, 0x400000, 0, 4096, &bias), 0);
	assert_true(bias == 0);
	/* the same file as a shared library at 0x7f0000000000 */
	e.loads[0].vaddr = 0;
	e.loads[1].vaddr = 0x545dc8;
	assert_int_equal(pyelf_bias(&e, 0x7f0000000000ULL, 0, 4096, &bias), 0);
	assert_true(bias == 0x7f0000000000ULL);
	/* the lowest segment is not mapped from that offset */
	assert_int_equal(pyelf_bias(&e, 0x7f0000000000ULL, 0x1000, 4096, &bias), -1);
	/* segments not in p_vaddr order: the lowest one counts */
	e.loads[0] = (struct pyelf_load){ .vaddr = 0x2000, .offset = 0x1000 };
	e.loads[1] = (struct pyelf_load){ .vaddr = 0x1000, .offset = 0 };
	assert_int_equal(pyelf_bias(&e, 0x10000, 0, 4096, &bias), 0);
	assert_true(bias == 0xf000);
	e.nloads = 0;
	assert_int_equal(pyelf_bias(&e, 0x10000, 0, 4096, &bias), -1);
}

static void test_system_python(void **state)
{
	char err[256] = "";
	struct pyelf e;
	int fd = open("/usr/bin/python3", O_RDONLY | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	if (pyelf_inspect(fd, &e, err, sizeof(err)))
		fail_msg("%s", err);
	close(fd);
	assert_true(e.has_runtime);
	assert_false(e.runtime_from_section); /* exported in .dynsym */
	assert_true(e.has_py_version);
}

static void test_not_elf(void **state)
{
	char err[256] = "";
	struct pyelf e;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(pyelf_inspect(fd, &e, err, sizeof(err)), -ENOEXEC);
	assert_true(err[0] != '\0');
	assert_false(e.has_runtime);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_bias_rules),
		cmocka_unit_test(test_system_python),
		cmocka_unit_test(test_not_elf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
