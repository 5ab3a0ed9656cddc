// SPDX-License-Identifier: Apache-2.0
/*
 * sink_flame_pods.c - the Kubernetes agent's flame graphs, one pair of
 * files per pod in --flame-dir (sink.h).
 *
 * Pod names come from the kubelet, which takes them from whoever may
 * create pods: they never reach a path unchecked (sink_flame_pod_base()),
 * files are made and replaced relative to the directory's fd with nothing
 * followed (atomic_file.h), and the pods with files, and so the files and
 * the memory they take, are bounded (SINK_FLAME_MAX_PODS, pod_limits).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "flame/flame.h"
#include "flame/flame_output.h"
#include "log.h"
#include "sink.h"

#define SUFFIX_FOLDED ".folded"
#define SUFFIX_SPEEDSCOPE ".speedscope.json"

/* What one pod keeps: at most about 1 MiB, whatever its names. */
static const struct flame_limits pod_limits = { .max_stacks = 256, .max_frames = 1024 };

struct pod_flame {
	char *namespace, *pod;          /* as the kubelet said */
	char base[SINK_FLAME_BASE_LEN]; /* its files' name, without suffix */
	struct flame *flame;
	uint64_t last_used;             /* the sink's clock at its last block */
	bool dirty;
};

struct flame_pods_sink {
	struct sink base;
	int dirfd;
	char *dir;
	struct pod_flame pods[SINK_FLAME_MAX_PODS];
	unsigned npods;
	uint64_t clock;
	unsigned ticks;
	bool failing, full_said;
};

/* ---- names -------------------------------------------------------------------- */

static bool is_name_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.';
}

/* Copy part into out (at most max bytes and a NUL), bytes that are not
 * name bytes (and a leading '.') as '-'. True if nothing was changed. */
static bool safe_part(const char *part, char *out, size_t max)
{
	size_t i;
	bool same = part[0] != '\0';

	for (i = 0; part[i] && i < max; i++) {
		unsigned char c = (unsigned char)part[i];
		bool ok = is_name_byte(c) && !(i == 0 && c == '.');

		out[i] = ok ? (char)c : '-';
		same &= ok;
	}
	out[i] = '\0';
	return same && !part[i];
}

void sink_flame_pod_base(const char *namespace, const char *pod, char *out)
{
	char ns[64], name[101];
	uint64_t h = 0xcbf29ce484222325ULL;
	bool same;

	namespace = namespace ? namespace : "";
	pod = pod ? pod : "";
	same = safe_part(namespace, ns, sizeof(ns) - 1);
	same &= safe_part(pod, name, sizeof(name) - 1);
	if (same) {
		snprintf(out, SINK_FLAME_BASE_LEN, "%s_%s", ns, name);
		return;
	}
	/* FNV-1a of both names, the NUL between them included. */
	for (const char *p = namespace;; p++) {
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
		if (!*p)
			break;
	}
	for (const char *p = pod; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	snprintf(out, SINK_FLAME_BASE_LEN, "%s_%s_x%016llx", ns, name, (unsigned long long)h);
}

static void file_name(char *out, size_t len, const char *base, const char *suffix)
{
	snprintf(out, len, "%s%s", base, suffix);
}

/* ---- files -------------------------------------------------------------------- */

static void write_pod(struct flame_pods_sink *ps, struct pod_flame *p)
{
	char name[SINK_FLAME_BASE_LEN + 32], title[SINK_FLAME_BASE_LEN + 64];
	int err;

	snprintf(title, sizeof(title), "%s: pod %s", FLAME_TITLE, p->base);
	file_name(name, sizeof(name), p->base, SUFFIX_FOLDED);
	err = flame_write_at(ps->dirfd, name, FLAME_FOLDED, p->flame, title);
	if (!err) {
		file_name(name, sizeof(name), p->base, SUFFIX_SPEEDSCOPE);
		err = flame_write_at(ps->dirfd, name, FLAME_SPEEDSCOPE, p->flame, title);
	}
	if (err && !ps->failing)
		log_warn("cannot write flame graphs in %s: %s (trying again later)", ps->dir,
			 strerror(-err));
	else if (!err && ps->failing)
		log_info("flame graphs in %s written again", ps->dir);
	ps->failing = err != 0;
	p->dirty = err != 0;
}

static void remove_pod_files(struct flame_pods_sink *ps, const char *base)
{
	char name[SINK_FLAME_BASE_LEN + 32];

	file_name(name, sizeof(name), base, SUFFIX_FOLDED);
	unlinkat(ps->dirfd, name, 0);
	file_name(name, sizeof(name), base, SUFFIX_SPEEDSCOPE);
	unlinkat(ps->dirfd, name, 0);
}

static bool has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	return n > s && !strcmp(name + n - s, suffix);
}

/* The files of our kinds an earlier run left (and its temporaries):
 * regular files only, nothing followed. */
static void remove_old_files(struct flame_pods_sink *ps)
{
	int fd = openat(ps->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	struct stat st;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		if (!has_suffix(de->d_name, SUFFIX_FOLDED) && !has_suffix(de->d_name, SUFFIX_SPEEDSCOPE) &&
		    !(de->d_name[0] == '.' && has_suffix(de->d_name, ".tmp")))
			continue;
		if (!fstatat(ps->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) && S_ISREG(st.st_mode))
			unlinkat(ps->dirfd, de->d_name, 0);
	}
	closedir(d);
}

