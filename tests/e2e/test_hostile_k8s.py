"""`blocksnoop agent` against what a pod, or a kubelet address, can do to it.

The same set-up as tests/e2e/test_agent.py (whose helpers this reuses): the
stand-in kubelet over real HTTPS with certificates made by the test, real
Python asyncio processes in kubepods cgroups under /sys/fs/cgroup/unified
(removed, and their processes killed by PID, also when a test fails), the
agent with real BPF. Here the pods are hostile:
  * a pod asks for a threshold of 0.000001 ms and blocks its loop for a few
    ms all the time: its threshold is raised to the agent's floor and its
    events are rate-limited, the rest counted (records, /metrics, summary),
    while a well-behaved pod in the same run keeps every event;
  * a pod's names and annotations carry terminal escapes, thousands of
    container names, junk numbers and dozens of unknown keys;
and the bearer token must reach the kubelet and nothing else: a plain
http:// kubelet URL is refused, a kubelet that redirects elsewhere does not
get its redirect followed.
"""
import datetime
import http.server
import re
import signal
import threading
import time

import pytest

from conftest import parse_json_lines, read_truth, wait_for
from test_agent import (ENABLED, NODE, Agent, App, Kubelet, certs, cgroups,  # noqa: F401 (fixtures)
                        containerd, expected_k8s, match_loosely, new_cid, new_uid, one_error,
                        pod, run_agent, series)

# The agent's defaults (docs/kubernetes.md): what a pod gets without asking.
MIN_THRESHOLD_MS = 10
MAX_EVENTS_PER_S = 10
BURST = 50


def iso(t):
    return datetime.datetime.fromisoformat(t[:-1] + "+00:00").timestamp()


def admitted_bound(events, rate, burst):
    """The most events a token bucket of rate/burst lets through between
    the first and the last of these (on the kernel's clock of the events)."""
    ends = [e["end_ns"] for e in events]
    return burst + rate * (max(ends) - min(ends)) / 1e9 + 1e-6


# --------------------------------------------------------------------------
# 1. one pod cannot flood the node


