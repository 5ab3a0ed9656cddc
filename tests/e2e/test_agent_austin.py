"""`blocksnoop agent` with Austin: pods choose their sampler
(blocksnoop.io/sampler), and each process of an Austin pod gets one Austin,
started through the namespace shim inside its PID and mount namespaces,
restarted when it dies, stopped when its process, container or pod goes.

The cluster is the stand-in of test_agent.py (an HTTPS kubelet serving
PodList JSON, real cgroup v2 directories named as a kubelet's systemd
driver names them) and its helpers are reused. Austin is the Debian 13
root's (build/rootfs-trixie: Austin 3.7.0), given with --austin-root; the
Austin pods' Pythons are that root's 3.13, PID 1 of their own PID and mount
namespace, their root that same file system read-only (or, for the
hostile pod, an overlay it plants files in, as test_hostile_austin.py
does for the command line).

Helpers are known by the agent's own word (-v: "started Austin (PID N,
through the namespace shim)", N the shim's PID; Austin is the process
named austin under it). After every test none of them may be left.
"""
import os
import pathlib
import re
import shutil
import signal
import time

import pytest

from conftest import (PY, nspid, pid_alive, read_truth, wait_for)
from test_agent import (APP, ENABLED, Agent, App, Kubelet, certs, cgroups,  # noqa: F401
                        containerd, expected_k8s, join_cgroup, new_cid, new_uid, pod, series)
from test_hostile_austin import (TARGET_PY, Container, Planted, comm, descendants, plant,
                                 stack_has_blocker)

AUSTIN_POD = {**ENABLED, "blocksnoop.io/sampler": "austin"}
STARTED = re.compile(r"started Austin \(PID (\d+), through the namespace shim\) for PID (\d+)")
HELPER_COMMS = ("austin", "bs-nsexec", "bs-nsexec:chil", "bs-nsexec:child")
COMM = "/blocksnoop-comm"
BLOCK_LINE = next(n for n, t in enumerate(pathlib.Path(APP).read_text().splitlines(), 1)
                  if "# BLOCK-LINE" in t)


@pytest.fixture(scope="module")
def austin_root(trixie_rootfs):
    return trixie_rootfs


class Helpers:
    """Every shim an agent said it started, and the Austin under each;
    at teardown none of them may be alive."""

    def __init__(self):
        self.agents = []
        self.seen = set()

    def watch(self, agent):
        self.agents.append(agent)
        return agent

    def shims(self, agent, target=None):
        """[(shim PID, target PID)] in the order the agent started them."""
        return [(int(m.group(1)), int(m.group(2))) for m in STARTED.finditer(agent.p.stderr)
                if target is None or int(m.group(2)) == target]

    def austin_of(self, shim):
        pid = next((p for p in descendants(shim) if comm(p) == "austin"), None)
        if pid:
            self.seen.add(pid)
        return pid

    def alive(self):
        pids = set(self.seen)
        for agent in self.agents:
            pids.update(s for s, _ in self.shims(agent))
            if pid_alive(agent.p.pid):
                pids.update(p for p in descendants(agent.p.pid))
        return sorted(p for p in pids if pid_alive(p) and comm(p) in HELPER_COMMS)


@pytest.fixture
def helpers(cgroups):
    h = Helpers()
    try:
        yield h
    finally:
        # The agents have been stopped (or are killed by procs' cleanup,
        # which runs after this, with cgroups'); what they started must
        # already be gone, or go with them within a moment.
        for agent in h.agents:
            if agent.p.p.poll() is None:
                agent.p.send(signal.SIGTERM)
                agent.p.wait(20)
        try:
            wait_for(lambda: not h.alive(), 5, "every Austin and shim to be gone")
        except pytest.fail.Exception:
            left = h.alive()
            for p in left:
                os.kill(p, signal.SIGKILL)
            pytest.fail(f"Austin helpers left running: {left}")


