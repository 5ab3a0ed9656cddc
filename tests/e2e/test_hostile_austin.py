"""Hostile targets against the Austin helper (nsexec/, docs/nsexec.md,
docs/security.md "The Austin helper"): a container whose root tries to get
its code run inside the helper, which runs as uid 0 with CAP_SYS_PTRACE.

Each target is a Python 3.13 (or a planted program) as PID 1 of its own
PID + mount namespace, its root an overlay of the shared Debian 13 root
(never written) and an upper layer of the test's. Once it runs, the test
plants, through /proc/<pid>/root:

  * preload-path   /etc/ld.so.preload naming a library by absolute path;
  * preload-cache  /etc/ld.so.preload naming a library by soname, found
                   through an ld.so.cache (made with ldconfig -r) that
                   points into /opt/planted, which also holds a libc.so.6
                   (Austin's own soname);
  * needed-cache   (driver only) a program of blocksnoop's side that needs
                   a library the root does not have, which the target's
                   cache offers;
  * exec           the target's executable is a planted program named
                   like a Python without symbols, so that Austin 3.7 runs
                   "<it> -V" through the shell (popen) to learn its version.

The planted code (compiled here with clang, nothing prebuilt) leaves a mark
in whatever root it runs in, and tries to reach a host directory by its
absolute path and through every directory fd it inherited (".." out of any
chroot), to read a secret there and write a mark.

Each runs through the nsexec driver (tests/unit/test_nsexec spawn) and
through `blocksnoop --sampler austin --austin-root ROOT PID`. And a target
in blocksnoop's own namespaces: an ELF --austin (a reporter compiled here)
is confined all the same. Asserted: no
mark anywhere, the helper ran (samples with the target's blocker() arrive,
for the Python targets), and while it runs the helper holds fds 0-2 only,
CAP_SYS_PTRACE only, no_new_privs, a seccomp filter, and the target's root.
Everything started is killed by PID; mounts live in private namespaces.
"""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import uuid

import pytest

from conftest import (BLOCKSNOOP, ROOT, children, pid_alive, pid_cmdline, Result, wait_for)

DRIVER = os.environ.get("NSEXEC_DRIVER", str(ROOT / "build" / "tests" / "test_nsexec"))
CAP_SYS_PTRACE = 0x80000
NSEXEC_EXIT_FAILED = 125
AUSTIN = "/usr/bin/austin"
LIBDIR = "/usr/lib/x86_64-linux-gnu"

TARGET_PY = '''\
import asyncio
import time


def blocker():
    time.sleep(0.2)  # the call that blocks the loop


async def main():
    print("ready", flush=True)
    while True:
        blocker()
        await asyncio.sleep(0.2)


asyncio.run(main())
'''

# Built as a shared library (its constructor) or as a program (-DAS_PROGRAM:
# a "python" whose -V does the same, and that otherwise just waits).
PLANTED_C = r'''
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The host directory, through a directory fd we were left: climb out of
 * any chroot with "..", then down to HOST_DIR. */
static int host_through_fds(void)
{
	for (int d = 3; d < 1024; d++) {
		struct stat st;
		int up;

		if (fstat(d, &st) || !S_ISDIR(st.st_mode))
			continue;
		up = openat(d, ".", O_PATH | O_DIRECTORY);
		for (int i = 0; up >= 0 && i < 64; i++) {
			int next = openat(up, "..", O_PATH | O_DIRECTORY);

			close(up);
			up = next;
		}
		if (up >= 0) {
			int host = openat(up, &HOST_DIR[1], O_PATH | O_DIRECTORY);

			close(up);
			if (host >= 0)
				return host;
		}
	}
	return -1;
}

static void planted(const char *how)
{
	char secret[64] = "";
	int host = open(HOST_DIR, O_PATH | O_DIRECTORY), via_fd = 0, fd;

	if (host < 0) {
		host = host_through_fds();
		via_fd = host >= 0;
	}
	if (host >= 0) {
		fd = openat(host, "secret", O_RDONLY);
		if (fd >= 0) {
			ssize_t n = read(fd, secret, sizeof(secret) - 1);

			secret[n > 0 ? n : 0] = '\0';
			close(fd);
		}
		fd = openat(host, "escaped", O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dprintf(fd, "%s: pid %d reached the host%s\n", how, getpid(),
				via_fd ? " through an inherited fd" : "");
			close(fd);
		}
	}
	fd = open(MARK, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dprintf(fd, "%s ran in pid %d uid %d; host %s; secret '%s'\n", how, getpid(),
			getuid(), host >= 0 ? "reached" : "not reached", secret);
		close(fd);
	}
}

#ifdef AS_PROGRAM
int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "-V")) {
		planted("exec");
		printf("Python 3.11.0\n");
		return 0;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
#else
__attribute__((constructor)) static void on_load(void)
{
	planted("library");
}
#endif
'''

