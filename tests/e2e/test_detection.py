"""Blocks are reported, once each, with the kernel-measured start, end and
duration within 2 ms of what the blocking code itself measured."""
import pytest

from conftest import (PY, attach_and_go, bin_fixture, check_common, check_events,
                      check_summary, match_blocks, parse_time, py_fixture, read_truth,
                      start_ready_target, truth_blocks, wait_truth)


def launch_fixture(bs, tmp_path, *fixture_args, bs_args=("-t", "100"), timeout=40,
                   name="truth"):
    truth = tmp_path / name
    command = [PY, py_fixture("asyncio_blocks.py"), *fixture_args, "--truth", str(truth)]
    res = bs.launch("--json", *bs_args, command=command, timeout=timeout)
    return res, truth, command


def test_sleep_loop_every_block_reported(bs, tmp_path):
    res, truth, command = launch_fixture(bs, tmp_path, "--count", "4")
    assert res.rc == 0, res
    records = res.records
    check_common(records)
    ready = wait_truth(truth, "ready")
    start = res.one("session_start")
    assert start["mode"] == "launch", start
    assert start["command"] == command, start
    assert start["pid"] == ready["pid"] and start["tid"] == ready["pid"], start
    assert start["threshold_ms"] == 100, start
    assert start["error_threshold_ms"] == 500, start
    assert start["stats"] is False, start
    assert isinstance(start["version"], str) and start["version"], start

    blocks = truth_blocks(truth)
    assert len(blocks) == 4
    check_events(res.events, pid=ready["pid"], tid=ready["pid"])
    match_blocks(res.events, blocks)
    summary = res.one("session_summary")
    check_summary(summary, res.events)
    assert all(0 <= e["timestamp_s"] <= summary["duration_s"] for e in res.events), res
    # An event's `time` is when the block began (docs/output-schema.md):
    # session_start's time + timestamp_s.
    t0 = parse_time(start["time"])
    for e in res.events:
        since = (parse_time(e["time"]) - t0).total_seconds()
        assert abs(since - e["timestamp_s"]) < 0.005, (start["time"], e)


def test_threshold_above_blocks_reports_none(bs, tmp_path):
    res, truth, _ = launch_fixture(bs, tmp_path, "--count", "2", bs_args=("-t", "500"))
    assert res.rc == 0, res
    assert len(truth_blocks(truth)) == 2
    assert res.events == [], res
    assert res.one("session_start")["threshold_ms"] == 500
    summary = res.one("session_summary")
    assert summary["event_count"] == 0 and summary["max_blocked_ms"] == 0, summary


def test_fractional_threshold(bs, tmp_path):
    """-t takes a float; a 0.3 s block passes -t 299.5 and not -t 330.5."""
    res, truth, _ = launch_fixture(bs, tmp_path, "--count", "2", "--block", "0.3",
                                   "--pause", "0.1", bs_args=("-t", "299.5"))
    assert res.rc == 0, res
    match_blocks(res.events, truth_blocks(truth))
    assert res.one("session_start")["threshold_ms"] == 299.5

    res, truth, _ = launch_fixture(bs, tmp_path, "--count", "1", "--block", "0.3",
                                   bs_args=("-t", "330.5"), name="truth2")
    assert res.rc == 0, res
    assert res.events == [], res


def test_cpu_bound_block_reported(bs, tmp_path):
    res, truth, _ = launch_fixture(bs, tmp_path, "--count", "2", "--cpu")
    assert res.rc == 0, res
    ready = wait_truth(truth, "ready")
    blocks = truth_blocks(truth, kind="cpu")
    assert len(blocks) == 2
    check_events(res.events, pid=ready["pid"], tid=ready["pid"])
    match_blocks(res.events, blocks)


def test_uvloop_blocks_reported(bs, tmp_path):
    res, truth, _ = launch_fixture(bs, tmp_path, "--count", "3", "--uvloop")
    assert res.rc == 0, res
    ready = wait_truth(truth, "ready")
    assert ready["loop"] == "uvloop", ready
    check_events(res.events, pid=ready["pid"], tid=ready["pid"])
    match_blocks(res.events, truth_blocks(truth))


@pytest.mark.parametrize("variant", ["wait", "pwait", "pwait2"])
@pytest.mark.parametrize("busy", [False, True], ids=["sleep", "busy"])
def test_c_epoll_variants(bs, tmp_path, variant, busy):
    """Gaps between calls of each epoll syscall, spent asleep or on CPU."""
    truth = tmp_path / "truth"
    command = [bin_fixture("epoll_gaps"), "-v", variant, "-n", "3", "-g", "150",
               "-o", str(truth)] + (["-b"] if busy else [])
    res = bs.launch("--json", "-t", "100", command=command, timeout=30)
    assert res.rc == 0, res
    ready = wait_truth(truth, "ready")
    blocks = truth_blocks(truth)
    assert len(blocks) == 3
    check_common(res.records)
    check_events(res.events, pid=ready["pid"], tid=ready["pid"])
    match_blocks(res.events, blocks)


