"""The loop lag histogram, blocksnoop_loop_gap_seconds, as a real Prometheus
server sees it: scraped from the agent (stand-in kubelet, real cgroups, as in
test_agent.py) and from the command line's --metrics-addr, and queried with
histogram_quantile() through Prometheus's HTTP API. The answers are checked
against the gaps the fixtures really made (tests/fixtures/loop_gaps.py,
tests/fixtures/gap_distribution.c), within the histogram's resolution: a
bucket boundary every factor 1.5 or 4/3 (bpf/gap_hist.h).

Prometheus is Debian's (`prometheus`, a test dependency), started here on
127.0.0.1 with a generated configuration, its data in the test's temporary
directory, and killed by PID at the end whatever happens.
"""
import json
import math
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from conftest import (BLOCKSNOOP, PY, Result, bin_fixture, check_error_line, py_fixture,
                      read_truth, wait_for)
from test_agent import (ENABLED, Agent, Kubelet, certs, cgroups, containerd,  # noqa: F401
                        free_port, join_cgroup, new_cid, new_uid, parse_metrics, pod)

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
# p99 falls among the 40 ms gaps (ranks 951..1000 of 1000), far from
# their group's edges; 40 ms is well inside the bucket [33.55, 50.33) ms.
SPEC = ["800:1", "150:4", "50:40"]
NGAPS = 1000
# The histogram's boundaries (gap_hist.h): 2^e and 1.5 * 2^e ns.
BOUNDS_NS = sorted([1 << e for e in range(18, 35)] + [3 << (e - 1) for e in range(18, 34)])


def bucket_of(ns):
    """(low, high) in seconds of the histogram bucket holding ns."""
    low, high = 0, math.inf
    for b in BOUNDS_NS:
        if ns >= b:
            low = b
        else:
            high = b
            break
    return low / 1e9, high / 1e9


def quantile_range(gaps_ns, slack_ns, q=0.99):
    """Where histogram_quantile(q) may answer: the bucket of the q-th
    gap as the fixture measured it, to the bucket of that gap plus what
    the fixture's measurement may miss (the syscalls' own entry and exit,
    a preemption)."""
    ranked = sorted(gaps_ns)
    lo_gap = ranked[max(0, math.ceil(q * len(ranked)) - 1)]
    return bucket_of(lo_gap)[0], bucket_of(lo_gap + slack_ns)[1]


