"""--log-file: the JSON records, appended, with the log-shipper fields; the
file is reopened on SIGHUP (logrotate's rename-then-HUP); a full file system
never leaves half a record in it, and what could not be written is counted."""
import datetime
import errno
import os
import signal
import subprocess
import time

import pytest

from conftest import (BLOCKSNOOP, PY, attach_and_go, check_common, match_blocks,
                      parse_json_lines, py_fixture, start_ready_target, truth_blocks, wait_for)


def read_log(path):
    return parse_json_lines(path.read_text(), where=str(path))


def check_log_record(r, *, service, env):
    assert r["source"] == "blocksnoop", r
    assert r["service"] == service, r
    assert r["env"] == env, r
    assert r["dd"] == {"service": service, "env": env}, r
    ts = r["timestamp"]
    assert isinstance(ts, str) and ts.endswith("Z"), r
    datetime.datetime.fromisoformat(ts[:-1] + "+00:00")
    assert isinstance(r["message"], str) and r["message"], r
    if r["type"] == "blocking_event":
        assert r["level"] in ("warning", "error"), r
        assert r["message"] == (f"Blocking call detected: {r['duration_ms']:.1f}ms "
                                f"on tid={r['tid']}"), r
    else:
        assert r["level"] == "info", r


def test_log_file_records(bs, tmp_path):
    truth = tmp_path / "truth"
    log = tmp_path / "bs.log"
    log.write_text("")  # appended to, not truncated: see below
    command = [PY, py_fixture("asyncio_blocks.py"), "--blocks", "0.3,0.55", "--truth", str(truth)]
    res = bs.launch("--json", "-t", "100", "--log-file", str(log), "--service", "checkout",
                    "--env", "staging", command=command)
    assert res.rc == 0, res
    recs = read_log(log)
    check_common(recs)
    for r in recs:
        check_log_record(r, service="checkout", env="staging")
    # The same records as on stdout, plus the log fields.
    stdout = res.records
    assert [r["type"] for r in recs] == [r["type"] for r in stdout]
    for a, b in zip(recs, stdout):
        for k, v in b.items():
            if k not in ("level",):
                assert a.get(k) == v, (k, a, b)
    events = [r for r in recs if r["type"] == "blocking_event"]
    match_blocks(events, truth_blocks(truth))
    assert [e["level"] for e in events] == ["warning", "error"], events

    # A second session appends to the same file.
    res2 = bs.launch("--json", "-t", "100", "--log-file", str(log),
                     command=[PY, py_fixture("asyncio_blocks.py"), "--count", "1"])
    assert res2.rc == 0, res2
    recs2 = read_log(log)
    assert recs2[:len(recs)] == recs, "the log file was not appended to"
    new = recs2[len(recs):]
    check_common(new)
    assert new[0]["session_id"] != recs[0]["session_id"]
    for r in new:
        check_log_record(r, service="blocksnoop", env="")


def test_log_file_without_json_console(bs, tmp_path):
    """--log-file alongside the console output (no --json)."""
    truth = tmp_path / "truth"
    log = tmp_path / "bs.log"
    res = bs.launch("-t", "100", "--log-file", str(log),
                    command=[PY, py_fixture("asyncio_blocks.py"), "--count", "2",
                             "--truth", str(truth)],
                    marker=(truth, "asyncio_blocks.py"))
    assert res.rc == 0, res
    assert res.stdout == "", res
    assert "BLOCKED" in res.stderr and "--- blocksnoop session ---" in res.stderr, res
    recs = read_log(log)
    check_common(recs)
    events = [r for r in recs if r["type"] == "blocking_event"]
    match_blocks(events, truth_blocks(truth))


def test_sighup_reopens_log_file(bs, procs, tmp_path):
    go = tmp_path / "go"
    log = tmp_path / "bs.log"
    rotated = tmp_path / "bs.log.1"
    target, truth, ready = start_ready_target(
        procs, tmp_path, [PY, py_fixture("asyncio_blocks.py"), "--count", "0",
                          "--pause", "0.1", "--go", str(go)])
    b, _ = attach_and_go(bs, target.pid, go, "-t", "100", "--log-file", str(log))

    def events_in(path):
        if not path.exists():
            return []
        return [r for r in read_log(path) if r["type"] == "blocking_event"]

    wait_for(lambda: len(events_in(log)) >= 2, 15, "two events in the log file")
    os.rename(log, rotated)
    b.send(signal.SIGHUP)
    wait_for(lambda: len(events_in(log)) >= 2, 15, "events in the reopened log file")
    assert b.p.poll() is None, "SIGHUP must not stop blocksnoop"
    b.send(signal.SIGINT)
    assert b.wait(20) == 0, b.describe()
    assert target.p.poll() is None, "stopping blocksnoop must not stop the attached target"

    old, new = read_log(rotated), read_log(log)
    assert old[0]["type"] == "session_start", old[0]
    assert new[-1]["type"] == "session_summary", new[-1]
    assert all(r["type"] == "blocking_event" for r in old[1:]), old
    assert all(r["type"] == "blocking_event" for r in new[:-1]), new
    both = old + new
    assert len({r["session_id"] for r in both}) == 1
    numbers = [r["event_number"] for r in both if r["type"] == "blocking_event"]
    assert numbers == list(range(1, len(numbers) + 1)), numbers
    # Nothing lost or duplicated across the rotation: the files hold what
    # stdout got.
    stdout = b.records()
    assert [r["event_number"] for r in stdout if r["type"] == "blocking_event"] == numbers
    assert both[-1]["event_count"] == len(numbers)
    for r in both:
        check_log_record(r, service="blocksnoop", env="")


