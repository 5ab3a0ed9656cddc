"""Helpers for blocksnoop's end-to-end tests.

Everything here runs real processes as root against the real kernel:
  * `bs`      - run blocksnoop (foreground with a timeout, or in the
                background with its stdout/stderr collected live);
  * `procs`   - start target processes; every process a test starts (and
                every child blocksnoop launched for it) is killed by PID
                in the fixture's teardown, whatever happened;
  * truth files - what the fixtures (tests/fixtures/) really did, in
                CLOCK_MONOTONIC ns, to compare with blocksnoop's records;
  * `INTERPRETERS` - the CPythons targets run with: the host's, those of
                the Debian root file systems `make e2e` builds, and pyenv
                builds when the machine has them (see below).

Paths come from the environment (`make e2e` sets them): BLOCKSNOOP, the
binary; FIXTURES_BIN, the compiled C fixtures; BLOCKSNOOP_TEST_ROOTS, the
Debian root file systems. Nothing is skipped when something is missing: the
tests fail.
"""
import dataclasses
import datetime
import json
import os
import pathlib
import re
import signal
import subprocess
import tempfile
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BLOCKSNOOP = os.environ.get("BLOCKSNOOP", str(ROOT / "build" / "blocksnoop"))
FIXTURES_BIN = pathlib.Path(os.environ.get("FIXTURES_BIN", str(ROOT / "build" / "fixtures")))
FIXTURES_SRC = ROOT / "tests" / "fixtures"
PY = "/usr/bin/python3"
SCHEMA = "blocksnoop/v1"
SCHEMA_VERSION = 1  # the number beside SCHEMA on every record

# Kernel-measured durations are compared with the fixtures' own
# measurements: the spec is +-2 ms.
TOL_MS = 2.0
TOL_NS = int(TOL_MS * 1e6)
# The kernel's gap opens before the fixture reads the clock and closes
# after it does; allow this much for two different clock reads of the same
# instant (bpf_ktime_get_ns vs the vDSO).
CLOCK_SLACK_NS = 50_000


def py_fixture(name):
    path = FIXTURES_SRC / name
    assert path.is_file(), f"missing fixture {path}"
    return str(path)


def bin_fixture(name):
    path = FIXTURES_BIN / name
    assert os.access(path, os.X_OK), (
        f"missing compiled fixture {path} (run `make fixtures`, or set FIXTURES_BIN)")
    return str(path)


# --------------------------------------------------------------------------
# JSON lines, truth files


def parse_json_lines(text, where="stdout"):
    """Every non-empty line must be one JSON object."""
    records = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            pytest.fail(f"{where} line {i} is empty")
        try:
            rec = json.loads(line)
        except ValueError:
            pytest.fail(f"{where} line {i} is not JSON: {line!r}")
        assert isinstance(rec, dict), f"{where} line {i} is not a JSON object: {line!r}"
        records.append(rec)
    return records


def read_truth(path):
    """Records of a fixture's truth file (complete lines only)."""
    try:
        text = pathlib.Path(path).read_text()
    except FileNotFoundError:
        return []
    return [json.loads(l) for l in text.splitlines() if l.endswith("}")]


def truth_blocks(path, **match):
    return [r for r in read_truth(path) if r["event"] == "block"
            and all(r.get(k) == v for k, v in match.items())]


