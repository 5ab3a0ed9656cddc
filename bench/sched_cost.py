#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""What the gap anatomy's scheduler programs cost the rest of the host.

    sudo bench/sched_cost.py [--rounds N] [--stats-rounds N] [--trips N] [--cpu C]
                             [--blocksnoop PATH]

blocksnoop watches an idle asyncio loop (its thread is watched, but not in
a gap: like every other thread on the host, the ping-pong's switches pay
only the check). Meanwhile bench/build/sched_pingpong, unrelated work, hands
a byte between two SCHED_FIFO threads on one CPU: two context switches per
round trip. Interleaved, round by round:
  none     blocksnoop not running
  stats    blocksnoop --stats: the epoll tracepoints, no scheduler programs
  anatomy  blocksnoop reporting events: the same, plus sched_switch
  floor    bench/build/empty_probes switch: an empty sched_switch program,
           what any program there costs (dispatch + BPF entry)
The anatomy's cost per context switch is (anatomy - stats) / 2 per round
trip (median of the rounds' paired differences). Then, with
kernel.bpf_stats_enabled (which adds clock reads of its own, so not during
the timed rounds), anatomy and floor runs alternate: the kernel's count of
each program's run time, and their paired difference, the check's own cost.
The result is put as the share of one core at 50,000 context switches a
second.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYTHON = "/usr/bin/python3"
IDLE_LOOP = "import asyncio; asyncio.run(asyncio.sleep(1e9))"
RATE = 50_000  # context switches per second of unrelated work
SWITCH, TICK, EMPTY = "on_sched_switch", "wake_on_tick", "empty_switch"
PROGS = (SWITCH, TICK, EMPTY)


def log(msg):
    print(f"[sched_cost] {msg}", file=sys.stderr, flush=True)


def pingpong(args):
    """CPU ns per round trip (sched_pingpong's first number)."""
    out = subprocess.run([os.path.join(HERE, "build", "sched_pingpong"), str(args.trips),
                          str(args.cpu), "fifo"], check=True, capture_output=True, text=True)
    return float(out.stdout.split()[0])


def start_blocksnoop(args, target, stats):
    argv = [args.blocksnoop, "-t", "1000", "--summary-only", str(target)]
    if stats:
        argv.insert(1, "--stats")
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # It says "... Ctrl-C to stop" once its probes are attached.
    line = p.stderr.readline()
    if "Ctrl-C to stop" not in line:
        p.kill()
        p.wait()
        sys.exit(f"blocksnoop did not start: {line.strip()}")
    return p


def start_floor():
    p = subprocess.Popen([os.path.join(HERE, "build", "empty_probes"), "switch"],
                         stdout=subprocess.PIPE, text=True)
    if p.stdout.readline().strip() != "attached":
        p.kill()
        p.wait()
        sys.exit("empty_probes did not attach")
    return p


def stop(p):
    p.send_signal(signal.SIGINT)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def all_progs():
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    return json.loads(out.stdout or "[]")


def prog_stats(ids):
    """run_time_ns and run_cnt of the scheduler programs among the program
    ids given (those just loaded): blocksnoop's sched_switch program (the
    anatomy and the sampler's wake kicks) and its timer-interrupt kick, or
    the empty sched_switch program."""
    found = {}
    for prog in all_progs():
        if prog.get("id") in ids and prog.get("name") in PROGS:
            found[prog["name"]] = (prog.get("run_time_ns", 0), prog.get("run_cnt", 0))
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--trips", type=int, default=20000)
    ap.add_argument("--cpu", type=int, default=1)
    ap.add_argument("--stats-rounds", type=int, default=10)
    ap.add_argument("--blocksnoop", default=os.path.join(ROOT, "build", "blocksnoop"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (BPF, SCHED_FIFO)")
    subprocess.run(["make", "-s", "-C", HERE], check=True)

    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        stats_before = f.read().strip()
    target = subprocess.Popen([PYTHON, "-c", IDLE_LOOP])
    times = {"none": [], "stats": [], "anatomy": [], "floor": []}
    progs = {}
    try:
        time.sleep(0.5)
        for r in range(args.rounds):
            order = list(times)
            order = order[r % 4:] + order[:r % 4]
            for variant in order:
                if variant == "floor":
                    bs = start_floor()
                elif variant == "none":
                    bs = None
                else:
                    bs = start_blocksnoop(args, target.pid, variant == "stats")
                try:
                    times[variant].append(pingpong(args))
                finally:
                    if bs:
                        stop(bs)
                time.sleep(0.2)  # RT throttling's budget refills
            log(f"round {r + 1}: " + ", ".join(f"{v} {times[v][-1]:.0f} ns" for v in times))
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        for r in range(args.stats_rounds):
            for variant in ("anatomy", "floor") if r % 2 else ("floor", "anatomy"):
                old = {p.get("id") for p in all_progs()}
                bs = start_floor() if variant == "floor" else \
                    start_blocksnoop(args, target.pid, False)
                try:
                    ours = {p.get("id") for p in all_progs()} - old
                    before = prog_stats(ours)
                    pingpong(args)
                    for name, (ns, cnt) in prog_stats(ours).items():
                        ns0, cnt0 = before.get(name, (0, 0))
                        if cnt > cnt0:
                            progs.setdefault(name, []).append((ns - ns0) / (cnt - cnt0))
                finally:
                    stop(bs)
                time.sleep(0.2)
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(stats_before)
        target.kill()
        target.wait()

    def paired(a, b):
        return statistics.median(x - y for x, y in zip(times[a], times[b]))

    print(f"CPU ns per round trip (2 switches), median of {args.rounds} rounds:")
    for v in times:
        print(f"  {v:8s} {statistics.median(times[v]):10.1f}")
    added = paired("anatomy", "stats") / 2
    print(f"added per context switch, paired median: {added:+.1f} ns")
    print(f"  at {RATE} switches/s: {added * RATE / 1e9 * 100:+.4f}% of a core")
    print(f"epoll tracepoints alone (stats - none), per switch: {paired('stats', 'none') / 2:+.1f} ns")
    print(f"an empty sched_switch program (floor - none), per switch: "
          f"{paired('floor', 'none') / 2:+.1f} ns")
    print(f"kernel bpf_stats, ns per run (with bpf_stats' own two clock reads), "
          f"median of {args.stats_rounds} runs each:")
    for name, runs in sorted(progs.items()):
        print(f"  {name:12s} {statistics.median(runs):7.1f}")
    if len(progs.get(SWITCH, [])) == len(progs.get(EMPTY, [])) > 0:
        own = statistics.median(a - b for a, b in zip(progs[SWITCH], progs[EMPTY]))
        print(f"  the check itself ({SWITCH} - {EMPTY}, paired): {own:+.1f} ns"
              f" = {own * RATE / 1e9 * 100:+.4f}% of a core at {RATE} switches/s")


if __name__ == "__main__":
    main()
