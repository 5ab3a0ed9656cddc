// SPDX-License-Identifier: Apache-2.0
/*
 * pyelf.c - what the reader needs of a Python ELF file, with libelf.
 *
 * The file is the target's: it may be anything, and it may shrink while it
 * is read (a target can truncate its own libpython). So it is never mapped
 * (ELF_C_READ: libelf reads the headers, then each section's data when it
 * is asked for, with pread; a file that shrank gives a short read, a clean
 * error, where a mapping would have raised SIGBUS), its header is checked
 * before libelf sees it (libelf would read any other kind of file whole),
 * and each section is checked against the file's size and PYELF_SECTION_MAX
 * before its data is read (libelf allocates a section's whole size).
 */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyelf.h"

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_ELFDATA ELFDATA2LSB
#else
#define NATIVE_ELFDATA ELFDATA2MSB
#endif

/* Whether the data of section scn may be read: inside a file of size
 * bytes, and not over PYELF_SECTION_MAX. */
static bool section_readable(Elf_Scn *scn, uint64_t size, GElf_Shdr *sh)
{
	if (!scn || !gelf_getshdr(scn, sh) || sh->sh_type == SHT_NOBITS)
		return false;
	return sh->sh_offset <= size && sh->sh_size <= size - sh->sh_offset &&
	       sh->sh_size <= PYELF_SECTION_MAX;
}

/* Keep the start of the .AsyncioDebug section (initialised data). */
static void keep_asyncio_debug(Elf_Scn *scn, uint64_t size, struct pyelf *out)
{
	Elf_Data *data;
	GElf_Shdr sh;

	if (!section_readable(scn, size, &sh) || sh.sh_type != SHT_PROGBITS)
		return;
	data = elf_getdata(scn, NULL);
	if (!data || !data->d_buf || data->d_size == 0)
		return;
	out->asyncio_debug_len = data->d_size < sizeof(out->asyncio_debug) ?
				 data->d_size : sizeof(out->asyncio_debug);
	memcpy(out->asyncio_debug, data->d_buf, out->asyncio_debug_len);
}

/* Look for _PyRuntime and Py_Version in one symbol table. */
static void scan_symbols(Elf *elf, Elf_Scn *scn, uint64_t size, struct pyelf *out)
{
	GElf_Shdr sh, strsh;
	Elf_Data *data;
	size_t i, n;

	if (!section_readable(scn, size, &sh) || sh.sh_entsize == 0 ||
	    !section_readable(elf_getscn(elf, sh.sh_link), size, &strsh) ||
	    strsh.sh_type != SHT_STRTAB)
		return;
	data = elf_getdata(scn, NULL);
	if (!data)
		return;
	n = sh.sh_size / sh.sh_entsize;
	for (i = 0; i < n; i++) {
		GElf_Sym sym;
		const char *name;

		if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
		    sym.st_value == 0)
			continue;
		name = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (!name)
			continue;
		if (!out->has_runtime && strcmp(name, "_PyRuntime") == 0) {
			out->has_runtime = true;
			out->runtime = sym.st_value;
		} else if (!out->has_py_version && strcmp(name, "Py_Version") == 0) {
			out->has_py_version = true;
			out->py_version = sym.st_value;
		}
	}
}

/*
 * Check the ELF header before libelf reads anything: a 64-bit ELF file of
 * this machine's byte order whose header tables lie inside the file and
 * are not absurdly long. 0 or -ENOEXEC (err says why).
 */
static int check_header(int fd, uint64_t size, char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	ssize_t n;

	if (size < sizeof(eh)) {
		snprintf(err, errlen, "not an ELF file: %llu bytes", (unsigned long long)size);
		return -ENOEXEC;
	}
	do
		n = pread(fd, &eh, sizeof(eh), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		snprintf(err, errlen, "cannot read it: %s", strerror(errno));
		return -errno;
	}
	if ((size_t)n < sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
		snprintf(err, errlen, "not an ELF file");
		return -ENOEXEC;
	}
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != NATIVE_ELFDATA) {
		snprintf(err, errlen, "not a 64-bit ELF file of this machine");
		return -ENOEXEC;
	}
	/* Extended numbering (e_shnum 0 with section headers, PN_XNUM,
	 * SHN_XINDEX) is only for files with 65280+ sections: refused. */
	if (eh.e_shnum > PYELF_MAX_SECTIONS || eh.e_phnum > PYELF_MAX_PHDRS ||
	    (eh.e_shnum == 0 && eh.e_shoff != 0) || eh.e_shstrndx == SHN_XINDEX ||
	    (eh.e_shnum && eh.e_shentsize != sizeof(Elf64_Shdr)) ||
	    (eh.e_phnum && eh.e_phentsize != sizeof(Elf64_Phdr)) ||
	    eh.e_shoff > size || (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr) > size - eh.e_shoff ||
	    eh.e_phoff > size || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > size - eh.e_phoff) {
		snprintf(err, errlen, "bad ELF headers (%u sections, %u segments, in %llu bytes)",
			 eh.e_shnum, eh.e_phnum, (unsigned long long)size);
		return -ENOEXEC;
	}
	return 0;
}

