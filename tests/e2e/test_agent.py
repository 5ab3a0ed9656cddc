"""`blocksnoop agent`, the Kubernetes node agent, end to end.

No cluster: the one stand-in is the kubelet (tests/fixtures/k8s_kubelet.py),
an HTTPS server with a certificate made here by openssl for the node name
and signed by a CA made here, requiring a bearer token and serving PodList
JSON shaped like a kubelet's /pods, whose answer each test changes between
polls. Everything else is real:
  * target Python processes (tests/fixtures/k8s_app.py: a master and its
    workers, each worker an asyncio loop that blocks on purpose) placed in
    real cgroup v2 directories named the way a kubelet's systemd driver
    names them (/sys/fs/cgroup/unified/kubepods.slice/.../
    kubepods-<qos>-pod<UID_>.slice/cri-containerd-<ID>.scope, crio-<ID>.scope,
    docker-<ID>.scope), joined before exec;
  * one of them in its own PID and mount namespace with a Debian 13 root
    file system (build/rootfs-trixie, shared, built once if missing);
  * the agent with real BPF, the built-in sampler, libcurl against the
    stand-in, libmicrohttpd serving /metrics.

Every process is killed by PID (the ones in our own cgroups included),
every cgroup directory made here is removed deepest first once empty, and
only loopback addresses are used.
"""
import json
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "fixtures"))
from pod_cgroups import CGROUP2, Cgroups  # noqa: E402 (the one home of pod cgroups)

from conftest import (BLOCKSNOOP, PY, children, nspid, parse_json_lines, pid_alive, pid_cmdline,
                      py_fixture, read_truth, wait_for)

NODE = "node-a.test"
# `make e2e` says where the shared Debian 13 root is (and builds it).
APP = py_fixture("k8s_app.py")
POLL = "0.5s"


# --------------------------------------------------------------------------
# certificates


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2",
            "-subj", f"/CN=blocksnoop test {name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return d / f"{name}.crt"


def make_server_cert(d, name, ca, san):
    (d / f"{name}.ext").write_text(f"subjectAltName=DNS:{san}\nextendedKeyUsage=serverAuth\n"
                                   "basicConstraints=CA:FALSE\n")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={san}",
            cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext",
            cwd=d)
    return d / f"{name}.crt", d / f"{name}.key"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """ca: the CA the agent is told about; node: the kubelet's certificate
    for NODE signed by it; wrong_name: signed by it for another host;
    other_ca: a CA that signed nothing here."""
    assert shutil.which("openssl"), "openssl is needed (apt-get install openssl)"
    d = tmp_path_factory.mktemp("certs")
    ca = make_ca(d, "ca")
    other = make_ca(d, "other-ca")
    node = make_server_cert(d, "node", "ca", NODE)
    wrong = make_server_cert(d, "wrong", "ca", "other-node.test")
    return {"ca": ca, "other_ca": other, "node": node, "wrong_name": wrong}


# --------------------------------------------------------------------------
# cgroups, processes


@pytest.fixture
def cgroups(procs):
    assert (CGROUP2 / "cgroup.procs").exists(), f"no cgroup v2 hierarchy at {CGROUP2}"
    cg = Cgroups()
    try:
        yield cg
    finally:
        procs.cleanup()
        cg.cleanup()


def join_cgroup(path):
    """preexec_fn: move the child into the cgroup before it execs, so the
    whole process tree it starts is in it."""
    procs_file = str(path / "cgroup.procs")

    def join():
        with open(procs_file, "w") as f:
            f.write("0")
    return join


def new_uid():
    return str(uuid.uuid4())


def new_cid():
    return secrets.token_hex(32)


class App:
    """k8s_app.py in a container cgroup: `pids` are its loop processes
    (workers, or the process itself with workers=0), `master` the forking
    parent (None with workers=0); `function` renames its blocking function."""

    def __init__(self, procs, tmp_path, cgroup, *, workers=0, count=0, block=0.15, pause=0.2,
                 go=False, name="app", function=None):
        self.dir = tmp_path / f"{name}-{secrets.token_hex(3)}"
        self.dir.mkdir()
        self.truth = self.dir / "truth"
        argv = [PY, APP, str(self.dir), "--workers", str(workers), "--count", str(count),
                "--block", str(block), "--pause", str(pause)] + (["--go"] if go else []) + \
            (["--function", function] if function else [])
        self.proc = procs.start(argv, preexec_fn=join_cgroup(cgroup))
        want = max(workers, 1)
        ready = wait_for(lambda: (lambda r: r if len(r) >= want else None)(
            [r for r in read_truth(self.truth) if r["event"] == "ready"])
            or (self.proc.p.poll() is not None and pytest.fail(f"{name} died\n{self.proc.describe()}")),
            20, f"{name} ready")
        self.pids = sorted(r["pid"] for r in ready)
        for pid in self.pids:
            procs.adopt(pid, "k8s_app.py")
        self.master = self.proc.pid if workers else None
        assert self.master is None or all(r["ppid"] == self.master for r in ready)

    def go(self):
        (self.dir / "go").touch()

    def blocks(self, pid=None):
        return [r for r in read_truth(self.truth) if r["event"] == "block"
                and (pid is None or r["pid"] == pid)]

    def kill(self):
        for pid in self.pids + ([self.master] if self.master else []):
            if pid_alive(pid) and "k8s_app.py" in pid_cmdline(pid):
                os.kill(pid, signal.SIGKILL)
        self.proc.kill()
        wait_for(lambda: not any(pid_alive(p) for p in self.pids), 10, "the app to be gone")


