# SPDX-License-Identifier: Apache-2.0
"""Goal 5: the CLI's peak RSS ≤ 16 MiB, and where the peak comes from.

`blocksnoop -t 10 PID` on an idle loop runs under gdb with breakpoints on
the functions of its start-up (bench/memory_stages.gdb.py); at each, VmRSS,
VmHWM (the peak so far), RssAnon and RssFile. Once it waits for events the
breakpoints go; after --idle-window seconds the steady RSS is split by
mapping: heap, the BPF maps libbpf mmaps, the agent-only libraries (libcurl,
libmicrohttpd and what only they bring: blocksnoop loads them with dlopen()
for agent mode and --metrics-addr only, so a plain attach has none), other
libraries. The floor the goal meets: RSS before the BPF setup plus two
copies of /sys/kernel/btf/vmlinux, which libbpf 1.1's parse holds at once.
"""
import collections
import os
import re
import signal
import subprocess
import time

from . import procs
from .context import HERE, Result, log, verdict
from .idle import start_loops

GOAL_MIB = 16
# Sonames (the prefix before the number) blocksnoop loads only when a run
# needs them (agent/dynlib.h).
AGENT_ONLY = ("libcurl.so.", "libmicrohttpd.so.")
LABELS = {
    ("main", 1): "start: libraries mapped",
    ("detector_open_with", 1): "before the BPF setup",
    ("bpf_object__open_skeleton", 1): "BPF object opened",
    ("bpf_object__load_skeleton", 1): "loading the BPF object",
    ("bpf_program__attach", 1): "BPF programs loaded, attaching",
    ("ring_buffer__new", 1): "ring buffers being mapped",
    ("epoll_wait", 1): "waiting for events (first poll)",
}


