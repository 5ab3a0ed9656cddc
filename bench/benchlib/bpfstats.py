# SPDX-License-Identifier: Apache-2.0
"""The kernel's own count of BPF programs' run time (BPF_STATS_RUN_TIME).

While an fd from enable() is open, the kernel times every BPF program run
and keeps run_time_ns and run_cnt per program; a process's programs are
found through the fdinfo of its fds. The timing adds two clock reads to
every run of every program, so it is on only while a figure needs it.
"""
import ctypes
import json
import os
import subprocess


def enable():
    """An fd that keeps the statistics on while open (close it to stop)."""
    libbpf = ctypes.CDLL("libbpf.so.1", use_errno=True)
    fd = libbpf.bpf_enable_stats(0)  # BPF_STATS_RUN_TIME
    if fd < 0:
        raise RuntimeError(f"cannot enable BPF statistics: {os.strerror(ctypes.get_errno())}")
    return fd


def _fdinfo(path):
    """The fields of one fdinfo file, or None if it is gone."""
    try:
        with open(path) as f:
            return dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
    except OSError:
        return None


def program_fdinfos(pid):
    """{prog_id: fdinfo path}: one fd of each BPF program pid holds (empty if
    it holds none or is gone)."""
    out = {}
    fdinfo = f"/proc/{pid}/fdinfo"
    try:
        fds = os.listdir(fdinfo)
    except FileNotFoundError:
        return out
    for fd in fds:
        path = os.path.join(fdinfo, fd)
        info = _fdinfo(path)
        if info and "prog_id" in info and "run_time_ns" in info:
            out.setdefault(info["prog_id"].strip(), path)
    return out


def read(fdinfos):
    """{prog_id: (run_time_ns, run_cnt)} now, of the programs program_fdinfos()
    found (a program whose fd is gone is left out)."""
    out = {}
    for prog, path in fdinfos.items():
        info = _fdinfo(path)
        if info and "run_time_ns" in info:
            out[prog] = (int(info["run_time_ns"]), int(info["run_cnt"]))
    return out


def programs(pid):
    """{prog_id: (run_time_ns, run_cnt)} of the BPF programs pid holds an fd
    of (empty if it has none or is gone)."""
    return read(program_fdinfos(pid))


def names():
    """{prog_id: name} of every loaded BPF program (bpftool)."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], check=True,
                         capture_output=True, text=True).stdout
    return {str(p["id"]): p.get("name", "?") for p in json.loads(out)}


def count(pid, action):
    """Run action() with the statistics on: what pid's programs did
    meanwhile, {name: (run_time_ns, run_cnt)}, programs of one name summed."""
    fd = enable()
    try:
        before = programs(pid)
        action()
        after = programs(pid)
    finally:
        os.close(fd)
    named, out = names(), {}
    for prog, (t1, n1) in after.items():
        t0, n0 = before.get(prog, (0, 0))
        name = named.get(prog, prog)
        t, n = out.get(name, (0, 0))
        out[name] = (t + t1 - t0, n + n1 - n0)
    return out
