"""Targets that turn their own memory and mappings against the reader of
their Python stacks (the built-in CPython sampler), end to end: the real
binary, real interpreters, real namespaces.

  * a target that invents a new function name and file name before every
    block (~12 ms): blocksnoop attached for over a minute keeps a flat
    resident size (what it keeps per name is bounded and given back once
    no pending event shows it), with Debian's Python 3.11 and a Debian 13
    Python 3.13 in its own PID and mount namespace;
  * a Python 3.13 target that rewrites its own _Py_DebugOffsets with an
    offset past the end of the struct it describes: refused with a clear
    message, never followed;
  * a Python 3.11 target that keeps overwriting its GIL's last_holder with
    garbage (an unmapped address, then one of its own objects) while it
    holds the GIL: the event names no GIL holder (anatomy.gil null) and
    keeps its stack; the garbage is never followed;
  * a process with 10,000 file mappings, hundreds named libpython*: the
    open attempt tries a bounded number of files (counted with strace, not
    timed), and a real shared libpython among them is still found.

Memory is sampled from /proc/<pid>/status (VmRSS); nothing here asserts on
speed.
"""
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import time
import uuid

import pytest

from conftest import (BLOCKSNOOP, FIXTURES_SRC, bin_fixture, children, parse_json_lines, pid_alive,
                      py_fixture, wait_for)

PYENV = pathlib.Path("/root/.pyenv/versions")
DEBIAN_PY = "/usr/bin/python3.11"

# The RSS check: warm-up (caches filling to their bounds), then a measured
# run split in thirds; the last third's median may exceed the first's by
# at most RSS_SLACK_KB. Without the bounds, blocksnoop grew 1.7-1.9 MB in it.
RSS_WARMUP_S = 15
RSS_MEASURE_S = 60
RSS_EVERY_S = 2
RSS_SLACK_KB = 1024


def vm_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def read_announcement(proc, what):
    """The target's one JSON line, read from its stdout pipe."""
    line = proc.stdout.readline()
    assert line, f"{what} printed nothing (exit {proc.poll()}): {proc.stderr.read()}"
    return json.loads(line)


class Killer:
    """Processes started here, killed by PID whatever happens."""

    def __init__(self):
        self.procs = []

    def start(self, argv, **kw):
        p = subprocess.Popen([str(a) for a in argv], **kw)
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
            p.wait()
            for stream in (p.stdout, p.stderr):
                if stream:
                    stream.close()


@pytest.fixture
def killer():
    k = Killer()
    try:
        yield k
    finally:
        k.cleanup()


# --------------------------------------------------------------------------
# invented names: memory stays bounded


def watch_rss(killer, tmp_path, pid, prefix):
    """blocksnoop -t 5 --json attached to pid for the whole run, its RSS
    sampled; returns (RSS samples after warm-up, its records)."""
    out = tmp_path / "blocksnoop.jsonl"
    err = tmp_path / "blocksnoop.stderr"
    duration = RSS_WARMUP_S + RSS_MEASURE_S
    # An ASan build (SANITIZE=1) holds freed memory in quarantine, which
    # would look like growth: without it, its RSS tells what is kept.
    asan = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=0"]))
    with open(out, "w") as o, open(err, "w") as e:
        b = killer.start([BLOCKSNOOP, "-t", "5", "--json", "--duration", duration, pid],
                         stdout=o, stderr=e, env={**os.environ, "ASAN_OPTIONS": asan})
    samples = []
    start = time.monotonic()
    while b.poll() is None:
        t = time.monotonic() - start
        if t > duration + 30:
            pytest.fail(f"blocksnoop did not stop after --duration {duration}")
        if t >= RSS_WARMUP_S and t <= duration - 1:
            samples.append(vm_rss_kb(b.pid))
        time.sleep(RSS_EVERY_S)
    assert b.returncode == 0, f"blocksnoop exit {b.returncode}: {err.read_text()}"
    records = parse_json_lines(out.read_text(), str(out))
    return samples, records


