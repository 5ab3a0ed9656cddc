# SPDX-License-Identifier: Apache-2.0
"""Goal 1: blocksnoop's own cost next to an idle asyncio loop (one that
wakes every 5 ms), at -t 10 and -t 100: ≤ 5 wake-ups/s and ≤ 0.05% of a
core. Also the target's CPU with and without blocksnoop attached (the
probes run in the target's context).

Each round starts one target on its own CPU and, in rotating order,
measures it with nothing attached and with a fresh blocksnoop at each
threshold (blocksnoop on the other CPUs), over --idle-window seconds after
a settling second. Wake-ups: voluntary + involuntary context switches of
all of blocksnoop's threads, from /proc/PID/task/*/status.
"""
import os
import subprocess
import time

from . import procs, procstat, stats
from .context import HERE, PYTHON, Result, log, verdict

SETUPS = ("none", "-t 10", "-t 100")
GOAL_WAKEUPS, GOAL_CPU = 5, 0.05


def start_loops(ctx, tick, threads=1, cpus=None, name="loops"):
    p = procs.start(procs.pinned([PYTHON, os.path.join(HERE, "idle_loops.py"), "--tick",
                                  str(tick), "--threads", str(threads)], cpus),
                    name, stdout=subprocess.PIPE)
    # A thousand threads start slowly on a busy machine.
    procs.read_line(p, "idle_loops.py", timeout=max(60, threads * 0.2))
    return p


def start_blocksnoop(ctx, args, pid):
    p = procs.start(procs.pinned([ctx.blocksnoop, *args, *ctx.bs_args, str(pid)],
                                 ctx.tool_cpus), "blocksnoop")
    procs.wait_attached(p)
    return p


def measure(ctx, setup, target):
    bs = None if setup == "none" else start_blocksnoop(ctx, setup.split(), target.pid)
    try:
        time.sleep(1)
        tw = procstat.Window(target.pid).start()
        bw = bs and procstat.Window(bs.pid).start()
        time.sleep(ctx.args.idle_window)
        out = {"target_cpu": tw.end()["cpu_pct"]}
        if bw:
            out.update(bw.end())
            out["rss_kib"] = procstat.status_kib(bs.pid, "VmRSS")
        return out
    finally:
        if bs:
            procs.stop(bs)


def run(ctx):
    rounds = []
    for r in range(ctx.args.idle_rounds):
        log(f"idle round {r + 1}/{ctx.args.idle_rounds}")
        target = start_loops(ctx, 0.005, cpus=ctx.target_cpu, name="tick5ms")
        try:
            k = r % len(SETUPS)
            rounds.append({s: measure(ctx, s, target) for s in SETUPS[k:] + SETUPS[:k]})
        finally:
            procs.stop(target)
        log("  " + "  ".join(f"{s}: {v.get('wakeups', 0):.1f}/s {v.get('cpu_pct', 0):.3f}%"
                             for s, v in rounds[-1].items() if s != "none"))
    return report(ctx, rounds)


def report(ctx, rounds):
    res = Result("Idle cost: blocksnoop beside an asyncio loop that wakes every 5 ms")
    res.lines += [f"{len(rounds)} rounds of {ctx.args.idle_window} s per setup. "
                  "Median (min–max) over rounds; Δ: mean of same-round differences "
                  "[95% bootstrap interval].", "",
                  "| blocksnoop | wake-ups/s | voluntary / involuntary | CPU, % of a core "
                  "| RSS, MiB | target's CPU, % | Δ target CPU vs none |",
                  "|---|---|---|---|---|---|---|"]
    for s in SETUPS:
        col = {k: [r[s][k] for r in rounds] for k in rounds[0][s]}
        tgt = f"{stats.fmt(stats.median(col['target_cpu']), '.2f')}"
        if s == "none":
            res.lines.append(f"| not attached | – | – | – | – | {tgt} | – |")
            continue
        d, ci = stats.diff_summary(stats.paired(col["target_cpu"],
                                                [r["none"]["target_cpu"] for r in rounds],
                                                lambda x, y: x - y))
        res.lines.append(
            f"| `blocksnoop {s}` | {stats.fmt(stats.median(col['wakeups']), '.1f')}"
            f"{stats.fmt_range(col['wakeups'], '.1f')} "
            f"| {stats.fmt(stats.median(col['voluntary']), '.1f')} / "
            f"{stats.fmt(stats.median(col['involuntary']), '.1f')} "
            f"| {stats.fmt(stats.median(col['cpu_pct']), '.3f')}{stats.fmt_range(col['cpu_pct'], '.3f')} "
            f"| {stats.fmt(stats.median(col['rss_kib']) / 1024, '.1f')} | {tgt} "
            f"| {stats.fmt(d, '+.2f')}{stats.fmt_ci(ci, '+.2f')} |")
        w, c = stats.median(col["wakeups"]), stats.median(col["cpu_pct"])
        res.goals.append((f"idle `{s}`: ≤ {GOAL_WAKEUPS} wake-ups/s", f"{w:.1f}/s",
                          verdict(w <= GOAL_WAKEUPS)))
        res.goals.append((f"idle `{s}`: ≤ {GOAL_CPU}% of a core", f"{c:.3f}%",
                          verdict(c <= GOAL_CPU)))
    return res
