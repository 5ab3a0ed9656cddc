"""The asyncio task each blocking event ran in, end to end: the real binary,
its built-in sampler, real interpreters (the host's 3.11, Debian 13's 3.13,
Debian testing's 3.14 and 3.15 in their roots, pyenv builds when present).

The target (tests/fixtures/task_blocks.py) blocks its loop inside known
tasks and says in its truth file what a reader should find:

  * a task named "checkout-42" (coroutine handle_order) awaited by
    "outer-7" (Server.serve) awaited by the main task (main): its name and
    coroutine on every version that reads tasks, and from 3.14 on the
    awaited-by chain up to the root;
  * a task with a default name (Task-N, which 3.12+ keep as a number until
    asked for);
  * a bare callback: "no_task";
  * hostile: the target points its own task's name at a bytes object, or
    at unmapped memory, while it blocks: "unavailable" with a reason, the
    stack still read, blocksnoop unharmed; on 3.11-3.13 it also fills
    asyncio.tasks._current_tasks with entries that are no task;
  * asyncio without its C module: its pure-Python tasks are "unavailable";
  * versions that do not read tasks (before 3.11, free-threaded builds)
    say "unavailable" and why;
  * the console's task line; Austin's events say it reads no tasks.
"""
import pytest

from conftest import (INTERPRETERS, TEST_ROOTS, check_common, check_events, py_fixture,
                      read_truth)

TARGET = py_fixture("task_blocks.py")
READS_TASKS = [i for i in INTERPRETERS if i.minor >= 11 and not i.free_threaded]
NOT_READ = [i for i in INTERPRETERS if i.reader_reads and (i.minor < 11 or i.free_threaded)]


def event_of(events, block):
    """The one event whose gap covers the truth block."""
    over = [e for e in events if e["start_ns"] < block["end_ns"] and e["end_ns"] > block["start_ns"]]
    assert len(over) == 1, f"block {block} is covered by {len(over)} events: {over}"
    return over[0]


def run_target(bs, tmp_path, python, *extra, json=True):
    truth = tmp_path / "truth"
    res = bs.launch(*(["--json"] if json else []), "-t", "100",
                    command=python.command(tmp_path, TARGET, "--truth", truth, *extra),
                    timeout=60)
    assert res.rc == 0, res
    assert any(r["event"] == "done" for r in read_truth(truth)), res
    blocks = [r for r in read_truth(truth) if r["event"] == "block"]
    return res, blocks


def check_task(event, block, python):
    """The event's task object says what the target says it ran."""
    t = event["task"]
    where = f"\nevent: {event}\nblock: {block}"
    assert set(t) == {"state", "name", "coro", "awaited_by", "awaited_by_truncated",
                      "reason"}, where
    assert t["state"] == block["expect"], where
    # The stack is read whatever the task is.
    assert event["python_stacks"], where
    if block["expect"] == "running":
        assert t["name"] == block["task"], where
        assert t["coro"] == block["coro"], where
        # 3.14+ keep who awaits a task; 3.11-3.13 do not.
        want_by = block["awaited_by"] if python.minor >= 14 else []
        assert t["awaited_by"] == want_by, where
        assert t["awaited_by_truncated"] is False, where
        assert t["reason"] is None, where
    elif block["expect"] == "no_task":
        assert t["name"] is None and t["coro"] is None and t["awaited_by"] == [], where
        assert t["reason"] is None, where
    else:
        assert t["name"] is None and t["awaited_by"] == [], where
        assert t["reason"], where


def tasks_python(minor):
    found = [i for i in READS_TASKS if i.minor == minor and i.origin != "pyenv"]
    if not found:
        pytest.fail(f"no CPython 3.{minor} (host or {TEST_ROOTS}) among {INTERPRETERS}")
    return found[0]


