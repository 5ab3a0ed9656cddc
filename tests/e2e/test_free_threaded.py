"""Free-threaded CPython ("t" builds, configured --disable-gil), end to end:
the real binary, its built-in sampler, real interpreters, real namespaces.

Debian packages no free-threaded CPython (trixie, testing, unstable and
experimental have none), so `make e2e` builds 3.13t from Debian's python3.13
source into build/rootfs-freethreaded (/usr/local/bin/python3.13t; see
tests/rootfs/free-threaded-python). Free-threaded builds under
/root/.pyenv/versions (3.X.Yt) are added when the machine has them.

  * each is really free-threaded: sysconfig's Py_GIL_DISABLED, and the
    target itself reports sys._is_gil_enabled() false while it blocks;
  * 3.13t is read: launched, and attached by host PID in its own PID and
    mount namespaces while two more threads run Python in parallel with
    the loop, every event names the blocking function, file, line and
    source line (the stack tests of test_stacks.py and test_cpython_reader.py
    run it too, as one of conftest.py's INTERPRETERS);
  * a free-threaded build blocksnoop does not read (3.14t and later) is
    refused: one warning naming the version and "free-threaded", and every
    event carries that reason. No such interpreter can be had from Debian
    here (the mirror the tests use serves the python3.14 and python3.15
    binaries but not their sources), so test_newest_pythons.py checks the
    refusal on Debian's 3.14 and 3.15 with their _Py_DebugOffsets claiming
    a free-threaded build.
"""
import pathlib
import subprocess

import pytest

from conftest import (INTERPRETERS, Result, check_common, check_events, pid_cmdline,
                      read_truth, wait_for)
from test_newest_pythons import in_own_pid_namespace, nspid
from test_stacks import (KINDS, TARGET, attach_and_go, children, check_target_events,
                         launch_first_block, marker)

FREE_THREADED = [i for i in INTERPRETERS if i.free_threaded]
# (none: the tests still run, and fail in the_one_we_build())
READ = [pytest.param(i, id=i.id) for i in FREE_THREADED if i.reader_reads] or [None]


def the_one_we_build():
    """build/rootfs-freethreaded's 3.13t, or fail: `make e2e` builds it."""
    ours = [i for i in FREE_THREADED if i.origin == "freethreaded"]
    if [i.minor for i in ours] != [13]:
        pytest.fail(f"no free-threaded CPython 3.13 from build/rootfs-freethreaded among "
                    f"{INTERPRETERS}")
    return ours[0]


def ready_of(truth):
    return next(r for r in read_truth(truth) if r["event"] == "ready")


def test_free_threaded_builds_are_there_and_free_threaded(tmp_path):
    """The interpreters these tests run really run without the GIL (asked of
    the interpreter, as conftest.py found them by asking sysconfig)."""
    ours = the_one_we_build()
    assert ours.path == "/usr/local/bin/python3.13t", ours
    for python in FREE_THREADED:
        out = subprocess.run(python.command(tmp_path, "-c", "import sys, sysconfig; print("
                                            "sysconfig.get_config_var('Py_GIL_DISABLED'), "
                                            "sys._is_gil_enabled())"),
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out
        assert out.stdout.split() == ["1", "False"], (python, out)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("python", READ)
def test_launch_first_block(bs, tmp_path, python, kind):
    the_one_we_build()
    res, truth = launch_first_block(bs, tmp_path, python, kind)
    assert ready_of(truth)["gil"] is False, read_truth(truth)
    assert "warning" not in res.stderr.lower(), res


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("python", READ)
def test_attach_in_own_namespaces_with_parallel_threads(bs, procs, tmp_path, python, kind):
    """Attached by host PID in its own PID and mount namespaces, while two
    other threads run a pure-Python loop in parallel with the event loop's
    thread: every event shows the loop thread's blocking line, never a
    spinner's, and the standard library's sources come from the root."""
    the_one_we_build()
    go, truth = tmp_path / "go", tmp_path / "truth"
    outer = procs.start(in_own_pid_namespace(python, tmp_path, TARGET, "--kind", kind,
                                             "--count", "3", "--block", "0.2", "--spinners",
                                             "2", "--go", go, "--truth", truth))
    pid = wait_for(lambda: next((k for k in children(outer.pid)
                                 if pid_cmdline(k).startswith(f"{python.path} {TARGET} ")),
                                None) or (outer.p.poll() is not None
                                          and pytest.fail(outer.describe())),
                   20, "the Python in its namespaces")
    procs.adopt(pid, TARGET)
    assert nspid(pid) == [pid, 1], nspid(pid)
    wait_for(lambda: any(r["event"] == "ready" for r in read_truth(truth)), 20, "ready")
    assert ready_of(truth)["gil"] is False, read_truth(truth)

    b, _ = attach_and_go(bs, pid, go, "-t", "100")
    assert b.wait(30) == 0, b.describe()
    res = Result(b)
    check_common(res.records)
    check_events(res.events, pid=pid, tid=pid)
    check_target_events(res.events, truth, python, kind)
    spinner_line, _ = marker(TARGET, "SPINNER-LINE")
    for e in res.events:
        for stack in e["python_stacks"] or []:
            assert all(f["line"] != spinner_line or f["file"] != TARGET for f in stack), (
                f"a spinner thread's stack in the loop thread's event: {e}")
    stdlib_dir = f"/usr/local/lib/python3.{python.minor}t"
    stdlib = [f for e in res.events for f in (e["python_stacks"] or [[]])[0]
              if f["file"].startswith(stdlib_dir + "/")]
    assert stdlib and all(f["source"] for f in stdlib), res.events
    assert not pathlib.Path(stdlib_dir).exists()
