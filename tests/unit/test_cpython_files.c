// SPDX-License-Identifier: Apache-2.0
/*
 * test_cpython_files.c - opening a target's files as the target would
 * (agent/cpython/target_fs.h, target_creds.h: inside its root, with its
 * credentials, regular files on file systems that cannot block) and
 * py_source_line() (agent/cpython/pyreader.h). The credential tests switch
 * to uid 65534 and need root.
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
#include <linux/capability.h>
#include <grp.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpython/pyreader.h"
#include "cpython/target_creds.h"
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

/* A target whose root is root (a directory of ours) and who opens files
 * with creds (NULL: ours). */
static void fake_target(struct tfs_target *t, const char *root, const struct tcreds *creds)
{
	int self;

	memset(t, 0, sizeof(*t));
	t->rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(t->rootfd >= 0);
	/* Our own table serves as the target's: no mount inside the fake
	 * root, and its root's mount is found by id. */
	t->mountinfo = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	t->own_mountinfo = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	assert_true(t->mountinfo >= 0 && t->own_mountinfo >= 0);
	if (creds) {
		t->creds = *creds;
		t->creds.groups = malloc((creds->ngroups + 1) * sizeof(gid_t));
		assert_non_null(t->creds.groups);
		if (creds->ngroups)
			memcpy(t->creds.groups, creds->groups, creds->ngroups * sizeof(gid_t));
	} else {
		self = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
		assert_int_equal(tcreds_read(self, &t->creds), 0);
		close(self);
	}
}

/* Open path in t and read what it holds into buf; the fd result otherwise. */
static int open_read(const struct tfs_target *t, const char *path, char *buf, size_t len)
{
	int fd = tfs_open_as(t, path);
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0)
		return fd;
	n = read(fd, buf, len - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	return 0;
}

/*
 * A fake target root base/root holding app.py; a "host-only" file
 * base/host/secret.py outside it; links in the root that point at it.
 */
