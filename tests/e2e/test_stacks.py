"""Python stacks in blocksnoop's records, end to end: the real binary, its
built-in CPython sampler, real interpreters and real namespaces.

What is checked is the call site a user would look at: the innermost
*application* frame (the first frame, innermost first, whose file is not
asyncio, selectors or threading from the standard library) of an event's
first (most sampled) stack: its function (qualified name on 3.11+), file,
line and source text. Expected lines are found by marker comments in the
fixtures (tests/fixtures/stacks_*.py), never hard-coded.

  * every CPython of conftest.py's INTERPRETERS (the host's, those of the
    Debian root file systems, pyenv builds when present), time.sleep and a
    pure-Python CPU loop, launch and attach mode, from the very first block
    (which starts as soon as the loop runs);
  * two functions blocking in turn, each event its own function;
  * a Debian 13 Python 3.13 in its own PID and mount namespace attached by
    host PID: source lines come from the target's root, not from a
    different file at the same path on the host, and symlinks inside the
    root never lead to a host file;
  * two loops in two threads, each watched with --tid;
  * 5 ms threshold with 7-12 ms blocks;
  * a stuck loop: still_blocked within threshold + 1 s, then the event;
  * a target that exits, or execs another Python, while it is sampled;
  * --sampler none, and top_call_sites.
"""
import ast
import os
import pathlib
import re
import shutil
import time
import uuid

import pytest

from conftest import (HOST_PY, PY, PYENV, check_common, check_events, check_summary, children,
                      interpreter_params, pid_alive, pid_cmdline, py_fixture, read_truth, Result,
                      start_ready_target, wait_for, wait_truth)

# What blocksnoop (and these tests) call loop machinery, not application code.
LOOP_MACHINERY = re.compile(r"/lib/python[0-9.]+/(asyncio/[^/]+|selectors\.py|threading\.py)$")


# --------------------------------------------------------------------------
# helpers


def qualname(python, cls, name):
    """co_qualname on 3.11+, co_name before (python: an Interpreter)."""
    return f"{cls}.{name}" if python.minor >= 11 else name


def marker(path, tag):
    """(line number, stripped text) of the one line of path that carries the
    comment `# TAG`."""
    hits = [(n, text.strip()) for n, text in
            enumerate(pathlib.Path(path).read_text().splitlines(), 1)
            if re.search(r"#\s*" + re.escape(tag) + r"(\s|$)", text)]
    assert len(hits) == 1, f"marker {tag!r} found {len(hits)} times in {path}"
    return hits[0]


def app_frame(stack):
    """The innermost application frame of a stack (innermost first)."""
    for f in stack:
        if not LOOP_MACHINERY.search(f["file"]):
            return f
    return None


def check_stack_fields(rec):
    """python_stacks / stack_samples / samples of an event or still_blocked
    record agree with each other and with the schema."""
    stacks, counts = rec["python_stacks"], rec.get("stack_samples")
    assert isinstance(rec.get("samples"), int) and rec["samples"] >= 0, rec
    if stacks is None:
        assert counts == [], f"stack_samples must be empty without stacks: {rec}"
        return
    assert isinstance(stacks, list) and stacks, f"python_stacks is an empty list: {rec}"
    assert isinstance(counts, list) and len(counts) == len(stacks), rec
    assert all(isinstance(c, int) and c > 0 for c in counts), rec
    assert counts == sorted(counts, reverse=True), f"stacks not most sampled first: {rec}"
    assert rec["samples"] >= sum(counts), rec
    for stack in stacks:
        assert isinstance(stack, list) and stack, rec
        for f in stack:
            assert set(f) == {"function", "file", "line", "source"}, f
            assert isinstance(f["function"], str) and f["function"], f
            assert isinstance(f["file"], str) and f["file"], f
            assert isinstance(f["line"], int) and not isinstance(f["line"], bool), f
            assert f["source"] is None or isinstance(f["source"], str), f


def culprit(rec):
    """The innermost application frame of the first stack, or None."""
    check_stack_fields(rec)
    if not rec["python_stacks"]:
        return None
    return app_frame(rec["python_stacks"][0])


