// SPDX-License-Identifier: Apache-2.0
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "caps.h"

/* Capabilities are numbered 0..63 here; see CAPS_BIT. */
#define CAPS_MAX 64

/* The capabilities the running kernel knows, at most CAPS_MAX. */
static int known_caps(void)
{
	int n = (int)cap_max_bits();

	return n > CAPS_MAX ? CAPS_MAX : n;
}

/* One of this thread's sets (CAP_EFFECTIVE, CAP_PERMITTED) into *mask. */
static int read_set(cap_flag_t which, uint64_t *mask)
{
	cap_flag_value_t v;
	cap_t caps = cap_get_proc();
	int n = known_caps();

	if (!caps)
		return -errno;
	*mask = 0;
	for (int cap = 0; cap < n; cap++)
		if (!cap_get_flag(caps, cap, which, &v) && v == CAP_SET)
			*mask |= CAPS_BIT(cap);
	cap_free(caps);
	return 0;
}

int caps_effective(uint64_t *mask)
{
	return read_set(CAP_EFFECTIVE, mask);
}

int caps_permitted(uint64_t *mask)
{
	return read_set(CAP_PERMITTED, mask);
}

int caps_set_effective(uint64_t mask)
{
	cap_t c = cap_get_proc();
	int n = known_caps(), err = 0;

	if (!c)
		return -errno;
	if (cap_clear_flag(c, CAP_EFFECTIVE))
		err = -errno;
	for (int cap = 0; !err && cap < n; cap++) {
		cap_value_t v = cap;

		if ((mask & CAPS_BIT(cap)) && cap_set_flag(c, CAP_EFFECTIVE, 1, &v, CAP_SET))
			err = -errno;
	}
	if (!err && cap_set_proc(c))
		err = -errno;
	cap_free(c);
	return err;
}

int caps_drop_to(uint64_t keep, bool *bounding_dropped)
{
	uint64_t permitted;
	cap_t c = NULL;
	int n = known_caps(), err;

	*bounding_dropped = false;
	err = caps_permitted(&permitted);
	if (err)
		return err;
	keep &= permitted;

	/* The bounding set first, while CAP_SETPCAP may still be effective. */
	if (CAP_IS_SUPPORTED(CAP_SETPCAP) && (permitted & CAPS_BIT(CAP_SETPCAP)) &&
	    !caps_set_effective(permitted)) {
		*bounding_dropped = true;
		for (int cap = 0; cap < n; cap++)
			if (!(keep & CAPS_BIT(cap)) && CAP_IS_SUPPORTED(cap) &&
			    cap_drop_bound(cap) && errno != EINVAL)
				*bounding_dropped = false;
	}

	c = cap_init(); /* all clear */
	if (!c)
		return -errno;
	for (int cap = 0; cap < n; cap++) {
		cap_value_t v = cap;

		if (!(keep & CAPS_BIT(cap)))
			continue;
		if (cap_set_flag(c, CAP_PERMITTED, 1, &v, CAP_SET) ||
		    (!(CAPS_PERMITTED_ONLY & CAPS_BIT(cap)) &&
		     cap_set_flag(c, CAP_EFFECTIVE, 1, &v, CAP_SET))) {
			err = -errno;
			goto out;
		}
	}
	if (cap_set_proc(c)) {
		err = -errno;
		goto out;
	}
	/* Ambient capabilities need the same bit in permitted: with it gone
	 * the kernel has already cleared them; this only makes sure. */
	cap_reset_ambient();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		err = -errno;
out:
	cap_free(c);
	return err;
}

bool caps_kernel_has(int cap)
{
	/* PR_CAPBSET_READ fails with EINVAL for numbers the kernel does not
	 * know, whatever the bounding set holds. */
	return CAP_IS_SUPPORTED(cap);
}

uint64_t caps_trace_missing(uint64_t effective, bool kernel_has_cap_bpf)
{
	const uint64_t need = CAPS_BIT(CAP_BPF) | CAPS_BIT(CAP_PERFMON);

	if (effective & CAPS_BIT(CAP_SYS_ADMIN))
		return 0;
	if (!kernel_has_cap_bpf)
		return CAPS_BIT(CAP_SYS_ADMIN);
	return need & ~effective;
}

bool caps_can_trace(char *missing, size_t len)
{
	uint64_t effective, lack;

	if (len)
		missing[0] = '\0';
	if (caps_effective(&effective) != 0)
		return true;
	lack = caps_trace_missing(effective, caps_kernel_has(CAP_BPF));
	caps_format_names(lack, missing, len);
	return lack == 0;
}

