// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "k8s/privs.h"

/* Capabilities are numbered 0..63 in masks (caps.h). */
#define CAPS_MAX 64

static int known_caps(void)
{
	int n = (int)cap_max_bits();

	return n > CAPS_MAX ? CAPS_MAX : n;
}

int privs_permitted(uint64_t *mask)
{
	cap_flag_value_t v;
	cap_t c = cap_get_proc();
	int n = known_caps();

	if (!c)
		return -errno;
	*mask = 0;
	for (int cap = 0; cap < n; cap++)
		if (!cap_get_flag(c, cap, CAP_PERMITTED, &v) && v == CAP_SET)
			*mask |= CAPS_BIT(cap);
	cap_free(c);
	return 0;
}

int privs_set_effective(uint64_t mask)
{
	cap_t c = cap_get_proc();
	int n = known_caps(), ret = 0;

	if (!c)
		return -errno;
	if (cap_clear_flag(c, CAP_EFFECTIVE))
		ret = -errno;
	for (int cap = 0; !ret && cap < n; cap++) {
		cap_value_t v = cap;

		if ((mask & CAPS_BIT(cap)) && cap_set_flag(c, CAP_EFFECTIVE, 1, &v, CAP_SET))
			ret = -errno;
	}
	if (!ret && cap_set_proc(c))
		ret = -errno;
	cap_free(c);
	return ret;
}

int privs_drop_to(uint64_t keep, bool *bounding_dropped)
{
	uint64_t permitted;
	cap_t c;
	int n = known_caps(), ret;

	*bounding_dropped = false;
	ret = privs_permitted(&permitted);
	if (ret)
		return ret;
	keep &= permitted;

	/* The bounding set first, while CAP_SETPCAP may still be effective. */
	if (CAP_IS_SUPPORTED(CAP_SETPCAP) && (permitted & CAPS_BIT(CAP_SETPCAP)) &&
	    !privs_set_effective(permitted)) {
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
		    (!(AGENT_CAPS_PERMITTED_ONLY & CAPS_BIT(cap)) &&
		     cap_set_flag(c, CAP_EFFECTIVE, 1, &v, CAP_SET))) {
			ret = -errno;
			cap_free(c);
			return ret;
		}
	}
	if (cap_set_proc(c)) {
		ret = -errno;
		cap_free(c);
		return ret;
	}
	cap_free(c);
	/* Ambient capabilities need the same bit in permitted: with it gone
	 * the kernel has already cleared them; this only makes sure. */
	cap_reset_ambient();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return 0;
}
