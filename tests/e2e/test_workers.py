"""Worker processes and threads, end to end: the processes a watched process
starts (gunicorn's and uvicorn's workers, a multiprocessing pool, plain
forks) and the threads it runs loops in are watched from their first
instruction, with the right Python stacks, through the real binary.

  * launch mode follows by default: gunicorn -w 2 with uvicorn workers,
    uvicorn --workers 2 (spawned: fork and exec), a multiprocessing pool,
    children whose very first loop iteration blocks;
  * --no-follow watches the command's own process only;
  * attach mode with --follow: a gunicorn master's workers, and the one
    that replaces a killed worker, from its first request;
  * --all-threads: a loop in each of two threads (without it: the main
    thread's only); eight loop threads of one process, read through one
    reader of the process;
  * the launched command's exit status ends the run even while a child it
    started lives on;
  * the console names each event's process and thread, the summary counts
    per process; a kernel that cannot follow is said once. (--sampler
    austin with followed processes: test_austin_follow.py.)

What is checked is attribution: every block the fixtures record is
reported once, in its own process and thread, with its own stack, and
nothing else is. A gap here holds more than the block the fixture timed: a
server's parsing before the handler, and, in a process's very first gap,
blocksnoop's own wake-up to open its interpreter (docs/architecture.md),
which on a loaded machine take milliseconds, tens of them at times. So an
event must contain its block and no other (events and blocks pair off one
to one); the kernel's timing to the fixture's own clock is test_follow.py's
and test_detection.py's to check.

Servers listen on Unix sockets in the test's directory. Everything a test
starts runs in a cgroup of the test's own, killed whole at teardown.
"""
import os
import pathlib
import re
import secrets
import signal
import socket
import time

import pytest

from conftest import (CLOCK_SLACK_NS, FIXTURES_SRC, PY, check_common, children, pid_alive,
                      py_fixture, read_truth, Result, wait_for)
from test_stacks import culprit, marker

GUNICORN = "/usr/bin/gunicorn"
THRESHOLD_MS = 50
APP = py_fixture("workers_app.py")
UVICORN_WORKER = "uvicorn.workers.UvicornWorker"


# --------------------------------------------------------------------------
# helpers


CGROUP2 = pathlib.Path("/sys/fs/cgroup/unified")


class Cgroup:
    """A cgroup of the test's own: every process the test starts joins it
    before it execs, so whatever those start is in it too, however they
    detach, and it is killed whole at teardown."""

    def __init__(self):
        assert (CGROUP2 / "cgroup.procs").exists(), f"no cgroup v2 hierarchy at {CGROUP2}"
        self.path = CGROUP2 / f"blocksnoop-workers-{secrets.token_hex(6)}"
        self.path.mkdir()
        procs_file = str(self.path / "cgroup.procs")

        def join():
            with open(procs_file, "w") as f:
                f.write("0")
        self.join = join  # a preexec_fn

    def pids(self):
        try:
            return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
        except FileNotFoundError:
            return []

    def cleanup(self):
        deadline = time.monotonic() + 20
        while self.pids() and time.monotonic() < deadline:
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        for _ in range(100):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)


@pytest.fixture
def cg(procs):
    group = Cgroup()
    try:
        yield group
    finally:
        procs.cleanup()
        group.cleanup()


def start(bs, cg, *args, **kw):
    """blocksnoop ARGS in the test's cgroup."""
    return bs.start(*args, preexec_fn=cg.join, **kw)


def run(bs, cg, *args, timeout=60, **kw):
    """blocksnoop ARGS in the test's cgroup, to its end."""
    b = start(bs, cg, *args, **kw)
    b.wait(timeout)
    return Result(b)


def launch(bs, cg, *args, command, timeout=60, **kw):
    """blocksnoop ARGS -- COMMAND in the test's cgroup, to its end."""
    return run(bs, cg, *args, "--", *command, timeout=timeout, **kw)


def get(sock_path, timeout=5):
    """GET / over a Unix socket: the body (the worker's pid), or None."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(sock_path))
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
    except OSError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    return int(body) if head.startswith(b"HTTP/1.1 200") and body.strip().isdigit() else None


def wait_serving(sock_path, proc, timeout=30):
    def answered():
        if proc.p.poll() is not None:
            pytest.fail(f"the server's runner exited\n{proc.describe()}")
        return get(sock_path, timeout=2)
    return wait_for(answered, timeout, f"an answer on {sock_path}")


def load(sock_path, done, timeout=60, what="blocks"):
    """Send requests one at a time until done() holds. One at a time: two
    requests a worker took in together would block its loop in one gap (a
    true event, but not one per request); the kernel spreads them over the
    workers that wait in accept."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s sending requests for {what}")
        get(sock_path)


