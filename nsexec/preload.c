// SPDX-License-Identifier: Apache-2.0
/*
 * preload.c - the object the program's loader preloads (built from
 * preload/constructor.c and enter.c, embedded here at build time), filled
 * in for one program and handed over as a sealed memfd
 * (nsexec_internal.h). Nothing is written to any file system.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "enter.h"
#include "nsexec_internal.h"

#ifndef NSEXEC_PRELOAD_SO
#error "the Makefile names the preloaded object to embed in NSEXEC_PRELOAD_SO"
#endif

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: say so, or vm.memfd_noexec may refuse */
#endif

__asm__(".section .rodata\n"
	".balign 64\n"
	".hidden nsexec_preload_image\n"
	"nsexec_preload_image:\n"
	".incbin \"" NSEXEC_PRELOAD_SO "\"\n"
	".hidden nsexec_preload_image_end\n"
	"nsexec_preload_image_end:\n"
	".previous\n");
extern const unsigned char nsexec_preload_image[], nsexec_preload_image_end[];

const void *nsexec_preload_object(size_t *len)
{
	*len = (size_t)(nsexec_preload_image_end - nsexec_preload_image);
	return nsexec_preload_image;
}

int nsexec_preload_params_offset(const void *image, size_t len, size_t *off,
				 char *err, size_t errlen)
{
	Elf *e = NULL;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	char *copy;
	int ret = -ENOEXEC;

	/* elf_memory() wants a writable image (it never writes to it with
	 * ELF_C_READ, but says char *). */
	copy = malloc(len ? len : 1);
	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(copy, image, len);
	if (elf_version(EV_CURRENT) == EV_NONE || !(e = elf_memory(copy, len)) ||
	    elf_kind(e) != ELF_K_ELF || elf_getshdrstrndx(e, &shstrndx)) {
		snprintf(err, errlen, "the preloaded object is not ELF");
		goto out;
	}
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(e, shstrndx, sh.sh_name)) ||
		    strcmp(name, NSEXEC_ENTER_SECTION))
			continue;
		if (sh.sh_type != SHT_PROGBITS || sh.sh_size != sizeof(struct nsexec_enter_params) ||
		    sh.sh_offset > len || len - sh.sh_offset < sh.sh_size) {
			snprintf(err, errlen, "section %s of the preloaded object is not what it "
				 "should be", NSEXEC_ENTER_SECTION);
			goto out;
		}
		*off = (size_t)sh.sh_offset;
		ret = 0;
		goto out;
	}
	snprintf(err, errlen, "the preloaded object has no section %s", NSEXEC_ENTER_SECTION);
out:
	if (e)
		elf_end(e);
	free(copy);
	return ret;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int nsexec_preload_memfd(const struct nsexec_enter_params *params, char *err, size_t errlen)
{
	const unsigned int flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	struct nsexec_enter_params p = *params;
	size_t len, off;
	const unsigned char *image = nsexec_preload_object(&len);
	unsigned char *copy = NULL;
	int fd, ret;

	ret = nsexec_preload_params_offset(image, len, &off, err, errlen);
	if (ret)
		return ret;
	copy = malloc(len);
	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(copy, image, len);
	memcpy(p.magic, NSEXEC_ENTER_MAGIC, sizeof(p.magic));
	memcpy(copy + off, &p, sizeof(p));

	fd = memfd_create("blocksnoop-nsexec-enter", flags | MFD_EXEC);
	if (fd < 0 && errno == EINVAL) /* before Linux 6.3 */
		fd = memfd_create("blocksnoop-nsexec-enter", flags);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "memfd_create for the preloaded object: %s%s", strerror(errno),
			 errno == EACCES ? " (vm.memfd_noexec forbids executable memfds)" : "");
		goto out;
	}
	ret = write_all(fd, copy, len);
	/* Sealed: nobody, not even a process that gets hold of the fd, can
	 * change what the loader maps. */
	if (!ret && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
			  F_SEAL_SEAL))
		ret = -errno;
	if (ret) {
		snprintf(err, errlen, "write the preloaded object to a memfd: %s", strerror(-ret));
		close(fd);
		goto out;
	}
	ret = fd;
out:
	free(copy);
	return ret;
}
