// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "target_creds.h"

/* A status file lists at most 65536 groups of at most 10 digits each. */
#define STATUS_MAX (1u << 20)

#define CAP_MASK(cap) (UINT64_C(1) << (cap))

/* ---- parsing /proc/<pid>/status (pure) ---- */

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* A decimal id (at most 2^32 - 1) at *pp; advances *pp past it. */
static bool parse_id(const char **pp, const char *end, uint32_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (p >= end || *p < '0' || *p > '9')
		return false;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*pp = p;
	*out = (uint32_t)v;
	return true;
}

static bool parse_hex64(const char *p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	int digits = 0;

	for (; p < end; p++, digits++) {
		int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		if (digits == 16)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	if (!digits || skip_blanks(p, end) != end)
		return false;
	*out = v;
	return true;
}

/* "Uid:\treal\teffective\tsaved\tfs": the fs id. */
static bool parse_fs_id(const char *p, const char *end, uint32_t *out)
{
	uint32_t id = 0;

	for (int i = 0; i < 4; i++) {
		p = skip_blanks(p, end);
		if (!parse_id(&p, end, &id))
			return false;
	}
	if (skip_blanks(p, end) != end)
		return false;
	*out = id;
	return true;
}

static int parse_groups(const char *p, const char *end, struct tcreds *c)
{
	const char *q;
	size_t n = 0;
	uint32_t id;

	for (q = skip_blanks(p, end); q < end; q = skip_blanks(q, end)) {
		if (!parse_id(&q, end, &id))
			return -EINVAL;
		if (++n > TCREDS_MAX_GROUPS)
			return -E2BIG;
	}
	c->groups = malloc((n ? n : 1) * sizeof(*c->groups));
	if (!c->groups)
		return -ENOMEM;
	for (q = skip_blanks(p, end); q < end; q = skip_blanks(q, end)) {
		parse_id(&q, end, &id);
		c->groups[c->ngroups++] = id;
	}
	return 0;
}

int tcreds_parse_status(const char *text, size_t len, struct tcreds *c)
{
	const char *p = text, *end = text + len;
	bool uid = false, gid = false, groups = false, caps = false;
	int err = 0;

	memset(c, 0, sizeof(*c));
	while (p < end && !err) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		uint32_t id;

		if (!eol)
			eol = end;
		if (eol - p >= 4 && memcmp(p, "Uid:", 4) == 0 && !uid) {
			uid = parse_fs_id(p + 4, eol, &id);
			c->fsuid = id;
			err = uid ? 0 : -EINVAL;
		} else if (eol - p >= 4 && memcmp(p, "Gid:", 4) == 0 && !gid) {
			gid = parse_fs_id(p + 4, eol, &id);
			c->fsgid = id;
			err = gid ? 0 : -EINVAL;
		} else if (eol - p >= 7 && memcmp(p, "Groups:", 7) == 0 && !groups) {
			err = parse_groups(p + 7, eol, c);
			groups = !err;
		} else if (eol - p >= 7 && memcmp(p, "CapEff:", 7) == 0 && !caps) {
			caps = parse_hex64(skip_blanks(p + 7, eol), eol, &c->caps);
			err = caps ? 0 : -EINVAL;
		}
		p = eol + 1;
	}
	if (!err && !(uid && gid && groups && caps))
		err = -EINVAL;
	if (err)
		tcreds_free(c);
	return err;
}

void tcreds_free(struct tcreds *c)
{
	free(c->groups);
	memset(c, 0, sizeof(*c));
}

/* ---- reading a process's credentials ---- */

