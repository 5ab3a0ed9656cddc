"""`blocksnoop doctor`: the read-only preflight, run for real as root, with
capabilities dropped (capsh), as an unprivileged user (setpriv), without
tracefs (a private mount namespace) and across PID namespaces (unshare).

Every report line starts with "ok    ", "warn  " or "FAIL  "; the last
line is "ready" or "not ready: N problem(s)", N being the FAIL lines.
Exit status: 0 ready, 1 not ready, 2 usage error, 4 no such PID/thread.
"""
import os
import re
import shlex
import shutil
import subprocess
import tempfile

import pytest

from conftest import (BLOCKSNOOP, PY, children, Result, wait_for)

STATUS = ("ok    ", "warn  ", "FAIL  ")
SLEEP_PY = [PY, "-c", "import time; time.sleep(60)"]


def nonexistent_pid():
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


def report(res):
    """Check the report's shape and return its check lines."""
    lines = res.stdout.splitlines()
    assert lines, f"no report\n{res}"
    checks, last = lines[:-1], lines[-1]
    for l in checks:
        assert l.startswith(STATUS), f"line without a status: {l!r}\n{res}"
    fails = sum(l.startswith("FAIL") for l in checks)
    if fails:
        assert last == f"not ready: {fails} problem(s)", f"bad last line {last!r}\n{res}"
    else:
        assert last == "ready", f"bad last line {last!r}\n{res}"
    assert res.stderr == "", f"doctor wrote to stderr\n{res}"
    return checks


def line(checks, pattern, status=None):
    """The one check line matching the regex pattern, with that status."""
    hits = [l for l in checks if re.search(pattern, l)]
    assert len(hits) == 1, f"{len(hits)} lines match {pattern!r}:\n" + "\n".join(checks)
    if status:
        assert hits[0].startswith(status), f"wanted {status!r}: {hits[0]}"
    return hits[0]


def run_shell(procs, argv, timeout=30):
    p = procs.start(argv)
    p.wait(timeout)
    return Result(p)


def capsh(procs, drop, *args):
    """blocksnoop doctor ARGS with the capabilities in drop removed from
    the bounding set (so from everything the shell and its exec get)."""
    cmd = shlex.join([BLOCKSNOOP, "doctor", *args])
    return run_shell(procs, ["capsh", f"--drop={','.join(drop)}", "--", "-c", f"exec {cmd}"])


def private_mounts(procs, script):
    """sh -c script in a private mount namespace: its umounts touch nothing
    outside."""
    return run_shell(procs, ["unshare", "--mount", "--propagation", "private",
                             "sh", "-c", script])


# --------------------------------------------------------------------------
# as root


def test_root_is_ready(bs):
    res = bs.run("doctor")
    checks = report(res)
    assert res.rc == 0, res
    rel = os.uname().release
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", rel)
    ver = f"{m.group(1)}.{m.group(2)}.{m.group(3) or 0}"
    line(checks, rf"^ok    kernel {re.escape(ver)} \(>= 5\.8 needed for BPF ring buffers\)$")
    line(checks, r"BTF at /sys/kernel/btf/vmlinux", "ok")
    line(checks, r"CAP_BPF, CAP_PERFMON .*CAP_SYS_PTRACE", "ok")
    line(checks, r"^ok    CAP_SYS_ADMIN")
    line(checks, r"CAP_SYS_RESOURCE", "ok")
    line(checks, r"bpf\(\): created a ring buffer", "ok")
    line(checks, r"initial PID namespace", "ok")
    # tracefs is either mounted (then the tracepoints are checked) or
    # blocksnoop, being root, will mount it: a warning, not a problem.
    tfs = line(checks, r"^\w+ +tracefs")
    if tfs.startswith("ok"):
        line(checks, r"tracepoints syscalls:sys_\{enter,exit\}_\{epoll_wait,epoll_pwait,"
                     r"epoll_pwait2\}", "ok")
    else:
        assert "blocksnoop will mount it" in tfs, tfs


