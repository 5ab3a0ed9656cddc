// SPDX-License-Identifier: Apache-2.0
/*
 * test_k8s_cgroup.c - agent/k8s/cgroup.h on /proc/<pid>/cgroup texts of
 * every layout a kubelet makes (cgroup v1, v2 and hybrid; cgroupfs and
 * systemd drivers; containerd, CRI-O and docker IDs; private cgroup
 * namespaces; kind nodes; static pods), and agent/k8s/procscan.h on a
 * fixture proc tree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "k8s/cgroup.h"
#include "k8s/procscan.h"
#include "unit_helpers.h"

#define ID "1ec23be717c039a8fedd423967f1680f7c6737c2e9ec7eb92f81c8c4a6b2e71c"
#define ID2 "0f323fd3d4fe57f7f99e10cec94658680a2bd0c63c9ab0556f3f38a742cff9b9"
#define NODE_ID "cbea7b81bb226cd8e9ecbdbd36a65e579bb4bdcf3833eb1f6752a5ad34d1e571"
#define UID "bb1a5f38-b1a9-47c2-8c69-cd16f1d4c0cb"
#define UID_ "bb1a5f38_b1a9_47c2_8c69_cd16f1d4c0cb"
#define STATIC_UID "37c43b496293ade13daedf3eee6ea190"

/* The v1 lines of a hybrid host for a cgroupfs path P. */
#define V1_LINES(P)                                                          \
	"12:pids:" P "\n"                                                    \
	"11:memory:" P "\n"                                                  \
	"10:cpu,cpuacct:" P "\n"                                             \
	"9:devices:" P "\n"                                                  \
	"1:name=systemd:" P "\n"

static void expect(const char *text, const char *id, const char *uid)
{
	struct k8s_cgroup_ids ids;

	assert_int_equal(k8s_cgroup_parse(text, strlen(text), &ids), 0);
	assert_string_equal(ids.container_id, id);
	assert_string_equal(ids.pod_uid, uid);
}

static void expect_error(const char *text, int err)
{
	struct k8s_cgroup_ids ids;

	memset(&ids, 0x5a, sizeof(ids));
	assert_int_equal(k8s_cgroup_parse(text, strlen(text), &ids), err);
	assert_string_equal(ids.container_id, "");
	assert_string_equal(ids.pod_uid, "");
}

/* ---- containerd ---------------------------------------------------------- */

