# SPDX-License-Identifier: Apache-2.0
"""Goal 4: `blocksnoop agent` watching a node's worth of pods — 100 pods of
two Python processes with idle asyncio loops, 200 processes — uses ≤ 1% of
a core and ≤ 32 MiB RSS. Measured at N = 0 (the baseline), 1, 10, 100 and
200 watched processes.

All 201 processes (a one-process pod for N = 1, then 100 two-process pods)
start once, each in its own container cgroup, and keep running; each
measurement tells the stand-in kubelet which pods there are, starts a
fresh agent (on the tool CPUs, the kubelet poll at its default 10 s, the
agent's default threshold), waits until /metrics says it watches N
processes, lets it settle and measures it over --agent-window seconds.
The order of N rotates from round to round.
"""
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

from . import k8s_env, memory, procs, procstat, stats
from .context import HERE, PYTHON, Result, log, verdict

SIZES = (0, 1, 10, 100, 200)
GOAL_CPU, GOAL_RSS_MIB = 1.0, 32


class Node:
    """The pods, their processes and cgroups, and the stand-in kubelet."""

    def __init__(self, ctx):
        self.ctx, self.cgroups, self._loops = ctx, k8s_env.Cgroups(), []

    def build(self, d):
        """Certificates, the kubelet, the pods and their processes; what is
        made before a failure is still undone by cleanup()."""
        self.ca, cert, key = k8s_env.make_certs(d)
        self.token_file = os.path.join(d, "token")
        with open(self.token_file, "w") as f:
            f.write(k8s_env.TOKEN + "\n")
        self.kubelet = k8s_env.Kubelet(d, cert, key)
        self.agent_only = memory.agent_only_libraries(self.ctx.blocksnoop)
        self.single = self.add_pod("single", 1)
        self.pairs = []
        for i in range(max(SIZES) // 2):
            self.pairs.append(self.add_pod(f"pair-{i}", 2))
        for p in self._loops:
            procs.read_line(p, "idle_loops.py", timeout=120)

    def add_pod(self, name, nproc):
        uid, (cid,) = k8s_env.new_pod(name)
        cg = self.cgroups.container(uid, cid)
        for _ in range(nproc):
            self._loops.append(procs.start(
                [PYTHON, os.path.join(HERE, "idle_loops.py"), "--tick",
                 str(self.ctx.args.agent_tick)], "pod-loop", stdout=subprocess.PIPE,
                preexec=k8s_env.joiner(cg)))
        return k8s_env.pod_json(name, uid, cid)

    def pods_for(self, n):
        """The pods holding exactly n processes."""
        if n == 0:
            return []
        if n == 1:
            return [self.single]
        return self.pairs[:n // 2]

    def cleanup(self):
        for p in self._loops:
            procs.stop(p, sig=signal.SIGKILL)
        self.cgroups.cleanup()


def metric(port, name):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return m and float(m.group(1))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(ctx, node, n):
    node.kubelet.set_pods(node.pods_for(n))
    port = free_port()
    agent = procs.start(procs.pinned(
        [ctx.blocksnoop, "agent", "--node-name", k8s_env.NODE, "--kubelet-url", node.kubelet.url,
         "--kubelet-host-ip", "127.0.0.1", "--kubelet-token-file", node.token_file,
         "--kubelet-ca-file", node.ca, "--metrics-addr", f"127.0.0.1:{port}", *ctx.bs_args],
        ctx.tool_cpus), "agent")
    try:
        procs.wait_until(lambda: metric(port, "blocksnoop_watched_processes_all") == n
                         and metric(port, "blocksnoop_kubelet_polls_total"), 60,
                         f"the agent to watch {n} processes", agent)
        time.sleep(2)
        w = procstat.Window(agent.pid).start()
        time.sleep(ctx.args.agent_window)
        out = w.end()
        out["rss_kib"] = procstat.status_kib(agent.pid, "VmRSS")
        out["hwm_kib"] = procstat.status_kib(agent.pid, "VmHWM")
        out["watched"] = metric(port, "blocksnoop_watched_processes_all")
        out["split"] = memory.smaps_split(agent.pid, node.agent_only)
        return out
    finally:
        procs.stop(agent, sig=signal.SIGTERM, timeout=20)


def run(ctx):
    node = Node(ctx)
    try:
        node.build(procs.logdir())
        rounds = []
        for r in range(ctx.args.agent_rounds):
            k = r % len(SIZES)
            res = {}
            for n in SIZES[k:] + SIZES[:k]:
                res[n] = measure(ctx, node, n)
                log(f"  agent N={n:<3} {res[n]['cpu_pct']:.3f}% {res[n]['wakeups']:.1f}/s "
                    f"RSS {res[n]['rss_kib'] / 1024:.1f} peak {res[n]['hwm_kib'] / 1024:.1f} MiB")
            rounds.append(res)
    finally:
        node.cleanup()
    return report(ctx, rounds)


def report(ctx, rounds):
    res = Result("A node's worth of pods: `blocksnoop agent` and N watched processes")
    res.lines += [f"{len(rounds)} rounds of {ctx.args.agent_window} s per N; idle loops wake "
                  f"every {ctx.args.agent_tick * 1000:.0f} ms; pods of two processes "
                  "(N = 1: one). Median (min–max); Δ: mean of same-round differences "
                  "against N = 0 [95% bootstrap interval].", "",
                  "| N processes | pods | CPU, % of a core | Δ CPU vs N = 0 | wake-ups/s "
                  "| RSS steady, MiB | RSS peak (VmHWM), MiB |", "|---|---|---|---|---|---|---|"]
    for n in SIZES:
        col = {k: [r[n][k] for r in rounds] for k in rounds[0][n]}
        d, ci = stats.diff_summary(stats.paired(col["cpu_pct"],
                                                [r[0]["cpu_pct"] for r in rounds],
                                                lambda x, y: x - y))
        pods = 0 if n == 0 else 1 if n == 1 else n // 2
        res.lines.append(
            f"| {n} | {pods} | {stats.fmt(stats.median(col['cpu_pct']), '.3f')}"
            f"{stats.fmt_range(col['cpu_pct'], '.3f')} "
            f"| {'–' if n == 0 else stats.fmt(d, '+.3f') + stats.fmt_ci(ci, '+.3f')} "
            f"| {stats.fmt(stats.median(col['wakeups']), '.1f')}{stats.fmt_range(col['wakeups'], '.1f')} "
            f"| {stats.median(col['rss_kib']) / 1024:.1f} | {max(col['hwm_kib']) / 1024:.1f} |")
    top = max(SIZES)
    res.lines += ["", f"Where the agent's steady RSS goes (MiB, first round), N = 0 and N = {top}:",
                  "", f"| mapping | N = 0 | N = {top} | per watched process, KiB |",
                  "|---|---|---|---|"]
    s0, s1 = rounds[0][0]["split"], rounds[0][top]["split"]
    for k in sorted(set(s0) | set(s1), key=lambda k: -s1.get(k, 0)):
        res.lines.append(f"| {k} | {s0.get(k, 0) / 1024:.1f} | {s1.get(k, 0) / 1024:.1f} "
                         f"| {(s1.get(k, 0) - s0.get(k, 0)) / top:.0f} |")
    cpu = stats.median([r[top]["cpu_pct"] for r in rounds])
    hwm = max(r[top]["hwm_kib"] for r in rounds) / 1024
    res.goals += [(f"agent, {top} processes: ≤ {GOAL_CPU:g}% of a core", f"{cpu:.3f}%",
                   verdict(cpu <= GOAL_CPU)),
                  (f"agent, {top} processes: ≤ {GOAL_RSS_MIB} MiB RSS (peak)", f"{hwm:.1f} MiB",
                   verdict(hwm <= GOAL_RSS_MIB))]
    return res
