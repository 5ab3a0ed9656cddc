# SPDX-License-Identifier: Apache-2.0
"""Target workloads for bench/sampler_bench.py: one asyncio loop that runs
until killed and counts its own progress.

    python3 bench/sampler_workload.py idle|busy|half [--block-ms MS] [--tasks N]

  idle  one task: `await asyncio.sleep(0.05)` forever; counts wake-ups.
  busy  N tasks (default 10), each looping `await asyncio.sleep(0)` plus a
        little arithmetic; counts iterations. No callback is long.
  half  one task: blocking_call() (time.sleep(MS), default 50 ms) on the loop
        thread, then MS of `await asyncio.sleep` work (MS/5 ms sleeps); counts
        completed cycles. The loop is blocked half of the time.

Prints `ready <pid>` once the loop runs. On SIGUSR1 it prints one line
`mark <now_ns> <count> <last_ns> <blocks>`: CLOCK_MONOTONIC now, the progress
counter, the CLOCK_MONOTONIC time of its last increment, and (half) the number
of completed blocking_call()s. The benchmark takes two marks around its
window; rate = dcount / dtime.
"""
import argparse
import asyncio
import os
import signal
import sys
import time

count = 0
last_ns = 0
blocks = 0


def on_mark(signum, frame):
    # Runs in the main thread between bytecodes, also while time.sleep or
    # epoll_wait is interrupted (both resume after the handler).
    sys.stdout.write(f"mark {time.monotonic_ns()} {count} {last_ns} {blocks}\n")
    sys.stdout.flush()


def blocking_call(seconds):
    time.sleep(seconds)  # the block every sampler should name


async def idle():
    global count, last_ns
    while True:
        await asyncio.sleep(0.05)
        count += 1
        last_ns = time.monotonic_ns()


async def busy_task(seed):
    global count
    x = seed
    while True:
        await asyncio.sleep(0)
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        count += 1


async def busy(ntasks):
    await asyncio.gather(*(busy_task(i) for i in range(ntasks)))


async def half(block_s):
    global count, last_ns, blocks
    step = block_s / 5
    while True:
        blocking_call(block_s)
        blocks += 1
        for _ in range(5):
            await asyncio.sleep(step)
        count += 1
        last_ns = time.monotonic_ns()


async def main(args):
    print(f"ready {os.getpid()}", flush=True)
    if args.kind == "idle":
        await idle()
    elif args.kind == "busy":
        await busy(args.tasks)
    else:
        await half(args.block_ms / 1000)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=("idle", "busy", "half"))
    ap.add_argument("--block-ms", type=float, default=50)
    ap.add_argument("--tasks", type=int, default=10)
    a = ap.parse_args()
    signal.signal(signal.SIGUSR1, on_mark)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    asyncio.run(main(a))