def blocks(truth, **match):
    return [r for r in read_truth(truth) if r["event"] == "block"
            and all(r.get(k) == v for k, v in match.items())]


def pids_of(records):
    return {r["pid"] for r in records}


def of_pid(events, pid):
    return [e for e in events if e["pid"] == pid]


def check_frames(events, *, path, function, tag):
    """Every event's most sampled stack has function at the marked line of
    path as its innermost application frame."""
    line, text = marker(path, tag)
    assert events
    for e in events:
        f = culprit(e)
        assert f is not None, f"no stack: {e}"
        got = (f["function"], f["file"], f["line"], f["source"])
        assert got == (function, path, line, text), f"wrong frame {got}\nevent: {e}"


def match_blocks(events, truth_blocks):
    """Events and truth blocks pair off one to one: each event contains its
    block (to the clocks' slack), and no event holds two blocks (their
    numbers match and each block meets exactly one event). How much longer
    than its block a gap is depends on the machine's load: not checked."""
    assert len(events) == len(truth_blocks), (
        f"{len(events)} events for {len(truth_blocks)} blocks\nevents: {events}\n"
        f"blocks: {truth_blocks}")
    for b in truth_blocks:
        over = [e for e in events if e["start_ns"] < b["end_ns"] and e["end_ns"] > b["start_ns"]]
        assert len(over) == 1, f"block {b} is covered by {len(over)} events: {over}"
        e = over[0]
        where = f"\nevent: {e}\nblock: {b}"
        assert e["start_ns"] <= b["start_ns"] + CLOCK_SLACK_NS, where
        assert e["end_ns"] >= b["end_ns"] - CLOCK_SLACK_NS, where


def one_event_of(events, block, *, key="pid"):
    """The one event of block's process (or thread) that contains it."""
    over = [e for e in events if e[key] == block[key]
            and e["start_ns"] <= block["start_ns"] + CLOCK_SLACK_NS
            and e["end_ns"] >= block["end_ns"] - CLOCK_SLACK_NS]
    assert len(over) == 1, f"block {block} is in {len(over)} events: {over}"
    return over[0]


def check_per_process(events, truth_blocks, *, key="pid"):
    """Every truth block of every process (or thread) is reported once, in
    that process (thread); no other event of it is."""
    for k in {b[key] for b in truth_blocks}:
        match_blocks([e for e in events if e[key] == k], [b for b in truth_blocks if b[key] == k])


def check_summary_processes(res, events):
    """The summary's per-process counts are those of the events."""
    summary = res.one("session_summary")
    got = {p["pid"]: p for p in summary["processes"]}
    assert set(got) == pids_of(events), summary
    for pid, p in got.items():
        mine = of_pid(events, pid)
        assert p["event_count"] == len(mine), (p, mine)
        assert abs(p["total_blocked_ms"] - sum(e["duration_ms"] for e in mine)) < 0.01, p
        assert p["process_name"] == mine[-1]["process_name"], (p, mine[-1])
    assert summary["other_processes"]["event_count"] == 0, summary
    return summary


def fork_cmd(truth, *args):
    return [PY, py_fixture("fork_blocks.py"), "--truth", str(truth), *args]


# --------------------------------------------------------------------------
# launch mode: web servers' workers


def run_server(bs, cg, tmp_path, command, *, env=None):
    """Launch a server with blocksnoop --json -t 50, serve requests until
    every worker has blocked twice, stop it with SIGTERM (forwarded to the
    server). Returns (result, truth blocks, worker pids)."""
    sock, truth = tmp_path / "app.sock", tmp_path / "truth"
    env = dict(os.environ, WORKERS_APP_TRUTH=str(truth), **(env or {}))
    b = start(bs, cg, "--json", "-t", str(THRESHOLD_MS), "--", *command(sock), env=env)
    master = b.wait_record("session_start")["pid"]
    workers = wait_for(lambda: (lambda k: k if len(k) >= 2 else None)(
        [c for c in children(master) if "resource_tracker" not in open(f"/proc/{c}/cmdline").read()]),
        30, "two workers")
    wait_serving(sock, b)
    load(sock, lambda: all(len(blocks(truth, pid=w)) >= 2 for w in workers),
         what=f"two blocks in each of {workers}")
    b.send(signal.SIGTERM)
    assert b.wait(40) == 0, b.describe()
    res = Result(b)
    check_common(res.records)
    return res, blocks(truth), workers, master


