"""Following: the detector watches the processes a watched process forks
and the threads it creates, from their first instruction, in the kernel.

Driven below the CLI by tests/fixtures/detector_drive.c (JSON lines: gaps,
task notices, counters) against tests/fixtures/follow_targets.c, whose
truth files say what each process and thread really did. Durations must
match the fixtures' own CLOCK_MONOTONIC readings (match_blocks)."""
import os
import pathlib
import signal
import time

import pytest

from conftest import (PY, TOL_NS, bin_fixture, children, match_blocks, nspid, py_fixture,
                      read_truth, truth_blocks, wait_for, wait_truth)

UNSHARE = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"]


def driver():
    return bin_fixture("detector_drive")


def targets():
    return bin_fixture("follow_targets")


def of_type(recs, *types):
    return [r for r in recs if r["type"] in types]


def gaps_of(recs, **match):
    return [r for r in of_type(recs, "gap") if all(r[k] == v for k, v in match.items())]


def run_launch(procs, *args, command, timeout=60, pin=False):
    """The driver launching command; it exits once the command and every
    process the watch gained are gone. With pin, the driver runs on CPU 0
    and the command on CPU 1: the driver, woken by the notice of a thread's
    first return from epoll, does not preempt the thread in the very gap
    that return opened (a block measured from inside Python can tell)."""
    if pin:
        d = procs.start(["taskset", "-c", "0", driver(), *args, "--",
                         "taskset", "-c", "1", *command])
    else:
        d = procs.start([driver(), *args, "--", *command])
    rc = d.wait(timeout)
    assert rc == 0, d.describe()
    return d.records()


def stop(d, timeout=20):
    d.send(signal.SIGINT)
    assert d.wait(timeout) == 0, d.describe()
    return d.records()


def check_blocks_per_process(recs, blocks):
    """Every block of every process is reported once, in its process and
    thread, with the fixture's timing; no other gap is reported."""
    gaps = of_type(recs, "gap")
    assert blocks, "the fixture recorded no blocks"
    for key in {(b["pid"], b["tid"]) for b in blocks}:
        mine = [g for g in gaps if (g["pid"], g["tid"]) == key]
        match_blocks(mine, [b for b in blocks if (b["pid"], b["tid"]) == key])
    keys = {(b["pid"], b["tid"]) for b in blocks}
    stray = [g for g in gaps if (g["pid"], g["tid"]) not in keys]
    assert not stray, f"gaps of processes that recorded no block: {stray}"


def check_announced_first(recs):
    """Each slot is announced (thread_added) before its first gap of that
    generation, unless it is the caller's own (the ready record's)."""
    own = {r["slot"] for r in of_type(recs, "ready")}
    seen = set()
    for r in recs:
        if r["type"] == "thread_added":
            seen.add((r["slot"], r["gen"]))
        elif r["type"] == "gap" and r["slot"] not in own:
            assert (r["slot"], r["gen"]) in seen, f"gap before its thread_added: {r}"


def final_counts(recs):
    counts = of_type(recs, "counts")
    assert counts, recs
    return counts[-1]


def baseline(recs):
    """The counters once watching, before anything ran."""
    return of_type(recs, "counts")[0]


def check_nothing_left(recs):
    first, last = baseline(recs), final_counts(recs)
    assert last["followed"] == 0, last
    assert last["slots_in_use"] == first["slots_in_use"], (first, last)
    assert last["lost_events"] == 0 and last["lost_notices"] == 0, last


# --------------------------------------------------------------------------
# launch: children and grandchildren from their first instruction


