// SPDX-License-Identifier: Apache-2.0
/*
 * files.c - which files the shim opens for a program: its ELF interpreter
 * and library directories (read with libelf), resolved inside a root.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "nsexec_internal.h"

int nsexec_open_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		/* Resolve as if rootfd were "/": an absolute symlink such as
		 * lib64/ld-linux-x86-64.so.2 -> /lib/... in an --austin-root
		 * must land in that root, not in blocksnoop's. */
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	/* EAGAIN: a mount or rename somewhere on the system while ".." was
	 * being resolved (Debian's ld-linux-x86-64.so.2 link has one), and the
	 * kernel could not prove it stayed inside. openat2(2): retry. */
	for (int tries = 0; tries < 64; tries++) {
		fd = sys_openat2(rootfd, path, &how);
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	return fd < 0 ? -errno : fd;
}

/* Copy the string at file offset off (at most len bytes, NUL within). */
static int read_string(int fd, uint64_t off, uint64_t len, char *out, size_t outlen)
{
	ssize_t n;

	if (len == 0 || len > outlen)
		return -ENAMETOOLONG;
	n = pread(fd, out, len, (off_t)off);
	if (n < 0)
		return -errno;
	if ((uint64_t)n != len || !memchr(out, '\0', len))
		return -ENOEXEC;
	return 0;
}

/*
 * From the .dynamic section: DT_RUNPATH (preferred, as ld.so does) or
 * DT_RPATH, and the DT_NEEDED names.
 */
static int read_dynamic(Elf *e, struct nsexec_elf *elf, char *err, size_t errlen)
{
	Elf_Scn *scn = NULL;
	const char *rpath = NULL, *runpath = NULL, *s;

	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Dyn d;

			if (!gelf_getdyn(data, (int)i, &d) || d.d_tag == DT_NULL)
				break;
			if (d.d_tag != DT_RUNPATH && d.d_tag != DT_RPATH && d.d_tag != DT_NEEDED)
				continue;
			s = elf_strptr(e, sh.sh_link, d.d_un.d_val);
			if (!s) {
				snprintf(err, errlen, "bad .dynamic string");
				return -ENOEXEC;
			}
			if (d.d_tag == DT_RUNPATH) {
				runpath = s;
			} else if (d.d_tag == DT_RPATH) {
				rpath = s;
			} else if (elf->nneeded >= NSEXEC_MAX_NEEDED) {
				snprintf(err, errlen, "more than %d DT_NEEDED entries", NSEXEC_MAX_NEEDED);
				return -E2BIG;
			} else if (!*s || strlen(s) >= NSEXEC_NAME_MAX) {
				snprintf(err, errlen, "a DT_NEEDED name is empty or too long");
				return -ENAMETOOLONG;
			} else {
				strcpy(elf->needed[elf->nneeded++], s);
			}
		}
		break;
	}
	s = runpath ? runpath : rpath ? rpath : "";
	if (strlen(s) >= sizeof(elf->runpath)) {
		snprintf(err, errlen, "DT_RUNPATH/DT_RPATH too long");
		return -ENAMETOOLONG;
	}
	strcpy(elf->runpath, s);
	return 0;
}

int nsexec_read_elf(int fd, struct nsexec_elf *elf, char *err, size_t errlen)
{
	GElf_Ehdr eh;
	size_t nph;
	Elf *e;
	int ret = 0;

	memset(elf, 0, sizeof(*elf));
	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(err, errlen, "libelf: %s", elf_errmsg(-1));
		return -EIO;
	}
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh) ||
	    (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) || elf_getphdrnum(e, &nph)) {
		snprintf(err, errlen, "not an ELF executable");
		ret = -ENOEXEC;
		goto out;
	}
	elf->machine = eh.e_machine;
	elf->elf64 = gelf_getclass(e) == ELFCLASS64;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_INTERP)
			continue;
		ret = read_string(fd, ph.p_offset, ph.p_filesz, elf->interp, sizeof(elf->interp));
		if (!ret && elf->interp[0] != '/')
			ret = -ENOEXEC;
		if (ret) {
			snprintf(err, errlen, "bad PT_INTERP");
			goto out;
		}
		elf->dynamic = true;
		break;
	}
	ret = read_dynamic(e, elf, err, errlen);