/* ---- pods --------------------------------------------------------------------- */

static void pod_free(struct pod_flame *p)
{
	free(p->namespace);
	free(p->pod);
	flame_free(p->flame);
	memset(p, 0, sizeof(*p));
}

/* The pod's collection: its own, a new one, or the place of the pod whose
 * last block is the oldest, whose files go. NULL when out of memory. */
static struct pod_flame *pod_for(struct flame_pods_sink *ps, const struct k8s_meta *k)
{
	const char *ns = k->namespace ? k->namespace : "", *pod = k->pod ? k->pod : "";
	struct pod_flame *p;
	unsigned i, oldest = 0;

	for (i = 0; i < ps->npods; i++)
		if (!strcmp(ps->pods[i].namespace, ns) && !strcmp(ps->pods[i].pod, pod))
			return &ps->pods[i];
	if (ps->npods < SINK_FLAME_MAX_PODS) {
		p = &ps->pods[ps->npods];
	} else {
		for (i = 1; i < ps->npods; i++)
			if (ps->pods[i].last_used < ps->pods[oldest].last_used)
				oldest = i;
		p = &ps->pods[oldest];
		if (!ps->full_said)
			log_warn("flame graphs of more than %d pods: the files of the pod whose last block is the oldest make room",
				 SINK_FLAME_MAX_PODS);
		ps->full_said = true;
		remove_pod_files(ps, p->base);
		pod_free(p);
		ps->npods--; /* its place is taken again below */
	}
	p->namespace = strdup(ns);
	p->pod = strdup(pod);
	p->flame = flame_new(&pod_limits);
	if (!p->namespace || !p->pod || !p->flame) {
		pod_free(p);
		/* A place taken in the middle: the last pod fills it. */
		if (p != &ps->pods[ps->npods]) {
			*p = ps->pods[ps->npods];
			memset(&ps->pods[ps->npods], 0, sizeof(*p));
		}
		return NULL;
	}
	sink_flame_pod_base(ns, pod, p->base);
	ps->npods++;
	return p;
}

static void fp_event(struct sink *s, const struct session_info *si,
		     const struct blocking_event *e, const cJSON *rec)
{
	struct flame_pods_sink *ps = (struct flame_pods_sink *)s;
	struct pod_flame *p;

	(void)si; (void)rec;
	if (!e->meta || !e->meta->k8s)
		return;
	p = pod_for(ps, e->meta->k8s);
	if (!p || flame_add_event(p->flame, e)) {
		log_warn("out of memory: block #%llu is missing from the flame graphs",
			 (unsigned long long)e->number);
		return;
	}
	p->last_used = ++ps->clock;
	p->dirty = true;
}

static void write_dirty(struct flame_pods_sink *ps)
{
	for (unsigned i = 0; i < ps->npods; i++)
		if (ps->pods[i].dirty)
			write_pod(ps, &ps->pods[i]);
	ps->ticks = 0;
}

static void fp_tick(struct sink *s)
{
	struct flame_pods_sink *ps = (struct flame_pods_sink *)s;

	if (++ps->ticks >= FLAME_REWRITE_S)
		write_dirty(ps);
}

static void fp_summary(struct sink *s, const struct session_info *si,
		       const struct session_summary *sum,
		       const struct stats_snapshot *snap, const cJSON *rec)
{
	(void)si; (void)sum; (void)snap; (void)rec;
	write_dirty((struct flame_pods_sink *)s);
}

static void fp_start(struct sink *s, const struct session_info *si, const cJSON *rec)
{
	(void)s; (void)si; (void)rec;
}

static void fp_still_blocked(struct sink *s, const struct session_info *si,
			     const struct still_blocked *b, const cJSON *rec)
{
	(void)s; (void)si; (void)b; (void)rec;
}

static void fp_stats(struct sink *s, const struct session_info *si,
		     const struct stats_snapshot *snap, const cJSON *rec)
{
	(void)s; (void)si; (void)snap; (void)rec;
}

static void fp_destroy(struct sink *s)
{
	struct flame_pods_sink *ps = (struct flame_pods_sink *)s;

	for (unsigned i = 0; i < ps->npods; i++)
		pod_free(&ps->pods[i]);
	if (ps->dirfd >= 0)
		close(ps->dirfd);
	free(ps->dir);
	free(ps);
}

static const struct sink_ops flame_pods_ops = {
	.session_start = fp_start,
	.event = fp_event,
	.still_blocked = fp_still_blocked,
	.stats = fp_stats,
	.summary = fp_summary,
	.tick = fp_tick,
	.destroy = fp_destroy,
};

struct sink *sink_flame_pods_new(const char *dir, char *err, size_t errlen)
{
	struct flame_pods_sink *ps = calloc(1, sizeof(*ps));

	if (!ps || !(ps->dir = strdup(dir))) {
		free(ps);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ps->base.ops = &flame_pods_ops;
	if (mkdir(dir, 0750) && errno != EEXIST) {
		snprintf(err, errlen, "cannot create the flame graph directory %s: %s", dir,
			 strerror(errno));
		ps->dirfd = -1;
		fp_destroy(&ps->base);
		return NULL;
	}
	ps->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ps->dirfd < 0) {
		snprintf(err, errlen, "cannot use the flame graph directory %s: %s", dir,
			 strerror(errno));
		fp_destroy(&ps->base);
		return NULL;
	}
	remove_old_files(ps);
	return &ps->base;
}
