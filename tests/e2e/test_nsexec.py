"""End-to-end tests of the nsexec shim (nsexec/, docs/nsexec.md): the real
Austin 3.7.0 of a Debian 13 root file system, run through the shim against
real Python targets in real namespaces.

Austin 3.7.0 needs glibc >= 2.38, so on this Debian 12 host it runs only
through its own root's loader: exactly what the shim arranges. Targets:
  * a host Python 3.11 (same namespaces: only the loader path is needed);
  * a Python 3.13 in its own PID + mount namespace whose root is an overlay
    of the Debian 13 root (`unshare --root`), attached by host PID;
  * the same with a read-only root that has no austin and no shell.

The shim is driven two ways: `blocksnoop nsexec ...` (its internal
argument form) and nsexec_spawn() through the driver mode of the unit-test
binary build/tests/test_nsexec (`make unit` builds it; NSEXEC_DRIVER
overrides the path). Nothing is skipped when something is missing.

The Debian 13 root with Austin is the shared one `make e2e` builds (the
trixie_rootfs fixture of conftest.py), only ever read. Each target's
root is an overlay in a private mount namespace, so nothing is mounted on
the host and nothing is written to the shared roots; every process is
killed by PID.
"""
import errno
import os
import pathlib
import shutil
import signal
import socket
import stat
import subprocess
import time

import pytest

from conftest import (BLOCKSNOOP, ROOT, children, nspid, pid_alive, pid_cmdline, wait_for)

DRIVER = os.environ.get("NSEXEC_DRIVER", str(ROOT / "build" / "tests" / "test_nsexec"))
TARGET_SRC = ROOT / "tests" / "fixtures" / "nsexec_target.py"
CAP_SYS_PTRACE = "0x80000"
NSEXEC_EXIT_FAILED = 125
AUSTIN = "/usr/bin/austin"
# What the program's loader cmdline looks like (the marker used to kill
# Austin by PID if a test leaves it behind).
FD_MARKER = "/proc/self/fd/"
# The shim's environment is the program's. Without this Austin sends its log
# to /dev/log, which through the shim is the target's.
AUSTIN_ENV = {"AUSTIN_NO_LOGGING": "1"}


# --------------------------------------------------------------------------
# root file systems


def austin_in(root):
    """The root's Austin, started through the root's loader, says 3.x."""
    root = pathlib.Path(root)
    if not ((root / "usr/bin/austin").is_file() and (root / "usr/bin/python3.13").exists()):
        return False
    r = subprocess.run([str(root / "lib64/ld-linux-x86-64.so.2"), "--library-path",
                        str(root / "lib/x86_64-linux-gnu"), str(root / "usr/bin/austin"), "-V"],
                       capture_output=True, text=True, timeout=30)
    return r.returncode == 0 and r.stdout.startswith("austin 3.")


@pytest.fixture(scope="session")
def austin_root(trixie_rootfs):
    """A Debian 13 root with Austin 3.x and Python 3.13 (read only here)."""
    assert austin_in(trixie_rootfs), f"no working Austin 3.x in {trixie_rootfs}"
    return trixie_rootfs


@pytest.fixture(scope="session")
def target_lower(austin_root):
    """The lower layer of the targets' roots (an overlay keeps it unchanged)."""
    return austin_root


@pytest.fixture(scope="session")
def driver():
    assert os.access(DRIVER, os.X_OK), (
        f"missing {DRIVER}: run `make build/tests/test_nsexec` (or `make unit`), "
        "or set NSEXEC_DRIVER")
    return DRIVER


# --------------------------------------------------------------------------
# helpers


def child_of(pid, what):
    return wait_for(lambda: (children(pid) or [None])[0], 10, f"the child of {what} ({pid})")


def same_ns(pid, ns):
    return os.stat(f"/proc/{pid}/ns/{ns}").st_ino == os.stat(f"/proc/self/ns/{ns}").st_ino


def snapshot(root):
    """Every entry under root (but /proc) with its type, size and mtime."""
    out = {}
    root = str(root)
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == ".":
            dirnames[:] = [d for d in dirnames if d != "proc"]
        st = os.lstat(dirpath)
        out[rel] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            st = os.lstat(os.path.join(dirpath, name))
            out[os.path.join(rel, name)] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)
    return out


