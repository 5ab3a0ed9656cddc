// SPDX-License-Identifier: Apache-2.0
/*
 * test_cpython_files.c - opening a target's files through its root
 * (agent/cpython/target_fs.h: openat2 RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS, regular files only) and py_source_line()
 * (agent/cpython/pyreader.h) on this process's own files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpython/pyreader.h"
#include "cpython/target_fs.h"
#include "unit_helpers.h"

static char base[64]; /* the temporary directory of a test */

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/bs-cpython-files-XXXXXX");
	return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static char *path_in(const char *rel)
{
	static char p[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", base, rel);
	return p[k];
}

/*
 * A fake target root base/root holding app.py; a "host-only" file
 * base/host/secret.py outside it; links in the root that point at it.
 */
static void test_open_in_root(void **state)
{
	char host_secret[256], link[512], buf[64];
	int rootfd, fd;
	ssize_t n;

	(void)state;
	assert_int_equal(mkdir(path_in("root"), 0755), 0);
	assert_int_equal(mkdir(path_in("root/srv"), 0755), 0);
	assert_int_equal(mkdir(path_in("host"), 0755), 0);
	put_file(path_in("root/srv/app.py"), "print('target')\n");
	put_file(path_in("host/secret.py"), "HOST SECRET\n");
	snprintf(host_secret, sizeof(host_secret), "%s/host/secret.py", base);
	/* absolute link to a host path */
	assert_int_equal(symlink(host_secret, path_in("root/srv/abs.py")), 0);
	/* relative link climbing out of the root */
	snprintf(link, sizeof(link), "../../../../../../../../..%s", host_secret);
	assert_int_equal(symlink(link, path_in("root/srv/up.py")), 0);
	/* a link that stays inside: fine */
	assert_int_equal(symlink("/srv/app.py", path_in("root/srv/ok.py")), 0);
	assert_int_equal(mkfifo(path_in("root/srv/fifo.py"), 0600), 0);

	rootfd = open(path_in("root"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(rootfd >= 0);

	fd = tfs_open(rootfd, "/srv/app.py");
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_int_equal(n, 16);
	close(fd);
	fd = tfs_open(rootfd, "srv/app.py"); /* relative: from the root too */
	assert_true(fd >= 0);
	close(fd);
	fd = tfs_open(rootfd, "/srv/ok.py");
	assert_true(fd >= 0);
	close(fd);

	/* The host file exists, yet neither link reaches it. */
	assert_int_equal(access(host_secret, R_OK), 0);
	assert_int_equal(tfs_open(rootfd, "/srv/abs.py"), -ENOENT);
	assert_int_equal(tfs_open(rootfd, "/srv/up.py"), -ENOENT);
	fd = tfs_open(rootfd, "/../../../../../../../srv/../../srv/app.py"); /* ".." stops at the root */
	assert_true(fd >= 0);
	close(fd);

	/* Not regular files: refused, and a FIFO does not block. */
	assert_int_equal(tfs_open(rootfd, "/srv/fifo.py"), -EINVAL);
	assert_int_equal(tfs_open(rootfd, "/srv"), -EINVAL);
	assert_int_equal(tfs_open(rootfd, ""), -ENOENT);
	close(rootfd);
}

/* /proc magic links are refused even where /proc is inside the root. */
static void test_no_magic_links(void **state)
{
	int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd;

	(void)state;
	assert_true(rootfd >= 0);
	fd = tfs_open(rootfd, "/proc/self/exe");
	assert_true(fd == -ELOOP || fd == -EXDEV);
	fd = tfs_open(rootfd, "/proc/self/root/etc/hostname");
	assert_true(fd < 0);
	fd = tfs_open(rootfd, "/proc/self/status"); /* plain /proc files are fine */
	assert_true(fd >= 0);
	close(fd);
	close(rootfd);
}

static void test_target_path(void **state)
{
	char out[PATH_MAX];

	(void)state;
	/* Our own root is "/": nothing to strip but " (deleted)". */
	assert_int_equal(tfs_target_path(getpid(), "/usr/bin/python3.11", out, sizeof(out)), 0);
	assert_string_equal(out, "/usr/bin/python3.11");
	assert_int_equal(tfs_target_path(getpid(), "/usr/lib/libpython3.11.so (deleted)", out,
					 sizeof(out)), 0);
	assert_string_equal(out, "/usr/lib/libpython3.11.so");
	assert_int_equal(tfs_target_path(getpid(), "/usr/bin/python3.11", out, 5), -ENAMETOOLONG);
	assert_int_equal(tfs_target_path(0x3fffffff, "/x", out, sizeof(out)), -ESRCH);
}

static void test_read_all(void **state)
{
	char *text;
	size_t len;
	int fd;

	(void)state;
	put_file(path_in("four.txt"), "abcd");
	fd = open(path_in("four.txt"), O_RDONLY);
	assert_int_equal(tfs_read_all(fd, 4, &text, &len), 0);
	assert_int_equal(len, 4);
	assert_string_equal(text, "abcd");
	free(text);
	lseek(fd, 0, SEEK_SET);
	assert_int_equal(tfs_read_all(fd, 3, &text, &len), -EFBIG);
	close(fd);
}

static void test_source_line(void **state)
{
	char buf[256], small[5], cwd[PATH_MAX];
	const char *f = path_in("src.py");

	(void)state;
	put_file(f, "\xEF\xBB\xBF" "import time\n"
		    "\n"
		    "def blocker():\r\n"
		    "    time.sleep(3600)   \t\n"
		    "\t\xc3\xa9t\xc3\xa9 = 1\n"
		    "last = True");
	assert_int_equal(py_source_line(getpid(), f, 1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "import time");
	assert_int_equal(py_source_line(getpid(), f, 2, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(py_source_line(getpid(), f, 3, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "def blocker():");
	assert_int_equal(py_source_line(getpid(), f, 4, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "time.sleep(3600)");
	assert_int_equal(py_source_line(getpid(), f, 6, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "last = True");
	assert_int_equal(py_source_line(getpid(), f, 7, buf, sizeof(buf)), -ERANGE);
	/* cut to the buffer (4 bytes), at a UTF-8 boundary: "été = 1" -> "ét" */
	assert_int_equal(py_source_line(getpid(), f, 5, small, sizeof(small)), 0);
	assert_string_equal(small, "\xc3\xa9t");

	assert_int_equal(py_source_line(getpid(), path_in("nope.py"), 1, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(py_source_line(getpid(), "<frozen importlib._bootstrap>", 1, buf,
					sizeof(buf)), -ENOENT);
	assert_int_equal(py_source_line(getpid(), f, 0, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(py_source_line(getpid(), f, 1, buf, 0), -EINVAL);
	assert_int_equal(py_source_line(getpid(), "", 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(py_source_line(0x3fffffff, f, 1, buf, sizeof(buf)), -ESRCH);

	/* A relative file is taken from the process's current directory. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(base), 0);
	assert_int_equal(py_source_line(getpid(), "src.py", 3, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "def blocker():");
	assert_int_equal(chdir(cwd), 0);
}

/* Cached, but a changed file is noticed (re-checked at most once a second). */
static void test_source_line_changes(void **state)
{
	const char *f = path_in("changing.py");
	char buf[64];

	(void)state;
	put_file(f, "a = 1\nb = 2\n");
	assert_int_equal(py_source_line(getpid(), f, 2, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "b = 2");
	put_file(f, "a = 1\nb = 22222\nc = 3\n");
	usleep(1100 * 1000);
	assert_int_equal(py_source_line(getpid(), f, 2, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "b = 22222");
	assert_int_equal(py_source_line(getpid(), f, 3, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "c = 3");
	assert_int_equal(unlink(f), 0);
	usleep(1100 * 1000);
	assert_int_equal(py_source_line(getpid(), f, 1, buf, sizeof(buf)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_in_root, setup, teardown),
		cmocka_unit_test(test_no_magic_links),
		cmocka_unit_test(test_target_path),
		cmocka_unit_test_setup_teardown(test_read_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_line_changes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
