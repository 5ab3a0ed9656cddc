# SPDX-License-Identifier: Apache-2.0
"""The machine and the tree being measured, and how busy the machine was.

LoadMonitor samples the load average and all CPUs' busy share once a
second for the whole run, so the report says how much else was running.
Foreign probes: other processes' BPF programs on syscalls: tracepoints
slow every syscall on the host, baselines included.
"""
import datetime
import os
import platform
import re
import subprocess
import threading
import time


def describe_cpu():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    return f"{os.cpu_count()}-core {cpu}, kernel {platform.release()}"


def git(root, *args):
    try:
        return subprocess.run(["git", "-C", root, *args], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def tree_id(root):
    """The commit measured, with '-dirty' if the tree has changes."""
    full = git(root, "rev-parse", "HEAD")
    dirty = git(root, "status", "--porcelain", "--untracked-files=no")
    return (full or "unknown") + ("-dirty" if dirty else "")


def tool_version(path):
    try:
        return subprocess.run([path, "--version"], capture_output=True, text=True,
                              timeout=5).stdout.strip().split("\n")[0]
    except (OSError, subprocess.SubprocessError):
        return ""


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    return sum(v) - idle, sum(v)


class LoadMonitor:
    """Samples /proc/loadavg and /proc/stat once a second in a thread."""

    def __init__(self):
        self.loads, self.busy = [], []
        self._done = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        last = _cpu_times()
        while not self._done.wait(1):
            self.loads.append(os.getloadavg()[0])
            cur = _cpu_times()
            if cur[1] > last[1]:
                self.busy.append(100 * (cur[0] - last[0]) / (cur[1] - last[1]))
            last = cur

    def start(self):
        self._t.start()
        return self

    def stop(self):
        self._done.set()
        self._t.join()

    def mark(self):
        """An index into the samples, to summarise one part later."""
        return len(self.busy)

    def summary(self, since=0):
        busy, loads = self.busy[since:], self.loads[since:]
        if not busy:
            return "no samples"
        return (f"all CPUs {sum(busy) / len(busy):.0f}% busy on average "
                f"(max {max(busy):.0f}%), load average {min(loads):.2f}–{max(loads):.2f}")


def foreign_probes(ours):
    """PIDs other than ours holding BPF programs on syscall tracepoints."""
    try:
        out = subprocess.run(["bpftool", "perf", "list"], capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    pids = {int(m.group(1)) for m in re.finditer(r"pid (\d+) .*tracepoint\s+sys_", out)}
    return pids - ours


def wait_quiet(ours_fn, seconds, log):
    """Wait up to seconds for foreign probes to go; False if they stay."""
    deadline = time.monotonic() + seconds
    while (pids := foreign_probes(ours_fn())):
        if time.monotonic() > deadline:
            log(f"  other processes hold syscall tracepoint programs: {sorted(pids)}")
            return False
        time.sleep(1)
    return True


class ProbeWatch:
    """Whether foreign probes appeared while a `with` block ran (polled once
    a second in a thread)."""

    def __init__(self, ours_fn):
        self.ours_fn, self.seen = ours_fn, False
        self._done = threading.Event()

    def _run(self):
        while not self._done.wait(1):
            self.seen = self.seen or bool(foreign_probes(self.ours_fn()))

    def __enter__(self):
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._t.join()
        self.seen = self.seen or bool(foreign_probes(self.ours_fn()))
        return False
