"""Gap anatomy: each blocking event says, from the kernel's scheduler, where
the loop thread's time went (on CPU, run queue, CPU-throttled, asleep in
which syscall on what), and its class; the shares add up to the gap."""
import contextlib
import os
import pathlib
import socket
import threading
import time
import uuid

import pytest

from conftest import INTERPRETERS, PY, host_interpreter, py_fixture

CLASSES = ("cpu", "sleep", "io", "lock", "runqueue", "throttled")


def run_kind(bs, kind, *args, bs_args=("-t", "100"), timeout=60):
    command = [PY, py_fixture("anatomy_blocks.py"), kind, *args]
    res = bs.launch("--json", *bs_args, command=command, timeout=timeout)
    assert res.rc == 0, res
    assert res.events, res
    return res


def check_anatomy(event):
    """The anatomy's shape, and shares that add up to the gap (of a
    still_blocked record: the time blocked so far) within 2%."""
    a = event["anatomy"]
    span = event["duration_ms"] if event["type"] == "blocking_event" else event["blocked_ms"]
    assert a["class"] in CLASSES, a
    assert set(a["shares"]) == set(CLASSES), a
    total = sum(a["shares"].values())
    assert abs(total - 1.0) <= 0.02, (total, event)
    split = a["on_cpu_ms"] + a["off_cpu_ms"] + a["runqueue_ms"] + a["throttled_ms"]
    assert abs(split - span) <= 0.02 * span, event
    assert a["shares"][a["class"]] == max(a["shares"].values()), a
    waited = sum(w["ms"] for w in a["waits"])
    assert abs(waited - a["off_cpu_ms"]) < 0.01, a
    return a


def test_sleep_is_sleep_in_clock_nanosleep(bs):
    res = run_kind(bs, "sleep")
    for e in res.events:
        a = check_anatomy(e)
        assert a["class"] == "sleep", e
        assert a["shares"]["sleep"] > 0.9, e
        top = a["waits"][0]
        assert top["syscall"] == "clock_nanosleep" and top["class"] == "sleep", a
        assert top["ms"] > 250, a
        assert a["throttled"] is False, a


def test_cpu_loop_is_cpu(bs):
    # SCHED_FIFO: other tests on the machine's CPUs must not turn it into a
    # run-queue wait (which the anatomy would rightly say it was).
    res = run_kind(bs, "cpu", "--fifo")
    for e in res.events:
        a = check_anatomy(e)
        assert a["class"] == "cpu", e
        assert a["on_cpu_ms"] > 0.5 * e["duration_ms"], e


def test_cpu_loop_sharing_its_cpu_waits_in_the_run_queue(bs, procs):
    """Pinned to one CPU beside a busy process pinned there too, a CPU loop
    spends a good part of the gap runnable, waiting for its turn."""
    cpu = max(os.sched_getaffinity(0))
    procs.start([PY, "-c", f"import os; os.sched_setaffinity(0, {{{cpu}}})\nwhile True: pass"])
    res = run_kind(bs, "cpu", "--pin", str(cpu))
    for e in res.events:
        a = check_anatomy(e)
        assert a["class"] in ("cpu", "runqueue"), e
        assert a["runqueue_ms"] > 0.25 * e["duration_ms"], a
        assert a["off_cpu_ms"] < 0.1 * e["duration_ms"], a


