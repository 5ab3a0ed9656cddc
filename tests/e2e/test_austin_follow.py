"""--sampler austin with followed processes, end to end: one Austin (3.7.0,
from the Debian 13 root, through the namespace shim) per watched process,
the processes a launched command forks included.

  * a parent that forks two workers, each blocking its own asyncio loop at
    a line of its own: every worker's events carry that line as their
    innermost frame, from Austin ("sampler": "austin"); one Austin is
    started for each of the three processes, once;
  * a worker that exits takes its Austin (and the shim that waits for it)
    with it at once, while the parent and the other worker live on;
  * with --all-threads, a worker whose only watched thread (its loop's)
    ends while it lives on: its Austin is stopped and reaped at once;
  * 34 workers: 32 followed processes get an Austin, the other two's
    events say why they have no stack, stderr says so once, and no more
    Austins run than that (counted in /proc).

Everything a test starts runs in a cgroup of the test's own (test_workers'
`cg`), killed whole at teardown; conftest's leak check then makes sure no
Austin or shim survived.
"""
import os
import pathlib
import re
import signal

from conftest import Result, check_common, pid_cmdline, py_fixture, read_truth, wait_for
from test_austin import austin_root, culprit, marker  # noqa: F401 (a fixture)
from test_workers import cg, start  # noqa: F401 (a fixture)

PY311 = "/usr/bin/python3.11"
FIXTURE = py_fixture("austin_workers.py")
THRESHOLD_MS = 50
MAX_AUSTINS_FOLLOWED = 32  # agent/engine.c
TOO_MANY = "more than 32 processes followed would have an Austin at once"
STARTED = re.compile(r"started Austin \(PID (\d+)[^)]*\) for PID (\d+):")


# --------------------------------------------------------------------------
# helpers


def kids(pid):
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().rstrip("\n")
    except OSError:
        return ""


def helpers_of(bs_pid):
    """{Austin's target PID: (shim PID, Austin PID)} of every shim blocksnoop
    runs and the Austin under it, read from /proc. A shim without its
    Austin (starting, or ending) counts with Austin PID None."""
    out = {}
    for shim in kids(bs_pid):
        if not comm(shim).startswith("bs-nsexec"):
            continue
        m = re.search(r" -p (\d+)", pid_cmdline(shim))
        assert m, pid_cmdline(shim)
        austins = [k for k in kids(shim) if comm(k) == "austin"]
        assert len(austins) <= 1, (shim, austins)
        assert int(m.group(1)) not in out, (m.group(1), out)
        out[int(m.group(1))] = (shim, austins[0] if austins else None)
    return out


def austins_in(cg):
    """Every process named austin in the test's cgroup, wherever it hangs
    in the process tree."""
    return [p for p in cg.pids() if comm(p) == "austin"]


def started(stderr):
    """[(Austin's PID, its target's PID)] of the "started Austin" lines (-v)."""
    return [(int(a), int(t)) for a, t in STARTED.findall(stderr)]


def samples(stderr, pid):
    return re.search(rf"Austin \S+ samples Python \S+ in PID {pid} ", stderr)


def workers_of(truth, n):
    def find():
        w = {r["index"]: r["pid"] for r in read_truth(truth) if r["event"] == "worker"}
        return w if len(w) == n else None
    return wait_for(find, 60, f"{n} workers in {truth}")


def blocks_of(truth, pid=None):
    return [r for r in read_truth(truth)
            if r["event"] == "block" and (pid is None or r["pid"] == pid)]


def event_of(events, block):
    over = [e for e in events if e["pid"] == block["pid"]
            and e["start_ns"] < block["end_ns"] and e["end_ns"] > block["start_ns"]]
    return over[0] if len(over) == 1 else None


def wait_reported(b, truth, pids, nblocks, timeout=60):
    """Until every process in pids has recorded nblocks blocks and each of
    them is covered by one event of blocksnoop's."""
    def done():
        blocks = blocks_of(truth)
        if any(len([x for x in blocks if x["pid"] == p]) < nblocks for p in pids):
            return False
        events = [r for r in b.records() if r.get("type") == "blocking_event"]
        return all(event_of(events, x) for x in blocks)
    wait_for(done, timeout, f"{nblocks} blocks of each of {sorted(pids)} reported\n{b.describe()}")