def assert_unchanged(before, after, where):
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    assert not (added or removed or changed), (
        f"{where} changed: added {added[:20]}, removed {removed[:20]}, changed {changed[:20]}")


def austin_args(pid, *, seconds=1):
    args = [AUSTIN, "-P", "-i", "10ms", "-p", str(pid)]
    if seconds:
        args[1:1] = ["-x", str(seconds)]
    return args


def shim_cli(target, root, program_args, keep=CAP_SYS_PTRACE):
    return [BLOCKSNOOP, "nsexec", "--target", str(target), "--root", str(root),
            "--keep-caps", keep, "--", *program_args]


def driver_cmd(driver, target, root, program_args, keep=CAP_SYS_PTRACE):
    return [driver, "spawn", str(target), str(root), keep.removeprefix("0x"), "--",
            *program_args]


def check_samples(out, *, version, file):
    """Austin's pipe-mode output: the Python version and samples that go
    through blocker() in file."""
    assert f"# python: {version}" in out, f"no '# python: {version}' header:\n{out[:2000]}"
    samples = [l for l in out.splitlines() if l.startswith("P")]
    hits = [l for l in samples if f"{file}:blocker:" in l and f"{file}:main:" in l]
    assert hits, f"no sample through {file}:blocker in {len(samples)} samples:\n{out[:3000]}"
    return hits


def austin_direct(austin_root, args):
    """Austin started through its root's loader on the host, no shim."""
    r = pathlib.Path(austin_root)
    return [str(r / "lib64/ld-linux-x86-64.so.2"), "--library-path",
            str(r / "lib/x86_64-linux-gnu"), str(r / "usr/bin/austin"), *args[1:]]


def driver_pid(proc, what="nsexec-pid"):
    """The shim's PID, from the driver's 'nsexec-pid N' line."""
    line = wait_for(lambda: next((l for l in proc.stderr.splitlines() if l.startswith(what)),
                                 None) or (proc.p.poll() is not None and pytest.fail(
                                     f"the driver exited\n{proc.describe()}")),
                    15, f"{what} from the driver")
    return int(line.split()[1])


# --------------------------------------------------------------------------
# targets


@pytest.fixture
def host_target(procs):
    """Debian 12's /usr/bin/python3.11 running the target, in our namespaces."""
    p = procs.start(["/usr/bin/python3.11", str(TARGET_SRC)],
                    env={"PYTHONDONTWRITEBYTECODE": "1"})
    wait_for(lambda: "ready" in p.stdout or (p.p.poll() is not None and pytest.fail(
        p.describe())), 15, "the host target")
    return p


