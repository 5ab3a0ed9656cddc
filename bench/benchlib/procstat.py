# SPDX-License-Identifier: Apache-2.0
"""What /proc says about a process: CPU time, context switches, memory.

Window measures a process over an interval: CPU time as a share of one
core, and wake-ups (context switches of all its threads) per second.
"""
import glob
import re
import time


def cpu_ns(pid):
    """CPU time of all of pid's threads, in ns. schedstat's first field is
    exact run time; utime+stime in /proc/PID/stat tick at 10 ms, too coarse
    to tell 0.05% from 0.1% of a core."""
    total = 0
    for f in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(f) as fh:
                total += int(fh.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that just ended
    return total


def ctx_switches(pid):
    """(voluntary, involuntary) context switches summed over pid's live
    threads (/proc/PID/status alone counts the main thread only). Each
    voluntary one is a sleep, hence a later wake-up; involuntary ones are
    preemptions."""
    vol = invol = 0
    for f in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(f) as fh:
                s = fh.read()
        except OSError:
            continue
        vol += int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", s, re.M).group(1))
        invol += int(re.search(r"^nonvoluntary_ctxt_switches:\s+(\d+)", s, re.M).group(1))
    return vol, invol


def status_kib(pid, field):
    """A kB field of /proc/PID/status (VmRSS, VmHWM, RssAnon, RssFile...)."""
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+)", f.read(), re.M).group(1))


def threads(pid):
    return len(glob.glob(f"/proc/{pid}/task/*"))


class Window:
    """CPU % of one core and wake-ups/s of pid between start() and end()."""

    def __init__(self, pid):
        self.pid = pid

    def start(self):
        self.t0, self.c0, self.s0 = time.monotonic(), cpu_ns(self.pid), ctx_switches(self.pid)
        return self

    def end(self):
        dt = time.monotonic() - self.t0
        vol, invol = ctx_switches(self.pid)
        return {"cpu_pct": 100 * (cpu_ns(self.pid) - self.c0) / (dt * 1e9),
                "wakeups": (vol - self.s0[0] + invol - self.s0[1]) / dt,
                "voluntary": (vol - self.s0[0]) / dt,
                "involuntary": (invol - self.s0[1]) / dt}
