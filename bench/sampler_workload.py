# SPDX-License-Identifier: Apache-2.0
"""Target workloads for bench/sampler_bench.py: one asyncio loop that runs
until killed and counts its own progress.

    python3 bench/sampler_workload.py idle|busy|half --stats FILE [--block-ms MS] [--tasks N]

  idle  one task: `await asyncio.sleep(0.05)` forever; counts wake-ups.
  busy  N tasks (default 10), each looping `await asyncio.sleep(0)` plus a
        little arithmetic; counts iterations. No callback is long.
  half  one task: blocking_call() (time.sleep(MS), default 50 ms) on the loop
        thread, then MS of `await asyncio.sleep` work (five sleeps of MS/5);
        counts completed cycles. The loop is blocked half of the time.

Progress goes to FILE (created, 32 bytes, mmap'ed): four little-endian u64
  count, count_ns, blocks, seq
rewritten together at every wake-up (idle), every 256 iterations (busy) or
every cycle and block (half): count = progress so far, count_ns = the
CLOCK_MONOTONIC time it last changed, blocks = completed blocking_call()s. The benchmark
reads it twice until both reads agree; rate = dcount / dlast_ns. No signals
and no pipes, so nothing the tools do to signal delivery or scheduling can
stall the measurement itself. Prints `ready <pid>` once the loop runs.
"""
import argparse
import asyncio
import mmap
import os
import signal
import struct
import time

LAYOUT = struct.Struct("<QQQQ")
stats = None
count = 0
count_ns = 0
blocks = 0
seq = 0


def publish(counted=True):
    """counted: count just changed, so stamp it now."""
    global seq, count_ns
    seq += 1
    if counted:
        count_ns = time.monotonic_ns()
    LAYOUT.pack_into(stats, 0, count, count_ns, blocks, seq)


def blocking_call(seconds):
    time.sleep(seconds)  # the block every sampler should name


async def idle():
    global count
    while True:
        await asyncio.sleep(0.05)
        count += 1
        publish()


async def busy_task(seed):
    global count
    x = seed
    while True:
        await asyncio.sleep(0)
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        count += 1
        if not count & 255:
            publish()


async def busy(ntasks):
    await asyncio.gather(*(busy_task(i) for i in range(ntasks)))


async def half(block_s):
    global count, blocks
    step = block_s / 5
    while True:
        blocking_call(block_s)
        blocks += 1
        publish(counted=False)
        for _ in range(5):
            await asyncio.sleep(step)
        count += 1
        publish()


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
    ap.add_argument("--stats", required=True)
    a = ap.parse_args()
    fd = os.open(a.stats, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.ftruncate(fd, LAYOUT.size)
    stats = mmap.mmap(fd, LAYOUT.size)
    os.close(fd)
    publish()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    asyncio.run(main(a))