def libraries(path):
    """{soname: resolved path} of what ldd says path needs."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    return dict(re.findall(r"^\s*(\S+) => (\S+)", out, re.M))


def direct_needs(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]", out)


def agent_only_libraries(binary):
    """Resolved paths of the AGENT_ONLY libraries (found as the dynamic
    linker finds them: ld.so.cache) and of what only they bring."""
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    found = {}
    for name, path in re.findall(r"^\s*(\S+) \(.*\) => (\S+)", cache, re.M):
        if name.startswith(AGENT_ONLY):
            found.setdefault(name, path)
    only = set()
    for path in found.values():
        only |= set(libraries(path).values()) | {path}
    common = set(libraries(binary).values())
    return {os.path.realpath(p) for p in only - common}


def smaps_split(pid, agent_only):
    """Resident kB by kind of mapping."""
    split, cur = collections.Counter(), None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                parts = line.split(None, 5)
                name = parts[5].strip() if len(parts) > 5 else ""
                if name == "[heap]":
                    cur = "heap"
                elif "bpf-map" in name:
                    cur = "BPF maps (rings, .bss, .rodata)"
                elif name.startswith("/") and os.path.realpath(name) in agent_only:
                    cur = "agent-only libraries (libcurl, libmicrohttpd and theirs)"
                elif name.startswith("/") and ".so" in name:
                    cur = "other libraries (libc, libbpf, libelf, ...)"
                elif name.startswith("/"):
                    cur = "the blocksnoop binary"
                else:
                    cur = "other anonymous (stacks, mmap'd malloc)"
            elif line.startswith("Rss:"):
                split[cur] += int(line.split()[1])
    return split


def staged_run(ctx, target_pid):
    """Stage lines [(function, hit, rss, hwm, anon, file)] and the steady
    split, from one run of blocksnoop under gdb."""
    gdb = procs.start(["gdb", "-q", "-batch", "-x", os.path.join(HERE, "memory_stages.gdb.py"),
                       "-ex", "run", "--args", ctx.blocksnoop, "-t", "10", *ctx.bs_args,
                       str(target_pid)], "gdb", stdout=subprocess.PIPE)
    stages, buf, pid = [], b"", None
    os.set_blocking(gdb.stdout.fileno(), False)
    deadline = time.monotonic() + 120
    try:
        while not (stages and stages[-1][0] == "epoll_wait"):
            if time.monotonic() > deadline or gdb.poll() is not None:
                raise RuntimeError(f"blocksnoop under gdb did not start:\n{procs.tail(gdb.errlog)}")
            buf += gdb.stdout.read() or b""
            *lines, buf = buf.split(b"\n")
            for line in lines:
                f = line.decode(errors="replace").split()
                if f[:1] == ["STAGE"]:
                    pid = int(f[3])
                    stages.append((f[1], int(f[2]), *map(int, f[4:8])))
            time.sleep(0.05)
        time.sleep(ctx.args.idle_window)
        with open(f"/proc/{pid}/status") as fh:
            s = fh.read()
        steady = {k: int(re.search(rf"^{k}:\s+(\d+)", s, re.M).group(1))
                  for k in ("VmRSS", "VmHWM", "RssAnon", "RssFile")}
        split = smaps_split(pid, agent_only_libraries(ctx.blocksnoop))
        return stages, steady, split
    finally:
        if pid:
            try:
                os.kill(pid, signal.SIGINT)  # blocksnoop, gdb's child: detaches, exits
            except ProcessLookupError:
                pass
        procs.stop(gdb, timeout=10)


def label(fn, hit, seen):
    if fn == "btf__load_vmlinux_btf":
        seen["btf"] += 1
        return f"parse of /sys/kernel/btf/vmlinux #{seen['btf']} begins"
    if fn == "btf__free":
        return "a BTF freed (peak so far includes the parse before)"
    return LABELS.get((fn, hit))


def run(ctx):
    log("memory stages (blocksnoop under gdb)")
    target = start_loops(ctx, 0.005, cpus=ctx.tool_cpus, name="tick5ms")
    try:
        stages, steady, split = staged_run(ctx, target.pid)
    finally:
        procs.stop(target)
    return report(ctx, stages, steady, split)


def mib(kib):
    return f"{kib / 1024:.1f}"


def report(ctx, stages, steady, split):
    btf_kib = os.path.getsize("/sys/kernel/btf/vmlinux") / 1024
    res = Result("Memory: `blocksnoop -t 10 PID`, stage by stage")
    res.lines += ["MiB at each stage of start-up (gdb breakpoints; consecutive stages with "
                  "the same figures are merged).", "",
                  "| stage | RSS | peak so far (VmHWM) | anonymous | file-backed |",
                  "|---|---|---|---|---|"]
    seen, last = collections.Counter(), None
    before_bpf = None
    for fn, hit, rss, hwm, anon, file in stages:
        name = label(fn, hit, seen)
        if fn == "detector_open_with" and before_bpf is None:
            before_bpf = rss
        if not name or (rss, hwm) == last:
            continue
        last = (rss, hwm)
        res.lines.append(f"| {name} | {mib(rss)} | {mib(hwm)} | {mib(anon)} | {mib(file)} |")
    res.lines.append(f"| steady, after {ctx.args.idle_window} s | {mib(steady['VmRSS'])} "
                     f"| {mib(steady['VmHWM'])} | {mib(steady['RssAnon'])} "
                     f"| {mib(steady['RssFile'])} |")
    res.lines += ["", "Steady RSS by mapping:", "", "| mapping | MiB |", "|---|---|"]
    for k, v in split.most_common():
        res.lines.append(f"| {k} | {mib(v)} |")
    agent_libs = next((v for k, v in split.items() if k.startswith("agent-only")), 0)
    floor = (before_bpf or 0) + 2 * btf_kib
    res.notes += [
        f"/sys/kernel/btf/vmlinux is {mib(btf_kib)} MiB. libbpf 1.1 reads it into one buffer "
        "and copies it into a second before freeing the first, so each parse needs twice "
        "its size at once; loading the BPF object parses it (CO-RE relocations, tp_btf "
        "attach points), and so does the probe for the process-following tracepoints.",
        f"Floor of the peak with this libbpf: RSS before the BPF setup ({mib(before_bpf or 0)}) "
        f"+ 2 × {mib(btf_kib)} = {mib(floor)} MiB.",
    ]
    if agent_libs:
        res.notes.append(
            f"{mib(agent_libs)} MiB of the steady RSS are pages of the agent-only libraries, "
            "mapped and initialised at start although the CLI never calls them; without them "
            f"the peak would be about {mib(steady['VmHWM'] - agent_libs)} MiB.")
    else:
        res.notes.append("The agent-only libraries (libcurl, libmicrohttpd, TLS) are not "
                         "mapped: blocksnoop loads them for agent mode and --metrics-addr only.")
    res.goals.append((f"CLI peak RSS ≤ {GOAL_MIB} MiB", f"{mib(steady['VmHWM'])} MiB peak, "
                      f"{mib(steady['VmRSS'])} MiB steady (floor with libbpf 1.1: "
                      f"{mib(floor)})", verdict(steady["VmHWM"] / 1024 <= GOAL_MIB)))
    return res
