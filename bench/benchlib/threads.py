# SPDX-License-Identifier: Apache-2.0
"""Goal 4, second half: 1,000 watched threads cost no more than one, beyond
the noise. `blocksnoop --all-threads -t 10 PID` on a process with one
event loop, and on one with 1,000 loop threads (each its own loop, waking
every --threads-tick seconds); the order rotates from round to round.
blocksnoop's CPU, wake-ups/s and RSS are compared with the same round's
one-thread figures; the goal holds the idle figures and the peak RSS to
their noise (the spread of the one-thread figure across rounds).
"""
import time

from . import procs, procstat, stats
from .context import Result, log, verdict
from .idle import start_blocksnoop, start_loops

COUNTS = (1, 1000)


def measure(ctx, nthreads):
    target = start_loops(ctx, ctx.args.threads_tick, threads=nthreads, cpus=ctx.target_cpu,
                         name=f"loops{nthreads}")
    bs = None
    try:
        bs = start_blocksnoop(ctx, ["--all-threads", "-t", "10"], target.pid)
        time.sleep(2)  # every thread back in epoll once, so all are watched
        w = procstat.Window(bs.pid).start()
        time.sleep(ctx.args.idle_window)
        out = w.end()
        out["rss_kib"] = procstat.status_kib(bs.pid, "VmRSS")
        out["hwm_kib"] = procstat.status_kib(bs.pid, "VmHWM")
        out["target_threads"] = procstat.threads(target.pid)
        return out
    finally:
        if bs:
            procs.stop(bs)
        procs.stop(target)


def run(ctx):
    rounds = []
    for r in range(ctx.args.idle_rounds):
        log(f"threads round {r + 1}/{ctx.args.idle_rounds}")
        k = r % len(COUNTS)
        rounds.append({n: measure(ctx, n) for n in COUNTS[k:] + COUNTS[:k]})
        log("  " + "  ".join(f"{n} threads: {v['cpu_pct']:.3f}% {v['wakeups']:.1f}/s "
                             f"RSS {v['rss_kib'] / 1024:.1f} MiB" for n, v in rounds[-1].items()))
    return report(ctx, rounds)


# (key, label, format, scale, a goal figure, counted in events). The
# goals' figures are the idle ones and the CLI's peak RSS; steady RSS is
# shown for what each watched thread keeps (its records in the engine and
# the sampler, its slot, its place in the reader's thread list), which no
# design avoids. A figure counted in events (wake-ups) cannot resolve less
# than one event in a window: its noise is never taken as less.
FIGURES = (("cpu_pct", "CPU, % of a core", ".3f", 1, True, False),
           ("wakeups", "wake-ups/s", ".1f", 1, True, True),
           ("rss_kib", "RSS, MiB", ".1f", 1024, False, False),
           ("hwm_kib", "peak RSS, MiB", ".1f", 1024, True, False))


def report(ctx, rounds):
    res = Result("Many watched threads: `blocksnoop --all-threads -t 10` on 1 and 1,000 loops")
    res.lines += [f"{len(rounds)} rounds of {ctx.args.idle_window} s; loops wake every "
                  f"{ctx.args.threads_tick:g} s. Median (min–max); Δ: mean of same-round "
                  "differences [95% bootstrap interval]; noise: the one-loop figure's "
                  "spread across rounds (max − min), for wake-ups at least one in a "
                  f"window ({1 / ctx.args.idle_window:.1f}/s).", "",
                  "| figure | 1 loop thread | 1,000 loop threads | Δ | noise |",
                  "|---|---|---|---|---|"]
    worse = []
    for key, label, spec, scale, goal, counted in FIGURES:
        one = [r[1][key] / scale for r in rounds]
        many = [r[1000][key] / scale for r in rounds]
        d, ci = stats.diff_summary(stats.paired(many, one, lambda x, y: x - y))
        noise = max(one) - min(one) if len(one) > 1 else None
        if counted:
            noise = max(noise or 0, 1 / ctx.args.idle_window)
        res.lines.append(f"| {label} | {stats.fmt(stats.median(one), spec)}"
                         f"{stats.fmt_range(one, spec)} | {stats.fmt(stats.median(many), spec)}"
                         f"{stats.fmt_range(many, spec)} | {stats.fmt(d, '+' + spec)}"
                         f"{stats.fmt_ci(ci, '+' + spec)} | {stats.fmt(noise, spec)} |")
        if goal and d is not None and d > (noise or 0) and (ci is None or ci[0] > 0):
            worse.append(f"{label} {d:+{spec}}")
    rss = stats.median([(r[1000]["rss_kib"] - r[1]["rss_kib"]) / (COUNTS[1] - COUNTS[0])
                        for r in rounds])
    res.lines.append("")
    res.lines.append(f"Steady RSS per watched thread beyond the first: {rss * 1024:,.0f} bytes "
                     "(median of the rounds; not a goal figure: what blocksnoop keeps of "
                     "each thread it watches).")
    res.lines.append("Threads in the many-loop target: "
                     f"{stats.median([r[1000]['target_threads'] for r in rounds]):.0f}.")
    res.goals.append(("1,000 watched threads: CPU, wake-ups and peak RSS no worse than their "
                      "noise",
                      "; ".join(worse) or "all within noise", verdict(not worse)))
    return res