static void test_v2_systemd_containerd(void **state)
{
	(void)state;
	expect("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	       ".slice/cri-containerd-" ID ".scope\n", ID, UID);
}

static void test_v2_systemd_containerd_besteffort_and_guaranteed(void **state)
{
	(void)state;
	expect("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	       ".slice/cri-containerd-" ID ".scope\n", ID, UID);
	/* Guaranteed pods sit right under kubepods.slice. */
	expect("0::/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope\n",
	       ID, UID);
}

static void test_hybrid_this_test_host(void **state)
{
	/* What the end-to-end tests make: v1 controllers elsewhere (one with
	 * a 32-hex name that is no pod), the pod in the v2 hierarchy. */
	(void)state;
	expect("9:name=systemd:/\n"
	       "8:pids:/\n"
	       "4:memory:/process_api/495ef2e9694216bb22ff2aa0cf1a4992\n"
	       "1:cpu:/\n"
	       "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	       ".slice/cri-containerd-" ID ".scope\n", ID, UID);
}

static void test_v1_cgroupfs_containerd(void **state)
{
	(void)state;
	expect(V1_LINES("/kubepods/burstable/pod" UID "/" ID), ID, UID);
	/* Guaranteed: no QoS level. */
	expect(V1_LINES("/kubepods/pod" UID "/" ID), ID, UID);
}

static void test_v1_systemd_hybrid_with_v2_line(void **state)
{
	(void)state;
	expect(V1_LINES("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
			".slice/cri-containerd-" ID ".scope")
	       "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	       ".slice/cri-containerd-" ID ".scope\n", ID, UID);
}

static void test_containerd_without_systemd_cgroup(void **state)
{
	/* containerd under systemd, SystemdCgroup = false: colons in the path. */
	(void)state;
	expect("0::/system.slice/containerd.service/kubepods-besteffort-pod" UID_
	       ".slice:cri-containerd:" ID "\n", ID, UID);
	expect(V1_LINES("/system.slice/containerd.service/kubepods-burstable-pod" UID_
			".slice:cri-containerd:" ID), ID, UID);
}

static void test_nerdctl_k8s_io_namespace(void **state)
{
	(void)state;
	expect("0::/k8s.io/" ID "\n", ID, "");
}

/* ---- CRI-O ---------------------------------------------------------------- */

static void test_crio_cgroupfs(void **state)
{
	(void)state;
	expect(V1_LINES("/kubepods/burstable/pod" UID "/crio-" ID), ID, UID);
}

static void test_crio_systemd(void **state)
{
	(void)state;
	expect("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	       ".slice/crio-" ID ".scope\n", ID, UID);
}

static void test_crio_conmon_is_not_the_container(void **state)
{
	(void)state;
	expect_error("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		     ".slice/crio-conmon-" ID ".scope\n", -ENOENT);
}

/* ---- docker ----------------------------------------------------------------- */

static void test_docker_systemd(void **state)
{
	(void)state;
	expect(V1_LINES("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
			".slice/docker-" ID ".scope"), ID, UID);
}

static void test_docker_cgroupfs(void **state)
{
	(void)state;
	expect(V1_LINES("/kubepods/besteffort/pod" UID "/" ID), ID, UID);
}

static void test_plain_docker_container_has_no_pod(void **state)
{
	(void)state;
	expect(V1_LINES("/docker/" ID) "0::/system.slice/docker-" ID ".scope\n", ID, "");
}

/* ---- kind, private namespaces, static pods ------------------------------------ */

static void test_kind_v1_two_ids_last_wins(void **state)
{
	(void)state;
	expect(V1_LINES("/docker/" NODE_ID "/kubepods/besteffort/pod" UID "/" ID), ID, UID);
}

static void test_kind_v2_systemd(void **state)
{
	(void)state;
	expect("0::/docker/" NODE_ID "/kubelet.slice/kubelet-kubepods.slice/"
	       "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" UID_
	       ".slice/cri-containerd-" ID ".scope\n", ID, UID);
}

static void test_kind_line_with_pod_beats_node_only_line(void **state)
{
	/* The v2 line shows only the node container; the v1 lines name the
	 * pod: those win, and the differing ID is no conflict. */
	(void)state;
	expect(V1_LINES("/kubepods/besteffort/pod" UID "/" ID) "0::/docker/" NODE_ID "\n", ID, UID);
}

static void test_process_in_pod_slice_outside_containers(void **state)
{
	/* Below the pod, in no container: the kind node's ID further up is not
	 * its container. */
	(void)state;
	expect_error("0::/docker/" NODE_ID "/kubelet.slice/kubelet-kubepods.slice/"
		     "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" UID_
		     ".slice\n", -ENOENT);
}

static void test_private_cgroup_namespace_relative_paths(void **state)
{
	(void)state;
	expect("0::/../../kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" ID ".scope\n",
	       ID, UID);
	/* Same pod, seen from a sibling container: no pod in the path. */
	expect("0::/../crio-" ID ".scope\n", ID, "");
	/* Its own cgroup: nothing to learn. */
	expect_error("0::/\n", -ENOENT);
}

static void test_static_pod_hash_uid(void **state)
{
	(void)state;
	expect("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" STATIC_UID
	       ".slice/cri-containerd-" ID ".scope\n", ID, STATIC_UID);
	expect(V1_LINES("/kubepods/burstable/pod" STATIC_UID "/" ID), ID, STATIC_UID);
}

static void test_upper_case_is_normalised(void **state)
{
	(void)state;
	expect("0::/kubepods/podBB1A5F38-B1A9-47C2-8C69-CD16F1D4C0CB/"
	       "1EC23BE717C039A8FEDD423967F1680F7C6737C2E9EC7EB92F81C8C4A6B2E71C\n", ID, UID);
}

/* ---- no container, conflicts, junk ---------------------------------------------- */

static void test_host_processes(void **state)
{
	(void)state;
	expect_error("0::/init.scope\n", -ENOENT);
	expect_error(V1_LINES("/user.slice/user-1000.slice/session-2.scope")
		     "0::/user.slice/user-1000.slice/session-2.scope\n", -ENOENT);
	expect_error("0::/system.slice/containerd.service\n", -ENOENT);
	expect_error("", -ENOENT);
}

static void test_ids_of_other_lengths_are_not_containers(void **state)
{
	(void)state;
	/* 63 and 65 hex digits. */
	expect_error("0::/kubepods/pod" UID "/" "1ec23be717c039a8fedd423967f1680f7c6737c2e9ec7eb92f81c8c4a6b2e71\n",
		     -ENOENT);
	expect_error("0::/kubepods/pod" UID "/" ID "a\n", -ENOENT);
}

static void test_kubepods_is_not_a_pod_uid(void **state)
{
	(void)state;
	expect("0::/kubepods/besteffort/" ID "\n", ID, "");
	/* "ipod<UID>" does not start a pod segment. */
	expect("0::/kubepods/ipod" UID "/" ID "\n", ID, "");
}

static void test_conflicting_lines(void **state)
{
	(void)state;
	expect_error("11:memory:/kubepods/pod" UID "/" ID "\n"
		     "0::/kubepods/pod" UID "/" ID2 "\n", -EINVAL);
	/* Without pods, two containers are a conflict too. */
	expect_error("11:memory:/docker/" ID "\n0::/docker/" ID2 "\n", -EINVAL);
}

static void test_malformed_lines(void **state)
{
	(void)state;
	/* No colons, one colon, no trailing newline, CRLF, NUL bytes. */
	expect_error("garbage\n" ID "\n", -ENOENT);
	expect_error("0:" ID "\n", -ENOENT);
	expect("0::/kubepods/pod" UID "/" ID, ID, UID);
	{
		static const char text[] = "0::/a\0b\n0::/kubepods/pod" UID "/" ID "\r\n";
		struct k8s_cgroup_ids ids;

		assert_int_equal(k8s_cgroup_parse(text, sizeof(text) - 1, &ids), 0);
		assert_string_equal(ids.container_id, ID);
	}
}

static void test_length_is_respected(void **state)
{
	static const char text[] = "0::/kubepods/pod" UID "/" ID "\n";
	struct k8s_cgroup_ids ids;

	(void)state;
	/* Cut inside the ID: not a container. */
	assert_int_equal(k8s_cgroup_parse(text, strlen(text) - 10, &ids), -ENOENT);
	assert_int_equal(k8s_cgroup_parse(text, 0, &ids), -ENOENT);
}

/* ---- procscan on a fixture tree ------------------------------------------------ */

static void write_proc(const char *root, const char *pid, const char *cgroup)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, pid);
	assert_int_equal(mkdir(path, 0755), 0);
	if (!cgroup)
		return;
	snprintf(path, sizeof(path), "%s/%s/cgroup", root, pid);
	assert_int_equal(uh_write_file(path, cgroup), 0);
}

struct seen {
	int n;
	pid_t pids[8];
	struct k8s_cgroup_ids ids[8];
};

static void collect(void *ctx, pid_t pid, const struct k8s_cgroup_ids *ids)
{
	struct seen *s = ctx;

	assert_true(s->n < 8);
	s->pids[s->n] = pid;
	s->ids[s->n++] = *ids;
}

static void test_procscan_tree(void **state)
{
	char root[128];
	struct seen seen = { 0 };
	struct k8s_cgroup_ids ids;

	(void)state;
	assert_int_equal(uh_mkdtemp(root, sizeof(root)), 0);
	write_proc(root, "1", "0::/init.scope\n");
	write_proc(root, "42", "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		   ".slice/cri-containerd-" ID ".scope\n");
	write_proc(root, "43", "0::/kubepods/pod" UID "/" ID2 "\n");
	write_proc(root, "self", "0::/kubepods/pod" UID "/" ID2 "\n"); /* not a PID */
	write_proc(root, "44", NULL); /* vanished: no cgroup file */
	write_proc(root, "0x5", "0::/kubepods/pod" UID "/" ID2 "\n");

	assert_int_equal(procscan_containers(root, collect, &seen), 4);
	assert_int_equal(seen.n, 2);
	for (int i = 0; i < 2; i++) {
		assert_string_equal(seen.ids[i].pod_uid, UID);
		if (seen.pids[i] == 42)
			assert_string_equal(seen.ids[i].container_id, ID);
		else
			assert_int_equal(seen.pids[i], 43);
	}
	assert_int_equal(procscan_cgroup(root, 42, &ids), 0);
	assert_string_equal(ids.container_id, ID);
	assert_int_equal(procscan_cgroup(root, 1, &ids), -ENOENT);
	assert_int_equal(procscan_cgroup(root, 44, &ids), -ENOENT);
	assert_int_equal(procscan_cgroup(root, 99, &ids), -ENOENT);
	uh_rmtree(root);
	assert_true(procscan_containers("/nonexistent-blocksnoop", collect, &seen) < 0);
}

static void test_procscan_real_proc(void **state)
{
	struct seen seen = { 0 };

	(void)state;
	/* Runs anywhere: counts the processes, whatever containers they are in. */
	assert_true(procscan_containers("/proc", collect, &seen) >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v2_systemd_containerd),
		cmocka_unit_test(test_v2_systemd_containerd_besteffort_and_guaranteed),
		cmocka_unit_test(test_hybrid_this_test_host),
		cmocka_unit_test(test_v1_cgroupfs_containerd),
		cmocka_unit_test(test_v1_systemd_hybrid_with_v2_line),
		cmocka_unit_test(test_containerd_without_systemd_cgroup),
		cmocka_unit_test(test_nerdctl_k8s_io_namespace),
		cmocka_unit_test(test_crio_cgroupfs),
		cmocka_unit_test(test_crio_systemd),
		cmocka_unit_test(test_crio_conmon_is_not_the_container),
		cmocka_unit_test(test_docker_systemd),
		cmocka_unit_test(test_docker_cgroupfs),
		cmocka_unit_test(test_plain_docker_container_has_no_pod),
		cmocka_unit_test(test_kind_v1_two_ids_last_wins),
		cmocka_unit_test(test_kind_v2_systemd),
		cmocka_unit_test(test_kind_line_with_pod_beats_node_only_line),
		cmocka_unit_test(test_process_in_pod_slice_outside_containers),
		cmocka_unit_test(test_private_cgroup_namespace_relative_paths),
		cmocka_unit_test(test_static_pod_hash_uid),
		cmocka_unit_test(test_upper_case_is_normalised),
		cmocka_unit_test(test_host_processes),
		cmocka_unit_test(test_ids_of_other_lengths_are_not_containers),
		cmocka_unit_test(test_kubepods_is_not_a_pod_uid),
		cmocka_unit_test(test_conflicting_lines),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_length_is_respected),
		cmocka_unit_test(test_procscan_tree),
		cmocka_unit_test(test_procscan_real_proc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