def test_flooding_pod_is_floored_and_rate_limited(procs, cgroups, tmp_path, certs):
    flood_uid, flood_cid = new_uid(), new_cid()
    good_uid, good_cid = new_uid(), new_cid()
    # 12 ms blocks back to back (over the 10 ms floor: each one is a
    # block the agent must account for), ~80 a second.
    flood = App(procs, tmp_path, cgroups.container(flood_uid, flood_cid), block=0.012, pause=0,
                go=True, name="flood")
    good = App(procs, tmp_path, cgroups.container(good_uid, good_cid), block=0.15, pause=0.3,
               count=4, go=True, name="good")
    pods = [
        pod("flood-0", "noisy", flood_uid, [("app", containerd(flood_cid))],
            annotations={**ENABLED, "blocksnoop.io/threshold-ms": "0.000001"},
            labels={"app": "flood"}),
        pod("good-0", "calm", good_uid, [("app", containerd(good_cid))], annotations=ENABLED,
            labels={"app": "good"}),
    ]
    k = Kubelet(procs, tmp_path, certs["node"], pods=pods)
    log_file = tmp_path / "agent.log"
    # The agent's defaults for the floor and the limit: no option given.
    agent = Agent(procs, k, tmp_path, "--log-file", str(log_file), ca=certs["ca"])
    agent.wait_metric("blocksnoop_watched_processes", series("noisy", "flood-0", "app"),
                      lambda v: v == 1)
    agent.wait_metric("blocksnoop_watched_processes", series("calm", "good-0", "app"),
                      lambda v: v == 1)
    flood_lbl = series("noisy", "flood-0", "app")
    flood.go()
    wait_for(lambda: len(flood.blocks()) >= 150, 20, "150 blocks of the flooding pod")
    # The well-behaved pod blocks while the other floods.
    good.go()
    wait_for(lambda: len(good.blocks()) == 4, 20, "4 blocks of the good pod")
    wait_for(lambda: len(agent.events(pod_uid=good_uid)) >= 4, 10, "4 events of the good pod")
    time.sleep(1.0)  # several polls: annotations re-read, errors not repeated
    # The flood stops; a last tick reports what was still counted.
    flood.kill()
    agent.wait_metric("blocksnoop_watched_processes_all", pred=lambda v: v == 1)
    time.sleep(1.5)
    m = agent.metrics()
    records = agent.stop()
    stderr = agent.p.stderr

    flood_events = [r for r in records if r["type"] == "blocking_event"
                    and r["k8s"]["pod_uid"] == flood_uid]
    good_events = [r for r in records if r["type"] == "blocking_event"
                   and r["k8s"]["pod_uid"] == good_uid]
    suppressed = [r for r in records if r["type"] == "events_suppressed"]
    summary = records[-1]
    assert summary["type"] == "session_summary", summary

    # The floor: the pod asked for 0.000001 ms and got 10 ms, said once.
    assert flood_events, records
    assert all(e["duration_ms"] >= MIN_THRESHOLD_MS for e in flood_events), flood_events
    errors = [r for r in records if r["type"] == "config_error"]
    assert len(errors) == 1, errors
    assert errors[0]["value"] == "0.000001" and errors[0]["k8s"]["pod"] == "flood-0", errors
    assert "below the agent's minimum of 10 ms" in errors[0]["error"], errors
    assert stderr.count("pod noisy/flood-0: annotation blocksnoop.io/threshold-ms") == 1, stderr

    # The limit: no more events than the bucket lets through.
    assert BURST <= len(flood_events) <= admitted_bound(flood_events, MAX_EVENTS_PER_S, BURST), (
        len(flood_events), flood_events[0]["end_ns"], flood_events[-1]["end_ns"])
    assert stderr.count("pod noisy/flood-0: more than 10 blocking events a second") == 1, stderr

    # The rest is counted, the same in records, /metrics and the summary.
    assert suppressed and all(r["k8s"]["pod_uid"] == flood_uid for r in suppressed), suppressed
    total = sum(r["count"] for r in suppressed)
    assert m[("blocksnoop_suppressed_events_total", flood_lbl)] == total, (m, suppressed)
    assert m[("blocksnoop_blocking_events_total", flood_lbl)] == len(flood_events), m
    assert summary["suppressed_event_count"] == total, summary
    assert summary["event_count"] == len(flood_events) + len(good_events), summary
    assert [r["total"] for r in suppressed] == [
        sum(r["count"] for r in suppressed[:i + 1]) for i in range(len(suppressed))], suppressed
    for r in suppressed:
        assert r["level"] == "warning" and r["count"] > 0, r
        assert r["max_events_per_s"] == MAX_EVENTS_PER_S and r["burst"] == BURST, r
        assert r["service"] == "flood", r
        assert r["k8s"] == expected_k8s("noisy", "flood-0", flood_uid, "", ""), r
    # At most one a second.
    times = [iso(r["time"]) for r in suppressed]
    assert all(b - a >= 0.9 for a, b in zip(times, times[1:])), times
    # Every block of the flood while it was watched was either reported or
    # counted as suppressed.
    first = min(e["start_ns"] for e in flood_events)
    watched_blocks = [b for b in flood.blocks() if b["start_ns"] >= first]
    assert len(flood_events) + total >= len(watched_blocks), (
        len(flood_events), total, len(watched_blocks))

    # The well-behaved pod lost nothing.
    match_loosely(good_events, good.blocks())
    assert m[("blocksnoop_suppressed_events_total", series("calm", "good-0", "app"))] == 0, m

    # The log file has the same records, with a message for the count.
    logged = parse_json_lines(log_file.read_text(), "log file")
    logged_suppressed = [r for r in logged if r["type"] == "events_suppressed"]
    assert sum(r["count"] for r in logged_suppressed) == total, logged_suppressed
    assert all(r["message"].startswith("Blocking events suppressed: ") and
               r["dd"]["service"] == "flood" for r in logged_suppressed), logged_suppressed
    assert len([r for r in logged if r["type"] == "blocking_event"]) == summary["event_count"]


def test_pod_limits_are_the_agents_options(procs, cgroups, tmp_path, certs):
    """--min-threshold and --max-events-per-pod/--max-events-burst set the
    floor and the limit: 5 ms blocks under a 20 ms floor are not events;
    30 ms ones are held to 2 a second after 3."""
    under_uid, under_cid = new_uid(), new_cid()
    over_uid, over_cid = new_uid(), new_cid()
    under = App(procs, tmp_path, cgroups.container(under_uid, under_cid), block=0.005, pause=0,
                go=True, name="under")
    over = App(procs, tmp_path, cgroups.container(over_uid, over_cid), block=0.03, pause=0,
               go=True, name="over")
    tiny = {**ENABLED, "blocksnoop.io/threshold-ms": "0.000001"}
    k = Kubelet(procs, tmp_path, certs["node"], pods=[
        pod("under-0", "lim", under_uid, [("app", containerd(under_cid))], annotations=tiny),
        pod("over-0", "lim", over_uid, [("app", containerd(over_cid))], annotations=tiny)])
    agent = Agent(procs, k, tmp_path, "--min-threshold", "20", "--max-events-per-pod", "2",
                  "--max-events-burst", "3", ca=certs["ca"])
    agent.wait_metric("blocksnoop_watched_processes_all", pred=lambda v: v == 2)
    watched = time.monotonic_ns()
    under.go()
    over.go()
    agent.wait_metric("blocksnoop_suppressed_events_total", series("lim", "over-0", "app"),
                      lambda v: v >= 10)
    time.sleep(1.2)
    records = agent.stop()
    over = [r for r in records if r["type"] == "blocking_event" and r["k8s"]["pod"] == "over-0"]
    assert 3 <= len(over) <= admitted_bound(over, 2, 3), over
    # The floor: no event under 20 ms (a stall of the machine may still
    # make a real one, but not the pod's 5 ms blocks).
    under_events = [r for r in records if r["type"] == "blocking_event"
                    and r["k8s"]["pod"] == "under-0"]
    under_blocks = [b for b in under.blocks() if b["start_ns"] > watched]
    assert len(under_blocks) > 100, len(under_blocks)
    assert all(e["duration_ms"] >= 20 for e in under_events), under_events
    assert len(under_events) < len(under_blocks) / 10, (len(under_events), len(under_blocks))
    errors = [r for r in records if r["type"] == "config_error"]
    assert len(errors) == 2 and all("minimum of 20 ms" in r["error"] and
                                    "using 20" in r["error"] for r in errors), errors
    sup = [r for r in records if r["type"] == "events_suppressed"]
    assert sup and all(r["max_events_per_s"] == 2 and r["burst"] == 3 for r in sup), sup


