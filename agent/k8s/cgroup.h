/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s/cgroup.h - which Kubernetes container a process runs in, from its
 * /proc/<pid>/cgroup. Pure: takes the file's text, does no I/O. Fuzzed
 * (tests/fuzz/fuzz_k8s_cgroup.c) and unit-tested on every known layout
 * (tests/unit/test_k8s_cgroup.c):
 *
 *   cgroup v1 and v2 (hybrid hosts have both: "11:memory:/..." and "0::/...")
 *   cgroupfs driver  /kubepods/burstable/pod<UID>/<ID>, /kubepods/pod<UID>/crio-<ID>
 *   systemd driver   /kubepods.slice/kubepods-burstable.slice/
 *                      kubepods-burstable-pod<UID_>.slice/cri-containerd-<ID>.scope
 *                    (also docker-<ID>.scope, crio-<ID>.scope)
 *   containerd without SystemdCgroup under systemd
 *                    /system.slice/containerd.service/kubepods-...-pod<UID_>.slice:cri-containerd:<ID>
 *   kind / docker-in-docker  /docker/<node ID>/kubepods/.../pod<UID>/<ID> (the last ID wins)
 *   private cgroup namespace /../../kubepods-...-pod<UID_>.slice/cri-containerd-<ID>.scope
 *   static pods      pod<32-hex config hash>
 *
 * <ID> is the 64-hex container ID as the kubelet reports it after
 * "containerd://", "cri-o://" or "docker://"; <UID_> is the pod UID with
 * systemd's '_' for '-'.
 */
#ifndef BLOCKSNOOP_K8S_CGROUP_H
#define BLOCKSNOOP_K8S_CGROUP_H

#include <stddef.h>

#define K8S_CONTAINER_ID_LEN 64
/* A pod UID: a 36-character UUID, or a static pod's 32-hex config hash. */
#define K8S_POD_UID_MAX 36

struct k8s_cgroup_ids {
	/* Lower-case 64-hex container ID, without runtime prefix. */
	char container_id[K8S_CONTAINER_ID_LEN + 1];
	/* Lower-case pod UID with '-' separators (or 32 hex); "" if the
	 * path does not name the pod (e.g. "/../crio-<ID>.scope"). */
	char pod_uid[K8S_POD_UID_MAX + 1];
};

/*
 * Find the container (and pod) of a /proc/<pid>/cgroup text of len bytes
 * (need not be NUL-terminated; NUL bytes are ordinary characters).
 *
 * Each line is "hierarchy:controllers:path"; the path is walked from its
 * end and the first segment holding a 64-hex run gives the container ID
 * (CRI-O's "crio-conmon-<ID>" scope is the runtime's monitor, not the
 * container, and is skipped); "pod<UID>" before it gives the pod. A line
 * that names the pod beats one that does not (kind nodes show only the
 * node container on some lines).
 *
 * Returns 0 and fills *out; -ENOENT if no line names a container (the host,
 * a system service, a non-Kubernetes process); -EINVAL if lines of equal
 * standing name different containers or pods (then nothing is trusted).
 * *out is zeroed on every error. Cannot fail otherwise.
 */
int k8s_cgroup_parse(const char *text, size_t len, struct k8s_cgroup_ids *out);

#endif
