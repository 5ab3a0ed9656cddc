"""--stats: per-second distribution records whose percentiles match the
gaps the fixture really made (tests/fixtures/gap_distribution.c)."""
import math

from conftest import bin_fixture, check_common, parse_json_lines, read_truth

# 1000 gaps: p50 falls among the 3 ms gaps, p90 and p95 among the 8 ms,
# p99 among the 20 ms ones - each well inside its group, never on a
# boundary. About 3.5 s of run time.
SPEC = ["400:1", "450:3", "120:8", "30:20"]
PERCENTILES = {"p50_ms": 0.50, "p90_ms": 0.90, "p95_ms": 0.95, "p99_ms": 0.99}
STAT_FIELDS = ("pid", "elapsed_s", "count", "rate", "min_ms", "avg_ms", "p50_ms",
               "p90_ms", "p95_ms", "p99_ms", "max_ms")


def rank_values(sorted_ms, p):
    """The values the p-th percentile can take under the usual rank
    definitions (nearest rank, floor/ceil of p*(n-1))."""
    n = len(sorted_ms)
    idx = {math.floor(p * (n - 1)), math.ceil(p * (n - 1)), max(0, math.ceil(p * n) - 1)}
    return [sorted_ms[min(i, n - 1)] for i in idx]


def expected_range(inner_ms, outer_ms, p):
    """Each kernel gap lies between the fixture's inner and outer
    measurement of it, so its p-th percentile lies between theirs."""
    return min(rank_values(sorted(inner_ms), p)), max(rank_values(sorted(outer_ms), p))


def close(value, lo, hi, rel, abs_ms):
    return lo * (1 - rel) - abs_ms <= value <= hi * (1 + rel) + abs_ms


def check_stats_record(s, pid, *, check_pid=True):
    for k in STAT_FIELDS:
        if k != "pid" or check_pid:
            assert k in s, f"{k} missing: {s}"
    if check_pid:
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


def check_against_truth(stats, inner, outer, *, what, count=None):
    """min, max and avg are exact in the kernel (1% + 0.05 ms of slack
    for rounding); the percentiles come from the log-linear histogram
    (5% + 0.1 ms, as the spec says ~2%)."""
    assert stats["count"] == (len(inner) if count is None else count), (
        f"{what}: count {stats['count']}, the fixture made {len(inner)} gaps")
    assert close(stats["min_ms"], min(inner), min(outer), 0.01, 0.05), (
        what, stats, min(inner), min(outer))
    assert close(stats["max_ms"], max(inner), max(outer), 0.01, 0.05), (
        what, stats, max(inner), max(outer))
    lo, hi = sum(inner) / len(inner), sum(outer) / len(outer)
    assert close(stats["avg_ms"], lo, hi, 0.01, 0.05), (what, stats, lo, hi)
    for key, p in PERCENTILES.items():
        lo, hi = expected_range(inner, outer, p)
        assert close(stats[key], lo, hi, 0.05, 0.1), (
            f"{what}: {key} = {stats[key]}, the fixture's gaps give {lo:.3f}..{hi:.3f} ms")


def run_distribution(bs, tmp_path, *bs_args):
    truth = tmp_path / "truth"
    command = [bin_fixture("gap_distribution"), "-o", str(truth), *SPEC]
    res = bs.launch("--stats", "--json", *bs_args, command=command, timeout=60)
    assert res.rc == 0, res
    gaps = [r for r in read_truth(truth) if r["event"] == "gap"]
    assert len(gaps) == 1000
    return res, [g["ns"] / 1e6 for g in gaps], [g["outer_ns"] / 1e6 for g in gaps]


def test_stats_percentiles(bs, tmp_path):
    res, inner, outer = run_distribution(bs, tmp_path)
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
    check_against_truth(final, inner, outer, what="session_summary.stats")
    # Last: the summary's stats object has all the fields of a stats record.
    check_stats_record(final, pid)


def test_stats_threshold_drops_short_gaps(bs, tmp_path):
    log = tmp_path / "bs.log"
    res, inner, outer = run_distribution(bs, tmp_path, "-t", "2", "--log-file", str(log))
    start = res.one("session_start")
    assert start["threshold_ms"] == 2, start
    final = res.one("session_summary")["stats"]
    # Which gaps the kernel kept: those >= 2 ms as it measured them, which
    # is between the fixture's inner and outer measurement.
    sure = [i for i in range(len(inner)) if inner[i] >= 2]
    maybe = [i for i in range(len(inner)) if inner[i] < 2 <= outer[i]]
    assert len(sure) >= 590, "the fixture's 1 ms gaps should mostly stay short"
    assert len(sure) <= final["count"] <= len(sure) + len(maybe), (final, len(sure), maybe)
    assert final["min_ms"] >= 2, final
    kept_inner = [inner[i] for i in sure]
    kept_outer = [outer[i] for i in sure + maybe]
    lo, hi = expected_range(kept_inner, kept_outer, 0.5)
    # p50 of the kept gaps is one of the 3 ms gaps.
    assert close(final["p50_ms"], lo, hi, 0.05, 0.1), (final, lo, hi)
    assert close(final["max_ms"], max(kept_inner), max(kept_outer), 0.01, 0.05), final
    lo, hi = sum(kept_inner) / len(kept_inner), sum(kept_outer) / len(kept_outer)
    assert close(final["avg_ms"], min(lo, hi), max(lo, hi), 0.01, 0.05), final
    # (That summary.stats has every field of a stats record, pid too, is
    # test_stats_percentiles' last check.)
    check_stats_record(final, start["pid"], check_pid=False)

    # The log file gets no per-second stats lines; its summary has the
    # final distribution.
    logged = parse_json_lines(log.read_text(), where=str(log))
    assert [r["type"] for r in logged] == ["session_start", "session_summary"], logged
    assert logged[-1]["stats"] == final
