# SPDX-License-Identifier: Apache-2.0
"""Goal 3: what an epoll call of a thread blocksnoop does not watch costs
with blocksnoop running, ≤ 10 ns above two empty BPF programs on the same
tracepoints (the attach mechanism's floor).

bench/syscall_loop.c times epoll_wait(…, 0) and getppid() in 200 blocks,
in a process that is not a target, pinned to its own CPU; the attached
program's user-space side runs on the other CPUs. Reported: the mean over
all calls and the fastest block (interference only ever adds time, so the
fastest block is the steadier figure), as same-round differences.

The wall clock of a call cannot resolve a few nanoseconds on a noisy VM, so
each round also counts the programs themselves: with blocksnoop attached,
the empty programs are attached beside it, and a second loop with the
kernel's BPF statistics on (bpfstats.py) gives each set's epoll programs'
run time per call (enter + exit) on the very same calls. Both run once per
direction per call, so the statistics' own clock reads, the same in each,
cancel; what is left is what blocksnoop's programs do beyond returning, for
a thread they do not watch. The tracepoint dispatch around them is the
floor's and is not in it.

That loop runs in STEPS steps of STEP_CALLS calls, the statistics read
between steps; the figure is the median of the steps' differences. The
host stops this VM's CPUs unseen (no steal time is reported): a stop of a
few milliseconds that falls inside one program run is counted as that
run's time, and alone moves a mean over a million runs by several
nanoseconds. Such a stop lands in one step and leaves the median alone; a
cost the programs pay on every call (a cache miss, say) is in every step
and so in the median. The host also runs this VM slower or faster for
seconds at a time (an empty program's median step moved from 72 to 97 ns
between rounds of one run); the two sets, measured on the same calls,
move together.
"""
import os
import subprocess
import time

from . import bpfstats, machine, procs, stats
from .context import PYTHON, Result, log, verdict_ci

SETUPS = ("nothing", "empty", "blocksnoop")
IDLE_LOOP = "import asyncio; asyncio.run(asyncio.sleep(1e9))"
GOAL_NS = 10


def attach(ctx, setup):
    """Start what this setup attaches; returns the processes started."""
    if setup == "empty":
        p = procs.start(procs.pinned([ctx.helper("empty_probes")], ctx.tool_cpus),
                        "empty_probes", stdout=subprocess.PIPE)
        if procs.read_line(p, "empty_probes") != "attached":
            raise RuntimeError("empty_probes: unexpected output")
        return [p]
    if setup == "blocksnoop":
        # A sleeping asyncio loop gives blocksnoop a target; the timed loop
        # is another process: what everybody else on the host pays.
        target = procs.start(procs.pinned([PYTHON, "-c", IDLE_LOOP], ctx.tool_cpus),
                             "idle_loop")
        time.sleep(0.3)
        bs = procs.start(procs.pinned([ctx.blocksnoop, "-t", "10", *ctx.bs_args,
                                       str(target.pid)], ctx.tool_cpus), "blocksnoop")
        procs.wait_attached(bs)
        return [bs, target]
    return []


STEP_CALLS = 5_000  # a step: ~5 ms of calls, short enough that most steps see no stop
STEPS = 100


def is_epoll_program(name):
    """blocksnoop's epoll programs, or the empty pair."""
    return "epoll" in name or name in ("empty_enter", "empty_exit")


def per_call(before, after):
    """ns a call of the programs read before and after a step, or None."""
    time_ns = sum(after[p][0] - before[p][0] for p in after if p in before)
    runs = sum(after[p][1] - before[p][1] for p in after if p in before)
    # Each call runs an enter and an exit program: ns/run × 2 is per call
    # (other processes' epoll calls meanwhile are averaged in).
    return 2 * time_ns / runs if runs else None


def programs_per_call(ctx, tools):
    """Run time per epoll call of the loop (enter + exit, ns) of the epoll
    programs of each of tools, all attached at once, so that every call
    runs each tool's: per tool the median of STEPS steps, and the median of
    the steps' differences tools[0] − tools[1]. The kernel's BPF statistics
    are on for that loop only."""
    named = bpfstats.names()
    fdinfos = [{prog: path for prog, path in bpfstats.program_fdinfos(t.pid).items()
                if is_epoll_program(named.get(prog, ""))} for t in tools]
    argv = procs.pinned([ctx.helper("syscall_loop"), "--steps", str(STEP_CALLS)],
                        ctx.target_cpu)
    steps = []
    fd = bpfstats.enable()
    loop = None
    try:
        loop = procs.start(argv, "syscall_steps", stdout=subprocess.PIPE,
                           stdin=subprocess.PIPE)
        before = [bpfstats.read(f) for f in fdinfos]
        for _ in range(STEPS):
            loop.stdin.write(b"s")
            loop.stdin.flush()
            if loop.stdout.read(1) != b"\n":
                raise RuntimeError(f"syscall_loop --steps stopped:\n{procs.tail(loop.errlog)}")
            after = [bpfstats.read(f) for f in fdinfos]
            step = [per_call(b, a) for b, a in zip(before, after)]
            if None not in step:
                steps.append(step)
            before = after
    finally:
        os.close(fd)
        if loop:
            loop.stdin.close()
            procs.stop(loop)
    if not steps:
        return [float("nan")] * len(tools), float("nan")
    return ([stats.median([st[i] for st in steps]) for i in range(len(tools))],
            stats.median([st[0] - st[1] for st in steps]))