# --------------------------------------------------------------------------
# pods as the kubelet shows them


def pod(name, namespace, uid, containers, *, annotations=None, labels=None, owner=None,
        phase="Running", qos="Burstable", restarts=None):
    """A v1 Pod as the kubelet's /pods lists it. containers: [(name, runtime
    ID URI or None)]; restarts: {container: previous ID URI}."""
    restarts = restarts or {}
    statuses = []
    for cname, cid in containers:
        st = {"name": cname, "ready": cid is not None, "restartCount": 1 if cname in restarts else 0,
              "image": f"registry.test/{cname}:1", "imageID": f"registry.test/{cname}@sha256:00",
              "started": cid is not None}
        if cid:
            st["containerID"] = cid
            st["state"] = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
        else:
            st["state"] = {"waiting": {"reason": "ContainerCreating"}}
        if cname in restarts:
            st["lastState"] = {"terminated": {"exitCode": 137, "reason": "Error",
                                              "containerID": restarts[cname]}}
        statuses.append(st)
    meta = {"name": name, "namespace": namespace, "uid": uid,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": labels or {}, "annotations": {
                "kubernetes.io/config.source": "api",
                "kubernetes.io/config.seen": "2026-01-01T00:00:00.000000000Z",
                **(annotations or {})}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1],
                                    "uid": new_uid(), "controller": True,
                                    "blockOwnerDeletion": True}]
    return {"metadata": meta,
            "spec": {"nodeName": NODE, "restartPolicy": "Always",
                     "containers": [{"name": c, "image": f"registry.test/{c}:1"}
                                    for c, _ in containers]},
            "status": {"phase": phase, "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
                       "qosClass": qos, "containerStatuses": statuses}}


def containerd(cid):
    return f"containerd://{cid}"


ENABLED = {"blocksnoop.io/enabled": "true"}


# --------------------------------------------------------------------------
# the stand-in kubelet


class Kubelet:
    def __init__(self, procs, tmp_path, cert, *, token="token-1", pods=()):
        self.dir = tmp_path / f"kubelet-{secrets.token_hex(3)}"
        self.dir.mkdir()
        self.state_path = self.dir / "state.json"
        self.log_path = self.dir / "requests.jsonl"
        self.state = {"token": token, "mode": "ok", "pods": list(pods)}
        self._write()
        port_file = self.dir / "port"
        self.proc = procs.start([PY, py_fixture("k8s_kubelet.py"), "--cert", str(cert[0]),
                                 "--key", str(cert[1]), "--state", str(self.state_path),
                                 "--log", str(self.log_path), "--port-file", str(port_file),
                                 "--host", "127.0.0.1"])
        self.port = int(wait_for(lambda: port_file.exists() and port_file.read_text()
                                 or (self.proc.p.poll() is not None and pytest.fail(
                                     f"the stand-in kubelet died\n{self.proc.describe()}")),
                                 20, "the stand-in kubelet"))
        self.url = f"https://{NODE}:{self.port}"

    def _write(self):
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state))
        os.rename(tmp, self.state_path)

    def set(self, **kw):
        self.state.update(kw)
        self._write()

    def requests(self):
        try:
            text = self.log_path.read_text()
        except FileNotFoundError:
            return []
        return [json.loads(l) for l in text.splitlines() if l.endswith("}")]


# --------------------------------------------------------------------------
# the agent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


