# SPDX-License-Identifier: Apache-2.0
"""A node for `blocksnoop agent` without a cluster, as tests/e2e/test_agent.py
builds it: the stand-in kubelet (tests/fixtures/k8s_kubelet.py) over HTTPS
with a certificate made here by openssl, and real cgroup v2 directories
named the way a kubelet's systemd driver names them, under
/sys/fs/cgroup/unified/kubepods.slice/kubepods-burstable.slice/.

The cgroups come from tests/fixtures/pod_cgroups.py, as in the e2e tests:
Cgroups.cleanup() kills what is left in them (by PID) and removes them; the
shared parents are removed by whichever run ends last.
"""
import json
import os
import secrets
import subprocess
import sys
import uuid

from . import procs
from .context import PYTHON, ROOT

# Pod cgroups are made and removed as the e2e tests do, by their one home.
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))
from pod_cgroups import CGROUP2, Cgroups  # noqa: E402,F401

NODE = "node-bench.test"
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
