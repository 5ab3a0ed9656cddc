// SPDX-License-Identifier: Apache-2.0
/*
 * pyruntime.c - py_find_runtime() (see pyattach.h): where _PyRuntime is,
 * from the target's maps and its ELF files (read through its root, with
 * target_fs). The target chooses what it maps, and a sampler retries an
 * open that fails, so the work of one attempt is bounded: one pass over the
 * maps picks at most PY_RUNTIME_FILES_MAX distinct files, each opened and
 * parsed once.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procmaps.h"
#include "pyattach.h"
#include "pyelf.h"
#include "target_fs.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool is_exe(const struct pmap *m, void *exe)
{
	return m->path[0] == '/' && strcmp(m->path, exe) == 0;
}

/*
 * A libpython that could hold _PyRuntime: loaded, so it has an executable
 * mapping (a file merely mmap'ed for reading is never tried).
 */
static bool is_libpython(const struct pmap *m, void *unused)
{
	const char *base = strrchr(m->path, '/');

	(void)unused;
	return base && strncmp(base + 1, "libpython", 9) == 0 && m->perms[2] == 'x';
}

/*
 * Look for _PyRuntime in the file whose lowest mapping is m. 0 found,
 * -ENOENT not there, other -errno.
 */
static int find_runtime_in(pid_t pid, int rootfd, const struct pmap *m,
			   struct py_runtime_loc *loc, char *err, size_t errlen)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), bias;
	struct pyelf elf;
	struct stat st;
	int fd, rc;

	rc = tfs_target_path(pid, m->path, loc->path, sizeof(loc->path));
	if (rc)
		return rc;
	loc->files_tried++;
	fd = tfs_open(rootfd, loc->path);
	if (fd < 0) {
		seterr(err, errlen, "cannot open %s in the target's root: %s", loc->path,
		       strerror(-fd));
		return fd == -EACCES ? -EPERM : -ENOENT;
	}
	/*
	 * Not the mapped file if it was replaced on disk since (an upgrade:
	 * maps says "(deleted)", or the inode differs). Overlay file systems
	 * may show other inode numbers for the same file, so a different
	 * inode alone does not refuse it: the layout checks that follow
	 * catch a file that does not match the memory.
	 */
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	loc->replaced = st.st_ino != m->inode || strstr(m->path, " (deleted)");
	rc = pyelf_inspect(fd, &elf, err, errlen);
	close(fd);
	if (rc)
		return rc == -ENOEXEC ? -ENOENT : rc;
	if (!elf.has_runtime)
		return -ENOENT;
	if (pyelf_bias(&elf, m->start, m->offset, page, &bias) < 0) {
		seterr(err, errlen, "%s: its mappings do not match its PT_LOAD segments",
		       loc->path);
		return -ENOENT;
	}
	loc->runtime = elf.runtime + bias;
	loc->py_version = elf.has_py_version ? elf.py_version + bias : 0;
	loc->asyncio_debug_len = elf.asyncio_debug_len;
	memcpy(loc->asyncio_debug, elf.asyncio_debug, elf.asyncio_debug_len);
	return 0;
}

int py_find_runtime(pid_t pid, struct py_runtime_loc *loc, char *err, size_t errlen)
{
	const struct pmap *files[PY_RUNTIME_FILES_MAX];
	char link[64], exe[4096], why[256] = "";
	struct pmap_list maps;
	size_t n, nlibs, i;
	bool more = false, more_libs;
	ssize_t len;
	int rootfd, rc;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	len = readlink(link, exe, sizeof(exe) - 1);
	if (len < 0) {
		int e = errno;

		if (e == EACCES || e == EPERM)
			return -EPERM;
		snprintf(link, sizeof(link), "/proc/%d", pid);
		if (access(link, F_OK) != 0)
			return -ESRCH;
		/* A kernel thread or a zombie has no executable. */
		seterr(err, errlen, "process %d has no executable: %s", pid, strerror(e));
		return -ENOEXEC;
	}
	exe[len] = '\0';
	rootfd = tfs_root_open(pid);
	if (rootfd < 0)
		return rootfd;
	rc = pmap_read(pid, &maps);
	if (rc) {
		close(rootfd);
		return rc;
	}
	/* The executable first, then the libpythons, in address order. */
	n = pmap_files(&maps, is_exe, exe, files, 1, &more);
	nlibs = pmap_files(&maps, is_libpython, NULL, files + n, PY_RUNTIME_FILES_MAX - n,
			   &more_libs);
	n += nlibs;
	rc = -ENOENT;
	for (i = 0; i < n && rc == -ENOENT; i++)
		rc = find_runtime_in(pid, rootfd, files[i], loc, why, sizeof(why));
	pmap_free(&maps);
	close(rootfd);
	if (rc == -ENOENT) {
		if (more_libs)
			seterr(err, errlen, "process %d is not Python: no _PyRuntime in %s or the "
			       "first %zu libpython files it maps (more are not tried)", pid, exe,
			       nlibs);
		else if (why[0])
			seterr(err, errlen, "process %d is not Python: no _PyRuntime in %s or a "
			       "libpython (%s)", pid, exe, why);
		else
			seterr(err, errlen, "process %d is not Python: no _PyRuntime in %s or a "
			       "libpython", pid, exe);
		return -ENOEXEC;
	}
	return rc;
}
