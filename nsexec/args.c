// SPDX-License-Identifier: Apache-2.0
/*
 * args.c - the shim's argument form and the program's environment
 * (nsexec_internal.h). Pure functions: no I/O, no allocation. Strict on
 * purpose: the only writer is nsexec_format_args(), so anything it would
 * not write is junk.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "nsexec_internal.h"

/* Decimal digits only, no sign, no leading zero, value in [min, max]. */
static bool parse_dec(const char *s, long long min, long long max, long long *out)
{
	long long v = 0;

	if (!s || !*s || (s[0] == '0' && s[1]))
		return false;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		if (v > (LLONG_MAX - (*p - '0')) / 10)
			return false;
		v = v * 10 + (*p - '0');
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* "0x" then 1 to 16 lower-case hex digits. */
static bool parse_hex64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t n;

	if (!s || strncmp(s, "0x", 2))
		return false;
	s += 2;
	n = strlen(s);
	if (n < 1 || n > 16)
		return false;
	for (; *s; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

static bool abs_path(const char *s)
{
	return s && s[0] == '/' && strlen(s) < NSEXEC_PATH_MAX;
}

int nsexec_parse_args(int argc, char **argv, struct nsexec_args *a, char *err, size_t errlen)
{
	bool seen_target = false, seen_root = false, seen_caps = false, seen_parent = false;
	int i;

	*a = (struct nsexec_args){ .status_fd = -1 };
	if (argc < 1 || !argv || !argv[0] || strcmp(argv[0], "nsexec")) {
		snprintf(err, errlen, "not an nsexec command line");
		return -EINVAL;
	}
	for (i = 1; i < argc; i += 2) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		long long v;

		if (!opt) {
			snprintf(err, errlen, "argument %d is missing", i);
			return -EINVAL;
		}
		if (!strcmp(opt, "--"))
			break;
		if (!val) {
			snprintf(err, errlen, "%s needs a value", opt);
			return -EINVAL;
		}
		if (!strcmp(opt, "--status-fd")) {
			/* only as the very first option, see nsexec_internal.h */
			if (i != 1 || !parse_dec(val, 3, INT_MAX, &v))
				goto bad;
			a->status_fd = (int)v;
		} else if (!strcmp(opt, "--target")) {
			if (seen_target || !parse_dec(val, 1, INT_MAX, &v))
				goto bad;
			a->target = (pid_t)v;
			seen_target = true;
		} else if (!strcmp(opt, "--root")) {
			if (seen_root || !abs_path(val))
				goto bad;
			a->root = val;
			seen_root = true;
		} else if (!strcmp(opt, "--keep-caps")) {
			if (seen_caps || !parse_hex64(val, &a->keep_caps))
				goto bad;
			seen_caps = true;
		} else if (!strcmp(opt, "--parent")) {
			if (seen_parent || !parse_dec(val, 1, INT_MAX, &v))
				goto bad;
			a->parent = (pid_t)v;
			seen_parent = true;
		} else {
			snprintf(err, errlen, "unknown argument '%.64s'", opt);
			return -EINVAL;
		}
		continue;
bad:
		snprintf(err, errlen, "bad or repeated %s '%.64s'", opt, val);
		return -EINVAL;
	}
	if (!seen_target || !seen_root || !seen_caps) {
		snprintf(err, errlen, "--target, --root and --keep-caps are required");
		return -EINVAL;
	}
	if (i >= argc || !argv[i + 1]) {
		snprintf(err, errlen, "no program after '--'");
		return -EINVAL;
	}
	if (!abs_path(argv[i + 1])) {
		snprintf(err, errlen, "the program must be an absolute path: '%.64s'", argv[i + 1]);
		return -EINVAL;
	}
	if (argc - (i + 2) > NSEXEC_MAX_ARGS) {
		snprintf(err, errlen, "more than %d program arguments", NSEXEC_MAX_ARGS);
		return -EINVAL;
	}
	for (int j = i + 2; j < argc; j++) {
		if (!argv[j]) {
			snprintf(err, errlen, "argument %d is missing", j);
			return -EINVAL;
		}
	}
	if (argv[argc]) {
		snprintf(err, errlen, "argv is not NULL-terminated");
		return -EINVAL;
	}
	a->program = &argv[i + 1];
	return 0;
}

/* Append s to argv; false if full (one slot stays for the NULL). */
static bool push(char **argv, size_t max, size_t *n, char *s)
{
	if (*n + 1 >= max)
		return false;
	argv[(*n)++] = s;
	return true;
}

/* Format into nums at *used and push it. */
static bool push_fmt(char **argv, size_t max, size_t *n, char *nums, size_t numlen,
		     size_t *used, const char *fmt, uint64_t v)
{
	int len = snprintf(nums + *used, numlen - *used, fmt, v);

	if (len < 0 || (size_t)len >= numlen - *used)
		return false;
	if (!push(argv, max, n, nums + *used))
		return false;
	*used += (size_t)len + 1;
	return true;
}

int nsexec_format_args(const struct nsexec_request *req, pid_t parent, int status_fd,
		       char **argv, size_t max, char *nums, size_t numlen,
		       char *err, size_t errlen)
{
	size_t n = 0, used = 0, nargs = 0;
	bool ok = true;

	if (!req || req->target <= 0 || !abs_path(req->root) || !abs_path(req->program)) {
		snprintf(err, errlen, "bad request: need a target PID and absolute root and program paths");
		return -EINVAL;
	}
	for (char *const *p = req->args; p && *p; p++)
		nargs++;
	if (nargs > NSEXEC_MAX_ARGS) {
		snprintf(err, errlen, "more than %d program arguments", NSEXEC_MAX_ARGS);
		return -E2BIG;
	}
	ok = push(argv, max, &n, "blocksnoop") && push(argv, max, &n, "nsexec");
	if (ok && status_fd >= 0)
		ok = push(argv, max, &n, "--status-fd") &&
		     push_fmt(argv, max, &n, nums, numlen, &used, "%" PRIu64, (uint64_t)status_fd);
	ok = ok && push(argv, max, &n, "--target") &&
	     push_fmt(argv, max, &n, nums, numlen, &used, "%" PRIu64, (uint64_t)req->target) &&
	     push(argv, max, &n, "--root") && push(argv, max, &n, (char *)req->root) &&
	     push(argv, max, &n, "--keep-caps") &&
	     push_fmt(argv, max, &n, nums, numlen, &used, "0x%" PRIx64, req->keep_caps);
	if (ok && parent > 0)
		ok = push(argv, max, &n, "--parent") &&
		     push_fmt(argv, max, &n, nums, numlen, &used, "%" PRIu64, (uint64_t)parent);
	ok = ok && push(argv, max, &n, "--") && push(argv, max, &n, (char *)req->program);
	for (char *const *p = req->args; ok && p && *p; p++)
		ok = push(argv, max, &n, *p);
	if (!ok) {
		snprintf(err, errlen, "the shim's command line does not fit");
		return -E2BIG;
	}
	argv[n] = NULL;
	return (int)n;
}

int nsexec_check_env(char *const *env, char *err, size_t errlen)
{
	size_t n = 0;

	for (; env && env[n]; n++) {
		const char *e = env[n], *eq = strchr(e, '=');
		size_t len = strnlen(e, NSEXEC_ENV_MAX);

		if (n >= NSEXEC_MAX_ENV) {
			snprintf(err, errlen, "more than %d environment entries", NSEXEC_MAX_ENV);
			return -EINVAL;
		}
		if (len >= NSEXEC_ENV_MAX || !eq || eq == e || (*e >= '0' && *e <= '9')) {
			snprintf(err, errlen, "bad environment entry '%.32s'", e);
			return -EINVAL;
		}
		for (const char *p = e; p < eq; p++) {
			if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			      (*p >= '0' && *p <= '9') || *p == '_')) {
				snprintf(err, errlen, "bad environment entry '%.32s'", e);
				return -EINVAL;
			}
		}
		if (!strncmp(e, "LD_", 3) || !strncmp(e, "GLIBC_TUNABLES=", 15)) {
			snprintf(err, errlen, "environment entry '%.*s' would configure the loader",
				 (int)(eq - e), e);
			return -EINVAL;
		}
	}
	return 0;
}