# --------------------------------------------------------------------------
# 2. names and annotations that are the target's to choose


def test_hostile_names_and_annotations(procs, cgroups, tmp_path, certs):
    """A pod named with terminal escapes, whose annotations carry a service
    name with escapes and a new line, thousands of container names, a
    threshold of 1e300 and 30 unknown keys: the console and stderr show
    them escaped, each bad annotation is one bounded config_error, the
    defaults apply, and its events are still reported."""
    uid, cid = new_uid(), new_cid()
    app = App(procs, tmp_path, cgroups.container(uid, cid), block=0.15, pause=0.3, count=3,
              go=True, name="evil")
    evil_name = "evil\x1b]0;owned\x07-0"
    annotations = {
        **ENABLED,
        "blocksnoop.io/service": "pay\x1b[2J\x1b[31mments\nFAKE: blocksnoop: error: " + "x" * 300,
        "blocksnoop.io/containers": ",".join(["app"] * 3000),
        "blocksnoop.io/threshold-ms": "1e300",
        **{f"blocksnoop.io/unknown-{i}": "\x1b[5m" * 50 for i in range(30)},
    }
    k = Kubelet(procs, tmp_path, certs["node"], pods=[
        pod(evil_name, "ns\x1b[1m", uid, [("app", containerd(cid))], annotations=annotations,
            labels={"app": "web"})])
    log_file = tmp_path / "agent.log"
    agent = Agent(procs, k, tmp_path, "--log-file", str(log_file), ca=certs["ca"],
                  json_out=False)
    wait_for(lambda: "blocksnoop_watched_processes_all 1" in agent.get("/metrics")[2], 10,
             "the pod's process watched")
    app.go()
    wait_for(lambda: len(app.blocks()) == 3, 20, "3 blocks")
    wait_for(lambda: log_file.read_text().count('"blocking_event"') >= 3, 10,
             f"3 events\n{agent.p.describe()}")
    time.sleep(1.5)  # more polls: nothing said twice
    agent.p.send(signal.SIGTERM)
    assert agent.p.wait(20) == 0, agent.p.describe()
    stderr = agent.p.stderr

    # No byte the pod chose reaches the terminal raw.
    for raw in ("\x1b", "\x07"):
        assert raw not in stderr, repr(stderr[:2000])
    assert not [l for l in stderr.splitlines() if l.startswith("FAKE")], stderr
    # The console names the pod, escaped; the service is the default.
    shown = "== ns\\x1b[1m/evil\\x1b]0;owned\\x07-0  container app  service web\n"
    assert stderr.count(shown) == 3, stderr
    assert "Blocking events: 3 " in stderr, stderr
    assert "Suppressed:      0 events over a pod's rate limit\n" in stderr, stderr

    records = parse_json_lines(log_file.read_text(), "log file")
    events = [r for r in records if r["type"] == "blocking_event"]
    assert len(events) == 3 and all(e["service"] == "web" for e in events), events
    # Records keep the exact names (JSON escapes them).
    assert all(e["k8s"]["pod"] == evil_name and e["k8s"]["namespace"] == "ns\x1b[1m"
               for e in events), events
    match_loosely(events, app.blocks())

    errors = [r for r in records if r["type"] == "config_error"]
    by_key = {}
    for r in errors:
        by_key.setdefault(r["annotation"], []).append(r)
    # Each once: service, containers, threshold, 8 unknown keys and one
    # saying how many more.
    assert len(errors) == 3 + 8 + 1, [(r["annotation"], r["error"]) for r in errors]
    assert all(len(v) == 1 for v in by_key.values()), by_key.keys()
    assert "not a service name" in by_key["blocksnoop.io/service"][0]["error"]
    assert "more than a pod can have" in by_key["blocksnoop.io/containers"][0]["error"]
    assert "'1e300' is not a number" in by_key["blocksnoop.io/threshold-ms"][0]["error"]
    assert "22 more unknown" in by_key["blocksnoop.io/*"][0]["error"]
    for r in errors:
        assert len(r["value"]) <= 256 + 3, r
        assert re.fullmatch(r"[\x20-\x7e]*", r["error"]), r
    # On stderr, one line per error, none of them long.
    warnings = [l for l in stderr.splitlines() if l.startswith("blocksnoop: warning: pod ")]
    assert len(warnings) == len(errors), warnings
    assert all(len(l) < 1024 for l in warnings), warnings
    # Every other line the agent wrote is its own (no line the pod made).
    assert all(l.startswith(("blocksnoop: ", "==", "[", "    ", "---", "Duration", "Blocking",
                             "Blocked", "Lost", "Top", "Suppressed", "  ")) or not l
               for l in stderr.splitlines()), stderr


