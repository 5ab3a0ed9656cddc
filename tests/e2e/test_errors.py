"""Bad input and missing privileges: the right exit status and exactly one
line on stderr, `blocksnoop: error: ...`."""
import os
import re

import pytest

from conftest import PY, check_error_line, py_fixture, start_ready_target


def nonexistent_pid():
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


@pytest.fixture
def sleeper(procs):
    """A live process that is not Python."""
    return procs.start(["sleep", "60"])


def test_nonexistent_pid(bs):
    pid = nonexistent_pid()
    res = bs.run("--duration", "1", str(pid), timeout=20)
    line = check_error_line(res, 4)
    assert str(pid) in line, line


def test_nonexistent_pid_json(bs):
    """Errors go to stderr even with --json; stdout stays empty."""
    res = bs.run("--json", "--duration", "1", str(nonexistent_pid()), timeout=20)
    check_error_line(res, 4)


def test_tid_not_a_thread_of_pid(bs, procs, tmp_path, sleeper):
    target, _, _ = start_ready_target(procs, tmp_path,
                                      [PY, py_fixture("asyncio_blocks.py"), "--count", "0"])
    # sleeper is a live task, but not a thread of target.
    res = bs.run("--tid", str(sleeper.pid), "--duration", "1", str(target.pid), timeout=20)
    line = check_error_line(res, 4)
    assert str(sleeper.pid) in line, line
    assert target.p.poll() is None


def test_tid_nonexistent(bs, procs, tmp_path):
    target, _, _ = start_ready_target(procs, tmp_path,
                                      [PY, py_fixture("asyncio_blocks.py"), "--count", "0"])
    res = bs.run("--tid", str(nonexistent_pid()), "--duration", "1", str(target.pid),
                 timeout=20)
    check_error_line(res, 4)


@pytest.mark.parametrize("args", [
    ["-t", "abc"],
    ["-t", "-1"],
    ["-t", "-5"],
    ["-t", "nan"],
    ["-t", ""],
    ["-t", "10ms"],
    ["--threshold=abc"],
    ["-t"],
    ["--error-threshold", "abc"],
    ["--error-threshold", "-1"],
    ["--duration", "abc"],
    ["--duration", "-3"],
    ["--fail-on", "bogus"],
    ["--fail-on"],
    ["--tid", "abc"],
    ["--correlation-padding", "abc"],
    ["--no-such-option"],
], ids=lambda a: " ".join(a) or "empty")
def test_bad_option_values(bs, sleeper, args):
    # A valid target is given, so the option is the only problem; the
    # --duration keeps a blocksnoop that wrongly accepts it from hanging.
    extra = [] if args[0] == "--duration" else ["--duration", "1"]
    res = bs.run(*args, *extra, str(sleeper.pid), timeout=20)
    check_error_line(res, 2)


# Numbers strtod would read but a person does not mean, and values just past
# each documented range: each was once accepted (and overflowed: -t 1e300
# reported every gap, --duration 1e300 ended at once, --interval 1e-6 burnt
# a core, -t 0x10 meant 16). The one error line names the option, the
# value and the range.
OUT_OF_RANGE = [
    ("--threshold", ["-t", "1e300"], "1e300", "from 0 to 3600000 milliseconds"),
    ("--threshold", ["-t", "2e13"], "2e13", "from 0 to 3600000 milliseconds"),
    ("--threshold", ["-t", "0x10"], "0x10", "from 0 to 3600000 milliseconds"),
    ("--threshold", ["-t", "3600000.5"], "3600000.5", "from 0 to 3600000 milliseconds"),
    ("--threshold", ["-t", "inf"], "inf", "from 0 to 3600000 milliseconds"),
    ("--error-threshold", ["--error-threshold", "1e300"], "1e300",
     "from 0 to 3600000 milliseconds"),
    ("--correlation-padding", ["--correlation-padding", "1e300"], "1e300",
     "from 0 to 3600000 milliseconds"),
    ("--interval", ["--interval", "1e300"], "1e300", "from 0.5 to 50 milliseconds"),
    ("--interval", ["--interval", "1e-6"], "1e-6", "from 0.5 to 50 milliseconds"),
    ("--interval", ["--interval", "0.000001"], "0.000001", "from 0.5 to 50 milliseconds"),
    ("--interval", ["--interval", "50.5"], "50.5", "from 0.5 to 50 milliseconds"),
    ("--duration", ["--duration", "1e300"], "1e300",
     "more than 0 and at most 31536000 seconds"),
    ("--duration", ["--duration", "31536001"], "31536001",
     "more than 0 and at most 31536000 seconds"),
    ("--duration", ["--duration", "0"], "0", "more than 0 and at most 31536000 seconds"),
]


