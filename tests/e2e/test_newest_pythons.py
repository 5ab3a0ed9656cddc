"""The newest CPythons, and interpreters blocksnoop cannot read, end to end:
the real binary, its built-in sampler, real interpreters from the Debian
testing root file system `make e2e` builds (python3 is 3.14, python3.15 is
3.15), real namespaces.

  * 3.14 and 3.15 launched (their own mount namespace, chrooted into an
    overlay of the root): every event names the blocking function, file,
    line and source line, the very first block included, for a sleep and
    for a pure-Python CPU loop;
  * the same attached by host PID while they run in their own PID and
    mount namespaces;
  * a real 3.14 or 3.15 that rewrote its own _Py_DebugOffsets (through
    ctypes: tests/fixtures/unreadable_target.py), as a hostile target may:
    one warning that names the version and why, and every event says why
    it has no stack, in JSON (stack_unavailable) and on the console; the
    same for one whose _Py_DebugOffsets claim a free-threaded build, which
    3.14 and 3.15 must be refused as (Debian packages no 3.14t or 3.15t;
    test_free_threaded.py reads a real 3.13t); and with --all-threads, one
    warning for a process of four loop threads, whose events each say why;
  * the other reasons an event has no stack: the process is not Python,
    stack sampling is off.

Stacks are checked as in test_stacks.py (the innermost application frame of
each event's first stack); expected lines come from marker comments.
"""
import pathlib
import re

import pytest

from conftest import (HOST_PY, INTERPRETERS, bin_fixture, check_common, check_events, nspid,
                      pid_cmdline, py_fixture, read_truth, Result, start_ready_target, wait_for)
from test_stacks import (KINDS, TARGET, attach_and_go, blocks_of, check_stack_fields,
                         check_target_events, children, event_of,
                         launch_first_block)

NEWEST = {i.minor: i for i in INTERPRETERS if i.origin == "testing"}
UNREADABLE = py_fixture("unreadable_target.py")


def newest(minor):
    """Debian testing's CPython 3.<minor>, or fail: `make e2e` builds the root."""
    if minor not in NEWEST:
        pytest.fail(f"no CPython 3.{minor} from build/rootfs-testing among {INTERPRETERS}")
    return NEWEST[minor]


def in_own_pid_namespace(python, tmp_path, *args):
    """python's command (conftest's overlay of its root, in its own mount
    namespace) whose last step, unshare --root, also makes a PID namespace
    whose init is the Python (killed with it: --kill-child)."""
    argv = python.command(tmp_path, *args)
    i = argv.index("--")
    return argv[:i + 1] + ["--pid", "--fork", "--kill-child", "--mount-proc"] + argv[i + 1:]


# --------------------------------------------------------------------------
# 1. reading 3.14 and 3.15


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("minor", [14, 15])
def test_launch_first_block(bs, tmp_path, minor, kind):
    res, _ = launch_first_block(bs, tmp_path, newest(minor), kind)
    assert "warning" not in res.stderr.lower(), res


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("minor", [14, 15])
def test_attach_in_own_pid_and_mount_namespaces(bs, procs, tmp_path, minor, kind):
    python = newest(minor)
    go, truth = tmp_path / "go", tmp_path / "truth"
    outer = procs.start(in_own_pid_namespace(python, tmp_path, TARGET, "--kind", kind,
                                             "--count", "3", "--block", "0.2", "--go", go,
                                             "--truth", truth))
    # The Python is the child of the (exec'ed) inner unshare.
    pid = wait_for(lambda: next((k for k in children(outer.pid)
                                 if pid_cmdline(k).startswith(f"{python.path} {TARGET} ")),
                                None) or (outer.p.poll() is not None
                                          and pytest.fail(outer.describe())),
                   20, "the Python in its namespaces")
    procs.adopt(pid, TARGET)
    assert nspid(pid) == [pid, 1], nspid(pid)
    wait_for(lambda: any(r["event"] == "ready" for r in read_truth(truth)), 20, "ready")

    b, _ = attach_and_go(bs, pid, go, "-t", "100")
    assert b.wait(30) == 0, b.describe()
    res = Result(b)
    check_common(res.records)
    check_events(res.events, pid=pid, tid=pid)
    check_target_events(res.events, truth, python, kind)
    # the standard library's frames are the root's, read through its root
    stdlib = [f for e in res.events for f in (e["python_stacks"] or [[]])[0]
              if f["file"].startswith(f"/usr/lib/python3.{minor}/")]
    assert stdlib and all(f["source"] for f in stdlib), res.events
    assert not pathlib.Path(f"/usr/lib/python3.{minor}").exists()