@pytest.mark.parametrize("python", [pytest.param(i, id=i.id) for i in READS_TASKS])
def test_tasks(bs, tmp_path, python):
    """Named and default-named tasks, the awaited-by chain, a bare callback,
    and a target corrupting its own task: each event's task as the target
    says, and blocksnoop unharmed."""
    res, blocks = run_target(bs, tmp_path, python, "--hostile")
    check_common(res.records)
    start = res.one("session_start")
    check_events(res.events, pid=start["pid"], tid=start["pid"])
    kinds = [b["kind"] for b in blocks]
    assert kinds == ["named", "default", "callback", "bad_type", "unmapped"], blocks
    for b in blocks:
        check_task(event_of(res.events, b), b, python)
    default = next(b for b in blocks if b["kind"] == "default")
    assert default["task"].startswith("Task-"), default
    assert "warning" not in res.stderr.lower(), res


@pytest.mark.parametrize("minor", [11, 13, 14])
def test_pure_python_tasks(bs, tmp_path, minor):
    """asyncio without its C module: its pure-Python tasks are not read, and
    an event in one says so ("unavailable", not "no_task"); a bare callback
    is still no task where that can be told (3.11-3.13)."""
    python = tasks_python(minor)
    res, blocks = run_target(bs, tmp_path, python, "--pure-python")
    for b in blocks:
        e = event_of(res.events, b)
        assert e["python_stacks"], e
        t = e["task"]
        if b["kind"] == "callback" and minor < 14:
            assert t["state"] == "no_task", e
        else:
            assert t["state"] == "unavailable", e
            assert ("not asyncio's C Task" in t["reason"] if minor < 14
                    else ".AsyncioDebug section was not found" in t["reason"]), e


@pytest.mark.parametrize("python", [pytest.param(i, id=i.id) for i in NOT_READ])
def test_versions_not_read(bs, tmp_path, python):
    """Before 3.11, and free-threaded builds: every event says the task is
    unavailable, and why, with its stack read as ever."""
    res, blocks = run_target(bs, tmp_path, python)
    for b in blocks:
        e = event_of(res.events, b)
        assert e["python_stacks"], e
        assert e["task"]["state"] == "unavailable", e
        if python.free_threaded:
            assert "free-threaded" in e["task"]["reason"], e
        else:
            assert f"not read for CPython 3.{python.minor}" in e["task"]["reason"], e


@pytest.mark.parametrize("minor", [14, 15])
def test_console_line(bs, tmp_path, minor):
    """The console names the task and the chain that awaits it, on its own
    line under the event's header and its anatomy line; a bare callback says
    it ran in no task."""
    python = tasks_python(minor)
    res, blocks = run_target(bs, tmp_path, python, json=False)
    main_name = next(b for b in blocks if b["kind"] == "named")["awaited_by"][-1]["name"]
    lines = res.stderr.splitlines()
    headers = [i for i, l in enumerate(lines) if " BLOCKED " in l]
    assert len(headers) == 3, res
    # Each header is followed by the anatomy line, then the task line.
    assert all(lines[h + 1].startswith("    sleep ") for h in headers), res
    headers = [h + 1 for h in headers]
    assert lines[headers[0] + 1] == (
        f"    task checkout-42 (handle_order) \u2190 awaited by outer-7 (Server.serve) "
        f"\u2190 awaited by {main_name} (main)"), res
    assert lines[headers[1] + 1].startswith("    task Task-"), res
    assert lines[headers[1] + 1].endswith(" (handle_order) \u2190 awaited by "
                                          f"{main_name} (main)"), res
    assert lines[headers[2] + 1] == "    no task: a bare callback, not a task step", res


def test_austin_says_it_reads_no_tasks(bs, tmp_path, trixie_rootfs):
    """The Austin sampler gives stacks but no task: "unavailable", saying so."""
    python = tasks_python(11)
    truth = tmp_path / "truth"
    res = bs.launch("--json", "-t", "100", "--sampler", "austin", "--austin-root",
                    str(trixie_rootfs),
                    command=python.command(tmp_path, TARGET, "--truth", truth), timeout=60)
    assert res.rc == 0, res
    with_stacks = [e for e in res.events if e["python_stacks"]]
    assert with_stacks, res
    for e in res.events:
        assert e["sampler"] == "austin", e
        assert e["task"]["state"] == "unavailable", e
    for e in with_stacks:
        assert e["task"]["reason"] == "the Austin sampler does not read asyncio tasks", e