out:
	if (e)
		elf_end(e);
	return ret;
}

/* Debian's multiarch triplet for an ELF machine, NULL if we know none. */
static const char *triplet(unsigned machine, bool elf64)
{
	switch (machine) {
	case EM_X86_64:
		return elf64 ? "x86_64-linux-gnu" : "x86_64-linux-gnux32";
	case EM_AARCH64:
		return "aarch64-linux-gnu";
	case EM_386:
		return "i386-linux-gnu";
	case EM_ARM:
		return "arm-linux-gnueabihf";
	case EM_PPC64:
		return "powerpc64le-linux-gnu";
	case EM_S390:
		return "s390x-linux-gnu";
	case EM_RISCV:
		return "riscv64-linux-gnu";
	default:
		return NULL;
	}
}

static void add_dir(struct nsexec_dirs *d, const char *s, size_t len)
{
	/* Drop trailing slashes so that "/lib/" and "/lib" are one entry. */
	while (len > 1 && s[len - 1] == '/')
		len--;
	if (d->n >= NSEXEC_MAX_LIBDIRS || len == 0 || len >= NSEXEC_PATH_MAX || s[0] != '/')
		return;
	for (unsigned i = 0; i < d->n; i++)
		if (strlen(d->path[i]) == len && !memcmp(d->path[i], s, len))
			return;
	memcpy(d->path[d->n], s, len);
	d->path[d->n][len] = '\0';
	d->n++;
}

/* One RUNPATH entry with $ORIGIN replaced; skipped if it cannot be made absolute. */
static void add_runpath_entry(struct nsexec_dirs *d, const char *origin, size_t olen,
			      const char *s, size_t len)
{
	char buf[NSEXEC_PATH_MAX];
	size_t used = 0;

	for (size_t i = 0; i < len;) {
		size_t skip = 0;

		if (s[i] == '$') {
			if (len - i >= 7 && !memcmp(s + i, "$ORIGIN", 7))
				skip = 7;
			else if (len - i >= 9 && !memcmp(s + i, "${ORIGIN}", 9))
				skip = 9;
			else
				return; /* $LIB, $PLATFORM: distribution-specific, not guessed */
			if (used + olen >= sizeof(buf))
				return;
			memcpy(buf + used, origin, olen);
			used += olen;
			i += skip;
			continue;
		}
		if (used + 1 >= sizeof(buf))
			return;
		buf[used++] = s[i++];
	}
	if (used == 0 && len > 0)
		buf[used++] = '/'; /* "$ORIGIN" of a program in "/" */
	add_dir(d, buf, used); /* relative entries are refused there */
}

void nsexec_lib_dirs(const char *program, const char *runpath, unsigned machine, bool elf64,
		     struct nsexec_dirs *dirs)
{
	const char *slash = strrchr(program, '/');
	size_t olen = slash ? (size_t)(slash - program) : 0;
	const char *t = triplet(machine, elf64);
	char buf[64];

	/* A program in "/" has origin "": "$ORIGIN/lib" is then "/lib". */
	dirs->n = 0;
	for (const char *p = runpath; p && *p;) {
		size_t len = strcspn(p, ":");

		add_runpath_entry(dirs, program, olen, p, len);
		p += len + (p[len] == ':');
	}
	if (t) {
		snprintf(buf, sizeof(buf), "/lib/%s", t);
		add_dir(dirs, buf, strlen(buf));
		snprintf(buf, sizeof(buf), "/usr/lib/%s", t);
		add_dir(dirs, buf, strlen(buf));
	}
	if (elf64) {
		add_dir(dirs, "/lib64", 6);
		add_dir(dirs, "/usr/lib64", 10);
	}
	add_dir(dirs, "/lib", 4);
	add_dir(dirs, "/usr/lib", 8);
}

/* The ELF loader itself: libc.so.6 names ld-linux-x86-64.so.2, which the
 * loader already is (it matches the name against its own). */
static bool is_the_loader(const char *name, const char *interp)
{
	const char *base = strrchr(interp, '/');

	return !strcmp(name, base ? base + 1 : interp);
}

