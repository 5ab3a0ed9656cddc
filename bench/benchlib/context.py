# SPDX-License-Identifier: Apache-2.0
"""What every part gets (Ctx) and gives back (Result)."""
import os
import sys
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bench/
ROOT = os.path.dirname(HERE)
PYTHON = "/usr/bin/python3"  # Debian's, the one python3-aiohttp is built for


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


@dataclass
class Ctx:
    args: object            # the parsed command line
    blocksnoop: str         # the binary measured
    bs_args: list           # extra options for every blocksnoop run
    load: object            # machine.LoadMonitor
    bench_build: str = os.path.join(HERE, "build")

    @property
    def quick(self):
        return self.args.quick

    @property
    def target_cpu(self):
        """Where the measured program runs (server, target loop, timed loop):
        the last CPU, alone."""
        return str(os.cpu_count() - 1) if os.cpu_count() > 1 else None

    @property
    def tool_cpus(self):
        """Where everything else runs: load generator, blocksnoop, probes."""
        n = os.cpu_count()
        return ",".join(str(c) for c in range(n - 1)) if n > 1 else None

    def helper(self, name):
        return os.path.join(self.bench_build, name)


@dataclass
class Result:
    """A part's markdown section and its lines for the goals table:
    (goal, measured, verdict)."""
    title: str
    lines: list = field(default_factory=list)
    goals: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def markdown(self):
        return "\n".join([f"### {self.title}", "", *self.lines, *(
            [""] + [f"- {n}" for n in self.notes] if self.notes else [])])


def verdict(ok):
    return "met" if ok else "**missed**"


def verdict_ci(value, ci, goal, higher_is_better):
    """met / missed when the 95% interval lies on one side of goal; when it
    spans the goal, not resolved (which side the point estimate is on)."""
    if value is None:
        return "not run"
    ok = value >= goal if higher_is_better else value <= goal
    if ci is None or ci[0] <= goal <= ci[1]:
        return f"not resolved (estimate {'meets' if ok else 'misses'} it)"
    return verdict(ok)