def test_child_that_forks_and_blocks_at_once(procs, tmp_path):
    """Three children, each blocking as the first thing it does and then
    forking a grandchild that does the same: all six blocks are caught,
    each in its own process, announced before their gaps."""
    truth = tmp_path / "truth"
    recs = run_launch(procs, "-t", "50", "--follow", command=[
        targets(), "fork", "-m", "3", "-D", "2", "-g", "100", "-o", truth])
    ready = of_type(recs, "ready")[0]
    assert ready["mode"] == "task_storage", ready
    root = wait_truth(truth, "ready")["pid"]
    assert ready["pid"] == root
    blocks = truth_blocks(truth)
    assert len(blocks) == 6, blocks
    check_blocks_per_process(recs, blocks)
    check_announced_first(recs)

    added = {r["pid"]: r for r in of_type(recs, "process_added")}
    depth2 = {b["pid"] for b in blocks if b["role"] == "depth2"}
    depth1 = {b["pid"] for b in blocks if b["role"] == "depth1"}
    assert set(added) == depth2 | depth1, (added, blocks)
    assert all(added[p]["ppid"] == root for p in depth2), added
    assert all(added[p]["ppid"] in depth2 for p in depth1), added
    assert all(r["watch"] == ready["watch"] for r in recs if "watch" in r), recs
    gone = {r["pid"] for r in of_type(recs, "process_gone")}
    assert gone == depth2 | depth1 | {root}, gone
    check_nothing_left(recs)


def test_children_not_followed_without_follow(procs, tmp_path):
    """Without WATCH_F_FOLLOW only the launched process is watched (what
    blocksnoop did before following existed): its children's blocks are
    not reported."""
    truth = tmp_path / "truth"
    d = procs.start([driver(), "-t", "50", "--", targets(), "fork", "-m", "2", "-g", "100",
                     "-o", truth])
    wait_for(lambda: len(truth_blocks(truth)) == 2 or d.p.poll() is not None, 30,
             "the children's blocks")
    recs = stop(d)
    assert len(truth_blocks(truth)) == 2
    assert not of_type(recs, "gap", "process_added", "thread_added"), recs


def test_child_execs_python_that_blocks_at_once(procs, tmp_path):
    """A child that execs Python, whose first callback blocks at once: the
    mark the child got at fork survives exec."""
    truth, pytruth = tmp_path / "truth", tmp_path / "py.truth"
    recs = run_launch(procs, "-t", "100", "--follow", pin=True, command=[
        targets(), "exec", "-o", truth, "--", PY, py_fixture("startup_block.py"), pytruth])
    blocks = truth_blocks(pytruth)
    assert len(blocks) == 1, read_truth(pytruth)
    child = blocks[0]["pid"]
    # The launched process makes no gap of its own at or over 100 ms.
    check_blocks_per_process(recs, blocks)
    assert [r["pid"] for r in of_type(recs, "process_added")] == [child], recs
    assert child in [r["pid"] for r in of_type(recs, "process_exec")], recs
    check_announced_first(recs)
    check_nothing_left(recs)


# --------------------------------------------------------------------------
# attach: descendants present and future


def start_fork_tree(procs, tmp_path, before, after, go):
    truth = tmp_path / "truth"
    t = procs.start([targets(), "fork", "-n", str(before), "-m", str(after), "-g", "100",
                     "-G", go, "-o", truth])
    wait_truth(truth, "ready")
    held = wait_for(lambda: len(children(t.pid)) == before and children(t.pid), 10,
                    "the held children")
    for pid in held:
        procs.adopt(pid, "follow_targets")
    return t, truth, held


@pytest.mark.parametrize("descendants", [True, False], ids=["descendants", "future-only"])
def test_attach_follows_present_and_future_children(procs, tmp_path, descendants):
    """Attached with --follow: children forked from then on are watched;
    with --descendants also those already there (each becomes a member
    before its own children are listed, so none forked meanwhile is
    lost)."""
    go = tmp_path / "go"
    t, truth, held = start_fork_tree(procs, tmp_path, 2, 2, go)
    d = procs.start([driver(), "-t", "50", "--follow",
                     *(["--descendants"] if descendants else []), str(t.pid)])
    d.wait_record("ready")
    if descendants:
        assert d.wait_record("descendants")["added"] == 2
    d.wait_record("counts")
    go.touch()
    assert t.p.wait(30) == 0
    recs = stop(d)
    blocks = truth_blocks(truth)
    assert len(blocks) == 4, blocks
    if descendants:
        check_blocks_per_process(recs, blocks)
    else:
        fresh = [b for b in blocks if b["pid"] not in held]
        assert len(fresh) == 2
        check_blocks_per_process(recs, fresh)
        assert not [g for g in of_type(recs, "gap") if g["pid"] in held], recs
    assert {r["pid"] for r in of_type(recs, "process_added")} == \
        {b["pid"] for b in blocks if b["pid"] not in held}
    check_announced_first(recs)
    check_nothing_left(recs)


