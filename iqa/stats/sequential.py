"""Adding splits only where a comparison is still unresolved: a group-sequential paired t.

A comparison is looked at after K0, K0 + step, ..., K_max splits. At every look it gets a *repeated*
95% interval (Jennison & Turnbull 1989): the paired t interval at a nominal level alpha' chosen so that
the probability that the interval misses the true difference at ANY look is 5% (a Pocock-type
constant-level boundary; Pocock 1977). Because those intervals hold simultaneously, stopping at any
look, for any reason the data suggest, keeps coverage >= 95% and the type-I error <= 5%.

For independent normal per-split differences the joint law of the looks' t statistics does not depend
on their sd, so alpha' depends only on the looks; `nominal_level` finds it once by simulating normal
differences. `iqa.stats.calibration`'s SRCC simulation checks it where differences are not exactly normal.

A comparison is resolved when its repeated interval excludes 0 (a finding) or lies inside +-margin
(any difference is smaller than is worth having); it then stops asking for splits. The others go on
to K_max. The adaptive plan trains an experiment's next splits only while one of its comparisons is
unresolved.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

ALPHA = 0.05


@dataclass(frozen=True)
class Schedule:
    """Looks at k0, k0 + step, ... up to k_max splits (k_max always a look)."""
    k0: int = 3
    step: int = 2
    k_max: int = 10

    def __post_init__(self):
        if not 2 <= self.k0 <= self.k_max or self.step < 1:
            raise ValueError(f"an adaptive schedule needs 2 <= k0 <= k_max and step >= 1, got {self}")

    @property
    def looks(self) -> tuple[int, ...]:
        return tuple(sorted(set(range(self.k0, self.k_max + 1, self.step)) | {self.k_max}))


def _t_at_looks(d: np.ndarray, looks: tuple[int, ...]) -> np.ndarray:
    """|mean| / (sd / sqrt(j)) of the first j differences at every look j: shape (..., looks)."""
    out = []
    for j in looks:
        head = d[..., :j]
        se = head.std(-1, ddof=1) / np.sqrt(j)
        out.append(np.abs(head.mean(-1)) / se)
    return np.stack(out, -1)


@lru_cache
def nominal_level(schedule: Schedule, alpha: float = ALPHA, sims: int = 200_000, seed: int = 0) -> float:
    """The per-look level alpha' whose repeated intervals miss at any look with probability `alpha`,
    for independent normal differences (exact up to Monte Carlo error: 200,000 draws)."""
    d = np.random.default_rng(seed).standard_normal((sims, schedule.k_max))
    t = _t_at_looks(d, schedule.looks)
    p = 2 * stats.t.sf(t, np.array(schedule.looks) - 1)
    return float(np.quantile(p.min(-1), alpha))


def repeated_interval(d, level: float) -> tuple[float, float, float]:
    """(mean, low, high) of the paired t interval at per-look level `level` over the differences `d`."""
    d = np.asarray(d, float)
    j = len(d)
    half = stats.t.ppf(1 - level / 2, j - 1) * d.std(ddof=1) / np.sqrt(j)
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def run(d: np.ndarray, schedule: Schedule, margin: float, alpha: float = ALPHA) -> dict[str, np.ndarray]:
    """Apply the sequential rule to many comparisons at once. `d` is (comparisons, k_max) per-split
    differences in split order; returns per comparison the splits used, the final repeated interval and
    whether it stopped as a finding, as negligible, or at k_max."""
    level = nominal_level(schedule, alpha)
    looks = schedule.looks
    n = d.shape[0]
    used = np.full(n, schedule.k_max)
    low, high, mean = (np.full(n, np.nan) for _ in range(3))
    open_ = np.ones(n, bool)
    for j in looks:
        head = d[:, :j]
        m = head.mean(1)
        half = stats.t.ppf(1 - level / 2, j - 1) * head.std(1, ddof=1) / np.sqrt(j)
        lo, hi = m - half, m + half
        done = open_ & (((lo > 0) | (hi < 0)) | ((lo > -margin) & (hi < margin)) | (j == schedule.k_max))
        used[done], low[done], high[done], mean[done] = j, lo[done], hi[done], m[done]
        open_ &= ~done
    finding = (low > 0) | (high < 0)
    return {"splits": used, "mean": mean, "low": low, "high": high, "finding": finding,
            "negligible": ~finding & (low > -margin) & (high < margin)}


def stopping_splits(delta: float, sd: float, schedule: Schedule, margin: float = 0.0, sims: int = 4_000,
                    seed: int = 0) -> np.ndarray:
    """Splits the rule uses on `sims` simulated comparisons with normal per-split differences of mean
    `delta` and sd `sd`."""
    d = np.random.default_rng(seed).normal(delta, sd, (sims, schedule.k_max))
    return run(d, schedule, margin)["splits"]


def expected_splits(comparisons: list[dict], sd: float, schedule: Schedule, margin: float = 0.0,
                    sims: int = 4_000, seed: int = 0) -> dict[tuple, float]:
    """Expected splits of every distinct run set (an experiment's runs, shared by experiments that resolve
    to the same runs): it trains on until the last comparison it takes part in is resolved. A comparison
    with no stated difference (`delta` NaN) or without its own pair of run sets (a Shapley factor) keeps
    its experiments to k_max. Comparisons are simulated independently: their shared experiments would
    correlate their stopping, which the expected maximum ignores."""
    rng = np.random.default_rng(seed)
    longest: dict[tuple, np.ndarray] = {}
    for c in comparisons:
        sides = [tuple(s) for s in (c.get("runs"), c.get("ref_runs")) if s]
        if not sides:
            sides = [tuple(s) for s in c.get("cells", [])]
        known = sides and c.get("runs") and np.isfinite(c.get("delta", np.nan))
        splits = (stopping_splits(c["delta"], sd, schedule, margin, sims, int(rng.integers(2 ** 31)))
                  if known else np.full(sims, schedule.k_max))
        for s in sides:
            longest[s] = np.maximum(longest.get(s, np.zeros(sims)), splits)
    return {s: float(v.mean()) for s, v in longest.items()}