@contextlib.contextmanager
def slow_server(delay):
    """A TCP server on 127.0.0.1 that answers each request after delay s."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    while not stop.is_set() and conn.recv(16):
                        time.sleep(delay)
                        conn.sendall(b"!")
                except OSError:
                    pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join(5)
        srv.close()


def test_recv_from_slow_server_is_io_with_the_peer(bs):
    with slow_server(0.3) as port:
        res = run_kind(bs, "recv", "--port", str(port))
    for e in res.events:
        a = check_anatomy(e)
        assert a["class"] == "io", e
        top = a["waits"][0]
        assert top["syscall"] in ("recvfrom", "read", "recvmsg"), a
        assert top["class"] == "io" and top["ms"] > 250, a
        assert isinstance(top["fd"], int) and top["fd"] >= 0, a
        assert top["what"].startswith("TCP 127.0.0.1:"), a
        assert top["what"].endswith(f"\u2192 127.0.0.1:{port}"), a


# ---- a block still in progress ------------------------------------------------
#
# A still_blocked record (made about a second into a block, while it goes on)
# carries the anatomy of the block so far, in shares of the time blocked so
# far: what the kernel measured up to the thread's last switch, and the state
# it has been in since.

def still_blocked(res):
    stills = res.of_type("still_blocked")
    assert stills, res
    return stills


def test_still_blocked_sleep_is_sleep_so_far(bs):
    res = run_kind(bs, "sleep", "--count", "1", "--block", "3")
    for r in still_blocked(res):
        a = check_anatomy(r)
        assert a["class"] == "sleep", r
        assert a["shares"]["sleep"] > 0.9, r
        top = a["waits"][0]
        assert top["syscall"] == "clock_nanosleep" and top["class"] == "sleep", a
        # asleep since the block began: the open sleep is counted
        assert top["ms"] > 0.9 * r["blocked_ms"], a
        assert a["gil"] is None, a


def test_still_blocked_recv_is_io_with_the_peer(bs):
    with slow_server(3) as port:
        res = run_kind(bs, "recv", "--count", "1", "--port", str(port))
    for r in still_blocked(res):
        a = check_anatomy(r)
        assert a["class"] == "io", r
        top = a["waits"][0]
        assert top["syscall"] in ("recvfrom", "read", "recvmsg"), a
        assert top["ms"] > 0.9 * r["blocked_ms"], a
        assert top["what"].startswith("TCP 127.0.0.1:"), a
        assert top["what"].endswith(f"\u2192 127.0.0.1:{port}"), a


def test_still_blocked_console_line(bs):
    command = [PY, py_fixture("anatomy_blocks.py"), "sleep", "--count", "1", "--block", "3"]
    res = bs.launch("--no-color", "-t", "100", command=command, timeout=60)
    assert res.rc == 0, res
    lines = res.stderr_lines
    heads = [i for i, line in enumerate(lines) if "STILL BLOCKED" in line]
    assert heads, res
    for i in heads:
        line = lines[i + 1]
        assert line.startswith("    sleep "), res
        assert "\u2014" in line and "ms in clock_nanosleep" in line, res


def test_lock_held_by_another_thread_is_lock_in_futex(bs):
    res = run_kind(bs, "lock")
    for e in res.events:
        a = check_anatomy(e)
        assert a["class"] == "lock", e
        top = a["waits"][0]
        assert top["syscall"] == "futex" and top["class"] == "lock", a
        assert top["ms"] > 250, a
        assert "fd" not in top, a


def cpu_cgroup_dir():
    """Where a cgroup with a CPU limit can be made: the unified hierarchy if
    its cpu controller is there, else the cpu controller's own (v1)."""
    unified = pathlib.Path("/sys/fs/cgroup/unified")
    for root in (pathlib.Path("/sys/fs/cgroup"), unified):
        ctl = root / "cgroup.controllers"
        if ctl.exists() and "cpu" in ctl.read_text().split():
            sub = root / "cgroup.subtree_control"
            if "cpu" in sub.read_text().split():
                return root, 2
    v1 = pathlib.Path("/sys/fs/cgroup/cpu")
    if (v1 / "cpu.cfs_quota_us").exists():
        return v1, 1
    pytest.fail("no cgroup hierarchy with the cpu controller on this machine")


@contextlib.contextmanager
def cpu_limited_cgroup(percent):
    root, version = cpu_cgroup_dir()
    cg = root / f"blocksnoop-test-{uuid.uuid4().hex[:12]}"
    cg.mkdir()
    try:
        if version == 2:
            (cg / "cpu.max").write_text(f"{percent * 1000} 100000")
        else:
            (cg / "cpu.cfs_period_us").write_text("100000")
            (cg / "cpu.cfs_quota_us").write_text(str(percent * 1000))
        yield cg / "cgroup.procs"
    finally:
        # Whatever is still inside goes back to the root, then the group goes.
        for _ in range(50):
            try:
                pids = (cg / "cgroup.procs").read_text().split()
            except FileNotFoundError:
                break
            for pid in pids:
                try:
                    (root / "cgroup.procs").write_text(pid)
                except OSError:
                    pass
            try:
                cg.rmdir()
                break
            except OSError:
                time.sleep(0.1)
        assert not cg.exists(), f"cgroup {cg} could not be removed"


def test_cpu_loop_in_a_cpu_limited_cgroup_is_throttled(bs):
    with cpu_limited_cgroup(3) as procs:
        res = run_kind(bs, "cpu", "--cgroup", str(procs), "--block", "0.5")
    for e in res.events:
        a = check_anatomy(e)
        assert a["class"] == "throttled", e
        assert a["throttled"] is True, a
        # 3% of a CPU: nearly all of the wall-clock time is spent held back.
        assert a["throttled_ms"] > 0.5 * e["duration_ms"], a


def test_stats_mode_has_no_anatomy(bs):
    command = [PY, py_fixture("anatomy_blocks.py"), "sleep"]
    res = bs.launch("--json", "--stats", "-t", "100", command=command, timeout=60)
    assert res.rc == 0, res
    assert res.events == [], res
    assert res.of_type("still_blocked") == [], res
    assert all("anatomy" not in r for r in res.records), res