def event_of(events, block):
    """The one event whose gap overlaps a truth block."""
    over = [e for e in events if e["start_ns"] < block["end_ns"] and e["end_ns"] > block["start_ns"]]
    assert len(over) == 1, (f"truth block {block} is covered by {len(over)} events\n"
                            f"events: {events}")
    return over[0]


def assert_frame(rec, *, function, file, line, source, what=""):
    f = culprit(rec)
    where = f"{what}\nrecord: {rec}"
    assert f is not None, f"no stack (or no application frame){where}"
    got = (f["function"], f["file"], f["line"], f["source"])
    assert got == (function, file, line, source), (
        f"innermost application frame of the first stack is {got}, wanted "
        f"{(function, file, line, source)}{where}")


def blocks_of(truth, **match):
    return [r for r in read_truth(truth) if r["event"] == "block"
            and all(r.get(k) == v for k, v in match.items())]


def check_clean_end(res, *, allow_warning=True):
    """Exit 0, at most one (warning) line on stderr, a stream that starts
    with session_start and ends with session_summary."""
    assert res.rc == 0, f"exit status {res.rc}\n{res}"
    lines = res.stderr_lines
    assert len(lines) <= (1 if allow_warning else 0), f"stderr spam\n{res}"
    for line in lines:
        assert "error" not in line.lower() and "warning" in line.lower(), (
            f"stderr line is not a warning: {line!r}\n{res}")
    check_common(res.records)


# --------------------------------------------------------------------------
# 1. every Python, sleep and CPU, launch and attach


TARGET = py_fixture("stacks_target.py")
KINDS = {"sleep": ("block", "SLEEP-LINE"), "cpu": ("spin", "HOT-LINE")}


def check_target_events(events, truth, python, kind, count=3):
    name, tag = KINDS[kind]
    line, text = marker(TARGET, tag)
    blocks = blocks_of(truth)
    assert [b["index"] for b in blocks] == list(range(count)), blocks
    # (one event per block is checked by event_of; the exact count of
    # events is the detector suites' business)
    assert len(events) >= count, f"expected {count} events: {events}\ntruth: {blocks}"
    for b in blocks:
        assert_frame(event_of(events, b), function=qualname(python, "Worker", name),
                     file=TARGET, line=line, source=text,
                     what=f"block #{b['index']} ({kind}, {python})")


def launch_first_block(bs, tmp_path, python, kind, *args, env=None):
    """Launch python running the stacks target whose loop's very first
    callback blocks at once, 3 times (blocksnoop given args too, and env
    if not None); check that every event, the first included, names the
    blocking line. Returns the result and the truth file."""
    truth = tmp_path / "truth"
    res = bs.launch(*args, "--json", "-t", "100", env=env,
                    command=python.command(tmp_path, TARGET, "--first", "--kind", kind,
                                           "--count", "3", "--block", "0.2",
                                           "--truth", truth), timeout=40)
    assert res.rc == 0, res
    check_common(res.records)
    start = res.one("session_start")
    check_events(res.events, pid=start["pid"], tid=start["pid"])
    check_target_events(res.events, truth, python, kind)
    return res, truth


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("python", interpreter_params())
def test_first_block_launch(bs, tmp_path, python, kind):
    """Launch mode, the loop's very first callback blocks at once: every
    event, the first included, names the blocking line."""
    launch_first_block(bs, tmp_path, python, kind)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("python", interpreter_params())
def test_attach(bs, procs, tmp_path, python, kind):
    go = tmp_path / "go"
    p, truth, ready = start_ready_target(
        procs, tmp_path, python.command(tmp_path, TARGET, "--kind", kind, "--count", "3",
                                        "--block", "0.2", "--go", go))
    b, _ = attach_and_go(bs, p.pid, go, "-t", "100")
    assert b.wait(30) == 0, b.describe()
    res = Result(b)
    check_common(res.records)
    check_events(res.events, pid=p.pid, tid=p.pid)
    check_target_events(res.events, truth, python, kind)


