"""The command line in a hostile place.

  * What lies at --log-file: a symbolic link (root would append to the file
    it names) or a FIFO (the open would block, and with it the loop that
    handles SIGTERM), at start and when SIGHUP reopens the path.
  * The capabilities a run keeps once it is set up, per mode, read from
    /proc/<blocksnoop>/status after session_start; and that what each mode
    still does works with only those: stacks of another user's process
    whose files only it can read, signals to a launched command that
    changed its user, Austin restarted through the shim, a log reopened in
    a directory root does not own.

Every process is killed by PID at the end; every directory made is removed.
"""
import os
import pathlib
import shutil
import signal
import tempfile
import time

import pytest

from conftest import (PY, Result, check_common, check_error_line, parse_json_lines, pid_cmdline,
                      py_fixture, read_truth, start_ready_target, wait_for)

NOBODY = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]

# capability(7) numbers
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_KILL, CAP_SETGID, CAP_SETUID = 1, 2, 5, 6, 7
CAP_SETPCAP, CAP_SYS_CHROOT, CAP_SYS_PTRACE, CAP_SYS_ADMIN = 8, 18, 19, 21


def bits(*caps):
    return sum(1 << c for c in caps)


READ_STACKS = bits(CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_SETUID, CAP_SETGID)
AUSTIN = bits(CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_SYS_PTRACE, CAP_SETPCAP)


def proc_status(pid):
    fields = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def caps_of(pid):
    st = proc_status(pid)
    return {k: int(st[k], 16) for k in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb")} | {
        "NoNewPrivs": int(st["NoNewPrivs"])}


# Held in the permitted set only: the source reader raises them into the
# effective set of the thread that opens a target's file as the target, for
# that open alone.
PERMITTED_ONLY = bits(CAP_SETUID, CAP_SETGID)


def check_kept(pid, want):
    """After set-up blocksnoop holds exactly want: permitted = bounding =
    want, effective = want but CAP_SETUID/CAP_SETGID, nothing inheritable or
    ambient, no_new_privs set. The effective set is judged at rest: a read
    of /proc may land inside one of the reader's opens (a few tries, 2 s at
    most; a process that keeps them effective fails)."""
    for _ in range(100):
        c = caps_of(pid)
        if c["CapEff"] == want & ~PERMITTED_ONLY:
            break
        time.sleep(0.02)
    names = {k: hex(v) for k, v in c.items()}
    assert c["CapPrm"] == want, (hex(want), names)
    assert c["CapEff"] == want & ~PERMITTED_ONLY, (hex(want & ~PERMITTED_ONLY), names)
    assert c["CapBnd"] == want, (hex(want), names)
    assert c["CapInh"] == 0 and c["CapAmb"] == 0, names
    assert c["NoNewPrivs"] == 1, names