def wait_for(pred, timeout, what):
    """Poll pred() until it returns something truthy; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def wait_truth(path, event, timeout=15, **match):
    def find():
        for r in read_truth(path):
            if r["event"] == event and all(r.get(k) == v for k, v in match.items()):
                return r
        return None
    return wait_for(find, timeout, f"{event!r} in {path}")


# --------------------------------------------------------------------------
# process bookkeeping


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children(pid):
    """The child processes of pid's main thread ([] if pid is gone)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def nspid(pid):
    """NSpid values of pid: [host pid, ..., pid in its own namespace]."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError(f"no NSpid for {pid}")


def pid_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def assert_gone(pid, what="process", grace=1.0):
    """A process blocksnoop should have ended is gone (allowing the kernel
    a moment to reap a reparented zombie)."""
    deadline = time.monotonic() + grace
    while pid_alive(pid):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} (pid {pid}: {pid_cmdline(pid)!r}) still runs "
                        f"after blocksnoop exited")
        time.sleep(0.02)


class Proc:
    """A started process whose stdout and stderr are collected by threads,
    so a test can wait for a line while the process runs."""

    def __init__(self, argv, *, env=None, stdin=subprocess.DEVNULL, stderr_to=None,
                 **kw):
        self.argv = [str(a) for a in argv]
        self.started = time.monotonic()
        self.p = subprocess.Popen(
            self.argv, stdin=stdin, stdout=subprocess.PIPE,
            stderr=stderr_to if stderr_to is not None else subprocess.PIPE,
            env=env, **kw)
        self.pid = self.p.pid
        self._out = []
        self._err = []
        self._cond = threading.Condition()
        self._threads = [threading.Thread(target=self._pump, args=(self.p.stdout, self._out),
                                          daemon=True)]
        if self.p.stderr is not None:
            self._threads.append(threading.Thread(target=self._pump,
                                                  args=(self.p.stderr, self._err),
                                                  daemon=True))
        for t in self._threads:
            t.start()
        self.rc = None
        self.elapsed = None

    def _pump(self, stream, sink):
        for raw in iter(stream.readline, b""):
            with self._cond:
                sink.append(raw.decode(errors="replace"))
                self._cond.notify_all()
        stream.close()

    @property
    def stdout(self):
        with self._cond:
            return "".join(self._out)

    @property
    def stderr(self):
        with self._cond:
            return "".join(self._err)

    def records(self):
        """stdout parsed as JSON lines (complete lines only)."""
        with self._cond:
            lines = [l for l in self._out if l.endswith("\n")]
        return parse_json_lines("".join(lines))

    def wait_record(self, rtype, timeout=20, pred=lambda r: True):
        def find():
            for r in self.records():
                if r.get("type") == rtype and pred(r):
                    return r
            if self.p.poll() is not None:
                time.sleep(0.2)  # let the pumps finish
                for r in self.records():
                    if r.get("type") == rtype and pred(r):
                        return r
                pytest.fail(f"blocksnoop exited ({self.p.returncode}) before a "
                            f"{rtype!r} record\n{self.describe()}")
            return None
        return wait_for(find, timeout, f"a {rtype!r} record from {self.argv}\n"
                        f"{self.describe()}")

    def send(self, sig):
        os.kill(self.pid, sig)

    def wait(self, timeout):
        """Wait for exit; on timeout kill it and fail with what it printed."""
        try:
            self.rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.argv} did not exit within {timeout}s\n{self.describe()}")
        for t in self._threads:
            t.join(timeout=5)
        self.elapsed = time.monotonic() - self.started
        return self.rc

    def kill(self):
        if self.p.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.p.wait()

    def describe(self):
        return (f"--- argv: {self.argv}\n--- rc: {self.p.poll()}\n"
                f"--- stdout:\n{self.stdout}\n--- stderr:\n{self.stderr}")


class Procs:
    """Starts processes and kills, by PID, whatever is left at teardown."""

    def __init__(self):
        self._procs = []
        self._pids = []  # (pid, cmdline marker) of processes we did not fork

    def start(self, argv, **kw):
        p = Proc(argv, **kw)
        self._procs.append(p)
        return p

    def adopt(self, pid, marker):
        """Kill pid at teardown if it still runs and its command line still
        contains marker (so a recycled PID is never hit)."""
        self._pids.append((pid, marker))

    def cleanup(self):
        for pid, marker in self._pids:
            if pid_alive(pid) and marker in pid_cmdline(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in reversed(self._procs):
            p.kill()


@pytest.fixture
def procs():
    ps = Procs()
    try:
        yield ps
    finally:
        ps.cleanup()


# --------------------------------------------------------------------------
# running blocksnoop


class Result:
    def __init__(self, proc):
        self.argv = proc.argv
        self.rc = proc.rc
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = proc.elapsed
        self._desc = proc.describe()

    def __str__(self):
        return self._desc

    @property
    def records(self):
        return parse_json_lines(self.stdout)

    def of_type(self, rtype):
        return [r for r in self.records if r.get("type") == rtype]

    def one(self, rtype):
        recs = self.of_type(rtype)
        assert len(recs) == 1, f"expected one {rtype!r} record, got {len(recs)}\n{self}"
        return recs[0]

    @property
    def events(self):
        return self.of_type("blocking_event")

    @property
    def stderr_lines(self):
        return self.stderr.splitlines()


class Blocksnoop:
    def __init__(self, procs):
        self.procs = procs

    def start(self, *args, **kw):
        """blocksnoop in the background."""
        return self.procs.start([BLOCKSNOOP, *args], **kw)

    def run(self, *args, timeout=30, **kw):
        """blocksnoop in the foreground; fails if it runs past timeout."""
        p = self.start(*args, **kw)
        p.wait(timeout)
        return Result(p)

    def launch(self, *args, command, timeout=30, marker=None, **kw):
        """Launch mode: `blocksnoop ARGS -- COMMAND...`. The launched
        child's PID (from session_start, or a truth file's ready record
        passed as marker=(truthpath, text)) is killed at teardown if it
        survived, and the test fails if it is still running once blocksnoop
        has exited."""
        p = self.start(*args, "--", *command, **kw)
        p.wait(timeout)
        res = Result(p)
        child = None
        if "--json" in args:
            starts = [r for r in parse_json_lines(res.stdout) if r.get("type") == "session_start"]
            if starts:
                child = starts[0].get("pid")
        if child is None and marker is not None:
            ready = [r for r in read_truth(marker[0]) if r["event"] == "ready"]
            if ready:
                child = ready[0]["pid"]
        if child:
            self.procs.adopt(child, command[-1] if marker is None else marker[1])
            assert_gone(child, f"launched command {command}")
        return res


@pytest.fixture
def bs(procs):
    return Blocksnoop(procs)


# --------------------------------------------------------------------------
# no Austin and no namespace shim outlives its test
#
# blocksnoop ends every Austin it starts, and the shim (`blocksnoop nsexec`)
# that waits for it, before it exits, and both die with it in any case
# (PR_SET_PDEATHSIG). After every test (after its own fixtures have ended
# what it started) whatever Austin or shim of the test is still there is
# killed by PID and the test errors, naming it. A process is the test's if
# it started after the test began (/proc/PID/stat starttime against
# CLOCK_BOOTTIME read at the start) and either descends from this pytest
# process, or is an orphan (its parent is PID 1) of this pytest's session:
# other runs on the machine started before the test, or under another
# parent, are never touched. (An orphan helper another suite of the same
# session leaked during the test would be blamed too; the helpers die with
# their parent, so an orphan that lives on past the grace period below is
# a leak whoever made it.)

CLK_TCK = os.sysconf("SC_CLK_TCK")
# A helper its parent just killed may take a moment to go.
LEAK_GRACE_S = 3.0


def _boot_ticks():
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * CLK_TCK)


def _stat(pid, zombie_too=False):
    """(comm, ppid, session, starttime) of pid, or None if it is gone or
    (unless zombie_too) a zombie: that runs nothing; its parent, or PID 1,
    reaps it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    head, _, rest = text.rpartition(")")
    fields = rest.split()
    if fields[0] in ("Z", "X") and not zombie_too:
        return None
    return head.partition("(")[2], int(fields[1]), int(fields[3]), int(fields[19])


