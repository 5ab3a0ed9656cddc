/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s/procscan.h - the processes of a proc file system and the container
 * each runs in (k8s/cgroup.h). The root is a parameter ("/proc" for real)
 * so that tests run on fixture trees (tests/unit/test_k8s_cgroup.c).
 */
#ifndef BLOCKSNOOP_K8S_PROCSCAN_H
#define BLOCKSNOOP_K8S_PROCSCAN_H

#include <sys/types.h>

#include "k8s/cgroup.h"

/* The container of process pid from <proc_root>/<pid>/cgroup: 0 and *ids,
 * -ENOENT (no container, or no such process), -EINVAL (conflicting lines)
 * or another -errno. */
int procscan_cgroup(const char *proc_root, pid_t pid, struct k8s_cgroup_ids *ids);

typedef void (*procscan_fn)(void *ctx, pid_t pid, const struct k8s_cgroup_ids *ids);

/*
 * Call fn for every process (numeric directory) of proc_root whose cgroup
 * names a container, in directory order. Processes that vanish meanwhile
 * are skipped. Returns the number of processes looked at, or -errno if
 * proc_root cannot be read.
 */
int procscan_containers(const char *proc_root, procscan_fn fn, void *ctx);

#endif