def test_no_bpf_left_loaded(bs):
    """The probes' program is closed before doctor exits."""
    res = bs.run("doctor")
    assert res.rc == 0, res
    out = subprocess.run(["bpftool", "prog", "show"], capture_output=True, text=True,
                         check=True).stdout
    assert "bs_doctor" not in out, out


def test_help(bs):
    res = bs.run("doctor", "-h")
    assert res.rc == 0, res
    assert res.stdout.startswith("Usage: blocksnoop doctor [PID] [--tid TID]\n"), res
    assert res.stderr == "", res


# --------------------------------------------------------------------------
# usage errors and missing targets


@pytest.mark.parametrize("args,needle", [
    (["abc"], "'abc'"),
    (["12x"], "'12x'"),
    (["0"], "'0'"),
    (["1", "2"], "'2'"),
    (["--tid", "5"], "--tid needs a PID"),
    (["1", "--tid", "x"], "'x'"),
    (["1", "--tid"], "--tid"),
    (["--bogus"], "'--bogus'"),
])
def test_usage_error(bs, args, needle):
    res = bs.run("doctor", *args)
    assert res.rc == 2, res
    assert res.stdout == "", res
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("blocksnoop: error: doctor: "), res
    assert needle in lines[0], res


def test_nonexistent_pid(bs):
    pid = nonexistent_pid()
    res = bs.run("doctor", str(pid))
    checks = report(res)
    assert res.rc == 4, res
    line(checks, rf"^FAIL  PID {pid} does not exist: give the PID as blocksnoop's PID namespace "
                 rf"numbers it \(ps -p {pid}\)$")
    # The rest of the report is still there.
    line(checks, r"^ok    kernel \d", "ok")


# --------------------------------------------------------------------------
# a target


def test_python_target(bs, procs):
    t = procs.start(SLEEP_PY)
    res = bs.run("doctor", str(t.pid))
    checks = report(res)
    assert res.rc == 0, res
    line(checks, rf"^ok    PID {t.pid} exists \(python3")
    line(checks, rf"PID {t.pid} looks like Python", "ok")
    line(checks, rf"can read the memory of PID {t.pid}", "ok")
    line(checks, rf"PID {t.pid} is in blocksnoop's PID namespace", "ok")


def test_non_python_target_is_a_warning(bs, procs):
    t = procs.start(["sleep", "60"])
    res = bs.run("doctor", str(t.pid))
    checks = report(res)
    assert res.rc == 0, res
    line(checks, rf"PID {t.pid} does not look like Python", "warn")


def test_tid(bs, procs):
    t = procs.start([PY, "-c", "import threading, time\n"
                     "threading.Thread(target=time.sleep, args=(60,)).start()\n"
                     "time.sleep(60)"])
    tids = wait_for(lambda: [int(x) for x in os.listdir(f"/proc/{t.pid}/task")
                             if int(x) != t.pid], 10, "the second thread")
    res = bs.run("doctor", str(t.pid), "--tid", str(tids[0]))
    checks = report(res)
    assert res.rc == 0, res
    line(checks, rf"^ok    TID {tids[0]} is a thread of PID {t.pid}$")

    other = procs.start(["sleep", "60"])
    res = bs.run("doctor", str(t.pid), "--tid", str(other.pid))
    checks = report(res)
    assert res.rc == 4, res
    line(checks, rf"^FAIL  TID {other.pid} is not a thread of PID {t.pid}: list its threads with "
                 rf"ls /proc/{t.pid}/task$")


def test_target_in_nested_pid_namespace(bs, procs):
    u = procs.start(["unshare", "--pid", "--fork", "--mount-proc", *SLEEP_PY])
    inner = wait_for(lambda: children(u.pid), 10, "unshare's child")[0]
    procs.adopt(inner, "time.sleep(60)")
    res = bs.run("doctor", str(inner))
    checks = report(res)
    assert res.rc == 0, res
    line(checks, rf"^ok    PID {inner} is in a nested PID namespace pid:\[\d+\], "
                 r"where it is PID 1$")


