# SPDX-License-Identifier: Apache-2.0
"""Idle asyncio loops for the benchmark's idle-cost, agent and many-threads
parts.

  /usr/bin/python3 idle_loops.py [--tick S] [--threads N]

Runs N event loops (the main thread's and N-1 more threads', each its own
loop), each waking every S seconds (default 0.1) to do nothing. Prints
"ready PID" once every loop is running, then runs until killed.
Standard library only.
"""
import argparse
import asyncio
import os
import threading


async def tick(period, started):
    started.release()
    while True:
        await asyncio.sleep(period)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tick", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    started = threading.Semaphore(0)
    threading.stack_size(256 * 1024)  # a thousand loops stay small
    for _ in range(a.threads - 1):
        threading.Thread(target=asyncio.run, args=(tick(a.tick, started),),
                         daemon=True).start()

    async def main_loop():
        for _ in range(a.threads - 1):
            await asyncio.to_thread(started.acquire)
        print(f"ready {os.getpid()}", flush=True)
        await tick(a.tick, threading.Semaphore(0))
    asyncio.run(main_loop())


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
