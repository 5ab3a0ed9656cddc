# SPDX-License-Identifier: Apache-2.0
"""Idle asyncio loops for the benchmark's idle-cost, agent and many-threads
parts.

  /usr/bin/python3 idle_loops.py [--tick S] [--threads N]

Runs N event loops (the main thread's and N-1 more threads', each its own
loop), each waking every S seconds (default 0.1) to do nothing. Prints
"ready PID" once every loop is running, then runs until killed.

The loops' wake-ups are spread evenly over the period, each at a fixed
phase of a shared clock. A thousand loops waking at random moments queue
behind each other for the GIL and the CPU, and some wait milliseconds:
real gaps, which blocksnoop samples (and reports, past its threshold), the
target's own work rather than what watching many threads costs.
Standard library only.
"""
import argparse
import asyncio
import math
import os
import threading


async def tick(period, phase, started):
    """Wake at phase, phase + period, … of the monotonic clock (which is
    the loop's), so that no drift brings the loops' wake-ups together."""
    started.release()
    loop = asyncio.get_running_loop()
    due = phase
    while True:
        now = loop.time()
        due += max(0, math.floor((now - due) / period) + 1) * period
        await asyncio.sleep(due - now)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tick", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    started = threading.Semaphore(0)
    threading.stack_size(256 * 1024)  # a thousand loops stay small
    def phase(i):
        return i * a.tick / a.threads

    for i in range(1, a.threads):
        threading.Thread(target=asyncio.run, args=(tick(a.tick, phase(i), started),),
                         daemon=True).start()

    async def main_loop():
        for _ in range(a.threads - 1):
            await asyncio.to_thread(started.acquire)
        print(f"ready {os.getpid()}", flush=True)
        await tick(a.tick, phase(0), threading.Semaphore(0))
    asyncio.run(main_loop())


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