def test_console_line_and_summary_class(bs):
    command = [PY, py_fixture("anatomy_blocks.py"), "sleep"]
    res = bs.launch("--no-color", "-t", "100", command=command, timeout=60)
    assert res.rc == 0, res
    lines = res.stderr_lines
    heads = [i for i, line in enumerate(lines) if "BLOCKED" in line]
    assert len(heads) == 2, res
    for i in heads:
        line = lines[i + 1]
        assert line.startswith("    sleep "), res
        assert "off-CPU 9" in line or "off-CPU 100%" in line, res
        assert "\u2014" in line and "ms in clock_nanosleep" in line, res
    sites = lines[lines.index("Top blocking call sites:") + 1]
    assert " sleep " in sites and "anatomy_blocks.py" in sites, res


# ---- the GIL holder ---------------------------------------------------------
#
# Two CPU-bound threads take turns with the GIL (each keeps it for the switch
# interval): the loop thread, blocked in a pure-Python loop, spends about
# half of each block waiting for the other. The event names that thread (the
# TID the fixture's thread says it has) and where it runs.

GIL_PYTHONS = [pytest.param(i, id=i.id) for i in INTERPRETERS
               if i.minor >= 11 and not i.free_threaded and i.reader_reads]


def run_gil(bs, tmp_path, python, *bs_args):
    tid_file = tmp_path / "digest.tid"
    command = python.command(tmp_path, py_fixture("anatomy_blocks.py"), "gil", "--count", "3",
                             "--tid-file", tid_file)
    res = bs.launch(*bs_args, "-t", "100", command=command, timeout=90)
    assert res.rc == 0, res
    return res, int(tid_file.read_text())


@pytest.mark.parametrize("python", GIL_PYTHONS)
def test_gil_wait_names_the_holding_thread_and_its_stack(bs, tmp_path, python):
    res, digest = run_gil(bs, tmp_path, python, "--json")
    blocks = [e for e in res.events if e["duration_ms"] > 250]
    assert len(blocks) == 3, res
    for e in blocks:
        gil = e["anatomy"]["gil"]
        assert gil is not None, e
        assert gil["holder_tid"] == digest != e["tid"], e
        assert 0.1 <= gil["share"] <= 1, e
        # innermost compute_digest, or the Event.is_set() it calls
        frames = [(f["function"], os.path.basename(f["file"])) for f in gil["stack"]]
        assert ("compute_digest", "anatomy_blocks.py") in frames[:2], e
        # the loop thread's own stack is its own, not the holder's
        assert e["python_stacks"][0][0]["function"] == "spin", e


def test_still_blocked_names_the_gil_holder(bs, tmp_path):
    """A loop thread taking turns with a CPU-bound thread for 3 s: the
    report made while it goes on already names the thread holding the GIL."""
    python = host_interpreter(11)
    tid_file = tmp_path / "digest.tid"
    command = python.command(tmp_path, py_fixture("anatomy_blocks.py"), "gil", "--count", "1",
                             "--block", "3", "--tid-file", tid_file)
    res = bs.launch("--json", "-t", "100", command=command, timeout=90)
    assert res.rc == 0, res
    digest = int(tid_file.read_text())
    for r in still_blocked(res):
        a = check_anatomy(r)
        gil = a["gil"]
        assert gil is not None, r
        assert gil["holder_tid"] == digest != r["tid"], r
        assert 0.1 <= gil["share"] <= 1, r
        frames = [(f["function"], os.path.basename(f["file"])) for f in gil["stack"]]
        assert ("compute_digest", "anatomy_blocks.py") in frames[:2], r


def test_gil_console_line(bs, tmp_path):
    res, digest = run_gil(bs, tmp_path, host_interpreter(11), "--no-color")
    lines = res.stderr_lines
    said = [line for line in lines if "waiting for the GIL" in line]
    assert len(said) == 3, res
    for line in said:
        assert line.startswith(f"    waiting for the GIL held by thread {digest} in "
                               "compute_digest() ("), res
        assert line.endswith("% of the block)"), res


def test_no_gil_holder_without_another_thread(bs):
    """A loop thread that holds the GIL itself all along waits for nobody."""
    res = run_kind(bs, "cpu", "--fifo")
    for e in res.events:
        assert e["anatomy"]["gil"] is None, e
        assert e["python_stacks"], e


@pytest.mark.parametrize("python", [pytest.param(i, id=i.id) for i in INTERPRETERS
                                    if i.free_threaded and i.reader_reads])
def test_free_threaded_build_has_no_gil(bs, tmp_path, python):
    res, _ = run_gil(bs, tmp_path, python, "--json")
    assert res.events, res
    for e in res.events:
        assert e["anatomy"]["gil"] is None, e
