"""The built-in CPython stack reader (agent/cpython/pyreader.h), end to end.

blocksnoop has no command of its own for the reader, so these tests drive it
through the fixture program cpython_dump (tests/fixtures/cpython_dump.c,
linked with build/libblocksnoop.a), which prints JSON stacks, against real
interpreters running tests/fixtures/cpython_target.py:

  * every CPython of conftest.py's INTERPRETERS (the host's static
    /usr/bin/python3.11, Debian 11's 3.9, 13's 3.13, testing's 3.14 and
    3.15, a free-threaded 3.13t built from Debian's source, pyenv builds
    with shared libpython when present): the main thread's innermost
    application frames (qualname, file, line, source line) and a second
    thread found by its TID; deep stacks; frames churning under the reader;
  * a Debian 13 (Python 3.13) root file system run in its own PID and mount
    namespace, attached by host PID: TIDs translated, files read through the
    target's root (a different file at the same host path is not read, and
    symlinks pointing at host-only paths resolve inside the root);
  * exec, exit, non-Python processes, unknown TIDs and missing permission
    (with the host's Python).

The Debian 13 root file system is the shared one `make e2e` builds
(the trixie_rootfs fixture of conftest.py), never written: the target runs
in an overlay of it.
"""
import errno
import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import uuid

import pytest

from conftest import (FIXTURES_SRC, HOST_PY, bin_fixture, interpreter_params, pid_alive,
                      pid_cmdline, wait_for)

TARGET = "cpython_target.py"
BLOCKER_SOURCE = "time.sleep(3600)  # BLOCKER-LINE"


def dump(*args, timeout=60, user=None, driver=None, cpu=None):
    """Run cpython_dump (or driver, a copy of it), on CPU cpu if given;
    (exit status, [JSON records])."""
    argv = [driver or bin_fixture("cpython_dump"), *map(str, args)]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]
    if user is not None:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert res.returncode in (0, 1), f"cpython_dump {args}: exit {res.returncode}\n{res.stderr}"
    no_sanitizer_report(res.stderr)
    recs = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    return res.returncode, recs


def no_sanitizer_report(stderr):
    """A driver built with SANITIZE=1 exits 1 on an error, like a failed
    open: tell them apart by what it printed."""
    assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr


def read_info(proc, timeout=30):
    """The target's JSON announcement (first stdout line)."""
    def line():
        if proc.p.poll() is not None:
            pytest.fail(f"target died\n{proc.describe()}")
        out = proc.stdout
        return out.split("\n", 1)[0] if "\n" in out else None
    return json.loads(wait_for(line, timeout, "the target's announcement"))


def start_target(procs, tmp_path, python, *extra):
    """cpython_target.py started by python (an Interpreter) as `python
    cpython_target.py` from its own directory, so 3.8 (which keeps the path
    as given) has a relative co_filename that py_source_line must take from
    the target's cwd."""
    proc = procs.start(python.command(tmp_path, TARGET, *extra), cwd=str(FIXTURES_SRC))
    return proc, read_info(proc)


def frame(function, file, line, **kw):
    return {"function": function, "file": file, "line": line, **kw}


@pytest.mark.parametrize("python", interpreter_params())
def test_stacks_of_main_and_worker(procs, tmp_path, python):
    proc, info = start_target(procs, tmp_path, python)
    version = python.version
    assert info["version"] == version
    rc, recs = dump("--retry", 5, "--source", info["pid"], info["main_tid"], info["worker_tid"])
    assert rc == 0, recs
    main, worker = recs
    assert main["rc"] == 0 and worker["rc"] == 0, recs
    # 3.11+ tell the patch level (Py_Version / _Py_DebugOffsets); 3.8-3.10 only X.Y;
    # a free-threaded build is named as such ("3.13.5t")
    want_version = version if python.minor >= 11 else version.rsplit(".", 1)[0]
    want_version += "t" if python.free_threaded else ""
    assert main["version"] == want_version

    f = info["file"]
    if python.minor == 8:
        assert f == TARGET  # relative: the source comes from the target's cwd
    else:
        assert f == str(FIXTURES_SRC / TARGET)
    dispatch = "App.dispatch" if python.minor >= 11 else "dispatch"
    frames = main["frames"]
    assert frames[:3] == [
        frame("blocker", f, info["blocker_line"], source=BLOCKER_SOURCE),
        frame(dispatch, f, info["dispatch_line"], source="return blocker()  # DISPATCH-LINE"),
        frame("handler", f, info["handler_line"],
              source="App().dispatch(depth)  # HANDLER-LINE"),
    ], json.dumps(frames, indent=1)
    # ... called by the event loop, called by the script.
    names = [x["function"].rsplit(".", 1)[-1] for x in frames]
    assert "_run_once" in names and "run_until_complete" in names, names
    assert frames[-1]["function"] == "<module>" and frames[-1]["file"] == f, frames[-1]
    assert main["truncated"] is False and main["depth"] == len(frames)
    for x in frames:
        assert x["line"] > 0 and x["source"], x  # stdlib sources too

    wframes = worker["frames"]
    assert wframes[0] == frame("worker_wait", f, info["worker_line"],
                               source="time.sleep(3600)  # WORKER-LINE"), wframes
    boot = "Thread._bootstrap" if python.minor >= 11 else "_bootstrap"
    assert wframes[-1]["function"] == boot, wframes


