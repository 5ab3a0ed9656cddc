# SPDX-License-Identifier: Apache-2.0
"""Statistics over rounds, and number formatting for the tables.

Every comparison is paired: a variant against its baseline measured in the
same round, seconds apart, so slow drift of the shared machine cancels out
of each pair. The confidence intervals are percentile bootstraps over the
rounds (no distribution assumed; rounds with a co-tenant burst are the
heavy tail here).
"""
import math
import random
import statistics

BOOTSTRAP_RESAMPLES = 4000


def median(xs):
    return statistics.median(xs) if xs else None


def bootstrap_ci(xs, stat=statistics.fmean, level=0.95, seed=1):
    """(low, high) percentile-bootstrap interval of stat over xs; None for
    fewer than three values (no spread to resample)."""
    if len(xs) < 3:
        return None
    rng = random.Random(seed)  # the same data always gives the same interval
    n = len(xs)
    boots = sorted(stat([xs[rng.randrange(n)] for _ in range(n)])
                   for _ in range(BOOTSTRAP_RESAMPLES))
    lo = boots[int((1 - level) / 2 * BOOTSTRAP_RESAMPLES)]
    hi = boots[min(BOOTSTRAP_RESAMPLES - 1, int((1 + level) / 2 * BOOTSTRAP_RESAMPLES))]
    return lo, hi


def paired(xs, ys, op):
    """op(x, y) for each round that has both."""
    return [op(x, y) for x, y in zip(xs, ys) if x is not None and y is not None]


def ratio_summary(ratios):
    """Geometric mean of same-round ratios and its 95% interval: a ratio's
    logarithm is what averages symmetrically (1.01 and 1/1.01 cancel)."""
    if not ratios:
        return None, None
    logs = [math.log(r) for r in ratios]
    ci = bootstrap_ci(logs)
    gm = math.exp(statistics.fmean(logs))
    return gm, ci and (math.exp(ci[0]), math.exp(ci[1]))


def diff_summary(diffs):
    """Mean of same-round differences and its 95% interval."""
    if not diffs:
        return None, None
    return statistics.fmean(diffs), bootstrap_ci(diffs)


def fmt(x, spec=",.0f", none="–"):
    return none if x is None else format(x, spec)


def fmt_ci(ci, spec):
    return "" if ci is None else f" [{ci[0]:{spec}}, {ci[1]:{spec}}]"


def fmt_range(xs, spec=",.0f"):
    return f" ({min(xs):{spec}}–{max(xs):{spec}})" if xs and len(xs) > 1 else ""


def pct(r):
    """A ratio as a percentage of its baseline."""
    return None if r is None else 100 * r