def _argv(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def helper_kind(pid, comm):
    """"Austin" or "namespace shim" if pid is one, else None: by its name
    (the kernel's comm: Austin's file name, or the shim's own "bs-nsexec"
    and "bs-nsexec:child"), its executable, or, for an Austin run by a
    wrapper script, its command line (blocksnoop's `-P ... -p PID`)."""
    if comm == "austin":
        return "Austin"
    if comm.startswith("bs-nsexec"):
        return "namespace shim"
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = ""
    argv = _argv(pid)
    if os.path.basename(exe) == "austin":
        return "Austin"
    if argv[1:2] == ["nsexec"] and os.path.basename(exe) == "blocksnoop":
        return "namespace shim"
    if "-P" in argv and "-p" in argv and any("austin" in os.path.basename(a) for a in argv[:2]):
        return "Austin"
    return None


def _descends_from(pid, ancestor):
    seen = set()
    while pid > 1 and pid not in seen:
        if pid == ancestor:
            return True
        seen.add(pid)
        st = _stat(pid, zombie_too=True)
        if st is None:
            return False
        pid = st[1]
    return False


def surviving_helpers(since_ticks, me, session):
    """[(pid, starttime, description)] of the Austins and shims of this
    pytest (see above) that started at or after since_ticks."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        st = _stat(pid)
        if st is None or st[3] < since_ticks or pid == me:
            continue
        comm, ppid, sid, start = st
        kind = helper_kind(pid, comm)
        if not kind:
            continue
        if _descends_from(pid, me) or (ppid == 1 and sid == session):
            found.append((pid, start, f"{kind} PID {pid} ({' '.join(_argv(pid))!r}, "
                                      f"parent {ppid})"))
    return found


def kill_if_same(pid, start):
    """SIGKILL pid if it is still the process that started at start (a
    pidfd pins it between the check and the kill)."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        st = _stat(pid)
        if st is not None and st[3] == start:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(fd)


@pytest.fixture(autouse=True)
def no_helper_survives():
    """Fails (errors) the test if an Austin or shim of it outlives it."""
    since, me, session = _boot_ticks(), os.getpid(), os.getsid(0)
    yield
    deadline = time.monotonic() + LEAK_GRACE_S
    left = surviving_helpers(since, me, session)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = surviving_helpers(since, me, session)
    for pid, start, _ in left:
        kill_if_same(pid, start)
    if left:
        pytest.fail("left running after the test (now killed): " +
                    "; ".join(what for _, _, what in left))


@pytest.fixture(scope="session", autouse=True)
def _binary_present():
    assert os.access(BLOCKSNOOP, os.X_OK), f"blocksnoop binary not found at {BLOCKSNOOP}"
    assert os.geteuid() == 0, "the end-to-end tests run as root"


# --------------------------------------------------------------------------
# checking records


def parse_time(value):
    assert isinstance(value, str) and value.endswith("Z"), f"time not ISO UTC with Z: {value!r}"
    t = datetime.datetime.fromisoformat(value[:-1] + "+00:00")
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - t).total_seconds()) < 600, f"time {value} is not now ({now})"
    return t