def check_invented_names_seen(records, prefix):
    """The run did what it is about: events whose innermost frame is a
    function the target invented, over a thousand different ones."""
    names = set()
    for r in records:
        if r.get("type") != "blocking_event" or not r.get("python_stacks"):
            continue
        f = r["python_stacks"][0][0]
        if f["function"].startswith(prefix + "_"):
            assert f["file"] == f"/invented/{f['function']}/module.py", f
            names.add(f["function"])
    assert len(names) >= 1000, f"only {len(names)} invented functions were reported"


def check_flat(samples):
    third = len(samples) // 3
    assert third >= 5, samples
    first, last = statistics.median(samples[:third]), statistics.median(samples[-third:])
    print(f"blocksnoop RSS (kB), every {RSS_EVERY_S} s after warm-up: {samples}; "
          f"median of the first third {first}, of the last {last}")
    assert last <= first + RSS_SLACK_KB, (
        f"blocksnoop's RSS grew from {first} kB to {last} kB within "
        f"{RSS_MEASURE_S} s (samples every {RSS_EVERY_S} s: {samples})")


def test_rss_flat_with_invented_names(killer, tmp_path):
    prefix = "inv" + uuid.uuid4().hex[:6]
    target = killer.start([DEBIAN_PY, py_fixture("invented_names.py"), prefix],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    info = read_announcement(target, "invented_names.py")
    assert info["pid"] == target.pid, info
    samples, records = watch_rss(killer, tmp_path, target.pid, prefix)
    assert target.poll() is None, "the target died"
    check_invented_names_seen(records, prefix)
    check_flat(samples)


def test_rss_flat_with_invented_names_in_container(killer, tmp_path, trixie_rootfs):
    """The same, from a Debian 13 Python 3.13 (its _Py_DebugOffsets layout)
    in its own PID and mount namespace, attached by host PID. The fixture
    runs as `python3 -c`, so nothing is written into the shared root."""
    prefix = "inv" + uuid.uuid4().hex[:6]
    source = (FIXTURES_SRC / "invented_names.py").read_text()
    unshare = killer.start(["unshare", "--mount", "--pid", "--fork", "--kill-child",
                            "--mount-proc", f"--root={trixie_rootfs}",
                            "/usr/bin/python3", "-c", source, prefix],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    info = read_announcement(unshare, "python3 -c invented_names.py in the root")
    assert info["pid"] == 1, info
    host_pid = wait_for(lambda: children(unshare.pid), 10, "unshare's child")[0]
    samples, records = watch_rss(killer, tmp_path, host_pid, prefix)
    assert pid_alive(host_pid), "the target died"
    check_invented_names_seen(records, prefix)
    check_flat(samples)


# --------------------------------------------------------------------------
# a _Py_DebugOffsets table that lies


# Rewrites its own _Py_DebugOffsets (3.13: in the writable .PyRuntime
# section) so that bytes.ob_size is at byte 63 of a bytes object: reading
# 8 bytes there would run past the 32-byte header the reader copies.
LYING_TARGET = r"""
import ctypes, json, os, sys, time
rt = ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, "_PyRuntime"))
assert ctypes.string_at(rt, 8) == b"xdebugpy"
ctypes.c_uint64.from_address(rt + 520).value = 63   # bytes.ob_size
print(json.dumps({"pid": os.getpid()}), flush=True)
time.sleep(3600)
"""


def test_lying_debug_offsets_refused(killer, trixie_rootfs):
    """Debian 13's 3.13 in its own namespaces: open refused, one line that
    says why; no sanitizer report (the old reader read past its buffer)."""
    unshare = killer.start(["unshare", "--mount", "--pid", "--fork", "--kill-child",
                            "--mount-proc", f"--root={trixie_rootfs}",
                            "/usr/bin/python3", "-c", LYING_TARGET],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    read_announcement(unshare, "the lying target")
    host_pid = wait_for(lambda: children(unshare.pid), 10, "unshare's child")[0]
    res = subprocess.run([bin_fixture("cpython_dump"), str(host_pid), str(host_pid)],
                         capture_output=True, text=True, timeout=60)
    assert "Sanitizer" not in res.stderr and "runtime error" not in res.stderr, res.stderr
    assert res.returncode == 1, (res.stdout, res.stderr)
    rec = json.loads(res.stdout)
    assert rec["rc"] == -95, rec  # -ENOTSUP: a layout this reader will not read
    assert "bytes.ob_size" in rec["error"] and "outside" in rec["error"], rec


# --------------------------------------------------------------------------
# thousands of mappings


NMAPS = 10_000
NLIBS = 300        # of them named libpython*, mapped read-only
NLIBS_EXEC = 3     # and a few mapped executable, as a loaded library is


def openat2_count(argv):
    """Run argv under strace: (its result, how many of the target's files it
    opened for reading). The reader walks a target's path with openat2(2)
    O_PATH steps, one per component, and opens only the file it ends on,
    through /proc/self/fd/N: those opens are the files it read."""
    # LeakSanitizer (SANITIZE=1 builds) cannot run under ptrace: off here.
    asan = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    trace = subprocess.run(["strace", "-f", "-qq", "-e", "trace=open,openat", "-o", "/dev/stderr",
                            *map(str, argv)], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "ASAN_OPTIONS": asan})
    return trace, sum('"/proc/self/fd/' in line for line in trace.stderr.splitlines())


@pytest.fixture
def maps_dir(tmp_path):
    d = tmp_path / "maps"
    d.mkdir()
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def map_files_target(killer, d, python=None):
    """The mapper: a C fixture (not Python), or python running its Python
    twin (the same mappings) when given."""
    argv = [bin_fixture("map_files"), d, NMAPS, NLIBS, NLIBS_EXEC]
    if python:
        argv = [python, py_fixture("map_files.py"), d, NMAPS, NLIBS, NLIBS_EXEC]
    p = killer.start(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    info = read_announcement(p, "the mapper")
    with open(f"/proc/{p.pid}/maps") as f:
        maps = f.read()
    assert maps.count(str(d)) >= NMAPS, "the mapper's files are not all mapped"
    return p, info


def test_many_mappings_not_python(killer, maps_dir):
    """Not Python, 10,000 mappings, 300 named libpython: refused as not
    Python after opening at most the executable and PY_RUNTIME_FILES_MAX - 1
    libpythons, where each libpython file used to be opened and parsed."""
    p, info = map_files_target(killer, maps_dir)
    trace, opens = openat2_count([bin_fixture("cpython_dump"), p.pid, p.pid])
    rec = json.loads(trace.stdout)
    assert trace.returncode == 1 and rec["rc"] == -8, (trace.stdout, trace.stderr[-2000:])
    assert "not Python" in rec["error"], rec
    assert 1 <= opens <= 8, f"{opens} files opened to find _PyRuntime"


def test_many_mappings_shared_libpython(killer, maps_dir):
    """A Python with a shared libpython (pyenv 3.12, when this machine has
    it) that maps the same files: its own libpython is still found, at
    bounded cost, and its stack read."""
    python = PYENV / "3.12.1" / "bin" / "python3"
    if not os.access(python, os.X_OK):
        pytest.skip(f"{python} is not installed on this machine")
    p, info = map_files_target(killer, maps_dir, python=str(python))
    trace, opens = openat2_count([bin_fixture("cpython_dump"), "--retry", 5, p.pid, p.pid])
    assert trace.returncode == 0, (trace.stdout, trace.stderr[-2000:])
    rec = json.loads(trace.stdout)
    assert rec["rc"] == 0 and rec["version"] == "3.12.1", rec
    assert any(f["function"] == "hold" for f in rec["frames"]), rec
    assert 1 <= opens <= 8, f"{opens} files opened to find _PyRuntime"


def test_corrupt_gil_holder_is_no_holder(bs):
    command = [DEBIAN_PY, py_fixture("anatomy_blocks.py"), "gil", "--corrupt-gil",
               "--count", "4"]
    res = bs.launch("--json", "-t", "100", command=command, timeout=60)
    assert res.rc == 0, res
    blocks = [e for e in res.events if e["duration_ms"] > 250]
    assert len(blocks) == 4, res
    for e in blocks:
        assert "gil" in e["anatomy"] and e["anatomy"]["gil"] is None, e
        assert e["python_stacks"], e
        assert e["python_stacks"][0][0]["function"] == "spin_corrupting_gil", e
