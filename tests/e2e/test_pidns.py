"""PID namespaces: PIDs and TIDs are those of blocksnoop's own namespace,
whether blocksnoop runs inside the target's namespace or outside it."""
import shlex
import time

from conftest import (BLOCKSNOOP, PY, check_common, check_events, children, match_blocks, pid_alive,
                      py_fixture, Result, truth_blocks, wait_for, wait_truth)

UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]


def ns_init(procs, unshare_proc, marker):
    """The host PID of the namespace's init (unshare's child); registered
    to be killed at teardown, which takes the whole namespace with it."""
    kids = wait_for(lambda: children(unshare_proc.pid), 10, "unshare's child")
    procs.adopt(kids[0], marker)
    return kids[0]


def test_attach_inside_new_pid_namespace(procs, tmp_path):
    """Target and blocksnoop in one new PID namespace; the target is PID 2
    there and that is the PID reported."""
    truth = tmp_path / "truth"
    target = shlex.join([PY, py_fixture("asyncio_blocks.py"), "--count", "0",
                         "--truth", str(truth)])
    script = f'{target} & exec {shlex.quote(BLOCKSNOOP)} --json -t 100 --duration 3 "$!"'
    p = procs.start([*UNSHARE, "sh", "-c", script])
    init = ns_init(procs, p, "blocksnoop")
    p.wait(40)
    res = Result(p)
    assert res.rc == 0, res
    # The namespace died with its init (blocksnoop): the target is gone.
    wait_for(lambda: not pid_alive(init), 5, "the namespace's init to be gone")

    ready = wait_truth(truth, "ready")
    records = res.records
    check_common(records)
    start = res.one("session_start")
    assert start["mode"] == "attach", start
    assert start["pid"] == ready["pid"] and start["tid"] == ready["pid"], (start, ready)
    assert ready["pid"] < 10, f"the target should have a small in-namespace PID: {ready}"
    events = res.events
    assert len(events) >= 2, res
    check_events(events, pid=ready["pid"], tid=ready["pid"])
    # Every block that ran wholly while blocksnoop watched is reported.
    first, last = events[0]["start_ns"], events[-1]["end_ns"]
    inside = [b for b in truth_blocks(truth)
              if b["start_ns"] >= first - 2_000_000 and b["end_ns"] <= last + 2_000_000]
    match_blocks(events, inside)


def test_launch_inside_new_pid_namespace(procs, tmp_path):
    """blocksnoop is the namespace's PID 1 and launches the target (PID 2)."""
    truth = tmp_path / "truth"
    p = procs.start([*UNSHARE, BLOCKSNOOP, "--json", "-t", "100", "--",
                     PY, py_fixture("asyncio_blocks.py"), "--count", "3", "--truth", str(truth)])
    ns_init(procs, p, "blocksnoop")
    p.wait(40)
    res = Result(p)
    assert res.rc == 0, res
    ready = wait_truth(truth, "ready")
    start = res.one("session_start")
    assert start["mode"] == "launch" and start["pid"] == ready["pid"], (start, ready)
    check_events(res.events, pid=ready["pid"], tid=ready["pid"])
    match_blocks(res.events, truth_blocks(truth))


def test_attach_from_host_to_target_in_namespace(bs, procs, tmp_path):
    """The target is PID 1 of its own namespace; blocksnoop, outside, is
    given the host PID and reports the host PID."""
    truth = tmp_path / "truth"
    go = tmp_path / "go"
    p = procs.start([*UNSHARE, PY, py_fixture("asyncio_blocks.py"), "--count", "3",
                     "--go", str(go), "--truth", str(truth)])
    host_pid = ns_init(procs, p, "asyncio_blocks.py")
    ready = wait_truth(truth, "ready")
    assert ready["pid"] == 1, ready
    assert host_pid != 1
    b = bs.start("--json", "-t", "100", str(host_pid))
    start = b.wait_record("session_start")
    assert start["pid"] == host_pid and start["tid"] == host_pid, start
    time.sleep(0.3)
    go.touch()
    assert b.wait(30) == 0, b.describe()
    events = [r for r in b.records() if r["type"] == "blocking_event"]
    check_events(events, pid=host_pid, tid=host_pid)
    match_blocks(events, truth_blocks(truth))
