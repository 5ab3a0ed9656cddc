"""The container image (Dockerfile), built and run for real with podman.

No Docker engine is needed: podman builds the Dockerfile unchanged
(`--isolation=chroot`) and runs it with runc, as root. The base image
(debian:trixie-slim) is made locally from Debian's archive with mmdebstrap
and imported under a test tag, so nothing is pulled from a registry.

Caching, because a build takes minutes: the built image is saved to
build/image/blocksnoop-test-<hash>.tar, where <hash> covers the Dockerfile,
.dockerignore and every file of the build context. A later run with the same
hash loads that archive instead of building. The base tar is kept in
build/image/ too. In podman's storage the tests leave nothing behind: their
containers, the test image and the test base image are removed at teardown
(`make clean` removes the archives).

Set BLOCKSNOOP_IMAGE_TESTS=0 to skip this module (e.g. offline). Otherwise a
missing tool (podman, runc, mmdebstrap: `make deps-test`) fails the tests.
"""
import hashlib
import os
import pathlib
import re
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
import warnings

import pytest
import yaml

from conftest import (PY, ROOT, check_common, check_events, match_blocks, parse_json_lines,
                      py_fixture, read_truth, truth_blocks, wait_for)
from test_agent import certs, cgroups  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(os.environ.get("BLOCKSNOOP_IMAGE_TESTS") == "0",
                                reason="BLOCKSNOOP_IMAGE_TESTS=0")

CACHE = ROOT / "build" / "image"
BASE_TAR = CACHE / "debian-trixie-minbase.tar"
REPO = "localhost/blocksnoop-test"
BASE_REPO = "localhost/blocksnoop-test-base"
# runc, not crun; rlimits may not be raised here; host network (no CNI set-up).
RUN = ["podman", "--runtime", "runc", "run", "--rm", "--ulimit", "nofile=1024:1024",
       "--ulimit", "nproc=1000:1000", "--network=host"]
PRIV = ["--privileged", "--pid=host"]


def sh(argv, timeout, check=True, **kw):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and r.returncode != 0:
        pytest.fail(f"{argv} exited {r.returncode}\n--- stdout:\n{r.stdout[-4000:]}\n"
                    f"--- stderr:\n{r.stderr[-4000:]}")
    return r


# --------------------------------------------------------------------------
# the build context and its hash


def dockerignore_patterns():
    """.dockerignore as regexes. Only the subset we use is supported (plain
    names, `*`, `?`, a leading `**/`); anything else fails the test rather
    than giving a wrong hash."""
    pats = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("!") and "[" not in line and "\\" not in line, (
            f".dockerignore pattern {line!r} is not supported by {__file__}")
        line = line.strip("/")
        anydepth = line.startswith("**/")
        if anydepth:
            line = line[3:]
        assert "**" not in line, f".dockerignore pattern {line!r} is not supported"
        rx = "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c)
                     for c in line)
        # A match also excludes everything below it.
        pats.append(re.compile(("(?:.*/)?" if anydepth else "") + rx + "(?:/.*)?"))
    return pats


def context_files():
    """Relative paths of the files podman sends as the build context."""
    pats = dockerignore_patterns()

    def ignored(rel):
        return any(p.fullmatch(rel) for p in pats)

    files = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        base = pathlib.Path(dirpath).relative_to(ROOT)
        dirnames[:] = sorted(d for d in dirnames if not ignored((base / d).as_posix()))
        files += [(base / f).as_posix() for f in sorted(filenames)
                  if not ignored((base / f).as_posix())]
    return files


def context_hash():
    h = hashlib.sha256()
    for rel in ["Dockerfile", ".dockerignore", *context_files()]:
        path = ROOT / rel
        h.update(rel.encode() + b"\0")
        if path.is_symlink():
            h.update(b"link:" + os.readlink(path).encode())
        else:
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:16]


def test_context_is_what_make_needs():
    """The context holds the sources `make` builds from and none of the
    big or irrelevant trees (build/, .git, tests)."""
    files = context_files()
    for needed in ("Makefile", "LICENSE", "bpf/gap_detector.bpf.c", "agent/main.c"):
        assert needed in files, f"{needed} is not in the build context"
    for rel in files:
        top = rel.split("/")[0]
        assert top not in ("build", ".git", "tests", "docs", "bench", "manifests"), rel