def check_server_events(res, truth_blocks, workers, master):
    events = res.events
    assert pids_of(truth_blocks) == set(workers), (truth_blocks, workers)
    check_per_process(events, truth_blocks)
    assert master not in pids_of(events), events
    assert all(e["tid"] == e["pid"] for e in events), events
    check_frames(events, path=APP, function="handler", tag="HANDLER-LINE")
    summary = check_summary_processes(res, events)
    assert summary["termination_reason"] == "target_exit", summary
    start = res.one("session_start")
    assert start["follow"] is True and start["all_threads"] is False, start


def test_gunicorn_uvicorn_workers(bs, cg, tmp_path):
    """blocksnoop -- gunicorn -w 2 -k uvicorn.workers.UvicornWorker: every
    block of both workers (forked by the master, no exec) is reported in its
    worker, with the handler's time.sleep line; none of the master."""
    res, truth_blocks, workers, master = run_server(bs, cg, tmp_path, lambda sock: [
        GUNICORN, "-w", "2", "-k", UVICORN_WORKER, "-b", f"unix:{sock}",
        "--chdir", str(FIXTURES_SRC), "workers_app:app"])
    check_server_events(res, truth_blocks, workers, master)
    assert {e["process_name"] for e in res.events} == {"gunicorn"}, res.events


def test_uvicorn_workers(bs, cg, tmp_path):
    """blocksnoop -- python3 -m uvicorn --workers 2: workers are spawned
    (fork, then exec of a new interpreter), and followed across the exec."""
    res, truth_blocks, workers, master = run_server(bs, cg, tmp_path, lambda sock: [
        PY, "-m", "uvicorn", "--workers", "2", "--uds", str(sock),
        "--app-dir", str(FIXTURES_SRC), "workers_app:app"])
    check_server_events(res, truth_blocks, workers, master)


# --------------------------------------------------------------------------
# launch mode: processes of the standard library and plain forks


def test_multiprocessing_pool(bs, cg, tmp_path):
    """A multiprocessing pool's workers, each running an asyncio loop that
    blocks: every block, in its worker, with pool_block's line."""
    truth = tmp_path / "truth"
    res = launch(bs, cg, "--json", "-t", str(THRESHOLD_MS), command=[
        PY, py_fixture("mp_pool.py"), "--truth", str(truth)])
    assert res.rc == 0, res
    check_common(res.records)
    truth_blocks = blocks(truth)
    parent = next(r["pid"] for r in read_truth(truth) if r["event"] == "ready")
    assert len(pids_of(truth_blocks)) == 2 and parent not in pids_of(truth_blocks), truth_blocks
    check_per_process(res.events, truth_blocks)
    assert pids_of(res.events) == pids_of(truth_blocks), res.events
    check_frames(res.events, path=py_fixture("mp_pool.py"), function="pool_block",
                 tag="POOL-LINE")
    check_summary_processes(res, res.events)


def test_children_block_at_once(bs, cg, tmp_path):
    """Children whose loop blocks in its very first iteration, right after
    the fork: that first block is reported, with its stack, and so is every
    other block of the children and of the parent."""
    truth = tmp_path / "truth"
    res = launch(bs, cg, "--json", "-t", str(THRESHOLD_MS), command=fork_cmd(
        truth, "--children", "3", "--child-blocks", "2", "--parent-blocks", "2",
        "--block", "0.3"))
    assert res.rc == 0, res
    check_common(res.records)
    truth_blocks = blocks(truth)
    kids = pids_of(blocks(truth, role="child"))
    assert len(kids) == 3, truth_blocks
    check_per_process(res.events, truth_blocks)
    fixture = py_fixture("fork_blocks.py")
    for kid in kids:
        mine = of_pid(res.events, kid)
        first = min(mine, key=lambda e: e["start_ns"])
        assert first["event_number"] and first["python_stacks"], first
        check_frames(mine, path=fixture, function="child_block", tag="CHILD-LINE")
    parent = next(r["pid"] for r in read_truth(truth) if r["event"] == "ready")
    check_frames(of_pid(res.events, parent), path=fixture, function="parent_block",
                 tag="PARENT-LINE")
    check_summary_processes(res, res.events)