int pyelf_inspect(int fd, struct pyelf *out, char *err, size_t errlen)
{
	Elf_Scn *scn = NULL, *dynsym = NULL, *symtab = NULL;
	bool have_section = false;
	uint64_t section_addr = 0, size;
	size_t shstrndx, phnum, i;
	GElf_Shdr strsh;
	struct stat st;
	GElf_Ehdr eh;
	Elf *elf;
	int ret;

	memset(out, 0, sizeof(*out));
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot stat it: %s", strerror(errno));
		return -errno;
	}
	size = (uint64_t)st.st_size;
	ret = check_header(fd, size, err, errlen);
	if (ret)
		return ret;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(err, errlen, "libelf: %s", elf_errmsg(-1));
		return -ENOTSUP;
	}
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf) {
		snprintf(err, errlen, "not an ELF file: %s", elf_errmsg(-1));
		return -ENOEXEC;
	}
	ret = -ENOEXEC;
	if (elf_kind(elf) != ELF_K_ELF || gelf_getclass(elf) != ELFCLASS64 ||
	    !gelf_getehdr(elf, &eh)) {
		snprintf(err, errlen, "not a 64-bit ELF file");
		goto out;
	}
	if (elf_getshdrstrndx(elf, &shstrndx) != 0 || elf_getphdrnum(elf, &phnum) != 0) {
		snprintf(err, errlen, "bad ELF headers: %s", elf_errmsg(-1));
		goto out;
	}
	for (i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (out->nloads == PYELF_MAX_LOADS)
			break;
		out->loads[out->nloads++] = (struct pyelf_load){
			.vaddr = ph.p_vaddr, .offset = ph.p_offset,
			.filesz = ph.p_filesz, .memsz = ph.p_memsz,
		};
	}
	/* Section names only from a string table that may be read whole. */
	if (!section_readable(elf_getscn(elf, shstrndx), size, &strsh) ||
	    strsh.sh_type != SHT_STRTAB)
		shstrndx = 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_DYNSYM && !dynsym)
			dynsym = scn;
		else if (sh.sh_type == SHT_SYMTAB && !symtab)
			symtab = scn;
		name = shstrndx ? elf_strptr(elf, shstrndx, sh.sh_name) : NULL;
		if (name && strcmp(name, ".PyRuntime") == 0 && sh.sh_addr) {
			have_section = true;
			section_addr = sh.sh_addr;
		} else if (name && strcmp(name, ".AsyncioDebug") == 0 && !out->asyncio_debug_len) {
			keep_asyncio_debug(scn, size, out);
		}
	}
	/* .dynsym first (exported, survives strip), then .symtab. */
	if (dynsym)
		scan_symbols(elf, dynsym, size, out);
	if (symtab && (!out->has_runtime || !out->has_py_version))
		scan_symbols(elf, symtab, size, out);
	if (!out->has_runtime && have_section) {
		/* _PyRuntime is the section's first (only) object (3.10+). */
		out->has_runtime = true;
		out->runtime_from_section = true;
		out->runtime = section_addr;
	}
	ret = 0;
out:
	elf_end(elf);
	return ret;
}

int pyelf_bias(const struct pyelf *e, uint64_t map_start, uint64_t map_offset,
	       uint64_t page_size, uint64_t *bias)
{
	const struct pyelf_load *first = NULL;
	uint64_t pgoff;
	int i;

	/*
	 * The kernel (or ld.so) maps the segment with the lowest p_vaddr at
	 * PAGE_DOWN(bias + p_vaddr), from file offset p_offset -
	 * PAGE_OFF(p_vaddr), below every other segment of the file. Other
	 * mappings are ambiguous: two segments can start in the same file
	 * page, and RELRO's mprotect splits the data segment.
	 */
	for (i = 0; i < e->nloads; i++)
		if (!first || e->loads[i].vaddr < first->vaddr)
			first = &e->loads[i];
	if (!first)
		return -1;
	pgoff = first->vaddr & (page_size - 1);
	if (first->offset < pgoff || first->offset - pgoff != map_offset)
		return -1;
	*bias = map_start - (first->vaddr - pgoff);
	return 0;
}