class Prometheus:
    """A Prometheus server scraping targets every second."""

    def __init__(self, procs, tmp_path, targets):
        assert shutil.which(PROMETHEUS) or pytest.fail(
            "prometheus is needed (apt-get install --no-install-recommends prometheus)")
        self.dir = tmp_path / "prometheus"
        self.dir.mkdir()
        config = self.dir / "prometheus.yml"
        # JSON is YAML.
        config.write_text(json.dumps({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "blocksnoop",
                                "static_configs": [{"targets": list(targets)}]}],
        }))
        self.port = free_port()
        self.proc = procs.start([PROMETHEUS, f"--config.file={config}",
                                 f"--storage.tsdb.path={self.dir / 'data'}",
                                 f"--web.listen-address=127.0.0.1:{self.port}",
                                 "--web.console.templates=/nonexistent",
                                 "--web.console.libraries=/nonexistent"])
        wait_for(lambda: self._ready() or (self.proc.p.poll() is not None and pytest.fail(
            f"prometheus exited\n{self.proc.describe()}")), 30, "prometheus to be ready")

    def _ready(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def query(self, expr):
        """The instant vector expr evaluates to now: [(labels, value)]."""
        url = (f"http://127.0.0.1:{self.port}/api/v1/query?"
               + urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.loads(r.read())
        assert body["status"] == "success", body
        assert body["data"]["resultType"] == "vector", body
        return [(s["metric"], float(s["value"][1])) for s in body["data"]["result"]]

    def one(self, expr):
        result = self.query(expr)
        assert len(result) == 1, (expr, result)
        return result[0][1]

    def wait_value(self, expr, pred, timeout, what):
        def check():
            result = self.query(expr)
            return len(result) == 1 and pred(result[0][1]) and result
        return wait_for(lambda: check() or (self.proc.p.poll() is not None and pytest.fail(
            f"prometheus exited\n{self.proc.describe()}")), timeout,
            f"{what}: {expr} = {self.query(expr)}")


def check_quantiles(prom, selector, gaps_ns, slack_ns):
    """p99 over the raw cumulative buckets, and over their rate (every
    bucket was scraped at 0 before the first gap, so both see the same
    gaps), lie in the bucket of the fixture's p99 gap."""
    lo, hi = quantile_range(gaps_ns, slack_ns)
    raw = prom.one(f"histogram_quantile(0.99, {selector})")
    assert lo <= raw <= hi, f"p99 {raw} s, the fixture's gaps give {lo}..{hi} s"
    rated = prom.one(f"histogram_quantile(0.99, rate({selector}[2m]))")
    assert lo <= rated <= hi, f"p99 of rate {rated} s, the fixture's gaps give {lo}..{hi} s"
    # The median: among the 1 ms gaps.
    lo, hi = quantile_range(gaps_ns, slack_ns, 0.5)
    median = prom.one(f"histogram_quantile(0.5, {selector})")
    assert lo <= median <= hi, f"p50 {median} s, the fixture's gaps give {lo}..{hi} s"


def test_agent_loop_histogram_in_prometheus(procs, cgroups, tmp_path, certs):  # noqa: F811
    """A Python loop in an opted-in pod's container makes 1000 gaps of known
    lengths; Prometheus scrapes the agent; its count is exactly the number
    of gaps (every gap, not only those over the threshold), its sum within
    the fixture's measurement, and its p50 and p99 in the right bucket."""
    uid, cid = new_uid(), new_cid()
    cgroup = cgroups.container(uid, cid)
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    app = procs.start([PY, py_fixture("loop_gaps.py"), str(app_dir), *SPEC],
                      preexec_fn=join_cgroup(cgroup))
    wait_for(lambda: (app_dir / "ready").exists() or (app.p.poll() is not None and pytest.fail(
        f"the app died\n{app.describe()}")), 20, "the app to be ready")
    k = Kubelet(procs, tmp_path, certs["node"],
                pods=[pod("lag-0", "shop", uid, [("app", containerd(cid))], annotations=ENABLED)])
    agent = Agent(procs, k, tmp_path, ca=certs["ca"])
    labels = ("container", "app"), ("namespace", "shop"), ("pod", "lag-0")
    agent.wait_metric("blocksnoop_watched_processes", labels, lambda v: v == 1)
    prom = Prometheus(procs, tmp_path, [f"127.0.0.1:{agent.metrics_port}"])
    selector = 'blocksnoop_loop_gap_seconds_bucket{namespace="shop",pod="lag-0",container="app"}'
    count = 'blocksnoop_loop_gap_seconds_count{namespace="shop",pod="lag-0",container="app"}'
    prom.wait_value(count, lambda v: v == 0, 20, "a scrape before the first gap")

    (app_dir / "go").touch()
    wait_for(lambda: (app_dir / "truth").exists() or (app.p.poll() is not None and pytest.fail(
        f"the app died\n{app.describe()}")), 60, "the app's gaps")
    gaps = [r["ns"] for r in read_truth(app_dir / "truth") if r["event"] == "gap"]
    assert len(gaps) == NGAPS
    prom.wait_value(count, lambda v: v >= NGAPS, 20, "every gap scraped")
    time.sleep(1.5)  # one more scrape: nothing more may come
    assert prom.one(count) == NGAPS
    # Blocks at or over -t 100 (none here) are the events; the histogram has all gaps.
    assert agent.metric("blocksnoop_blocking_events_total", labels) == 0
    total = prom.one(f'blocksnoop_loop_gap_seconds_sum{{namespace="shop",pod="lag-0",container="app"}}')
    assert sum(gaps) / 1e9 <= total <= sum(gaps) / 1e9 + NGAPS * 0.002, (total, sum(gaps))
    check_quantiles(prom, selector, gaps, 5_000_000)
    # The agent's own text agrees with what Prometheus stored.
    m = agent.metrics()
    assert m[("blocksnoop_loop_gap_seconds_count", labels)] == NGAPS
    assert m[("blocksnoop_loop_gap_seconds_bucket", tuple(sorted((*labels, ("le", "+Inf")))))] == NGAPS
    agent.stop()


def test_cli_loop_histogram_in_prometheus(procs, tmp_path):
    """blocksnoop --metrics-addr launches a shell that, once told, runs
    gap_distribution (followed: its gaps are the watch's) and then stays;
    Prometheus scrapes the command line's /metrics, labelled with the
    launched process's pid and name."""
    truth = tmp_path / "truth"
    go = tmp_path / "go"
    port = free_port()
    script = (f"while [ ! -e {go} ]; do sleep 0.1; done; "
              f"{bin_fixture('gap_distribution')} -o {truth} {' '.join(SPEC)}; exec sleep 120")
    bs = procs.start([BLOCKSNOOP, "--metrics-addr", f"127.0.0.1:{port}", "-t", "1000", "--json",
                      "--", "/bin/sh", "-c", script])
    start = bs.wait_record("session_start")
    pid = start["pid"]

    def scrape():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                assert r.headers.get("Content-Type").startswith("text/plain; version=0.0.4")
                return parse_metrics(r.read().decode())
        except OSError:
            return None
    labels = (("comm", "sh"), ("pid", str(pid)))
    m = wait_for(lambda: (lambda m: m and ("blocksnoop_loop_gap_seconds_count", labels) in m
                          and m)(scrape()), 20, f"the command line's /metrics\n{bs.describe()}")
    assert m[("blocksnoop_loop_gap_seconds_count", labels)] == 0
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
        assert r.status == 200 and r.read().decode().startswith("ok\n")

    prom = Prometheus(procs, tmp_path, [f"127.0.0.1:{port}"])
    selector = f'blocksnoop_loop_gap_seconds_bucket{{pid="{pid}",comm="sh"}}'
    count = f'blocksnoop_loop_gap_seconds_count{{pid="{pid}",comm="sh"}}'
    prom.wait_value(count, lambda v: v == 0, 20, "a scrape before the first gap")
    go.touch()
    wait_for(lambda: truth.exists() and truth.stat().st_size > 0
             or (bs.p.poll() is not None and pytest.fail(bs.describe())), 60, "the gaps")
    time.sleep(0.2)  # truth is written whole at the end
    gaps = [r for r in read_truth(truth) if r["event"] == "gap"]
    assert len(gaps) == NGAPS
    prom.wait_value(count, lambda v: v >= NGAPS, 20, "every gap scraped")
    time.sleep(1.5)
    assert prom.one(count) == NGAPS
    total = prom.one(f'blocksnoop_loop_gap_seconds_sum{{pid="{pid}",comm="sh"}}')
    inner = sum(g["ns"] for g in gaps) / 1e9
    outer = sum(g["outer_ns"] for g in gaps) / 1e9
    assert inner <= total <= outer, (total, inner, outer)
    # gap_distribution measures each gap from outside too: no slack needed
    # beyond that.
    lo, _ = quantile_range([g["ns"] for g in gaps], 0)
    _, hi = quantile_range([g["outer_ns"] for g in gaps], 0)
    raw = prom.one(f"histogram_quantile(0.99, {selector})")
    assert lo <= raw <= hi, (raw, lo, hi)
    check_quantiles(prom, selector, [g["ns"] for g in gaps],
                    max(g["outer_ns"] - g["ns"] for g in gaps))
    assert prom.one(f'blocksnoop_blocking_events_total{{pid="{pid}",comm="sh"}}') == 0
    assert prom.one("blocksnoop_lost_events_total") == 0
    bs.send(signal.SIGTERM)  # forwarded to the command (sleep by now), which ends
    assert bs.wait(20) == 128 + signal.SIGTERM, bs.describe()


# The HTTP libraries (and what only they bring) are loaded when a run first
# needs them (agent/dynlib.h), not linked: a plain attach must not map them.
HTTP_LIBRARIES = ("libcurl.so.", "libmicrohttpd.so.", "libssl.so.", "libgnutls.so.")


def mapped_libraries(pid):
    """The file names of the shared objects mapped into pid."""
    names = set()
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and ".so" in fields[5]:
                names.add(fields[5].strip().rsplit("/", 1)[-1])
    assert any(n.startswith("libbpf.so.") for n in names), names  # the list is real
    return names


def http_libraries(names):
    return sorted(n for n in names if n.startswith(HTTP_LIBRARIES))


def test_cli_loads_http_libraries_only_when_it_serves(procs, bs):
    """Attached to an idle asyncio loop, blocksnoop maps neither libcurl nor
    libmicrohttpd nor their TLS libraries; with --metrics-addr it maps
    libmicrohttpd (still not libcurl: only agent mode polls a kubelet)."""
    target = procs.start([PY, "-c", "import asyncio; asyncio.run(asyncio.sleep(120))"])
    plain = bs.start("--json", "-t", "1000", str(target.pid))
    plain.wait_record("session_start")
    assert http_libraries(mapped_libraries(plain.pid)) == [], plain.describe()
    plain.send(signal.SIGINT)
    assert plain.wait(20) == 0, plain.describe()

    port = free_port()
    served = bs.start("--json", "-t", "1000", "--metrics-addr", f"127.0.0.1:{port}",
                      str(target.pid))
    served.wait_record("session_start")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
        assert r.status == 200
    names = mapped_libraries(served.pid)
    assert any(n.startswith("libmicrohttpd.so.") for n in names), names
    assert not any(n.startswith("libcurl.so.") for n in names), names
    served.send(signal.SIGINT)
    assert served.wait(20) == 0, served.describe()


def test_agent_loads_libcurl_and_libmicrohttpd(procs, tmp_path, certs):
    """The agent, polling a kubelet and serving /metrics, maps both."""
    kubelet = Kubelet(procs, tmp_path, certs["node"], pods=[])
    agent = Agent(procs, kubelet, tmp_path, ca=certs["ca"])
    agent.wait_metric("blocksnoop_kubelet_polls_total", pred=lambda v: v >= 1)
    names = mapped_libraries(agent.p.pid)
    assert any(n.startswith("libcurl.so.") for n in names), names
    assert any(n.startswith("libmicrohttpd.so.") for n in names), names
    agent.stop()


def system_library(prefix):
    """The file the dynamic linker loads for the soname starting with
    prefix (ld.so.cache), symlinks resolved."""
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    paths = re.findall(rf"^\s*{re.escape(prefix)}\d+ \(.*\) => (\S+)", cache, re.M)
    assert paths, f"no {prefix}* in ld.so.cache"
    return os.path.realpath(paths[0])


def test_missing_libmicrohttpd_is_a_clear_error(procs):
    """With libmicrohttpd unloadable (/dev/null mounted over it in a private
    mount namespace), --metrics-addr fails with one line naming the package
    to install, and doctor warns about it; a plain attach does not need it."""
    lib = system_library("libmicrohttpd.so.")
    target = procs.start([PY, "-c", "import asyncio; asyncio.run(asyncio.sleep(120))"])
    hidden = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
              f'mount --bind /dev/null {lib} && exec "$@"', "sh", BLOCKSNOOP]

    p = procs.start([*hidden, "--metrics-addr", f"127.0.0.1:{free_port()}", "-t", "1000",
                     str(target.pid)])
    p.wait(30)
    line = check_error_line(Result(p), 1)
    assert re.search(r"cannot serve /metrics on 127\.0\.0\.1:\d+: cannot load "
                     r"libmicrohttpd\.so\.\d+: .*\(install the libmicrohttpd\S* package\)", line), line

    doctor = procs.start([*hidden, "doctor"])
    doctor.wait(30)
    assert re.search(r"^warn  --metrics-addr and agent mode cannot serve /metrics: cannot load "
                     r"libmicrohttpd\.so\.\d+: .*\(install the libmicrohttpd\S* package\)$",
                     doctor.stdout, re.M), doctor.describe()

    plain = procs.start([*hidden, "--json", "-t", "1000", str(target.pid)])
    plain.wait_record("session_start")
    plain.send(signal.SIGINT)
    assert plain.wait(20) == 0, plain.describe()
