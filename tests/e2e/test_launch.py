"""Launch mode: exit status, signals, --duration, --fail-on, what goes to
stdout and stderr, and that the launched command never outlives
blocksnoop (bs.launch fails the test if it does)."""
import os
import pty
import re
import signal
import subprocess
import threading
import time

import pytest

from conftest import (PY, BLOCKSNOOP, assert_gone, check_common, check_events,
                      check_summary, match_blocks, py_fixture, read_truth, truth_blocks,
                      wait_truth)


def blocks_cmd(truth, *args):
    return [PY, py_fixture("asyncio_blocks.py"), *args, "--truth", str(truth)]


# --------------------------------------------------------------------------
# exit status


@pytest.mark.parametrize("code", [0, 7, 255])
def test_exit_code_propagated(bs, code):
    res = bs.launch("--json", command=[PY, "-c", f"import sys; sys.exit({code})"])
    assert res.rc == code, res
    check_common(res.records)
    summary = res.one("session_summary")
    # docs/output-schema.md
    assert summary["termination_reason"] == "target_exit", summary
    assert summary["status"] == ("completed" if code == 0 else "child_failed"), summary


def test_killed_by_sigkill_gives_137(bs):
    res = bs.launch("--json", command=[PY, "-c",
                                       "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
    assert res.rc == 128 + signal.SIGKILL, res


def test_killed_by_sigsegv_gives_139(bs):
    res = bs.launch(command=["/bin/sh", "-c", "kill -SEGV $$"])
    assert res.rc == 128 + signal.SIGSEGV, res


def test_exit_code_with_blocks(bs, tmp_path):
    truth = tmp_path / "truth"
    res = bs.launch("--json", "-t", "100",
                    command=blocks_cmd(truth, "--count", "1", "--exit-code", "7"))
    assert res.rc == 7, res
    match_blocks(res.events, truth_blocks(truth))


def test_command_not_found_127(bs, tmp_path):
    res = bs.run("--", str(tmp_path / "no-such-command"), "arg", timeout=20)
    assert res.rc == 127, res
    assert res.stdout == "", res
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("blocksnoop: error: "), res
    assert "no-such-command" in lines[0], res


def test_command_not_in_path_127(bs):
    res = bs.run("--", "blocksnoop-no-such-command-xyz", timeout=20)
    assert res.rc == 127, res
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("blocksnoop: error: "), res


def test_non_numeric_first_positional_starts_command(bs, tmp_path):
    """`blocksnoop CMD ARGS` without `--`; options after CMD belong to it."""
    truth = tmp_path / "truth"
    res = bs.run("--json", "-t", "100", PY, py_fixture("asyncio_blocks.py"), "--count", "1",
                 "--truth", str(truth), "--exit-code", "5", timeout=30)
    assert res.rc == 5, res
    start = res.one("session_start")
    assert start["mode"] == "launch", start
    assert start["command"] == [PY, py_fixture("asyncio_blocks.py"), "--count", "1",
                                "--truth", str(truth), "--exit-code", "5"], start
    match_blocks(res.events, truth_blocks(truth))
    assert_gone(start["pid"])


def test_command_found_through_path(bs, tmp_path):
    res = bs.launch("--json", command=["sh", "-c", "exit 9"])
    assert res.rc == 9, res
    assert res.one("session_start")["command"] == ["sh", "-c", "exit 9"]


# --------------------------------------------------------------------------
# signals


def launch_waiting(bs, procs, tmp_path, *fixture_args, bs_args=()):
    """blocksnoop --json launching an endless blocking loop; returns once
    the loop is ready (its signal handlers installed)."""
    truth = tmp_path / "truth"
    b = bs.start("--json", "-t", "100", *bs_args, "--",
                 *blocks_cmd(truth, "--count", "0", *fixture_args))
    start = b.wait_record("session_start")
    ready = wait_truth(truth, "ready")
    assert start["pid"] == ready["pid"], (start, ready)
    procs.adopt(ready["pid"], "asyncio_blocks.py")
    return b, truth, ready


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_signal_forwarded_to_command(bs, procs, tmp_path, sig):
    b, truth, ready = launch_waiting(bs, procs, tmp_path, "--signals")
    wait_truth(truth, "block")  # it is running its loop
    b.send(sig)
    rc = b.wait(20)
    got = [r for r in read_truth(truth) if r["event"] == "signal"]
    assert [r["signum"] for r in got] == [int(sig)], (got, b.describe())
    # The fixture exits 20+signum when it got the signal: that status is
    # blocksnoop's.
    assert rc == 20 + int(sig), b.describe()
    assert_gone(ready["pid"])
    records = b.records()
    check_common(records)
    events = [r for r in records if r["type"] == "blocking_event"]
    check_events(events, pid=ready["pid"], tid=ready["pid"])
    match_blocks(events, truth_blocks(truth))


def test_sigterm_kills_command_default_disposition(bs, procs, tmp_path):
    """A command that does not catch SIGTERM dies of it: 128+15."""
    b, truth, ready = launch_waiting(bs, procs, tmp_path)
    b.send(signal.SIGTERM)
    assert b.wait(20) == 128 + signal.SIGTERM, b.describe()
    assert_gone(ready["pid"])
    check_common(b.records())


def test_command_dies_with_sigkilled_blocksnoop(bs, procs, tmp_path):
    """Even a SIGKILLed blocksnoop leaves no command behind."""
    b, truth, ready = launch_waiting(bs, procs, tmp_path)
    b.send(signal.SIGKILL)
    assert b.wait(10) == -signal.SIGKILL
    assert_gone(ready["pid"], "the command of a SIGKILLed blocksnoop", grace=3)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_attach_ends_on_signal(bs, procs, tmp_path, sig):
    """Attach mode: SIGINT/SIGTERM end the session (exit 0, summary), and
    the target is left alone."""
    from conftest import start_ready_target
    go = tmp_path / "go"
    target, truth, _ = start_ready_target(
        procs, tmp_path, [PY, py_fixture("asyncio_blocks.py"), "--count", "0", "--signals",
                          "--go", str(go)])
    from conftest import attach_and_go
    b, _ = attach_and_go(bs, target.pid, go, "-t", "100")
    b.wait_record("blocking_event")
    b.send(sig)
    assert b.wait(20) == 0, b.describe()
    records = b.records()
    check_common(records)
    assert records[-1]["termination_reason"] == "signal", records[-1]
    assert target.p.poll() is None, "the attached target must keep running"
    assert not [r for r in read_truth(truth) if r["event"] == "signal"], \
        "the signal was passed on to an attached target"
    events = [r for r in records if r["type"] == "blocking_event"]
    check_events(events, pid=target.pid, tid=target.pid)
    match_blocks(events, [blk for blk in truth_blocks(truth)
                          if blk["end_ns"] <= events[-1]["end_ns"] + 2_000_000])
    check_summary(records[-1], events)


# --------------------------------------------------------------------------
# --duration


def test_duration_launch_terminates_command(bs, procs, tmp_path):
    """At expiry the command gets SIGTERM (it records it) and blocksnoop
    exits 0."""
    truth = tmp_path / "truth"
    res = bs.launch("--json", "-t", "100", "--duration", "2",
                    command=blocks_cmd(truth, "--count", "0", "--signals", "--signal-exit", "0"),
                    timeout=30)
    assert res.rc == 0, res
    assert [r["signum"] for r in read_truth(truth) if r["event"] == "signal"] == [15], res
    assert 1.5 <= res.elapsed < 10, res.elapsed
    summary = res.one("session_summary")
    assert 1.5 <= summary["duration_s"] <= 4, summary
    assert summary["termination_reason"] == "duration", summary
    ready = wait_truth(truth, "ready")
    check_events(res.events, pid=ready["pid"], tid=ready["pid"])
    match_blocks(res.events, truth_blocks(truth))
    assert len(res.events) >= 2, res


def test_duration_launch_exit_0_even_if_command_dies_of_sigterm(bs, tmp_path):
    truth = tmp_path / "truth"
    res = bs.launch("--json", "-t", "100", "--duration", "1.5",
                    command=blocks_cmd(truth, "--count", "0"), timeout=30)
    assert res.rc == 0, res
    assert 1.0 <= res.elapsed < 10, res.elapsed


def test_duration_with_fail_on_event(bs, tmp_path):
    truth = tmp_path / "truth"
    res = bs.launch("--json", "-t", "100", "--duration", "1.5", "--fail-on", "event",
                    command=blocks_cmd(truth, "--count", "0"), timeout=30)
    assert res.rc == 3, res
    assert res.events, res


def test_duration_attach_leaves_target_running(bs, procs, tmp_path):
    from conftest import start_ready_target
    target, truth, ready = start_ready_target(
        procs, tmp_path, [PY, py_fixture("asyncio_blocks.py"), "--count", "0"])
    t0 = time.monotonic()
    res = bs.run("--json", "-t", "100", "--duration", "2", str(target.pid), timeout=30)
    elapsed = time.monotonic() - t0
    assert res.rc == 0, res
    assert 1.5 <= elapsed < 10, elapsed
    assert target.p.poll() is None, "attach mode must not stop the target"
    check_common(res.records)
    summary = res.one("session_summary")
    assert 1.5 <= summary["duration_s"] <= 4, summary
    assert summary["termination_reason"] == "duration", summary
    # Blocks wholly inside the session were reported.
    events = res.events
    assert len(events) >= 2, res
    check_events(events, pid=target.pid, tid=target.pid)
    first, last = events[0]["start_ns"], events[-1]["end_ns"]
    inside = [blk for blk in truth_blocks(truth)
              if blk["start_ns"] >= first - 2_000_000 and blk["end_ns"] <= last + 2_000_000]
    match_blocks(events, inside)


# --------------------------------------------------------------------------
# --fail-on and levels


def test_fail_on_event(bs, tmp_path):
    truth = tmp_path / "truth"
    res = bs.launch("--json", "-t", "100", "--fail-on", "event",
                    command=blocks_cmd(truth, "--count", "1"))
    assert res.rc == 3, res
    assert len(res.events) == 1, res


def test_fail_on_event_not_hit(bs, tmp_path):
    truth = tmp_path / "truth"
    res = bs.launch("--json", "-t", "500", "--fail-on", "event",
                    command=blocks_cmd(truth, "--count", "1"))
    assert res.rc == 0, res
    assert res.events == [], res


def test_fail_on_event_child_code_wins(bs, tmp_path):
    truth = tmp_path / "truth"
    res = bs.launch("--json", "-t", "100", "--fail-on", "event",
                    command=blocks_cmd(truth, "--count", "1", "--exit-code", "7"))
    assert res.rc == 7, res


def test_fail_on_error_below_error_threshold(bs, tmp_path):
    truth = tmp_path / "truth"
    res = bs.launch("--json", "-t", "100", "--fail-on", "error", "--error-threshold", "500",
                    command=blocks_cmd(truth, "--count", "2"))
    assert res.rc == 0, res
    assert len(res.events) == 2 and all(e["level"] == "warning" for e in res.events), res
    assert res.one("session_summary")["error_event_count"] == 0


def test_fail_on_error_hit(bs, tmp_path):
    truth = tmp_path / "truth"
    res = bs.launch("--json", "-t", "100", "--fail-on", "error", "--error-threshold", "250",
                    command=blocks_cmd(truth, "--count", "2"))
    assert res.rc == 3, res
    start = res.one("session_start")
    assert start["error_threshold_ms"] == 250, start
    check_events(res.events, pid=start["pid"], tid=start["pid"], error_threshold_ms=250)
    assert [e["level"] for e in res.events] == ["error", "error"], res
    check_summary(res.one("session_summary"), res.events)
    assert res.one("session_summary")["error_event_count"] == 2


def test_levels_split_at_error_threshold(bs, tmp_path):
    """With --error-threshold 250: 0.15 s blocks are warnings, 0.35 s errors."""
    truth = tmp_path / "truth"
    res = bs.launch("--json", "-t", "100", "--error-threshold", "250",
                    command=blocks_cmd(truth, "--blocks", "0.15,0.35,0.15"))
    assert res.rc == 0, res
    start = res.one("session_start")
    check_events(res.events, pid=start["pid"], tid=start["pid"], error_threshold_ms=250)
    match_blocks(res.events, truth_blocks(truth))
    assert [e["level"] for e in res.events] == ["warning", "error", "warning"], res
    check_summary(res.one("session_summary"), res.events)


# --------------------------------------------------------------------------
# output streams


def test_json_stdout_carries_only_json(bs, tmp_path):
    truth = tmp_path / "truth"
    text = "hello from the child, not JSON"
    res = bs.launch("--json", "-t", "100",
                    command=blocks_cmd(truth, "--count", "1", "--print", text))
    assert res.rc == 0, res
    records = res.records  # fails on any non-JSON line
    check_common(records)
    assert text + "\n" in res.stderr, res
    assert len(res.events) == 1


def test_summary_only(bs, tmp_path):
    truth = tmp_path / "truth"
    res = bs.launch("--json", "-t", "100", "--summary-only",
                    command=blocks_cmd(truth, "--count", "2"))
    assert res.rc == 0, res
    types = [r["type"] for r in res.records]
    assert types[0] == "session_start" and types[-1] == "session_summary", res
    assert types.count("session_start") == types.count("session_summary") == 1, res
    assert "blocking_event" not in types and "stats" not in types, res
    summary = res.one("session_summary")
    assert summary["event_count"] == 2, summary
    blocks = truth_blocks(truth)
    truth_max = max((b["end_ns"] - b["start_ns"]) / 1e6 for b in blocks)
    assert abs(summary["max_blocked_ms"] - truth_max) <= 2.0, summary


CONSOLE_EVENT = re.compile(r"^\[\s*(\d+\.\d\d)s\] #(\d+)\s+BLOCKED\s+(\d+\.\d)ms\s+"
                           r"pid=(\d+) \(python3\) tid=(\d+)\s*$")


def test_console_output(bs, tmp_path):
    truth = tmp_path / "truth"
    res = bs.launch("-t", "100", command=blocks_cmd(truth, "--count", "2"),
                    marker=(truth, "asyncio_blocks.py"))
    assert res.rc == 0, res
    assert res.stdout == "", res
    assert "\x1b[" not in res.stderr, "colours while stderr is not a tty"
    lines = res.stderr.splitlines()
    ready = wait_truth(truth, "ready")
    blocks = truth_blocks(truth)
    idx = [i for i, l in enumerate(lines) if CONSOLE_EVENT.match(l)]
    assert len(idx) == 2, res
    for n, (i, blk) in enumerate(zip(idx, blocks), 1):
        m = CONSOLE_EVENT.match(lines[i])
        assert int(m.group(2)) == n, lines[i]
        assert int(m.group(4)) == int(m.group(5)) == ready["pid"], lines[i]
        assert abs(float(m.group(3)) - (blk["end_ns"] - blk["start_ns"]) / 1e6) <= 2.1, lines[i]
        # Then an indented line: "no Python stack captured", or the stack.
        assert lines[i + 1].startswith((" ", "\t")) and lines[i + 1].strip(), lines[i + 1]
    summary_at = [i for i, l in enumerate(lines) if l.startswith("--- blocksnoop session ---")]
    assert len(summary_at) == 1 and summary_at[0] > idx[-1], res


def run_on_pty(args, timeout=30):
    """blocksnoop with stderr on a pseudo-terminal; returns (rc, stderr)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([BLOCKSNOOP, *args], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []

    def drain():
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    try:
        rc = p.wait(timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    t.join(5)
    os.close(master)
    return rc, b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize("no_color", [False, True], ids=["tty", "tty-no-color"])
def test_colours_only_on_a_tty(procs, tmp_path, no_color):
    truth = tmp_path / "truth"
    args = ["-t", "100"] + (["--no-color"] if no_color else [])
    try:
        rc, err = run_on_pty([*args, "--", *blocks_cmd(truth, "--count", "1")])
    finally:
        for r in read_truth(truth):
            if r["event"] == "ready":
                procs.adopt(r["pid"], "asyncio_blocks.py")
    assert rc == 0, err
    assert "BLOCKED" in err, err
    if no_color:
        assert "\x1b[" not in err, err
    else:
        assert "\x1b[" in err, err
    ready = wait_truth(truth, "ready")
    assert_gone(ready["pid"])