def measure(ctx, setup):
    started = []
    try:
        started = attach(ctx, setup)
        argv = procs.pinned([ctx.helper("syscall_loop"), str(ctx.args.calls)], ctx.target_cpu)
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        log(f"  per-call {setup:<10} {out.strip()}")
        res = {k[:-3]: float(x) for k, x in (kv.split("=") for kv in out.split())}
        if setup == "blocksnoop":
            # The empty pair beside blocksnoop's programs, on the same calls.
            empty = attach(ctx, "empty")
            started += empty
            (res["programs"], res["programs_empty"]), res["programs_delta"] = \
                programs_per_call(ctx, [started[0], empty[0]])
            log(f"  per-call programs: blocksnoop {res['programs']:.1f}, empty "
                f"{res['programs_empty']:.1f}, same steps {res['programs_delta']:+.1f} ns a call")
        return res
    finally:
        for p in started:
            procs.stop(p)


def run(ctx):
    a = ctx.args
    rounds, thrown, disturbed = [], 0, 0
    while len(rounds) < a.percall_rounds:
        log(f"per-call round {len(rounds) + 1}/{a.percall_rounds}")
        machine.wait_quiet(procs.started_pids, a.wait_quiet, log)
        k = (len(rounds) + thrown) % len(SETUPS)
        with machine.ProbeWatch(procs.started_pids) as watch:
            res = {s: measure(ctx, s) for s in SETUPS[k:] + SETUPS[:k]}
        disturbed += watch.seen
        if watch.seen and not a.keep_disturbed:
            thrown += 1
            log("  another process had syscall tracepoint programs meanwhile: round thrown away")
            if thrown > 2 * a.percall_rounds:
                raise RuntimeError("other processes' syscall probes disturbed every round")
            continue
        rounds.append(res)
    return report(ctx, rounds, thrown, disturbed)


def diffs(rounds, key, a, b):
    return stats.paired([r[a][key] for r in rounds], [r[b][key] for r in rounds],
                        lambda x, y: x - y)


def report(ctx, rounds, thrown, disturbed):
    res = Result("Unwatched threads: per-call cost in a process blocksnoop does not watch")
    res.lines += [f"{len(rounds)} rounds of {ctx.args.calls:,} calls of each ({thrown} thrown "
                  f"away and {disturbed - thrown} kept although other processes had syscall "
                  f"probes meanwhile). Loop on CPU {ctx.target_cpu}. "
                  "ns per call: median (min–max); Δ: mean of same-round differences "
                  "[95% bootstrap interval].", "",
                  "| attached | `epoll_wait`, mean | fastest block | Δ vs nothing, mean / fastest "
                  "| Δ vs empty programs, mean / fastest | `getppid`, fastest block "
                  "| Δ vs nothing |", "|---|---|---|---|---|---|---|"]
    labels = {"nothing": "nothing", "empty": "two empty programs",
              "blocksnoop": "blocksnoop, watching another process"}

    def cell(key, a, b):
        if a == b or (a == "nothing"):
            return "–"
        m, ci = stats.diff_summary(diffs(rounds, key, a, b))
        return f"{stats.fmt(m, '+,.0f')}{stats.fmt_ci(ci, '+,.0f')}"
    for s in SETUPS:
        col = {k: [r[s][k] for r in rounds] for k in rounds[0][s]}
        d_nothing = ("–" if s == "nothing" else
                     f"{cell('epoll_wait', s, 'nothing')} / {cell('epoll_wait_min', s, 'nothing')}")
        d_empty = ("–" if s != "blocksnoop" else
                   f"**{cell('epoll_wait', s, 'empty')} / {cell('epoll_wait_min', s, 'empty')}**")
        res.lines.append(
            f"| {labels[s]} | {stats.fmt(stats.median(col['epoll_wait']))}"
            f"{stats.fmt_range(col['epoll_wait'])} | {stats.fmt(stats.median(col['epoll_wait_min']))}"
            f"{stats.fmt_range(col['epoll_wait_min'])} | {d_nothing} | {d_empty} "
            f"| {stats.fmt(stats.median(col['getppid_min']))} "
            f"| {cell('getppid_min', s, 'nothing')} |")
    bs = [r["blocksnoop"] for r in rounds]
    prog, prog_empty = [r["programs"] for r in bs], [r["programs_empty"] for r in bs]
    pm, pci = stats.diff_summary([r["programs_delta"] for r in bs])
    res.lines += ["", "The programs alone, kernel BPF statistics: blocksnoop's epoll programs and "
                  "the empty pair attached at once, so that every call runs both; run time per "
                  f"call, enter + exit, in {STEPS} steps of {STEP_CALLS:,} calls a round. "
                  "Per round: each one's median step, and the median of the steps' "
                  "differences; across rounds, median (min–max), and for the difference "
                  "the mean [95% bootstrap interval]:", "",
                  "| programs | ns a call |", "|---|---|",
                  f"| two empty programs | {stats.fmt(stats.median(prog_empty), ',.1f')}"
                  f"{stats.fmt_range(prog_empty, ',.1f')} |",
                  f"| blocksnoop's, watching another process | {stats.fmt(stats.median(prog), ',.1f')}"
                  f"{stats.fmt_range(prog, ',.1f')} |",
                  f"| blocksnoop's − empty, same steps | **{stats.fmt(pm, '+,.1f')}"
                  f"{stats.fmt_ci(pci, '+,.1f')}** |"]
    for key, what in (("epoll_wait", "mean"), ("epoll_wait_min", "fastest block"),
                      ("programs", "the programs, kernel statistics")):
        m, ci = ((pm, pci) if key == "programs"
                 else stats.diff_summary(diffs(rounds, key, "blocksnoop", "empty")))
        spec = "+,.1f" if key == "programs" else "+,.0f"
        res.goals.append((f"epoll call of an unwatched thread ≤ floor + {GOAL_NS} ns ({what})",
                          f"{stats.fmt(m, spec)} ns{stats.fmt_ci(ci, spec)}",
                          verdict_ci(m, ci, GOAL_NS, higher_is_better=False)))
    return res