def check_common(records):
    """Fields every record has; one session_id per stream."""
    assert records, "no records"
    sessions = set()
    for r in records:
        assert r.get("schema") == SCHEMA, r
        assert r.get("schema_version") == SCHEMA_VERSION and type(r["schema_version"]) is int, r
        assert r.get("type") in ("session_start", "blocking_event", "still_blocked",
                                 "stats", "session_summary"), r
        assert isinstance(r.get("session_id"), str) and r["session_id"], r
        sessions.add(r["session_id"])
        parse_time(r.get("time"))
    assert len(sessions) == 1, f"several session ids: {sessions}"
    assert records[0]["type"] == "session_start", records[0]
    assert records[-1]["type"] == "session_summary", records[-1]


def check_events(events, *, pid, tid, error_threshold_ms=500.0):
    """Field types and internal consistency of blocking_event records."""
    for i, e in enumerate(events, 1):
        assert e["event_number"] == i, f"event numbers not 1,2,...: {[x['event_number'] for x in events]}"
        for k in ("start_ns", "end_ns", "pid", "tid"):
            assert isinstance(e[k], int) and not isinstance(e[k], bool), (k, e)
        assert isinstance(e["duration_ms"], (int, float)), e
        assert isinstance(e["timestamp_s"], (int, float)) and e["timestamp_s"] >= 0, e
        assert e["end_ns"] > e["start_ns"], e
        assert abs(e["duration_ms"] - (e["end_ns"] - e["start_ns"]) / 1e6) < 0.001, e
        assert e["pid"] == pid, f"pid {e['pid']} != {pid}: {e}"
        assert e["tid"] == tid, f"tid {e['tid']} != {tid}: {e}"
        want = "error" if e["duration_ms"] >= error_threshold_ms else "warning"
        assert e["level"] == want, e
        # Stacks are not what these tests are about: null (none captured)
        # or a list of stacks.
        assert "python_stacks" in e, e
        assert e["python_stacks"] is None or isinstance(e["python_stacks"], list), e
    # timestamp_s is the block start on the session clock: its differences
    # follow start_ns.
    for a, b in zip(events, events[1:]):
        dt_ts = b["timestamp_s"] - a["timestamp_s"]
        dt_ns = (b["start_ns"] - a["start_ns"]) / 1e9
        assert abs(dt_ts - dt_ns) < 0.002, (a, b)


