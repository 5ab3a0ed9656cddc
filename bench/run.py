#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""blocksnoop's performance figures, all in one command.

    sudo bench/run.py [--quick] [--only PART,...] [--blocksnoop PATH] [--output FILE]

Parts (docs/benchmarks.md says what each measures and how):
  idle        blocksnoop's wake-ups/s and CPU beside an idle loop, -t 10 / -t 100
  throughput  aiohttp under wrk: blocksnoop vs two empty BPF programs vs nothing
  percall     an unwatched thread's epoll call: blocksnoop vs empty programs
  agent       `blocksnoop agent` with 0-200 watched processes in real pod cgroups
  threads     --all-threads on 1 vs 1,000 loop threads
  memory      the CLI's RSS stage by stage (under gdb), and where the peak comes from
Every variant runs side by side with its baseline, interleaved round by
round; the markdown report (stdout, and --output) starts with the commit,
the machine and how busy it was. Needs root; see check_dependencies().
"""
import argparse
import importlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from benchlib import machine, procs
from benchlib.context import HERE, PYTHON, ROOT, Ctx, log

PARTS = ("idle", "throughput", "percall", "agent", "threads", "memory")
MODULES = {"idle": "idle", "throughput": "throughput", "percall": "percall",
           "agent": "agent_scale", "threads": "threads", "memory": "memory"}

# (command or check, Debian package) for each part that needs it
NEEDS = {
    "all": [("taskset", "util-linux"), ("make", "make"), ("clang", "clang"),
            ("bpftool", "bpftool"), ("git", "git")],
    "throughput": [("wrk", "wrk"), ("aiohttp", "python3-aiohttp")],
    "agent": [("openssl", "openssl")],
    "memory": [("gdb", "gdb")],
}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--blocksnoop", default=os.environ.get(
        "BLOCKSNOOP", os.path.join(ROOT, "build/blocksnoop")),
        help="the binary to measure (or $BLOCKSNOOP; default build/blocksnoop)")
    ap.add_argument("--blocksnoop-args", default="", metavar="ARGS",
                    help='extra options for every blocksnoop run, e.g. "--sampler none"')
    ap.add_argument("--quick", action="store_true",
                    help="~8 minutes instead of 25-40: fewer, shorter rounds (too few to "
                    "resolve the throughput goal)")
    ap.add_argument("--only", default=",".join(PARTS), metavar="PART,...",
                    help=f"run only these parts ({', '.join(PARTS)})")
    ap.add_argument("--output", help="also write the report here")
    ap.add_argument("--keep-logs", action="store_true",
                    help="keep the children's stderr and records")
    ap.add_argument("--nice", type=int, default=0,
                    help="run everything at this nice value, e.g. -10 on a busy machine")
    g = ap.add_argument_group("rounds and lengths (defaults: full run / --quick)")
    g.add_argument("--idle-rounds", type=int, help="idle and threads parts (4 / 2)")
    g.add_argument("--idle-window", type=float, help="seconds measured per setup (10 / 4)")
    g.add_argument("--min-rounds", type=int, help="throughput, at least (10 / 4)")
    g.add_argument("--max-rounds", type=int, help="throughput, at most (60 / 6)")
    g.add_argument("--ci-target", type=float, default=0.25, metavar="PCT",
                   help="throughput: stop once blocksnoop/empty's 95%% interval is "
                   "± PCT %% (default 0.25)")
    g.add_argument("--throughput-budget", type=float, help="throughput, seconds (1500 / 150)")
    g.add_argument("--duration", type=int, help="wrk seconds per measurement (3 / 2)")
    g.add_argument("--connections", type=int, default=20)
    g.add_argument("--percall-rounds", type=int, help="(7 / 3)")
    g.add_argument("--calls", type=int, help="syscall_loop calls (2000000 / 1000000)")
    g.add_argument("--agent-rounds", type=int, help="(2 / 1)")
    g.add_argument("--agent-window", type=float, help="seconds per N (20 / 6)")
    g.add_argument("--agent-tick", type=float, default=0.1,
                   help="the pods' loops wake every this many seconds (default 0.1)")
    g.add_argument("--threads-tick", type=float, default=1.0,
                   help="the 1,000 loop threads wake every this many seconds (default 1)")
    g.add_argument("--wait-quiet", type=int, default=10, metavar="S",
                   help="before a round, wait up to S s for other processes' syscall "
                   "tracepoint programs to go (default 10)")
    g.add_argument("--keep-disturbed", action="store_true",
                   help="keep rounds during which other processes had syscall tracepoint "
                   "programs (counted in the report) instead of running them again")
    a = ap.parse_args()
    q = a.quick
    defaults = {"idle_rounds": (4, 2), "idle_window": (10, 4), "min_rounds": (10, 4),
                "max_rounds": (60, 6), "throughput_budget": (1500, 150), "duration": (3, 2),
                "percall_rounds": (7, 3), "calls": (2_000_000, 1_000_000),
                "agent_rounds": (2, 1), "agent_window": (20, 6)}
    for k, (full, quick) in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, quick if q else full)
    a.parts = [p for p in a.only.split(",") if p]
    bad = [p for p in a.parts if p not in PARTS]
    if bad:
        ap.error(f"unknown part {bad[0]!r}: choose from {', '.join(PARTS)}")
    return a


def missing(what):
    if what == "aiohttp":
        return subprocess.run([PYTHON, "-c", "import aiohttp"],
                              capture_output=True).returncode != 0
    return shutil.which(what) is None


def check_dependencies(a):
    """Exit with one line naming what to install, or what else to do."""
    if os.geteuid() != 0:
        sys.exit("bench/run.py: needs root (BPF programs, cgroups): run it with sudo")
    pkgs = sorted({pkg for part in ["all", *a.parts] for what, pkg in NEEDS.get(part, [])
                   if missing(what)})
    if pkgs:
        sys.exit(f"bench/run.py: missing tools: apt-get install {' '.join(pkgs)}")
    if not os.access(a.blocksnoop, os.X_OK):
        sys.exit(f"bench/run.py: {a.blocksnoop} is not there: run `make` first, "
                 "or name the binary with --blocksnoop PATH")
    if "agent" in a.parts and not os.path.exists("/sys/fs/cgroup/unified/cgroup.procs"):
        sys.exit("bench/run.py: the agent part needs cgroup v2 at /sys/fs/cgroup/unified: "
                 "leave it out with --only")


def prepare(a):
    subprocess.run(["make", "-s", "-C", HERE], check=True)
    if a.nice:  # children inherit it; procs.start carries it into their sessions
        os.setpriority(os.PRIO_PROCESS, 0, a.nice)
        procs.set_autogroup_nice(a.nice)
    # libbpf attaches tracepoints through tracefs; fresh machines lack it.
    if not os.path.isdir("/sys/kernel/tracing/events"):
        subprocess.run(["mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing"], check=True)


def header(ctx, started, seconds, load):
    a = ctx.args
    bs = machine.tool_version(ctx.blocksnoop) or ctx.blocksnoop
    return [f"## blocksnoop benchmark, {started}", "",
            "| | |", "|---|---|",
            f"| commit | `{machine.tree_id(ROOT)}` |",
            f"| binary | `{ctx.blocksnoop}` ({bs}) |",
            f"| extra options | `{a.blocksnoop_args or 'none'}` |",
            f"| machine | {machine.describe_cpu()} |",
            f"| command | `{' '.join(['bench/run.py', *sys.argv[1:]])}` |",
            f"| run time | {seconds / 60:.1f} min |",
            f"| machine load during the run | {load} (the benchmark's own work included) |",
            ""]


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def on_stop_signal(sig, _frame):
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    sys.exit(128 + sig)


def main():
    a = parse_args()
    check_dependencies(a)
    prepare(a)
    # A signal unwinds through the finally blocks, which stop the children
    # and remove cgroups; further signals are ignored so they cannot cut
    # that short. SIGINT too: a shell starts background jobs with it ignored.
    for s in STOP_SIGNALS:
        signal.signal(s, on_stop_signal)
    procs.set_logdir(tempfile.mkdtemp(prefix="blocksnoop-bench."))
    load = machine.LoadMonitor().start()
    ctx = Ctx(args=a, blocksnoop=os.path.abspath(a.blocksnoop),
              bs_args=shlex.split(a.blocksnoop_args), load=load)
    started, t0 = machine.now(), time.monotonic()
    results = []
    try:
        for part in a.parts:
            mark = load.mark()
            res = importlib.import_module(f"benchlib.{MODULES[part]}").run(ctx)
            res.notes.append(f"Machine during this part: {load.summary(mark)}.")
            results.append(res)
    finally:
        for s in STOP_SIGNALS:
            signal.signal(s, signal.SIG_IGN)
        procs.stop_all()
        load.stop()
        if a.keep_logs:
            log(f"logs in {procs.logdir()}")
        else:
            shutil.rmtree(procs.logdir(), ignore_errors=True)
    text = "\n".join(header(ctx, started, time.monotonic() - t0, load.summary()) +
                     [r.markdown() + "\n" for r in results] + goals_table(results)) + "\n"
    print(text)
    if a.output:
        with open(a.output, "w") as f:
            f.write(text)


def goals_table(results):
    rows = [g for r in results for g in r.goals]
    return ["### Goals", "", "| goal | measured | |", "|---|---|---|",
            *[f"| {g} | {m} | {v} |" for g, m, v in rows]]


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, subprocess.CalledProcessError) as e:
        sys.exit(f"bench/run.py: {e}")