# --------------------------------------------------------------------------
# 2. interpreters blocksnoop cannot read


def unreadable_reason(python, lie):
    if lie == "version":
        return "CPython 3.16.0 is not supported (this blocksnoop reads CPython 3.8 to 3.15)"
    if lie == "free-threaded":
        return (f"free-threaded CPython {python.version} is not supported (of the "
                f"free-threaded builds, this blocksnoop reads 3.13's only)")
    if lie == "cookie":
        return (f"CPython 3.{python.minor} is not supported without its _Py_DebugOffsets "
                f"(not found at _PyRuntime)")
    return (f"CPython {python.version} is not supported: its _Py_DebugOffsets give "
            f"implausible struct sizes")


# The event's anatomy, the line under its header (docs/output-schema.md).
ANATOMY_LINE = re.compile(r"^    (cpu|sleep|io|lock|runqueue|throttled) \d+%: on-CPU \d+%")
WARNING = re.compile(r"^blocksnoop: warning: cannot read the Python stacks of PID (\d+): (.*); "
                     r"its events will have no Python stack$")


@pytest.mark.parametrize("minor,lie", [(14, "version"), (14, "cookie"), (14, "ts-size"),
                                       (15, "version"), (14, "free-threaded"),
                                       (15, "free-threaded")])
def test_unreadable_interpreter_says_why(bs, procs, tmp_path, minor, lie):
    """The target rewrites its own _Py_DebugOffsets before it is attached
    to: one warning naming the version and the reason, and every event
    carries that reason, in JSON and on the console."""
    python = newest(minor)
    reason = unreadable_reason(python, lie)
    for output in ("json", "console"):
        go = tmp_path / f"go-{output}"
        target, truth, ready = start_ready_target(
            procs, tmp_path, python.command(tmp_path, UNREADABLE, "--lie", lie, "--count", "3",
                                            "--block", "0.2", "--go", go),
            name=f"target-{output}")
        args = ["-t", "100", str(target.pid)]
        b = bs.start(*(["--json"] if output == "json" else []), *args)
        if output == "json":
            b.wait_record("session_start")
        else:
            wait_for(lambda: "watching PID" in b.stderr, 20, "the console banner")
        # the reader tries the target at once: the warning comes before any block
        wait_for(lambda: "cannot read the Python stacks" in b.stderr, 10,
                 f"the warning\n{b.describe()}")
        go.touch()
        assert b.wait(30) == 0, b.describe()
        res = Result(b)
        blocks = blocks_of(truth)
        assert len(blocks) == 3, blocks
        warnings = [l for l in res.stderr_lines if "warning" in l]
        assert len(warnings) == 1, f"not one warning\n{res}"
        m = WARNING.match(warnings[0])
        assert m and int(m.group(1)) == target.pid and m.group(2) == reason, (
            f"warning {warnings[0]!r}, wanted the reason {reason!r}")
        if output == "json":
            check_common(res.records)
            check_events(res.events, pid=target.pid, tid=target.pid)
            for blk in blocks:
                e = event_of(res.events, blk)
                check_stack_fields(e)
                assert e["python_stacks"] is None, e
                assert e["stack_unavailable"] == reason, e
        else:
            # every event header is followed by its anatomy, then the reason
            lines = res.stderr_lines
            heads = [i for i, l in enumerate(lines) if re.search(r"#\d+ +BLOCKED", l)]
            assert len(heads) >= 3, res
            for i in heads:
                assert ANATOMY_LINE.match(lines[i + 1]), (lines[i:i + 3], res)
                assert lines[i + 2] == f"    no Python stack: {reason}", (lines[i:i + 3], res)