uint64_t caps_run_keep(const struct caps_run_needs *needs)
{
	uint64_t keep = 0;

	if (needs->read_stacks)
		keep |= CAPS_READ_STACKS;
	if (needs->austin)
		keep |= CAPS_AUSTIN;
	if (needs->find_processes)
		keep |= CAPS_FIND_PROCESSES;
	if (needs->launch)
		keep |= CAPS_BIT(CAP_KILL);
	if (needs->log_reopen_dac)
		keep |= CAPS_BIT(CAP_DAC_OVERRIDE);
	if (needs->map_access)
		keep |= needs->kernel_has_cap_bpf ? CAPS_BIT(CAP_BPF) : CAPS_BIT(CAP_SYS_ADMIN);
	return keep;
}

/* snprintf that appends and keeps counting past the end of buf, so that a
 * caller learns the length the whole text needs. */
struct text {
	char *buf;
	size_t len;
	size_t used;
};

static void append(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void append(struct text *t, const char *fmt, ...)
{
	size_t room = t->used < t->len ? t->len - t->used : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? t->buf + t->used : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->used += (size_t)n;
}

enum name_style {
	NAME_UPPER,  /* CAP_BPF, as capabilities(7) and our messages say */
	NAME_LOWER,  /* cap_bpf, as setcap and capsh want */
	NAME_BARE,   /* BPF, as Docker and Kubernetes want */
};

/* One capability's name in style. libcap names the ones it knows and
 * prints the number of any other. */
static void append_name(struct text *t, int cap, enum name_style style)
{
	char name[64], *p;
	char *lib = cap_to_name(cap);

	if (lib) {
		snprintf(name, sizeof(name), "%s", lib);
		cap_free(lib);
	} else {
		snprintf(name, sizeof(name), "%d", cap);
	}
	p = name;
	if (style == NAME_BARE && strncmp(p, "cap_", 4) == 0)
		p += 4;
	if (style != NAME_LOWER)
		for (char *c = p; *c; c++)
			*c = (char)toupper((unsigned char)*c);
	append(t, "%s", p);
}

/* The order names are listed in: the ones blocksnoop needs, most
 * important first, then any other by number. */
static const int listed_first[] = {
	CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_SYS_ADMIN,
	CAP_SYS_RESOURCE,
};
#define N_LISTED_FIRST (sizeof(listed_first) / sizeof(listed_first[0]))

/* Every name in mask, each between pre and post, separated by sep. */
static void append_names(struct text *t, uint64_t mask, enum name_style style,
			 const char *pre, const char *post, const char *sep)
{
	bool first = true;

	for (size_t i = 0; i < N_LISTED_FIRST + CAPS_MAX; i++) {
		int cap = i < N_LISTED_FIRST ? listed_first[i] : (int)(i - N_LISTED_FIRST);

		if (!(mask & CAPS_BIT(cap)))
			continue;
		mask &= ~CAPS_BIT(cap);
		append(t, "%s%s", first ? "" : sep, pre);
		append_name(t, cap, style);
		append(t, "%s", post);
		first = false;
	}
}

static size_t finish(struct text *t)
{
	if (t->len)
		t->buf[t->used < t->len ? t->used : t->len - 1] = '\0';
	return t->used;
}

size_t caps_format_names(uint64_t mask, char *buf, size_t len)
{
	struct text t = { buf, len, 0 };

	append_names(&t, mask, NAME_UPPER, "", "", ", ");
	return finish(&t);
}

size_t caps_format_grant(uint64_t missing, uint64_t keep, bool root,
			 const char *exe, char *buf, size_t len)
{
	struct text t = { buf, len, 0 };
	const char *them = (missing & (missing - 1)) == 0 ? "it" : "them";
	uint64_t listed = missing;

	if (root) {
		/* uid 0 without them: a container runtime, a pod spec or capsh
		 * took them away, and only whoever starts us can give them
		 * back; sudo would not help. Both --cap-add and
		 * capabilities.add add to what the runtime grants anyway. */
		append(&t, "grant %s (root, but a container runtime or capsh dropped %s): docker/podman run ",
		       them, them);
		append_names(&t, missing, NAME_BARE, "--cap-add ", "", " ");
		append(&t, ", or ");
	} else {
		/* setcap replaces the file's whole set: list what is kept. */
		listed |= keep;
		append(&t, "run as root (sudo), or grant %s: sudo setcap ", them);
		append_names(&t, listed, NAME_LOWER, "", "", ",");
		append(&t, "+ep %s%s, or ", exe && *exe ? exe : "blocksnoop",
		       listed != missing ? " (setcap replaces the file's set)" : "");
	}
	/* Kubernetes has no ambient capabilities: added ones reach the
	 * effective set only for uid 0 (kubernetes#56374). */
	append(&t, "in a pod's securityContext (runAsUser: 0) capabilities.add: [");
	append_names(&t, listed, NAME_BARE, "\"", "\"", ", ");
	append(&t, "]");
	return finish(&t);
}