def ns_python(procs, tmp_path, cgroups, rootfs, pod_uid, cid, *, name="ct"):
    """k8s_app.py as /app/x.py, run by the root's Python 3.13 as PID 1 of
    its own PID and mount namespace in the container cgroup of (pod_uid,
    cid). Its root is read-only: an overlay of /app over the shared root,
    with no upper layer; only the truth directory is bind-mounted
    writable. Returns (host PID, truth file)."""
    cg = cgroups.container(pod_uid, cid, qos="besteffort")
    ct = tmp_path / f"{name}-{cid[:6]}"
    app, merged, truth_dir = ct / "app-layer", ct / "merged", ct / "comm"
    for p in (app / "app", app / COMM.lstrip("/"), merged, truth_dir):
        p.mkdir(parents=True)
    shutil.copyfile(APP, app / "app" / "x.py")
    script = ('mount -t overlay overlay -o "ro,lowerdir=$1:$2" "$3" '
              '&& mount --bind "$4" "$3$5" && shift 5 '
              '&& exec unshare --pid --fork --kill-child --mount-proc --root="$0" "$@"')
    outer = procs.start(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                         str(merged), str(app), str(rootfs), str(merged), str(truth_dir), COMM,
                         "/usr/bin/python3", "/app/x.py", COMM, "--block", "0.15", "--pause",
                         "0.2"], preexec_fn=join_cgroup(cg))
    truth = truth_dir / "truth"
    wait_for(lambda: any(r["event"] == "ready" for r in read_truth(truth))
             or (outer.p.poll() is not None and pytest.fail(outer.describe())), 20,
             f"{name} ready")
    host = wait_for(lambda: next((p for p in descendants(outer.pid)
                                  if nspid(p)[-1:] == [1]), None), 10, f"{name}'s PID 1")
    procs.adopt(host, "/app/x.py")
    assert nspid(host) == [host, 1]
    # The root it sees is read-only.
    with open(f"/proc/{host}/mountinfo") as f:
        root = next(l.split() for l in f if l.split()[4] == "/")
    assert "ro" in root[5].split(","), root
    return host, truth, outer


def innermost(e):
    stacks = e.get("python_stacks") or []
    return stacks[0][0] if stacks and stacks[0] else None


def austin_events(agent, pid_ns_pid, k8s):
    return [e for e in agent.events(**k8s) if e["pid"] == pid_ns_pid]


def wait_austin_stacks(agent, k8s, n, what):
    """n events of k8s's pod whose innermost frame is block_here in /app/x.py."""
    def good():
        ev = [e for e in agent.events(**k8s) if innermost(e)
              and innermost(e)["function"] == "block_here"
              and innermost(e)["file"] == "/app/x.py"]
        return len(ev) >= n and ev
    return wait_for(lambda: good() or (agent.p.p.poll() is not None and pytest.fail(
        agent.p.describe())), 30, f"{what}\n{agent.p.describe()}")


def austin_labels(ns, name, container):
    return series(ns, name, container) + (("sampler", "austin"),)


# --------------------------------------------------------------------------