def test_blocksnoop_inside_a_pid_namespace(procs):
    res = run_shell(procs, ["unshare", "--pid", "--fork", "--mount-proc",
                            BLOCKSNOOP, "doctor", "1"])
    checks = report(res)
    assert res.rc == 0, res
    line(checks, r"^ok    blocksnoop runs in PID namespace pid:\[\d+\], not the initial one")
    line(checks, r"PID 1 is in blocksnoop's PID namespace", "ok")


# --------------------------------------------------------------------------
# fewer privileges


def test_dropped_capabilities_are_named(procs):
    dropped = ["cap_bpf", "cap_perfmon", "cap_sys_admin", "cap_sys_ptrace"]
    res = capsh(procs, dropped)
    checks = report(res)
    assert res.rc == 1, res
    text = "\n".join(checks)
    for cap in dropped:
        assert cap.upper() in text, f"{cap.upper()} not named\n{res}"
    fail = line(checks, r"missing CAP_BPF, CAP_PERFMON", "FAIL")
    assert "CAP_SYS_PTRACE" in fail, fail
    # Root already: the advice is to give the container the capabilities.
    assert "--cap-add BPF --cap-add PERFMON --cap-add SYS_PTRACE" in fail, fail
    assert 'capabilities.add: ["BPF", "PERFMON", "SYS_PTRACE"]' in fail, fail
    line(checks, r"missing CAP_SYS_ADMIN", "warn")
    line(checks, r"bpf\(\) not probed", "warn")


def test_dropped_capabilities_named_for_a_target(procs):
    t = procs.start(SLEEP_PY)
    res = capsh(procs, ["cap_bpf", "cap_perfmon", "cap_sys_admin", "cap_sys_ptrace"],
                str(t.pid))
    checks = report(res)
    assert res.rc == 1, res
    # The target runs with full capabilities: without CAP_SYS_PTRACE its
    # memory is out of reach.
    line(checks, rf"cannot read the memory of PID {t.pid}: Permission denied", "FAIL")


def test_sys_admin_stands_in_for_bpf_and_perfmon(procs):
    res = capsh(procs, ["cap_bpf", "cap_perfmon"])
    checks = report(res)
    assert res.rc == 0, res
    line(checks, r"CAP_SYS_ADMIN in place of CAP_BPF, CAP_PERFMON", "ok")
    line(checks, r"bpf\(\): created a ring buffer", "ok")


def test_only_ptrace_dropped(procs):
    res = capsh(procs, ["cap_sys_ptrace"])
    checks = report(res)
    assert res.rc == 1, res
    fail = line(checks, r"missing CAP_SYS_PTRACE", "FAIL")
    assert "CAP_BPF" not in fail, fail


@pytest.fixture
def own_copy():
    """A copy of the binary that user nobody may run, and that setcap may
    mark without touching the build."""
    d = tempfile.mkdtemp(prefix="blocksnoop-doctor-")
    try:
        os.chmod(d, 0o755)
        exe = os.path.join(d, "blocksnoop")
        shutil.copy(BLOCKSNOOP, exe)
        os.chmod(exe, 0o755)
        yield exe
    finally:
        shutil.rmtree(d)


AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
# A private mount namespace where tracefs is mounted at its usual place,
# whatever the host has.
WITH_TRACEFS = ("mountpoint -q /sys/kernel/tracing || "
                "mount -t tracefs tracefs /sys/kernel/tracing; ")


def test_unprivileged_user(procs, own_copy):
    """As nobody: every capability is missing, and sudo/setcap is the advice."""
    res = private_mounts(procs, WITH_TRACEFS + shlex.join([*AS_NOBODY, own_copy, "doctor"]))
    checks = report(res)
    assert res.rc == 1, res
    fail = line(checks, r"missing CAP_BPF, CAP_PERFMON", "FAIL")
    # tracefs is root's alone (mode 0700): reading it is named too.
    assert "CAP_SYS_PTRACE" in fail and "CAP_DAC_READ_SEARCH" in fail, fail
    assert "run as root (sudo)" in fail, fail
    assert (f"sudo setcap cap_bpf,cap_perfmon,cap_sys_ptrace,cap_dac_read_search+ep "
            f"{own_copy}") in fail, fail
    line(checks, r"tracefs is mounted at /sys/kernel/tracing, but blocksnoop cannot "
                 r"read it: Permission denied", "warn")
    line(checks, r"missing CAP_SYS_ADMIN", "warn")