def match_blocks(events, blocks, *, exact_count=True):
    """Every truth block is covered by exactly one event, and (exact_count)
    no event covers no block.

    A block's start_ns/end_ns are the fixture's clock reads just inside the
    gap: the kernel's gap starts at most TOL before start_ns and ends at
    most TOL after end_ns, and duration_ms is within TOL of the block's.
    Fixtures that can also read the clock just outside the gap (right
    before the epoll call that opens it, right after the one that closes
    it: outer_start_ns/outer_end_ns) give exact bounds instead; the time
    between a syscall and the fixture's clock read there (preemption on a
    busy machine) is then added to the duration tolerance."""
    used = set()
    for b in blocks:
        over = [i for i, e in enumerate(events)
                if e["start_ns"] < b["end_ns"] and e["end_ns"] > b["start_ns"]]
        assert len(over) == 1, (
            f"block {b} is covered by {len(over)} events: {[events[i] for i in over]}\n"
            f"all events: {events}")
        e = events[over[0]]
        used.add(over[0])
        lo_start = b.get("outer_start_ns", b["start_ns"] - TOL_NS)
        hi_end = b.get("outer_end_ns", b["end_ns"] + TOL_NS)
        unseen_ns = (b["start_ns"] - b["outer_start_ns"] + b["outer_end_ns"] - b["end_ns"]
                     if "outer_start_ns" in b else 0)
        truth_ms = (b["end_ns"] - b["start_ns"]) / 1e6
        where = f"\nevent: {e}\nblock: {b}"
        assert e["start_ns"] <= b["start_ns"] + CLOCK_SLACK_NS, (
            f"the gap starts {(e['start_ns'] - b['start_ns']) / 1e6:.3f} ms after the "
            f"block's start{where}")
        assert e["end_ns"] >= b["end_ns"] - CLOCK_SLACK_NS, (
            f"the gap ends {(b['end_ns'] - e['end_ns']) / 1e6:.3f} ms before the "
            f"block's end{where}")
        assert e["start_ns"] >= lo_start - CLOCK_SLACK_NS, (
            f"start_ns is {(b['start_ns'] - e['start_ns']) / 1e6:.3f} ms before the "
            f"block's start{where}")
        assert e["end_ns"] <= hi_end + CLOCK_SLACK_NS, (
            f"end_ns is {(e['end_ns'] - b['end_ns']) / 1e6:.3f} ms after the block's "
            f"end{where}")
        assert abs(e["duration_ms"] - truth_ms) <= TOL_MS + unseen_ns / 1e6, (
            f"duration_ms {e['duration_ms']} vs truth {truth_ms:.3f} ms{where}")
    if exact_count:
        extra = [e for i, e in enumerate(events) if i not in used]
        assert not extra, f"events that match no block: {extra}\nblocks: {blocks}"


