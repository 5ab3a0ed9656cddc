// SPDX-License-Identifier: Apache-2.0
/*
 * test_cpython_hostile_elf.c - agent/cpython/pyelf.c on ELF files a target
 * controls: truncated copies of a real libpython, section headers that
 * claim more than the file holds, absurd header counts, a huge file that is
 * not ELF at all, and a file that shrinks and grows again while it is read
 * (a target truncating its own libpython: a reader that maps the file
 * dies of SIGBUS there).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpython/pyelf.h"

/* Debian's shared libpython (package libpython3.11): _PyRuntime in .dynsym. */
#define LIBPYTHON "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"

static char copy_path[64];
static unsigned char *original;
static size_t original_size;

static int setup(void **state)
{
	struct stat st;
	int in, out;

	(void)state;
	in = open(LIBPYTHON, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0) {
		fprintf(stderr, "%s is needed (package libpython3.11)\n", LIBPYTHON);
		return -1;
	}
	original_size = (size_t)st.st_size;
	original = malloc(original_size);
	if (!original || pread(in, original, original_size, 0) != (ssize_t)original_size)
		return -1;
	close(in);
	snprintf(copy_path, sizeof(copy_path), "/tmp/bs-hostile-elf-XXXXXX");
	out = mkstemp(copy_path);
	if (out < 0)
		return -1;
	close(out);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(copy_path);
	free(original);
	return 0;
}

/* A fresh copy holding bytes (len of them); its fd, open read-write. */
static int write_copy(const void *bytes, size_t len)
{
	int fd = open(copy_path, O_RDWR | O_TRUNC | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, len, 0), (ssize_t)len);
	return fd;
}

static int inspect(int fd, struct pyelf *e)
{
	char err[256] = "";
	int rc = pyelf_inspect(fd, e, err, sizeof(err));

	if (rc)
		assert_true(err[0] != '\0');
	return rc;
}

static void test_intact_copy(void **state)
{
	struct pyelf e;
	int fd;

	(void)state;
	fd = write_copy(original, original_size);
	assert_int_equal(inspect(fd, &e), 0);
	assert_true(e.has_runtime);
	assert_false(e.runtime_from_section); /* from .dynsym */
	assert_true(e.has_py_version);
	close(fd);
}

/* Every cut of the file is a clean answer: an error, or what is left. */
static void test_truncated_copies(void **state)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)original;
	size_t cuts[] = { 0, 1, 16, 63, 64, 100, 4096, 65536, original_size / 2,
			  eh->e_shoff, eh->e_shoff + 64, original_size - 64, original_size - 1 };
	struct pyelf e;
	size_t i;
	int fd;

	(void)state;
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		fd = write_copy(original, original_size);
		assert_int_equal(ftruncate(fd, (off_t)cuts[i]), 0);
		/* The section headers are at the end: any cut loses some. */
		assert_int_equal(inspect(fd, &e), -ENOEXEC);
		close(fd);
	}
}

/* Sections that claim more than the file holds are not read. */
static void test_section_bigger_than_file(void **state)
{
	unsigned char *bytes = malloc(original_size);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)bytes;
	Elf64_Shdr *sh;
	struct pyelf e;
	int fd, i, patched = 0;

	(void)state;
	assert_non_null(bytes);
	memcpy(bytes, original, original_size);
	sh = (Elf64_Shdr *)(bytes + eh->e_shoff);
	for (i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type == SHT_DYNSYM) {
			sh[i].sh_size = (uint64_t)1 << 40; /* 1 TiB */
			patched++;
		} else if (sh[i].sh_type == SHT_STRTAB) {
			sh[i].sh_offset = original_size - 8; /* runs past the end */
			sh[i].sh_size = 4096;
		}
	}
	assert_int_equal(patched, 1);
	fd = write_copy(bytes, original_size);
	assert_int_equal(inspect(fd, &e), 0);
	/* .dynsym refused; section names unreadable: nothing found, nothing read */
	assert_false(e.has_runtime);
	close(fd);
	free(bytes);
}

