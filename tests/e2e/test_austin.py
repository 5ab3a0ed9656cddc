"""The Austin sampler (--sampler austin, agent/austin/), end to end: the real
blocksnoop, the real Austin 3.7.0 of a Debian 13 root file system (run
through its own loader, as --austin-root does), real interpreters and real
namespaces.

  * a host Python 3.11 target, Austin from --austin-root;
  * a Debian 13 Python 3.13 in its own PID and mount namespace, attached by
    host PID; the same with a read-only root that holds no Austin;
  * blocksnoop inside the target's PID namespace (the topology of
    `kubectl debug --target`);
  * Austin on PATH, started directly; a launched command;
  * Austin 4's MOJO output, made on the fly from Austin 3.7's by
    tests/fixtures/austin_mojo.py (Austin 4 cannot be installed here);
  * the built-in sampler and Austin name the same innermost application
    frame for the same blocks;
  * Austin killed mid-session: restarted, reported once; garbage and
    truncated output: one clear line, restarted; Austin missing;
  * blocksnoop doctor --austin / --austin-root.

The Debian 13 root (python3 + austin) is examples/reproduce-cross-ns.sh's:
built once with mmdebstrap (about a minute, needs the network), then reused.
Every process is killed by PID at the end; mounts live in private mount
namespaces and go away with them.
"""
import os
import pathlib
import re
import shlex
import shutil
import signal
import stat
import subprocess
import time

import pytest

from conftest import (BLOCKSNOOP, INTERPRETERS, Result, check_common, check_events,
                      match_blocks, pid_alive, pid_cmdline, py_fixture, read_truth,
                      start_ready_target, wait_for)

PY311 = "/usr/bin/python3.11"  # Debian 12's
# ... and any other 3.11 on the host (a pyenv build, with shared libpython)
HOST_311S = [i for i in INTERPRETERS if i.root is None and i.minor == 11]
TARGET = py_fixture("stacks_target.py")
ALTERNATE = py_fixture("stacks_alternate.py")
LOOP_MACHINERY = re.compile(r"/lib/python[0-9.]+/(asyncio/[^/]+|selectors\.py|threading\.py)$")
COMM = "/blocksnoop-comm"  # a host directory bind-mounted inside container roots


# --------------------------------------------------------------------------
# helpers


def austin_works(root):
    try:
        out = subprocess.run([*loader_cmd(root), "-V"], capture_output=True, text=True,
                             timeout=30).stdout
    except OSError:
        return False
    return out.startswith("austin 3.")


@pytest.fixture(scope="session")
def austin_root(trixie_rootfs):
    """The shared Debian 13 root (Python 3.13, Austin 3.7.0) of conftest.py."""
    assert austin_works(trixie_rootfs), f"Austin 3.x does not run from {trixie_rootfs}"
    return trixie_rootfs


def loader_cmd(root):
    """Austin of root through root's own loader (the host's glibc is older)."""
    return [f"{root}/lib64/ld-linux-x86-64.so.2", "--library-path",
            f"{root}/lib/x86_64-linux-gnu", f"{root}/usr/bin/austin"]


def write_script(path, text):
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def marker(path, tag):
    hits = [(n, t.strip()) for n, t in enumerate(pathlib.Path(path).read_text().splitlines(), 1)
            if re.search(r"#\s*" + re.escape(tag) + r"(\s|$)", t)]
    assert len(hits) == 1, f"marker {tag!r} found {len(hits)} times in {path}"
    return hits[0]


def app_frame(stack):
    return next((f for f in stack if not LOOP_MACHINERY.search(f["file"])), None)


def culprit(e):
    return app_frame(e["python_stacks"][0]) if e.get("python_stacks") else None


def blocks_of(truth):
    return [r for r in read_truth(truth) if r["event"] == "block"]


def event_of(events, block):
    over = [e for e in events
            if e["start_ns"] < block["end_ns"] and e["end_ns"] > block["start_ns"]]
    assert len(over) == 1, f"block {block} is covered by {len(over)} events: {events}"
    return over[0]


def children(pid):
    kids = []
    for task in pathlib.Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        for k in children(todo.pop()):
            out.append(k)
            todo.append(k)
    return out