static void test_open_in_root(void **state)
{
	char host_secret[256], link[512], buf[64];
	struct tfs_target t;

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
	/* links that stay inside: fine */
	assert_int_equal(symlink("/srv/app.py", path_in("root/srv/ok.py")), 0);
	assert_int_equal(symlink("../srv/./app.py", path_in("root/srv/rel.py")), 0);
	assert_int_equal(symlink("srv", path_in("root/dir")), 0);
	assert_int_equal(symlink("loop2", path_in("root/loop1")), 0);
	assert_int_equal(symlink("loop1", path_in("root/loop2")), 0);
	assert_int_equal(mkfifo(path_in("root/srv/fifo.py"), 0600), 0);

	fake_target(&t, path_in("root"), NULL);
	assert_int_equal(open_read(&t, "/srv/app.py", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "print('target')\n");
	assert_int_equal(open_read(&t, "srv/app.py", buf, sizeof(buf)), 0); /* relative: from the root too */
	assert_int_equal(open_read(&t, "/srv/ok.py", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "print('target')\n");
	assert_int_equal(open_read(&t, "/srv/rel.py", buf, sizeof(buf)), 0);
	assert_int_equal(open_read(&t, "/dir/app.py", buf, sizeof(buf)), 0);
	assert_int_equal(open_read(&t, "/dir/../srv//app.py", buf, sizeof(buf)), 0);

	/* The host file exists, yet neither link reaches it. */
	assert_int_equal(access(host_secret, R_OK), 0);
	assert_int_equal(open_read(&t, "/srv/abs.py", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(open_read(&t, "/srv/up.py", buf, sizeof(buf)), -ENOENT);
	/* ".." stops at the root */
	assert_int_equal(open_read(&t, "/../../../../../../../srv/../../srv/app.py", buf,
				   sizeof(buf)), 0);
	assert_string_equal(buf, "print('target')\n");

	/* Not regular files: refused, and a FIFO does not block. */
	assert_int_equal(tfs_open_as(&t, "/srv/fifo.py"), -EINVAL);
	assert_int_equal(tfs_open_as(&t, "/srv"), -EINVAL);
	assert_int_equal(tfs_open_as(&t, "/srv/"), -EINVAL);
	assert_int_equal(tfs_open_as(&t, "/srv/app.py/"), -ENOTDIR);
	assert_int_equal(tfs_open_as(&t, "/srv/app.py/x"), -ENOTDIR);
	assert_int_equal(tfs_open_as(&t, "/loop1"), -ELOOP);
	assert_int_equal(tfs_open_as(&t, ""), -ENOENT);
	assert_int_equal(tfs_open_as(&t, "/"), -ENOENT);
	tfs_target_close(&t);
}

/*
 * /proc, /sys and /dev are never read, whatever the path (the target's
 * code objects can name /proc/self/environ: that would be OURS).
 */
static void test_pseudo_file_systems_refused(void **state)
{
	static const char *const refused[] = {
		"/proc/self/environ", "/proc/self/maps", "/proc/self/status", "/proc/self/exe",
		"/proc/self/root/etc/hostname", "/proc/version",
		"/sys/kernel/mm/transparent_hugepage/enabled", "/dev/zero", "/dev/null",
	};
	struct tfs_target t;
	size_t i;
	int fd, handle;

	(void)state;
	fake_target(&t, "/", NULL);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		fd = tfs_open_as(&t, refused[i]);
		if (fd >= 0)
			fail_msg("%s was opened", refused[i]);
		if (fd != -EXDEV)
			fail_msg("%s: %s", refused[i], strerror(-fd));
	}
	tfs_target_close(&t);

	/* The same through a real handle on this process. */
	handle = tfs_root_open(getpid());
	assert_true(handle >= 0);
	assert_int_equal(tfs_open(handle, "/proc/self/environ"), -EXDEV);
	assert_int_equal(tfs_open(handle, "/proc/self/maps"), -EXDEV);
	fd = tfs_open(handle, "/etc/hostname");
	assert_true(fd >= 0);
	close(fd);
	close(handle);
	assert_int_equal(tfs_root_open(0x3fffffff), -ESRCH);
}

/* ---- credentials ---- */

static void our_creds(uint32_t *fsuid, uint32_t *fsgid, uint64_t *eff, int *ngroups)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	*fsuid = (uint32_t)syscall(SYS_setfsuid, -1);
	*fsgid = (uint32_t)syscall(SYS_setfsgid, -1);
	assert_int_equal(syscall(SYS_capget, &h, d), 0);
	*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	*ngroups = (int)syscall(SYS_getgroups, 0, NULL);
}

static void need_root(void)
{
	if (geteuid() != 0)
		fail_msg("these tests switch credentials: run them as root");
}

static void test_parse_status(void **state)
{
	static const char status[] =
		"Name:\tpython3\nUmask:\t0022\nState:\tS (sleeping)\n"
		"Uid:\t1000\t1001\t1002\t1003\nGid:\t2000\t2001\t2002\t2003\nFDSize:\t64\n"
		"Groups:\t4 24 27 4294967294 \nNStgid:\t5\n"
		"CapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t0000000000000005\n";
	struct tcreds c;
	char bad[256];

	(void)state;
	assert_int_equal(tcreds_parse_status(status, strlen(status), &c), 0);
	assert_int_equal(c.fsuid, 1003); /* the fs ids are the ones files see */
	assert_int_equal(c.fsgid, 2003);
	assert_int_equal(c.ngroups, 4);
	assert_int_equal(c.groups[0], 4);
	assert_int_equal(c.groups[3], 4294967294u);
	assert_true(c.caps == 5);
	tcreds_free(&c);

	/* No groups at all. */
	snprintf(bad, sizeof(bad), "Uid:\t0 0 0 0\nGid:\t0 0 0 0\nGroups:\t\nCapEff:\t0\n");
	assert_int_equal(tcreds_parse_status(bad, strlen(bad), &c), 0);
	assert_int_equal(c.ngroups, 0);
	tcreds_free(&c);
	/* Missing or malformed: refused (never "uid 0"). */
	snprintf(bad, sizeof(bad), "Uid:\t0 0 0\nGid:\t0 0 0 0\nGroups:\t\nCapEff:\t0\n");
	assert_int_equal(tcreds_parse_status(bad, strlen(bad), &c), -EINVAL);
	snprintf(bad, sizeof(bad), "Uid:\t1 1 1 1\nGid:\t0 0 0 0\nCapEff:\t0\n");
	assert_int_equal(tcreds_parse_status(bad, strlen(bad), &c), -EINVAL);
	snprintf(bad, sizeof(bad), "Uid:\t1 1 1 99999999999\nGid:\t0 0 0 0\nGroups:\t\nCapEff:\t0\n");
	assert_int_equal(tcreds_parse_status(bad, strlen(bad), &c), -EINVAL);
	snprintf(bad, sizeof(bad), "Uid:\t1 1 1 1\nGid:\t0 0 0 0\nGroups:\t1 x\nCapEff:\t0\n");
	assert_int_equal(tcreds_parse_status(bad, strlen(bad), &c), -EINVAL);
	snprintf(bad, sizeof(bad), "Uid:\t1 1 1 1\nGid:\t0 0 0 0\nGroups:\t\nCapEff:\t00000000000000001\n");
	assert_int_equal(tcreds_parse_status(bad, strlen(bad), &c), -EINVAL);
	assert_int_equal(tcreds_parse_status("", 0, &c), -EINVAL);
}

/* Files as uid 65534 would see them: mode bits, groups, capabilities. */
static void test_open_as_other_user(void **state)
{
	gid_t staff = 4242;
	struct tcreds nobody = { .fsuid = 65534, .fsgid = 65534 };
	struct tcreds in_group = { .fsuid = 65534, .fsgid = 65534, .ngroups = 1, .groups = &staff };
	struct tcreds dac_read = { .fsuid = 65534, .fsgid = 65534,
				   .caps = 1ULL << CAP_DAC_READ_SEARCH };
	uint32_t uid0, gid0, uid1, gid1;
	uint64_t eff0, eff1;
	int ng0, ng1;
	struct tfs_target t;
	char buf[64];

	(void)state;
	need_root();
	assert_int_equal(chmod(base, 0755), 0);
	assert_int_equal(mkdir(path_in("root"), 0755), 0);
	assert_int_equal(mkdir(path_in("root/closed"), 0700), 0);
	put_file(path_in("root/public.py"), "public\n");
	put_file(path_in("root/shadow"), "root:SECRET:19000:0:99999:7:::\n");
	put_file(path_in("root/closed/inside.py"), "inside\n");
	put_file(path_in("root/group.py"), "group\n");
	assert_int_equal(chmod(path_in("root/shadow"), 0600), 0);
	assert_int_equal(chmod(path_in("root/group.py"), 0640), 0);
	assert_int_equal(chown(path_in("root/group.py"), 0, staff), 0);
	assert_int_equal(symlink("/shadow", path_in("root/link-to-shadow.py")), 0);
	/* An interpreter its users may run but not read (the kernel maps it
	 * for them all the same): not read for them either. */
	put_file(path_in("root/python3"), "\177ELF");
	assert_int_equal(chmod(path_in("root/python3"), 0711), 0);
	our_creds(&uid0, &gid0, &eff0, &ng0);

	fake_target(&t, path_in("root"), &nobody);
	assert_int_equal(open_read(&t, "/public.py", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "public\n");
	assert_int_equal(open_read(&t, "/shadow", buf, sizeof(buf)), -EACCES);
	assert_int_equal(open_read(&t, "/link-to-shadow.py", buf, sizeof(buf)), -EACCES);
	assert_int_equal(open_read(&t, "/closed/inside.py", buf, sizeof(buf)), -EACCES);
	assert_int_equal(open_read(&t, "/group.py", buf, sizeof(buf)), -EACCES);
	assert_int_equal(open_read(&t, "/python3", buf, sizeof(buf)), -EACCES);
	tfs_target_close(&t);

	fake_target(&t, path_in("root"), &in_group);
	assert_int_equal(open_read(&t, "/group.py", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "group\n");
	assert_int_equal(open_read(&t, "/shadow", buf, sizeof(buf)), -EACCES);
	tfs_target_close(&t);

	/* A target that holds CAP_DAC_READ_SEARCH could read it: so may we. */
	fake_target(&t, path_in("root"), &dac_read);
	assert_int_equal(open_read(&t, "/shadow", buf, sizeof(buf)), 0);
	assert_int_equal(open_read(&t, "/closed/inside.py", buf, sizeof(buf)), 0);
	tfs_target_close(&t);

	/* And the thread is itself again. */
	our_creds(&uid1, &gid1, &eff1, &ng1);
	assert_int_equal(uid1, uid0);
	assert_int_equal(gid1, gid0);
	assert_true(eff1 == eff0);
	assert_int_equal(ng1, ng0);
}

/* ---- the switch touches the calling thread only ---- */

struct switcher {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stage;
	pid_t tid;
};

static void wait_stage(struct switcher *s, int stage)
{
	pthread_mutex_lock(&s->lock);
	while (s->stage < stage)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

static void set_stage(struct switcher *s, int stage)
{
	pthread_mutex_lock(&s->lock);
	s->stage = stage;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void *switch_thread(void *arg)
{
	struct switcher *s = arg;
	gid_t g = 4242;
	struct tcreds as = { .fsuid = 65534, .fsgid = 65533, .ngroups = 1, .groups = &g };
	struct tcreds_saved saved;

	s->tid = (pid_t)syscall(SYS_gettid);
	if (tcreds_become(&as, &saved)) {
		set_stage(s, 4);
		return NULL;
	}
	set_stage(s, 1);
	wait_stage(s, 2);
	tcreds_restore(&saved);
	set_stage(s, 3);
	wait_stage(s, 4); /* still there to be looked at */
	return NULL;
}

/* A line of a thread's status, after its tag ("Uid:"). */
static void status_line(pid_t tid, const char *tag, char *out, size_t len)
{
	char path[64], *text, *p, *eol;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	text = uh_read_file(path);
	assert_non_null(text);
	p = strstr(text, tag);
	assert_non_null(p);
	p += strlen(tag);
	eol = strchr(p, '\n');
	snprintf(out, len, "%.*s", (int)(eol - p), p);
	free(text);
}

static void test_switch_is_per_thread(void **state)
{
	struct switcher s = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
	char uid_main[128], uid_other[128], gid_other[128], groups_other[128];
	char groups_main[128], uid_after[128];
	pid_t self = (pid_t)syscall(SYS_gettid);
	pthread_t th;

	(void)state;
	need_root();
	assert_int_equal(pthread_create(&th, NULL, switch_thread, &s), 0);
	wait_stage(&s, 1);
	assert_int_equal(s.stage, 1);
	status_line(self, "Uid:", uid_main, sizeof(uid_main));
	status_line(self, "Groups:", groups_main, sizeof(groups_main));
	status_line(s.tid, "Uid:", uid_other, sizeof(uid_other));
	status_line(s.tid, "Gid:", gid_other, sizeof(gid_other));
	status_line(s.tid, "Groups:", groups_other, sizeof(groups_other));
	set_stage(&s, 2);
	wait_stage(&s, 3);
	status_line(s.tid, "Uid:", uid_after, sizeof(uid_after));
	set_stage(&s, 4);
	pthread_join(th, NULL);
	/* real, effective, saved unchanged; fs ids switched in that thread only */
	assert_string_equal(uid_main, "\t0\t0\t0\t0");
	assert_string_equal(uid_other, "\t0\t0\t0\t65534");
	assert_string_equal(gid_other, "\t0\t0\t0\t65533");
	assert_string_equal(groups_other, "\t4242 ");
	assert_string_not_equal(groups_main, "\t4242 ");
	assert_string_equal(uid_after, "\t0\t0\t0\t0");
}

/*
 * Without CAP_SETUID / CAP_SETGID nothing is opened as another user, and
 * never with our own rights instead; as ourselves it still works.
 */
static void test_cannot_switch(void **state)
{
	struct tcreds nobody = { .fsuid = 65534, .fsgid = 65534 };
	pid_t child;
	int status;

	(void)state;
	need_root();
	put_file(path_in("public.py"), "public\n");
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
		struct __user_cap_data_struct d[2];
		struct tfs_target t;
		int fd;

		if (syscall(SYS_capget, &h, d))
			_exit(10);
		d[0].permitted &= ~((1u << CAP_SETUID) | (1u << CAP_SETGID));
		d[0].effective &= d[0].permitted;
		if (syscall(SYS_capset, &h, d))
			_exit(11);
		fake_target(&t, "/", &nobody);
		fd = tfs_open_as(&t, path_in("public.py"));
		tfs_target_close(&t);
		if (fd != -EPERM)
			_exit(12);
		fake_target(&t, "/", NULL);
		fd = tfs_open_as(&t, path_in("public.py"));
		tfs_target_close(&t);
		if (fd < 0)
			_exit(13);
		close(fd);
		_exit(0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
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

/* A process of uid 65534 (stopped until the returned pipe is closed). */
static pid_t start_nobody(int *release)
{
	int p[2];
	pid_t child;
	char c;

	assert_int_equal(pipe(p), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(p[1]);
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(1);
		(void)!read(p[0], &c, 1); /* until the parent closes its end */
		_exit(0);
	}
	close(p[0]);
	*release = p[1];
	return child;
}

static void stop_nobody(pid_t child, int release)
{
	int status;

	close(release);
	assert_int_equal(waitpid(child, &status, 0), child);
}

/*
 * A line is shown only to a reader the target's credentials allow, and a
 * line cached for one target is not served to another that may not read it.
 */
static void test_source_line_as_the_target(void **state)
{
	char buf[128], secret[256], public[256];
	int release, tries;
	pid_t nobody;

	(void)state;
	need_root();
	assert_int_equal(chmod(base, 0755), 0);
	snprintf(secret, sizeof(secret), "%s", path_in("secret.py"));
	snprintf(public, sizeof(public), "%s", path_in("public.py"));
	put_file(secret, "SECRET = 1\n");
	put_file(public, "PUBLIC = 1\n");
	assert_int_equal(chmod(secret, 0600), 0);
	assert_int_equal(chmod(public, 0644), 0);
	nobody = start_nobody(&release);
	/* wait for the child to have dropped its privileges */
	for (tries = 0; tries < 200; tries++) {
		char status[64];

		snprintf(status, sizeof(status), "/proc/%d/status", nobody);
		char *text = uh_read_file(status);
		bool dropped = text && strstr(text, "\nUid:\t65534\t65534\t65534\t65534\n");

		free(text);
		if (dropped)
			break;
		usleep(10000);
	}
	assert_true(tries < 200);

	assert_int_equal(py_source_line(getpid(), secret, 1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "SECRET = 1");
	assert_int_equal(py_source_line(nobody, secret, 1, buf, sizeof(buf)), -EACCES);
	assert_string_equal(buf, "");
	assert_int_equal(py_source_line(nobody, public, 1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "PUBLIC = 1");
	/* /proc/self/environ named by the target: never anyone's environment */
	assert_int_equal(py_source_line(nobody, "/proc/self/environ", 1, buf, sizeof(buf)), -EXDEV);
	assert_int_equal(py_source_line(getpid(), "/proc/self/environ", 1, buf, sizeof(buf)), -EXDEV);
	stop_nobody(nobody, release);
}

/*
 * Only the lines asked for are kept: four 16 MiB files of newlines and a
 * 16 MiB line cost a few MiB of memory at most, not their size; a long
 * line is cut to the buffer; a line past the first 16 MiB is -EFBIG.
 */
static void test_source_line_huge_files(void **state)
{
	struct rusage before, after;
	char buf[512], name[64];
	char *chunk = malloc(1 << 20);
	int i, k;

	(void)state;
	assert_non_null(chunk);
	memset(chunk, '\n', 1 << 20);
	for (i = 0; i < 4; i++) {
		FILE *f;

		snprintf(name, sizeof(name), "newlines%d.py", i);
		f = fopen(path_in(name), "w");
		assert_non_null(f);
		for (k = 0; k < 16; k++)
			assert_int_equal(fwrite(chunk, 1, 1 << 20, f), 1 << 20);
		fputs("last = 1\n", f);
		fclose(f);
	}
	memset(chunk, 'A', 1 << 20);
	{
		FILE *f = fopen(path_in("oneline.py"), "w");

		assert_non_null(f);
		for (k = 0; k < 16; k++)
			assert_int_equal(fwrite(chunk, 1, 1 << 20, f), 1 << 20);
		fclose(f);
	}
	free(chunk);

	getrusage(RUSAGE_SELF, &before);
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "newlines%d.py", i);
		assert_int_equal(py_source_line(getpid(), path_in(name), 1, buf, sizeof(buf)), 0);
		assert_string_equal(buf, "");
		assert_int_equal(py_source_line(getpid(), path_in(name), 1000000, buf, sizeof(buf)), 0);
	}
	/* the line after 16 MiB of newlines starts past what is read */
	assert_int_equal(py_source_line(getpid(), path_in("newlines0.py"), (16 << 20) + 1, buf,
					sizeof(buf)), -EFBIG);
	assert_int_equal(py_source_line(getpid(), path_in("oneline.py"), 1, buf, sizeof(buf)), 0);
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_int_equal(strspn(buf, "A"), sizeof(buf) - 1);
	assert_int_equal(py_source_line(getpid(), path_in("oneline.py"), 2, buf, sizeof(buf)),
			 -ERANGE);
	/*
	 * No more than 64 MiB are read a second for lines: past that, -EBUSY
	 * until the second is over. (A machine slower than that never gets
	 * there: then every answer is -EFBIG.)
	 */
	for (i = 0, k = 0; i < 8 && k != -EBUSY; i++) {
		snprintf(name, sizeof(name), "newlines%d.py", i % 4);
		k = py_source_line(getpid(), path_in(name), (16 << 20) + 2 + i, buf, sizeof(buf));
		assert_true(k == -EFBIG || k == -EBUSY);
	}
	if (k == -EBUSY) {
		usleep(1100 * 1000);
		assert_int_equal(py_source_line(getpid(), path_in(name), (16 << 20) + 2 + i - 1, buf,
						sizeof(buf)), -EFBIG);
	}
	getrusage(RUSAGE_SELF, &after);
	/* ru_maxrss is in KiB */
	if (after.ru_maxrss - before.ru_maxrss > 8 * 1024)
		fail_msg("peak RSS grew by %ld KiB", after.ru_maxrss - before.ru_maxrss);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_in_root, setup, teardown),
		cmocka_unit_test(test_pseudo_file_systems_refused),
		cmocka_unit_test(test_target_path),
		cmocka_unit_test(test_parse_status),
		cmocka_unit_test_setup_teardown(test_open_as_other_user, setup, teardown),
		cmocka_unit_test(test_switch_is_per_thread),
		cmocka_unit_test_setup_teardown(test_cannot_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_line_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_line_as_the_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_line_huge_files, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
