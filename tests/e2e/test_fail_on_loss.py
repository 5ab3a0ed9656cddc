"""--fail-on-loss: exit 3 when anything was lost, after everything seen was
written.

Two real losses: a loop that makes hundreds of thousands of epoll gaps at
-t 0 overruns the kernel's ring buffer (lost_event_count), and a --json
stdout on /dev/full cannot write a single record (dropped_records). Without
the option the same runs exit 0; with it and nothing lost, 0 too.
"""
import subprocess

from conftest import BLOCKSNOOP, bin_fixture, check_common, parse_json_lines

# Gaps of a few microseconds each, far more than the ring buffer holds
# while user space writes a JSON line per event.
GAPS = 100000


def flood(*args):
    """blocksnoop -t 0 --json over a C loop of GAPS epoll gaps."""
    return subprocess.run(
        [BLOCKSNOOP, *args, "--json", "-t", "0", "--sampler", "none", "--",
         bin_fixture("epoll_gaps"), "-v", "wait", "-n", str(GAPS), "-g", "0", "-b"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)


def test_ring_buffer_loss_fails_the_run_after_flushing_what_was_seen():
    res = flood("--fail-on-loss")
    assert res.returncode == 3, (res.returncode, res.stderr)
    records = parse_json_lines(res.stdout)
    check_common(records)
    summary = records[-1]
    events = [r for r in records if r["type"] == "blocking_event"]
    assert summary["lost_event_count"] > 0, summary
    # Every event that came through was written before the exit.
    assert len(events) == summary["event_count"] > 0, summary
    assert summary["event_count"] + summary["lost_event_count"] >= GAPS, summary
    assert summary["dropped_records"] == {"stdout": 0}, summary
    assert "--fail-on-loss" in res.stderr and "lost" in res.stderr, res.stderr


def test_ring_buffer_loss_alone_does_not_fail_the_run():
    res = flood()
    assert res.returncode == 0, (res.returncode, res.stderr)
    summary = parse_json_lines(res.stdout)[-1]
    assert summary["type"] == "session_summary" and summary["lost_event_count"] > 0, summary


def run_to_full_stdout(bs_args, tmp_path):
    """--json on /dev/full (every record dropped), --log-file beside it."""
    log = tmp_path / "log.json"
    with open("/dev/full", "w") as full:
        res = subprocess.run(
            [BLOCKSNOOP, *bs_args, "--json", "--log-file", str(log), "-t", "50",
             "--sampler", "none", "--", bin_fixture("epoll_gaps"), "-v", "wait",
             "-n", "2", "-g", "80"],
            stdin=subprocess.DEVNULL, stdout=full, stderr=subprocess.PIPE, text=True,
            timeout=60)
    return res, parse_json_lines(log.read_text(), where=str(log))


def test_records_an_output_could_not_write_fail_the_run(tmp_path):
    res, logged = run_to_full_stdout(["--fail-on-loss"], tmp_path)
    assert res.returncode == 3, (res.returncode, res.stderr)
    summary = logged[-1]
    assert summary["type"] == "session_summary", logged
    # session_start and two events were dropped on stdout before the
    # summary; the log file has them all.
    assert summary["dropped_records"] == {"stdout": 3, "log_file": 0}, summary
    assert summary["lost_event_count"] == 0, summary
    assert [r["type"] for r in logged].count("blocking_event") == 2, logged


def test_dropped_records_alone_do_not_fail_the_run(tmp_path):
    res, logged = run_to_full_stdout([], tmp_path)
    assert res.returncode == 0, (res.returncode, res.stderr)
    assert logged[-1]["dropped_records"]["stdout"] == 3, logged[-1]


def test_nothing_lost_exits_0(bs):
    res = bs.launch("--fail-on-loss", "--json", "-t", "50", "--sampler", "none",
                    command=[bin_fixture("epoll_gaps"), "-v", "wait", "-n", "2", "-g", "80"])
    assert res.rc == 0, res
    summary = res.one("session_summary")
    assert summary["lost_event_count"] == 0 and summary["dropped_records"] == {"stdout": 0}, summary
    assert summary["event_count"] == 2, summary


def test_fail_on_loss_is_refused_by_the_agent():
    res = subprocess.run([BLOCKSNOOP, "agent", "--node-name", "n", "--fail-on-loss"],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert res.returncode == 2, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not apply to blocksnoop agent" in lines[0], res.stderr
    assert "/metrics" in lines[0], res.stderr