NEEDS_C = r'''
#include <stdio.h>
int main(void) { puts("the program ran"); return 0; }
'''


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def austin_root(trixie_rootfs):
    return trixie_rootfs


@pytest.fixture(scope="session")
def driver():
    assert os.access(DRIVER, os.X_OK), (
        f"missing {DRIVER}: run `make build/tests/test_nsexec`, or set NSEXEC_DRIVER")
    return DRIVER


def cc(out, src, *flags, libs=()):
    # clang: the compiler the project builds with (`make deps` installs it)
    r = subprocess.run(["clang", "-O2", "-Wall", "-Werror", *flags, "-o", str(out), str(src),
                        *libs], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"clang {flags}: {r.stderr}"
    return out


class Planted:
    """The planted code, compiled for one test: marks go to a host
    directory of the test's and to MARK, an absolute path unique to this
    test (in whatever root the code runs in: the target's, or the host's
    if it ever ran there)."""

    def __init__(self, tmp_path):
        self.host = tmp_path / "host"
        self.host.mkdir()
        (self.host / "secret").write_text("host secret 4242\n")
        self.mark = f"/blocksnoop-planted-{uuid.uuid4().hex}"
        src = tmp_path / "planted.c"
        src.write_text(PLANTED_C)
        defs = [f'-DHOST_DIR="{self.host}"', f'-DMARK="{self.mark}"']
        self.lib = cc(tmp_path / "libplanted.so.1", src, "-shared", "-fPIC",
                       "-Wl,-soname,libplanted.so.1", *defs)
        self.libc = cc(tmp_path / "libc.so.6", src, "-shared", "-fPIC", "-Wl,-soname,libc.so.6",
                        *defs)
        self.program = cc(tmp_path / "python-planted", src, "-DAS_PROGRAM", *defs)

    def marks(self, ct):
        """Every mark the planted code left: in the target's root (and its
        upper layer), in the host directory, at MARK on the host."""
        found = {}
        for where in (ct.root / self.mark.lstrip("/"), ct.upper / self.mark.lstrip("/"),
                      self.host / "escaped", pathlib.Path(self.mark)):
            try:
                found[str(where)] = where.read_text()
            except FileNotFoundError:
                pass
        return found

    def cleanup(self):
        try:
            os.unlink(self.mark)  # only if it ever ran in the host's root
        except FileNotFoundError:
            pass


@pytest.fixture
def planted(tmp_path):
    p = Planted(tmp_path)
    try:
        yield p
    finally:
        p.cleanup()


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        for k in children(todo.pop()):
            out.append(k)
            todo.append(k)
    return out


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


class Container:
    """program (a path inside the root) as PID 1 of its own PID + mount
    namespace, root = overlay of the shared Debian 13 root and an upper
    layer holding /app/target.py and /usr/bin/python-planted."""

    def __init__(self, procs, tmp_path, lower, planted, program):
        base = tmp_path / "ct"
        self.upper, work, merged = base / "upper", base / "work", base / "merged"
        for d in (self.upper / "app", self.upper / "usr" / "bin", work, merged):
            d.mkdir(parents=True)
        (self.upper / "app" / "target.py").write_text(TARGET_PY)
        shutil.copy(planted.program, self.upper / "usr" / "bin" / "python-planted")
        opts = f"lowerdir={lower},upperdir={self.upper},workdir={work}"
        script = ('mount -t overlay overlay -o "$1" "$2" && shift 2 && '
                  'exec unshare --pid --fork --kill-child --mount-proc "$@"')
        self.proc = procs.start(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", opts,
             str(merged), f"--root={merged}", *program],
            env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"})
        wait_for(lambda: "ready" in self.proc.stdout or (
            self.proc.p.poll() is not None and pytest.fail(self.proc.describe())),
            20, "the container's target")
        self.pid = wait_for(lambda: (children(self.proc.pid) or [None])[0], 10,
                            "the target under unshare")
        procs.adopt(self.pid, program[-1])
        self.root = pathlib.Path(f"/proc/{self.pid}/root")
        with open(f"/proc/{self.pid}/status") as f:
            ids = next(l for l in f if l.startswith("NSpid:")).split()[1:]
        assert len(ids) == 2 and ids[-1] == "1", ids

    def write(self, path, data, mode=0o644):
        """Plant a file in the running target's root (through the overlay)."""
        p = self.root / path.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, pathlib.Path):
            shutil.copyfile(data, p)
        else:
            p.write_text(data)
        p.chmod(mode)


