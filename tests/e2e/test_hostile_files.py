"""A target's files, as a hostile target offers them to blocksnoop: the real
binary attached by PID (--json, built-in sampler) to real interpreters.

  * a target running as uid 65534 in its own mount and PID namespace (a
    Debian 13 root on an overlay) whose code objects name /etc/shadow,
    /proc/self/environ, /proc/self/maps, /dev/zero, a FIFO and a symlink to
    /etc/shadow: no event carries a line of any of them; a file it can read
    is the control (its line is shown);
  * the same in the host's namespaces, with a root-only file of the host;
  * code named after four 16 MiB files of newlines and a 16 MiB line:
    blocksnoop's peak RSS stays within a few MiB of a run on a small file;
  * a target whose interpreter file shrinks and grows back while blocksnoop
    attaches: no SIGBUS, every run ends normally with its events;
  * a source file on a FUSE file system whose daemon stopped answering:
    blocksnoop neither hangs nor shows the line.

Each target writes JSON lines to a truth file ({"event": "ready"}, then a
"block" record per block, with the file name its code carried), waits for a
"go" file, then blocks 0.2 s in code compiled under each name in turn.
"""
import json
import os
import pathlib
import re
import shutil
import signal
import stat
import subprocess
import threading
import time
import uuid

import pytest

from conftest import (PY, attach_and_go, check_common, children, pid_alive, pid_cmdline, read_truth,
                      Result, wait_for)

NOBODY = 65534
# The code every hostile name gets: all on line 1, so that line 1 of the
# named file is what a reader would show.
LINKED_SOURCE = "def linked_block(seconds): __import__('time').sleep(seconds)  # READABLE-LINE\n"
# Lines of /proc/<pid>/maps, should one be shown.
MAPS_LINE = re.compile(r"[0-9a-f]{6,}-[0-9a-f]{6,} [r-][w-][x-][ps] ")

# The target: python3 x.py COMMDIR NAMES COUNT [--drop] [--hold]
TARGET = r'''
import asyncio, json, os, sys, threading, time

comm, names, count = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
SOURCE = %r
fd = os.open(os.path.join(comm, "truth"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

def write(**rec):
    os.write(fd, (json.dumps(rec) + "\n").encode())

plan = []
for name in names:
    if name.startswith("@"):            # real code from a file it reads itself
        name = name[1:]
        with open(name) as f:
            text = f.read()
    else:
        text = SOURCE
    ns = {}
    exec(compile(text, name, "exec"), ns)
    plan.append((ns["linked_block"], name))
if "--drop" in sys.argv:
    os.setgroups([])
    os.setgid(%d)
    os.setuid(%d)

async def run():
    write(event="ready", pid=os.getpid(), uid=os.getuid())
    while not os.path.exists(os.path.join(comm, "go")):
        await asyncio.sleep(0.01)
    for i in range(count):
        for func, name in plan:
            start = time.monotonic_ns()
            func(0.2)
            end = time.monotonic_ns()
            await asyncio.sleep(0)
            write(event="block", file=name, index=i, start_ns=start, end_ns=end)
            await asyncio.sleep(0.1)
    write(event="done")
    while "--hold" in sys.argv and not os.path.exists(os.path.join(comm, "exit")):
        await asyncio.sleep(0.02)

asyncio.run(run())
''' % (LINKED_SOURCE, NOBODY, NOBODY)

ROOT_COMM = "/blocksnoop-comm"  # the comm directory, bind-mounted inside a root


def blocks(truth):
    return [r for r in read_truth(truth) if r["event"] == "block"]


def frame_for(events, block):
    """The frame named after block's file in the event covering block."""
    over = [e for e in events if e["start_ns"] < block["end_ns"] and e["end_ns"] > block["start_ns"]]
    assert len(over) == 1, f"block {block} is covered by {len(over)} events: {events}"
    stacks = over[0]["python_stacks"]
    assert stacks, f"no stack for block {block}: {over[0]}"
    frames = [f for f in stacks[0] if f["file"] == block["file"]]
    assert frames, f"no frame of {block['file']} in {stacks[0]}"
    return frames[0]