def test_austin_and_builtin_pods(procs, cgroups, helpers, tmp_path, certs, austin_root):
    """Pod iso/ns-0 (blocksnoop.io/sampler: austin: a Python 3.13 in its own
    namespaces, read-only root) and pod shop/plain-0 (the default, the
    built-in sampler: the host's Python): each gets events with its own
    metadata, its sampler named, and block_here innermost. Austin killed by
    its PID: a warning naming the pod, a new Austin, counted in /metrics.
    The pod removed from the PodList: its Austin and shim are gone, though
    its process lives on."""
    a_uid, a_cid = new_uid(), new_cid()
    b_uid, b_cid = new_uid(), new_cid()
    a_host, a_truth, _ = ns_python(procs, tmp_path, cgroups, austin_root, a_uid, a_cid)
    b = App(procs, tmp_path, cgroups.container(b_uid, b_cid), name="plain")
    pod_a = pod("ns-0", "iso", a_uid, [("app", containerd(a_cid))], annotations=AUSTIN_POD)
    pod_b = pod("plain-0", "shop", b_uid, [("app", containerd(b_cid))], annotations=ENABLED)
    k = Kubelet(procs, tmp_path, certs["node"], pods=[pod_a, pod_b])
    agent = helpers.watch(Agent(procs, k, tmp_path, "-v", "--austin-root", str(austin_root),
                                ca=certs["ca"]))
    k8s_a = expected_k8s("iso", "ns-0", a_uid, "app", a_cid)
    k8s_b = expected_k8s("shop", "plain-0", b_uid, "app", b_cid)

    # Austin is made available (--austin-root): what the shim needs is kept.
    with open(f"/proc/{agent.p.pid}/status") as f:
        eff = int(next(l for l in f if l.startswith("CapEff:")).split()[1], 16)
    for cap in (8, 18, 19, 21):  # SETPCAP, SYS_CHROOT, SYS_PTRACE, SYS_ADMIN
        assert eff & (1 << cap), hex(eff)

    # One Austin, through the shim, in the target's PID and mount namespaces.
    shim = wait_for(lambda: helpers.shims(agent, a_host), 20,
                    f"Austin for {a_host}\n{agent.p.describe()}")[0][0]
    austin = wait_for(lambda: helpers.austin_of(shim), 10, "Austin under its shim")
    for ns in ("mnt", "pid"):
        assert os.readlink(f"/proc/{austin}/ns/{ns}") == os.readlink(f"/proc/{a_host}/ns/{ns}")
    assert helpers.shims(agent) == [(shim, a_host)], "the built-in pod got an Austin"

    wait_austin_stacks(agent, k8s_a, 3, "3 events of the Austin pod with stacks")
    wait_for(lambda: len([e for e in agent.events(**k8s_b) if innermost(e)]) >= 3, 20,
             f"3 events of the built-in pod with stacks\n{agent.p.describe()}")
    for e in agent.events(**k8s_a):
        assert e["pid"] == 1 and e["sampler"] == "austin", e
        f = innermost(e)
        if f:
            assert (f["function"], f["file"], f["line"]) == ("block_here", "/app/x.py",
                                                              BLOCK_LINE), e
    for e in agent.events(**k8s_b):
        assert e["pid"] in b.pids and e["sampler"] == "builtin", e
        f = innermost(e)
        if f:
            assert (f["function"], f["file"], f["line"]) == ("block_here", APP, BLOCK_LINE), e
    labels = austin_labels("iso", "ns-0", "app")
    assert agent.wait_metric("blocksnoop_sampler_samples_total", labels) > 0
    assert agent.metric("blocksnoop_sampler_restarts_total", labels) == 0
    assert agent.metric("blocksnoop_sampler_failures_total", labels) == 0
    assert agent.wait_metric("blocksnoop_sampler_samples_total",
                             series("shop", "plain-0", "app") + (("sampler", "builtin"),)) > 0
    assert agent.metric("blocksnoop_sampler_samples_total",
                        series("shop", "plain-0", "app") + (("sampler", "austin"),)) is None

    # Austin killed mid-session: said (naming the pod), restarted, counted.
    os.kill(austin, signal.SIGKILL)
    new_shim = wait_for(lambda: len(helpers.shims(agent, a_host)) >= 2
                        and helpers.shims(agent, a_host)[1][0], 20,
                        f"a new Austin\n{agent.p.describe()}")
    new_austin = wait_for(lambda: helpers.austin_of(new_shim), 10, "the new Austin")
    assert new_austin != austin and not pid_alive(austin) and not pid_alive(shim)
    warning = next((l for l in agent.p.stderr.splitlines()
                    if "warning: pod iso/ns-0 container app: Austin for PID" in l), None)
    assert warning and f"PID {a_host}" in warning and "restarting it in" in warning, \
        agent.p.stderr
    assert agent.wait_metric("blocksnoop_sampler_restarts_total", labels, lambda v: v >= 1) == 1
    assert agent.metric("blocksnoop_sampler_failures_total", labels) == 1
    before = len(agent.events(**k8s_a))
    wait_for(lambda: [e for e in agent.events(**k8s_a)[before:] if innermost(e)], 20,
             f"stacks from the new Austin\n{agent.p.describe()}")

    # The pod leaves the list: its Austin goes, its process stays.
    k.set(pods=[pod_b])
    wait_for(lambda: not pid_alive(new_shim) and not pid_alive(new_austin), 10,
             f"the removed pod's Austin to be stopped\n{agent.p.describe()}")
    assert pid_alive(a_host)
    assert not [p for p in descendants(agent.p.pid) if comm(p) in HELPER_COMMS]
    agent.stop()


def test_restarted_container_gets_a_new_austin(procs, cgroups, helpers, tmp_path, certs,
                                               austin_root):
    """A container restarted (its process gone, a new one with a new ID in
    the pod's status): the old Austin goes with the old process, the new
    process gets an Austin of its own, and its events its stacks."""
    uid, cid1, cid2 = new_uid(), new_cid(), new_cid()
    host1, _, outer1 = ns_python(procs, tmp_path, cgroups, austin_root, uid, cid1, name="first")
    k = Kubelet(procs, tmp_path, certs["node"],
                pods=[pod("web-0", "iso", uid, [("app", containerd(cid1))],
                          annotations=AUSTIN_POD)])
    agent = helpers.watch(Agent(procs, k, tmp_path, "-v", "--austin-root", str(austin_root),
                                ca=certs["ca"]))
    shim1 = wait_for(lambda: helpers.shims(agent, host1), 20,
                     f"Austin for {host1}\n{agent.p.describe()}")[0][0]
    austin1 = wait_for(lambda: helpers.austin_of(shim1), 10, "the first Austin")
    wait_austin_stacks(agent, expected_k8s("iso", "web-0", uid, "app", cid1), 2,
                       "events of the first container")

    # The runtime kills the container and starts it again with a new ID.
    outer1.kill()
    os.kill(host1, signal.SIGKILL)
    wait_for(lambda: not pid_alive(shim1) and not pid_alive(austin1), 10,
             f"the first Austin to go with its process\n{agent.p.describe()}")
    host2, _, _ = ns_python(procs, tmp_path, cgroups, austin_root, uid, cid2, name="second")
    k.set(pods=[pod("web-0", "iso", uid, [("app", containerd(cid2))], annotations=AUSTIN_POD,
                    restarts={"app": containerd(cid1)})])
    shim2 = wait_for(lambda: helpers.shims(agent, host2), 20,
                     f"Austin for {host2}\n{agent.p.describe()}")[0][0]
    austin2 = wait_for(lambda: helpers.austin_of(shim2), 10, "the second Austin")
    assert (shim2, austin2) != (shim1, austin1) and austin2 not in (shim1, austin1)
    wait_austin_stacks(agent, expected_k8s("iso", "web-0", uid, "app", cid2), 2,
                       "events of the restarted container")
    # Never a restart of the first one: it ended with its process.
    assert len(helpers.shims(agent, host1)) == 1, agent.p.stderr
    agent.stop()