/* Header counts beyond the limits, or tables out of the file. */
static void test_bad_headers(void **state)
{
	Elf64_Ehdr eh;
	struct pyelf e;
	int fd;

	(void)state;
	memcpy(&eh, original, sizeof(eh));
	eh.e_shnum = PYELF_MAX_SECTIONS + 1;
	fd = write_copy(original, original_size);
	assert_int_equal(pwrite(fd, &eh, sizeof(eh), 0), (ssize_t)sizeof(eh));
	assert_int_equal(inspect(fd, &e), -ENOEXEC);
	memcpy(&eh, original, sizeof(eh));
	eh.e_shnum = 0; /* extended numbering */
	assert_int_equal(pwrite(fd, &eh, sizeof(eh), 0), (ssize_t)sizeof(eh));
	assert_int_equal(inspect(fd, &e), -ENOEXEC);
	memcpy(&eh, original, sizeof(eh));
	eh.e_phoff = original_size - 8;
	assert_int_equal(pwrite(fd, &eh, sizeof(eh), 0), (ssize_t)sizeof(eh));
	assert_int_equal(inspect(fd, &e), -ENOEXEC);
	memcpy(&eh, original, sizeof(eh));
	eh.e_ident[EI_CLASS] = ELFCLASS32;
	assert_int_equal(pwrite(fd, &eh, sizeof(eh), 0), (ssize_t)sizeof(eh));
	assert_int_equal(inspect(fd, &e), -ENOEXEC);
	close(fd);
}

/* A huge file that is not ELF is not read (libelf would read it whole). */
static void test_huge_not_elf(void **state)
{
	struct rusage before, after;
	struct pyelf e;
	int fd;

	(void)state;
	fd = write_copy("#!/bin/sh\n", 10);
	assert_int_equal(ftruncate(fd, (off_t)1 << 30), 0); /* 1 GiB, sparse */
	getrusage(RUSAGE_SELF, &before);
	assert_int_equal(inspect(fd, &e), -ENOEXEC);
	getrusage(RUSAGE_SELF, &after);
	assert_true(after.ru_maxrss - before.ru_maxrss < 64 * 1024); /* KiB */
	close(fd);
}

/* ---- a file that shrinks and grows back while it is read ---- */

static atomic_bool flipping;

static void *flip_size(void *arg)
{
	int fd = *(int *)arg;
	/* Keep the front (what a loader maps), drop the section headers and
	 * everything after .dynsym: what a target truncating its own
	 * libpython to its loaded part does. */
	off_t keep = 65536;

	while (atomic_load(&flipping)) {
		if (ftruncate(fd, keep) < 0)
			break;
		usleep(50);
		if (pwrite(fd, original + keep, original_size - (size_t)keep, keep) < 0)
			break;
		usleep(50);
	}
	return NULL;
}

static void test_shrinking_while_read(void **state)
{
	int wfd, rfd, i, ok = 0, refused = 0;
	pthread_t th;
	struct pyelf e;

	(void)state;
	wfd = write_copy(original, original_size);
	atomic_store(&flipping, true);
	assert_int_equal(pthread_create(&th, NULL, flip_size, &wfd), 0);
	for (i = 0; i < 400; i++) {
		int rc;

		rfd = open(copy_path, O_RDONLY | O_CLOEXEC);
		assert_true(rfd >= 0);
		rc = inspect(rfd, &e);
		close(rfd);
		assert_true(rc == 0 || rc == -ENOEXEC);
		if (rc == 0 && e.has_runtime)
			ok++;
		else
			refused++;
	}
	atomic_store(&flipping, false);
	pthread_join(th, NULL);
	close(wfd);
	/* (no assertion on how the reads fell: only that each was clean) */
	assert_int_equal(ok + refused, 400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intact_copy),
		cmocka_unit_test(test_truncated_copies),
		cmocka_unit_test(test_section_bigger_than_file),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_huge_not_elf),
		cmocka_unit_test(test_shrinking_while_read),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