def test_no_follow(bs, cg, tmp_path):
    """--no-follow: the command's own blocks only; its children's, which
    happen all the same, are not watched."""
    truth = tmp_path / "truth"
    res = launch(bs, cg, "--json", "-t", str(THRESHOLD_MS), "--no-follow", command=fork_cmd(
        truth, "--children", "2"))
    assert res.rc == 0, res
    check_common(res.records)
    assert res.one("session_start")["follow"] is False
    parent = next(r["pid"] for r in read_truth(truth) if r["event"] == "ready")
    assert len(blocks(truth, role="child")) == 4, read_truth(truth)
    match_blocks(res.events, blocks(truth, role="parent"))
    assert pids_of(res.events) == {parent}, res.events


def test_exit_status_while_a_child_lives_on(bs, cg, tmp_path):
    """The run ends when the launched command exits, with its status, even
    though a child it started keeps running (and is not waited for); the
    child's blocks before that are reported."""
    truth = tmp_path / "truth"
    b = start(bs, cg, "--json", "-t", str(THRESHOLD_MS), "--",
              *fork_cmd(truth, "--children", "1", "--linger", "120", "--exit-code", "7"))
    rc = b.wait(60)
    res = Result(b)
    assert rc == 7, res
    kid = next(r["pid"] for r in read_truth(truth) if r["event"] == "child")
    assert pid_alive(kid), "the child should outlive the command"
    check_common(res.records)
    check_per_process(res.events, blocks(truth))
    assert kid in pids_of(res.events), res.events
    summary = res.one("session_summary")
    assert (summary["termination_reason"], summary["status"]) == ("target_exit", "child_failed")


def test_console_names_processes(bs, cg, tmp_path):
    """The console names the process and thread of each event, and the
    summary lists the blocks of each process."""
    truth = tmp_path / "truth"
    res = launch(bs, cg, "--no-color", "-t", str(THRESHOLD_MS), command=fork_cmd(
        truth, "--children", "1", "--child-blocks", "1", "--parent-blocks", "1"))
    assert res.rc == 0, res
    parent = next(r["pid"] for r in read_truth(truth) if r["event"] == "ready")
    kid = next(r["pid"] for r in read_truth(truth) if r["event"] == "child")
    assert f"watching PID {parent} thread {parent} and every process it starts" in res.stderr
    for pid in (parent, kid):
        assert re.search(rf"^\[ *\d+\.\d\ds\] #\d+  BLOCKED  \d+\.\dms  "
                         rf"pid={pid} \(python3\) tid={pid}$", res.stderr, re.M), res.stderr
    lines = res.stderr.split("Blocks by process:\n", 1)[1].splitlines()[:2]
    assert sorted(int(l.split("pid ")[1].split()[0]) for l in lines) == sorted([parent, kid]), \
        res.stderr
    assert all(l.rstrip().endswith("(python3)") and " 1x " in l for l in lines), lines


def test_many_children_stay_bounded(bs, cg, tmp_path):
    """300 children blocking at the same time: every block is reported in
    its process; 256 of the children are sampled and the rest say why not
    (said once on stderr too); the summary lists 64 processes and counts
    the others together. (How soon 256 interpreters are opened on a busy
    machine is not this test's: a sampled child's block may find its
    reader not open yet, and say so.)"""
    truth = tmp_path / "truth"
    # 300 processes on a small machine: a higher threshold and longer
    # blocks than elsewhere, so that each block is sampled in time. A child
    # kept from a CPU for that long is blocked too: such events may come
    # besides the blocks.
    b = start(bs, cg, "--json", "-t", "200", "--",
              *fork_cmd(truth, "--children", "300", "--child-blocks", "1",
                        "--parent-blocks", "0", "--block", "1.0", "--linger", "10",
                        "--together"))
    assert b.wait(120) == 0, b.describe()
    res = Result(b)
    check_common(res.records)
    truth_blocks = blocks(truth)
    assert len(pids_of(truth_blocks)) == 300, len(truth_blocks)
    fixture = py_fixture("fork_blocks.py")
    line, text = marker(fixture, "CHILD-LINE")
    unsampled = set()
    in_caller = []
    sampled = 0
    for blk in truth_blocks:
        e = one_event_of(res.events, blk)
        if e["python_stacks"] is None:
            if e["stack_unavailable"].startswith("more than 256 processes"):
                unsampled.add(e["pid"])
            continue
        sampled += 1
        f = culprit(e)
        # 300 runnable processes on two cores: a child may wait long for a
        # CPU just before or after its sleep, and its block's few samples
        # may all land in the caller, blocks(), around the call. A stack of
        # another process, or of no block, never.
        if (f["function"], f["file"]) == ("blocks", fixture):
            in_caller.append(e)
            continue
        assert (f["function"], f["line"], f["source"]) == ("child_block", line, text), e
    assert len(in_caller) <= sampled // 20, in_caller
    assert len(unsampled) == 300 - 256, unsampled
    # The threads without a sampler are the same all along.
    assert {e["pid"] for e in res.events if e["python_stacks"] is None and
            e["stack_unavailable"].startswith("more than 256 processes")} == unsampled
    assert len([l for l in res.stderr_lines if "more than 256 processes" in l]) == 1, res.stderr
    summary = res.one("session_summary")
    assert len(summary["processes"]) == 64, summary
    listed = sum(p["event_count"] for p in summary["processes"])
    assert summary["other_processes"]["event_count"] == len(res.events) - listed, summary
    assert summary["event_count"] == len(res.events), summary