@pytest.mark.parametrize("option,args,value,allowed", OUT_OF_RANGE,
                         ids=[" ".join(a[1]) for a in OUT_OF_RANGE])
def test_number_out_of_range(bs, sleeper, option, args, value, allowed):
    extra = [] if option == "--duration" else ["--duration", "1"]
    res = bs.run(*args, *extra, str(sleeper.pid), timeout=20)
    line = check_error_line(res, 2)
    assert option in line and f"'{value}'" in line and allowed in line, line


@pytest.mark.parametrize("args", [["-t", "1e300"], ["--interval", "1e-6"],
                                  ["--duration", "1e300"]], ids=lambda a: " ".join(a))
def test_number_out_of_range_launch_runs_nothing(bs, tmp_path, args):
    marker = tmp_path / "ran"
    res = bs.run(*args, "--", "touch", str(marker), timeout=20)
    check_error_line(res, 2)
    assert not marker.exists(), "the command was run despite a usage error"


def test_number_range_limits_accepted(bs, sleeper):
    """The ends of each range are accepted."""
    res = bs.run("--json", "-t", "3600000", "--error-threshold", "3600000", "--interval", "0.5",
                 "--duration", "0.5", str(sleeper.pid), timeout=20)
    assert res.rc == 0, res
    start = res.one("session_start")
    assert start["threshold_ms"] == 3600000, start
    res = bs.run("--json", "-t", "0", "--interval", "50", "--duration", "0.5",
                 "--sampler", "none", str(sleeper.pid), timeout=20)
    assert res.rc == 0, res


@pytest.mark.parametrize("args,option", [
    (["-t", "1e300"], "--threshold"),
    (["--interval", "1e-6"], "--interval"),
    (["--duration", "1e300"], "--duration"),
    (["--poll-interval", "0x10"], "--poll-interval"),
], ids=["threshold", "interval", "duration", "poll-interval"])
def test_agent_number_out_of_range(bs, args, option):
    """`blocksnoop agent` reads its numbers with the same rules; the error
    comes before anything is loaded or any kubelet is asked."""
    res = bs.run("agent", "--node-name", "n1", "--metrics-addr", "", *args, timeout=20)
    line = check_error_line(res, 2)
    assert option in line and f"'{args[1]}'" in line, line


def test_agent_number_from_environment(bs):
    env = dict(os.environ, NODE_NAME="n1", BLOCKSNOOP_THRESHOLD="2e13",
               BLOCKSNOOP_METRICS_ADDR="")
    res = bs.run("agent", timeout=20, env=env)
    line = check_error_line(res, 2)
    assert "BLOCKSNOOP_THRESHOLD" in line and "'2e13'" in line and "3600000" in line, line


@pytest.mark.parametrize("args", [["-t", "abc"], ["--fail-on", "bogus"]], ids=["t", "fail-on"])
def test_bad_option_launch_mode_runs_nothing(bs, tmp_path, args):
    marker = tmp_path / "ran"
    res = bs.run(*args, "--", "touch", str(marker), timeout=20)
    check_error_line(res, 2)
    assert not marker.exists(), "the command was run despite a usage error"