def test_setcap_user_missing_dac_read_search(procs, own_copy):
    """A non-root user with the capabilities for BPF and stacks still cannot
    read tracefs; the advice keeps what the file has (setcap replaces)."""
    subprocess.run(["setcap", "cap_bpf,cap_perfmon,cap_sys_ptrace+ep", own_copy], check=True)
    res = private_mounts(procs, WITH_TRACEFS + shlex.join([*AS_NOBODY, own_copy, "doctor"]))
    checks = report(res)
    assert res.rc == 1, res
    fail = line(checks, r"^FAIL  missing CAP_DAC_READ_SEARCH ")
    assert (f"sudo setcap cap_bpf,cap_perfmon,cap_sys_ptrace,cap_dac_read_search+ep "
            f"{own_copy}") in fail, fail
    line(checks, r"bpf\(\): created a ring buffer", "ok")


def test_setcap_user_with_all_it_needs_is_ready(procs, own_copy):
    """Doctor's own advice, followed, makes it ready: the tracepoints are
    readable with the file's capabilities though not with the user's."""
    subprocess.run(["setcap", "cap_bpf,cap_perfmon,cap_sys_ptrace,cap_dac_read_search+ep",
                    own_copy], check=True)
    res = private_mounts(procs, WITH_TRACEFS + shlex.join([*AS_NOBODY, own_copy, "doctor"]))
    checks = report(res)
    assert res.rc == 0, res
    line(checks, r"^ok    tracefs mounted at /sys/kernel/tracing$")
    line(checks, r"tracepoints syscalls:sys_\{enter,exit\}_", "ok")
    line(checks, r"CAP_BPF, CAP_PERFMON .*CAP_SYS_PTRACE", "ok")
    line(checks, r"missing CAP_SYS_ADMIN", "warn")


# --------------------------------------------------------------------------
# without tracefs: doctor warns, and mounts nothing


# Mounts may be stacked: unmount each place until nothing is left there.
UNMOUNT_TRACING = "".join(f"while umount {d} 2>/dev/null; do :; done; " for d in (
    "/sys/kernel/debug/tracing", "/sys/kernel/tracing", "/sys/kernel/debug"))
# Only the places blocksnoop mounts it count: other tracefs mounts (a
# bind of /sys elsewhere on the machine) are not doctor's doing.
COUNT_TRACEFS = "; echo rc=$?; grep -cE '^[^ ]+ /sys/kernel(/debug)?/tracing tracefs ' /proc/self/mounts"


def split_tail(res):
    """The doctor report and the two lines the script appends."""
    lines = res.stdout.splitlines()
    assert len(lines) >= 3, res
    rc = lines[-2]
    count = lines[-1]
    res.stdout = "\n".join(lines[:-2]) + "\n"
    return int(rc.removeprefix("rc=")), int(count)


def test_tracefs_unmounted_root(procs):
    res = private_mounts(procs, UNMOUNT_TRACING + shlex.join([BLOCKSNOOP, "doctor"])
                         + COUNT_TRACEFS)
    rc, mounted_after = split_tail(res)
    checks = report(res)
    assert rc == 0, res
    line(checks, r"^warn  tracefs is not mounted: blocksnoop will mount it on "
                 r"/sys/kernel/tracing \(needs CAP_SYS_ADMIN\)$")
    line(checks, r"tracepoints not checked", "warn")
    assert mounted_after == 0, f"doctor mounted tracefs\n{res}"