# --------------------------------------------------------------------------
# attach mode: a gunicorn master and its workers, old and new


def test_attach_follows_gunicorn_workers(bs, procs, cg, tmp_path):
    """blocksnoop --follow MASTER: the workers running at attach time, and
    the worker the master starts when one is killed, from its first
    request on; nothing of the master itself."""
    sock, truth = tmp_path / "app.sock", tmp_path / "truth"
    server = procs.start([GUNICORN, "-w", "2", "-k", UVICORN_WORKER, "-b", f"unix:{sock}",
                          "--chdir", str(FIXTURES_SRC), "workers_app:app"],
                         env=dict(os.environ, WORKERS_APP_TRUTH=str(truth)),
                         preexec_fn=cg.join)
    old = wait_for(lambda: (lambda k: k if len(k) == 2 else None)(children(server.pid)), 30,
                   "two workers")
    wait_serving(sock, server)

    b = start(bs, cg, "--json", "-t", str(THRESHOLD_MS), "--follow", str(server.pid))
    session = b.wait_record("session_start")
    assert session["follow"] is True and session["pid"] == server.pid, session
    since = time.monotonic_ns()
    load(sock, lambda: all(len([x for x in blocks(truth, pid=w) if x["start_ns"] > since]) >= 2
                           for w in old), what="blocks of both workers")
    os.kill(old[0], signal.SIGKILL)
    new = wait_for(lambda: next((c for c in children(server.pid) if c not in old), None), 30,
                   "the replacement worker")
    load(sock, lambda: len(blocks(truth, pid=new)) >= 2, what="blocks of the new worker")
    b.send(signal.SIGINT)
    assert b.wait(30) == 0, b.describe()
    res = Result(b)
    check_common(res.records)
    truth_blocks = [x for x in blocks(truth) if x["start_ns"] > since]
    assert pids_of(truth_blocks) == {*old, new}, truth_blocks
    check_per_process(res.events, truth_blocks)
    # The replacement's very first request is among them.
    assert len(blocks(truth, pid=new)) == len(of_pid(res.events, new)), res.events
    assert server.pid not in pids_of(res.events)
    check_frames(res.events, path=APP, function="handler", tag="HANDLER-LINE")
    check_summary_processes(res, res.events)


# --------------------------------------------------------------------------
# threads


def test_all_threads(bs, cg, tmp_path):
    """A loop in the main thread and one in another: --all-threads reports
    the blocks of both, each in its thread with its own function; without
    it only the main thread is watched."""
    fixture = py_fixture("stacks_threads.py")
    for all_threads in (True, False):
        truth = tmp_path / f"truth-{all_threads}"
        res = launch(bs, cg, "--json", "-t", str(THRESHOLD_MS),
                     *(["--all-threads"] if all_threads else []),
                     command=[PY, fixture, "--count", "3", "--truth", str(truth)])
        assert res.rc == 0, res
        check_common(res.records)
        assert res.one("session_start")["all_threads"] is all_threads
        ready = next(r for r in read_truth(truth) if r["event"] == "ready")
        main, worker = ready["tid"], ready["worker_tid"]
        truth_blocks = blocks(truth)
        assert {b["tid"] for b in truth_blocks} == {main, worker}, truth_blocks
        if all_threads:
            check_per_process(res.events, truth_blocks, key="tid")
            check_frames([e for e in res.events if e["tid"] == worker], path=fixture,
                         function="worker_block", tag="WORKER-LINE")
        else:
            match_blocks(res.events, blocks(truth, tid=main))
        assert all(e["pid"] == ready["pid"] for e in res.events), res.events
        check_frames([e for e in res.events if e["tid"] == main], path=fixture,
                     function="main_block", tag="MAIN-LINE")