def check_summary(summary, events):
    durations = [e["duration_ms"] for e in events]
    assert summary["event_count"] == len(events), summary
    assert summary["error_event_count"] == sum(e["level"] == "error" for e in events), summary
    assert abs(summary["total_blocked_ms"] - sum(durations)) < 0.06, summary
    assert abs(summary["max_blocked_ms"] - max(durations, default=0)) < 0.01, summary
    assert summary["lost_event_count"] == 0, summary
    assert isinstance(summary["top_call_sites"], list), summary
    assert len(summary["top_call_sites"]) <= 5, summary
    if all(e.get("python_stacks") is None for e in events):
        assert summary["top_call_sites"] == [], summary
    assert isinstance(summary["duration_s"], (int, float)) and summary["duration_s"] > 0, summary
    for k in ("termination_reason", "status"):
        assert isinstance(summary[k], str) and summary[k], summary


def check_error_line(res, rc):
    """An error: the exit status, nothing on stdout, and exactly one line on
    stderr that starts with 'blocksnoop: error: '."""
    assert res.rc == rc, f"exit status {res.rc}, wanted {rc}\n{res}"
    assert res.stdout == "", f"stdout not empty\n{res}"
    lines = res.stderr.splitlines()
    assert len(lines) == 1, f"stderr is not exactly one line\n{res}"
    assert lines[0].startswith("blocksnoop: error: "), f"bad error line\n{res}"
    assert len(lines[0]) > len("blocksnoop: error: ") + 5, res
    return lines[0]


def start_ready_target(procs, tmp_path, argv, *, name="target", timeout=20):
    """Start a fixture that writes a truth file (--truth is appended) and
    wait for its "ready" record. Returns (proc, truth_path, ready)."""
    truth = tmp_path / f"{name}.truth"
    p = procs.start([*argv, "--truth", str(truth)])
    ready = wait_for(lambda: next((r for r in read_truth(truth) if r["event"] == "ready"), None)
                     or (p.p.poll() is not None and pytest.fail(f"{name} died\n{p.describe()}")),
                     timeout, f"{name} ready")
    assert ready["pid"] == p.pid
    return p, truth, ready


def attach_and_go(bs, target_pid, go, *args, settle=0.3):
    """Attach blocksnoop --json to a waiting target, wait for its
    session_start, then let the target start blocking (touch go)."""
    b = bs.start("--json", *args, str(target_pid))
    start = b.wait_record("session_start")
    time.sleep(settle)
    pathlib.Path(go).touch()
    return b, start


# --------------------------------------------------------------------------
# The Debian 13 root file system (Python 3.13, Austin 3.7.0) that tests use
# to put a target in its own mount and PID namespace. `make e2e` builds it
# once (the Makefile's $(ROOTFS) rule) and passes its path; tests only read
# it (targets run on an overlay of it).

TRIXIE_ROOTFS = pathlib.Path(os.environ.get("BLOCKSNOOP_ROOTFS",
                                            pathlib.Path(__file__).resolve().parents[2]
                                            / "build" / "rootfs-trixie"))


@pytest.fixture(scope="session")
def trixie_rootfs():
    """The Debian 13 root, checked: python3.13 and austin must be there."""
    for tool in ("usr/bin/python3.13", "usr/bin/austin"):
        assert (TRIXIE_ROOTFS / tool).exists(), (
            f"{TRIXIE_ROOTFS} lacks {tool}: build it with `make {TRIXIE_ROOTFS.relative_to(TRIXIE_ROOTFS.parents[1])}/usr/bin/austin`")
    return TRIXIE_ROOTFS


# --------------------------------------------------------------------------
# Python interpreters
#
# The stack tests run their targets with every CPython at hand: the host's
# /usr/bin/python3.X, the python3.X of each Debian root file system `make
# e2e` builds (BLOCKSNOOP_TEST_ROOTS; see the Makefile: bullseye 3.9, trixie
# 3.13, testing 3.14 and 3.15, freethreaded 3.13t in /usr/local/bin), and
# pyenv builds under /root/.pyenv/versions when the machine has them (extra
# coverage, never required). An interpreter of a root needs the root's own C
# library, so it runs chrooted, in an overlay of the root that keeps the
# shared root unwritten. Whether one is free-threaded is asked of the
# interpreter itself (sysconfig's Py_GIL_DISABLED), never told by its name.

