#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""What closing one gap of a watched thread costs in the kernel, with and
without the loop histogram (--metrics-addr).

    sudo bench/gap_cost.py [--rounds N] [--calls N] [--blocksnoop PATH]

blocksnoop launches bench/build/syscall_loop (make -C bench), whose every
epoll_wait(..., 0) closes a gap of the watched thread and opens the next;
-t 1000 keeps every gap under the threshold, so no event is sent. The
kernel's own BPF statistics (BPF_ENABLE_STATS, on only while this runs)
give the run time of the gap-closing program (ts_enter_epoll_wait) per
call: its mean over each run, alternating the two variants round by round.
Reports the median of the rounds' means per variant.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

from benchlib import bpfstats

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROG = "ts_enter_epoll_wait"


def prog_stats(pid):
    """(run_time_ns, run_cnt) of PROG as loaded by process pid, or None."""
    names = bpfstats.names()
    for prog_id, stats in bpfstats.programs(pid).items():
        if names.get(prog_id) == PROG:
            return stats
    return None


def one_run(blocksnoop, calls, metrics):
    args = [blocksnoop, "-t", "1000", "--sampler", "none"]
    if metrics:
        args += ["--metrics-addr", "127.0.0.1:0"]
    # The target waits on stdin before it starts and after it ends, so the
    # program's counters are read around exactly its calls (and those other
    # processes make meanwhile, which --calls makes few by comparison).
    p = subprocess.Popen(args + ["--", "/bin/sh", "-c",
                                 f"read x; {HERE}/build/syscall_loop {calls}; read y"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 10
        before = None
        while before is None and time.monotonic() < deadline:
            time.sleep(0.1)
            before = prog_stats(p.pid)
        if before is None:
            sys.exit("blocksnoop's program did not show up")
        p.stdin.write("go\n")
        p.stdin.flush()
        line = p.stdout.readline()  # syscall_loop's result: it is done
        if "epoll_wait_ns=" not in line:
            sys.exit(f"syscall_loop failed: {line!r}")
        after = prog_stats(p.pid)
        p.stdin.write("end\n")
        p.stdin.flush()
        return (after[0] - before[0]) / max(1, after[1] - before[1]), after[1] - before[1]
    finally:
        if p.poll() is None:
            p.stdin.close()
            p.wait(10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=3000000)
    ap.add_argument("--blocksnoop", default=os.path.join(ROOT, "build", "blocksnoop"))
    a = ap.parse_args()
    fd = bpfstats.enable()
    res = {False: [], True: []}
    try:
        for r in range(a.rounds):
            for metrics in (False, True):
                ns, n = one_run(a.blocksnoop, a.calls, metrics)
                res[metrics].append(ns)
                print(f"round {r + 1} {'loop histogram' if metrics else 'plain         '}: "
                      f"{ns:.1f} ns per gap close ({n} calls)", file=sys.stderr)
    finally:
        os.close(fd)
    plain, hist = statistics.median(res[False]), statistics.median(res[True])
    print(f"{PROG}: plain {plain:.1f} ns, with the loop histogram {hist:.1f} ns, "
          f"difference {hist - plain:+.1f} ns per gap (medians of {a.rounds} rounds)")


main()