def austins_of(bs_pid):
    """Austin processes under blocksnoop (its children, or the shim's)."""
    return [p for p in descendants(bs_pid)
            if " -P -i " in pid_cmdline(p) and " nsexec " not in pid_cmdline(p)]


def warnings(res):
    return [l for l in res.stderr_lines if l.startswith("blocksnoop: warning:")]


def check_no_errors(res):
    assert res.rc == 0, f"exit status {res.rc}\n{res}"
    assert not [l for l in res.stderr_lines if l.startswith("blocksnoop: error")], res
    assert "Sanitizer" not in res.stderr, res
    check_common(res.records)


def check_stacks(res, truth, *, file, function, tag, source_file=TARGET, allow_missing=0):
    """Every truth block has one event whose most sampled stack's innermost
    application frame is function at the marked line of file, with its
    source text; at most allow_missing events carry no stack."""
    line, text = marker(source_file, tag)
    blocks = blocks_of(truth)
    assert blocks, f"no blocks in {truth}"
    missing = 0
    for b in blocks:
        e = event_of(res.events, b)
        f = culprit(e)
        if f is None:
            missing += 1
            continue
        got = (f["function"], f["file"], f["line"], f["source"])
        assert got == (function, file, line, text), (
            f"innermost application frame {got}, wanted {(function, file, line, text)}\n"
            f"event: {e}")
        assert e["stack_samples"][0] >= 2, f"too few samples for a 200 ms block: {e}"
    assert missing <= allow_missing, (
        f"{missing} of {len(blocks)} blocks without a stack\n{res}")
    return blocks


class Container:
    """stacks_target.py (as /app/x.py) run by the root's /usr/bin/python3 as
    PID 1 of its own PID namespace, in a private mount namespace whose root
    is an overlay of an app layer and a Debian 13 root (never written).
    read_only: no upper layer. hide_austin: the app layer whites out
    /usr/bin/austin, so the target's root has none whatever the lower root
    holds. Truth and go files are in a host directory bound at COMM."""

    def __init__(self, procs, tmp_path, rootfs, *, read_only, hide_austin, args):
        base = tmp_path / "ct"
        layer, self.comm, merged = base / "layer", base / "comm", base / "merged"
        for d in (layer / "app", layer / COMM.lstrip("/"), self.comm, merged):
            d.mkdir(parents=True)
        shutil.copyfile(TARGET, layer / "app" / "x.py")
        shutil.copyfile(py_fixture("truthlog.py"), layer / "app" / "truthlog.py")
        if hide_austin:
            (layer / "usr" / "bin").mkdir(parents=True)
            os.mknod(layer / "usr" / "bin" / "austin", stat.S_IFCHR | 0o000, os.makedev(0, 0))
        if read_only:
            opts = f"lowerdir={layer}:{rootfs}"
        else:
            for d in ("upper", "work"):
                (base / d).mkdir()
            opts = f"lowerdir={layer}:{rootfs},upperdir={base}/upper,workdir={base}/work"
        self.truth, self.go = self.comm / "truth", self.comm / "go"
        script = ('mount -t overlay overlay -o "$1" "$2" && mount --bind "$3" "$2$4" && '
                  'shift 4 && exec unshare --pid --fork --kill-child --mount-proc --root="$0" "$@"')
        self.proc = procs.start(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(merged),
             opts, str(merged), str(self.comm), COMM, "/usr/bin/python3", "/app/x.py",
             "--truth", f"{COMM}/truth", "--go", f"{COMM}/go", *args])

        def python_child():
            if self.proc.p.poll() is not None:
                pytest.fail(f"unshare exited\n{self.proc.describe()}")
            return next((k for k in children(self.proc.pid)
                         if pid_cmdline(k).startswith("/usr/bin/python3 /app/x.py ")), None)
        self.pid = wait_for(python_child, 20, "the Python in the namespace")
        procs.adopt(self.pid, "/app/x.py")
        self.ready = wait_for(
            lambda: next((r for r in read_truth(self.truth) if r["event"] == "ready"), None)
            or (not pid_alive(self.pid) and pytest.fail(f"x.py died\n{self.proc.describe()}")),
            20, "x.py ready")

    def nspid(self):
        with open(f"/proc/{self.pid}/status") as f:
            return [int(x) for x in next(l for l in f if l.startswith("NSpid:")).split()[1:]]


