// SPDX-License-Identifier: Apache-2.0
/*
 * test_flame.c - flame graphs (agent/flame/flame.h) and their sinks: a block
 * shared among its stacks by samples; the agent's per-pod files in a real
 * directory with pod names an attacker chose, links planted where the
 * files go, and more pods than files are kept for.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flame/flame.h"
#include "sink.h"
#include "stacks.h"

static struct frame frames_a[] = {
	{ .function = "leaf", .file = "/app/x.py", .line = 3 },
	{ .function = "<module>", .file = "/app/x.py", .line = 9 },
};
static struct frame frames_b[] = {
	{ .function = "se;mi\nco", .file = "/app/x.py", .line = 5 },
	{ .function = "<module>", .file = "/app/x.py", .line = 9 },
};

static struct blocking_event event(double ms, struct stack_set *set, const struct target_meta *meta)
{
	static uint64_t n;

	return (struct blocking_event){ .number = ++n, .duration_ms = ms, .pid = 7, .tid = 7,
					.process_name = "python3", .stacks = set, .meta = meta };
}

static void test_shares_by_samples(void **state)
{
	struct stack_count sc[2] = {
		{ .stack = { .depth = 2, .frames = frames_a }, .samples = 3 },
		{ .stack = { .depth = 2, .frames = frames_b }, .samples = 1 },
	};
	struct stack_set set = { .total_samples = 4, .nstacks = 2, .stacks = sc };
	struct flame_limits lim = { .max_stacks = 16, .max_frames = 64 };
	struct flame *f = flame_new(&lim);
	struct blocking_event e1 = event(100.0004, &set, NULL), e2 = event(20.5, NULL, NULL);
	size_t len;
	char *text;

	(void)state;
	assert_non_null(f);
	assert_int_equal(flame_add_event(f, &e1), 0);
	assert_int_equal(flame_add_event(f, &e2), 0);
	assert_int_equal(flame_total_us(f), 120500);
	text = flame_folded(f, &len);
	assert_non_null(text);
	assert_string_equal(text,
		"<module> (/app/x.py:9);leaf (/app/x.py:3) 75\n"
		"<module> (/app/x.py:9);se\\x3bmi\\x0aco (/app/x.py:5) 25\n"
		"[no Python stack] 21\n");
	free(text);
	flame_free(f);
}

static void test_pod_base_names(void **state)
{
	static const char *hostile[][2] = {
		{ "default", "web-1" }, { "..", ".." }, { "../../etc", "passwd" },
		{ "a", "b/../../c" }, { "", "" }, { ".", "x" }, { "a_b", "c" }, { "a", "b_c" },
		{ "ns", "p\n\x01\xff" },
	};
	char seen[sizeof(hostile) / sizeof(hostile[0])][SINK_FLAME_BASE_LEN], big[2000];

	(void)state;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		sink_flame_pod_base(hostile[i][0], hostile[i][1], seen[i]);
		assert_null(strchr(seen[i], '/'));
		assert_true(seen[i][0] != '.' && seen[i][0] != '\0');
		for (const char *p = seen[i]; *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
				    *p == '-' || *p == '.' || *p == '_');
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(seen[i], seen[j]);
	}
	assert_string_equal(seen[0], "default_web-1");
	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sink_flame_pod_base(big, big, seen[0]);
	assert_true(strlen(seen[0]) < SINK_FLAME_BASE_LEN);
}

/* Only regular files in dir, none of them outside. */
static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_pod_files_stay_inside(void **state)
{
	char root[] = "/tmp/test_flame.XXXXXX", dir[64], victim[96], link_at[512], base[SINK_FLAME_BASE_LEN];
	struct k8s_meta k8s = { .namespace = "../..", .pod = "../../../victim" };
	struct target_meta meta = { .k8s = &k8s };
	struct stack_count sc = { .stack = { .depth = 2, .frames = frames_a }, .samples = 1 };
	struct stack_set set = { .total_samples = 1, .nstacks = 1, .stacks = &sc };
	struct blocking_event e = event(50, &set, &meta);
	char err[256], buf[64];
	struct sink *s;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(dir, sizeof(dir), "%s/flames", root);
	snprintf(victim, sizeof(victim), "%s/victim", root);
	fd = open(victim, O_WRONLY | O_CREAT, 0600);
	assert_true(write(fd, "precious", 8) == 8);
	close(fd);
	assert_int_equal(mkdir(dir, 0700), 0);
	/* A link planted where the pod's file goes, and an old run's file. */
	sink_flame_pod_base(k8s.namespace, k8s.pod, base);
	snprintf(link_at, sizeof(link_at), "%s/%s.folded", dir, base);
	assert_int_equal(symlink(victim, link_at), 0);
	snprintf(link_at, sizeof(link_at), "%s/old_pod.folded", dir);
	fd = open(link_at, O_WRONLY | O_CREAT, 0600);
	close(fd);

	s = sink_flame_pods_new(dir, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(count_files(dir), 1); /* the old file is gone; the link is not ours */
	s->ops->event(s, NULL, &e, NULL);
	s->ops->summary(s, NULL, NULL, NULL, NULL);
	assert_int_equal(count_files(dir), 2);
	fd = open(victim, O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof(buf)), 8);
	close(fd);
	snprintf(link_at, sizeof(link_at), "%s/%s.folded", dir, base);
	{
		struct stat st;

		assert_int_equal(lstat(link_at, &st), 0);
		assert_true(S_ISREG(st.st_mode));
	}

	/* More pods than are kept: the directory stays bounded. */
	for (int i = 0; i < SINK_FLAME_MAX_PODS + 20; i++) {
		char pod[32];
		struct k8s_meta k = { .namespace = "ns", .pod = pod };
		struct target_meta m = { .k8s = &k };
		struct blocking_event ev = event(10, &set, &m);

		snprintf(pod, sizeof(pod), "pod-%d", i);
		s->ops->event(s, NULL, &ev, NULL);
		if (i % 10 == 0)
			s->ops->summary(s, NULL, NULL, NULL, NULL);
	}
	s->ops->summary(s, NULL, NULL, NULL, NULL);
	assert_true(count_files(dir) <= 2 * SINK_FLAME_MAX_PODS);
	s->ops->destroy(s);
	snprintf(buf, sizeof(buf), "rm -rf %s", root);
	assert_int_equal(system(buf), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shares_by_samples),
		cmocka_unit_test(test_pod_base_names),
		cmocka_unit_test(test_pod_files_stay_inside),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