def test_tid_in_launch_mode(bs, tmp_path):
    """--tid is for attach mode only."""
    marker = tmp_path / "ran"
    res = bs.run("--tid", str(os.getpid()), "--", "touch", str(marker), timeout=20)
    check_error_line(res, 2)
    assert not marker.exists()


def test_pid_and_command(bs, sleeper, tmp_path):
    marker = tmp_path / "ran"
    res = bs.run(str(sleeper.pid), "--", "touch", str(marker), timeout=20)
    check_error_line(res, 2)
    assert not marker.exists()


def test_no_target(bs):
    res = bs.run(timeout=20)
    check_error_line(res, 2)


def test_no_target_only_options(bs):
    res = bs.run("--json", "-t", "5", timeout=20)
    check_error_line(res, 2)


def test_empty_command_after_dashdash(bs):
    res = bs.run("--", timeout=20)
    check_error_line(res, 2)


def test_pid_zero_and_negative(bs):
    check_error_line(bs.run("0", timeout=20), 2)


def test_help_and_version(bs):
    res = bs.run("--help", timeout=20)
    assert res.rc == 0, res
    assert "--threshold" in res.stdout and "--fail-on" in res.stdout, res
    ver = bs.run("--version", timeout=20)
    assert ver.rc == 0, ver
    assert re.search(r"\d+\.\d+\.\d+", ver.stdout), ver


def test_version_matches_session_start(bs):
    ver = bs.run("--version", timeout=20)
    res = bs.launch("--json", command=["true"])
    assert res.rc == 0, res
    version = res.one("session_start")["version"]
    assert version in ver.stdout, (version, ver.stdout)


def test_non_python_pid_warns(bs, sleeper):
    res = bs.run("--duration", "1", str(sleeper.pid), timeout=20)
    assert res.rc == 0, res
    warn = [l for l in res.stderr_lines if "not look like a Python" in l]
    assert len(warn) == 1, res
    assert str(sleeper.pid) in warn[0] or "sleep" in warn[0], warn
    assert sleeper.p.poll() is None, "attach mode must not stop the target"


def test_non_python_pid_warns_json(bs, sleeper):
    res = bs.run("--json", "--duration", "1", str(sleeper.pid), timeout=20)
    assert res.rc == 0, res
    assert any("not look like a Python" in l for l in res.stderr_lines), res
    assert [r["type"] for r in res.records] == ["session_start", "session_summary"], res


CAPSH_DROP = ["capsh", "--drop=cap_bpf,cap_perfmon,cap_sys_admin", "--",
              "-c", 'exec "$0" "$@"']


def check_privilege_line(res):
    line = check_error_line(res, 5)
    low = line.lower()
    assert "cap_bpf" in low or "cap_sys_admin" in low, line
    assert "perfmon" in low or "sys_admin" in low, line


def test_missing_privileges_attach(procs, tmp_path):
    from conftest import BLOCKSNOOP, Result
    target, _, _ = start_ready_target(procs, tmp_path,
                                      [PY, py_fixture("asyncio_blocks.py"), "--count", "0"])
    p = procs.start([*CAPSH_DROP, BLOCKSNOOP, "--duration", "1", str(target.pid)])
    p.wait(20)
    check_privilege_line(Result(p))


def test_missing_privileges_launch_runs_nothing(procs, tmp_path):
    from conftest import BLOCKSNOOP, Result
    marker = tmp_path / "ran"
    p = procs.start([*CAPSH_DROP, BLOCKSNOOP, "--json", "--", "touch", str(marker)])
    p.wait(20)
    check_privilege_line(Result(p))
    assert not marker.exists(), "the command was run without the means to watch it"


def test_capsh_really_drops(procs):
    """Guard for the two tests above: the capabilities are gone under capsh."""
    p = procs.start([*CAPSH_DROP, "/bin/grep", "CapEff", "/proc/self/status"])
    assert p.wait(10) == 0
    eff = int(p.stdout.split()[1], 16)
    for bit in (21, 38, 39):  # CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF
        assert not eff & (1 << bit), p.stdout