def run_attached(bs, pid, go, *args, timeout=40):
    """blocksnoop --json ARGS PID; the target starts blocking once Austin
    samples (said with -v), or half a second after the session started
    (Austin attaches within tens of milliseconds)."""
    b = bs.start("--json", *args, str(pid))
    b.wait_record("session_start")
    if "-v" in args:
        wait_for(lambda: re.search(r"Austin .* samples Python", b.stderr), 20,
                 f"Austin to sample\n{b.describe()}")
    else:
        time.sleep(0.5)
    started = descendants(b.pid)
    pathlib.Path(go).touch()
    b.wait(timeout)
    # Austin (and the shim) end with blocksnoop.
    for pid in started:
        wait_for(lambda: not pid_alive(pid), 5, f"{pid} ({pid_cmdline(pid)}) to end with blocksnoop")
    return Result(b), b


# --------------------------------------------------------------------------
# 1. a host Python 3.11 target


@pytest.mark.parametrize("python", [i.path for i in HOST_311S], ids=[i.id for i in HOST_311S])
def test_host_python311(bs, procs, tmp_path, austin_root, python):
    """Austin from --austin-root (through its own loader, via the shim) on a
    host Python 3.11: every block is reported with Worker.block at the
    sleeping line, with its source text."""
    go = tmp_path / "go"
    p, truth, ready = start_ready_target(
        procs, tmp_path, [python, TARGET, "--count", "6", "--block", "0.2", "--go", str(go)])
    res, _ = run_attached(bs, p.pid, go, "--sampler", "austin", "--austin-root", str(austin_root),
                          "-t", "100")
    check_no_errors(res)
    assert not warnings(res), res
    check_events(res.events, pid=p.pid, tid=p.pid)
    match_blocks(res.events, blocks_of(truth))
    check_stacks(res, truth, file=TARGET, function="Worker.block", tag="SLEEP-LINE")
    summary = res.one("session_summary")
    assert summary["top_call_sites"][0]["function"] == "Worker.block", summary


# --------------------------------------------------------------------------
# 2. containers attached by host PID


@pytest.mark.parametrize("read_only,hide_austin", [(False, False), (True, True)],
                         ids=["root-with-austin", "read-only-root-without-austin"])
def test_container_by_host_pid(bs, procs, tmp_path, austin_root, read_only, hide_austin):
    """A Python 3.13 in its own PID and mount namespace (PID 1 there),
    attached by host PID: Austin runs in its namespaces with -p 1, frames
    and source lines are the container's."""
    ct = Container(procs, tmp_path, austin_root, read_only=read_only, hide_austin=hide_austin,
                   args=["--count", "6", "--block", "0.2"])
    assert ct.nspid() == [ct.pid, 1], ct.nspid()
    assert ct.ready["version"].startswith("3.13."), ct.ready
    root = pathlib.Path(f"/proc/{ct.pid}/root")
    assert (root / "usr" / "bin" / "austin").exists() != hide_austin
    if read_only:
        with pytest.raises(OSError) as err:
            (root / "written-by-test").write_text("x")
        assert err.value.errno == 30, err.value  # EROFS
    res, b = run_attached(bs, ct.pid, ct.go, "-v", "--sampler", "austin", "--austin-root",
                          str(austin_root), "-t", "100")
    check_no_errors(res)
    assert not warnings(res), res
    assert re.search(rf"started Austin \(PID \d+, through the namespace shim\) for PID {ct.pid}: "
                     r"/usr/bin/austin -P -i 33333 -t 5000 -p 1$", res.stderr, re.M), res.stderr
    check_events(res.events, pid=ct.pid, tid=ct.pid)
    check_stacks(res, ct.truth, file="/app/x.py", function="Worker.block", tag="SLEEP-LINE")
    # Standard-library frames are the root's, with the root's source lines.
    e = res.events[-1]
    std = [f for f in e["python_stacks"][0] if f["file"].startswith("/usr/lib/python3.13/")]
    assert std, e
    for f in std:
        lines = (austin_root / f["file"].lstrip("/")).read_text().splitlines()
        assert f["source"] == lines[f["line"] - 1].strip(), f