def check_frame(e, index):
    """e's innermost application frame, from Austin, is the worker's own
    marked line."""
    tag, function = ("EVEN-LINE", "even_block") if index % 2 == 0 else ("ODD-LINE", "odd_block")
    line, text = marker(FIXTURE, tag)
    assert e["sampler"] == "austin", e
    f = culprit(e)
    assert f is not None, f"no stack from Austin: {e}"
    assert (f["function"], f["file"], f["line"], f["source"]) == (function, FIXTURE, line,
                                                                   text), e
    assert e["stack_samples"][0] >= 2, f"too few samples for a 200 ms block: {e}"


def launch_workers(bs, cg, tmp_path, austin_root, n, *args, bs_args=()):
    truth, go = tmp_path / "truth", tmp_path / "go"
    b = start(bs, cg, "--json", "-v", "-t", str(THRESHOLD_MS), "--sampler", "austin",
              "--austin-root", str(austin_root), *bs_args, "--", PY311, FIXTURE,
              "--workers", str(n), "--go", str(go), "--truth", str(truth), *args)
    parent = b.wait_record("session_start")["pid"]
    return b, parent, workers_of(truth, n), truth, go


def stop(b):
    """SIGTERM to blocksnoop, which hands it to the parent, which ends its
    workers: blocksnoop ends with them."""
    b.send(signal.SIGTERM)
    assert b.wait(60) == 0, b.describe()
    res = Result(b)
    assert "Sanitizer" not in res.stderr, res
    assert not [l for l in res.stderr_lines if l.startswith("blocksnoop: error")], res
    check_common(res.records)
    return res


# --------------------------------------------------------------------------
# tests


def test_each_worker_has_its_austin(bs, cg, tmp_path, austin_root):
    """Two forked workers, each with its own Austin: their events carry
    their own line from Austin; a worker that exits takes its Austin with
    it, and the shim, reaped, at once."""
    b, parent, workers, truth, go = launch_workers(bs, cg, tmp_path, austin_root, 2)
    everyone = {parent, *workers.values()}
    wait_for(lambda: all(samples(b.stderr, p) for p in everyone), 60,
             f"Austin to sample each of {sorted(everyone)}\n{b.describe()}")
    helpers = helpers_of(b.pid)
    assert set(helpers) == everyone, (helpers, everyone)
    assert all(a for _, a in helpers.values()), helpers

    pathlib.Path(go).touch()
    wait_reported(b, truth, workers.values(), 3)

    # Worker 0 exits; its Austin and shim go at once, the others stay.
    gone = workers[0]
    gone_shim, gone_austin = helpers[gone]
    os.kill(gone, signal.SIGTERM)
    wait_for(lambda: not os.path.exists(f"/proc/{gone_shim}"), 10,
             f"the shim {gone_shim} of worker {gone}'s Austin to be reaped\n{b.describe()}")
    assert not os.path.exists(f"/proc/{gone_austin}"), pid_cmdline(gone_austin)
    assert os.path.exists(f"/proc/{parent}") and os.path.exists(f"/proc/{workers[1]}")
    assert set(helpers_of(b.pid)) == {parent, workers[1]}, helpers_of(b.pid)

    res = stop(b)
    for index, pid in workers.items():
        blocks = blocks_of(truth, pid)
        assert len(blocks) == 3, blocks
        for blk in blocks:
            e = event_of(res.events, blk)
            assert e, f"block {blk} not reported once: {res.events}"
            check_frame(e, index)
    # One Austin for each process, started once (none restarted).
    assert sorted(t for _, t in started(res.stderr)) == sorted(everyone), res.stderr
    assert not [l for l in res.stderr_lines if l.startswith("blocksnoop: warning")], res.stderr


