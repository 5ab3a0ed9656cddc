"""How the built-in sampler is woken, end to end: by the kernel (a BPF timer
set when a tick or a context switch sees a gap open, sending one record when
the gap reaches a quarter of its threshold; the default), or, where that
cannot load or with BLOCKSNOOP_SAMPLER_WAKE=poll, by polling every quarter
threshold. Either way every block must carry the stack it blocked in:

  * the first block after launch (the loop's very first callback), a block
    that sleeps (the thread leaves its CPU in the gap) and one that spins
    (it is current at its CPU's ticks), in launch and attach mode;
  * a hang reported while it lasts (still_blocked), with its stack.

The kernel's wakes are what makes the samples: in "kernel" mode the sampler
never polls, so a wake that never comes leaves the events without stacks.
-v says which way the sampler is woken, and, on exit, how often the kernel
woke it; both are checked, so that a silent fall back to polling fails.
"""
import os
import pathlib
import re
import time

import pytest

from conftest import (PY, check_common, check_events, py_fixture, start_ready_target,
                      wait_truth, Result, HOST_PY)
from test_stacks import (KINDS, TARGET, assert_frame, check_target_events,
                         launch_first_block, marker)

MODES = {
    "kernel": {},  # the default
    "poll": {"BLOCKSNOOP_SAMPLER_WAKE": "poll"},
}
SAYS = {
    "kernel": "the sampler sleeps until the kernel wakes it",
    "poll": "the sampler polls every quarter of the threshold",
}
WOKE = re.compile(r"the kernel set (\d+) wake timers and woke the sampler (\d+) times")


def env_of(mode):
    env = {k: v for k, v in os.environ.items() if k != "BLOCKSNOOP_SAMPLER_WAKE"}
    return dict(env, **MODES[mode])


def check_woken(res, mode, blocks):
    """-v said how the sampler is woken, and the kernel woke it at least
    once per block (kernel mode) or never set a timer (poll mode)."""
    assert SAYS[mode] in res.stderr, f"-v does not say {SAYS[mode]!r}\n{res}"
    woke = WOKE.findall(res.stderr)
    if mode == "poll":
        assert not woke, f"polling, yet the kernel's wakes were counted\n{res}"
        return
    assert len(woke) == 1, f"no count of the kernel's wakes on exit\n{res}"
    assert int(woke[0][1]) >= blocks, f"{blocks} blocks, {woke[0][1]} wakes\n{res}"


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("mode", sorted(MODES))
def test_first_block_launch(bs, tmp_path, mode, kind):
    """The loop's very first callback blocks (sleeping or spinning), 3
    times: every event, the first included, names the blocking line."""
    res, _ = launch_first_block(bs, tmp_path, HOST_PY, kind, "-v", env=env_of(mode))
    check_woken(res, mode, 3)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("mode", sorted(MODES))
def test_attach(bs, procs, tmp_path, mode, kind):
    """Attached to a loop that idles in epoll, then blocks 3 times."""
    go = tmp_path / "go"
    p, truth, _ = start_ready_target(
        procs, tmp_path, HOST_PY.command(tmp_path, TARGET, "--kind", kind, "--count", "3",
                                         "--block", "0.2", "--go", go))
    b = bs.start("-v", "--json", "-t", "100", str(p.pid), env=env_of(mode))
    b.wait_record("session_start")
    time.sleep(0.3)
    pathlib.Path(go).touch()
    assert b.wait(30) == 0, b.describe()
    res = Result(b)
    check_common(res.records)
    check_events(res.events, pid=p.pid, tid=p.pid)
    check_target_events(res.events, truth, HOST_PY, kind)
    check_woken(res, mode, 3)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_hang_reported_while_it_lasts(bs, procs, tmp_path, mode):
    """A 3 s hang: still_blocked with the hanging line while it lasts, then
    the event with the same stack."""
    fixture = py_fixture("stacks_stuck.py")
    truth = tmp_path / "truth"
    b = bs.start("-v", "--json", "-t", "100", "--", PY, fixture, "--seconds", "3",
                 "--truth", str(truth), env=env_of(mode))
    start = b.wait_record("session_start")
    procs.adopt(start["pid"], "stacks_stuck.py")
    wait_truth(truth, "stuck")
    b.wait_record("still_blocked", timeout=8)
    assert b.wait(30) == 0, b.describe()
    res = Result(b)
    check_common(res.records)
    line, text = marker(fixture, "STUCK-LINE")
    stills = res.of_type("still_blocked")
    assert stills, res
    for s in stills:
        assert_frame(s, function="stuck", file=fixture, line=line, source=text,
                     what="still_blocked")
    finals = [e for e in res.events if e["start_ns"] == stills[0]["start_ns"]]
    assert len(finals) == 1, f"no blocking_event for the hang\n{res}"
    assert_frame(finals[0], function="stuck", file=fixture, line=line, source=text,
                 what="blocking_event")
    check_woken(res, mode, 1)


def test_unknown_wake_mode_warns(bs, procs, tmp_path):
    """BLOCKSNOOP_SAMPLER_WAKE with a value that is neither "kernel" nor
    "poll": one warning naming it, and the default (the kernel's wakes)."""
    go = tmp_path / "go"
    p, truth, _ = start_ready_target(
        procs, tmp_path, HOST_PY.command(tmp_path, TARGET, "--kind", "sleep", "--count", "3",
                                         "--block", "0.2", "--go", go))
    env = dict(env_of("kernel"), BLOCKSNOOP_SAMPLER_WAKE="polling")
    b = bs.start("-v", "--json", "-t", "100", str(p.pid), env=env)
    b.wait_record("session_start")
    time.sleep(0.3)
    pathlib.Path(go).touch()
    assert b.wait(30) == 0, b.describe()
    res = Result(b)
    warned = [l for l in res.stderr.splitlines() if "BLOCKSNOOP_SAMPLER_WAKE=polling" in l]
    assert len(warned) == 1 and '"poll"' in warned[0], f"no one-line warning\n{res}"
    check_target_events(res.events, truth, HOST_PY, "sleep")
    check_woken(res, "kernel", 3)


# 3 s of callbacks of 0.5 ms of CPU each, one after another.
BUSY_SHORT = """
import asyncio, time
async def main():
    end = time.monotonic() + 3
    while time.monotonic() < end:
        t = time.perf_counter() + 0.0005
        while time.perf_counter() < t:
            pass
        await asyncio.sleep(0)
asyncio.run(main())
"""


def test_short_callbacks_cost_no_timers(bs):
    """A loop busy with short callbacks shows the ticks a new gap nearly
    every time, each before its sampling point: the ticks leave it to the
    next tick, which is in time, and the kernel sets (almost) no wake
    timers (~10 in the 3 s on a quiet machine; each preemption in a gap
    sets one). Set at every tick, and again at each timer's own interrupt,
    they were ~1,450 in the 3 s at -t 10 (at -t 100 a pending timer for an
    earlier gap already kept most of them)."""
    tick = time.clock_getres(6)  # CLOCK_MONOTONIC_COARSE: 1/HZ
    if tick > 0.005:
        pytest.skip(f"a tick every {tick * 1e3:.0f} ms is too late for a 10 ms threshold")
    res = bs.launch("-v", "--json", "-t", "10", command=[PY, "-c", BUSY_SHORT], timeout=30)
    assert res.rc == 0, res
    woke = WOKE.findall(res.stderr)
    assert len(woke) == 1, f"no count of the kernel's wakes on exit\n{res}"
    assert int(woke[0][0]) < 500, f"{woke[0][0]} wake timers for 3 s of short callbacks\n{res}"