PYENV = pathlib.Path("/root/.pyenv/versions")
TEST_ROOTS = [pathlib.Path(p) for p in os.environ.get("BLOCKSNOOP_TEST_ROOTS", "").split()] or \
    sorted(p for p in (ROOT / "build").glob("rootfs-*") if re.fullmatch(r"rootfs-\w+", p.name))
# The versions the built-in reader reads (agent/cpython/README.md), and of
# their free-threaded builds, those it reads.
READER_OLDEST, READER_NEWEST = (3, 8), (3, 15)
READER_FREE_THREADED = {(3, 13)}

# Run as `sh -c IN_ROOT sh ROOT SCRATCH PATH... -- ARGV...` inside `unshare
# --mount`: ROOT overlaid (upper layer and work directory in SCRATCH),
# each PATH bind-mounted at its own path, then ARGV exec'ed chrooted there
# in the current directory if the root has it (else /). Every step execs,
# so ARGV keeps the PID the command started with.
IN_ROOT = r'''
root=$1 scratch=$2; shift 2
m=$scratch/merged
mkdir "$scratch/upper" "$scratch/work" "$m" &&
mount -t overlay overlay -o "lowerdir=$root,upperdir=$scratch/upper,workdir=$scratch/work" "$m" ||
	exit 125
while [ "$1" != -- ]; do
	mkdir -p "$m$1" && mount --bind "$1" "$m$1" || exit 125
	shift
done
shift
wd=/
[ -d "$m$PWD" ] && wd=$PWD
exec unshare --root="$m" --wd="$wd" "$@"
'''


@dataclasses.dataclass(frozen=True)
class Interpreter:
    """A CPython to run targets with. root is None for one of the host's
    (path is then a host path), else the Debian root file system it comes
    from (path is inside the root)."""
    version: str                 # "3.14.8"
    path: str
    root: pathlib.Path = None
    origin: str = "host"         # "host", "pyenv", or the root's name ("testing")
    free_threaded: bool = False  # built with --disable-gil (Py_GIL_DISABLED)

    @property
    def minor(self):
        return int(self.version.split(".")[1])

    @property
    def id(self):
        """The test id: "3.14.8-testing", "3.11.2-host", "3.12.1-pyenv",
        "3.13.5t-freethreaded"."""
        return f"{self.version}{'t' if self.free_threaded else ''}-{self.origin}"

    def __str__(self):
        return f"{self.id}: {self.path}" + (f" in {self.root}" if self.root else "")

    @property
    def reader_reads(self):
        """True if blocksnoop's built-in reader supports this version (and
        build)."""
        return READER_OLDEST <= (3, self.minor) <= READER_NEWEST and (
            not self.free_threaded or (3, self.minor) in READER_FREE_THREADED)

    def command(self, tmp, *args):
        """argv running this interpreter with args. A host interpreter runs
        as is; a root's runs in an overlay of its root, in a private mount
        namespace (all is unmounted when its processes end), with the
        fixtures' directory and tmp (a test's own temporary directory,
        where the overlay's scratch layers go too) bind-mounted at their
        own paths: file names are the same inside and outside. Either way
        the command ends as the interpreter in the PID it started with (for
        launch mode, and for attaching to the PID a test started)."""
        if self.root is None:
            return [self.path, *map(str, args)]
        scratch = tempfile.mkdtemp(prefix="root-", dir=tmp)
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", IN_ROOT, "sh",
                str(self.root.resolve()), scratch, str(FIXTURES_SRC), str(tmp), "--",
                self.path, *map(str, args)]