# --------------------------------------------------------------------------
# building (or loading) the image once per session


def image_exists(ref):
    return sh(["podman", "image", "exists", ref], 30, check=False).returncode == 0


def ensure_base_tar():
    if BASE_TAR.exists():
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    # mmdebstrap picks its output format from the name: keep ".tar" last.
    tmp = BASE_TAR.with_name(f"{BASE_TAR.stem}.tmp{os.getpid()}.tar")
    try:
        # `stable` is Debian 13 (trixie), as the Dockerfile's base.
        sh(["mmdebstrap", "--variant=minbase",
            '--aptopt=Acquire::Check-Valid-Until "false"', "stable", str(tmp)], 900)
        tmp.rename(BASE_TAR)
    finally:
        tmp.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def image():
    for tool in ("podman", "runc", "mmdebstrap"):
        assert shutil.which(tool), f"{tool} is not installed (sudo make deps-test)"
    tag = context_hash()
    ref = f"{REPO}:{tag}"
    base_ref = f"{BASE_REPO}:{tag}"
    archive = CACHE / f"blocksnoop-test-{tag}.tar"
    made = []  # what to remove at the end
    cgroups_before = set(pathlib.Path("/sys/fs/cgroup").glob(PODMAN_CGROUPS))
    try:
        if archive.exists():
            sh(["podman", "load", "-q", "-i", str(archive)], 300)
            made.append(ref)
            assert image_exists(ref), f"{archive} did not hold {ref}"
        else:
            ensure_base_tar()
            sh(["podman", "import", "-q", str(BASE_TAR), base_ref], 300)
            t0 = time.monotonic()
            try:
                # --layers=false: no intermediate images are left behind.
                r = sh(["podman", "build", "--pull=never", "--isolation=chroot",
                        "--layers=false", "--build-arg", f"DEBIAN_IMAGE={base_ref}",
                        "-t", ref, str(ROOT)], 1800, check=False)
            finally:
                remove_image(base_ref)
            if image_exists(ref):
                made.append(ref)
            assert r.returncode == 0, (
                f"podman build failed ({r.returncode})\n--- output (tail):\n"
                f"{(r.stdout + r.stderr)[-6000:]}")
            print(f"\nbuilt {ref} in {time.monotonic() - t0:.0f}s")
            tmp = archive.with_suffix(f".tmp{os.getpid()}")
            try:
                sh(["podman", "save", "-q", "-o", str(tmp), ref], 300)
                tmp.rename(archive)
            finally:
                tmp.unlink(missing_ok=True)
            for old in CACHE.glob("blocksnoop-test-*.tar"):
                if old != archive:
                    old.unlink(missing_ok=True)
        yield ref
    finally:
        for r in reversed(made):
            remove_image(r)
        remove_podman_cgroups(cgroups_before)


# podman (cgroupfs manager) puts its containers under a parent cgroup of its
# own in every hierarchy, and leaves that behind.
PODMAN_CGROUPS = "*/libpod_parent"


def remove_podman_cgroups(before):
    """Remove the parent cgroups podman made during the tests (those absent
    before), deepest first; one still in use stays."""
    for top in set(pathlib.Path("/sys/fs/cgroup").glob(PODMAN_CGROUPS)) - before:
        for d in sorted((p for p in top.rglob("*") if p.is_dir()), reverse=True) + [top]:
            try:
                d.rmdir()
            except OSError as e:
                warnings.warn(f"could not remove podman's cgroup {d}: {e}")


def remove_image(ref):
    for _ in range(3):
        r = sh(["podman", "rmi", "-f", ref], 120, check=False)
        if not image_exists(ref):
            return
        time.sleep(1)
    warnings.warn(f"could not remove the test image {ref}: {r.stderr.strip()}")


@pytest.fixture
def containers():
    """Names for `podman run --name`; whatever still exists at teardown is
    removed (a killed `podman run` leaves its container running)."""
    names = []

    def new():
        names.append(f"blocksnoop-test-{uuid.uuid4().hex[:12]}")
        return names[-1]
    yield new
    for n in names:
        sh(["podman", "rm", "-f", "-i", n], 120, check=False)


