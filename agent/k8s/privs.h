/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s/privs.h - giving up the capabilities the agent needs only to set up.
 *
 * Set-up (detector_open, binding the metrics port) needs CAP_BPF and
 * CAP_PERFMON (or CAP_SYS_ADMIN), and CAP_SYS_ADMIN to mount tracefs.
 * Once running, the agent still reads the /proc files, memory and root of
 * processes it did not start and that have more capabilities than it keeps
 * (CAP_SYS_PTRACE) and files root cannot otherwise read (CAP_DAC_READ_SEARCH);
 * kernels before 6.5 also ask for CAP_BPF (or CAP_SYS_ADMIN) on every map
 * update, which privs_probe tells. Capabilities are per thread: call these
 * before any other thread exists (libcurl's resolver threads start later
 * and inherit the reduced set).
 */
#ifndef BLOCKSNOOP_K8S_PRIVS_H
#define BLOCKSNOOP_K8S_PRIVS_H

#include <stdbool.h>
#include <stdint.h>

#include "caps.h"

/*
 * Kept in the permitted set only, not the effective one: the CPython
 * reader raises them on its own thread for the moment it takes a target's
 * credentials to open a file as the target (cpython/target_creds.h), and
 * without them shows no source lines of targets of other users.
 */
#define AGENT_CAPS_PERMITTED_ONLY (CAPS_BIT(CAP_SETUID) | CAPS_BIT(CAP_SETGID))

/* What the agent always keeps. */
#define AGENT_CAPS_KEEP (CAPS_BIT(CAP_SYS_PTRACE) | CAPS_BIT(CAP_DAC_READ_SEARCH) | \
			 AGENT_CAPS_PERMITTED_ONLY)

/* The permitted set into *mask; 0 or -errno. */
int privs_permitted(uint64_t *mask);

/* Make the effective set exactly mask (which must be within the permitted
 * set); permitted is unchanged. 0 or -errno. */
int privs_set_effective(uint64_t mask);

/*
 * Keep only keep (intersected with what is permitted) in the permitted and
 * effective sets (those of AGENT_CAPS_PERMITTED_ONLY in the permitted set
 * only); empty the inheritable and ambient sets; remove every
 * other capability from the bounding set if CAP_SETPCAP allows
 * (*bounding_dropped says whether it did); set no_new_privs so that nothing
 * exec'd can regain any. Returns 0, or -errno (the permitted and effective
 * sets are then unchanged).
 */
int privs_drop_to(uint64_t keep, bool *bounding_dropped);

#endif