def test_launch_catches_block_at_startup(bs, tmp_path):
    """The first callback of the loop blocks at once: launch mode watches
    the command before its first instruction, so it is caught."""
    truth = tmp_path / "truth"
    res = bs.launch("--json", "-t", "100",
                    command=[PY, py_fixture("startup_block.py"), str(truth)], timeout=30)
    assert res.rc == 0, res
    blocks = truth_blocks(truth)
    assert len(blocks) == 1
    check_events(res.events, pid=blocks[0]["pid"], tid=blocks[0]["pid"])
    match_blocks(res.events, blocks)


def test_attach_by_pid(bs, procs, tmp_path):
    go = tmp_path / "go"
    target, truth, ready = start_ready_target(
        procs, tmp_path, [PY, py_fixture("asyncio_blocks.py"), "--count", "3", "--go", str(go)])
    b, start = attach_and_go(bs, target.pid, go, "-t", "100")
    assert start["mode"] == "attach", start
    assert start["pid"] == target.pid and start["tid"] == target.pid, start
    # Attach mode ends by itself when the target exits.
    assert b.wait(30) == 0, b.describe()
    assert target.p.wait(5) == 0
    records = b.records()
    check_common(records)
    events = [r for r in records if r["type"] == "blocking_event"]
    check_events(events, pid=target.pid, tid=target.pid)
    match_blocks(events, truth_blocks(truth))
    check_summary(records[-1], events)


def test_attach_uvloop_cpu(bs, procs, tmp_path):
    go = tmp_path / "go"
    target, truth, ready = start_ready_target(
        procs, tmp_path, [PY, py_fixture("asyncio_blocks.py"), "--count", "2", "--cpu",
                          "--uvloop", "--go", str(go)])
    b, _ = attach_and_go(bs, target.pid, go, "-t", "100")
    assert b.wait(30) == 0, b.describe()
    events = [r for r in b.records() if r["type"] == "blocking_event"]
    check_events(events, pid=target.pid, tid=target.pid)
    match_blocks(events, truth_blocks(truth))


@pytest.mark.parametrize("variant", ["pwait", "pwait2"])
def test_attach_c_fixture(bs, procs, tmp_path, variant):
    go = tmp_path / "go"
    truth = tmp_path / "truth"
    target = procs.start([bin_fixture("epoll_gaps"), "-v", variant, "-n", "3", "-g", "150",
                          "-o", str(truth), "-G", str(go)])
    wait_truth(truth, "ready")
    b, _ = attach_and_go(bs, target.pid, go, "-t", "100")
    assert b.wait(30) == 0, b.describe()
    events = [r for r in b.records() if r["type"] == "blocking_event"]
    check_events(events, pid=target.pid, tid=target.pid)
    match_blocks(events, truth_blocks(truth))


def test_loop_in_non_main_thread_with_tid(bs, procs, tmp_path):
    """--tid picks a loop running in another thread; the main thread's own
    loop blocks too, and none of its blocks may be reported."""
    go = tmp_path / "go"
    target, truth, ready = start_ready_target(
        procs, tmp_path, [PY, py_fixture("thread_loop.py"), "--count", "3", "--go", str(go)])
    worker = ready["worker_tid"]
    assert worker != target.pid
    b, start = attach_and_go(bs, target.pid, go, "-t", "100", "--tid", str(worker))
    assert start["pid"] == target.pid and start["tid"] == worker, start
    assert b.wait(30) == 0, b.describe()
    events = [r for r in b.records() if r["type"] == "blocking_event"]
    main_blocks = truth_blocks(truth, role="main")
    assert len(main_blocks) >= 3, read_truth(truth)
    check_events(events, pid=target.pid, tid=worker)
    match_blocks(events, truth_blocks(truth, role="worker"))


def test_default_tid_is_main_thread(bs, procs, tmp_path):
    """Without --tid the main thread's loop is the one watched."""
    go = tmp_path / "go"
    target, truth, ready = start_ready_target(
        procs, tmp_path, [PY, py_fixture("thread_loop.py"), "--count", "3", "--go", str(go)])
    b, start = attach_and_go(bs, target.pid, go, "-t", "100")
    assert start["tid"] == target.pid, start
    assert b.wait(30) == 0, b.describe()
    events = [r for r in b.records() if r["type"] == "blocking_event"]
    check_events(events, pid=target.pid, tid=target.pid)
    # The main loop stops blocking when the worker is done; its last block
    # may end after the worker's and is then still followed by an epoll
    # call, so every main block is reported.
    match_blocks(events, truth_blocks(truth, role="main"))