METRIC = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """{(name, ((label, value), ...)): float}, checking every line's form."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) \w+ ", line), line
            continue
        m = METRIC.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def series(ns, pod_name, container):
    return (("container", container), ("namespace", ns), ("pod", pod_name))


class Agent:
    def __init__(self, procs, kubelet, tmp_path, *extra, token="token-1", ca=None, env=None,
                 json_out=True, insecure=False):
        self.token_file = tmp_path / f"bearer-{secrets.token_hex(3)}"
        self.token_file.write_text(token + "\n")
        self.metrics_port = free_port()
        args = ["agent", "--node-name", NODE, "--kubelet-url", kubelet.url,
                "--kubelet-host-ip", "127.0.0.1", "--kubelet-token-file", str(self.token_file),
                "--poll-interval", POLL, "--metrics-addr", f"127.0.0.1:{self.metrics_port}",
                "-t", "100"]
        if ca:
            args += ["--kubelet-ca-file", str(ca)]
        if json_out:
            args.append("--json")
        if insecure:
            args.append("--kubelet-insecure-skip-tls-verify")
        full_env = {k: v for k, v in os.environ.items()
                    if k not in ("NODE_NAME", "HOST_IP", "POD_UID")
                    and not k.startswith("BLOCKSNOOP_")}
        full_env.update(env or {})
        self.p = procs.start([BLOCKSNOOP, *args, *extra], env=full_env)
        if json_out:
            self.p.wait_record("session_start")
        wait_for(lambda: self.healthz() or (self.p.p.poll() is not None and pytest.fail(
            f"the agent exited\n{self.p.describe()}")), 20, "the agent's /healthz")

    def get(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}{path}",
                                    timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()

    def healthz(self):
        try:
            return self.get("/healthz")[0] == 200
        except (OSError, urllib.error.URLError):
            return False

    def metrics(self):
        status, ctype, text = self.get("/metrics")
        assert status == 200 and ctype.startswith("text/plain; version=0.0.4"), (status, ctype)
        return parse_metrics(text)

    def metric(self, name, labels=()):
        return self.metrics().get((name, tuple(sorted(labels))))

    def wait_metric(self, name, labels=(), pred=lambda v: v, timeout=20, what=None):
        def check():
            v = self.metric(name, labels)
            return v is not None and pred(v) and (v, )
        return wait_for(lambda: check() or (self.p.p.poll() is not None and pytest.fail(
            f"the agent exited\n{self.p.describe()}")), timeout,
            what or f"{name}{dict(labels)}\n{self.p.describe()}")[0]

    def records(self, rtype=None):
        return [r for r in self.p.records() if rtype is None or r.get("type") == rtype]

    def events(self, **k8s):
        return [e for e in self.records("blocking_event")
                if all(e.get("k8s", {}).get(k) == v for k, v in k8s.items())]

    def stop(self):
        self.p.send(signal.SIGTERM)
        rc = self.p.wait(20)
        assert rc == 0, self.p.describe()
        return parse_json_lines(self.p.stdout) if "--json" in self.p.argv else None


def expected_k8s(namespace, pod_name, uid, container, cid):
    return {"node": NODE, "namespace": namespace, "pod": pod_name, "pod_uid": uid,
            "container": container, "container_id": cid}


def match_loosely(events, blocks, tol_ms=25.0):
    """Every truth block is covered by exactly one event and every event by
    one block, of about the same length. (conftest.match_blocks checks the
    kernel's timing to 2 ms; here many processes share two cores with the
    agent, and what matters is which block each event is.)"""
    used = set()
    for b in blocks:
        over = [i for i, e in enumerate(events)
                if e["start_ns"] < b["end_ns"] and e["end_ns"] > b["start_ns"]]
        assert len(over) == 1, f"block {b} is covered by {len(over)} events: {events}"
        e = events[over[0]]
        used.add(over[0])
        truth_ms = (b["end_ns"] - b["start_ns"]) / 1e6
        assert truth_ms - 2 <= e["duration_ms"] <= truth_ms + tol_ms, (e, b)
    extra = [e for i, e in enumerate(events) if i not in used]
    assert not extra, f"events that match no block: {extra}\nblocks: {blocks}"


def caps_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return {k: v.strip() for k, v in (l.split(":", 1) for l in f if ":" in l)}


# --------------------------------------------------------------------------
# 1. opted-in pods, and only they, with exactly their metadata


def test_opted_in_pods_only_with_their_metadata(procs, cgroups, tmp_path, certs):
    """Pod A (opted in, containers "app": a master and two workers, plus a
    sidecar that is not selected), pod B (no annotation), pod C (the
    agent's own, opted in), pod D (opted in, CRI-O, a bad threshold and its
    own service). Only A's workers and D block in records, each carrying
    exactly its pod's metadata; the sidecar, B and C produce nothing; D's
    bad annotation is one config_error and the default threshold applies;
    /metrics counts what the records say."""
    a_uid, a_app, a_side = new_uid(), new_cid(), new_cid()
    b_uid, b_cid = new_uid(), new_cid()
    c_uid, c_cid = new_uid(), new_cid()
    d_uid, d_cid = new_uid(), new_cid()
    a = App(procs, tmp_path, cgroups.container(a_uid, a_app), workers=2, count=3, go=True,
            name="a")
    side = App(procs, tmp_path, cgroups.container(a_uid, a_side), count=3, go=True, name="side")
    b = App(procs, tmp_path, cgroups.container(b_uid, b_cid, qos="besteffort"), count=3,
            go=True, name="b")
    c = App(procs, tmp_path, cgroups.container(c_uid, c_cid, qos="guaranteed", runtime="docker"),
            count=3, go=True, name="c")
    d = App(procs, tmp_path, cgroups.container(d_uid, d_cid, runtime="cri-o"), count=3, go=True,
            name="d")
    a_name = "checkout-7d9c6b5f4-x2x8q"
    pods = [
        pod(a_name, "shop", a_uid, [("app", containerd(a_app)), ("sidecar", containerd(a_side))],
            annotations={**ENABLED, "blocksnoop.io/containers": "app"},
            labels={"app.kubernetes.io/name": "checkout", "pod-template-hash": "7d9c6b5f4"},
            owner=("ReplicaSet", "checkout-7d9c6b5f4")),
        pod("quiet-0", "shop", b_uid, [("app", containerd(b_cid))], qos="BestEffort",
            labels={"app": "quiet"}),
        pod("blocksnoop-agent-x1", "blocksnoop", c_uid, [("agent", f"docker://{c_cid}")],
            annotations=ENABLED, qos="Guaranteed"),
        pod("billing-0", "money", d_uid, [("app", f"cri-o://{d_cid}")],
            annotations={**ENABLED, "blocksnoop.io/threshold-ms": "abc",
                         "blocksnoop.io/service": "billing"},
            owner=("StatefulSet", "billing")),
    ]
    k = Kubelet(procs, tmp_path, certs["node"], pods=pods)
    log_file = tmp_path / "agent.log"
    agent = Agent(procs, k, tmp_path, "--log-file", str(log_file), ca=certs["ca"],
                  env={"POD_UID": c_uid})

    # Master + 2 workers of A's app, D's one process; nothing else.
    agent.wait_metric("blocksnoop_watched_processes", series("shop", a_name, "app"),
                      lambda v: v == 3)
    agent.wait_metric("blocksnoop_watched_processes", series("money", "billing-0", "app"),
                      lambda v: v == 1)
    m = agent.metrics()
    assert m[("blocksnoop_watched_processes_all", ())] == 4, m
    assert m[("blocksnoop_watched_pods", ())] == 2, m
    assert ("blocksnoop_watched_processes", series("shop", a_name, "sidecar")) not in m, m
    assert not any(dict(lbl).get("pod") in ("quiet-0", "blocksnoop-agent-x1")
                   for _, lbl in m), m

    # After set-up the agent keeps only CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH,
    # and CAP_SETUID and CAP_SETGID permitted but not effective (raised by
    # the source reader only while it takes a target's credentials).
    st = caps_of(agent.p.pid)
    setid = (1 << 7) | (1 << 6)
    assert int(st["CapEff"], 16) == (1 << 19) | (1 << 2), st
    assert int(st["CapPrm"], 16) == (1 << 19) | (1 << 2) | setid, st
    assert int(st["CapBnd"], 16) == (1 << 19) | (1 << 2) | setid, st
    assert st["NoNewPrivs"] == "1", st

    for app in (a, side, b, c, d):
        app.go()
    for app in (a, side, b, c, d):
        for pid in app.pids:
            wait_for(lambda: len(app.blocks(pid)) == 3, 20, f"3 blocks of {pid}")
    wait_for(lambda: len(agent.events()) >= 9, 15, f"9 events\n{agent.p.describe()}")
    time.sleep(0.6)  # nothing more may come
    m = agent.metrics()
    status, ctype, health = agent.get("/healthz")
    assert status == 200 and health.startswith("ok\n"), health
    with pytest.raises(urllib.error.HTTPError) as nf:
        agent.get("/nope")
    assert nf.value.code == 404
    records = agent.stop()

    assert [r["type"] for r in records][0] == "session_start"
    assert records[-1]["type"] == "session_summary"
    assert records[0]["mode"] == "agent"
    events = [r for r in records if r["type"] == "blocking_event"]
    assert len(events) == 9, events
    want_a = {p: expected_k8s("shop", a_name, a_uid, "app", a_app) for p in a.pids}
    want_d = {d.pids[0]: expected_k8s("money", "billing-0", d_uid, "app", d_cid)}
    for e in events:
        assert e["pid"] in want_a or e["pid"] in want_d, f"event from an unexpected process: {e}"
        want = want_a.get(e["pid"]) or want_d[e["pid"]]
        assert e["k8s"] == want, e
        assert e["service"] == ("checkout" if e["pid"] in want_a else "billing"), e
        assert e["tid"] == e["pid"], e
        assert e["level"] == "warning", e
        frames = [f for st in (e["python_stacks"] or []) for f in st]
        assert any(f["function"] == "block_here" and f["file"] == APP for f in frames), e
    for app in (a, d):
        for pid in app.pids:
            assert nspid(pid)[-1] == pid  # no PID namespace: its own PID
            match_loosely([e for e in events if e["pid"] == pid], app.blocks(pid))
    silent = set(side.pids + b.pids + c.pids + [a.master])
    assert not [e for e in records if e.get("pid") in silent and e["type"] != "session_start"]

    # D's bad threshold: one config_error with D's metadata; the default
    # (100 ms) applied, so its 150 ms blocks were reported.
    errors = [r for r in records if r["type"] == "config_error"]
    assert len(errors) == 1, errors
    err = errors[0]
    assert err["annotation"] == "blocksnoop.io/threshold-ms" and err["value"] == "abc", err
    assert err["service"] == "billing" and err["level"] == "warning", err
    assert err["k8s"] == expected_k8s("money", "billing-0", d_uid, "", ""), err
    assert "using 100" in err["error"], err
    assert "blocksnoop.io/threshold-ms" in agent.p.stderr

    # /metrics says what the records say.
    for (ns, name, uid, pids) in (("shop", a_name, a_uid, a.pids),
                                  ("money", "billing-0", d_uid, d.pids)):
        mine = [e for e in events if e["pid"] in pids]
        lbl = series(ns, name, "app")
        assert m[("blocksnoop_blocking_events_total", lbl)] == len(mine), m
        assert m[("blocksnoop_blocking_error_events_total", lbl)] == 0, m
        assert m[("blocksnoop_suppressed_events_total", lbl)] == 0, m
        assert abs(m[("blocksnoop_blocked_seconds_total", lbl)]
                   - sum(e["duration_ms"] for e in mine) / 1e3) < 1e-4, m
    assert m[("blocksnoop_config_errors_total", ())] == 1, m
    assert m[("blocksnoop_lost_events_total", ())] == 0, m
    assert m[("blocksnoop_kubelet_up", ())] == 1, m
    assert sum(v for (n, l), v in m.items() if n == "blocksnoop_kubelet_errors_total") == 0, m
    summary = records[-1]
    assert summary["event_count"] == 9 and summary["lost_event_count"] == 0, summary
    # Well-behaved pods are not rate-limited.
    assert summary["suppressed_event_count"] == 0, summary
    assert not [r for r in records if r["type"] == "events_suppressed"], records

    # The log file: the same records for a log shipper, with each pod's service.
    logged = parse_json_lines(log_file.read_text(), "log file")
    logged_events = [r for r in logged if r["type"] == "blocking_event"]
    assert len(logged_events) == 9
    for r in logged_events:
        assert r["dd"]["service"] == r["service"] == (
            "checkout" if r["pid"] in want_a else "billing"), r
        assert r["k8s"]["node"] == NODE and r["message"].startswith("Blocking call detected"), r
    logged_errors = [r for r in logged if r["type"] == "config_error"]
    assert len(logged_errors) == 1 and logged_errors[0]["service"] == "billing", logged_errors
    assert "blocksnoop.io/threshold-ms" in logged_errors[0]["message"], logged_errors

    # The token went to the kubelet with every poll; B's and C's pods were
    # listed but never watched.
    reqs = [r for r in k.requests() if r["path"] == "/pods" and r["phase"] == "answered"]
    assert reqs and all(r["token"] == "token-1" and r["status"] == 200 for r in reqs), reqs


# --------------------------------------------------------------------------
# 2. pods come, restart and go


def test_pods_added_restarted_and_removed(procs, cgroups, tmp_path, certs):
    k = Kubelet(procs, tmp_path, certs["node"], pods=[])
    log_file = tmp_path / "agent.log"
    agent = Agent(procs, k, tmp_path, "--log-file", str(log_file), ca=certs["ca"])
    agent.wait_metric("blocksnoop_kubelet_polls_total", pred=lambda v: v >= 2)

    # A pod appears: picked up within a poll.
    uid, cid1, cid2 = new_uid(), new_cid(), new_cid()
    app1 = App(procs, tmp_path, cgroups.container(uid, cid1), block=0.12, pause=0.25, name="e1")
    added = time.monotonic()
    k.set(pods=[pod("web-1", "web", uid, [("app", containerd(cid1))], annotations=ENABLED,
                    labels={"app": "web"})])
    first = wait_for(lambda: agent.events(container_id=cid1), 10,
                     f"an event of the new pod\n{agent.p.describe()}")[0]
    assert time.monotonic() - added < 3.0, "the new pod took longer than a poll or two"
    assert first["pid"] == app1.pids[0] and first["service"] == "web", first
    assert first["k8s"] == expected_k8s("web", "web-1", uid, "app", cid1), first

    # Log rotation: the file is moved away and the agent told with SIGHUP.
    rotated = tmp_path / "agent.log.1"
    os.rename(log_file, rotated)
    agent.p.send(signal.SIGHUP)
    wait_for(lambda: log_file.exists() and '"blocking_event"' in log_file.read_text(), 10,
             f"events in the reopened log file\n{agent.p.describe()}")
    assert '"blocking_event"' in rotated.read_text()

    # The container restarts: new ID, new process; the agent follows.
    app1.kill()
    killed_ns = time.monotonic_ns()
    agent.wait_metric("blocksnoop_watched_processes_all", pred=lambda v: v == 0,
                      what="the dead process to be detached")
    app2 = App(procs, tmp_path, cgroups.container(uid, cid2), block=0.12, pause=0.25, name="e2")
    k.set(pods=[pod("web-1", "web", uid, [("app", containerd(cid2))], annotations=ENABLED,
                    labels={"app": "web"}, restarts={"app": containerd(cid1)})])
    e2 = wait_for(lambda: agent.events(container_id=cid2), 10,
                  f"an event of the restarted container\n{agent.p.describe()}")[0]
    assert e2["pid"] == app2.pids[0], e2
    assert e2["k8s"] == expected_k8s("web", "web-1", uid, "app", cid2), e2
    assert all(e["end_ns"] <= killed_ns for e in agent.events(container_id=cid1))

    # A new worker process in the same container: picked up too.
    app3 = App(procs, tmp_path, cgroups.container(uid, cid2), block=0.12, pause=0.25, name="e3")
    wait_for(lambda: [e for e in agent.events(container_id=cid2) if e["pid"] == app3.pids[0]],
             10, f"an event of the new process\n{agent.p.describe()}")
    assert agent.metric("blocksnoop_watched_processes", series("web", "web-1", "app")) == 2

    # The pod goes away (its processes live on): detached, no more events.
    k.set(pods=[])
    agent.wait_metric("blocksnoop_watched_processes_all", pred=lambda v: v == 0,
                      what="the removed pod's processes to be detached")
    detached_ns = time.monotonic_ns()
    assert pid_alive(app2.pids[0]) and pid_alive(app3.pids[0])
    assert agent.metric("blocksnoop_blocking_events_total", series("web", "web-1", "app")) is None
    assert agent.metric("blocksnoop_watched_pods") == 0
    time.sleep(1.5)  # they keep blocking, unwatched
    assert len(app2.blocks()) + len(app3.blocks()) > 4
    late = [e for e in agent.events() if e["start_ns"] > detached_ns]
    assert not late, late
    records = agent.stop()
    assert records[-1]["type"] == "session_summary"
    assert records[-1]["termination_reason"] == "signal"


# --------------------------------------------------------------------------
# 3. the kubelet fails in every way; known pods stay watched; it recovers


def test_kubelet_outage_keeps_known_pods_and_recovers(procs, cgroups, tmp_path, certs):
    uid, cid = new_uid(), new_cid()
    cg = cgroups.container(uid, cid)
    g = App(procs, tmp_path, cg, block=0.12, pause=0.2, name="g")
    g_pod = pod("api-0", "svc", uid, [("app", containerd(cid))], annotations=ENABLED,
                labels={"app": "api"})
    k = Kubelet(procs, tmp_path, certs["node"], token="token-1", pods=[g_pod])
    agent = Agent(procs, k, tmp_path, ca=certs["ca"], token="token-1")
    wait_for(lambda: agent.events(pod_uid=uid), 10, f"events of the pod\n{agent.p.describe()}")

    def errors(reason):
        return agent.metric("blocksnoop_kubelet_errors_total", (("reason", reason),)) or 0

    def events_since(t_ns):
        return [e for e in agent.events(pod_uid=uid) if e["start_ns"] > t_ns]

    outage_ns = time.monotonic_ns()
    # HTTP 500.
    k.set(mode="status", status=500)
    agent.wait_metric("blocksnoop_kubelet_errors_total", (("reason", "http"),), lambda v: v >= 1)
    assert agent.metric("blocksnoop_kubelet_up") == 0
    # During the outage a new process starts in the known container: found.
    g2 = App(procs, tmp_path, cg, block=0.12, pause=0.2, name="g2")
    wait_for(lambda: [e for e in agent.events(pod_uid=uid) if e["pid"] == g2.pids[0]], 10,
             f"an event of the process started during the outage\n{agent.p.describe()}")
    # Not a pod list.
    k.set(mode="garbage")
    agent.wait_metric("blocksnoop_kubelet_errors_total", (("reason", "parse"),), lambda v: v >= 1)
    # Too slow: the poll times out (2 s for a 0.5 s interval).
    k.set(mode="ok", delay_s=4)
    agent.wait_metric("blocksnoop_kubelet_errors_total", (("reason", "timeout"),),
                      lambda v: v >= 1, timeout=30)
    # The connection is dropped.
    k.set(mode="close", delay_s=0)
    agent.wait_metric("blocksnoop_kubelet_errors_total", (("reason", "connect"),),
                      lambda v: v >= 1, timeout=30)
    # The kubelet wants another token.
    k.set(mode="ok", token="token-2")
    agent.wait_metric("blocksnoop_kubelet_errors_total", (("reason", "unauthorized"),),
                      lambda v: v >= 1, timeout=30)
    # Known pods stayed watched all along.
    assert len(events_since(outage_ns)) >= 5, agent.events(pod_uid=uid)
    assert agent.metric("blocksnoop_watched_processes", series("svc", "api-0", "app")) == 2
    assert agent.metric("blocksnoop_kubelet_up") == 0

    # The token is rotated on disk: the agent reads it and recovers.
    agent.token_file.write_text("token-2\n")
    agent.wait_metric("blocksnoop_kubelet_up", pred=lambda v: v == 1, timeout=30)
    # ... and sees new pods again.
    h_uid, h_cid = new_uid(), new_cid()
    h = App(procs, tmp_path, cgroups.container(h_uid, h_cid), block=0.12, pause=0.2, name="h")
    k.set(pods=[g_pod, pod("late-0", "svc", h_uid, [("app", containerd(h_cid))],
                           annotations=ENABLED)])
    wait_for(lambda: agent.events(pod_uid=h_uid), 15, f"events of the late pod\n{agent.p.describe()}")
    assert agent.events(pod_uid=h_uid)[0]["pid"] == h.pids[0]

    stderr = agent.p.stderr
    for says in ("answered HTTP 500", "is not a pod list", "did not answer within",
                 "cannot reach the kubelet", "refused the bearer token",
                 "(still watching the pods known so far)", "answers again"):
        assert says in stderr, f"stderr does not say {says!r}\n{stderr}"
    # Each problem is said once when it starts, not every poll.
    assert stderr.count("answered HTTP 500") == 1, stderr
    assert "token-2" not in stderr and "token-1" not in stderr, "the token was logged"
    agent.stop()


def test_rotated_token_is_reread_on_401(procs, cgroups, tmp_path, certs):
    """A 401 makes the agent read the token file again and, if it changed,
    retry at once: the poll succeeds and no error is counted."""
    k = Kubelet(procs, tmp_path, certs["node"], token="token-1", pods=[])
    agent = Agent(procs, k, tmp_path, ca=certs["ca"], token="token-1")
    agent.wait_metric("blocksnoop_kubelet_up", pred=lambda v: v == 1)
    # Answers take 1 s from now on, and want token-2.
    k.set(token="token-2", delay_s=1.0)
    t0 = time.monotonic()
    sent = wait_for(lambda: [r for r in k.requests() if r["t"] > t0 and r["phase"] == "received"
                             and r["path"] == "/pods"], 10, "a poll")[0]
    assert sent["token"] == "token-1"
    # Rotated while that poll waits for its (401) answer.
    agent.token_file.write_text("token-2\n")
    ok = wait_for(lambda: [r for r in k.requests() if r["t"] > sent["t"] and r["status"] == 200
                           and r["token"] == "token-2"], 10, "a successful poll")[0]
    reqs = [r for r in k.requests() if sent["t"] <= r["t"] <= ok["t"] and r["path"] == "/pods"]
    refused = [r for r in reqs if r["phase"] == "answered" and r["status"] == 401]
    retried = [r for r in reqs if r["phase"] == "received" and r["token"] == "token-2"]
    assert refused and retried, reqs
    # The retry came at once, not a poll interval later.
    assert retried[0]["t"] - refused[0]["t"] < 0.3, reqs
    assert (agent.metric("blocksnoop_kubelet_errors_total", (("reason", "unauthorized"),)) or 0) == 0
    assert "refused the bearer token" not in agent.p.stderr
    agent.stop()


# --------------------------------------------------------------------------
# 4. TLS: a certificate that does not verify is a clear error


def blocking_pod(procs, cgroups, tmp_path):
    uid, cid = new_uid(), new_cid()
    App(procs, tmp_path, cgroups.container(uid, cid), block=0.12, pause=0.2, name="t")
    return pod("tls-0", "sec", uid, [("app", containerd(cid))], annotations=ENABLED)


def run_briefly(procs, k, tmp_path, *args, **kw):
    a = Agent(procs, k, tmp_path, "--duration", "3s", **kw)
    a.p.wait(30)
    assert a.p.rc == 0, a.p.describe()
    return a


def test_unverifiable_certificate_is_a_clear_error(procs, cgroups, tmp_path, certs):
    k = Kubelet(procs, tmp_path, certs["node"], pods=[blocking_pod(procs, cgroups, tmp_path)])

    # Signed by a CA the agent was not given.
    a = run_briefly(procs, k, tmp_path, ca=certs["other_ca"])
    err = a.p.stderr
    assert "blocksnoop: error: cannot verify the kubelet's TLS certificate at " + k.url in err, err
    assert "--kubelet-ca-file (now " + str(certs["other_ca"]) + ")" in err, err
    assert "--kubelet-insecure-skip-tls-verify" in err, err
    assert err.count("cannot verify") == 1, err  # said once, not every poll
    recs = parse_json_lines(a.p.stdout)
    assert not [r for r in recs if r["type"] == "blocking_event"], recs
    # The handshake failed: no request (and no token) ever reached it.
    assert not [r for r in k.requests() if r["path"] == "/pods"], k.requests()

    # Signed by the right CA, but for another host name.
    wrong = Kubelet(procs, tmp_path, certs["wrong_name"],
                    pods=[blocking_pod(procs, cgroups, tmp_path)])
    a = run_briefly(procs, wrong, tmp_path, ca=certs["ca"])
    err = a.p.stderr
    assert "cannot verify the kubelet's TLS certificate" in err, err
    assert NODE in err and "make --kubelet-url name the host the certificate was issued for" in err
    assert not [r for r in wrong.requests() if r["path"] == "/pods"]

    # Unless verification is skipped, which it says loudly.
    a = run_briefly(procs, k, tmp_path, ca=certs["other_ca"], insecure=True, json_out=False)
    err = a.p.stderr
    assert "blocksnoop: warning: TLS VERIFICATION OF THE KUBELET IS OFF" in err, err
    assert "cannot verify" not in err, err
    # The console report names the pod and container of each event.
    assert re.search(r"== sec/tls-0  container app  service blocksnoop\n\[ *\d+\.\d+s\] #1  BLOCKED",
                     err), err
    assert "Blocking events: " in err and "Blocking events: 0 " not in err, err


# --------------------------------------------------------------------------
# 5. a container in its own PID and mount namespace (Debian 13 root)


@pytest.fixture(scope="module")
def rootfs(trixie_rootfs):
    return trixie_rootfs

COMM = "/blocksnoop-comm"


def test_container_in_its_own_pid_and_mount_namespace(procs, cgroups, tmp_path, certs, rootfs):
    """k8s_app.py as /app/x.py, run by the root's Python 3.13 as PID 1 of a
    new PID namespace, in a private mount namespace whose root is an
    overlay of the shared root file system (never written): its records
    say PID 1 and carry its stack from its own files."""
    uid, cid = new_uid(), new_cid()
    cg = cgroups.container(uid, cid, qos="besteffort")
    ct = tmp_path / "ct"
    upper, work, merged, comm = ct / "upper", ct / "work", ct / "merged", ct / "comm"
    for p in (upper / "app", upper / COMM.lstrip("/"), work, merged, comm):
        p.mkdir(parents=True)
    shutil.copyfile(APP, upper / "app" / "x.py")
    script = ('mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4" '
              '&& mount --bind "$5" "$4$6" && shift 6 '
              '&& exec unshare --pid --fork --mount-proc --root="$0" "$@"')
    outer = procs.start(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                         str(merged), str(rootfs), str(upper), str(work), str(merged), str(comm),
                         COMM, "/usr/bin/python3", "/app/x.py", COMM, "--block", "0.15",
                         "--pause", "0.2", "--count", "3", "--go"],
                        preexec_fn=join_cgroup(cg))
    # The Python, not a fork of the shell on its way to exec mount.
    host_pid = wait_for(lambda: next((c for c in children(outer.pid)
                                      if pid_cmdline(c).startswith("/usr/bin/python3 /app/x.py")),
                                     None)
                        or (outer.p.poll() is not None and pytest.fail(outer.describe())),
                        20, "the Python in the namespace")
    procs.adopt(host_pid, "/app/x.py")
    truth = comm / "truth"
    ready = wait_for(lambda: next((r for r in read_truth(truth) if r["event"] == "ready"), None),
                     20, "x.py ready")
    assert ready["pid"] == 1 and nspid(host_pid) == [host_pid, 1]

    k = Kubelet(procs, tmp_path, certs["node"], pods=[
        pod("ns-0", "iso", uid, [("app", containerd(cid))], annotations=ENABLED,
            qos="BestEffort", labels={"app.kubernetes.io/name": "isolated"})])
    agent = Agent(procs, k, tmp_path, ca=certs["ca"])
    agent.wait_metric("blocksnoop_watched_processes", series("iso", "ns-0", "app"),
                      lambda v: v == 1)
    (comm / "go").touch()
    wait_for(lambda: len([r for r in read_truth(truth) if r["event"] == "block"]) == 3, 20,
             "3 blocks")
    wait_for(lambda: len(agent.events()) >= 3, 10, f"3 events\n{agent.p.describe()}")
    time.sleep(0.3)
    records = agent.stop()
    events = [r for r in records if r["type"] == "blocking_event"]
    assert len(events) == 3, events
    line = next(n for n, t in enumerate(pathlib.Path(APP).read_text().splitlines(), 1)
                if "# BLOCK-LINE" in t)
    for e in events:
        assert e["pid"] == 1 and e["tid"] == 1, e
        assert e["k8s"] == expected_k8s("iso", "ns-0", uid, "app", cid), e
        assert e["service"] == "isolated", e
        frames = e["python_stacks"][0]
        app_frames = [f for f in frames if f["file"] == "/app/x.py"]
        assert app_frames and app_frames[0]["function"] == "block_here", frames
        assert app_frames[0]["line"] == line, frames
        assert app_frames[0]["source"] == "time.sleep(seconds)  # BLOCK-LINE", frames
        # The standard library is the root's 3.13, not the host's 3.11.
        assert any(f["file"].startswith("/usr/lib/python3.13/asyncio/") for f in frames), frames
    match_loosely(events, [r for r in read_truth(truth) if r["event"] == "block"])


# --------------------------------------------------------------------------
# 6. what the agent keeps after set-up follows its options, as the CLI's does

CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE = 1, 2, 19


def test_caps_follow_sampler_and_log_file(procs, cgroups, tmp_path, certs):
    """--sampler none: the stack reader's CAP_SETUID and CAP_SETGID are not
    kept. A log directory root does not own: CAP_DAC_OVERRIDE is kept (the
    kernel said reopening needs it), and logrotate's rename + SIGHUP
    creates the new file there."""
    uid, cid = new_uid(), new_cid()
    App(procs, tmp_path, cgroups.container(uid, cid), block=0.12, pause=0.2, name="t")
    k = Kubelet(procs, tmp_path, certs["node"],
                pods=[pod("logs-0", "ops", uid, [("app", containerd(cid))], annotations=ENABLED)])
    d = pathlib.Path(tempfile.mkdtemp(prefix="bs-agent-logdir-", dir="/tmp"))
    try:
        os.chown(d, 65534, 65534)
        d.chmod(0o755)
        log = d / "agent.log"
        agent = Agent(procs, k, tmp_path, "--sampler", "none", "--log-file", str(log),
                      ca=certs["ca"])
        st = caps_of(agent.p.pid)
        want = (1 << CAP_SYS_PTRACE) | (1 << CAP_DAC_READ_SEARCH) | (1 << CAP_DAC_OVERRIDE)
        assert int(st["CapEff"], 16) == want, st
        assert int(st["CapPrm"], 16) == want, st

        def events(path):
            try:
                text = path.read_text()
            except FileNotFoundError:
                return []
            return [r for r in parse_json_lines(text, where=str(path))
                    if r["type"] == "blocking_event"]

        wait_for(lambda: events(log), 20, f"an event in the log file\n{agent.p.describe()}")
        os.rename(log, d / "agent.log.1")
        agent.p.send(signal.SIGHUP)
        wait_for(lambda: events(log), 20, f"the reopened log file\n{agent.p.describe()}")
        assert "still writing to the log file opened before" not in agent.p.stderr, \
            agent.p.stderr
        agent.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------
# 7. usage and start-up errors


def run_agent(*args, env=None, timeout=20):
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("NODE_NAME", "HOST_IP", "POD_UID") and not k.startswith("BLOCKSNOOP_")}
    full_env.update(env or {})
    return subprocess.run([BLOCKSNOOP, "agent", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def one_error(r, rc):
    assert r.returncode == rc, (r.returncode, r.stdout, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.startswith("blocksnoop: error: ")]
    assert len(lines) == 1 and r.stdout == "", r.stderr
    return lines[0]


def test_usage_errors(tmp_path):
    assert "NODE_NAME" in one_error(run_agent(), 2)
    assert "--poll-interval" in one_error(run_agent("--node-name", "n", "--poll-interval", "0"), 2)
    assert "in clear" in one_error(run_agent("--node-name", "n", "--kubelet-url", "http://n:10255"), 2)
    assert "below --min-threshold" in one_error(run_agent("--node-name", "n", "-t", "5"), 2)
    assert "--metrics-addr" in one_error(run_agent("--node-name", "n", "--metrics-addr", "x"), 2)
    assert "BLOCKSNOOP_JSON" in one_error(run_agent(env={"NODE_NAME": "n",
                                                         "BLOCKSNOOP_JSON": "perhaps"}), 2)
    assert "--kubelet-ca-file" in one_error(
        run_agent("--node-name", "n", "--kubelet-ca-file", str(tmp_path / "missing.crt")), 2)
    assert "--kubelet-token-file" in one_error(
        run_agent("--node-name", "n", "--kubelet-token-file", str(tmp_path / "missing")), 2)
    r = run_agent("--help")
    assert r.returncode == 0 and "blocksnoop.io/enabled" in r.stdout, r
    # The metrics port is taken: a clear error before anything is loaded.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        line = one_error(run_agent("--node-name", "n", "--kubelet-token-file", "",
                                   "--metrics-addr", f"127.0.0.1:{port}"), 1)
    assert "cannot serve /metrics on 127.0.0.1:" in line and "--metrics-addr" in line, line