def attach_and_go(bs, pid, go, *args):
    b = bs.start("--json", *args, str(pid))
    start = b.wait_record("session_start")
    time.sleep(0.3)
    pathlib.Path(go).touch()
    return b, start


# --------------------------------------------------------------------------
# 2. two functions in turn


def test_alternating_functions(bs, tmp_path):
    fixture = py_fixture("stacks_alternate.py")
    truth = tmp_path / "truth"
    res = bs.launch("--json", "-t", "100",
                    command=[PY, fixture, "--rounds", "3", "--truth", str(truth)], timeout=40)
    assert res.rc == 0, res
    check_common(res.records)
    blocks = blocks_of(truth)
    assert [b["func"] for b in blocks] == ["a", "b"] * 3, blocks
    assert len(res.events) >= 6, res
    for b in blocks:
        line, text = marker(fixture, f"{b['func'].upper()}-LINE")
        assert_frame(event_of(res.events, b), function=b["func"], file=fixture,
                     line=line, source=text, what=f"block {b}")


# --------------------------------------------------------------------------
# 3, 4. a Debian 13 root file system in its own PID and mount namespace


@pytest.fixture(scope="session")
def rootfs(trixie_rootfs):
    return trixie_rootfs

@pytest.fixture
def host_app_dir():
    """A directory at the same absolute path as the app's inside the root
    file system: /app if the host has none (created here and removed
    afterwards), otherwise a unique /blocksnoop-test-app-XXXX."""
    path = pathlib.Path("/app")
    try:
        path.mkdir()
    except FileExistsError:
        path = pathlib.Path(f"/blocksnoop-test-app-{uuid.uuid4().hex[:12]}")
        path.mkdir()
    created = []
    try:
        yield path, created
    finally:
        for f in created:
            try:
                os.unlink(f)
            except FileNotFoundError:
                pass
        try:
            os.rmdir(path)
        except OSError:
            pass  # someone else put something there meanwhile: theirs to remove


@pytest.fixture
def hostonly_dir():
    path = pathlib.Path(f"/blocksnoop-hostonly-{uuid.uuid4().hex[:12]}")
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


COMM = "/blocksnoop-comm"  # bind-mounted host directory inside the root


class Container:
    """x.py (stacks_container.py) run by the root file system's
    /usr/bin/python3 in its own PID and mount namespace. The root is an
    overlay (lower: the shared rootfs, never written; upper: app_dir's files)
    mounted in a private mount namespace, so nothing is mounted on the host
    and everything goes away with the processes (the inner unshare has
    --kill-child: killing the unshare process, as the procs fixture does,
    kills the Python too). The truth and go files are in a host directory
    bind-mounted at COMM."""

    def __init__(self, procs, tmp_path, rootfs, app_dir, app_args, links=(), files=None):
        self.tmp = tmp_path / "ct"
        upper = self.tmp / "upper"
        self.comm = self.tmp / "comm"
        app_in_upper = upper / str(app_dir).lstrip("/")
        for d in (app_in_upper, upper / COMM.lstrip("/"), self.tmp / "work",
                  self.tmp / "merged", self.comm):
            d.mkdir(parents=True)
        self.app = f"{app_dir}/x.py"
        shutil.copyfile(py_fixture("stacks_container.py"), app_in_upper / "x.py")
        for name, target in links:
            os.symlink(target, app_in_upper / name)
        for name, text in (files or {}).items():
            (app_in_upper / name).write_text(text)
        script = ('mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4" '
                  '&& mount --bind "$5" "$4$6" && shift 6 '
                  '&& exec unshare --pid --fork --kill-child --mount-proc --root="$0" "$@"')
        merged = str(self.tmp / "merged")
        self.proc = procs.start(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, merged,
             str(rootfs), str(upper), str(self.tmp / "work"), merged, str(self.comm), COMM,
             "/usr/bin/python3", self.app, COMM, *app_args])
        # The Python is the child of the (exec'ed) unshare process.

        def python_child():
            if self.proc.p.poll() is not None:
                pytest.fail(f"unshare exited\n{self.proc.describe()}")
            # (a forked sh or unshare has the app in its command line too,
            # until it execs)
            return next((k for k in children(self.proc.pid)
                         if pid_cmdline(k).startswith(f"/usr/bin/python3 {self.app} ")), None)
        self.pid = wait_for(python_child, 20, "the Python in the namespace")
        procs.adopt(self.pid, self.app)
        self.truth = self.comm / "truth"
        self.ready = wait_for(
            lambda: next((r for r in read_truth(self.truth) if r["event"] == "ready"), None)
            or (not pid_alive(self.pid) and pytest.fail(f"x.py died\n{self.proc.describe()}")),
            20, "x.py ready")

    def nspid(self):
        with open(f"/proc/{self.pid}/status") as f:
            return [int(x) for x in next(l for l in f if l.startswith("NSpid:")).split()[1:]]