def test_hostile_pod_root_runs_nothing(procs, cgroups, helpers, tmp_path, certs, austin_root):
    """A pod whose root plants /etc/ld.so.preload and, through its own
    ld.so.cache, a library under Austin's libc soname: nothing of it runs
    (no mark in its root, on the host, or in the host directory it tries
    to reach), and its stacks still arrive, from Austin."""
    planted = Planted(tmp_path)
    try:
        ct = Container(procs, tmp_path, austin_root, planted,
                       ["/usr/bin/python3", "/app/target.py"])
        plant("preload-cache", ct, planted)
        uid, cid = new_uid(), new_cid()
        cg = cgroups.container(uid, cid, qos="besteffort")
        (cg / "cgroup.procs").write_text(str(ct.pid))
        k = Kubelet(procs, tmp_path, certs["node"],
                    pods=[pod("evil-0", "hostile", uid, [("app", containerd(cid))],
                              annotations=AUSTIN_POD)])
        agent = helpers.watch(Agent(procs, k, tmp_path, "-v", "--austin-root",
                                    str(austin_root), ca=certs["ca"]))
        k8s = expected_k8s("hostile", "evil-0", uid, "app", cid)
        wait_for(lambda: [e for e in agent.events(**k8s) if stack_has_blocker(e)], 30,
                 f"an event with the target's stack\n{agent.p.describe()}")
        shim = helpers.shims(agent, ct.pid)[0][0]
        assert helpers.austin_of(shim)
        assert all(e["sampler"] == "austin" for e in agent.events(**k8s))
        assert planted.marks(ct) == {}, planted.marks(ct)
        agent.stop()
        assert planted.marks(ct) == {}, planted.marks(ct)
    finally:
        planted.cleanup()


def test_austin_asked_of_an_agent_without_it(procs, cgroups, helpers, tmp_path, certs):
    """An agent not told to run Austin starts none and keeps none of its
    capabilities; a pod asking for it is told (one warning, naming the
    pod and the fallback, once however many polls) and gets the built-in
    sampler."""
    uid, cid = new_uid(), new_cid()
    app = App(procs, tmp_path, cgroups.container(uid, cid), name="asks")
    k = Kubelet(procs, tmp_path, certs["node"],
                pods=[pod("asks-0", "shop", uid, [("app", containerd(cid))],
                          annotations=AUSTIN_POD)])
    agent = helpers.watch(Agent(procs, k, tmp_path, "-v", ca=certs["ca"]))
    k8s = expected_k8s("shop", "asks-0", uid, "app", cid)
    wait_for(lambda: [e for e in agent.events(**k8s) if innermost(e)], 20,
             f"an event with a stack\n{agent.p.describe()}")
    time.sleep(1.5)  # a few more polls: still said once
    says = [l for l in agent.p.stderr.splitlines() if "blocksnoop.io/sampler" in l]
    assert len(says) == 1, agent.p.stderr
    assert "pod shop/asks-0" in says[0] and "does not run the austin sampler" in says[0] \
        and "using the agent's default (builtin)" in says[0], says
    assert all(e["sampler"] == "builtin" and e["pid"] in app.pids
               for e in agent.events(**k8s))
    assert not helpers.shims(agent)
    with open(f"/proc/{agent.p.pid}/status") as f:
        eff = int(next(l for l in f if l.startswith("CapEff:")).split()[1], 16)
    for cap in (18, 21):  # CAP_SYS_CHROOT, CAP_SYS_ADMIN: the shim's, not kept
        assert not eff & (1 << cap), hex(eff)
    agent.stop()
