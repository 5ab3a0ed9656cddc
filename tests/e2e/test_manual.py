"""The manual page (man/blocksnoop.8) and the bash completion
(completion/blocksnoop.bash), against the real binary's --help.

- Every option `blocksnoop --help`, `blocksnoop agent --help` and
  `blocksnoop doctor --help` lists is in the man page's OPTIONS, AGENT and
  DOCTOR sections respectively, and the man page has no option the --help
  does not: an option added to one and not the other fails here.
- The man page renders without a warning (groff -ww, man --warnings).
- The completion, sourced in a real bash, completes options (those of the
  subcommand), subcommands, PIDs, a PID's thread ids for --tid, option
  values, files and directories, and the command after "--".
- `make install DESTDIR=...` installs the binary, the man page and the
  completion where man and bash-completion look; `make uninstall` removes
  them.
"""
import os
import re
import shutil
import subprocess

import pytest

from conftest import BLOCKSNOOP, PY

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAN = os.path.join(ROOT, "man", "blocksnoop.8")
COMPLETION = os.path.join(ROOT, "completion", "blocksnoop.bash")
SUBCOMMANDS = {"main": [], "agent": ["agent"], "doctor": ["doctor"]}
MAN_SECTION = {"main": "OPTIONS", "agent": "AGENT", "doctor": "DOCTOR"}


def help_options(sub):
    """The options a --help lists: the leading "-x, --long" words of its
    option lines (indented at most 8 columns, starting with "-")."""
    res = subprocess.run([BLOCKSNOOP, *SUBCOMMANDS[sub], "--help"], capture_output=True,
                         text=True, timeout=10, check=True)
    opts = set()
    for l in res.stdout.splitlines():
        m = re.match(r"^ {1,8}(-[^ ,]*)(?:, (--[^ ]*))?", l)
        if not m:
            continue
        for o in m.groups():
            if o and o != "--":
                opts.add(re.match(r"-[-A-Za-z0-9]*", o).group(0))
    assert len(opts) > 3, res.stdout
    return opts


def man_sections():
    """{".SH title": [lines]} of the man page source."""
    sections, cur = {}, None
    with open(MAN) as f:
        for l in f.read().splitlines():
            if l.startswith(".SH "):
                cur = l[4:].strip().strip('"')
                sections[cur] = []
            elif cur:
                sections[cur].append(l)
    return sections


def man_options(sub):
    """The options tagged (.TP) in the section of sub."""
    lines = man_sections()[MAN_SECTION[sub]]
    opts = set()
    for i, l in enumerate(lines):
        if l != ".TP":
            continue
        tag = lines[i + 1].replace("\\-", "-")
        found = re.findall(r"(?<![A-Za-z0-9-])(--?[A-Za-z][-A-Za-z0-9]*)", tag)
        assert found, f"a .TP tag without an option in {MAN_SECTION[sub]}: {lines[i + 1]!r}"
        opts.update(found)
    return opts


@pytest.mark.parametrize("sub", sorted(SUBCOMMANDS))
def test_man_page_has_every_option_of_help_and_no_other(sub):
    in_help, in_man = help_options(sub), man_options(sub)
    assert not in_help - in_man, (f"in `{' '.join(['blocksnoop', *SUBCOMMANDS[sub]])} --help` "
                                  f"but not in the man page's {MAN_SECTION[sub]}: "
                                  f"{sorted(in_help - in_man)}")
    assert not in_man - in_help, (f"in the man page's {MAN_SECTION[sub]} but not in --help: "
                                  f"{sorted(in_man - in_help)}")


def test_man_page_version_is_the_binary_s():
    version = subprocess.run([BLOCKSNOOP, "--version"], capture_output=True, text=True,
                             check=True).stdout.split()[-1]
    with open(MAN) as f:
        th = next(l for l in f if l.startswith(".TH "))
    assert f'"blocksnoop {version}"' in th, th


def test_man_page_renders_without_warnings():
    res = subprocess.run(["groff", "-t", "-man", "-ww", "-z", MAN], capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    res = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", MAN], capture_output=True,
                         text=True, timeout=30, env=env)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    for title in ("NAME", "SYNOPSIS", "OPTIONS", "DOCTOR", "AGENT", "EXIT STATUS"):
        assert f"\n{title}\n" in res.stdout, title
    assert "--fail-on-loss" in res.stdout


# --------------------------------------------------------------------------
# bash completion


def complete(*words, cwd=None):
    """The candidates completion/blocksnoop.bash offers for the command line
    `words` (the last one being completed), in a real, non-interactive
    bash that has sourced it and nothing else."""
    script = r'''
source "$1"; shift
[[ $(complete -p blocksnoop) == "complete -F _blocksnoop blocksnoop" ]] || exit 9
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
_blocksnoop
printf '%s\n' "${COMPREPLY[@]}"
'''
    res = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", COMPLETION,
                          BLOCKSNOOP, *words[1:]],
                         capture_output=True, text=True, timeout=30, cwd=cwd)
    assert res.returncode == 0 and res.stderr == "", res
    return {l for l in res.stdout.splitlines() if l}