def check_root_frames(rec, rootfs):
    """Standard-library frames (only in the root: the host has no
    /usr/lib/python3.13) carry the root's source lines."""
    for f in rec["python_stacks"][0]:
        if f["file"].startswith("/usr/lib/python3.13/"):
            lines = (rootfs / f["file"].lstrip("/")).read_text().splitlines()
            assert f["source"] == lines[f["line"] - 1].strip(), (
                f"frame {f} should show the root's line {lines[f['line'] - 1].strip()!r}")


def test_container_attach_by_host_pid(bs, procs, tmp_path, rootfs, host_app_dir):
    app_dir, created = host_app_dir
    # A different file at the same path on the host.
    host_x = app_dir / "x.py"
    created.append(host_x)
    host_x.write_text("".join(f"host_only_{n} = 'THE HOST FILE, NOT THE TARGET'S'\n"
                              for n in range(1, 200)))
    ct = Container(procs, tmp_path, rootfs, app_dir, ["--mode", "plain", "--count", "3"])
    nspid = ct.nspid()
    assert nspid == [ct.pid, 1], f"NSpid of {ct.pid}: {nspid}"
    assert ct.ready["pid"] == 1 and ct.ready["file"] == ct.app, ct.ready

    b, start = attach_and_go(bs, ct.pid, ct.comm / "go", "-t", "100")
    assert start["pid"] == ct.pid, start
    assert b.wait(30) == 0, b.describe()
    res = Result(b)
    check_common(res.records)
    check_events(res.events, pid=ct.pid, tid=ct.pid)
    assert "THE HOST FILE" not in res.stdout, f"a source line came from the host's file\n{res}"
    line, text = marker(py_fixture("stacks_container.py"), "X-LINE")
    blocks = blocks_of(ct.truth)
    assert len(blocks) == 3 and len(res.events) >= 3, (blocks, res)
    for blk in blocks:
        e = event_of(res.events, blk)
        assert_frame(e, function="x_block", file=ct.app, line=line, source=text,
                     what=f"block {blk}")
        check_root_frames(e, rootfs)


def container_constant(name):
    """A constant of stacks_container.py (LINKED_SOURCE, LINKED_LINE)."""
    tree = ast.parse(pathlib.Path(py_fixture("stacks_container.py")).read_text())
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == name):
            return ast.literal_eval(node.value)
    raise AssertionError(f"no {name} in stacks_container.py")


