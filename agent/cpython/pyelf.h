/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pyelf.h - what the reader needs from a Python ELF file, read with libelf
 * (internal to agent/cpython). The file is only read (with pread, never
 * mapped), never loaded or run; it may be hostile or shrink meanwhile.
 */
#ifndef BLOCKSNOOP_CPYTHON_PYELF_H
#define BLOCKSNOOP_CPYTHON_PYELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PYELF_MAX_LOADS 16
/* Refused beyond these: real Python files have a few dozen of each. */
#define PYELF_MAX_SECTIONS 4096
#define PYELF_MAX_PHDRS 256
/* The largest section read (symbol and string tables: a few MiB at most
 * in an unstripped libpython). */
#define PYELF_SECTION_MAX (32u << 20)
/* Bytes of the .AsyncioDebug section kept. */
#define PYELF_ASYNCIO_DEBUG_MAX 128

struct pyelf_load {
	uint64_t vaddr, offset, filesz, memsz;
};

struct pyelf {
	/* _PyRuntime: the symbol (.dynsym, else .symtab), else the .PyRuntime section */
	bool has_runtime;
	bool runtime_from_section;
	uint64_t runtime; /* link-time address */
	/* Py_Version (3.11+): const unsigned long */
	bool has_py_version;
	uint64_t py_version;
	int nloads;
	struct pyelf_load loads[PYELF_MAX_LOADS];
	/*
	 * The start of section ".AsyncioDebug" (3.14+: the _asyncio module's
	 * _AsyncioDebug offsets, constant data), at most PYELF_ASYNCIO_DEBUG_MAX
	 * bytes; asyncio_debug_len 0 = no such section.
	 */
	uint8_t asyncio_debug[PYELF_ASYNCIO_DEBUG_MAX];
	size_t asyncio_debug_len;
};

/*
 * Inspect the 64-bit ELF file open on fd. 0 (has_runtime may be false), or
 * -ENOEXEC (not a 64-bit ELF of this machine, headers out of the file or
 * over the limits above, or the file shrank while it was read; err says
 * why), other -errno. Reads at most the headers and the symbol and string
 * tables, each at most PYELF_SECTION_MAX bytes.
 */
int pyelf_inspect(int fd, struct pyelf *out, char *err, size_t errlen);

/*
 * The load bias of the file (run-time minus link-time addresses), given its
 * lowest mapping (start address and file offset, as in /proc/<pid>/maps):
 * that is where its lowest PT_LOAD segment was mapped. 0 and *bias, or -1 if
 * that mapping cannot be the lowest segment's.
 */
int pyelf_bias(const struct pyelf *e, uint64_t map_start, uint64_t map_offset,
	       uint64_t page_size, uint64_t *bias);

#endif