def test_tracefs_unmounted_without_sys_admin(procs):
    cmd = shlex.join([BLOCKSNOOP, "doctor"])
    res = private_mounts(procs, UNMOUNT_TRACING + f"capsh --drop=cap_sys_admin -- -c "
                         f"{shlex.quote('exec ' + cmd)}" + COUNT_TRACEFS)
    rc, mounted_after = split_tail(res)
    checks = report(res)
    assert rc == 1, res
    line(checks, r"tracefs is not mounted, and blocksnoop cannot mount it without "
                 r"CAP_SYS_ADMIN", "FAIL")
    assert mounted_after == 0, res


# --------------------------------------------------------------------------
# doctor --json: one document, the same checks as the text report


def json_report(res):
    """The --json document: one line, nothing on stderr, and the same
    checks, statuses and verdict as the text report of the same run."""
    assert res.stderr == "", f"doctor wrote to stderr\n{res}"
    lines = res.stdout.splitlines()
    assert len(lines) == 1, f"not one line\n{res}"
    import json
    doc = json.loads(lines[0])
    assert doc["schema"] == "blocksnoop-doctor/v1" and doc["schema_version"] == 1, doc
    assert doc["status"] in ("ready", "not_ready"), doc
    fails = [c for c in doc["checks"] if c["status"] == "fail"]
    assert doc["problems"] == len(fails), doc
    assert doc["status"] == ("not_ready" if fails else "ready"), doc
    for c in doc["checks"]:
        assert set(c) == {"name", "status", "detail", "fix"}, c
        assert re.fullmatch(r"[a-z_]+", c["name"]) and c["status"] in ("ok", "warn", "fail"), c
        assert isinstance(c["detail"], str) and c["detail"], c
        assert c["fix"] is None or (isinstance(c["fix"], str) and c["fix"]), c
    for c in fails:
        assert c["fix"], f"a failed check says nothing to do: {c}"
    return doc


def same_as_text(doc, text_res):
    word = {"ok": "ok    ", "warn": "warn  ", "fail": "FAIL  "}
    want = [word[c["status"]] + c["detail"] + (": " + c["fix"] if c["fix"] else "")
            for c in doc["checks"]]
    assert report(text_res) == want, f"{doc}\n{text_res}"


def test_json_root_is_ready(bs, procs):
    target = procs.start(SLEEP_PY)
    res = bs.run("doctor", "--json", str(target.pid))
    doc = json_report(res)
    assert res.rc == 0 and doc["status"] == "ready", res
    assert doc["pid"] == target.pid and doc["tid"] is None, doc
    names = [c["name"] for c in doc["checks"]]
    for name in ("kernel", "btf", "tracefs", "capabilities", "bpf", "pid_namespace",
                 "target", "target_python", "target_memory", "target_pid_namespace"):
        assert name in names, names
    same_as_text(doc, bs.run("doctor", str(target.pid)))


def test_json_not_ready_names_what_to_do(procs):
    dropped = ["cap_bpf", "cap_perfmon", "cap_sys_admin", "cap_sys_ptrace"]
    res = capsh(procs, dropped, "--json")
    doc = json_report(res)
    assert res.rc == 1 and doc["status"] == "not_ready", res
    caps = [c for c in doc["checks"] if c["name"] == "capabilities"]
    assert len(caps) == 1 and caps[0]["status"] == "fail", doc
    assert "CAP_BPF" in caps[0]["detail"], caps
    assert "--cap-add BPF --cap-add PERFMON --cap-add SYS_PTRACE" in caps[0]["fix"], caps
    same_as_text(doc, capsh(procs, dropped))


def test_json_no_such_pid(bs):
    pid = nonexistent_pid()
    res = bs.run("doctor", "--json", str(pid))
    doc = json_report(res)
    assert res.rc == 4 and doc["status"] == "not_ready", res
    target = [c for c in doc["checks"] if c["name"] == "target"]
    assert target == [{"name": "target", "status": "fail", "detail": f"PID {pid} does not exist",
                       "fix": f"give the PID as blocksnoop's PID namespace numbers it (ps -p {pid})"}], doc