def test_container_symlink_to_host_file_is_not_read(bs, procs, tmp_path, rootfs,
                                                     host_app_dir, hostonly_dir):
    """/app/link.py (absolute) and /app/rel.py (../../.. climbing out) are
    symlinks inside the root to a file that exists only on the host: its
    text must never show up; inside the root they lead nowhere, so those
    frames have no source. y.py, a real file in the root named by a path
    relative to the target's working directory (/app), is the control: its
    source is the root's."""
    app_dir, _ = host_app_dir
    secret = hostonly_dir / "secret.py"
    tag = f"HOSTSECRET-{uuid.uuid4().hex[:8]}"
    secret.write_text("".join(f"{tag} = {n}  # host only\n" for n in range(1, 100)))
    source = container_constant("LINKED_SOURCE")
    line = container_constant("LINKED_LINE")
    text = source.splitlines()[line - 1].strip()
    links = [("link.py", str(secret)),
             ("rel.py", "../" * 24 + str(secret).lstrip("/"))]
    names = [f"{app_dir}/{n}" for n, _ in links] + ["y.py"]
    ct = Container(procs, tmp_path, rootfs, app_dir,
                   ["--mode", "link", "--count", "2", "--links", ",".join(names),
                    "--chdir", str(app_dir)],
                   links=links, files={"y.py": source})
    b, _ = attach_and_go(bs, ct.pid, ct.comm / "go", "-t", "100")
    assert b.wait(30) == 0, b.describe()
    res = Result(b)
    check_common(res.records)
    check_events(res.events, pid=ct.pid, tid=ct.pid)
    assert tag not in res.stdout, f"the host-only file was read through a symlink\n{res}"
    blocks = blocks_of(ct.truth)
    assert [blk["file"] for blk in blocks] == names * 2, blocks
    assert len(res.events) >= len(blocks), res
    for blk in blocks:
        assert_frame(event_of(res.events, blk), function="linked_block", file=blk["file"],
                     line=line, source=text if blk["file"] == "y.py" else None,
                     what=f"block {blk}")


# --------------------------------------------------------------------------
# 5. two loops in two threads, each watched with --tid


def test_two_thread_loops_by_tid(bs, procs, tmp_path):
    fixture = py_fixture("stacks_threads.py")
    go = tmp_path / "go"
    p, truth, ready = start_ready_target(procs, tmp_path, [PY, fixture, "--go", str(go)])
    tids = {"main_block": ready["tid"], "worker_block": ready["worker_tid"]}
    runs = {}
    for func, tid in tids.items():
        runs[func] = bs.start("--json", "-t", "100", "--tid", str(tid), str(p.pid))
    for b in runs.values():
        b.wait_record("session_start")
    time.sleep(0.3)
    go.touch()
    for func, tid in tids.items():
        b = runs[func]
        assert b.wait(30) == 0, b.describe()
        res = Result(b)
        check_common(res.records)
        check_events(res.events, pid=p.pid, tid=tid)
        other = next(f for f in tids if f != func)
        line, text = marker(fixture, "MAIN-LINE" if func == "main_block" else "WORKER-LINE")
        blocks = blocks_of(truth, func=func)
        assert len(blocks) == 3 and len(res.events) >= 3, (blocks, res)
        for blk in blocks:
            assert_frame(event_of(res.events, blk), function=func, file=fixture, line=line,
                         source=text, what=f"--tid {tid}, block {blk}")
        for e in res.events:
            for stack in e["python_stacks"] or []:
                assert all(f["function"] != other for f in stack), (
                    f"--tid {tid} ({func}) shows a stack of the other thread: {e}")


# --------------------------------------------------------------------------
# 6. short blocks at a 5 ms threshold


def test_short_blocks_at_5ms(bs, tmp_path):
    fixture = py_fixture("stacks_short.py")
    truth = tmp_path / "truth"
    res = bs.launch("--json", "-t", "5",
                    command=[PY, fixture, "--count", "80", "--truth", str(truth)], timeout=60)
    assert res.rc == 0, res
    check_common(res.records)
    line, text = marker(fixture, "SHORT-LINE")
    blocks = blocks_of(truth)
    assert len(blocks) == 80, blocks
    matched, good, bad = 0, 0, []
    for e in res.events:
        if not any(e["start_ns"] < blk["end_ns"] and e["end_ns"] > blk["start_ns"]
                   for blk in blocks):
            continue  # a gap of the loop itself on a busy machine
        matched += 1
        f = culprit(e)
        if f and (f["function"], f["file"], f["line"], f["source"]) == (
                "short_block", fixture, line, text):
            good += 1
        else:
            bad.append(e)
    assert matched >= 60, f"only {matched} events cover a block\n{res}"
    assert good >= 0.95 * matched, (
        f"{good}/{matched} events name short_block; the others:\n"
        + "\n".join(map(str, bad[:10])))


# --------------------------------------------------------------------------
# 7. a stuck loop