@pytest.fixture
def small_fs(tmp_path):
    """A 64 KiB tmpfs, mounted for this test and unmounted after it."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mnt)],
                   check=True)
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)]).returncode:
            subprocess.run(["umount", "-l", str(mnt)], check=True)


def fill(path):
    """Write path until the file system is full, down to the last byte."""
    with open(path, "wb", buffering=0) as f:
        for chunk in (65536, 4096, 512, 64, 1):
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e


def test_full_file_system_never_tears_a_line(procs, tmp_path, small_fs):
    """The log file and stdout (a regular file) on a tiny tmpfs that fills up
    while blocksnoop writes, then has room again: every line of both parses
    as JSON, and the summary counts exactly the records each one misses."""
    go = tmp_path / "go"
    log, out, err = small_fs / "bs.log", small_fs / "stdout.json", tmp_path / "stderr"
    target, _, _ = start_ready_target(
        procs, tmp_path, [PY, py_fixture("asyncio_blocks.py"), "--count", "0", "--block", "0.03",
                          "--pause", "0.02", "--go", str(go)])
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        b = subprocess.Popen([BLOCKSNOOP, "--json", "-t", "20", "--log-file", str(log),
                              str(target.pid)], stdout=stdout, stderr=stderr)
    procs.adopt(b.pid, str(log))
    try:
        def text_of(path):
            try:
                return path.read_text()
            except FileNotFoundError:
                return ""

        def events_in(path):
            return text_of(path).count('"type":"blocking_event"')

        wait_for(lambda: '"session_start"' in text_of(log), 15, "session_start")
        go.touch()
        wait_for(lambda: events_in(log) >= 3, 15, "events in the log file")
        fill(small_fs / "filler")
        wait_for(lambda: "cannot write to log file" in err.read_text(), 15, "write errors")
        # Let a good number of records fail (about 20 a second), then make
        # room again.
        failed_at = events_in(log)
        time.sleep(1.0)
        assert b.poll() is None, err.read_text()
        (small_fs / "filler").unlink()
        wait_for(lambda: events_in(log) >= failed_at + 3, 15,
                 f"events after the recovery\n{err.read_text()}")
        b.send_signal(signal.SIGINT)
        assert b.wait(20) == 0, err.read_text()
    finally:
        if b.poll() is None:
            b.kill()
            b.wait()

    stderr_text = err.read_text()
    assert "Sanitizer" not in stderr_text, stderr_text
    for path, output in ((log, "log_file"), (out, "stdout")):
        recs = parse_json_lines(path.read_text(), where=str(path))  # fails on a torn line
        check_common(recs)
        summary = recs[-1]
        dropped = summary["dropped_records"]
        assert set(dropped) == {"log_file", "stdout"}, summary
        events = [r for r in recs if r["type"] == "blocking_event"]
        numbers = [e["event_number"] for e in events]
        assert numbers == sorted(set(numbers)), numbers
        # Records: session_start, every event, the summary (no block lasts
        # long enough for still_blocked). The missing ones are the dropped.
        assert not [r for r in recs if r["type"] == "still_blocked"], recs
        missing = summary["event_count"] + 2 - len(recs)
        assert missing > 0, f"nothing was dropped from {path}: the test did not fill it"
        assert dropped[output] == missing, (output, dropped, missing)
        assert len(set(range(1, summary["event_count"] + 1)) - set(numbers)) == missing
    # Said once when writing fails, and again when it works again.
    for what in (f"log file {log}", "stdout"):
        assert f"blocksnoop: error: cannot write to {what}: No space left on device" in (
            stderr_text), stderr_text
        assert f"blocksnoop: warning: writing to {what} again" in stderr_text, stderr_text
