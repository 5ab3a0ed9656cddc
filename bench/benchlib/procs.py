# SPDX-License-Identifier: Apache-2.0
"""Every process the benchmark starts, so that each is stopped by its PID.

start() puts a child in its own session (a terminal's Ctrl-C reaches only
the driver, which stops children in the order it chooses) with its stderr
in a log file; stop() ends one child by PID; stop_all() ends every child
still running, newest first. Nothing here kills by name.
"""
import glob
import os
import signal
import subprocess
import time

_started = []  # Popen objects, oldest first
_logdir = None


def set_logdir(path):
    global _logdir
    _logdir = path


def logdir():
    return _logdir


def set_autogroup_nice(n):
    """With sched_autogroup, nice ranks tasks only within their session; the
    session's own weight is its autogroup's nice."""
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(n))
    except OSError:
        pass  # no autogroups: the plain nice value already applies


def pinned(argv, cpus):
    """argv run on CPUs cpus ("0", "1,2"), or unpinned when cpus is None."""
    return argv if cpus is None else ["taskset", "-c", str(cpus), *argv]


def start(argv, name, env=None, stdout=None, preexec=None, stdin=None):
    """Start argv as a child; its stderr goes to LOGDIR/name.N.err."""
    err = open(os.path.join(_logdir, f"{name}.{len(_started)}.err"), "w")

    def child_setup():
        set_autogroup_nice(os.nice(0))
        if preexec:
            preexec()
    p = subprocess.Popen(argv, stdout=stdout or subprocess.DEVNULL, stderr=err,
                         stdin=stdin or subprocess.DEVNULL, env=env, start_new_session=True,
                         preexec_fn=child_setup)
    err.close()
    p.errlog = err.name
    p.name = name
    _started.append(p)
    return p


def stop(p, sig=signal.SIGINT, timeout=5):
    """Stop one child by PID: sig first (blocksnoop detaches on SIGINT), then
    SIGKILL if it lingers."""
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in _started:
        _started.remove(p)


def stop_all(timeout=2):
    for p in reversed(list(_started)):
        stop(p, timeout=timeout)


def started_pids():
    return {p.pid for p in _started}


def tail(path, n=5):
    try:
        with open(path) as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def read_line(p, what, timeout=15):
    """First stdout line of p, or fail if p dies or stays silent."""
    deadline = time.monotonic() + timeout
    os.set_blocking(p.stdout.fileno(), False)
    buf = b""
    while time.monotonic() < deadline:
        buf += p.stdout.read() or b""
        if b"\n" in buf:
            return buf.split(b"\n")[0].decode()
        if p.poll() is not None:
            break
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not start:\n{tail(p.errlog)}")


def bpf_attachments(pid):
    """How many BPF links/perf events pid holds: libbpf attaches a tracepoint
    program as a perf event (+ a bpf_link on newer kernels)."""
    n = 0
    for fd in glob.glob(f"/proc/{pid}/fd/*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        n += "bpf_link" in target or "[perf_event]" in target
    return n


def wait_attached(p, timeout=30):
    """blocksnoop prints nothing when it is ready, so wait until its set of
    BPF attachments is non-empty and has stopped growing for 0.5 s."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"{p.name} exited ({p.returncode}):\n{tail(p.errlog)}")
        n = bpf_attachments(p.pid)
        if n != last:
            last, since = n, time.monotonic()
        elif n > 0 and time.monotonic() - since >= 0.5:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{p.name} did not attach within {timeout}s:\n{tail(p.errlog)}")


def wait_until(pred, timeout, what, p=None):
    """Poll pred() until it returns something true; fail naming what."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        if p is not None and p.poll() is not None:
            raise RuntimeError(f"{p.name} exited ({p.returncode}) waiting for {what}:\n"
                               f"{tail(p.errlog)}")
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