/*
 * Look for name in the directories, as the loader will: the first regular
 * file of the program's class and machine. Returns 0 (found, its needs in
 * lib), 1 (in none of them) or -errno with the reason in err.
 */
static int find_library(int rootfd, const char *name, const struct nsexec_elf *prog,
			const int *dirfd, const char *const *dirname, unsigned ndirs,
			struct nsexec_elf *lib, char *err, size_t errlen)
{
	char path[NSEXEC_PATH_MAX + NSEXEC_NAME_MAX + 1], why[128];

	for (unsigned i = 0; i < ndirs; i++) {
		struct stat st, in_root;
		int fd, inside, ret;

		/* What the loader will open: /proc/self/fd/<dir>/<name>, which
		 * follows symlinks from blocksnoop's "/". */
		fd = openat(dirfd[i], name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
			continue;
		if (fd < 0) {
			snprintf(err, errlen, "open %s in %s: %s", name, dirname[i], strerror(errno));
			return -errno;
		}
		/* ... must be what the same name means inside the root. */
		snprintf(path, sizeof(path), "%s/%s", dirname[i], name);
		inside = nsexec_open_in_root(rootfd, path, O_PATH);
		ret = fstat(fd, &st) || inside < 0 || fstat(inside, &in_root) ||
		      st.st_dev != in_root.st_dev || st.st_ino != in_root.st_ino;
		if (inside >= 0)
			close(inside);
		if (ret) {
			close(fd);
			snprintf(err, errlen, "%s leads out of the root (an absolute symlink?)", path);
			return -ELOOP;
		}
		if (!S_ISREG(st.st_mode)) {
			close(fd);
			snprintf(err, errlen, "%s is not a file", path);
			return -ENOEXEC;
		}
		ret = nsexec_read_elf(fd, lib, why, sizeof(why));
		close(fd);
		if (ret) {
			snprintf(err, errlen, "%s: %s", path, why);
			return ret;
		}
		if (lib->machine == prog->machine && lib->elf64 == prog->elf64)
			return 0;
		/* another ABI's: the loader skips it too */
	}
	return 1;
}

int nsexec_check_libraries(int rootfd, const struct nsexec_elf *prog, const int *dirfd,
			   const char *const *dirname, unsigned ndirs, char *err, size_t errlen)
{
	static char seen[NSEXEC_MAX_LIBS][NSEXEC_NAME_MAX];
	static struct nsexec_elf lib;
	unsigned nseen = 0;

	for (unsigned i = 0; i < prog->nneeded; i++)
		if (nseen < NSEXEC_MAX_LIBS)
			strcpy(seen[nseen++], prog->needed[i]);
	/* Breadth first over the DT_NEEDED of everything found. */
	for (unsigned next = 0; next < nseen; next++) {
		const char *name = seen[next];
		size_t used;
		int ret;

		if (strchr(name, '/')) {
			snprintf(err, errlen, "needs a library by path ('%.64s'), which would be "
				 "opened outside the root", name);
			return -ENOEXEC;
		}
		if (is_the_loader(name, prog->interp))
			continue;
		ret = find_library(rootfd, name, prog, dirfd, dirname, ndirs, &lib, err, errlen);
		if (ret < 0)
			return ret;
		if (ret > 0) {
			used = (size_t)snprintf(err, errlen, "needs %.64s, which is in none of the "
						"root's library directories (", name);
			for (unsigned i = 0; i < ndirs && used < errlen; i++)
				used += (size_t)snprintf(err + used, errlen - used, "%s%s",
							 i ? ", " : "", dirname[i]);
			if (used < errlen)
				snprintf(err + used, errlen - used, ")");
			return -ENOENT;
		}
		for (unsigned i = 0; i < lib.nneeded; i++) {
			bool dup = false;

			for (unsigned j = 0; j < nseen && !dup; j++)
				dup = !strcmp(seen[j], lib.needed[i]);
			if (dup)
				continue;
			if (nseen >= NSEXEC_MAX_LIBS) {
				snprintf(err, errlen, "needs more than %d libraries", NSEXEC_MAX_LIBS);
				return -E2BIG;
			}
			strcpy(seen[nseen++], lib.needed[i]);
		}
	}
	return 0;
}