@pytest.mark.parametrize("python", interpreter_params())
def test_deep_stack_is_truncated(procs, tmp_path, python):
    proc, info = start_target(procs, tmp_path, python, "--deep", 300)
    rc, recs = dump("--retry", 5, info["pid"], info["main_tid"])
    st = recs[0]
    assert st["rc"] == 0, st
    assert st["depth"] == 128 and st["truncated"] is True, st
    f = info["file"]
    assert st["frames"][0] == frame("blocker", f, info["blocker_line"])
    assert st["frames"][1] == frame("deep", f, info["deep_line"] + 1)  # `return blocker()`
    assert all(x == frame("deep", f, info["deep_line"]) for x in st["frames"][2:]), st["frames"]


def two_cpus():
    """Two CPUs we may run on, or (None, None) on a single CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    return (cpus[0], cpus[1]) if len(cpus) > 1 else (None, None)


# Rounds of samples per interpreter. 3.14 once returned an empty stack (rc
# 0, depth 0) now and then (0 to 20 in 6000 samples): a frame caught while
# its memory was reused, whose garbage owner byte made it pass for a shim
# (any byte, then a shim's only, with previous NULL: 1 in 60000). Being
# intermittent, that is looked for in ten rounds.
CHURN_ROUNDS = {14: 10}
CHURN_ROUND = 6000


@pytest.mark.parametrize("python", interpreter_params())
def test_frames_churning_under_the_reader(procs, tmp_path, python):
    """The main thread calls functions at random depths as fast as it can:
    samples may be refused (-EAGAIN: a torn read, already retried once
    inside) but every stack returned is whole, down to <module>. Target and
    reader run on two different CPUs, so that they really race."""
    proc, info = start_target(procs, tmp_path, python, "--churn")
    f = info["file"]
    target_cpu, reader_cpu = two_cpus()
    if target_cpu is not None:
        os.sched_setaffinity(info["main_tid"], {target_cpu})
    ours = {"churn", "level", "churn_loop", "handler", "main", "<module>"}
    lines = len((FIXTURES_SRC / TARGET).read_text().splitlines())
    recs = []
    for _ in range(CHURN_ROUNDS.get(python.minor, 1)):
        rc, got = dump("--repeat", CHURN_ROUND, info["pid"], info["main_tid"], cpu=reader_cpu)
        assert rc == 0
        recs += got
        codes = [r["rc"] for r in got]
        assert set(codes) <= {0, -errno.EAGAIN}, set(codes)
        for r in got:
            if r["rc"]:
                continue
            fr = r["frames"]
            assert fr and fr[-1]["function"] == "<module>" and fr[-1]["file"] == f, fr
            assert r["truncated"] is False
            for x in fr:
                if x["file"] == f:
                    assert x["function"] in ours, fr
                    assert 0 < x["line"] <= lines, fr
    ok = [r for r in recs if r["rc"] == 0]
    # 65-98 % here, depending on the version; this is the worst case
    assert len(ok) >= 0.4 * len(recs), f"only {len(ok)} of {len(recs)} samples"
    # the readings follow the target: stacks of many depths were seen (deep
    # ones take longer to read, so they are torn more often)
    depths = {r["depth"] for r in ok}
    assert max(depths) - min(depths) >= 5, sorted(depths)


def test_sample_speed(procs, tmp_path):
    proc, info = start_target(procs, tmp_path, HOST_PY)
    rc, recs = dump("--bench", 2000, info["pid"], info["main_tid"])
    b = recs[0]
    assert b["ok"] == 2000 and b["depth"] >= 10, b
    # about 25 us here; generous for a loaded CI machine
    assert b["us_per_sample"] < 1000, b


# --------------------------------------------------------------------------
# errors


def test_not_python_and_gone(procs):
    sleeper = procs.start(["sleep", "600"])
    rc, recs = dump(sleeper.pid, sleeper.pid)
    assert rc == 1 and recs[0]["rc"] == -errno.ENOEXEC, recs
    assert "not Python" in recs[0]["error"], recs

    done = subprocess.run(["true"])
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert done.returncode == 0 and not pid_alive(gone.pid)
    rc, recs = dump(gone.pid, gone.pid)
    assert rc == 1 and recs[0]["rc"] == -errno.ESRCH, recs


def test_unknown_thread(procs, tmp_path):
    proc, info = start_target(procs, tmp_path, HOST_PY)
    # PID 1 is no thread of the target; a thread Python does not know either
    rc, recs = dump(info["pid"], 1)
    assert recs[0]["rc"] == -errno.ENOENT, recs


def test_target_exits(procs, tmp_path):
    proc, info = start_target(procs, tmp_path, HOST_PY)
    d = procs.start([bin_fixture("cpython_dump"), "--repeat", 40, "--interval", 50,
                     info["pid"], info["main_tid"]])
    wait_for(lambda: d.stdout.count("\n") >= 3, 10, "three samples")
    proc.send(signal.SIGKILL)
    assert d.wait(30) == 0, d.describe()
    no_sanitizer_report(d.stderr)
    recs = [json.loads(x) for x in d.stdout.splitlines()]
    codes = [r["rc"] for r in recs]
    assert codes[0] == 0 and codes[-1] == -errno.ESRCH, codes
    first_bad = next(i for i, c in enumerate(codes) if c != 0)
    assert set(codes[first_bad:]) == {-errno.ESRCH}, codes


def test_target_execs(procs, tmp_path):
    go = tmp_path / "exec-now"
    proc, info = start_target(procs, tmp_path, HOST_PY, "--exec-on", go)
    d = procs.start([bin_fixture("cpython_dump"), "--repeat", 40, "--interval", 50,
                     info["pid"], info["main_tid"]])
    wait_for(lambda: d.stdout.count("\n") >= 3, 10, "three samples")
    go.touch()
    wait_for(lambda: "sleep" in pathlib.Path(f"/proc/{proc.pid}/comm").read_text(), 10,
             "the exec")
    assert d.wait(30) == 0, d.describe()
    no_sanitizer_report(d.stderr)
    codes = [json.loads(x)["rc"] for x in d.stdout.splitlines()]
    assert codes[0] == 0 and codes[-1] == -errno.ESTALE, codes
    # reopening tells what the process now is
    rc, recs = dump(proc.pid, proc.pid)
    assert rc == 1 and recs[0]["rc"] == -errno.ENOEXEC, recs


def test_no_permission(procs, tmp_path):
    proc, info = start_target(procs, tmp_path, HOST_PY)
    # The unprivileged user must be able to run the driver at all: a copy in
    # a directory of its own under /tmp (the build tree may be in /root).
    with tempfile.TemporaryDirectory(prefix="bs-cpython-dump-") as d:
        os.chmod(d, 0o755)
        driver = pathlib.Path(shutil.copy(bin_fixture("cpython_dump"), d))
        for parent in [driver, *driver.parents]:
            assert os.stat(parent).st_mode & 0o001, f"{parent} is not world-accessible"
        rc, recs = dump(info["pid"], info["main_tid"], user=65534, driver=driver)
    assert rc == 1 and recs[0]["rc"] == -errno.EPERM, recs
    assert "permission" in recs[0]["error"], recs


# --------------------------------------------------------------------------
# containers: Debian 13 in its own PID and mount namespace


def ns_children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def host_tid_of(host_pid, ns_tid):
    """The host TID of the target's thread ns_tid (NSpid: host ... own)."""
    for t in os.listdir(f"/proc/{host_pid}/task"):
        with open(f"/proc/{host_pid}/task/{t}/status") as f:
            ids = next(l.split()[1:] for l in f if l.startswith("NSpid:"))
        if int(ids[-1]) == ns_tid:
            return int(ids[0])
    pytest.fail(f"no thread with namespace TID {ns_tid} in {host_pid}")