def _interpreter(argv, path, root=None, origin="host"):
    """The Interpreter argv runs (at path), as it says it is: its version,
    and whether it is free-threaded."""
    out = subprocess.run([*argv, "-B", "-c", "import sys, sysconfig; print('%d.%d.%d' % "
                          "sys.version_info[:3], sysconfig.get_config_var('Py_GIL_DISABLED') or 0)"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"{argv} does not start: {out.stderr}"
    version, free_threaded = out.stdout.split()
    return Interpreter(version, path, root, origin, free_threaded == "1")


# python3.X, and python3.Xt, the name a free-threaded build installs as
# (besides python3.X, which the free-threaded root's /usr/local/bin has too)
PYTHON_NAME = re.compile(r"python3\.\d+t?")


def _find_interpreters():
    found = []
    for exe in sorted(pathlib.Path("/usr/bin").glob("python3.*")):
        if PYTHON_NAME.fullmatch(exe.name):
            found.append(_interpreter([str(exe)], str(exe)))
    for root in TEST_ROOTS:
        assert root.is_dir(), f"no root file system {root}: `make e2e` builds it"
        name = root.name.removeprefix("rootfs-")
        for exe in sorted([*(root / "usr" / "bin").glob("python3.*"),
                           *(root / "usr" / "local" / "bin").glob("python3.*t")]):
            if PYTHON_NAME.fullmatch(exe.name):
                path = "/" + str(exe.relative_to(root))
                # chroot only to ask: nothing in the root is written (-B)
                found.append(_interpreter(["chroot", str(root), path], path, root, name))
    # pyenv names a free-threaded build 3.X.Yt, its interpreter python3.Xt
    for d in sorted(PYENV.glob("3.*")):
        m = re.fullmatch(r"3\.(\d+)\.\d+(t?)", d.name)
        exe = d / "bin" / (f"python3.{m[1]}t" if m and m[2] else "python3")
        if m and (3, int(m[1])) >= READER_OLDEST and exe.exists():
            found.append(_interpreter([str(exe)], str(exe), origin="pyenv"))
    # The same build twice (the host's and bookworm's 3.11.2) is one: the
    # first found (the host's) is kept.
    unique = {}
    for i in found:
        unique.setdefault((i.version, i.free_threaded), i)
    return sorted(unique.values(), key=lambda i: (tuple(map(int, i.version.split("."))),
                                                  i.free_threaded, i.origin))


INTERPRETERS = _find_interpreters()
HOST_PY = _interpreter([PY], PY)  # the host's python3, as an Interpreter


def interpreter_params():
    """pytest.param for every interpreter, for @pytest.mark.parametrize; one
    the built-in reader does not read yet is skipped, saying so (pytest
    -rs)."""
    return [pytest.param(i, id=i.id, marks=() if i.reader_reads else pytest.mark.skip(
        reason=f"Python {i.version} ({i.origin}): the built-in reader does not read "
               f"{'free-threaded ' if i.free_threaded else ''}{i.version.rsplit('.', 1)[0]} "
               f"yet")) for i in INTERPRETERS]


def host_interpreter(minor):
    """The host's /usr/bin/python3.<minor>, or fail."""
    for i in INTERPRETERS:
        if i.origin == "host" and i.minor == minor:
            return i
    pytest.fail(f"no /usr/bin/python3.{minor} on this host")


def pytest_terminal_summary(terminalreporter):
    """Which interpreters the parametrized tests ran, and how."""
    tr = terminalreporter
    counts = {}
    for outcome in ("passed", "failed", "skipped", "xfailed", "xpassed", "error"):
        for rep in tr.stats.get(outcome, []):
            params = getattr(rep, "nodeid", "").partition("[")[2].rstrip("]").split("-")
            for i in INTERPRETERS:
                n = len(i.id.split("-"))
                if any("-".join(params[k:k + n]) == i.id for k in range(len(params))):
                    counts.setdefault(i.id, {}).setdefault(outcome, set()).add(rep.nodeid)
    if not counts:
        return
    tr.write_sep("-", "Python interpreters")
    for i in INTERPRETERS:
        got = ", ".join(f"{len(v)} {k}" for k, v in sorted(counts.get(i.id, {}).items()))
        tr.write_line(f"{i}: {got or 'no test run'}")