# --------------------------------------------------------------------------
# threads


def start_threads(procs, tmp_path, *args):
    go = tmp_path / "go"
    truth = tmp_path / "truth"
    t = procs.start([targets(), "threads", *args, "-c", "3", "-g", "80", "-G", go,
                     "-o", truth])
    ready = wait_truth(truth, "ready")
    return t, truth, ready, go


@pytest.mark.parametrize("pidfd", [True, False], ids=["thread-pidfd", "thread-id"])
def test_all_threads_two_loops(procs, tmp_path, pidfd):
    """Two loops, in the main thread and in another: with --all-threads
    both are reported, each under its own tid. Without thread pidfds
    (kernels before 6.9) the other thread is marked by its id and moved to
    task storage on its first epoll call."""
    t, truth, ready, go = start_threads(procs, tmp_path, "-T", "2")
    worker = ready["worker_tids"][0]
    d = procs.start([driver(), "-t", "50", "--all-threads",
                     *([] if pidfd else ["--no-thread-pidfd"]), str(t.pid)])
    assert d.wait_record("ready")["slot"] == -1
    d.wait_record("counts")
    go.touch()
    assert t.p.wait(30) == 0
    recs = stop(d)
    blocks = truth_blocks(truth)
    assert {b["tid"] for b in blocks} == {t.pid, worker}
    assert len(blocks) == 6
    check_blocks_per_process(recs, blocks)
    check_announced_first(recs)
    added = {r["tid"] for r in of_type(recs, "thread_added")}
    assert added == {t.pid, worker}, recs
    check_nothing_left(recs)


def test_default_watches_main_thread_only(procs, tmp_path):
    t, truth, ready, go = start_threads(procs, tmp_path, "-T", "2")
    d = procs.start([driver(), "-t", "50", str(t.pid)])
    d.wait_record("counts")
    go.touch()
    assert t.p.wait(30) == 0
    recs = stop(d)
    main = truth_blocks(truth, tid=t.pid)
    assert len(main) == 3 and len(truth_blocks(truth)) == 6
    check_blocks_per_process(recs, main)
    assert not of_type(recs, "thread_added"), recs


def test_thread_created_after_watching(procs, tmp_path):
    """A loop in a thread created after the watch started is watched from
    its first epoll call."""
    t, truth, ready, go = start_threads(procs, tmp_path, "-T", "3", "-L")
    d = procs.start([driver(), "-t", "50", "--all-threads", str(t.pid)])
    d.wait_record("counts")
    go.touch()
    assert t.p.wait(30) == 0
    recs = stop(d)
    late = wait_truth(truth, "late_thread")["tid"]
    assert late not in ready["worker_tids"] + [t.pid]
    blocks = truth_blocks(truth)
    assert len(truth_blocks(truth, tid=late)) == 3 and len(blocks) == 9
    check_blocks_per_process(recs, blocks)
    check_announced_first(recs)
    check_nothing_left(recs)


# A GIL switch interval (sys.getswitchinterval(), 5 ms) and the usual slack.
GIL_WAIT_NS = 5_000_000 + TOL_NS