class Container:
    """The target as PID 1 of its own PID + mount namespace, root = an
    overlay of lower (never written) and a layer of ours holding /app/x.py
    and whiteouts for hide. Read-only: both are lower layers. The overlay
    is mounted in a private mount namespace: it goes away with the
    processes."""

    def __init__(self, procs, tmp_path, lower, *, readonly=False, hide=(), mount_proc=True,
                 devlog=False):
        self.tmp = tmp_path / "ct"
        self.layer = self.tmp / "layer"
        merged = self.tmp / "merged"
        (self.layer / "app").mkdir(parents=True)
        merged.mkdir()
        shutil.copy(TARGET_SRC, self.layer / "app" / "x.py")
        self.devlog, sock = None, ""
        if devlog:
            # A syslog socket of ours bind-mounted at the target's /dev/log
            # (as containers that log to the host's syslog have it; a socket
            # inside an overlay layer cannot be connected to).
            sock = str(self.tmp / "log.sock")
            self.devlog = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.devlog.bind(sock)
            self.devlog.setblocking(False)
            (self.layer / "dev").mkdir()
            (self.layer / "dev" / "log").touch()
        for h in hide:
            w = self.layer / h
            w.parent.mkdir(parents=True, exist_ok=True)
            os.mknod(w, stat.S_IFCHR | 0o000, os.makedev(0, 0))  # an overlay whiteout
        if readonly:
            opts = f"ro,lowerdir={self.layer}:{lower}"
        else:
            (self.tmp / "work").mkdir()
            opts = f"lowerdir={lower},upperdir={self.layer},workdir={self.tmp / 'work'}"
        inner = ["unshare", "--pid", "--fork", "--kill-child"]
        inner += ["--mount-proc"] if mount_proc else ["--mount"]
        script = ('mount -t overlay overlay -o "$1" "$2" && '
                  '{ [ -z "$3" ] || mount --bind "$3" "$2/dev/log"; } && shift 3 && exec "$@"')
        self.proc = procs.start(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
             opts, str(merged), sock, *inner, f"--root={merged}", "/usr/bin/python3",
             "/app/x.py"],
            env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"})
        wait_for(lambda: "ready" in self.proc.stdout or (
            self.proc.p.poll() is not None and pytest.fail(self.proc.describe())),
            20, "the container's target")
        # The shell exec'ed the inner unshare, whose child is the Python.
        self.pid = child_of(self.proc.pid, "unshare")
        procs.adopt(self.pid, "/app/x.py")
        self.root = pathlib.Path(f"/proc/{self.pid}/root")
        ids = nspid(self.pid)
        assert len(ids) == 2 and ids[-1] == 1, ids
        self.nspid = ids[-1]
        assert not same_ns(self.pid, "pid") and not same_ns(self.pid, "mnt")

    def snapshot(self):
        return snapshot(self.root), snapshot(self.layer)

    def logged(self):
        """Datagrams received on the target's /dev/log since the last call."""
        out = []
        while True:
            try:
                out.append(self.devlog.recv(65536))
            except BlockingIOError:
                return out

    def close(self):
        if self.devlog:
            self.devlog.close()


def run(procs, argv, timeout=60, env=AUSTIN_ENV):
    p = procs.start(argv, env=env)
    p.wait(timeout)
    return p


def adopt_austin(procs, shim_pid):
    """Austin (the shim's child): its host PID, killed at teardown if left."""
    pid = child_of(shim_pid, "the shim")
    procs.adopt(pid, FD_MARKER)
    # The child may not have exec'ed Austin yet.
    wait_for(lambda: FD_MARKER in pid_cmdline(pid), 10, f"Austin's command line in {pid}")
    return pid


def assert_gone(pid, what, grace=3.0):
    deadline = time.monotonic() + grace
    while pid_alive(pid):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} (pid {pid}: {pid_cmdline(pid)!r}) still runs")
        time.sleep(0.02)


# --------------------------------------------------------------------------
# (a) same namespaces: only the loader path


def test_host_python_same_namespaces(procs, austin_root, host_target):
    t = host_target.pid
    assert same_ns(t, "mnt") and same_ns(t, "pid")
    p = run(procs, shim_cli(t, austin_root, austin_args(t)))
    assert p.rc == 0, p.describe()
    check_samples(p.stdout, version="3.11", file=str(TARGET_SRC))
    assert p.stderr == "", p.describe()


# --------------------------------------------------------------------------
# (b) a Python 3.13 in its own PID + mount namespace, attached by host PID


@pytest.mark.parametrize("via", ["cli", "spawn"])
def test_container_target(procs, tmp_path, austin_root, target_lower, driver, via):
    ct = Container(procs, tmp_path, target_lower, devlog=True)
    # the target's /dev/log reaches our socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(b"probe", str(ct.root / "dev" / "log"))
    assert wait_for(ct.logged, 5, "the probe on the target's /dev/log") == [b"probe"]
    before = ct.snapshot()
    args = austin_args(ct.nspid)
    argv = (shim_cli(ct.pid, austin_root, args) if via == "cli"
            else driver_cmd(driver, ct.pid, austin_root, args))
    p = run(procs, argv)
    assert p.rc == 0, p.describe()
    hits = check_samples(p.stdout, version="3.13", file="/app/x.py")
    # The standard library's frames are the root's (the host has no 3.13).
    assert "/usr/lib/python3.13/asyncio/" in hits[0], hits[0]
    assert not os.path.exists("/usr/lib/python3.13/asyncio")
    if via == "spawn":
        assert "nsexec-exit 0" in p.stderr, p.describe()
    # (d) nothing new in the target's root, nothing in the overlay's upper
    # layer, nothing sent to its /dev/log
    after = ct.snapshot()
    assert_unchanged(before[0], after[0], "the target's root")
    assert_unchanged(before[1], after[1], "the overlay's upper layer")
    assert ct.logged() == []
    assert pid_alive(ct.pid)
    if via == "cli":
        # The control: without AUSTIN_NO_LOGGING, Austin does log there.
        p = run(procs, shim_cli(ct.pid, austin_root, args), env={})
        assert p.rc == 0, p.describe()
        got = wait_for(ct.logged, 5, "Austin's log on the target's /dev/log")
        assert any(b"austin" in m for m in got), got
    ct.close()