def all_sources(records):
    return [f["source"] for r in records for s in (r.get("python_stacks") or [])
            for f in s if f.get("source")]


def comm_dir(parent):
    """A directory where the target and the test talk, that a uid-65534
    target can use (parent must be reachable for it)."""
    d = parent / "comm"
    d.mkdir()
    os.chmod(parent, 0o755)
    os.chmod(d, 0o777)
    return d


@pytest.fixture
def open_dir():
    """A directory a uid-65534 process can reach (pytest's tmp_path lies
    below a 0700 directory); removed afterwards."""
    import tempfile
    d = pathlib.Path(tempfile.mkdtemp(prefix="bs-hostile-"))
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def wait_ready(truth, pid, proc, what):
    return wait_for(
        lambda: next((r for r in read_truth(truth) if r["event"] == "ready"), None)
        or (not pid_alive(pid) and pytest.fail(f"{what} died\n{proc.describe()}")),
        20, f"{what} ready")


class RootedTarget:
    """The target run by a Debian 13 root's /usr/bin/python3, as PID 1 of its
    own PID namespace, in its own mount namespace, chroot'ed into an overlay
    of the shared root (never written: upper holds this test's files). With
    fuse, a fuse-overlayfs mount of fuse_lower is put at /fusedir inside the
    root; its daemon's PID is self.fuse_pid."""

    def __init__(self, procs, tmp_path, rootfs, upper_files, args, fuse_lower=None):
        self.tmp = tmp_path / "ct"
        upper = self.tmp / "upper"
        self.comm = comm_dir(tmp_path)
        for d in (upper / "app", upper / ROOT_COMM.lstrip("/"), upper / "fusedir",
                  self.tmp / "work", self.tmp / "merged"):
            d.mkdir(parents=True)
        (upper / "app" / "x.py").write_text(TARGET)
        for make in upper_files:
            make(upper)
        merged = str(self.tmp / "merged")
        fuse = ""
        if fuse_lower:
            for d in ("fupper", "fwork"):
                (self.tmp / d).mkdir()
            fuse = ('fuse-overlayfs -f -o "lowerdir=%s,upperdir=%s,workdir=%s" "$4/fusedir" & '
                    'echo $! > "$5/fuse.pid"; i=0; until mountpoint -q "$4/fusedir"; do '
                    'i=$((i+1)); [ $i -gt 200 ] && exit 1; sleep 0.02; done; '
                    % (fuse_lower, self.tmp / "fupper", self.tmp / "fwork"))
        script = ('mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4" '
                  '&& mount --bind "$5" "$4$6" && ' + fuse +
                  'shift 6 && exec unshare --pid --fork --kill-child --mount-proc --root="$0" "$@"')
        self.proc = procs.start(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, merged,
             str(rootfs), str(upper), str(self.tmp / "work"), merged, str(self.comm), ROOT_COMM,
             "/usr/bin/python3", "/app/x.py", ROOT_COMM, *args])
        self.fuse_pid = None
        if fuse_lower:
            pidfile = self.comm / "fuse.pid"
            self.fuse_pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(),
                                         20, "the FUSE daemon"))
            procs.adopt(self.fuse_pid, "fuse-overlayfs")

        def python_child():
            if self.proc.p.poll() is not None:
                pytest.fail(f"unshare exited\n{self.proc.describe()}")
            return next((k for k in children(self.proc.pid)
                         if pid_cmdline(k).startswith("/usr/bin/python3 /app/x.py ")), None)
        self.pid = wait_for(python_child, 20, "the Python in the namespace")
        procs.adopt(self.pid, "/app/x.py")
        self.truth = self.comm / "truth"
        self.ready = wait_ready(self.truth, self.pid, self.proc, "x.py")


def host_target(procs, tmp_path, names, count=1, extra=(), python=PY):
    """The target in the host's namespaces."""
    comm = comm_dir(tmp_path)
    script = tmp_path / "x.py"
    script.write_text(TARGET)
    os.chmod(script, 0o644)
    p = procs.start([python, str(script), str(comm), ",".join(names), str(count), *extra])
    ready = wait_ready(comm / "truth", p.pid, p, "x.py")
    return p, comm, ready