def test_python_loops_in_two_threads(procs, tmp_path):
    """Real asyncio loops in two threads of Python (tests/fixtures/
    thread_loop.py): --all-threads reports the blocks of both."""
    go = tmp_path / "go"
    truth = tmp_path / "truth"
    t = procs.start([PY, py_fixture("thread_loop.py"), "--count", "3", "--go", go,
                     "--truth", truth])
    ready = wait_truth(truth, "ready")
    d = procs.start([driver(), "-t", "100", "--all-threads", str(t.pid)])
    d.wait_record("counts")
    time.sleep(0.2)
    go.touch()
    assert t.p.wait(30) == 0
    recs = stop(d)
    for role, tid in (("worker", ready["worker_tid"]), ("main", t.pid)):
        blocks = truth_blocks(truth, role=role)
        assert len(blocks) >= 3, read_truth(truth)
        mine = gaps_of(recs, tid=tid)
        # Two Python threads share one GIL: between its return from epoll
        # and its clock read a thread may wait up to a switch interval
        # (5 ms) for it, and as long again after the block: the bounds
        # allow that much around the fixture's own times.
        for b in blocks:
            b["outer_start_ns"] = b["start_ns"] - GIL_WAIT_NS
            b["outer_end_ns"] = b["end_ns"] + GIL_WAIT_NS
        # The loops' own gaps can reach 100 ms on a busy machine: every
        # block is reported once, other gaps are not checked.
        match_blocks(mine, blocks, exact_count=False)
        assert all(g["pid"] == t.pid for g in mine), mine


def test_exec_from_a_thread_keeps_the_process_watched(procs, tmp_path):
    """A non-main thread execs: the process keeps its PID, and the thread,
    now its main thread, is watched; the old main thread's slot is given
    up (thread_gone), nothing stays behind."""
    go = tmp_path / "go"
    truth = tmp_path / "truth"
    d = procs.start([driver(), "-t", "50", "--", targets(), "thread-exec", "-c", "2",
                     "-g", "80", "-G", go, "-o", truth])
    wait_truth(truth, "ready", mode="thread-exec")
    go.touch()
    assert d.wait(30) == 0, d.describe()
    recs = d.records()
    ready = of_type(recs, "ready")[0]
    after = truth_blocks(truth, role="main")
    assert len(after) == 2 and after[0]["pid"] == ready["pid"], read_truth(truth)
    # After the exec the process's gaps go to the slot the kernel side gave
    # its new main thread.
    match_blocks([g for g in gaps_of(recs, pid=ready["pid"]) if g["slot"] != ready["slot"]],
                 after)
    gone = [r for r in of_type(recs, "thread_gone") if r["slot"] == ready["slot"]]
    assert gone, recs
    added = of_type(recs, "thread_added")
    assert [r["tid"] for r in added] == [ready["pid"]], recs
    check_announced_first(recs)
    check_nothing_left(recs)


# --------------------------------------------------------------------------
# bounds


def test_short_lived_children_leave_no_slots(procs, tmp_path):
    """2000 children, 50 alive at a time, each taking a slot: every slot
    and follow place comes back."""
    truth = tmp_path / "truth"
    recs = run_launch(procs, "-t", "50", "--follow", command=[
        targets(), "churn", "-n", "2000", "-a", "50", "-o", truth], timeout=120)
    assert wait_truth(truth, "done")["children"] == 2000
    assert len(of_type(recs, "process_added")) == 2000
    assert len(of_type(recs, "thread_added")) == 2000
    assert len(of_type(recs, "thread_gone")) == 2001  # and the root's
    assert len(of_type(recs, "process_gone")) == 2001
    last = final_counts(recs)
    assert last["follow_overflow"] == 0 and last["slot_overflow"] == 0, last
    check_nothing_left(recs)


