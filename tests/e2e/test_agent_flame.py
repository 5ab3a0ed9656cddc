"""`blocksnoop agent --flame-dir DIR`, end to end: per-pod flame graph files
of the real agent, with the stand-in kubelet and real pod cgroups of
test_agent.py, checked against the agent's own events.

  * two pods whose processes block in functions of their own: each pod's
    .folded has its function and not the other's, weighted by the blocked
    milliseconds of its events; each .speedscope.json validates against
    speedscope's schema;
  * pods whose namespace and name are as hostile as the kubelet's JSON
    allows ("..", slashes, control bytes, hundreds of bytes; two that
    sanitise alike): their files stay in DIR, under distinct names, and a
    symbolic link planted there under such a name is replaced, never
    written through;
  * SIGTERM writes the final files and leaves no temporary file: the pods
    block until then, so the files must hold blocks that came after any
    periodic rewrite.
"""
import json
import os

from test_agent import (ENABLED, Agent, App, Kubelet, certs, cgroups,  # noqa: F401 (fixtures)
                        containerd, new_cid, new_uid, pod)
from test_flamegraph import expected_folded, folded_lines, validate_speedscope
from conftest import wait_for

NAME_BYTES = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")


def pod_base(namespace, pod_name):
    """The files' name of a pod, as docs/flamegraphs.md and sink.h say
    (sink_flame_pod_base()): "<ns>_<pod>" for names Kubernetes allows;
    otherwise each part made safe and cut (63, 100 bytes) and "_x" and the
    FNV-1a hash of both names (the NUL between them included) follow."""
    def safe(part, cut):
        b = part.encode()
        out = bytes(c if c in NAME_BYTES and not (i == 0 and c == ord(".")) else ord("-")
                    for i, c in enumerate(b[:cut]))
        return out.decode(), b != b"" and len(b) <= cut and out == b
    ns, ns_same = safe(namespace, 63)
    name, name_same = safe(pod_name, 100)
    if ns_same and name_same:
        return f"{ns}_{name}"
    h = 0xcbf29ce484222325
    for c in namespace.encode() + b"\0" + pod_name.encode():
        h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
    return f"{ns}_{name}_x{h:016x}"


def pod_events(records, namespace, pod_name):
    return [r for r in records if r.get("type") == "blocking_event"
            and r.get("k8s", {}).get("namespace") == namespace
            and r.get("k8s", {}).get("pod") == pod_name]


def check_folded_is_the_events(path, events):
    """The folded file holds exactly the events' stacks, each weighted by
    its share of their blocked milliseconds (±1 ms of rounding), adding up
    to their blocked time."""
    lines = folded_lines(path)
    assert abs(sum(w for _, w in lines) - sum(e["duration_ms"] for e in events)) <= 1, \
        (lines, events)
    want = {k: v for k, v in expected_folded(events).items() if v >= 1000}
    got = {tuple(frames): w for frames, w in lines}
    assert set(got) == set(want), (sorted(got), sorted(want))
    for k, w in got.items():
        assert abs(w - want[k] / 1000) <= 1, (k, w, want[k])
    return lines