@pytest.mark.parametrize("sub", sorted(SUBCOMMANDS))
def test_completion_offers_every_option(sub):
    assert complete("blocksnoop", *SUBCOMMANDS[sub], "-") == help_options(sub)


def test_completion_of_a_partial_option():
    assert complete("blocksnoop", "--foll") == {"--follow"}
    assert complete("blocksnoop", "--fail") == {"--fail-on", "--fail-on-loss"}
    assert complete("blocksnoop", "agent", "--node") == {"--node-name"}
    assert complete("blocksnoop", "doctor", "--js") == {"--json"}
    # The options after a PID are still the command line's.
    assert complete("blocksnoop", "1", "--all") == {"--all-threads"}


def test_completion_of_subcommands_and_values():
    assert complete("blocksnoop", "doc") == {"doctor"}
    assert complete("blocksnoop", "ag") == {"agent"}
    assert complete("blocksnoop", "--sampler", "") == {"builtin", "austin", "none"}
    assert complete("blocksnoop", "agent", "--sampler", "a") == {"austin"}
    assert complete("blocksnoop", "--fail-on", "e") == {"event", "error"}
    # A number is typed, not chosen.
    assert complete("blocksnoop", "-t", "") == set()
    assert complete("blocksnoop", "agent", "--poll-interval", "") == set()


def test_completion_of_files_and_directories(tmp_path):
    (tmp_path / "log-a.json").write_text("")
    (tmp_path / "log-dir").mkdir()
    (tmp_path / "other").write_text("")
    prefix = str(tmp_path / "log")
    assert complete("blocksnoop", "--log-file", prefix) == {prefix + "-a.json", prefix + "-dir"}
    assert complete("blocksnoop", "--austin-root", prefix) == {prefix + "-dir"}
    assert complete("blocksnoop", "agent", "--kubelet-ca-file", prefix) == {
        prefix + "-a.json", prefix + "-dir"}
    assert complete("blocksnoop", "doctor", "--austin", prefix) == {prefix + "-a.json",
                                                                    prefix + "-dir"}


def test_completion_of_pids_and_threads(procs):
    target = procs.start([PY, "-c", "import threading, time; "
                          "threading.Thread(target=time.sleep, args=(60,)).start(); "
                          "print('ready', flush=True); time.sleep(60)"])
    deadline = 100
    while "ready" not in target.stdout and deadline:
        import time
        time.sleep(0.1)
        deadline -= 1
    pid = str(target.pid)
    assert pid in complete("blocksnoop", pid[:-1])
    assert pid in complete("blocksnoop", "--follow", "")
    assert pid in complete("blocksnoop", "doctor", pid[:-1])
    # Only numbers: no file names of the working directory.
    assert all(c.isdigit() for c in complete("blocksnoop", "-v", "")), "not only PIDs"
    # --tid offers the threads of the PID given.
    tids = set(os.listdir(f"/proc/{pid}/task"))
    assert len(tids) == 2, tids
    assert complete("blocksnoop", pid, "--tid", "") == tids
    assert complete("blocksnoop", "--tid", "", pid) != set()  # before the PID: any
    assert complete("blocksnoop", "doctor", pid, "--tid", "") == tids
    # Once a PID is given, no second one.
    assert complete("blocksnoop", pid, "") == set()


def test_completion_of_the_command_after_double_dash(tmp_path):
    assert "python3" in complete("blocksnoop", "-t", "50", "--", "python")
    (tmp_path / "app.py").write_text("")
    assert complete("blocksnoop", "--", "python3", str(tmp_path / "ap")) == {
        str(tmp_path / "app.py")}
    # The command's own options are not ours.
    assert "--follow" not in complete("blocksnoop", "--", "python3", "--f")


# --------------------------------------------------------------------------
# make install


def test_make_install_puts_man_page_and_completion_where_they_are_looked_for(tmp_path):
    dest = tmp_path / "dest"
    out = os.path.dirname(BLOCKSNOOP)
    # -o: install the binary under test as it is, never rebuild it here.
    make = ["make", "-s", "-C", ROOT, f"DESTDIR={dest}", "PREFIX=/usr", f"OUTPUT={out}",
            "-o", BLOCKSNOOP]
    res = subprocess.run([*make, "install"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    binary = dest / "usr/bin/blocksnoop"
    man = dest / "usr/share/man/man8/blocksnoop.8"
    comp = dest / "usr/share/bash-completion/completions/blocksnoop"
    for path, mode in ((binary, 0o755), (man, 0o644), (comp, 0o644)):
        assert path.is_file(), f"{path} not installed"
        assert path.stat().st_mode & 0o7777 == mode, (path, oct(path.stat().st_mode))
    assert man.read_text() == open(MAN).read()
    assert comp.read_text() == open(COMPLETION).read()
    # man finds it by name in the installed tree.
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    res = subprocess.run(["man", "--warnings", "-M", str(dest / "usr/share/man"), "8",
                          "blocksnoop"], capture_output=True, text=True, timeout=30, env=env)
    assert res.returncode == 0 and res.stderr == "" and "blocksnoop agent" in res.stdout, res
    res = subprocess.run([*make, "uninstall"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert not binary.exists() and not man.exists() and not comp.exists()
