// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_cpython_pyelf - reading a Python ELF file (agent/cpython/pyelf.c)
 * that is anything a target put there. The input is the whole file, given
 * to pyelf_inspect() through a memfd as the target's file would be.
 * Whatever the file, pyelf_inspect() returns (no crash, no read out of the
 * file, no allocation beyond its limits), and what it returns is sane.
 * Seeds: small ELF files with a _PyRuntime symbol or a .PyRuntime section
 * (tests/fuzz/corpus/fuzz_cpython_pyelf/).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpython/pyelf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char err[256];
	struct pyelf e;
	uint64_t bias;
	int rc;

	if (fd < 0)
		fd = memfd_create("fuzz-pyelf", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	rc = pyelf_inspect(fd, &e, err, sizeof(err));
	if (rc != 0 && rc != -ENOEXEC)
		abort();
	if (rc == 0) {
		if (e.nloads < 0 || e.nloads > PYELF_MAX_LOADS)
			abort();
		if (e.runtime_from_section && !e.has_runtime)
			abort();
		(void)pyelf_bias(&e, 0x7f0000000000ULL, 0, 4096, &bias);
	} else if (!err[0]) {
		abort(); /* an error always says why */
	}
	return 0;
}