# --------------------------------------------------------------------------
# (c) read-only root, no austin (and no shell) in it


HIDE = ["usr/bin/austin", "usr/bin/austinp", "usr/bin/sh", "usr/bin/dash", "usr/bin/bash"]


def test_readonly_root_without_austin(procs, tmp_path, austin_root, target_lower, driver):
    ct = Container(procs, tmp_path, target_lower, readonly=True, hide=HIDE)
    for h in HIDE:
        assert not os.path.lexists(ct.root / h), f"{h} is in the target's root"
    with pytest.raises(OSError) as e:
        (ct.root / "tmp" / "probe").write_text("x")
    assert e.value.errno == errno.EROFS
    before = ct.snapshot()
    p = run(procs, driver_cmd(driver, ct.pid, austin_root, austin_args(ct.nspid)))
    assert p.rc == 0, p.describe()
    check_samples(p.stdout, version="3.13", file="/app/x.py")
    after = ct.snapshot()
    assert_unchanged(before[0], after[0], "the target's root")
    assert_unchanged(before[1], after[1], "the target's layer")


# --------------------------------------------------------------------------
# (e) signals and exit status


def test_sigterm_ends_austin(procs, tmp_path, austin_root, target_lower, driver, host_target):
    # What Austin itself exits with on SIGTERM (run directly on the host).
    direct = procs.start(austin_direct(austin_root, austin_args(host_target.pid, seconds=0)),
                         env=AUSTIN_ENV)
    wait_for(lambda: "# python:" in direct.stdout, 15, "samples from Austin run directly")
    direct.send(signal.SIGTERM)
    austin_rc = direct.wait(15)

    ct = Container(procs, tmp_path, target_lower)
    p = procs.start(driver_cmd(driver, ct.pid, austin_root, austin_args(ct.nspid, seconds=0)),
                    env=AUSTIN_ENV)
    shim = driver_pid(p)
    austin = adopt_austin(procs, shim)
    # Austin runs in the target's PID namespace, where it has its own PID,
    # with the environment it was given and nothing else.
    ids = nspid(austin)
    assert len(ids) == 2 and ids[0] == austin, ids
    with open(f"/proc/{austin}/environ", "rb") as f:
        assert f.read() == b"AUSTIN_NO_LOGGING=1\0"
    with open(f"/proc/{shim}/comm") as f:
        assert f.read().strip() == "bs-nsexec"
    wait_for(lambda: "/app/x.py:blocker:" in p.stdout, 15, "samples through the shim")
    os.kill(shim, signal.SIGTERM)
    rc = p.wait(15)
    assert f"nsexec-exit {austin_rc}" in p.stderr, (austin_rc, p.describe())
    assert rc == austin_rc
    assert_gone(austin, "Austin")
    assert pid_alive(ct.pid)


def test_sigkill_shim_kills_austin(procs, tmp_path, austin_root, target_lower):
    ct = Container(procs, tmp_path, target_lower)
    p = procs.start(shim_cli(ct.pid, austin_root, austin_args(ct.nspid, seconds=0)),
                    env=AUSTIN_ENV)
    austin = adopt_austin(procs, p.pid)
    wait_for(lambda: "/app/x.py:blocker:" in p.stdout, 15, "samples")
    p.send(signal.SIGKILL)
    assert p.wait(10) == -signal.SIGKILL
    assert_gone(austin, "Austin after SIGKILL of the shim")
    # Not even a zombie: it was reparented to our namespace's reaper, not to
    # the target's init (a Python that never reaps).
    wait_for(lambda: not os.path.exists(f"/proc/{austin}"), 5, f"Austin ({austin}) reaped")
    assert pid_alive(ct.pid)