def attach(bs, pid, comm, *args, env=None, timeout=60):
    b = bs.start("--json", "-t", "100", *args, str(pid), env=env)
    b.wait_record("session_start")
    time.sleep(0.3)
    (comm / "go").touch()
    os.chmod(comm / "go", 0o644)
    return b


def check_nothing_leaked(res, secrets):
    for s in secrets:
        assert s not in res.stdout, f"{s!r} leaked into the output\n{res}"
    for src in all_sources(res.records):
        assert not MAPS_LINE.match(src), f"a memory map line was shown: {src!r}\n{res}"


# --------------------------------------------------------------------------
# 1. names the target may not read


def test_container_target_as_nobody(bs, procs, tmp_path, trixie_rootfs):
    tag = f"SHADOWSECRET{uuid.uuid4().hex[:8]}"
    env_tag = f"BSENVSECRET{uuid.uuid4().hex[:8]}"

    def shadow(upper):
        etc = upper / "etc"
        etc.mkdir()
        (etc / "shadow").write_text("".join(f"root{n}:{tag}:20000:0:99999:7:::\n"
                                            for n in range(10)))
        os.chown(etc / "shadow", 0, 42)  # group shadow
        os.chmod(etc / "shadow", 0o640)

    def app_files(upper):
        app = upper / "app"
        (app / "readable.py").write_text(LINKED_SOURCE)
        os.chmod(app / "readable.py", 0o644)
        os.mkfifo(app / "fifo.py", 0o666)
        os.symlink("/etc/shadow", app / "shadow-link.py")

    names = ["/etc/shadow", "/proc/self/environ", "/proc/self/maps", "/dev/zero",
             "/app/fifo.py", "/app/shadow-link.py", "/app/readable.py"]
    ct = RootedTarget(procs, tmp_path, trixie_rootfs, [shadow, app_files],
                      [",".join(names), "1", "--drop"])
    assert ct.ready["uid"] == NOBODY and ct.ready["pid"] == 1, ct.ready
    env = dict(os.environ, BLOCKSNOOP_TEST_MARKER=env_tag)
    b = attach(bs, ct.pid, ct.comm, env=env)
    assert b.wait(60) == 0, b.describe()
    res = Result(b)
    check_common(res.records)
    check_nothing_leaked(res, [tag, env_tag])
    got = {blk["file"]: frame_for(res.events, blk) for blk in blocks(ct.truth)}
    assert sorted(got) == sorted(names), got
    for name, f in got.items():
        want = LINKED_SOURCE.strip() if name == "/app/readable.py" else None
        assert f["source"] == want, f"{name}: source {f['source']!r}, wanted {want!r}\n{res}"


def test_host_target_as_nobody(bs, procs, open_dir):
    """In the host's namespaces /proc/self is blocksnoop's own: its
    environment and memory map must not be shown, nor a root-only file."""
    tag = f"ROOTONLY{uuid.uuid4().hex[:8]}"
    env_tag = f"BSENVSECRET{uuid.uuid4().hex[:8]}"
    tmp_path = open_dir
    files = tmp_path / "files"
    files.mkdir()
    os.chmod(files, 0o755)
    secret = files / "secret.py"
    secret.write_text("".join(f"{tag} = {n}\n" for n in range(10)))
    os.chmod(secret, 0o600)
    os.symlink(secret, files / "link.py")
    readable = files / "readable.py"
    readable.write_text(LINKED_SOURCE)
    os.chmod(readable, 0o644)
    os.mkfifo(files / "fifo.py", 0o666)
    names = ["/proc/self/environ", "/proc/self/maps", str(secret), str(files / "link.py"),
             "/dev/zero", str(files / "fifo.py"), str(readable)]
    p, comm, ready = host_target(procs, tmp_path, names, extra=["--drop"])
    assert ready["uid"] == NOBODY, ready
    b = attach(bs, p.pid, comm, env=dict(os.environ, BLOCKSNOOP_TEST_MARKER=env_tag))
    assert b.wait(60) == 0, b.describe()
    res = Result(b)
    check_common(res.records)
    check_nothing_leaked(res, [tag, env_tag, "BLOCKSNOOP_TEST_MARKER"])
    got = {blk["file"]: frame_for(res.events, blk) for blk in blocks(comm / "truth")}
    assert sorted(got) == sorted(names), got
    for name, f in got.items():
        want = LINKED_SOURCE.strip() if name == str(readable) else None
        assert f["source"] == want, f"{name}: source {f['source']!r}, wanted {want!r}\n{res}"


