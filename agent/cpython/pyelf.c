// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>

#include "pyelf.h"

/* Look for _PyRuntime and Py_Version in one symbol table. */
static void scan_symbols(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, struct pyelf *out)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t i, n;

	if (!data || sh->sh_entsize == 0)
		return;
	n = sh->sh_size / sh->sh_entsize;
	for (i = 0; i < n; i++) {
		GElf_Sym sym;
		const char *name;

		if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
		    sym.st_value == 0)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
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

int pyelf_inspect(int fd, struct pyelf *out, char *err, size_t errlen)
{
	Elf_Scn *scn = NULL, *dynsym = NULL, *symtab = NULL;
	GElf_Shdr dynsym_sh, symtab_sh;
	bool have_section = false;
	uint64_t section_addr = 0;
	size_t shstrndx, phnum, i;
	GElf_Ehdr eh;
	Elf *elf;
	int ret = -ENOEXEC;

	memset(out, 0, sizeof(*out));
	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(err, errlen, "libelf: %s", elf_errmsg(-1));
		return -ENOTSUP;
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		snprintf(err, errlen, "not an ELF file: %s", elf_errmsg(-1));
		return -ENOEXEC;
	}
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
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_DYNSYM && !dynsym) {
			dynsym = scn;
			dynsym_sh = sh;
		} else if (sh.sh_type == SHT_SYMTAB && !symtab) {
			symtab = scn;
			symtab_sh = sh;
		}
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && strcmp(name, ".PyRuntime") == 0 && sh.sh_addr) {
			have_section = true;
			section_addr = sh.sh_addr;
		}
	}
	/* .dynsym first (exported, survives strip), then .symtab. */
	if (dynsym)
		scan_symbols(elf, dynsym, &dynsym_sh, out);
	if (symtab && (!out->has_runtime || !out->has_py_version))
		scan_symbols(elf, symtab, &symtab_sh, out);
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