def test_follow_limit_counts_overflow(procs, tmp_path):
    """A limit of 20 followed tasks with 50 children alive at once: 20 are
    followed, 30 counted; once they are gone the places come back."""
    truth = tmp_path / "truth"
    go = tmp_path / "go"
    d = procs.start([driver(), "-t", "50", "--follow", "--follow-limit", "20", "--",
                     targets(), "churn", "-n", "100", "-a", "50", "-G", go, "-o", truth])
    for batch in range(2):
        wait_truth(truth, "batch_alive", batch=batch)
        d.send(signal.SIGUSR1)
        counts = wait_for(lambda: len(of_type(d.records(), "counts")) == batch + 2
                          and of_type(d.records(), "counts")[-1], 10, "counts")
        assert counts["followed"] == 20, counts
        assert counts["follow_overflow"] == 30 * (batch + 1), counts
        pathlib.Path(f"{go}-{batch}").touch()
    assert d.wait(60) == 0, d.describe()
    recs = d.records()
    assert len(of_type(recs, "process_added")) == 40
    assert len(of_type(recs, "thread_added")) == 40
    assert final_counts(recs)["follow_overflow"] == 60
    check_nothing_left(recs)


# --------------------------------------------------------------------------
# PID namespaces


def test_children_in_their_own_pid_namespace(procs, tmp_path):
    """The followed processes live in a PID namespace of their own; the
    driver, in the initial one, reports them by its own numbering."""
    truth = tmp_path / "truth"
    go = tmp_path / "go"
    d = procs.start([driver(), "-t", "50", "--follow", "--", *UNSHARE, targets(), "fork",
                     "-n", "2", "-D", "2", "-g", "100", "-G", go, "-o", truth])
    ready = wait_truth(truth, "ready")
    assert ready["pid"] == 1, ready
    # The namespace's init and its held children, by host PID.
    held = wait_for(lambda: len(of_type(d.records(), "process_added")) == 3
                    and of_type(d.records(), "process_added"), 10, "process_added")
    host_to_ns = {r["pid"]: nspid(r["pid"])[-1] for r in held}
    assert sorted(host_to_ns.values()) == [1, 2, 3], host_to_ns
    assert all(h != n for h, n in host_to_ns.items()), host_to_ns
    go.touch()
    assert d.wait(60) == 0, d.describe()
    recs = d.records()
    blocks = truth_blocks(truth)
    assert len(blocks) == 4, blocks
    # The grandchildren were short-lived: their host PIDs come from their
    # process_added, by their parent's (each child has one).
    ns_to_host = {n: h for h, n in host_to_ns.items()}
    by_parent = {r["ppid"]: r["pid"] for r in of_type(recs, "process_added")}
    for b in sorted(blocks, key=lambda b: b["role"], reverse=True):  # depth2 first
        host = ns_to_host.get(b["pid"]) or by_parent[ns_to_host[b["ppid"]]]
        ns_to_host[b["pid"]] = host
        b["pid"] = b["tid"] = host
    check_blocks_per_process(recs, blocks)
    check_nothing_left(recs)


def test_driver_inside_a_pid_namespace(procs, tmp_path):
    """The driver itself runs in a new PID namespace, the processes it
    follows too: ids are translated into that namespace's numbering, also
    for a child that has not run yet (the kernel side reads it off the
    child's struct pid)."""
    truth = tmp_path / "truth"
    d = procs.start([*UNSHARE, driver(), "-t", "50", "--follow", "--", targets(), "fork",
                     "-m", "2", "-D", "2", "-g", "100", "-o", truth])
    assert d.wait(60) == 0, d.describe()
    recs = d.records()
    ready = of_type(recs, "ready")[0]
    assert ready["pid"] == wait_truth(truth, "ready")["pid"] == 2, ready
    blocks = truth_blocks(truth)
    assert len(blocks) == 4, blocks
    check_blocks_per_process(recs, blocks)
    added = {r["pid"]: r["ppid"] for r in of_type(recs, "process_added")}
    assert set(added) == {b["pid"] for b in blocks}, (added, blocks)
    assert all(pid < 100 for pid in added), added
    check_nothing_left(recs)


# --------------------------------------------------------------------------
# without task storage