# --------------------------------------------------------------------------
# 2. huge files: memory


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l for l in f if l.startswith("VmHWM:")).split()[1])


def peak_rss_run(bs, procs, tmp_path, names):
    """blocksnoop's peak RSS (KiB) over a run on a target blocking in code
    named after names, 3 times each; read before it exits (the target
    holds until told to exit)."""
    p, comm, _ = host_target(procs, tmp_path, names, count=3, extra=["--hold"])
    b = attach(bs, p.pid, comm)
    wait_for(lambda: any(r["event"] == "done" for r in read_truth(comm / "truth"))
             or (p.p.poll() is not None and pytest.fail(p.describe())), 60, "the blocks")
    time.sleep(0.5)  # the last event's stacks are formatted after the gap ends
    hwm = vm_hwm_kib(b.pid)
    (comm / "exit").touch()
    assert b.wait(30) == 0, b.describe()
    res = Result(b)
    assert len(blocks(comm / "truth")) == 3 * len(names)
    assert len(res.events) >= 3 * len(names), res
    return hwm, res


def test_huge_source_files_do_not_bloat(bs, procs, tmp_path):
    """Four 16 MiB files of newlines and one 16 MiB line, each named by code
    that blocks 3 times: blocksnoop holds only the lines it shows, so its
    peak RSS stays within 24 MiB of the same run on a small file (cache
    2 MiB, 64 KiB read buffer; with whole files cached it was over 600 MiB).
    The margin is relative so that it holds for sanitizer builds too."""
    big = tmp_path / "big"
    big.mkdir()
    names = []
    for i in range(4):
        f = big / f"newlines{i}.py"
        with open(f, "wb") as out:
            out.write(b"\n" * (16 << 20))
        names.append(str(f))
    one_line = big / "oneline.py"
    with open(one_line, "wb") as out:
        out.write(b"A" * (16 << 20))
    names.append(str(one_line))
    small = tmp_path / "small"
    small.mkdir()
    control = small / "small.py"
    control.write_text(LINKED_SOURCE)

    control_hwm, _ = peak_rss_run(bs, procs, small, [str(control)])
    hwm, res = peak_rss_run(bs, procs, big, names)
    assert hwm - control_hwm < 24 * 1024, (
        f"peak RSS {hwm} KiB against {control_hwm} KiB for a small file\n{res}")
    for blk in blocks(big / "comm" / "truth"):
        f = frame_for(res.events, blk)
        if blk["file"] == str(one_line):
            # line 1 is 16 MiB of "A": shown cut
            assert f["source"] and set(f["source"]) == {"A"} and len(f["source"]) <= 1024, f
        else:
            assert f["source"] in ("", None), f


# --------------------------------------------------------------------------
# 3. the interpreter's file shrinks while blocksnoop reads it

LOOP = r'''
import asyncio, time
async def main():
    while True:
        time.sleep(0.06)  # LOOP-LINE
        await asyncio.sleep(0.03)
asyncio.run(main())
'''


def loaded_end(elf):
    """Where the file's last PT_LOAD segment ends, rounded up to a page:
    a process that maps the file touches nothing after it."""
    phoff = int.from_bytes(elf[0x20:0x28], "little")
    phentsize = int.from_bytes(elf[0x36:0x38], "little")
    phnum = int.from_bytes(elf[0x38:0x3a], "little")
    end = 0
    for i in range(phnum):
        ph = elf[phoff + i * phentsize:phoff + (i + 1) * phentsize]
        if int.from_bytes(ph[0:4], "little") == 1:  # PT_LOAD
            offset = int.from_bytes(ph[8:16], "little")
            filesz = int.from_bytes(ph[32:40], "little")
            end = max(end, offset + filesz)
    return (end + 0xfff) & ~0xfff