def test_unreadable_interpreter_said_once_for_its_threads(bs, procs, tmp_path):
    """Four loop threads of a 3.14 that rewrote its _Py_DebugOffsets,
    watched with --all-threads: the process cannot be read, and that is
    said once, not once per thread; every thread's events carry why."""
    python = newest(14)
    reason = unreadable_reason(python, "version")
    go = tmp_path / "go"
    target, truth, ready = start_ready_target(
        procs, tmp_path, python.command(tmp_path, UNREADABLE, "--lie", "version",
                                        "--script", "stacks_threads.py", "--workers", "3",
                                        "--count", "2", "--go", go))
    threads = {ready["tid"], *ready["worker_tids"]}
    assert len(threads) == 4, ready
    b, _ = attach_and_go(bs, target.pid, go, "-t", "100", "--all-threads")
    assert b.wait(30) == 0, b.describe()
    res = Result(b)
    check_common(res.records)
    warnings = [l for l in res.stderr_lines if "warning" in l]
    assert len(warnings) == 1, f"not one warning\n{res}"
    m = WARNING.match(warnings[0])
    assert m and int(m.group(1)) == target.pid and m.group(2) == reason, warnings[0]
    blocks = blocks_of(truth)
    assert {blk["tid"] for blk in blocks} == threads, blocks
    assert {e["tid"] for e in res.events} == threads, res.events
    for e in res.events:
        check_stack_fields(e)
        assert e["python_stacks"] is None and e["stack_unavailable"] == reason, e


# --------------------------------------------------------------------------
# 3. the other reasons


def test_not_python_says_so(bs, procs, tmp_path):
    truth, go = tmp_path / "truth", tmp_path / "go"
    target = procs.start([bin_fixture("epoll_gaps"), "-v", "wait", "-n", "3", "-g", "150",
                          "-o", str(truth), "-G", str(go)])
    wait_for(lambda: any(r["event"] == "ready" for r in read_truth(truth)), 10, "ready")
    b, _ = attach_and_go(bs, target.pid, go, "-t", "100")
    assert b.wait(30) == 0, b.describe()
    res = Result(b)
    check_common(res.records)
    blocks = blocks_of(truth)
    assert len(blocks) == 3, blocks
    for blk in blocks:
        e = event_of(res.events, blk)
        assert e["python_stacks"] is None, e
        assert e["stack_unavailable"].startswith(
            f"process {target.pid} is not Python: no _PyRuntime in "), e


def test_sampler_off_says_so(bs, tmp_path):
    for output in ("json", "console"):
        truth = tmp_path / f"truth-{output}"
        res = bs.launch(*(["--json"] if output == "json" else []), "-t", "100",
                        "--sampler", "none",
                        command=HOST_PY.command(tmp_path, TARGET, "--count", "2", "--block",
                                                "0.2", "--truth", truth), timeout=40)
        assert res.rc == 0, res
        assert len(blocks_of(truth)) == 2
        if output == "json":
            assert len(res.events) >= 2, res
            for e in res.events:
                assert e["python_stacks"] is None, e
                assert e["stack_unavailable"] == "stack sampling is off", e
        else:
            lines = res.stderr_lines
            heads = [i for i, l in enumerate(lines) if re.search(r"#\d+ +BLOCKED", l)]
            assert len(heads) >= 2, res
            for i in heads:
                assert ANATOMY_LINE.match(lines[i + 1]), res
                assert lines[i + 2] == "    no Python stack: stack sampling is off", res