# --------------------------------------------------------------------------
# 3. blocksnoop inside the target's PID namespace


def test_inside_target_pid_namespace(procs, tmp_path, austin_root):
    """Target and blocksnoop share a new PID (and mount) namespace, as with
    kubectl debug --target: blocksnoop is given the PID seen there."""
    truth = tmp_path / "truth"
    target = shlex.join([PY311, TARGET, "--count", "8", "--block", "0.2", "--pause", "0.2",
                         "--truth", str(truth)])
    script = (f'{target} & sleep 0.5; exec {shlex.quote(BLOCKSNOOP)} --json --sampler austin '
              f'--austin-root {shlex.quote(str(austin_root))} -t 100 --duration 4 "$!"')
    p = procs.start(["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script])
    init = wait_for(lambda: children(p.pid), 10, "unshare's child")[0]
    procs.adopt(init, "blocksnoop")
    p.wait(60)
    res = Result(p)
    check_no_errors(res)
    assert not warnings(res), res
    start = res.one("session_start")
    ready = next(r for r in read_truth(truth) if r["event"] == "ready")
    assert start["pid"] == ready["pid"] < 10, (start, ready)
    check_events(res.events, pid=ready["pid"], tid=ready["pid"])
    first, last = res.events[0]["start_ns"], res.events[-1]["end_ns"]
    inside = [b for b in blocks_of(truth)
              if b["start_ns"] >= first - 2_000_000 and b["end_ns"] <= last + 2_000_000]
    assert len(inside) >= 4, (inside, res)
    for b in inside:
        f = culprit(event_of(res.events, b))
        assert f and (f["function"], f["file"]) == ("Worker.block", TARGET), (b, res)
    wait_for(lambda: not pid_alive(init), 5, "the namespace to end with blocksnoop")


# --------------------------------------------------------------------------
# 4. Austin on PATH, launch mode, MOJO


def test_austin_on_path_launch(bs, tmp_path, austin_root):
    """No --austin: 'austin' is found on PATH and started directly (no
    shim); in launch mode Austin waits for the command's interpreter."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    write_script(bindir / "austin",
                 "#!/bin/sh\nexec " + shlex.join(loader_cmd(austin_root)) + ' "$@"\n')
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}")
    truth = tmp_path / "truth"
    res = bs.launch("--json", "-v", "--sampler", "austin", "-t", "100",
                    command=[PY311, TARGET, "--count", "6", "--block", "0.2",
                             "--truth", str(truth)], env=env, timeout=60)
    check_no_errors(res)
    assert re.search(rf"started Austin \(PID \d+\) for PID \d+: {re.escape(str(bindir))}/austin -P ",
                     res.stderr), res.stderr
    # The first block may come before Austin has found the interpreter.
    check_stacks(res, truth, file=TARGET, function="Worker.block", tag="SLEEP-LINE",
                 allow_missing=1)


def test_mojo_output(bs, procs, tmp_path, austin_root):
    """Austin 4 writes MOJO: a stand-in that turns Austin 3.7's samples into
    MOJO v4 as they come (STACK_REPEAT, hex thread ids, ...)."""
    fake = write_script(tmp_path / "austin4",
                        "#!/bin/sh\nexec python3 " + shlex.quote(py_fixture("austin_mojo.py")) +
                        " austin4 " + shlex.join(loader_cmd(austin_root)) + ' -- "$@"\n')
    go = tmp_path / "go"
    p, truth, ready = start_ready_target(
        procs, tmp_path, [PY311, TARGET, "--count", "6", "--block", "0.2", "--go", str(go)])
    res, _ = run_attached(bs, p.pid, go, "-v", "--sampler", "austin", "--austin", fake, "-t", "100")
    check_no_errors(res)
    assert "(MOJO output)" in res.stderr, res.stderr
    check_stacks(res, truth, file=TARGET, function="Worker.block", tag="SLEEP-LINE")


# --------------------------------------------------------------------------
# 5. the same culprit as the built-in sampler


def test_same_frame_as_builtin(bs, procs, tmp_path, austin_root):
    """Two blocksnoops on one target, one per sampler: for every block both
    report, the innermost application frame is the same (a() and b() take
    turns, so a wrong attribution shows)."""
    truth = tmp_path / "truth"
    # The fixture starts at once: give both blocksnoops time to attach.
    p = procs.start(["sh", "-c", f"sleep 3; exec {shlex.quote(PY311)} "
                     f"{shlex.quote(ALTERNATE)} --rounds 6 --block 0.2 --pause 0.15 "
                     f"--truth {shlex.quote(str(truth))}"])
    # Attach both to the sh that becomes the Python (exec keeps the PID).
    a = bs.start("--json", "--sampler", "austin", "--austin-root", str(austin_root), "-t", "100",
                 str(p.pid))
    b = bs.start("--json", "--sampler", "builtin", "-t", "100", str(p.pid))
    for x in (a, b):
        x.wait_record("session_start")
    a.wait(40)
    b.wait(40)
    ra, rb = Result(a), Result(b)
    check_no_errors(ra)
    check_no_errors(rb)
    blocks = blocks_of(truth)
    assert [x["func"] for x in blocks] == ["a", "b"] * 6, blocks
    compared = 0
    for blk in blocks:
        fa, fb = culprit(event_of(ra.events, blk)), culprit(event_of(rb.events, blk))
        assert fa is not None, f"Austin: no stack for {blk}\n{ra}"
        assert fa["function"] == blk["func"], (blk, fa)
        # (the built-in sampler may miss the first blocks: it opened sh,
        # and retries with backoff until the exec'ed Python is readable)
        if fb is None:
            continue
        assert (fa["function"], fa["file"], fa["line"]) == (fb["function"], fb["file"], fb["line"]), (
            f"block {blk}: Austin says {fa}, the built-in sampler {fb}")
        compared += 1
    assert compared >= 8, f"only {compared} blocks had stacks from both\n{rb}"


# --------------------------------------------------------------------------
# 6. failures


def test_austin_killed_is_restarted(bs, procs, tmp_path, austin_root):
    """Austin killed by PID mid-session: said once, restarted, later blocks
    have stacks again, blocksnoop carries on."""
    go = tmp_path / "go"
    p, truth, ready = start_ready_target(
        procs, tmp_path, [PY311, TARGET, "--count", "30", "--block", "0.2", "--pause", "0.2",
                          "--go", str(go)])
    b = bs.start("--json", "--sampler", "austin", "--austin-root", str(austin_root), "-t", "100",
                 "--duration", "9", str(p.pid))
    b.wait_record("session_start")
    go.touch()
    first = wait_for(lambda: austins_of(b.pid), 10, "Austin under blocksnoop")
    assert len(first) == 1, [pid_cmdline(x) for x in first]
    b.wait_record("blocking_event", pred=lambda r: r["python_stacks"])
    os.kill(first[0], signal.SIGKILL)
    second = wait_for(lambda: [x for x in austins_of(b.pid) if x != first[0]], 10,
                      "a new Austin")
    assert b.wait(40) == 0, b.describe()
    res = Result(b)
    check_no_errors(res)
    w = warnings(res)
    # (if the kill fell in the middle of a line, that is said too)
    assert len(w) == 1 and re.search(r"Austin for PID \d+ was killed by signal 9 \(Killed\)"
                                      r"(, its output cut short \(.*\))?; "
                                      r"restarting it in 0\.5 s$", w[0]), res.stderr
    late = [e for e in res.events if e["start_ns"] > res.events[len(res.events) // 2]["start_ns"]]
    assert late and all(culprit(e) and culprit(e)["function"] == "Worker.block" for e in late), res
    for pid in first + second:
        assert not pid_alive(pid), f"Austin {pid} outlived blocksnoop"


@pytest.mark.parametrize("kind,said", [
    ("garbage", r"Austin's output for PID \d+ is not what blocksnoop reads \(line 7: "
                r"unexpected output '\?\?\? this is not Austin output \?'\); restarting it in 0\.5 s$"),
    ("truncated", r"Austin for PID \d+ stopped while PID \d+ runs \(exit status 0\), its output cut "
                  r"short \(line 7: truncated: the output ends in the middle of a line\); "
                  r"restarting it in 0\.5 s$"),
])
def test_bad_output(bs, procs, tmp_path, kind, said):
    """An 'Austin' whose output cannot be read: one clear line, restarted
    with backoff, events without stacks, and the loud line about it."""
    log = tmp_path / "starts"
    env = dict(os.environ, AUSTIN_FAKE_LOG=str(log))
    go = tmp_path / "go"
    p, truth, ready = start_ready_target(
        procs, tmp_path, [PY311, TARGET, "--count", "30", "--block", "0.2", "--pause", "0.1",
                          "--go", str(go)])
    b = bs.start("--json", "--sampler", "austin", "--austin", py_fixture(f"austin_{kind}.sh"),
                 "-t", "100", "--duration", "5", str(p.pid), env=env)
    b.wait_record("session_start")
    go.touch()
    assert b.wait(30) == 0, b.describe()
    res = Result(b)
    check_no_errors(res)
    w = warnings(res)
    assert len(w) == 2, res.stderr
    assert re.search(said, w[0]), w[0]
    assert "no Python stacks from Austin for thread" in w[1] and "events carry no stack" in w[1], w[1]
    starts = log.read_text().splitlines()
    # 0.5 + 1 + 2 s of backoff within 5 s: 3 or 4 starts, never a storm.
    assert 3 <= len(starts) <= 5, starts
    assert all(re.fullmatch(rf"\d+ -P -i 33333 -t 5000 -p {p.pid}", s) for s in starts), starts
    assert res.events and all(e["python_stacks"] is None for e in res.events), res
    for s in starts:
        assert not pid_alive(int(s.split()[0])), s


def test_austin_missing(bs, procs, tmp_path):
    go = tmp_path / "go"
    p, truth, ready = start_ready_target(
        procs, tmp_path, [PY311, TARGET, "--count", "30", "--block", "0.2", "--pause", "0.1",
                          "--go", str(go)])
    res, _ = run_attached(bs, p.pid, go, "--sampler", "austin", "--austin",
                          str(tmp_path / "no-such-austin"), "-t", "100", "--duration", "5")
    check_no_errors(res)
    w = warnings(res)
    assert len(w) == 2, res.stderr
    assert re.search(r"cannot sample Python stacks of PID \d+ with Austin: .*no-such-austin is not "
                     r"an executable file; restarting it in 0\.5 s$", w[0]), w[0]
    assert "Austin is not running" in w[1], w[1]


# --------------------------------------------------------------------------
# 7. doctor


def test_doctor(procs, tmp_path, austin_root):
    ct = Container(procs, tmp_path, austin_root, read_only=True, hide_austin=True,
                   args=["--count", "1"])
    out = subprocess.run([BLOCKSNOOP, "doctor", "--austin-root", str(austin_root), str(ct.pid)],
                         capture_output=True, text=True, timeout=60)
    lines = out.stdout.splitlines()
    assert f"ok    Austin 3.7.0 at /usr/bin/austin in {austin_root} (--sampler austin): text output in pipe mode" in lines, out.stdout
    assert (f"ok    Austin for PID {ct.pid} runs through blocksnoop's namespace shim (Austin comes "
            f"from --austin-root), with -p 1") in lines, out.stdout

    # Austin 1.x (Debian 12's) is refused; asked for, that is a problem.
    old = write_script(tmp_path / "austin-old", "#!/bin/sh\necho austin 1.0.1\n")
    out = subprocess.run([BLOCKSNOOP, "doctor", "--austin", old], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 1, out
    assert any(l.startswith("FAIL  Austin 1.0.1 at ") and "too old" in l
               for l in out.stdout.splitlines()), out.stdout

    # Not asked for and not found: no problem.
    env = dict(os.environ, PATH="/nonexistent")
    out = subprocess.run([BLOCKSNOOP, "doctor", str(os.getpid())], capture_output=True, text=True,
                         timeout=60, env=env)
    assert any(l.startswith("ok    Austin not found, which only --sampler austin needs: "
                            "'austin' is not on PATH")
               for l in out.stdout.splitlines()), out.stdout
    assert out.returncode == 0, out