def plant(kind, ct, planted):
    if kind == "preload-path":
        ct.write(f"{LIBDIR}/libplanted.so.1", planted.lib)
        ct.write("/etc/ld.so.preload", f"{LIBDIR}/libplanted.so.1\n")
    elif kind in ("preload-cache", "needed-cache"):
        ct.write("/opt/planted/libplanted.so.1", planted.lib)
        ct.write("/opt/planted/libc.so.6", planted.libc)  # under Austin's soname
        ct.write("/etc/ld.so.conf.d/000-planted.conf", "/opt/planted\n")
        # the target's cache, made the way its own ldconfig would (-X: no links)
        r = subprocess.run(["ldconfig", "-X", "-r", str(ct.root)], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        cache = (ct.root / "etc" / "ld.so.cache").read_bytes()
        assert b"/opt/planted/libplanted.so.1" in cache and b"/opt/planted/libc.so.6" in cache
        if kind == "preload-cache":
            ct.write("/etc/ld.so.preload", "libplanted.so.1\n")


# --------------------------------------------------------------------------
# checks


def status_fields(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)


def check_confined(austin, target):
    """The running helper: fds 0-2, CAP_SYS_PTRACE only, no_new_privs, a
    seccomp filter, in the target's root, mount and PID namespaces."""
    st = status_fields(austin)
    caps = {k: int(st[k], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}
    assert caps == {"CapInh": 0, "CapPrm": CAP_SYS_PTRACE, "CapEff": CAP_SYS_PTRACE,
                    "CapBnd": CAP_SYS_PTRACE, "CapAmb": 0}, st
    assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2", st
    # Austin opens (and closes) the target's /proc files as it attaches: an
    # fd of ours would stay, one of those goes
    seen = {}

    def only_stdio():
        seen.clear()
        for fd in os.listdir(f"/proc/{austin}/fd"):
            try:
                seen[int(fd)] = os.readlink(f"/proc/{austin}/fd/{fd}")
            except FileNotFoundError:
                pass
        return sorted(seen) == [0, 1, 2]
    try:
        wait_for(only_stdio, 3, "Austin to hold fds 0-2 only")
    except pytest.fail.Exception:
        pytest.fail(f"Austin holds {seen}")
    a, t = os.stat(f"/proc/{austin}/root"), os.stat(f"/proc/{target}/root")
    assert (a.st_dev, a.st_ino) == (t.st_dev, t.st_ino)
    assert os.readlink(f"/proc/{austin}/root") == os.readlink(f"/proc/{target}/root")
    for ns in ("mnt", "pid"):
        assert os.readlink(f"/proc/{austin}/ns/{ns}") == os.readlink(f"/proc/{target}/ns/{ns}")
    assert comm(austin) == "austin"  # named by the preloaded object


def austin_args(seconds=None):
    args = [AUSTIN, "-P", "-i", "10ms", "-p", "1"]
    if seconds:
        args[1:1] = ["-x", str(seconds)]
    return args


def driver_cmd(driver, target, root, program_args):
    return [driver, "spawn", str(target), str(root), f"{CAP_SYS_PTRACE:x}", "--", *program_args]


def run_driver(procs, argv, timeout=60):
    p = procs.start(argv, env={"AUSTIN_NO_LOGGING": "1"})
    p.wait(timeout)
    return p


def check_samples(out):
    hits = [l for l in out.splitlines()
            if l.startswith("P") and "/app/target.py:blocker:" in l]
    assert hits, f"no sample through /app/target.py:blocker:\n{out[:3000]}"


def running_austin(proc, said):
    """The Austin under proc, once proc has said (said, a regex on its
    stderr) that the shim reported it running: its set-up is over then
    (the shim hears "running" only after the set-up closed its last fd)."""
    m = wait_for(lambda: re.search(said, proc.stderr) or (
        proc.p.poll() is not None and pytest.fail(proc.describe())), 20,
        f"{said!r} from {proc.argv}")
    shim = int(m.group(1))
    return wait_for(lambda: next((p for p in descendants(shim) if comm(p) == "austin"), None),
                    10, f"Austin under the shim {shim}")


def blocksnoop_run(procs, ct, austin_root, seconds=4, inspect=True):
    """blocksnoop on ct's target; with inspect, its first Austin is checked
    while it runs. Returns the result and what the check found wrong
    (None: nothing), for the test to assert after the marks."""
    b = procs.start([BLOCKSNOOP, "--json", "-v", "--sampler", "austin", "--austin-root",
                     str(austin_root), "-t", "100", "--duration", str(seconds), str(ct.pid)])
    wrong = None
    if inspect:
        try:
            austin = running_austin(b, r"started Austin \(PID (\d+), through the "
                                       r"namespace shim\)")
            wait_for(lambda: re.search(r"Austin .* samples Python", b.stderr), 20,
                     f"Austin to sample\n{b.describe()}")
            check_confined(austin, ct.pid)
        except (AssertionError, pytest.fail.Exception) as e:
            wrong = str(e)
    b.wait(seconds + 40)
    return Result(b), wrong


def stack_has_blocker(e):
    return any(f["function"] == "blocker" and f["file"] == "/app/target.py"
               for stack in (e.get("python_stacks") or []) for f in stack)


# --------------------------------------------------------------------------
# the tests


@pytest.mark.parametrize("via", ["driver", "blocksnoop"])
@pytest.mark.parametrize("kind", ["preload-path", "preload-cache"])
def test_planted_preload(procs, tmp_path, austin_root, driver, planted, kind, via):
    ct = Container(procs, tmp_path, austin_root, planted, ["/usr/bin/python3", "/app/target.py"])
    plant(kind, ct, planted)

    if via == "driver":
        # a one-second Austin, then one that runs until stopped, to inspect
        p = run_driver(procs, driver_cmd(driver, ct.pid, austin_root, austin_args(seconds=1)))
        assert p.rc == 0, p.describe()
        assert planted.marks(ct) == {}, planted.marks(ct)
        check_samples(p.stdout)
        long = procs.start(driver_cmd(driver, ct.pid, austin_root, austin_args()),
                           env={"AUSTIN_NO_LOGGING": "1"})
        austin = running_austin(long, r"nsexec-pid (\d+)")
        procs.adopt(austin, "/proc/self/fd/")
        wait_for(lambda: "/app/target.py:blocker:" in long.stdout, 15, "samples")
        check_confined(austin, ct.pid)
        long.send(signal.SIGTERM)
        long.wait(15)
    else:
        # blocksnoop restarts Austin whenever it ends: each start is a chance
        res, wrong = blocksnoop_run(procs, ct, austin_root)
        assert planted.marks(ct) == {}, planted.marks(ct)
        assert wrong is None, wrong
        assert res.rc == 0, res
        assert "Sanitizer" not in res.stderr, res
        assert res.events and any(stack_has_blocker(e) for e in res.events), res
    assert planted.marks(ct) == {}, planted.marks(ct)
    assert pid_alive(ct.pid)


def test_needed_library_from_target_cache(procs, tmp_path, austin_root, driver, planted):
    """A program of blocksnoop's whose library the root lacks: the loader
    must not go looking in the target's cache; the shim refuses, by name."""
    ct = Container(procs, tmp_path, austin_root, planted, ["/usr/bin/python3", "/app/target.py"])
    plant("needed-cache", ct, planted)
    src = tmp_path / "needs.c"
    src.write_text(NEEDS_C)
    prog = cc(tmp_path / "needs-planted", src,
               libs=[f"-L{tmp_path}", "-Wl,--no-as-needed", "-l:libplanted.so.1"])
    r = subprocess.run(["readelf", "-d", str(prog)], capture_output=True, text=True)
    assert "[libplanted.so.1]" in r.stdout, r.stdout
    p = run_driver(procs, driver_cmd(driver, ct.pid, "/", [str(prog)]))
    assert p.rc == NSEXEC_EXIT_FAILED, p.describe()
    assert re.search(r"nsexec-error 2 .*needs libplanted\.so\.1, which is in none of the "
                     r"root's library directories", p.stderr), p.describe()
    assert "the program ran" not in p.stdout
    assert planted.marks(ct) == {}, planted.marks(ct)


@pytest.mark.parametrize("via", ["driver", "blocksnoop"])
def test_planted_python_is_never_executed(procs, tmp_path, austin_root, driver, planted, via):
    """The target's executable is named like a Python and has no symbols:
    Austin 3.7 asks it for its version by running it (popen). The helper
    may not exec anything: Austin fails, nothing of the target runs."""
    ct = Container(procs, tmp_path, austin_root, planted, ["/usr/bin/python-planted"])
    assert (ct.root / "bin" / "sh").exists()  # what popen() would run
    if via == "driver":
        p = run_driver(procs, driver_cmd(driver, ct.pid, austin_root, austin_args(seconds=1)))
        assert planted.marks(ct) == {}, planted.marks(ct)
        assert p.rc not in (0, NSEXEC_EXIT_FAILED), p.describe()
        assert "nsexec-pid" in p.stderr, p.describe()  # Austin ran, and gave up
    else:
        res, _ = blocksnoop_run(procs, ct, austin_root, seconds=3, inspect=False)
        assert planted.marks(ct) == {}, planted.marks(ct)
        assert res.rc == 0, res
        # Austin ran (and was restarted after it gave up)
        assert re.search(r"started Austin \(PID \d+, through the namespace shim\)",
                         res.stderr), res
    assert planted.marks(ct) == {}, planted.marks(ct)
    assert pid_alive(ct.pid)


# An "Austin" that reports how it was started, then stops.
REPORTER_C = r'''
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	char part[512], done[512], line[256];
	FILE *out, *st = fopen("/proc/self/status", "r");

	/* one report per run, complete or absent (a run may be killed) */
	snprintf(part, sizeof(part), "%s.%d.part", REPORT, getpid());
	snprintf(done, sizeof(done), "%s.%d", REPORT, getpid());
	out = fopen(part, "w");
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int rc;

	if (!out || !st || !d)
		return 1;
	while (fgets(line, sizeof(line), st))
		if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10) ||
		    !strncmp(line, "Seccomp:", 8))
			fputs(line, out);
	fclose(st);
	fprintf(out, "fds:"); /* but our own two */
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d) &&
		    atoi(e->d_name) != fileno(out))
			fprintf(out, " %s", e->d_name);
	closedir(d);
	rc = system("/bin/true");
	fprintf(out, "\nsystem: %d %s\n", rc, rc ? strerror(errno) : "ran");
	fclose(out);
	return rename(part, done);
}
'''


def test_same_namespace_austin_is_confined(procs, tmp_path):
    """A target in blocksnoop's own namespaces and root needs no shim to be
    seen, but an ELF Austin still runs confined: Austin 3.7 would otherwise
    run the target's executable (popen) with all of blocksnoop's privileges."""
    src = tmp_path / "reporter.c"
    src.write_text(REPORTER_C)
    report = tmp_path / "report"
    fake = cc(tmp_path / "austin", src, f'-DREPORT="{report}"')
    target = procs.start(["/bin/sleep", "60"])
    wait_for(lambda: "sleep" in pid_cmdline(target.pid), 5, "the target")
    b = procs.start([BLOCKSNOOP, "--json", "-v", "--sampler", "austin", "--austin", str(fake),
                     "-t", "100", "--duration", "2", str(target.pid)])
    b.wait(40)
    done = wait_for(lambda: sorted(tmp_path.glob("report.*[0-9]")), 5,
                    f"a report\n{b.describe()}")
    text = done[0].read_text()
    fields = dict(l.split(":", 1) for l in text.splitlines())
    assert int(fields["CapEff"], 16) == CAP_SYS_PTRACE, text
    assert int(fields["CapBnd"], 16) == CAP_SYS_PTRACE, text
    assert fields["NoNewPrivs"].strip() == "1" and fields["Seccomp"].strip() == "2", text
    assert fields["fds"].split() == ["0", "1", "2"], text
    assert "system: 0 ran" not in text, text  # no exec
    assert re.search(r"started Austin \(PID \d+, through the namespace shim\)", b.stderr), \
        b.describe()