def test_thread_ids_mode(procs, tmp_path):
    """As on a kernel without task storage for tracing programs: a thread
    is still watched (by its id); following is refused with EOPNOTSUPP."""
    truth = tmp_path / "truth"
    recs = run_launch(procs, "-t", "50", "--thread-ids", command=[
        targets(), "gaps", "-c", "2", "-g", "80", "-o", truth])
    assert of_type(recs, "ready")[0]["mode"] == "thread_ids"
    check_blocks_per_process(recs, truth_blocks(truth))

    d = procs.start([driver(), "-t", "50", "--thread-ids", "--follow", "--", targets(),
                     "gaps", "-o", tmp_path / "t2"])
    assert d.wait(20) == 1, d.describe()
    err = of_type(d.records(), "error")
    assert err and err[0]["where"] == "detector_add_watch", d.describe()
    assert err[0]["rc"] == -95, err  # EOPNOTSUPP
    assert not os.path.exists(tmp_path / "t2"), "the command ran"


def test_thread_watched_before_it_exists(procs, tmp_path):
    """A thread id asked for before any thread has it is watched from the
    thread's creation. In a new PID namespace the ids are foreseeable: sh
    (then the driver) is 1, the fixture 2, its threads 3, 4 and, created
    after GO, 5."""
    truth = tmp_path / "truth"
    go = tmp_path / "go"
    script = (f"{targets()} threads -T 4 -L -c 3 -g 80 -G {go} -o {truth} & "
              f"exec {driver()} -t 50 --tid 5 2")
    d = procs.start([*UNSHARE, "sh", "-c", script])
    ready = d.wait_record("ready")
    assert ready["pid"] == 2 and ready["slot"] >= 0, ready
    assert wait_truth(truth, "ready")["pid"] == 2
    go.touch()
    assert wait_truth(truth, "late_thread")["tid"] == 5
    wait_for(lambda: len(truth_blocks(truth)) == 12, 30, "the blocks")
    # unshare leaves SIGINT to its child, the driver (the namespace's init).
    os.kill(children(d.pid)[0], signal.SIGINT)
    assert d.wait(20) == 0, d.describe()
    recs = d.records()
    late = truth_blocks(truth, tid=5)
    assert len(late) == 3
    check_blocks_per_process(recs, late)
    check_nothing_left(recs)


def test_lost_notices_are_made_up(procs, tmp_path):
    """The driver reads nothing while 600 children come and go: the notices
    ring overflows and the losses are counted. The last 20 children, still
    there when it reads again, lost their thread_added: those are made up
    from the slots. Every slot is announced before it is given up, and
    nothing is left over."""
    truth = tmp_path / "truth"
    go = tmp_path / "go"
    hold = tmp_path / "hold"
    batches = 30
    for b in range(batches - 1):
        pathlib.Path(f"{go}-{b}").touch()
    d = procs.start([driver(), "-t", "50", "--follow", "--hold", hold, "--", targets(),
                     "churn", "-n", str(20 * batches), "-a", "20", "-G", go, "-o", truth])
    wait_truth(truth, "batch_alive", timeout=60, batch=batches - 1)
    hold.touch()
    wait_for(lambda: of_type(d.records(), "process_added"), 30, "the driver to read again")
    time.sleep(0.5)
    pathlib.Path(f"{go}-{batches - 1}").touch()
    assert d.wait(60) == 0, d.describe()
    recs = d.records()
    last = final_counts(recs)
    assert last["lost_notices"] > 0, last
    assert last["followed"] == 0, last
    assert last["slots_in_use"] == baseline(recs)["slots_in_use"], last
    made_up = [r for r in of_type(recs, "thread_added") if r["time_ns"] == 0]
    assert len(made_up) == 20, made_up
    own = of_type(recs, "ready")[0]["slot"]
    live = {}
    for r in of_type(recs, "thread_added", "thread_gone"):
        key = (r["slot"], r["gen"])
        if r["type"] == "thread_added":
            assert r["slot"] != own and key not in live, r
            live[key] = r
        else:
            assert key in live or r["slot"] == own, f"gone before added: {r}"
            live.pop(key, None)
    assert not live, f"announced and never given up: {live}"
