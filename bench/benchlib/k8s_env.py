# SPDX-License-Identifier: Apache-2.0
"""A node for `blocksnoop agent` without a cluster, as tests/e2e/test_agent.py
builds it: the stand-in kubelet (tests/fixtures/k8s_kubelet.py) over HTTPS
with a certificate made here by openssl, and real cgroup v2 directories
named the way a kubelet's systemd driver names them, under
/sys/fs/cgroup/unified/kubepods.slice/kubepods-burstable.slice/.

Cgroups.cleanup() kills what is left in the leaves made here (by PID: only
our processes can be in cgroups with our random IDs) and removes every
directory made here, deepest first. The shared parents (kubepods.slice,
kubepods-burstable.slice) are listed in the same registry the e2e tests
use, and whichever run ends last removes them; a parent no run made (a
real node's) is never touched.
"""
import fcntl
import json
import os
import pathlib
import secrets
import signal
import subprocess
import time
import uuid

from . import procs
from .context import PYTHON, ROOT

NODE = "node-bench.test"
CGROUP2 = pathlib.Path("/sys/fs/cgroup/unified")
SHARED_PARENTS = pathlib.Path("/run/blocksnoop-e2e-cgroup-parents")
KUBELET = os.path.join(ROOT, "tests", "fixtures", "k8s_kubelet.py")
TOKEN = "bench-token"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certs(d):
    """A CA and a server certificate for NODE signed by it: (ca, crt, key)."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=blocksnoop bench ca",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    with open(os.path.join(d, "node.ext"), "w") as f:
        f.write(f"subjectAltName=DNS:{NODE}\nextendedKeyUsage=serverAuth\n"
                "basicConstraints=CA:FALSE\n")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", "node.key", "-out", "node.csr", "-subj", f"/CN={NODE}", cwd=d)
    openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "node.crt", "-days", "2", "-extfile", "node.ext", cwd=d)
    return tuple(os.path.join(d, n) for n in ("ca.crt", "node.crt", "node.key"))


def _shared_parents(update):
    """Under a lock, the listed parents, replaced by update(listed)."""
    with open(SHARED_PARENTS, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        listed = [line for line in f.read().split("\n") if line]
        kept = update(listed)
        f.seek(0)
        f.truncate()
        f.write("".join(f"{p}\n" for p in kept))


def _remove_empty(listed):
    kept = []
    for p in sorted(listed, key=len, reverse=True):
        try:
            os.rmdir(p)
        except FileNotFoundError:
            pass
        except OSError:
            kept.append(p)  # in use by another run
    return kept


class Cgroups:
    def __init__(self):
        self.made, self.leaves = [], []

    def container(self, pod_uid, cid):
        parts = ["kubepods.slice", "kubepods-burstable.slice",
                 f"kubepods-burstable-pod{pod_uid.replace('-', '_')}.slice",
                 f"cri-containerd-{cid}.scope"]
        path = CGROUP2
        for p in parts:
            path = path / p
            try:
                path.mkdir()
            except FileExistsError:
                continue
            self.made.append(path)
            if "-pod" not in p and p.startswith("kubepods"):
                _shared_parents(lambda listed, made=str(path): [*listed, made])
        self.leaves.append(path)
        return path

    @staticmethod
    def pids(path):
        try:
            return [int(x) for x in (path / "cgroup.procs").read_text().split()]
        except FileNotFoundError:
            return []

    def cleanup(self):
        for leaf in self.leaves:
            deadline = time.monotonic() + 10
            while self.pids(leaf) and time.monotonic() < deadline:
                for pid in self.pids(leaf):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.05)
        for path in reversed(self.made):
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if path not in self.leaves:
                        break  # a shared parent in use by someone else
                    time.sleep(0.1)
        if SHARED_PARENTS.exists():
            _shared_parents(_remove_empty)
        self.made, self.leaves = [], []


def joiner(cgroup):
    """preexec: join cgroup before exec."""
    procs_file = str(cgroup / "cgroup.procs")

    def join():
        with open(procs_file, "w") as f:
            f.write("0")
    return join


def new_pod(name, ncontainers=1):
    """(pod uid, [container ids]) for a new pod."""
    return str(uuid.uuid4()), [secrets.token_hex(32) for _ in range(ncontainers)]


def pod_json(name, uid, cid):
    """A running, opted-in v1 Pod with one container, as /pods lists it."""
    return {"metadata": {"name": name, "namespace": "bench", "uid": uid,
                         "annotations": {"blocksnoop.io/enabled": "true"}},
            "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "bench:1"}]},
            "status": {"phase": "Running", "qosClass": "Burstable",
                       "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0,
                                              "containerID": f"containerd://{cid}",
                                              "state": {"running": {}}}]}}


class Kubelet:
    """The stand-in kubelet; set_pods() changes what its next answer lists."""

    def __init__(self, d, cert, key):
        self.state = os.path.join(d, "kubelet-state.json")
        self.set_pods([])
        port_file = os.path.join(d, "kubelet-port")
        self.proc = procs.start([PYTHON, KUBELET, "--cert", cert, "--key", key,
                                 "--state", self.state, "--log", os.path.join(d, "kubelet.log"),
                                 "--port-file", port_file], "kubelet")
        port = procs.wait_until(lambda: os.path.exists(port_file) and open(port_file).read(),
                                20, "the stand-in kubelet", self.proc)
        self.url = f"https://{NODE}:{int(port)}"

    def set_pods(self, pods):
        tmp = self.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"token": TOKEN, "mode": "ok", "pods": pods}, f)
        os.rename(tmp, self.state)
