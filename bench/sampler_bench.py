#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Sampler cost benchmark: blocksnoop's built-in stack sampler vs Austin 3.7.0.

    sudo bench/sampler_bench.py [--quick] [--rounds N] [--window S]
                                [--workloads idle,busy,half,half150]
                                [--blocksnoop PATH] [--rootfs DIR] [--no-austin]
                                [--no-floor] [--nice N] [--output FILE] [--json FILE] [--keep]

Targets (bench/sampler_workload.py under /usr/bin/python3, Debian 12's
CPython 3.11.2 -- Austin samples it by host PID, no namespaces involved):
  idle     (a) `await asyncio.sleep(0.05)` forever
  busy     (b) 10 tasks looping `await asyncio.sleep(0)` + a little arithmetic
  half     (c) blocking_call() = time.sleep(50 ms) on the loop, then 50 ms of awaits
  half150  (c') the same with 150 ms, so that -t 100 reports every block
Variants: nothing attached (baseline); blocksnoop -t 100 (built-in sampler);
-t 10; --sampler none -t 100 (detector only); Austin 3.7.0 -P at its default
100 us and at 33 ms (threshold/3); and, on (a) only, two calibration rows: a
bare C timerfd loop (bench/sampler_timer_floor.c) ticking every 10 ms / 1 ms,
as often as the built-in sampler's timer at -t 100 / -t 10.

Rounds are interleaved: every round starts a fresh target per workload and
measures every variant against it, in an order rotated from round to round;
the report gives medians over rounds (and the min-max range). Per measurement:
attach the tool, wait until it runs (blocksnoop's session_start record,
Austin's first sample) plus 0.3 s, then a window of --window seconds between
two progress records read from the target's mmap'ed stats file. Tool CPU = utime+stime
(+ children) from /proc/<pid>/stat over the window, as % of one core; also the
sum of /proc/<pid>/task/*/schedstat run time (ns resolution). Target
throughput = its own counter's rate over the window, as a ratio to the
baseline of the same round (same target process); for (b) also per
CPU-second of the target. Everything else's CPU over the window is recorded
too: the machines are shared, and a busy machine makes throughput noisy.

Stack accuracy ((c), (c')): blocksnoop -- share of events whose first stack's
innermost frame from the workload file is blocking_call, and events vs blocks
that ended in the window. Austin -- a run of non-idle samples (innermost frame
not the selector's select) lasting >= 10 ms of its wall-time metric is a block
as Austin sees it: share of samples in such runs naming blocking_call as the
innermost workload frame, and runs mostly naming it vs blocks expected over
Austin's own `# duration`.

Austin comes from a Debian 13 root file system (bench/sampler_rootfs.sh reuses
build/rootfs-trixie if it holds austin, else builds build/bench-rootfs-trixie
with mmdebstrap, ~1.5 min the first time, under an flock) and runs through
that root's own loader, since it needs glibc >= 2.38. Its stdout goes to a
file on tmpfs (like `> /dev/null` plus a copy), parsed afterwards.

Every process started is stopped by its PID (SIGINT, SIGKILL after 5 s), also
on failure and on SIGINT/SIGTERM/SIGHUP to this script. Needs root and cc.
Loopback only; no network (except mmdebstrap the first time).
Default 3 rounds x 3.5 s windows, ~5.5 minutes, report in
bench/sampler_results.md; --quick 2 x 1.5 s, ~2 minutes, report on stdout.
On a machine busy with other jobs, --nice -10 (targets and tools, and their
autogroups) keeps run-queue waits out of the numbers.
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKLOAD = os.path.join(HERE, "sampler_workload.py")
CLK_TCK = os.sysconf("SC_CLK_TCK")
BLOCK_FUNC = "blocking_call"

# name, label, kind, args
VARIANTS = [
    ("baseline", "alone (baseline)", None, None),
    ("bs100", "blocksnoop -t 100 (builtin sampler)", "blocksnoop", ["-t", "100"]),
    ("bs10", "blocksnoop -t 10 (builtin sampler)", "blocksnoop", ["-t", "10"]),
    ("bsnone", "blocksnoop --sampler none -t 100", "blocksnoop",
     ["--sampler", "none", "-t", "100"]),
    ("au100us", "Austin 3.7.0 -i 100us (default)", "austin", ["-i", "100us"]),
    ("au33ms", "Austin 3.7.0 -i 33ms", "austin", ["-i", "33ms"]),
    # calibration, not attached to anything: a bare timerfd loop ticking as
    # often as blocksnoop's sampler does at -t 100 (10 ms) and -t 10 (1 ms)
    ("floor10ms", "calibration: bare 10 ms timerfd loop", "floor", ["10000"]),
    ("floor1ms", "calibration: bare 1 ms timerfd loop", "floor", ["1000"]),
]
ALL = [v[0] for v in VARIANTS]
# key, title, workload arguments, variants measured
WORKLOADS = [
    ("idle", "(a) idle loop (`await asyncio.sleep(0.05)` forever)", ["idle"], ALL),
    ("busy", "(b) busy loop, 10 tasks looping `await asyncio.sleep(0)` + arithmetic", ["busy"],
     ALL[:6]),
    ("half", "(c) blocked half the time: `time.sleep(0.05)` in blocking_call(), then 50 ms of awaits",
     ["half", "--block-ms", "50"], ALL[:6]),
    ("half150", "(c′) the same with 150 ms blocks (≥ the 100 ms threshold) and 150 ms of awaits",
     ["half", "--block-ms", "150"], ["baseline", "bs100", "bs10", "au100us", "au33ms"]),
]
WL = {w[0]: w for w in WORKLOADS}
UNITS = {"idle": "wake-ups/s", "busy": "iterations/s", "half": "cycles/s", "half150": "cycles/s"}
# Austin: a run of non-idle samples at least this long (summed wall-time
# metric) is a block as Austin sees it.
AUSTIN_BLOCK_MIN_US = 10000

started = []  # every Popen we start, so cleanup finds it by PID
tmpdir = None
nice = 0  # --nice: scheduling priority of every process started


def log(msg):
    print(f"[sampler-bench] {msg}", file=sys.stderr, flush=True)


class Stop(Exception):
    pass


def on_signal(signum, frame):
    raise Stop(f"signal {signum}")


def start(argv, name, stdout=None, stdin=subprocess.DEVNULL):
    err = open(os.path.join(tmpdir, f"{name}.{len(started)}.err"), "w")
    prio = nice

    def setprio():
        # Runs in the child after setsid(). With sched_autogroup_enabled every
        # session is its own scheduling group and a task's nice value only
        # counts inside it, so set the new group's nice value too.
        if prio:
            os.setpriority(os.PRIO_PROCESS, 0, prio)
            try:
                with open("/proc/self/autogroup", "w") as f:
                    f.write(str(prio))
            except OSError:
                pass
    p = subprocess.Popen(argv, stdin=stdin, stdout=stdout or subprocess.DEVNULL,
                         stderr=err, start_new_session=True, preexec_fn=setprio)
    err.close()
    p.errlog = err.name
    started.append(p)
    return p


def stop(p, sig=signal.SIGINT, timeout=5):
    """Stop one child by its PID: sig, then SIGKILL if it lingers."""
    try:
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    finally:
        if p in started:
            started.remove(p)
        if p.stdout:
            p.stdout.close()


def cleanup():
    for p in reversed(list(started)):
        try:
            stop(p, timeout=2)
        except Exception as e:  # keep stopping the others
            log(f"cleanup of PID {p.pid}: {e}")


def tail(path, n=5):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:]).strip()
    except OSError:
        return ""


# --- /proc ---------------------------------------------------------------

def stat_cpu_s(pid):
    """utime+stime+cutime+cstime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def sched_cpu_s(pid):
    """Run time of the process's live threads from schedstat (ns resolution)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def machine_busy_s():
    """CPU time all processes and interrupts used so far, all CPUs, seconds."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / CLK_TCK


def cpu_now(pid):
    return stat_cpu_s(pid), sched_cpu_s(pid)


# --- target --------------------------------------------------------------

class Target:
    """A workload process; progress is read from its mmap'ed stats file."""

    def __init__(self, python, kind):
        self.stats = os.path.join(tmpdir, f"target-{kind}.{len(started)}.stats")
        argv = [python, WORKLOAD, *WL[kind][2], "--stats", self.stats]
        self.kind = kind
        self.half = WL[kind][2][0] == "half"
        self.p = start(argv, f"target-{kind}", stdout=subprocess.PIPE)
        fd = self.p.stdout.fileno()
        line = b""
        deadline = time.monotonic() + 15
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            if select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                chunk = os.read(fd, 256)
                if not chunk:
                    break
                line += chunk
        if not line.startswith(b"ready "):
            raise RuntimeError(f"target {kind}: {line!r} {tail(self.p.errlog)}")
        self.pid = self.p.pid

    def mark(self):
        """The target's latest progress record, plus our own clock."""
        with open(self.stats, "rb") as f:
            for _ in range(100):
                a = f.read(32)
                f.seek(0)
                b = f.read(32)
                f.seek(0)
                if a == b and len(a) == 32:
                    count, last, blocks, _ = struct.unpack("<QQQQ", a)
                    return {"now": time.monotonic_ns(), "count": count, "last": last,
                            "blocks": blocks}
        raise RuntimeError(f"target {self.kind}: unreadable stats")

    def rate(self, m1, m2):
        """Progress between the two records' own timestamps."""
        dc = m2["count"] - m1["count"]
        if dc <= 0 or m2["last"] <= m1["last"]:
            return 0.0
        return dc / ((m2["last"] - m1["last"]) / 1e9)


# --- tools ---------------------------------------------------------------

def wait_for(path, pattern, proc, timeout=10):
    """Wait until the file at path contains pattern (bytes regex)."""
    rx = re.compile(pattern, re.M)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}: {tail(proc.errlog)}")
        try:
            with open(path, "rb") as f:
                if rx.search(f.read(65536)):
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"not ready after {timeout}s: {tail(proc.errlog)}")


def start_tool(cfg, kind, args, pid, name):
    out = os.path.join(tmpdir, f"{name}.out")
    with open(out, "wb") as f:
        if kind == "blocksnoop":
            p = start([cfg.blocksnoop, "--json", *args, str(pid)], name, stdout=f)
            ready = rb'"type":"session_start"'
        elif kind == "floor":
            p = start([cfg.floor, *args], name, stdout=f)
            ready = rb"^ready"
        else:
            r = cfg.rootfs
            p = start([f"{r}/lib64/ld-linux-x86-64.so.2", "--library-path",
                       f"{r}/lib/x86_64-linux-gnu", f"{r}/usr/bin/austin",
                       "-P", *args, "-p", str(pid)], name, stdout=f)
            ready = rb"^P\d+;"
    p.outfile = out
    try:
        wait_for(out, ready, p)
    except Exception:
        stop(p)
        raise
    return p


def app_frame(frames_innermost_first, path):
    for fn, file in frames_innermost_first:
        if file == path:
            return fn
    return None


def parse_blocksnoop(path, m1, m2):
    events = []
    with open(path, errors="replace") as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("type") == "blocking_event":
                events.append(r)
    right = 0
    wrong = []  # for the --json file: what the other events showed
    for e in events:
        stacks = e.get("python_stacks") or []
        fn = None
        if stacks:
            fn = app_frame([(fr.get("function"), fr.get("file")) for fr in stacks[0]], WORKLOAD)
        if fn == BLOCK_FUNC:
            right += 1
        else:
            wrong.append({"duration_ms": e.get("duration_ms"), "samples": e.get("samples"),
                          "stack_samples": e.get("stack_samples"),
                          "first_stack": [f"{fr.get('function')}:{fr.get('line')}"
                                          for fr in (stacks[0] if stacks else [])][:6]})
    in_window = [e for e in events if m1["now"] <= e["end_ns"] <= m2["now"]]
    return {"events": len(events), "events_right": right,
            "events_in_window": len(in_window),
            "samples_per_s": sum(e.get("samples", 0) for e in in_window) / ((m2["now"] - m1["now"]) / 1e9),
            "blocks_in_window": m2["blocks"] - m1["blocks"],
            "samples": sum(e.get("samples", 0) for e in events), "wrong": wrong}


def parse_austin(path, half, block_rate):
    """Samples/s; for the half workloads, Austin's own view of the blocks:
    maximal runs of non-idle samples (innermost frame not the selector's
    select) lasting >= AUSTIN_BLOCK_MIN_US by Austin's wall-time metric."""
    samples = 0
    duration_us = None
    errors = None
    runs = []  # [total_us, samples, right_samples]
    cur = None
    size = os.path.getsize(path)
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("P"):
                samples += 1
                if not half:
                    continue
                stack, _, metric = line.rstrip("\n").rpartition(" ")
                frames = []
                for fr in reversed(stack.split(";")[2:]):
                    bits = fr.rsplit(":", 2)
                    if len(bits) == 3:
                        frames.append((bits[1], bits[0]))
                if frames and frames[0][0].endswith("Selector.select"):
                    cur = None
                    continue
                if cur is None:
                    cur = [0, 0, 0]
                    runs.append(cur)
                cur[0] += int(metric) if metric.isdigit() else 0
                cur[1] += 1
                cur[2] += app_frame(frames, WORKLOAD) == BLOCK_FUNC
            elif line.startswith("# duration:"):
                duration_us = int(line.split(":")[1].strip().replace(",", ""))
            elif line.startswith("# errors:"):
                errors = line.split(":", 1)[1].strip()
    res = {"samples": samples, "bytes": size, "duration_s": (duration_us or 0) / 1e6,
           "errors": errors}
    if half:
        blocks = [r for r in runs if r[0] >= AUSTIN_BLOCK_MIN_US]
        res.update(block_samples=sum(r[1] for r in blocks),
                   block_right=sum(r[2] for r in blocks),
                   austin_blocks=len(blocks),
                   austin_blocks_named=sum(1 for r in blocks if 2 * r[2] > r[1]),
                   # blocks of a periodic pattern that overlap a window of D
                   # seconds: D * rate + (share of the time blocked, 1/2)
                   blocks_expected=block_rate * (duration_us or 0) / 1e6 + 0.5)
    return res


def measure(cfg, target, variant, rnd):
    name, _, kind, args = variant
    tag = f"{target.kind}-{name}-r{rnd}"
    tool = None
    res = {"workload": target.kind, "variant": name, "round": rnd}
    try:
        if kind:
            t0 = time.monotonic()
            tool = start_tool(cfg, kind, args, target.pid, tag)
            res["attach_s"] = time.monotonic() - t0
        time.sleep(0.3)
        if tool:
            c1 = cpu_now(tool.pid)
            res["attach_cpu_s"] = c1[0]
        t1 = cpu_now(target.pid)
        b1 = machine_busy_s()
        m1 = target.mark()
        time.sleep(cfg.window)
        m2 = target.mark()
        b2 = machine_busy_s()
        t2 = cpu_now(target.pid)
        wall = (m2["now"] - m1["now"]) / 1e9
        others = b2 - b1 - (t2[0] - t1[0])
        if tool:
            c2 = cpu_now(tool.pid)
            res["cpu_pct"] = 100 * (c2[0] - c1[0]) / wall
            res["cpu_sched_pct"] = 100 * (c2[1] - c1[1]) / wall
            others -= c2[0] - c1[0]
            if tool.poll() is not None:
                raise RuntimeError(f"{tag}: tool exited early: {tail(tool.errlog)}")
        res["target_cpu_pct"] = 100 * (t2[0] - t1[0]) / wall
        res["others_pct"] = 100 * max(0.0, others) / wall
        res["rate"] = target.rate(m1, m2)
        if t2[1] > t1[1]:
            res["rate_per_cpu"] = (m2["count"] - m1["count"]) / (t2[1] - t1[1])
        if tool:
            stop(tool)
            if kind == "blocksnoop" and target.half:
                res.update(parse_blocksnoop(tool.outfile, m1, m2))
            elif kind == "austin":
                block_rate = (m2["blocks"] - m1["blocks"]) / wall
                res.update(parse_austin(tool.outfile, target.half, block_rate))
    except Stop:
        raise
    except Exception as e:
        log(f"{tag}: FAILED: {e}")
        res["error"] = str(e)
    finally:
        if tool:
            stop(tool)
            if not cfg.keep:
                try:
                    os.unlink(tool.outfile)
                except OSError:
                    pass
    return res


# --- report --------------------------------------------------------------

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(xs, digits=2, rng=True):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "—"
    m = f"{statistics.median(xs):.{digits}f}"
    if rng and len(xs) > 1:
        m += f" ({min(xs):.{digits}f}–{max(xs):.{digits}f})"
    return m


def pct(a, b):
    return f"{100 * a / b:.1f}%" if b else "—"


def summarize(results, cfg):
    by = {}
    for r in results:
        by.setdefault((r["workload"], r["variant"]), []).append(r)
    base = {}
    for r in results:
        if r["variant"] == "baseline" and "rate" in r:
            base[(r["workload"], r["round"])] = r["rate"]
    base_cpu = {(r["workload"], r["round"]): r["rate_per_cpu"] for r in results
                if r["variant"] == "baseline" and "rate_per_cpu" in r}
    for r in results:
        b = base.get((r["workload"], r["round"]))
        r["ratio"] = r["rate"] / b if b and "rate" in r else None
        b = base_cpu.get((r["workload"], r["round"]))
        r["ratio_per_cpu"] = r["rate_per_cpu"] / b if b and "rate_per_cpu" in r else None
    return by


def acc_cell(rows, name):
    if name.startswith("bs"):
        if not any("events" in r for r in rows):
            return "—", "—"
        ev = sum(r.get("events", 0) for r in rows)
        ok = sum(r.get("events_right", 0) for r in rows)
        win = sum(r.get("events_in_window", 0) for r in rows)
        blk = sum(r.get("blocks_in_window", 0) for r in rows)
        if ev == 0:
            return "no events", f"0/{blk} reported"
        return f"{pct(ok, ev)} of {ev} events", f"{win}/{blk} reported"
    if name.startswith("au"):
        if not any("block_samples" in r for r in rows):
            return "—", "—"
        ns = sum(r["block_samples"] for r in rows)
        ok = sum(r["block_right"] for r in rows)
        named = sum(r["austin_blocks_named"] for r in rows)
        exp = sum(r["blocks_expected"] for r in rows)
        return (f"{pct(ok, ns)} of {ns} in-block samples",
                f"{named}/≈{exp:.0f} named")
    return "—", "—"


def report(results, cfg, meta):
    by = summarize(results, cfg)
    lines = []
    w = lines.append
    w("# Sampler cost: blocksnoop's built-in sampler vs Austin 3.7.0")
    w("")
    w(f"Measured {meta['date']} on {meta['machine']}.")
    w(f"Target: `{cfg.python}` (CPython {meta['python']}, Debian 12); blocksnoop: {meta['blocksnoop']}; "
      + (f"{meta['austin']} (Debian 13's package, run through that root's own loader from "
         f"`{os.path.relpath(cfg.rootfs, ROOT)}`, stdout to a tmpfs file)." if cfg.austin else "no Austin."))
    w(f"{cfg.rounds} interleaved rounds × {cfg.window:g} s windows, {meta['elapsed']:.0f} s in all; "
      "cells are the median over rounds, (min–max) in brackets. "
      f"Generated by `sudo bench/sampler_bench.py{' --quick' if cfg.quick else ''}"
      f"{f' --nice {cfg.nice}' if cfg.nice else ''}`"
      + (f" (targets and tools at nice {cfg.nice})." if cfg.nice else "."))
    others = med([r.get("others_pct") for r in results])
    if others is not None:
        w(f"Other work on the machine during the windows: median {others:.0f}% of one core "
          f"(of {os.cpu_count() * 100}%)" + (" — the machine was busy; throughput ratios are noisy."
                                             if others > 50 else "."))
    w("")
    w("- **tool CPU**: utime+stime+cutime+cstime of the tool's process from `/proc/<pid>/stat` over the "
      f"window, as % of one core (clock ticks of 1/{CLK_TCK} s, so ±{100 / CLK_TCK / cfg.window:.2f} points "
      "per window); **schedstat**: the same from its threads' scheduler run time (ns resolution).")
    w("- **attach**: CPU the tool spent from its start until it was running, plus 0.3 s.")
    w("- **throughput**: the target's own progress counter over the window, as a ratio to the baseline "
      "measured in the same round on the same target process. **target CPU**: the target's CPU, "
      "% of a core; **others CPU**: everything else on the machine (other users' jobs, the kernel's "
      f"interrupts, this script) over the window, % of one core out of {os.cpu_count() * 100} — "
      "a high value means the machine was busy and throughput ratios are noisy. (b) also gives "
      "iterations per CPU-second of the target (schedstat), which is what the tool adds to the "
      "target's own work, without the scheduling noise.")
    w("- **stack samples/s**: Austin — samples in its output / its `# duration`; blocksnoop — samples "
      "carried by the events that ended in the window / window (samples of blocks shorter than the "
      "threshold are taken and dropped, so not counted).")
    w("- **stack accuracy** ((c), (c′)): blocksnoop — share of reported events whose first (most sampled) "
      f"stack has `{BLOCK_FUNC}` as its innermost frame from the workload file; *blocks* = events that ended "
      "in the window / blocks that ended in the window. Austin — Austin's own view of a block is a run of "
      "non-idle samples (innermost frame not `EpollSelector.select`) lasting ≥ "
      f"{AUSTIN_BLOCK_MIN_US / 1000:g} ms by its wall-time metric: share of the samples in such runs whose "
      f"innermost workload frame is `{BLOCK_FUNC}`; *blocks* = runs where most samples name it / blocks "
      "expected in Austin's own `# duration` (≈, edges included).")
    w("")
    for wk, title, _, names in WORKLOADS:
        if wk not in cfg.workloads:
            continue
        half = WL[wk][2][0] == "half"
        w(f"## {title}")
        w("")
        hdr = ("| setup | tool CPU % of a core | schedstat % | attach CPU ms | target throughput vs alone "
               "| target CPU % | others CPU % |")
        sep = "|---|---|---|---|---|---|---|"
        if wk == "busy":
            hdr += " per target CPU-s vs alone |"
            sep += "---|"
        if half:
            hdr += " stack accuracy | blocks |"
            sep += "---|---|"
        if cfg.austin or half:
            hdr += " stack samples/s |"
            sep += "---|"
        w(hdr)
        w(sep)
        for name, label, kind, _ in VARIANTS:
            if name not in names or kind == "austin" and not cfg.austin:
                continue
            if kind == "floor" and not cfg.floor:
                continue
            rows = [r for r in by.get((wk, name), []) if "error" not in r]
            nfail = len(by.get((wk, name), [])) - len(rows)
            if name == "baseline":
                thr = fmt([r.get("rate") for r in rows], 0 if wk == "busy" else 2) + f" {UNITS[wk]}"
            elif kind == "floor":
                thr = "—"
            else:
                thr = fmt([r.get("ratio") for r in rows], 3)
            cells = [label + (f" ({nfail} failed)" if nfail else ""),
                     fmt([r.get("cpu_pct") for r in rows]),
                     fmt([r.get("cpu_sched_pct") for r in rows], 2),
                     fmt([1000 * r["attach_cpu_s"] if "attach_cpu_s" in r else None for r in rows], 0, rng=False),
                     thr,
                     fmt([r.get("target_cpu_pct") for r in rows], 1, rng=False),
                     fmt([r.get("others_pct") for r in rows], 0, rng=False)]
            if wk == "busy":
                cells.append("—" if name == "baseline" else fmt([r.get("ratio_per_cpu") for r in rows], 3))
            if half:
                cells += list(acc_cell(rows, name))
            if cfg.austin or half:
                if kind == "austin":
                    cells.append(fmt([r["samples"] / r["duration_s"] if r.get("duration_s") else None
                                      for r in rows], 0, rng=False))
                elif half and kind == "blocksnoop" and name != "bsnone":
                    cells.append(fmt([r.get("samples_per_s") for r in rows], 0, rng=False))
                else:
                    cells.append("—")
            w("| " + " | ".join(cells) + " |")
        w("")
    w(goals(by, cfg))
    return "\n".join(lines) + "\n"


def goals(by, cfg):
    def m(wk, name, key):
        return med([r.get(key) for r in by.get((wk, name), []) if "error" not in r])

    out = ["## Goals", ""]
    if cfg.floor and "idle" in cfg.workloads:
        f10, f1 = m("idle", "floor10ms", "cpu_sched_pct"), m("idle", "floor1ms", "cpu_sched_pct")
        b100, b10 = m("idle", "bs100", "cpu_sched_pct"), m("idle", "bs10", "cpu_sched_pct")
        if None not in (f10, f1, b100, b10):
            out.append(f"- What an idle loop costs (schedstat): blocksnoop -t 100 {b100:.2f}% vs a bare C "
                       f"loop waking every 10 ms {f10:.2f}%; -t 10 {b10:.2f}% vs every 1 ms {f1:.2f}%. "
                       "The built-in sampler's timer ticks every --interval whether or not a block is "
                       "in progress, and on this VM a wake-up costs tens of µs.")
    for name, label in (("bs100", "-t 100"), ("bs10", "-t 10"), ("bsnone", "--sampler none -t 100")):
        parts = []
        ok = True
        for wk in ("idle", "busy"):
            if wk not in cfg.workloads:
                continue
            st, sc = m(wk, name, "cpu_pct"), m(wk, name, "cpu_sched_pct")
            if st is None:
                ok = None
                parts.append(f"{wk}: no data")
                continue
            ok = ok and st < 1.0 and sc < 1.0
            parts.append(f"{WL[wk][1][:3]} {st:.2f}% (schedstat {sc:.2f}%)")
        verdict = "no data" if ok is None else ("met" if ok else "NOT met")
        out.append(f"- blocksnoop {label} below 1% of a core on (a) and (b): **{verdict}** — " + "; ".join(parts))
    if cfg.austin:
        out.append("- CPU of Austin at 100 µs ÷ CPU of blocksnoop (medians; /proc/stat, schedstat in brackets; "
                   "goal ≥ 10×):")
        for wk, title, _, names in WORKLOADS:
            if wk not in cfg.workloads:
                continue
            a, asc = m(wk, "au100us", "cpu_pct"), m(wk, "au100us", "cpu_sched_pct")
            parts = []
            for name, label in (("bs100", "-t 100"), ("bs10", "-t 10")):
                if name not in names:
                    continue
                b, bsc = m(wk, name, "cpu_pct"), m(wk, name, "cpu_sched_pct")
                if a is None or b is None:
                    parts.append(f"{label}: no data")
                    continue
                r1 = f"{a / b:.0f}×" if b > 0 else "∞ (0 ticks)"
                r2 = f"{asc / bsc:.0f}×" if bsc and bsc > 0 else "∞"
                good = (b <= 0 or a / b >= 10) and (not bsc or asc / bsc >= 10)
                parts.append(f"{label} **{r1}** ({r2}){'' if good else ' — below 10×'}")
            out.append(f"  - {title.split(' ', 1)[0]} {wk}: Austin {a:.1f}% ({asc:.1f}%) vs " + "; ".join(parts))
    return "\n".join(out) + "\n"


# --- main ----------------------------------------------------------------

def version_of(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception as e:
        return f"? ({e})"


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    osname = "?"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return f"{osname}, kernel {platform.release()}, {os.cpu_count()} × {cpu} (`{platform.node()}`)"


def main():
    global tmpdir, nice
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 rounds x 1.5 s windows (~2 min)")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--window", type=float, help="seconds per measurement window")
    ap.add_argument("--blocksnoop", default=os.path.join(ROOT, "build", "blocksnoop"))
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--rootfs", help="Debian 13 root with austin (default: bench/sampler_rootfs.sh)")
    ap.add_argument("--no-austin", dest="austin", action="store_false")
    ap.add_argument("--workloads", default=",".join(w[0] for w in WORKLOADS),
                    help="comma-separated subset of " + ",".join(w[0] for w in WORKLOADS))
    ap.add_argument("--no-floor", dest="floor", action="store_false",
                    help="skip the bare-timer calibration rows (they need cc)")
    ap.add_argument("--output", help="markdown report; default bench/sampler_results.md, "
                    "but stdout only ('-') with --quick, so a quick look never overwrites it")
    ap.add_argument("--json", help="also write every raw measurement here")
    ap.add_argument("--keep", action="store_true", help="keep tool outputs and logs")
    ap.add_argument("--nice", type=int, default=0,
                    help="run targets and tools at this nice value (e.g. -10 on a machine "
                    "busy with other jobs: fewer run-queue waits, less noise)")
    cfg = ap.parse_args()
    cfg.rounds = cfg.rounds or (2 if cfg.quick else 3)
    if cfg.output is None:
        cfg.output = "-" if cfg.quick else os.path.join(HERE, "sampler_results.md")
    cfg.window = cfg.window or (1.5 if cfg.quick else 3.5)
    cfg.workloads = [w for w in cfg.workloads.split(",") if w]
    nice = cfg.nice
    if any(w not in WL for w in cfg.workloads):
        ap.error("--workloads: a subset of " + ",".join(w[0] for w in WORKLOADS))
    if os.geteuid() != 0:
        sys.exit("sampler_bench: needs root (BPF)")
    if not os.access(cfg.blocksnoop, os.X_OK):
        sys.exit(f"sampler_bench: {cfg.blocksnoop} missing: run make")
    if cfg.austin:
        if not cfg.rootfs:
            r = subprocess.run([os.path.join(HERE, "sampler_rootfs.sh")], stdout=subprocess.PIPE, text=True)
            if r.returncode:
                sys.exit("sampler_bench: no Austin root file system (or use --no-austin)")
            cfg.rootfs = r.stdout.strip().splitlines()[-1]
        cfg.rootfs = os.path.abspath(cfg.rootfs)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    tmpdir = tempfile.mkdtemp(prefix="sampler-bench.", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    results = []
    try:
        if cfg.floor:
            cfg.floor = os.path.join(tmpdir, "sampler_timer_floor")
            r = subprocess.run(["cc", "-O2", "-std=gnu11", "-o", cfg.floor,
                                os.path.join(HERE, "sampler_timer_floor.c")])
            if r.returncode:
                log("cannot build sampler_timer_floor.c: no calibration rows")
                cfg.floor = None
        # Others may rebuild build/blocksnoop while this runs: measure one
        # snapshot of it throughout.
        snap = os.path.join(tmpdir, "blocksnoop")
        shutil.copy2(cfg.blocksnoop, snap)
        with open(snap, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
        built = datetime.datetime.fromtimestamp(os.stat(cfg.blocksnoop).st_mtime).astimezone()
        cfg.blocksnoop_src, cfg.blocksnoop = cfg.blocksnoop, snap
        head = version_of(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
        dirty = version_of(["git", "-C", ROOT, "status", "--porcelain", "--", "agent", "bpf"])
        meta = {
            "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "machine": machine(),
            "python": version_of([cfg.python, "-c", "import sys; print(sys.version.split()[0])"]),
            "blocksnoop": (version_of([cfg.blocksnoop, "--version"]).splitlines() or ["?"])[0]
            + f" (`{os.path.relpath(cfg.blocksnoop_src, ROOT)}` built {built:%Y-%m-%d %H:%M}, "
            f"sha256 {digest}…; tree at commit {head}"
            + (" with uncommitted changes in agent/ or bpf/" if dirty else "") + ")",
            "austin": "no Austin",
        }
        if cfg.austin:
            r = cfg.rootfs
            meta["austin"] = version_of([f"{r}/lib64/ld-linux-x86-64.so.2", "--library-path",
                                         f"{r}/lib/x86_64-linux-gnu", f"{r}/usr/bin/austin", "-V"])
            if not meta["austin"].startswith("austin 3."):
                sys.exit(f"sampler_bench: austin in {r} does not start: {meta['austin']}")
        t_start = time.monotonic()
        for rnd in range(cfg.rounds):
            wls = cfg.workloads[rnd % len(cfg.workloads):] + cfg.workloads[:rnd % len(cfg.workloads)]
            for wk in wls:
                variants = [v for v in VARIANTS if v[0] in WL[wk][3]
                            and (v[2] != "austin" or cfg.austin) and (v[2] != "floor" or cfg.floor)]
                vs = variants[rnd % len(variants):] + variants[:rnd % len(variants)]
                target = Target(cfg.python, wk)
                try:
                    time.sleep(0.5)
                    for v in vs:
                        r = measure(cfg, target, v, rnd)
                        results.append(r)
                        log(f"round {rnd + 1}/{cfg.rounds} {wk:4} {v[0]:8} "
                            + " ".join(f"{k}={r[k]:.3g}" if isinstance(r[k], float) else f"{k}={r[k]}"
                                       for k in ("cpu_pct", "cpu_sched_pct", "rate", "target_cpu_pct",
                                                 "events", "events_right", "samples", "error") if k in r))
                finally:
                    stop(target.p, signal.SIGTERM)
        meta["elapsed"] = time.monotonic() - t_start
        log(f"done in {meta['elapsed']:.0f} s")
        text = report(results, cfg, meta)
        print(text)
        if cfg.output != "-":
            with open(cfg.output, "w") as f:
                f.write(text)
            log(f"wrote {cfg.output}")
        if cfg.json:
            with open(cfg.json, "w") as f:
                json.dump({"meta": meta, "results": results}, f, indent=1)
    except (Stop, KeyboardInterrupt) as e:
        log(f"interrupted ({str(e) or 'SIGINT'}); stopping everything started")
        return 130
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)  # a second Ctrl-C must not cut cleanup short
        cleanup()
        if cfg.keep:
            log(f"logs kept in {tmpdir}")
        else:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
