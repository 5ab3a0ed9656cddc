"""The Kubernetes manifests (manifests/) and the demo (examples/k8s/).

No cluster here, so:
  * every file parses as YAML, and the fields the agent depends on are
    checked one by one (hostPID, the downward API, the mounts, RBAC, the
    liveness probe and Prometheus annotations against --metrics-addr);
  * the real `blocksnoop agent` runs with the DaemonSet's own arguments and
    environment against a fake kubelet serving the demo pod: it must accept
    them, find no annotation error, and answer the probe and scrape paths;
  * every object is validated against the Kubernetes OpenAPI schema with
    Node.js and the npm package kubernetes-models (`make e2e` installs it
    into build/k8s-models, as pinned by tests/e2e/npm/package-lock.json;
    K8S_MODELS says where);
  * the demo app, taken out of its ConfigMap, blocks its loop where the
    walk-through says when blocksnoop watches it.
"""
import http.server
import json
import os
import pathlib
import re
import shutil
import socket
import ssl
import subprocess
import threading
import urllib.request
import uuid

import pytest
import yaml

from conftest import BLOCKSNOOP, PY, ROOT, check_common, wait_for

MANIFESTS = ROOT / "manifests"
EXAMPLES = ROOT / "examples" / "k8s"
K8S_MODELS_DIR = pathlib.Path(os.environ.get("K8S_MODELS", ROOT / "build" / "k8s-models"))
VERSION = re.search(r"^VERSION := (\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)


def load_docs(path):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert docs, f"{path} holds no YAML document"
    return docs


def all_yaml_files():
    files = sorted([*MANIFESTS.glob("*.yaml"), *EXAMPLES.glob("*.yaml")])
    assert files, "no manifests found"
    return files


def objects(*dirs):
    out = []
    for d in dirs:
        for f in sorted(d.glob("*.yaml")):
            out += [(f, doc) for doc in load_docs(f) if doc.get("kind") != "Kustomization"]
    return out


def find(kind, name=None, dirs=(MANIFESTS,)):
    found = [doc for _, doc in objects(*dirs)
             if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def ds():
    return find("DaemonSet", "blocksnoop")


@pytest.fixture(scope="module")
def agent(ds):
    containers = ds["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, containers
    return containers[0]


def option(args, name):
    """The value of --name in an argument list (--name=V or --name V)."""
    for i, a in enumerate(args):
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
        if a == f"--{name}":
            return args[i + 1]
    return None


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


# --------------------------------------------------------------------------
# files


@pytest.mark.parametrize("path", all_yaml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_parses_as_kubernetes_objects(path):
    for doc in load_docs(path):
        assert isinstance(doc, dict), doc
        assert isinstance(doc.get("apiVersion"), str) and isinstance(doc.get("kind"), str), doc
        if doc["kind"] != "Kustomization":
            assert doc.get("metadata", {}).get("name"), doc


def test_kustomization(ds, agent):
    k = load_docs(MANIFESTS / "kustomization.yaml")
    assert len(k) == 1 and k[0]["kind"] == "Kustomization", k
    k = k[0]
    listed = set(k["resources"])
    present = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present, f"kustomization resources {listed} != files {present}"
    # The image entry rewrites the DaemonSet's image; both say this version.
    name, tag = agent["image"].rsplit(":", 1)
    assert tag == VERSION, f"DaemonSet image {agent['image']} is not version {VERSION}"
    images = {i["name"]: i for i in k["images"]}
    assert name in images and images[name]["newTag"] == VERSION, k["images"]


def test_everything_in_one_namespace_that_allows_privileged_pods():
    ns = find("Namespace")
    name = ns["metadata"]["name"]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged", ns
    for path, doc in objects(MANIFESTS):
        if doc["kind"] in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert "namespace" not in doc["metadata"], (path, doc["metadata"])
        else:
            assert doc["metadata"].get("namespace") == name, (path, doc["metadata"])


def test_rbac_is_get_nodes_pods_only(ds):
    role = find("ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes/pods"], "verbs": ["get"]}], (
        "the agent needs exactly `get nodes/pods` (nodes/proxy only as a commented "
        f"fallback): {role['rules']}")
    text = (MANIFESTS / "rbac.yaml").read_text()
    assert re.search(r"^\s*#\s*resources: \[\"nodes/proxy\"\]", text, re.M), (
        "the nodes/proxy fallback for clusters older than 1.33 should be there, commented")
    binding = find("ClusterRoleBinding")
    sa = find("ServiceAccount")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": role["metadata"]["name"]}, binding
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": sa["metadata"]["namespace"]}], binding
    pod = ds["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == sa["metadata"]["name"], pod
    # The kubelet token is the service account's: it must be mounted.
    assert pod.get("automountServiceAccountToken", True) is True
    assert sa.get("automountServiceAccountToken", True) is True


def test_daemonset_runs_everywhere_in_the_host_pid_namespace(ds):
    spec = ds["spec"]
    pod = spec["template"]["spec"]
    assert pod["hostPID"] is True, "BPF reports host PIDs: hostPID must be true"
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items(), (spec["selector"], labels)
    assert {"operator": "Exists"} in pod["tolerations"], (
        f"tolerate every taint, to run on every node: {pod['tolerations']}")
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}, pod.get("nodeSelector")


def test_agent_command_line(agent):
    args = agent["args"]
    assert args[0] == "agent", f"the DaemonSet must run `blocksnoop agent`: {args}"
    assert option(args, "log-file") and option(args, "log-file").startswith("/var/log/blocksnoop/")
    assert option(args, "poll-interval") == "10s", args
    assert option(args, "metrics-addr"), args
    # Every flag and BLOCKSNOOP_* variable of the manifest is one the agent knows.
    r = subprocess.run([BLOCKSNOOP, "agent", "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r
    help_text = r.stdout
    for a in args[1:]:
        if a.startswith("-"):
            flag = a.split("=", 1)[0]
            assert re.search(rf"(^|\s){re.escape(flag)}(\s|,|$)", help_text, re.M), (
                f"{flag} is not an option of `blocksnoop agent`")
    for name in env_of(agent):
        if name.startswith("BLOCKSNOOP_"):
            assert f"[{name}]" in help_text, f"{name} is not a variable of `blocksnoop agent`"


def test_downward_api(agent):
    env = env_of(agent)
    for name, path in (("NODE_NAME", "spec.nodeName"), ("HOST_IP", "status.hostIP"),
                       ("POD_UID", "metadata.uid")):
        assert name in env, f"{name} is not set"
        assert env[name].get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == path, env[name]


def test_privileges(ds, agent):
    sc = agent["securityContext"]
    assert sc.get("runAsUser") == 0, "capabilities work only for uid 0 in Kubernetes"
    if sc.get("privileged"):
        return
    caps = sc["capabilities"]
    assert caps["drop"] == ["ALL"], caps
    need = {"BPF", "PERFMON", "SYS_ADMIN", "SYS_PTRACE", "DAC_READ_SEARCH", "SETUID", "SETGID"}
    assert need <= set(caps["add"]), f"missing {need - set(caps['add'])}"
    # SETPCAP: give capabilities up; SYS_CHROOT: the Austin shim's chroot.
    assert not set(caps["add"]) - need - {"SETPCAP", "SYS_CHROOT"}, \
        f"more than needed: {caps['add']}"
    # A capability list with SYS_ADMIN cannot go with this (the API rejects it).
    assert sc.get("allowPrivilegeEscalation", True) is True, sc


def test_apparmor_and_seccomp_are_stated(ds, agent):
    """The GA fields (Kubernetes 1.30+), not the deprecated beta
    annotation; seccomp stated Unconfined so that a kubelet's
    --seccomp-default (RuntimeDefault) cannot refuse bpf(),
    perf_event_open() or setns() to the agent."""
    sc = agent["securityContext"]
    if sc.get("privileged"):
        return
    assert sc.get("appArmorProfile") == {"type": "Unconfined"}, sc
    assert sc.get("seccompProfile") == {"type": "Unconfined"}, sc
    pod = ds["spec"]["template"]
    annotations = pod["metadata"].get("annotations", {})
    assert not [a for a in annotations if a.startswith("container.apparmor.security.beta.")
                or a.startswith("seccomp.security.alpha.")], annotations
    # Nothing at the pod level says otherwise.
    for key in ("appArmorProfile", "seccompProfile"):
        assert pod["spec"].get("securityContext", {}).get(key) in (None, sc[key]), pod["spec"]


def test_austin_is_opt_in_and_its_capabilities_documented(agent):
    """The DaemonSet does not run Austin unless told (least privilege), and
    says how: the image's own Austin, and what it needs beyond the built-in
    sampler (docs/kubernetes.md)."""
    args = agent["args"]
    assert option(args, "sampler") in (None, "builtin"), args
    assert option(args, "austin") is None and option(args, "austin-root") is None, args
    text = (MANIFESTS / "daemonset.yaml").read_text()
    assert "# - --austin=/usr/bin/austin" in text and "# - --sampler=austin" in text
    docs = (ROOT / "docs" / "kubernetes.md").read_text()
    for cap in ("CAP_SYS_ADMIN", "CAP_SYS_CHROOT", "CAP_SETPCAP", "CAP_SYS_PTRACE"):
        assert cap in docs, f"docs/kubernetes.md does not say why Austin needs {cap}"
    assert "blocksnoop.io/sampler" in docs


def test_mounts(ds, agent):
    pod = ds["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in agent["volumeMounts"]}

    def host_path(mount_path):
        assert mount_path in mounts, f"nothing mounted on {mount_path}"
        vol = volumes[mounts[mount_path]["name"]]
        assert "hostPath" in vol, vol
        return vol["hostPath"]

    assert host_path("/sys/kernel/tracing")["path"] == "/sys/kernel/tracing"
    assert host_path("/sys/kernel/debug")["path"] == "/sys/kernel/debug"
    log_dir = os.path.dirname(option(agent["args"], "log-file"))
    logs = host_path(log_dir)
    assert logs == {"path": "/var/log/blocksnoop", "type": "DirectoryOrCreate"}, logs
    assert not mounts[log_dir].get("readOnly"), "the log directory must be writable"


def metrics_port(agent):
    addr = option(agent["args"], "metrics-addr")
    m = re.fullmatch(r"(\[[^\]]*\]|[^:]*):(\d+)", addr)
    assert m, f"--metrics-addr {addr!r} is not [HOST]:PORT"
    assert m.group(1) in ("", "0.0.0.0", "[::]"), (
        f"--metrics-addr {addr!r} must listen on all addresses for the kubelet's probe")
    return int(m.group(2))


def test_liveness_probe_and_scrape_annotations_match_metrics_addr(ds, agent):
    port = metrics_port(agent)
    ports = {p["name"]: p["containerPort"] for p in agent["ports"]}
    probe = agent["livenessProbe"]["httpGet"]
    assert probe["path"] == "/healthz", probe
    probe_port = ports.get(probe["port"], probe["port"])
    assert probe_port == port, f"liveness probe port {probe['port']} != --metrics-addr port {port}"
    ann = ds["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true", ann
    assert ann["prometheus.io/port"] == str(port), ann
    assert ann["prometheus.io/path"] == "/metrics", ann
    res = agent["resources"]
    for k in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(res[k]), res


# --------------------------------------------------------------------------
# the real agent with the DaemonSet's command line


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_pod():
    """The pod the demo Deployment makes, as the kubelet would list it."""
    dep = find("Deployment", "blocking-demo", dirs=(EXAMPLES,))
    tmpl = dep["spec"]["template"]
    return {
        "metadata": {"name": "blocking-demo-5d8f9c7b6-x2x8q",
                     "namespace": dep["metadata"]["namespace"],
                     "uid": str(uuid.uuid4()),
                     "labels": tmpl["metadata"]["labels"],
                     "annotations": tmpl["metadata"]["annotations"]},
        "spec": {"nodeName": "test-node",
                 "containers": [{"name": c["name"], "image": c["image"]}
                                for c in tmpl["spec"]["containers"]]},
        "status": {"phase": "Running", "hostIP": "127.0.0.1", "containerStatuses": [
            {"name": c["name"], "image": c["image"], "ready": True, "restartCount": 0,
             "containerID": "containerd://" + uuid.uuid4().hex + uuid.uuid4().hex,
             "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}
            for c in tmpl["spec"]["containers"]]},
    }


class FakeKubelet(http.server.ThreadingHTTPServer):
    """HTTPS (the agent sends its token over nothing else) with a
    self-signed certificate for 127.0.0.1, made in directory d: self.ca."""

    def __init__(self, podlist, d):
        self.podlist = json.dumps(podlist).encode()
        self.paths = []
        super().__init__(("127.0.0.1", 0), self.Handler)
        self.ca, key = d / "kubelet.crt", d / "kubelet.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                        str(self.ca), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True,
                       timeout=60)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.ca, key)
        self.socket = ctx.wrap_socket(self.socket, server_side=True)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.server.paths.append(self.path)
            body = self.server.podlist if self.path == "/pods" else b"{}"
            self.send_response(200 if self.path == "/pods" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass


def metric(text, name):
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def test_agent_runs_with_the_daemonset_command_line(ds, agent, procs, tmp_path):
    """`blocksnoop agent` with the DaemonSet's args and env (downward-API
    values filled in; the log file, listen address and kubelet replaced by
    local ones), asked by a fake kubelet about the demo pod."""
    own_uid = str(uuid.uuid4())
    kubelet = FakeKubelet({"kind": "PodList", "apiVersion": "v1", "metadata": {},
                           "items": [demo_pod()]}, tmp_path)
    threading.Thread(target=kubelet.serve_forever, daemon=True).start()
    try:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for name, e in env_of(agent).items():
            env[name] = e.get("value", "")
        env.update(NODE_NAME="test-node", HOST_IP="127.0.0.1", POD_UID=own_uid,
                   BLOCKSNOOP_KUBELET_URL=f"https://127.0.0.1:{kubelet.server_address[1]}",
                   BLOCKSNOOP_KUBELET_TOKEN_FILE="", BLOCKSNOOP_KUBELET_CA_FILE=str(kubelet.ca))
        port = free_port()
        args = []
        for a in agent["args"]:
            if a.startswith("--log-file="):
                a = f"--log-file={tmp_path / 'blocksnoop.log'}"
            elif a.startswith("--metrics-addr="):
                a = f"--metrics-addr=127.0.0.1:{port}"
            args.append(a)
        assert option(args, "metrics-addr") != option(agent["args"], "metrics-addr")
        p = procs.start([BLOCKSNOOP, *args, "--duration", "4s"], env=env)

        probe = agent["livenessProbe"]["httpGet"]["path"]
        scrape = ds["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"]

        def get(path):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                    return r.status, r.read().decode()
            except OSError:
                if p.p.poll() is not None:
                    pytest.fail(f"the agent exited\n{p.describe()}")
                return None

        status, body = wait_for(lambda: get(probe), 10, f"the agent's {probe}")
        assert status == 200 and body.startswith("ok"), body
        text = wait_for(lambda: (lambda r: r and metric(r[1], "blocksnoop_kubelet_up") == 1 and r[1])(
            get(scrape)), 10, "a successful kubelet poll in /metrics")
        assert metric(text, "blocksnoop_watched_pods") == 1, text
        assert metric(text, "blocksnoop_config_errors_total") == 0, (
            f"the demo's annotations are not valid for the agent\n{text}\n{p.describe()}")
        assert p.wait(20) == 0, p.describe()
        assert "/pods" in kubelet.paths, kubelet.paths
        assert "config_error" not in (tmp_path / "blocksnoop.log").read_text(), p.describe()
    finally:
        kubelet.shutdown()
        kubelet.server_close()


# --------------------------------------------------------------------------
# schema validation (kubernetes-models, npm)

VALIDATE_JS = r"""
const path = require('path');
const root = process.argv[process.argv.length - 1];  // node -e CODE ROOT
const docs = JSON.parse(require('fs').readFileSync(0, 'utf8'));
let failed = 0;
for (const d of docs) {
  const dir = d.obj.apiVersion;  // "v1", "apps/v1": the package's directories
  try {
    const Cls = require(path.join(root, 'node_modules', 'kubernetes-models', dir, d.obj.kind))[d.obj.kind];
    new Cls(d.obj).validate();
    console.log('ok ' + d.where);
  } catch (e) {
    failed++;
    console.log('FAIL ' + d.where + ': ' + e.message);
  }
}
process.exit(failed ? 1 : 0);
"""


@pytest.fixture(scope="module")
def k8s_models():
    assert shutil.which("node"), "node is not installed (`make deps-test` installs it)"
    pinned = json.loads((ROOT / "tests" / "e2e" / "npm" / "package.json").read_text())
    marker = K8S_MODELS_DIR / "node_modules" / "kubernetes-models" / "package.json"
    assert marker.exists() and json.loads(marker.read_text())["version"] == \
        pinned["dependencies"]["kubernetes-models"], (
            f"no kubernetes-models {pinned['dependencies']['kubernetes-models']} in "
            f"{K8S_MODELS_DIR}: `make e2e` installs it")
    return K8S_MODELS_DIR


def validate(k8s_models, docs):
    payload = json.dumps([{"obj": d, "where": w} for w, d in docs])
    return subprocess.run(["node", "-e", VALIDATE_JS, str(k8s_models)], input=payload,
                          capture_output=True, text=True, timeout=120)


def test_schema(k8s_models):
    docs = [(f"{path.relative_to(ROOT)}: {doc['kind']} {doc['metadata']['name']}", doc)
            for path, doc in objects(MANIFESTS, EXAMPLES)]
    r = validate(k8s_models, docs)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("ok ") == len(docs), r.stdout


def test_schema_check_catches_mistakes(k8s_models, ds):
    """The validator is not a no-op."""
    bad = json.loads(json.dumps(ds))
    bad["spec"]["template"]["spec"]["hostPID"] = "true"
    r = validate(k8s_models, [("hostPID as a string", bad)])
    assert r.returncode != 0 and "hostPID must be boolean" in r.stdout, r.stdout + r.stderr
    bad = json.loads(json.dumps(ds))
    sc = bad["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    sc["appArmorProfile"] = "unconfined"  # the annotation's value, not the field's form
    sc["seccompProfile"] = {"localhostProfile": "x"}  # no type
    r = validate(k8s_models, [("appArmorProfile and seccompProfile malformed", bad)])
    assert r.returncode != 0 and "appArmorProfile must be object" in r.stdout \
        and "seccompProfile must have required property type" in r.stdout, r.stdout + r.stderr


# --------------------------------------------------------------------------
# the demo app


def test_demo_app_blocks_where_the_walkthrough_says(procs, tmp_path):
    cm = find("ConfigMap", "blocking-demo", dirs=(EXAMPLES,))
    for name, text in cm["data"].items():
        (tmp_path / name).write_text(text)
    port = free_port()
    env = {**os.environ, "PORT": str(port), "TARGET": f"http://127.0.0.1:{port}"}
    b = procs.start([BLOCKSNOOP, "--json", "-t", "50", "--duration", "6", "--",
                     PY, "-u", str(tmp_path / "app.py")], env=env)
    b.wait_record("session_start", timeout=20)

    def up():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                return r.read() == b"ok\n"
        except OSError:
            return False
    wait_for(up, 10, "the demo app to answer")
    procs.start([PY, "-u", str(tmp_path / "load.py")], env=env)
    assert b.wait(30) == 0, b.describe()
    records = b.records()
    check_common(records)
    events = [r for r in records if r["type"] == "blocking_event"]
    app = str(tmp_path / "app.py")
    inner = {}
    for e in events:
        frames = [f for f in (e["python_stacks"] or [[]])[0] if f["file"] == app]
        assert frames, f"an event without a demo frame: {e}"
        inner.setdefault(frames[0]["function"], []).append(e["duration_ms"])
    assert set(inner) == {"slow_sync_client", "hash_password"}, (inner, b.describe())
    assert all(240 <= d <= 300 for d in inner["slow_sync_client"]), inner
    assert all(50 <= d for d in inner["hash_password"]), inner