def test_sigkill_blocksnoop_side_kills_all(procs, tmp_path, austin_root, target_lower, driver):
    """The process that called nsexec_spawn() dies: the shim and Austin follow."""
    ct = Container(procs, tmp_path, target_lower)
    p = procs.start(driver_cmd(driver, ct.pid, austin_root, austin_args(ct.nspid, seconds=0)),
                    env=AUSTIN_ENV)
    shim = driver_pid(p)
    procs.adopt(shim, "nsexec")
    austin = adopt_austin(procs, shim)
    wait_for(lambda: "/app/x.py:blocker:" in p.stdout, 15, "samples")
    p.send(signal.SIGKILL)
    p.wait(10)
    assert_gone(shim, "the shim after SIGKILL of its parent")
    assert_gone(austin, "Austin after SIGKILL of the shim's parent")
    assert pid_alive(ct.pid)


def test_exit_status_not_python(procs, austin_root, driver):
    """Austin's own status for a target that is not Python comes back."""
    sleeper = procs.start(["/bin/sleep", "120"])
    wait_for(lambda: "sleep" in pid_cmdline(sleeper.pid), 5, "sleep to start")
    args = austin_args(sleeper.pid)
    direct = run(procs, austin_direct(austin_root, args))
    assert direct.rc not in (0, NSEXEC_EXIT_FAILED), direct.describe()
    assert direct.rc == 32, direct.describe()  # Austin 3.7: "not a Python process"
    p = run(procs, shim_cli(sleeper.pid, austin_root, args))
    assert p.rc == direct.rc, p.describe()
    assert "not a Python" in p.stderr + p.stdout, p.describe()
    p = run(procs, driver_cmd(driver, sleeper.pid, austin_root, args))
    assert p.rc == direct.rc and f"nsexec-exit {direct.rc}" in p.stderr, p.describe()


# --------------------------------------------------------------------------
# failures: one line, status 125 (or -errno from nsexec_spawn), nothing left


def one_error_line(p):
    lines = p.stderr.splitlines()
    assert p.rc == NSEXEC_EXIT_FAILED, p.describe()
    assert len(lines) == 1 and lines[0].startswith("blocksnoop: error: nsexec: "), p.describe()
    assert p.stdout == "", p.describe()
    return lines[0]


def test_errors(procs, tmp_path, austin_root, target_lower, driver, host_target):
    t = host_target.pid
    line = one_error_line(run(procs, shim_cli(t, austin_root, ["/usr/bin/no-such-austin"])))
    assert "/usr/bin/no-such-austin" in line and "No such file" in line, line

    gone = procs.start(["/bin/true"])
    gone.wait(10)
    line = one_error_line(run(procs, shim_cli(gone.pid, austin_root, austin_args(1))))
    assert f"no process {gone.pid}" in line, line

    line = one_error_line(run(procs, [BLOCKSNOOP, "nsexec", "--target", "1", "--root", "/",
                                      "--keep-caps", "80000", "--", AUSTIN]))
    assert "--keep-caps" in line, line

    # through nsexec_spawn(): -errno and the reason, nothing left running
    p = run(procs, driver_cmd(driver, t, austin_root, ["/usr/bin/no-such-austin"]))
    assert p.rc == NSEXEC_EXIT_FAILED, p.describe()
    assert f"nsexec-error {errno.ENOENT} " in p.stderr, p.describe()
    assert "nsexec-pid" not in p.stderr

    # a target root without /proc: everything is loaded before the shim's
    # child enters the target, so Austin starts; it finds no /proc/1 there
    # and says so with its own status
    ct = Container(procs, tmp_path, target_lower, mount_proc=False)
    p = run(procs, driver_cmd(driver, ct.pid, austin_root, austin_args(ct.nspid)))
    assert p.rc not in (0, NSEXEC_EXIT_FAILED), p.describe()
    assert "nsexec-pid" in p.stderr and f"nsexec-exit {p.rc}" in p.stderr, p.describe()
    assert pid_alive(ct.pid)