def test_all_threads_share_one_reader(bs, cg, tmp_path):
    """Eight loop threads of one process, all blocking: --all-threads
    reports each thread's blocks in that thread with its own function, and
    the process's interpreter is opened once for all of them (-v says
    "reading Python ... stacks of PID" once per reader opened)."""
    fixture = py_fixture("stacks_threads.py")
    truth = tmp_path / "truth"
    res = launch(bs, cg, "--json", "-v", "-t", str(THRESHOLD_MS), "--all-threads",
                 command=[PY, fixture, "--workers", "7", "--count", "2", "--truth", str(truth)])
    assert res.rc == 0, res
    check_common(res.records)
    ready = next(r for r in read_truth(truth) if r["event"] == "ready")
    main, workers = ready["tid"], ready["worker_tids"]
    assert len(set(workers)) == 7 and main not in workers, ready
    truth_blocks = blocks(truth)
    assert {b["tid"] for b in truth_blocks} == {main, *workers}, truth_blocks
    check_per_process(res.events, truth_blocks, key="tid")
    assert all(e["pid"] == ready["pid"] for e in res.events), res.events
    check_frames([e for e in res.events if e["tid"] == main], path=fixture,
                 function="main_block", tag="MAIN-LINE")
    check_frames([e for e in res.events if e["tid"] in workers], path=fixture,
                 function="worker_block", tag="WORKER-LINE")
    opened = re.compile(rf"^blocksnoop: reading Python \S+ stacks of PID {ready['pid']}$")
    assert len([l for l in res.stderr_lines if opened.match(l)]) == 1, res.stderr


def test_threads_of_one_process_share_its_sampled_place(bs, cg, tmp_path):
    """300 loop threads of one process block at the same time: the process
    takes one of the 256 places of followed processes sampled at once, so
    every thread's block has its stack (no thread is left out for want of
    a place, and nothing says there are too many)."""
    fixture = py_fixture("stacks_threads.py")
    truth = tmp_path / "truth"
    # As in test_many_children_stay_bounded: a higher threshold and longer
    # blocks, so that 300 blocks at once are each sampled in time on a
    # small machine; a thread kept from the GIL that long may add events.
    res = launch(bs, cg, "--json", "-t", "200", "--all-threads",
                 command=[PY, fixture, "--workers", "300", "--count", "1", "--block", "1.0",
                          "--pause", "0.5", "--truth", str(truth)], timeout=120)
    assert res.rc == 0, res
    check_common(res.records)
    ready = next(r for r in read_truth(truth) if r["event"] == "ready")
    workers = set(ready["worker_tids"])
    truth_blocks = [b for b in blocks(truth) if b["tid"] in workers]
    assert {b["tid"] for b in truth_blocks} == workers, len(truth_blocks)
    for b in truth_blocks:
        check_frames([one_event_of(res.events, b, key="tid")], path=fixture,
                     function="worker_block", tag="WORKER-LINE")
    assert not [l for l in res.stderr_lines if "sampled at once" in l], res.stderr


# --------------------------------------------------------------------------
# what cannot be followed


def test_kernel_that_cannot_follow(bs, cg, tmp_path):
    """On a kernel without task storage for tracing programs (as
    BLOCKSNOOP_NO_TASK_STORAGE makes it seem), launch mode says once that
    it watches the command alone, and does: its blocks, not its
    children's."""
    truth = tmp_path / "truth"
    res = launch(bs, cg, "--json", "-t", str(THRESHOLD_MS),
                 command=fork_cmd(truth, "--children", "2"),
                 env=dict(os.environ, BLOCKSNOOP_NO_TASK_STORAGE="1"))
    assert res.rc == 0, res
    check_common(res.records)
    warnings = [l for l in res.stderr_lines if l.startswith("blocksnoop: warning: ")]
    assert len(warnings) == 1 and "cannot follow" in warnings[0], res.stderr
    assert res.one("session_start")["follow"] is False
    match_blocks(res.events, blocks(truth, role="parent"))