# --------------------------------------------------------------------------
# 3. the bearer token goes to the kubelet and nowhere else


class PlainHTTP(http.server.ThreadingHTTPServer):
    """A plain-HTTP server on loopback that records every request's
    Authorization header (what a token sent in clear would look like)."""

    def __init__(self):
        self.seen = []
        super().__init__(("127.0.0.1", 0), self.Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self):
        return self.server_address[1]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.server.seen.append((self.path, self.headers.get("Authorization")))
            body = b'{"kind":"PodList","items":[]}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    def close(self):
        self.shutdown()
        self.server_close()


@pytest.fixture
def plain_http():
    srv = PlainHTTP()
    try:
        yield srv
    finally:
        srv.close()


def test_http_kubelet_url_is_refused(tmp_path, plain_http):
    token = tmp_path / "token"
    token.write_text("secret-token\n")
    url = f"http://127.0.0.1:{plain_http.port}"
    common = ["--kubelet-token-file", str(token), "--metrics-addr", "", "--duration", "2s"]
    line = one_error(run_agent("--node-name", NODE, "--kubelet-url", url, *common), 2)
    assert "refusing --kubelet-url" in line and "in clear" in line and "https://" in line, line
    line = one_error(run_agent(*common, env={"NODE_NAME": NODE, "BLOCKSNOOP_KUBELET_URL": url}), 2)
    assert "refusing BLOCKSNOOP_KUBELET_URL" in line, line
    line = one_error(run_agent("--node-name", NODE, "--kubelet-url", url.upper(), *common), 2)
    assert "in clear" in line, line
    assert plain_http.seen == [], plain_http.seen


def test_redirect_is_not_followed_with_the_token(procs, tmp_path, certs, plain_http):
    """The kubelet answers 302 to another host (over HTTPS, with a
    certificate the agent would accept), then to plain HTTP: neither gets
    a request, let alone the token; the agent says where it was sent."""
    other = Kubelet(procs, tmp_path, certs["wrong_name"], token=None, pods=[])
    other_url = f"https://other-node.test:{other.port}/pods"
    k = Kubelet(procs, tmp_path, certs["node"], token="token-1")
    k.set(mode="redirect", location=other_url)
    agent = Agent(procs, k, tmp_path, ca=certs["ca"], token="token-1")
    agent.wait_metric("blocksnoop_kubelet_errors_total", (("reason", "http"),), lambda v: v >= 2)
    assert f"redirects GET /pods to {other_url} (HTTP 302): not followed" in agent.p.stderr, \
        agent.p.stderr
    # 307 (which keeps the method and headers) to plain HTTP.
    http_url = f"http://127.0.0.1:{plain_http.port}/pods"
    k.set(status=307, location=http_url)
    wait_for(lambda: f"redirects GET /pods to {http_url} (HTTP 307)" in agent.p.stderr, 10,
             f"the second redirect\n{agent.p.describe()}")
    agent.wait_metric("blocksnoop_kubelet_errors_total", (("reason", "http"),), lambda v: v >= 4)
    assert agent.metric("blocksnoop_kubelet_up") == 0
    agent.stop()
    assert [r for r in k.requests() if r["path"] == "/pods"], "the kubelet was not asked"
    assert all(r["token"] == "token-1" for r in k.requests() if r["path"] == "/pods")
    assert other.requests() == [], other.requests()
    assert plain_http.seen == [], plain_http.seen
    assert "token-1" not in agent.p.stderr