@pytest.fixture
def nobody_dir():
    """A directory in /tmp owned by nobody, mode 0700: only nobody (and a
    root that keeps CAP_DAC_READ_SEARCH or CAP_DAC_OVERRIDE) gets in."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="bs-nobody-", dir="/tmp"))
    try:
        os.chown(d, NOBODY, NOBODY)
        d.chmod(0o700)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def stop(b, rc=0):
    b.send(signal.SIGINT)
    assert b.wait(20) == rc, b.describe()
    res = Result(b)
    assert "Sanitizer" not in res.stderr, res
    return res


# --------------------------------------------------------------------------
# --log-file at start


@pytest.fixture
def waiting_target(procs, tmp_path):
    target, _, _ = start_ready_target(procs, tmp_path,
                                      [PY, py_fixture("asyncio_blocks.py"), "--count", "0"])
    return target


def test_log_file_symlink_refused(bs, tmp_path, waiting_target):
    precious = tmp_path / "precious"
    precious.write_text("root's file\n")
    link = tmp_path / "bs.log"
    link.symlink_to(precious)
    res = bs.run("--json", "--log-file", str(link), "--duration", "2", str(waiting_target.pid),
                 timeout=20)
    line = check_error_line(res, 2)
    assert "symbolic link" in line and str(link) in line, line
    assert precious.read_text() == "root's file\n"


def test_log_file_dangling_symlink_creates_nothing(bs, tmp_path):
    link = tmp_path / "bs.log"
    link.symlink_to(tmp_path / "created")
    marker = tmp_path / "ran"
    res = bs.run("--log-file", str(link), "--", "touch", str(marker), timeout=20)
    check_error_line(res, 2)
    assert not (tmp_path / "created").exists()
    assert not marker.exists(), "the command was run despite a usage error"


@pytest.mark.parametrize("reader", [False, True], ids=["no-reader", "reader"])
def test_log_file_fifo_refused(bs, tmp_path, waiting_target, reader):
    """A FIFO nobody reads would block the open for ever; one somebody reads
    would take the records away. Both are refused at once."""
    fifo = tmp_path / "bs.log"
    os.mkfifo(fifo)
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK) if reader else None
    try:
        res = bs.run("--json", "--log-file", str(fifo), "--duration", "2",
                     str(waiting_target.pid), timeout=20)
    finally:
        if rfd is not None:
            os.close(rfd)
    line = check_error_line(res, 2)
    assert "FIFO" in line and str(fifo) in line, line


def test_log_file_device_and_directory_refused(bs, tmp_path, waiting_target):
    for path, kind in (("/dev/null", "character device"), (str(tmp_path), "directory")):
        res = bs.run("--log-file", path, "--duration", "2", str(waiting_target.pid), timeout=20)
        line = check_error_line(res, 2)
        assert kind in line, line


# --------------------------------------------------------------------------
# --log-file on SIGHUP


def events_in(path):
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [r for r in parse_json_lines(text, where=str(path)) if r["type"] == "blocking_event"]


@pytest.fixture
def blocking_target(procs, tmp_path):
    go = tmp_path / "go"
    target, _, _ = start_ready_target(
        procs, tmp_path, [PY, py_fixture("asyncio_blocks.py"), "--count", "0", "--block", "0.15",
                          "--pause", "0.1", "--go", str(go)])
    return target, go


@pytest.mark.parametrize("planted", ["fifo", "symlink"])
def test_sighup_reopen_refuses_fifo_and_symlink(bs, tmp_path, blocking_target, planted):
    """logrotate renames the file; before blocksnoop reopens the path,
    something else is put there. The reopen neither blocks nor follows: it
    warns and keeps writing to the file it has, and SIGTERM still ends the
    run at once."""
    target, go = blocking_target
    log, rotated, precious = tmp_path / "bs.log", tmp_path / "bs.log.1", tmp_path / "precious"
    precious.write_text("root's file\n")
    b = bs.start("--json", "-t", "100", "--log-file", str(log), str(target.pid))
    b.wait_record("session_start")
    go.touch()
    wait_for(lambda: len(events_in(log)) >= 2, 15, "two events in the log file")
    os.rename(log, rotated)
    if planted == "fifo":
        os.mkfifo(log)
    else:
        log.symlink_to(precious)
    b.send(signal.SIGHUP)
    wait_for(lambda: "still writing to the log file opened before" in b.stderr, 10,
             f"the reopen warning\n{b.describe()}")
    before = len(events_in(rotated))
    wait_for(lambda: len(events_in(rotated)) >= before + 2, 15,
             f"events still written to the old file\n{b.describe()}")
    b.send(signal.SIGTERM)
    assert b.wait(10) == 0, b.describe()
    warn = [l for l in b.stderr.splitlines() if "still writing" in l]
    assert len(warn) == 1 and warn[0].startswith("blocksnoop: warning: ") and str(log) in warn[0], (
        b.describe())
    assert precious.read_text() == "root's file\n"
    recs = parse_json_lines(rotated.read_text(), where=str(rotated))
    check_common(recs)
    assert recs[-1]["dropped_records"] == {"stdout": 0, "log_file": 0}, recs[-1]
    stdout = [r for r in b.records() if r["type"] == "blocking_event"]
    assert [r["event_number"] for r in recs if r["type"] == "blocking_event"] == [
        r["event_number"] for r in stdout], "records were lost across the refused reopen"


# --------------------------------------------------------------------------
# capabilities kept after set-up


def test_caps_attach_builtin_sampler(bs, blocking_target):
    target, go = blocking_target
    b = bs.start("--json", "-t", "100", str(target.pid))
    b.wait_record("session_start")
    check_kept(b.pid, READ_STACKS)
    go.touch()
    # The stacks are read after the drop (the sampler opens the target
    # lazily): they are still there.
    b.wait_record("blocking_event", pred=lambda r: r["python_stacks"])
    stop(b)


def test_caps_stacks_of_another_users_private_files(bs, procs, nobody_dir):
    """A target run as nobody from a directory only nobody may enter: its
    /proc/<pid>/mem and its source need CAP_DAC_READ_SEARCH, which the
    built-in sampler keeps."""
    for name in ("stacks_target.py", "truthlog.py"):
        shutil.copy(py_fixture(name), nobody_dir / name)
        os.chown(nobody_dir / name, NOBODY, NOBODY)
    app, truth, go = nobody_dir / "stacks_target.py", nobody_dir / "truth", nobody_dir / "go"
    target = procs.start([*AS_NOBODY, PY, str(app), "--count", "1000", "--block", "0.15",
                          "--pause", "0.1", "--go", str(go), "--truth", str(truth)])
    wait_for(lambda: any(r["event"] == "ready" for r in read_truth(truth)), 20, "target ready")
    assert proc_status(target.pid)["Uid"].split()[0] == str(NOBODY)
    b = bs.start("--json", "-t", "100", str(target.pid))
    b.wait_record("session_start")
    check_kept(b.pid, READ_STACKS)
    go.touch()
    e = b.wait_record("blocking_event", pred=lambda r: r["python_stacks"], timeout=30)
    frame = e["python_stacks"][0][0]
    assert frame["file"] == str(app) and frame["function"] == "Worker.block", frame
    assert frame["source"] and "time.sleep(seconds)" in frame["source"], frame
    stop(b)


@pytest.mark.parametrize("args", [["--sampler", "none"], ["--stats"]], ids=["none", "stats"])
def test_caps_nothing_kept_without_stacks(bs, blocking_target, args):
    target, go = blocking_target
    b = bs.start("--json", *args, str(target.pid))
    b.wait_record("session_start")
    check_kept(b.pid, 0)
    go.touch()
    if "--stats" in args:
        # Stats frames read a BPF map every second: still possible.
        b.wait_record("stats", pred=lambda r: r["count"] > 0)
    else:
        b.wait_record("blocking_event")
    stop(b)


def test_caps_launch_signals_a_command_that_changed_user(bs, procs, nobody_dir):
    """Launch mode keeps CAP_KILL: the command may switch to another user
    (here through setpriv), and SIGTERM to blocksnoop must still reach it."""
    # nobody's own copy: the checkout may lie where nobody cannot read (/root)
    for name in ("asyncio_blocks.py", "truthlog.py"):
        shutil.copy(py_fixture(name), nobody_dir / name)
        os.chown(nobody_dir / name, NOBODY, NOBODY)
    b = bs.start("--json", "-t", "100", "--", *AS_NOBODY, PY, str(nobody_dir / "asyncio_blocks.py"),
                 "--count", "0", "--block", "0.15", "--pause", "0.1")
    start = b.wait_record("session_start")
    child = start["pid"]
    procs.adopt(child, "asyncio_blocks.py")
    check_kept(b.pid, READ_STACKS | bits(CAP_KILL))
    wait_for(lambda: proc_status(child)["Uid"].split()[0] == str(NOBODY), 10,
             "the command running as nobody")
    b.wait_record("blocking_event")
    b.send(signal.SIGTERM)
    assert b.wait(20) == 128 + signal.SIGTERM, b.describe()
    assert "Sanitizer" not in b.stderr


def test_caps_austin_restarted_after_drop(bs, procs, tmp_path, trixie_rootfs):
    """--sampler austin keeps what the namespace shim needs to start Austin
    again: kill Austin, and a new one still reads the stacks."""
    go = tmp_path / "go"
    target, _, _ = start_ready_target(
        procs, tmp_path, ["/usr/bin/python3.11", py_fixture("stacks_target.py"), "--count", "1000",
                          "--block", "0.2", "--pause", "0.2", "--go", str(go)])
    b = bs.start("--json", "--sampler", "austin", "--austin-root", str(trixie_rootfs),
                 "-t", "100", str(target.pid))
    b.wait_record("session_start")
    check_kept(b.pid, AUSTIN)
    go.touch()
    b.wait_record("blocking_event", pred=lambda r: r["python_stacks"], timeout=30)
    first = wait_for(lambda: austins_of(b.pid), 10, "Austin under blocksnoop")
    for pid in first:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: [p for p in austins_of(b.pid) if p not in first], 15,
             f"a new Austin\n{b.describe()}")
    seen = len(b.records())
    b.wait_record("blocking_event", timeout=30,
                  pred=lambda r: r["python_stacks"] and r["event_number"] > seen)
    stop(b)


def test_caps_log_reopen_in_directory_of_another_user(bs, tmp_path, blocking_target):
    """A log directory root does not own: CAP_DAC_OVERRIDE is kept (the
    kernel said reopening needs it), and logrotate's rename + SIGHUP still
    creates the new file there."""
    target, go = blocking_target
    d = pathlib.Path(tempfile.mkdtemp(prefix="bs-logdir-", dir="/tmp"))
    try:
        os.chown(d, NOBODY, NOBODY)
        d.chmod(0o755)
        log = d / "bs.log"
        b = bs.start("--json", "-t", "100", "--log-file", str(log), str(target.pid))
        b.wait_record("session_start")
        check_kept(b.pid, READ_STACKS | bits(CAP_DAC_OVERRIDE))
        go.touch()
        wait_for(lambda: len(events_in(log)) >= 1, 15, "an event in the log file")
        os.rename(log, d / "bs.log.1")
        b.send(signal.SIGHUP)
        wait_for(lambda: len(events_in(log)) >= 1, 15, f"the reopened log file\n{b.describe()}")
        stop(b)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_caps_log_in_roots_directory_keeps_no_dac(bs, tmp_path, blocking_target):
    target, _ = blocking_target
    b = bs.start("--json", "--sampler", "none", "--log-file", str(tmp_path / "bs.log"),
                 str(target.pid))
    b.wait_record("session_start")
    check_kept(b.pid, 0)
    stop(b)


def children(pid):
    kids = []
    for task in pathlib.Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def austins_of(pid):
    """Austin processes under blocksnoop (its children, or the shim's)."""
    out, todo = [], [pid]
    while todo:
        for k in children(todo.pop()):
            todo.append(k)
            if " -P -i " in pid_cmdline(k) and " nsexec " not in pid_cmdline(k):
                out.append(k)
    return out
