"""--stats: per-second distribution records whose percentiles match the
gaps the fixture really made (tests/fixtures/gap_distribution.c)."""
import math

from conftest import bin_fixture, check_common, read_truth

# 1000 gaps: p50 falls among the 3 ms gaps, p90 and p95 among the 8 ms,
# p99 among the 20 ms ones - each well inside its group, never on a
# boundary. About 3.5 s of run time.
SPEC = ["400:1", "450:3", "120:8", "30:20"]
PERCENTILES = {"p50_ms": 0.50, "p90_ms": 0.90, "p95_ms": 0.95, "p99_ms": 0.99}
STAT_FIELDS = ("pid", "elapsed_s", "count", "rate", "min_ms", "avg_ms", "p50_ms",
               "p90_ms", "p95_ms", "p99_ms", "max_ms")


def expected_range(sorted_ms, p):
    """The values the p-th percentile can take under the usual rank
    definitions (nearest rank, floor/ceil of p*(n-1))."""
    n = len(sorted_ms)
    idx = {math.floor(p * (n - 1)), math.ceil(p * (n - 1)), max(0, math.ceil(p * n) - 1)}
    vals = [sorted_ms[min(i, n - 1)] for i in idx]
    return min(vals), max(vals)


def close(value, lo, hi, rel, abs_ms):
    return lo * (1 - rel) - abs_ms <= value <= hi * (1 + rel) + abs_ms


def check_stats_record(s, pid):
    for k in STAT_FIELDS:
        assert k in s, f"{k} missing: {s}"
    assert s["pid"] == pid, s
    assert isinstance(s["count"], int) and s["count"] >= 0, s
    assert isinstance(s["rate"], (int, float)) and s["rate"] >= 0, s
    assert isinstance(s["elapsed_s"], (int, float)) and s["elapsed_s"] >= 0, s
    ms = [s[k] for k in ("min_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")]
    if s["count"] == 0:
        assert all(v is None for v in ms + [s["avg_ms"]]), s
    else:
        assert all(isinstance(v, (int, float)) for v in ms + [s["avg_ms"]]), s
        assert ms == sorted(ms), f"min <= p50 <= ... <= max violated: {s}"
        assert ms[0] <= s["avg_ms"] <= ms[-1], s


def check_against_truth(stats, gaps_ms, *, what):
    gaps = sorted(gaps_ms)
    assert stats["count"] == len(gaps), f"{what}: count {stats['count']} != {len(gaps)}"
    assert close(stats["min_ms"], gaps[0], gaps[0], 0.01, 0.05), (what, stats, gaps[0])
    assert close(stats["max_ms"], gaps[-1], gaps[-1], 0.01, 0.05), (what, stats, gaps[-1])
    avg = sum(gaps) / len(gaps)
    assert close(stats["avg_ms"], avg, avg, 0.01, 0.05), (what, stats, avg)
    for key, p in PERCENTILES.items():
        lo, hi = expected_range(gaps, p)
        assert close(stats[key], lo, hi, 0.05, 0.1), (
            f"{what}: {key} = {stats[key]}, the fixture's gaps give {lo:.3f}..{hi:.3f} ms")


def run_distribution(bs, tmp_path, *bs_args):
    truth = tmp_path / "truth"
    command = [bin_fixture("gap_distribution"), "-o", str(truth), *SPEC]
    res = bs.launch("--stats", "--json", *bs_args, command=command, timeout=60)
    assert res.rc == 0, res
    gaps = [r["ns"] / 1e6 for r in read_truth(truth) if r["event"] == "gap"]
    assert len(gaps) == 1000
    return res, gaps


def test_stats_percentiles(bs, tmp_path):
    res, gaps = run_distribution(bs, tmp_path)
    records = res.records
    check_common(records)
    start = res.one("session_start")
    assert start["stats"] is True, start
    assert start["threshold_ms"] == 0, start  # the default with --stats
    pid = start["pid"]
    assert res.events == [], "stats mode sends no per-gap events"

    lines = res.of_type("stats")
    # ~3.5 s of run time: one line a second.
    assert len(lines) >= 2, res
    for s in lines:
        check_stats_record(s, pid)
    for a, b in zip(lines, lines[1:]):
        assert b["elapsed_s"] > a["elapsed_s"], (a, b)
        assert b["count"] >= a["count"], (a, b)
    gaps_between = [b["elapsed_s"] - a["elapsed_s"] for a, b in zip(lines, lines[1:])]
    assert all(0.5 <= g <= 2.0 for g in gaps_between), f"not one line a second: {gaps_between}"
    assert any(0 < s["count"] < 1000 for s in lines), "no stats line while the gaps were made"

    summary = res.one("session_summary")
    final = summary["stats"]
    check_against_truth(final, gaps, what="session_summary.stats")
    check_stats_record(final, pid)


def test_stats_threshold_drops_short_gaps(bs, tmp_path):
    res, gaps = run_distribution(bs, tmp_path, "-t", "2")
    start = res.one("session_start")
    assert start["threshold_ms"] == 2, start
    final = res.one("session_summary")["stats"]
    kept = sorted(g for g in gaps if g >= 2)
    # The kernel's gap is a few microseconds longer than the fixture's.
    near = [g for g in gaps if 1.95 <= g < 2]
    assert len(kept) <= final["count"] <= len(kept) + len(near), (final, len(kept), near)
    assert final["min_ms"] >= 2, final
    # p50 of the kept gaps is a 3 ms one.
    lo, hi = expected_range(kept, 0.5)
    assert close(final["p50_ms"], lo, hi, 0.05, 0.1), (final, lo, hi)
    assert close(final["max_ms"], kept[-1], kept[-1], 0.01, 0.05), final
    avg = sum(kept) / len(kept)
    assert close(final["avg_ms"], avg, avg, 0.01, 0.05), final
    check_stats_record(final, start["pid"])