def test_container_namespaces(procs, tmp_path, trixie_rootfs):
    """The target's root is an overlay of the shared Debian 13 root (never
    written) and an upper layer holding the app, mounted in a private mount
    namespace: it goes away with the processes."""
    tag = uuid.uuid4().hex[:12]
    appdir = f"/tmp/bs-cpython-{tag}"       # the same path inside the root and on the host
    ct = tmp_path / "ct"
    upper, work, merged = ct / "upper", ct / "work", ct / "merged"
    inside = upper / appdir.lstrip("/")
    host = pathlib.Path(appdir)
    secret = pathlib.Path(f"/tmp/bs-cpython-{tag}-hostonly.py")
    host_pid = None
    try:
        for d in (inside, work, merged):
            d.mkdir(parents=True)
        shutil.copy(FIXTURES_SRC / TARGET, inside / "app.py")
        # A different file at the same path on the host: never what is read.
        host.mkdir()
        (host / "app.py").write_text("HOST FILE, NOT THE TARGET'S\n" * 300)
        # A host-only file, and links to it planted in the container.
        secret.write_text("HOST SECRET\n")
        (inside / "abs.py").symlink_to(secret)
        (inside / "up.py").symlink_to("../../../../../../../.." + str(secret))
        (inside / "magic.py").symlink_to(f"/proc/1/root{appdir}/app.py")

        script = ('mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$0" && '
                  'shift 3 && exec unshare --pid --fork --kill-child --mount-proc --root="$0" "$@"')
        unshare = procs.start(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                               script, str(merged), str(trixie_rootfs), str(upper), str(work),
                               "python3", f"{appdir}/app.py"])
        # (not the sh's fork on its way to exec mount)
        host_pid = wait_for(lambda: next((k for k in ns_children(unshare.pid) if pid_cmdline(k)
                                          == f"python3 {appdir}/app.py "), None)
                            or (unshare.p.poll() is not None and pytest.fail(unshare.describe())),
                            10, "the Python in the namespace")
        procs.adopt(host_pid, "app.py")
        info = read_info(unshare)
        assert info["pid"] == 1 and info["main_tid"] == 1, info
        assert info["version"].startswith("3.13."), info
        assert host_pid != 1
        main_tid = host_tid_of(host_pid, info["main_tid"])
        worker_tid = host_tid_of(host_pid, info["worker_tid"])
        assert main_tid == host_pid and worker_tid != info["worker_tid"]

        rc, recs = dump("--retry", 5, "--source", host_pid, main_tid, worker_tid)
        assert rc == 0, recs
        main, worker = recs
        assert main["rc"] == 0 and worker["rc"] == 0, recs
        assert main["version"] == info["version"]
        f = f"{appdir}/app.py"
        assert main["frames"][:3] == [
            frame("blocker", f, info["blocker_line"], source=BLOCKER_SOURCE),
            frame("App.dispatch", f, info["dispatch_line"],
                  source="return blocker()  # DISPATCH-LINE"),
            frame("handler", f, info["handler_line"],
                  source="App().dispatch(depth)  # HANDLER-LINE"),
        ], main["frames"]
        # the stdlib is the container's (/usr/lib/python3.13), read through its root
        stdlib = [x for x in main["frames"] if x["file"].startswith("/usr/lib/python3.13/")]
        assert stdlib and all(x.get("source") for x in stdlib), main["frames"]
        assert not (pathlib.Path("/usr/lib/python3.13")).exists()
        assert worker["frames"][0] == frame("worker_wait", f, info["worker_line"],
                                            source="time.sleep(3600)  # WORKER-LINE")

        # py_source_line: the target's file, not the host's at the same path
        _, recs = dump("--source-line", host_pid, f, info["blocker_line"])
        assert recs[0] == {"rc": 0, "text": BLOCKER_SOURCE}, recs
        assert host.joinpath("app.py").read_text().splitlines()[info["blocker_line"] - 1] \
            == "HOST FILE, NOT THE TARGET'S"
        # links to host-only paths resolve inside the root (where nothing is)
        assert secret.read_text() == "HOST SECRET\n"
        for name in ("abs.py", "up.py"):
            _, recs = dump("--source-line", host_pid, f"{appdir}/{name}", 1)
            assert recs[0]["rc"] == -errno.ENOENT, (name, recs)
        # /proc magic links are refused
        _, recs = dump("--source-line", host_pid, f"{appdir}/magic.py", 1)
        assert recs[0]["rc"] in (-errno.ELOOP, -errno.EXDEV), recs
    finally:
        if host_pid and pid_alive(host_pid):
            os.kill(host_pid, signal.SIGKILL)
            wait_for(lambda: not pid_alive(host_pid), 10, "the namespace's init to die")
        shutil.rmtree(host, ignore_errors=True)
        secret.unlink(missing_ok=True)