def test_interpreter_file_truncated_while_attaching(bs, procs, tmp_path):
    """Debian's static python3.11, copied and run through the dynamic
    loader (so the kernel does not protect it from writes, as it does an
    executable it exec'ed), is mapped like a shared libpython and named
    like one. A 1 MiB section added to the copy puts the section headers a
    megabyte past what the loader maps. While blocksnoop attaches again and
    again, the file is cut to the end of its last loaded page (what the
    interpreter runs from stays) and restored. Mapping the file, blocksnoop
    died of SIGBUS; reading it, a cut file is a clean "no _PyRuntime" and
    the sampler tries again."""
    d = tmp_path / "py"
    d.mkdir()
    (d / "blob").write_bytes(os.urandom(1 << 20))
    lib = d / "libpython3.11.so.1.0"
    subprocess.run(["objcopy", "--add-section", f".blob={d / 'blob'}", "/usr/bin/python3.11",
                    str(lib)], check=True, timeout=60)
    original = lib.read_bytes()
    cut = loaded_end(original)
    e_shoff = int.from_bytes(original[0x28:0x30], "little")
    assert cut + (512 << 10) < e_shoff, (cut, e_shoff)
    app = d / "loop.py"
    app.write_text(LOOP)
    target = procs.start(["/lib64/ld-linux-x86-64.so.2", str(lib), str(app)])
    wait_for(lambda: any(str(lib) in l for l in open(f"/proc/{target.pid}/maps")), 10,
             "the interpreter mapped")

    stop = threading.Event()
    flips = [0]

    def flip():
        fd = os.open(lib, os.O_WRONLY)
        try:
            while not stop.is_set():
                os.ftruncate(fd, cut)
                time.sleep(0.0002)
                os.pwrite(fd, original[cut:], cut)
                flips[0] += 1
                time.sleep(0.0002)
        finally:
            os.pwrite(fd, original[cut:], cut)
            os.close(fd)

    flipper = threading.Thread(target=flip, daemon=True)
    flipper.start()
    stacks = 0
    try:
        for run in range(20):
            res = bs.run("--json", "-t", "30", "--duration", "0.6", str(target.pid), timeout=30)
            assert res.rc != -signal.SIGBUS, f"run {run}: blocksnoop died of SIGBUS\n{res}"
            assert res.rc == 0, f"run {run}\n{res}"
            check_common(res.records)
            assert res.events, f"run {run}: no events\n{res}"
            stacks += sum(1 for e in res.events if e["python_stacks"])
            assert target.p.poll() is None, f"the target died\n{target.describe()}"
    finally:
        stop.set()
        flipper.join(10)
    assert flips[0] > 100, flips
    assert stacks > 0, "no run ever read the target's stacks: the test proves nothing"


# --------------------------------------------------------------------------
# 4. a source file on FUSE whose daemon does not answer


def test_source_on_stopped_fuse_daemon(bs, procs, tmp_path, trixie_rootfs):
    """The target's code comes from /fusedir/f.py on a fuse-overlayfs mount
    in its mount namespace (read while the daemon ran). Then the daemon is
    stopped: any request to it waits forever. blocksnoop must not ask:
    it ends normally, that frame without its line, the others with theirs."""
    lower = tmp_path / "fuse-lower"
    lower.mkdir()
    (lower / "f.py").write_text(LINKED_SOURCE)

    def app_files(upper):
        (upper / "app" / "readable.py").write_text(LINKED_SOURCE)

    ct = RootedTarget(procs, tmp_path, trixie_rootfs, [app_files],
                      ["@/fusedir/f.py,/app/readable.py", "2"], fuse_lower=lower)
    os.kill(ct.fuse_pid, signal.SIGSTOP)
    try:
        b = attach(bs, ct.pid, ct.comm)
        rc = b.wait(40)  # fails here if blocksnoop waits for the daemon
        assert rc == 0, b.describe()
        res = Result(b)
        check_common(res.records)
        got = [(blk["file"], frame_for(res.events, blk)["source"])
               for blk in blocks(ct.truth)]
        assert sorted(got) == sorted([("/fusedir/f.py", None),
                                      ("/app/readable.py", LINKED_SOURCE.strip())] * 2), got
    finally:
        os.kill(ct.fuse_pid, signal.SIGCONT)