def test_flame_files_per_pod(procs, cgroups, tmp_path, certs):
    plain = [("shop", "checkout-0", "blocks_in_checkout", 0.15),
             ("money", "billing-0", "blocks_in_billing", 0.25)]
    tail = "\x01\x1b[31m\n" + "p" * 300
    hostile = [("..", "../../escaped" + tail, "blocks_in_hostile_a", 0.12),
               ("..", "..?..?escaped" + tail, "blocks_in_hostile_b", 0.12)]
    count = 3  # blocks of each pod seen before SIGTERM, at least
    apps, pods = {}, []
    for ns, name, function, block in plain + hostile:
        uid, cid = new_uid(), new_cid()
        apps[(ns, name)] = App(procs, tmp_path, cgroups.container(uid, cid), count=0,
                               block=block, pause=0.2, go=True, name=function, function=function)
        pods.append(pod(name, ns, uid, [("app", containerd(cid))], annotations=ENABLED))
    bases = {key: pod_base(*key) for key in apps}
    assert bases[("shop", "checkout-0")] == "shop_checkout-0"
    assert len(set(bases.values())) == len(bases), bases

    # DIR alone in a directory of its own, with a file outside it that links
    # planted in DIR under a hostile pod's file names point to.
    outside = tmp_path / "outside"
    flame_dir = outside / "flames"
    flame_dir.mkdir(parents=True)
    victim = outside / "victim"
    victim.write_text("precious\n")
    planted = [flame_dir / (bases[(hostile[0][0], hostile[0][1])] + suffix)
               for suffix in (".folded", ".speedscope.json")]
    for link in planted:
        link.symlink_to(victim)

    k = Kubelet(procs, tmp_path, certs["node"], pods=pods)
    agent = Agent(procs, k, tmp_path, "--flame-dir", str(flame_dir), ca=certs["ca"])
    agent.wait_metric("blocksnoop_watched_processes_all", pred=lambda v: v == len(apps),
                      what=f"every pod's process to be watched\n{agent.p.describe()}")
    for app in apps.values():
        app.go()
    wait_for(lambda: all(len(pod_events(agent.p.records(), *key)) >= count for key in apps), 30,
             f"{count} events of every pod\n{agent.p.describe()}")
    records = agent.stop()

    assert victim.read_text() == "precious\n"
    assert sorted(os.listdir(outside)) == ["flames", "victim"]
    want_files = {bases[key] + suffix for key in apps for suffix in (".folded", ".speedscope.json")}
    assert set(os.listdir(flame_dir)) == want_files, sorted(os.listdir(flame_dir))
    for f in flame_dir.iterdir():
        assert f.is_file() and not f.is_symlink(), f

    for (ns, name), app in apps.items():
        function = [p[2] for p in plain + hostile if p[:2] == (ns, name)][0]
        others = [p[2] for p in plain + hostile if p[:2] != (ns, name)]
        events = pod_events(records, ns, name)
        assert len(events) >= count, events
        lines = check_folded_is_the_events(flame_dir / (bases[(ns, name)] + ".folded"), events)
        frames = [fr for stack, _ in lines for fr in stack]
        assert any(fr.startswith(function + " (") for fr in frames), (function, lines)
        assert not any(fr.startswith(o + " (") for fr in frames for o in others), lines
        # Its function carries its blocks: the app's own clock reads of the
        # blocks its events with a stack are (a block the stop cut short
        # counts as long as its event says).
        sampled = [e for e in events if sum(e.get("stack_samples") or [])]
        truth_ms = 0
        for e in sampled:
            (b,) = [b for b in app.blocks() if e["start_ns"] < b["end_ns"]
                    and e["end_ns"] > b["start_ns"]] or [None]
            assert b or e is events[-1], (e, app.blocks())
            cut = not b or e["end_ns"] < b["end_ns"]
            truth_ms += e["duration_ms"] if cut else (b["end_ns"] - b["start_ns"]) / 1e6
        mine = sum(w for stack, w in lines if any(fr.startswith(function + " (") for fr in stack))
        assert truth_ms - 10 <= mine <= truth_ms + 30 * len(sampled), (mine, truth_ms, lines)

        speedscope = flame_dir / (bases[(ns, name)] + ".speedscope.json")
        validate_speedscope(speedscope)
        doc = json.loads(speedscope.read_text())
        weights = sum(w for prof in doc["profiles"] for w in prof["weights"])
        assert abs(weights - sum(e["duration_ms"] for e in events)) < 0.01 * len(events), doc
        names = [fr["name"] for fr in doc["shared"]["frames"]]
        assert any(n.startswith(function + " (") for n in names), names
    assert not list(flame_dir.glob(".*")), "a temporary file was left"