def run_image(image, containers, *args, entrypoint=None, priv=False, timeout=120):
    argv = [*RUN, "--name", containers(), *(PRIV if priv else [])]
    if entrypoint:
        argv += ["--entrypoint", entrypoint]
    return sh([*argv, image, *args], timeout, check=False)


# --------------------------------------------------------------------------
# what is in the image


def test_image_config(image):
    r = sh(["podman", "image", "inspect", "--format",
            "{{json .Config.Entrypoint}} user={{.Config.User}}", image], 30)
    entrypoint, user = r.stdout.strip().split(" user=")
    assert entrypoint == '["blocksnoop"]', r.stdout
    assert user in ("", "root", "0"), f"the image must run as root: {r.stdout}"


def test_runtime_is_trixie_without_compiler_or_headers(image, containers):
    script = r"""
        . /etc/os-release; echo "codename=$VERSION_CODENAME"
        for c in cc gcc c89 c99 clang tcc cpp ld as bpftool; do
            command -v "$c" >/dev/null && echo "tool=$c"
        done
        ls /usr/bin | grep -E '^(gcc|g\+\+|clang|x86_64-linux-gnu-gcc)' | sed 's/^/tool=/'
        for d in /usr/include/linux /usr/include/asm-generic /usr/src/linux-headers-* /lib/modules/*/build; do
            [ -e "$d" ] && echo "headers=$d"
        done
        dpkg-query -W -f '${Package}\n' | grep -E '^(gcc|g\+\+|cpp|clang|llvm|libc6-dev|linux-libc-dev|linux-headers|libbpf-dev|binutils)' \
            | grep -vE '^gcc-[0-9]+-base$' | sed 's/^/pkg=/'  # gcc-N-base: libgcc's docs
        true
    """
    r = run_image(image, containers, "-c", script, entrypoint="sh")
    assert r.returncode == 0, r
    lines = r.stdout.split()
    assert "codename=trixie" in lines, r.stdout
    bad = [l for l in lines if not l.startswith("codename=")]
    assert not bad, f"compilers or kernel headers in the runtime image: {bad}"