def test_stuck_loop_reported_while_stuck(bs, procs, tmp_path):
    fixture = py_fixture("stacks_stuck.py")
    truth = tmp_path / "truth"
    threshold_ms = 100
    b = bs.start("--json", "-t", str(threshold_ms), "--",
                 PY, fixture, "--seconds", "10", "--truth", str(truth))
    start = b.wait_record("session_start")
    procs.adopt(start["pid"], "stacks_stuck.py")
    stuck_at = wait_truth(truth, "stuck")["at_ns"]
    first = b.wait_record("still_blocked", timeout=8)
    arrived = time.monotonic_ns()
    assert b.p.poll() is None and pid_alive(start["pid"]), "the target should still be stuck"
    assert arrived - stuck_at < 3e9, (
        f"the first still_blocked record reached stdout {(arrived - stuck_at) / 1e9:.2f} s "
        f"after the loop got stuck: {first}")
    assert b.wait(30) == 0, b.describe()
    res = Result(b)
    check_common(res.records)
    line, text = marker(fixture, "STUCK-LINE")
    stills = res.of_type("still_blocked")
    assert stills, res
    finals = [e for e in res.events if e["start_ns"] == stills[0]["start_ns"]]
    assert len(finals) == 1, f"no blocking_event for the stuck block\n{res}"
    event = finals[0]
    limit_ns = (threshold_ms / 1000 + 1.0) * 1e9
    late = stills[0]["now_ns"] - stuck_at
    assert late <= limit_ns, (
        f"first still_blocked at {late / 1e9:.3f} s after entering stuck(), limit "
        f"{limit_ns / 1e9:.1f} s: {stills[0]}")
    for s in stills:
        assert s["start_ns"] == event["start_ns"], (s, event)
        assert s["pid"] == start["pid"] and s["tid"] == start["pid"], s
        assert abs(s["blocked_ms"] - (s["now_ns"] - s["start_ns"]) / 1e6) < 1.0, s
        assert s["start_ns"] <= stuck_at < s["now_ns"], s
        assert_frame(s, function="stuck", file=fixture, line=line, source=text,
                     what="still_blocked")
    # every 5 s while blocked: at ~1 s and ~6 s of a 10 s block
    assert len(stills) >= 2, f"expected still_blocked at ~1 s and ~6 s: {stills}"
    gap = (stills[1]["now_ns"] - stills[0]["now_ns"]) / 1e9
    assert 4.5 <= gap <= 6.0, f"still_blocked records {gap:.2f} s apart: {stills}"
    # and the final event follows them
    recs = res.records
    assert recs.index(event) > max(recs.index(s) for s in stills), recs
    assert event["duration_ms"] >= 10_000, event
    assert_frame(event, function="stuck", file=fixture, line=line, source=text,
                 what="final blocking_event")


# --------------------------------------------------------------------------
# 8. the target goes away while it is sampled


EXIT_FIXTURE = py_fixture("stacks_exit.py")


def run_exit_fixture(bs, procs, tmp_path, mode, how, extra=()):
    truth = tmp_path / "truth"
    argv = [PY, EXIT_FIXTURE, "--mode", mode, *extra]
    if how == "launch":
        res = bs.launch("--json", "-t", "100", command=[*argv, "--truth", str(truth)],
                        timeout=40)
        pid = res.one("session_start")["pid"] if res.stdout else None
    else:
        go = tmp_path / "go"
        p, truth, _ = start_ready_target(procs, tmp_path, [*argv, "--go", str(go)])
        b, _ = attach_and_go(bs, p.pid, go, "-t", "100")
        b.wait(40)
        res = Result(b)
        pid = p.pid
    return res, truth, pid


@pytest.mark.parametrize("how", ["launch", "attach"])
def test_target_exits_while_sampled(bs, procs, tmp_path, how):
    res, truth, pid = run_exit_fixture(bs, procs, tmp_path, "exit", how)
    check_clean_end(res)
    assert not pid_alive(pid)
    wait_truth(truth, "exit")
    summary = res.one("session_summary")
    assert summary["termination_reason"] == "target_exit", summary
    line, text = marker(EXIT_FIXTURE, "WARM-LINE")
    for blk in blocks_of(truth):
        assert_frame(event_of(res.events, blk), function="warm_block", file=EXIT_FIXTURE,
                     line=line, source=text, what=f"block {blk}")
    check_summary(summary, res.events)