static int read_status(int procfd, char **text, size_t *len)
{
	size_t used = 0, cap = 4096;
	char *buf = malloc(cap);
	int fd, err = 0;

	if (!buf)
		return -ENOMEM;
	fd = openat(procfd, "status", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno == ENOENT ? -ESRCH : -errno;
		free(buf);
		return err;
	}
	for (;;) {
		ssize_t n;

		if (used == cap) {
			char *bigger;

			if (cap >= STATUS_MAX) {
				err = -EFBIG;
				break;
			}
			bigger = realloc(buf, cap * 2);
			if (!bigger) {
				err = -ENOMEM;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno == ESRCH ? -ESRCH : -errno;
			break;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	*text = buf;
	*len = used;
	return 0;
}

static bool in_our_user_ns(int procfd)
{
	struct stat theirs, ours;

	return fstatat(procfd, "ns/user", &theirs, 0) == 0 &&
	       stat("/proc/self/ns/user", &ours) == 0 && theirs.st_dev == ours.st_dev &&
	       theirs.st_ino == ours.st_ino;
}

int tcreds_read(int procfd, struct tcreds *c)
{
	char *text = NULL;
	size_t len = 0;
	int err;

	memset(c, 0, sizeof(*c));
	err = read_status(procfd, &text, &len);
	if (err)
		return err;
	err = tcreds_parse_status(text, len, c);
	free(text);
	if (err)
		return err;
	/* Capabilities over another user namespace are not ours to grant. */
	if (!in_our_user_ns(procfd))
		c->caps = 0;
	return 0;
}

/* ---- switching the calling thread ---- */

/*
 * Raw system calls: each changes the calling thread only. (The fs-id
 * calls take 32-bit ids under these names on 64-bit architectures, the
 * only ones the reader supports.)
 */
static uint32_t fsuid_now(void)
{
	return (uint32_t)syscall(SYS_setfsuid, -1); /* invalid id: changes nothing */
}

static uint32_t fsgid_now(void)
{
	return (uint32_t)syscall(SYS_setfsgid, -1);
}

static bool set_fsuid(uid_t id)
{
	syscall(SYS_setfsuid, id);
	return fsuid_now() == id;
}

static bool set_fsgid(gid_t id)
{
	syscall(SYS_setfsgid, id);
	return fsgid_now() == id;
}

static bool set_groups(size_t n, const gid_t *groups)
{
	return syscall(SYS_setgroups, n, groups) == 0;
}

static int caps_get(uint64_t *eff, uint64_t *perm, uint64_t *inh)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	*perm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	*inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	return 0;
}

static bool caps_set(uint64_t eff, uint64_t perm, uint64_t inh)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {
		{ (uint32_t)eff, (uint32_t)perm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32) },
	};

	return syscall(SYS_capset, &h, d) == 0;
}

static bool same_groups(const struct tcreds *t, const struct tcreds_saved *s)
{
	return t->ngroups == s->ngroups &&
	       (!t->ngroups || memcmp(t->groups, s->groups, t->ngroups * sizeof(gid_t)) == 0);
}

static void saved_free(struct tcreds_saved *s)
{
	free(s->groups);
	memset(s, 0, sizeof(*s));
}

int tcreds_become(const struct tcreds *t, struct tcreds_saved *s)
{
	uint64_t need = 0;
	long n;
	int err;

	memset(s, 0, sizeof(*s));
	err = caps_get(&s->effective, &s->permitted, &s->inheritable);
	if (err)
		return err;
	s->fsuid = fsuid_now();
	s->fsgid = fsgid_now();
	n = syscall(SYS_getgroups, 0, NULL);
	if (n < 0)
		return -errno;
	s->groups = malloc((size_t)(n ? n : 1) * sizeof(gid_t));
	if (!s->groups)
		return -ENOMEM;
	n = syscall(SYS_getgroups, n, s->groups);
	if (n < 0) {
		err = -errno;
		saved_free(s);
		return err;
	}
	s->ngroups = (size_t)n;

	if (s->fsuid != t->fsuid)
		need |= CAP_MASK(CAP_SETUID);
	if (s->fsgid != t->fsgid || !same_groups(t, s))
		need |= CAP_MASK(CAP_SETGID);
	if (need) {
		/* CAP_SETGID for the way back too, even if only the uid differs. */
		need |= CAP_MASK(CAP_SETUID) | CAP_MASK(CAP_SETGID);
		if ((s->permitted & need) != need ||
		    !caps_set(s->effective | need, s->permitted, s->inheritable)) {
			saved_free(s);
			return -EPERM;
		}
		s->ids_changed = true;
		if (!set_groups(t->ngroups, t->groups) || !set_fsgid(t->fsgid) ||
		    !set_fsuid(t->fsuid)) {
			tcreds_restore(s);
			return -EPERM;
		}
	}
	/* Exactly the target's capabilities: none of ours beyond them. */
	if (!caps_set(t->caps & s->permitted, s->permitted, s->inheritable)) {
		if (s->ids_changed) {
			tcreds_restore(s);
		} else {
			/* capset changes all or nothing: the thread is as it was. */
			saved_free(s);
		}
		return -EPERM;
	}
	return 0;
}

static void restore_failed(const char *what)
{
	/* Going on as another user would be worse than stopping. */
	fprintf(stderr, "blocksnoop: fatal: cannot switch back from a target's credentials (%s): %s\n",
		what, strerror(errno));
	abort();
}

void tcreds_restore(struct tcreds_saved *s)
{
	if (s->ids_changed) {
		uint64_t setid = CAP_MASK(CAP_SETUID) | CAP_MASK(CAP_SETGID);

		if (!caps_set(s->effective | setid, s->permitted, s->inheritable))
			restore_failed("capset");
		if (!set_fsuid(s->fsuid))
			restore_failed("setfsuid");
		if (!set_fsgid(s->fsgid))
			restore_failed("setfsgid");
		if (!set_groups(s->ngroups, s->groups))
			restore_failed("setgroups");
	}
	if (!caps_set(s->effective, s->permitted, s->inheritable))
		restore_failed("capset");
	saved_free(s);
}