def test_blocksnoop_runs_and_links(image, containers):
    version = re.search(r"^VERSION := (\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    r = run_image(image, containers, "--version")
    assert r.returncode == 0 and r.stdout.strip() == f"blocksnoop {version}", r
    r = run_image(image, containers, "-c", "ldd /usr/local/bin/blocksnoop", entrypoint="sh")
    assert r.returncode == 0 and "not found" not in r.stdout, r.stdout


def test_austin_3_7_0(image, containers):
    r = run_image(image, containers, "-V", entrypoint="austin")
    assert r.returncode == 0, r
    assert re.search(r"\baustin 3\.7\.0\b", r.stdout + r.stderr), r


# --------------------------------------------------------------------------
# watching a host process from the container, as the README says:
#   docker run --rm --privileged --pid=host <image> <PID>


def start_blocking_target(procs, tmp_path):
    """asyncio_blocks.py under the host's /usr/bin/python3: 300 ms blocks in
    truthlog.block_sleep (time.sleep), 200 ms apart, once `go` exists."""
    truth, go = tmp_path / "truth", tmp_path / "go"
    p = procs.start([PY, py_fixture("asyncio_blocks.py"), "--count", "0", "--block", "0.3",
                     "--pause", "0.2", "--truth", str(truth), "--go", str(go)])
    ready = wait_for(lambda: next((r for r in read_truth(truth) if r["event"] == "ready"), None)
                     or (p.p.poll() is not None and pytest.fail(f"target died\n{p.describe()}")),
                     20, "the target to be ready")
    assert ready["pid"] == p.pid
    return p, truth, go


def innermost(stack):
    return stack[0]


def test_attach_to_host_process_json(image, containers, procs, tmp_path):
    target, truth, go = start_blocking_target(procs, tmp_path)
    name = containers()
    b = procs.start([*RUN, "--name", name, *PRIV, image,
                     "--json", "-t", "100", "--duration", "4", str(target.pid)])
    b.wait_record("session_start", timeout=60)
    go.touch()
    rc = b.wait(60)
    assert rc == 0, b.describe()
    records = b.records()
    check_common(records)
    start = records[0]
    assert start["mode"] == "attach" and start["pid"] == target.pid, start
    events = [r for r in records if r["type"] == "blocking_event"]
    assert len(events) >= 4, f"expected ~7 blocks in 4 s\n{b.describe()}"
    check_events(events, pid=target.pid, tid=target.pid)
    # Kernel-exact: each event is one of the target's real blocks.
    first, last = events[0]["start_ns"], events[-1]["end_ns"]
    match_blocks(events, [x for x in truth_blocks(truth)
                          if x["start_ns"] >= first - 2_000_000 and x["end_ns"] <= last + 2_000_000])
    # The stack is read from the host process, across the container boundary.
    truthlog = str(ROOT / "tests" / "fixtures" / "truthlog.py")
    with_stacks = [e for e in events if e["python_stacks"]]
    assert len(with_stacks) >= len(events) - 1, f"events without stacks\n{b.describe()}"
    for e in with_stacks:
        top = innermost(e["python_stacks"][0])
        assert top["function"] == "block_sleep" and top["file"] == truthlog, (top, e)
        assert top["source"] == "time.sleep(seconds)", top
        assert any(f["function"].endswith("rounds") for f in e["python_stacks"][0]), e
    summary = records[-1]
    assert summary["event_count"] == len(events), summary


def test_attach_to_host_process_console(image, containers, procs, tmp_path):
    """The README's command line, console output."""
    target, truth, go = start_blocking_target(procs, tmp_path)
    go.touch()
    r = run_image(image, containers, "-t", "100", "--duration", "2", str(target.pid),
                  priv=True, timeout=60)
    assert r.returncode == 0, r
    out = r.stdout + r.stderr
    assert re.search(r"#1\s+BLOCKED\s+3\d\d\.\dms", out), out
    assert re.search(r"truthlog\.py:\d+ in block_sleep", out), out
    assert "time.sleep(seconds)" in out, out


def test_doctor_in_container(image, containers, procs, tmp_path):
    """`doctor` finds everything it needs inside a privileged container
    (it mounts nothing: tracefs may be missing, blocksnoop mounts it)."""
    target, _, _ = start_blocking_target(procs, tmp_path)
    r = run_image(image, containers, "doctor", str(target.pid), priv=True, timeout=60)
    assert r.returncode == 0, r


def test_unprivileged_container_is_refused(image, containers, procs, tmp_path):
    """Without privileges the image says so and exits 5, not a crash."""
    target, _, _ = start_blocking_target(procs, tmp_path)
    r = sh([*RUN, "--name", containers(), "--pid=host", "--cap-drop=all", image,
            "--duration", "1", str(target.pid)], 60, check=False)
    assert r.returncode == 5, r
    assert "blocksnoop: error:" in r.stderr, r


# --------------------------------------------------------------------------
# the one-off attach to a pod, as examples/k8s/README.md shows it:
#   kubectl debug -it <pod> --profile=sysadmin --target=<container> \
#       --image=<image> -- blocksnoop 1
# i.e. a privileged container sharing the target container's PID namespace,
# where the target is PID 1.


def demo_files(tmp_path):
    docs = yaml.safe_load_all((ROOT / "examples" / "k8s" / "demo.yaml").read_text())
    cm = next(d for d in docs if d and d["kind"] == "ConfigMap")
    demo = tmp_path / "demo"
    demo.mkdir()
    for name, text in cm["data"].items():
        (demo / name).write_text(text)
    return demo


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_kubectl_debug_style_attach_to_pid_1(image, containers, procs, tmp_path):
    demo, port = demo_files(tmp_path), free_port()
    app = containers()
    # The "pod": the demo app as PID 1 of its own container (the image's own
    # python3 stands in for python:3.12-slim), non-root as in demo.yaml.
    sh([*RUN, "-d", "--name", app, "--user", "10001", "-v", f"{demo}:/demo:ro",
        "-e", f"PORT={port}", "--entrypoint", "python3", image, "-u", "/demo/app.py"], 60)

    def up():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                return r.read() == b"ok\n"
        except OSError:
            return False
    wait_for(up, 30, "the demo app in its container")
    procs.start([PY, "-u", str(demo / "load.py")],
                env={**os.environ, "TARGET": f"http://127.0.0.1:{port}"})
    r = sh([*RUN, "--name", containers(), "--privileged", f"--pid=container:{app}",
            "--entrypoint", "blocksnoop", image, "--json", "-t", "50", "--duration", "5", "1"],
           60, check=False)
    assert r.returncode == 0, r
    records = parse_json_lines(r.stdout)
    check_common(records)
    assert records[0]["pid"] == 1, records[0]
    events = [x for x in records if x["type"] == "blocking_event"]
    inner = set()
    for e in events:
        assert e["pid"] == 1, e
        frames = [f for f in (e["python_stacks"] or [[]])[0] if f["file"] == "/demo/app.py"]
        assert frames, f"no frame of the app, as the container sees it, in {e}"
        inner.add(frames[0]["function"])
    assert inner == {"slow_sync_client", "hash_password"}, (inner, r.stdout[-3000:])


# --------------------------------------------------------------------------
# the node agent in Austin mode, as manifests/daemonset.yaml runs it (host
# PID namespace, the image's own Austin), against a host process in a
# kubepods cgroup, with test_agent.py's stand-in kubelet


def test_agent_in_austin_mode(image, containers, procs, tmp_path, certs, cgroups):
    """`blocksnoop agent --sampler austin` in the image: the image's Austin
    (3.7.0, in the container's root) runs through the shim in the host
    target's namespaces; events carry the pod's metadata, the sampler's
    name and the target's frame; nothing of Austin outlives the container."""
    from test_agent import (APP, NODE, App, ENABLED, Kubelet, containerd, expected_k8s,
                            new_cid, new_uid, pod)
    uid, cid = new_uid(), new_cid()
    app = App(procs, tmp_path, cgroups.container(uid, cid), name="host-app")
    k = Kubelet(procs, tmp_path, certs["node"],
                pods=[pod("web-0", "shop", uid, [("app", containerd(cid))],
                          annotations=ENABLED)])
    token = tmp_path / "token"
    token.write_text("token-1\n")
    r = sh([*RUN, "--name", containers(), *PRIV, "--cgroupns=host",
            "-v", f"{tmp_path}:{tmp_path}:ro", "-v", f"{certs['ca'].parent}:{certs['ca'].parent}:ro",
            image, "agent", "--node-name", NODE, "--kubelet-url", k.url,
            "--kubelet-host-ip", "127.0.0.1", "--kubelet-token-file", str(token),
            "--kubelet-ca-file", str(certs["ca"]), "--poll-interval", "0.5s",
            "--metrics-addr", "", "--json", "-v", "--sampler", "austin", "-t", "100",
            "--duration", "8"], 120, check=False)
    assert r.returncode == 0, r
    assert re.search(r"started Austin \(PID \d+, through the namespace shim\) for PID "
                     rf"{app.pids[0]}: /usr/bin/austin ", r.stderr), r.stderr[-4000:]
    records = parse_json_lines(r.stdout)
    check_common(records)
    events = [x for x in records if x["type"] == "blocking_event"]
    assert events, r.stderr[-4000:]
    with_stacks = [e for e in events if e["python_stacks"]]
    assert len(with_stacks) >= 3, r.stderr[-4000:]
    for e in events:
        assert e["pid"] == app.pids[0] and e["sampler"] == "austin", e
        assert e["k8s"] == expected_k8s("shop", "web-0", uid, "app", cid), e
    for e in with_stacks:
        top = innermost(e["python_stacks"][0])
        assert (top["function"], top["file"]) == ("block_here", APP), e
    # The container is gone: so is every Austin it started for the target.
    left = []
    for d in pathlib.Path("/proc").iterdir():
        try:
            if d.name.isdigit() and (d / "comm").read_text().strip() in (
                    "austin", "bs-nsexec", "bs-nsexec:chil") and \
                    f"-p\0{app.pids[0]}\0" in (d / "cmdline").read_text():
                left.append(int(d.name))
        except OSError:
            pass
    assert not left, f"Austin helpers left: {left}"