def test_austin_ends_with_the_last_watched_thread(bs, cg, tmp_path, austin_root):
    """--all-threads, a worker that runs its loop in a thread, the only one
    of it watched: once that thread ends, the worker's Austin is stopped
    and reaped although the worker lives on (Austin would sample it for
    nothing); the parent's stays."""
    b, parent, workers, truth, go = launch_workers(bs, cg, tmp_path, austin_root, 1,
                                                   "--loop-thread", "--blocks", "2",
                                                   bs_args=("--all-threads",))
    worker = workers[0]
    wait_for(lambda: samples(b.stderr, parent) and samples(b.stderr, worker), 60,
             f"Austin to sample {parent} and {worker}\n{b.describe()}")
    helpers = helpers_of(b.pid)
    assert set(helpers) == {parent, worker}, helpers
    shim, austin = helpers[worker]

    pathlib.Path(go).touch()
    wait_reported(b, truth, [worker], 2)
    wait_for(lambda: any(r["event"] == "loop_ended" for r in read_truth(truth)), 20,
             "the worker's loop thread to end")
    wait_for(lambda: not os.path.exists(f"/proc/{shim}"), 10,
             f"the shim {shim} of worker {worker}'s Austin to be reaped\n{b.describe()}")
    assert not os.path.exists(f"/proc/{austin}"), pid_cmdline(austin)
    assert os.path.exists(f"/proc/{worker}"), "the worker ended"
    assert set(helpers_of(b.pid)) == {parent}, helpers_of(b.pid)

    res = stop(b)
    blocks = blocks_of(truth, worker)
    assert len(blocks) == 2 and all(x["tid"] != worker for x in blocks), blocks
    for blk in blocks:
        e = event_of(res.events, blk)
        assert e and e["tid"] == blk["tid"], f"block {blk} not reported once: {res.events}"
        check_frame(e, 0)
    assert sorted(t for _, t in started(res.stderr)) == sorted([parent, worker]), res.stderr
    assert not [l for l in res.stderr_lines if l.startswith("blocksnoop: warning")], res.stderr


def test_austins_past_the_cap(bs, cg, tmp_path, austin_root):
    """34 forked workers: 32 get an Austin (and the parent its own); the
    other two's events say why they have no stack, stderr says so once,
    and no more Austins ever run."""
    n = MAX_AUSTINS_FOLLOWED + 2
    b, parent, workers, truth, go = launch_workers(bs, cg, tmp_path, austin_root, n,
                                                   "--blocks", "2", "--block", "0.3")
    warned = wait_for(lambda: [l for l in b.stderr.splitlines() if TOO_MANY in l], 60,
                      f"the warning\n{b.describe()}")
    sampled = wait_for(lambda: (lambda t: t if len(t) == MAX_AUSTINS_FOLLOWED + 1 else None)(
        {p for p in everyone_sampled(b.stderr)}), 90,
        f"{MAX_AUSTINS_FOLLOWED + 1} Austins sampling\n{b.describe()}")
    assert parent in sampled, sampled
    capped = set(workers.values()) - sampled
    assert len(capped) == 2, (capped, sampled)
    helpers = helpers_of(b.pid)
    assert set(helpers) == sampled, (helpers, sampled)
    assert len(austins_in(cg)) == MAX_AUSTINS_FOLLOWED + 1, austins_in(cg)

    pathlib.Path(go).touch()
    wait_reported(b, truth, workers.values(), 2, timeout=90)
    assert set(helpers_of(b.pid)) == sampled, helpers_of(b.pid)
    assert len(austins_in(cg)) == MAX_AUSTINS_FOLLOWED + 1, austins_in(cg)

    res = stop(b)
    for index, pid in workers.items():
        for blk in blocks_of(truth, pid):
            e = event_of(res.events, blk)
            assert e, f"block {blk} not reported once: {res.events}"
            if pid in capped:
                assert e["python_stacks"] is None, e
                assert e["stack_unavailable"].startswith(TOO_MANY), e
                assert e["sampler"] == "austin", e
            else:
                check_frame(e, index)
    assert len(warned) == 1 and len([l for l in res.stderr_lines if TOO_MANY in l]) == 1, \
        res.stderr
    targets = [t for _, t in started(res.stderr)]
    assert len(targets) == len(set(targets)) == MAX_AUSTINS_FOLLOWED + 1, res.stderr
    assert set(targets) == sampled, (targets, sampled)


def everyone_sampled(stderr):
    return {int(p) for p in re.findall(r"Austin \S+ samples Python \S+ in PID (\d+) ", stderr)}