@pytest.mark.parametrize("how", ["launch", "attach"])
def test_target_execs_another_python(bs, procs, tmp_path, how):
    other = str(PYENV / "3.12.1" / "bin" / "python3")
    if not os.access(other, os.X_OK):
        other = PY
    res, truth, pid = run_exit_fixture(bs, procs, tmp_path, "exec", how,
                                       ["--exec-python", other])
    check_clean_end(res)
    assert not pid_alive(pid)
    execd = wait_truth(truth, "execd")
    assert execd["pid"] == pid, execd
    exec_at = wait_truth(truth, "exec")["at_ns"]
    summary = res.one("session_summary")
    assert summary["termination_reason"] == "target_exit", summary
    check_summary(summary, res.events)
    line, text = marker(EXIT_FIXTURE, "BEFORE-LINE")
    for blk in blocks_of(truth, func="before_exec"):
        assert_frame(event_of(res.events, blk), function="before_exec", file=EXIT_FIXTURE,
                     line=line, source=text, what=f"block {blk}")
    # After the exec: never a stack of the program that is gone.
    after = py_fixture("stacks_execd.py")
    a_line, a_text = marker(after, "AFTER-LINE")
    for e in res.events:
        if e["start_ns"] <= exec_at:
            continue
        assert all(f["file"] != EXIT_FIXTURE for s in e["python_stacks"] or [] for f in s), (
            f"an event after the exec shows the old program's stack: {e}")
        if e["python_stacks"] is not None and any(
                e["start_ns"] < b["end_ns"] and e["end_ns"] > b["start_ns"]
                for b in blocks_of(truth, func="after_exec")):
            assert_frame(e, function="after_exec", file=after, line=a_line, source=a_text,
                         what="a block after the exec")


# --------------------------------------------------------------------------
# 9. --sampler none, and top_call_sites


def test_sampler_none_and_top_call_sites(bs, tmp_path):
    results = {}
    for sampler in ("none", "builtin"):
        truth = tmp_path / f"truth-{sampler}"
        res = bs.launch("--json", "-t", "100", "--sampler", sampler,
                        command=[PY, TARGET, "--count", "3", "--block", "0.2",
                                 "--truth", str(truth)], timeout=40)
        assert res.rc == 0, res
        check_common(res.records)
        blocks = blocks_of(truth)
        assert len(blocks) == 3, blocks
        for blk in blocks:
            event_of(res.events, blk)
        check_summary(res.one("session_summary"), res.events)
        results[sampler] = res

    res = results["none"]
    for e in res.events:
        assert e["python_stacks"] is None, f"--sampler none, yet a stack: {e}"
        assert e.get("stack_samples") == [] and e.get("samples") == 0, e
    assert res.one("session_summary")["top_call_sites"] == [], res
    assert not res.of_type("still_blocked"), res

    res = results["builtin"]
    line, text = marker(TARGET, "SLEEP-LINE")
    function = qualname(HOST_PY, "Worker", "block")
    ours = [event_of(res.events, blk) for blk in blocks_of(tmp_path / "truth-builtin")]
    for e in ours:
        assert_frame(e, function=function, file=TARGET, line=line, source=text)
    sites = res.one("session_summary")["top_call_sites"]
    assert sites, res
    top = sites[0]
    assert (top["function"], top["file"], top["line"]) == (function, TARGET, line), sites
    # (on a busy machine another gap could be an event of its own)
    at_site = [e for e in res.events if culprit(e) is not None
               and (culprit(e)["file"], culprit(e)["line"]) == (TARGET, line)]
    assert len(at_site) >= 3 and top["count"] == len(at_site), sites
    durations = [e["duration_ms"] for e in at_site]
    assert abs(top["total_blocked_ms"] - sum(durations)) < 0.06, sites
    assert abs(top["max_blocked_ms"] - max(durations)) < 0.01, sites
