"""Cell statistics over splits. Tables and `iqa audit` share these, so an audit recomputes a cell
exactly the way the table computed it."""
from __future__ import annotations

import numpy as np
from scipy import stats

BOOTSTRAP_RESAMPLES = 10_000


def paired_delta(values: np.ndarray, ref: np.ndarray) -> dict:
    """Mean paired difference over splits, its 95% percentile-bootstrap CI and a paired t-test p-value."""
    d = np.asarray(values, float) - np.asarray(ref, float)
    out = {"delta": float(d.mean()), "ci_low": float("nan"), "ci_high": float("nan"), "p": float("nan")}
    if len(d) >= 2 and np.ptp(d) > 0:
        ci = stats.bootstrap((d,), np.mean, confidence_level=0.95, n_resamples=BOOTSTRAP_RESAMPLES,
                             method="percentile", rng=np.random.default_rng(0)).confidence_interval
        out.update(ci_low=float(ci.low), ci_high=float(ci.high),
                   p=float(stats.ttest_rel(values, ref).pvalue))
    elif len(d) >= 2:  # identical differences on every split: the CI collapses to the point
        out.update(ci_low=float(d[0]), ci_high=float(d[0]))
    return out


def cell(stat: str, values, ref=None) -> float:
    """One table number from per-split values (and the paired reference row's values for deltas)."""
    v = np.asarray(values, float)
    if stat == "median":
        return float(np.median(v))
    if stat == "mean":
        return float(v.mean())
    if stat == "std":
        return float(v.std(ddof=1)) if len(v) > 1 else float("nan")
    if stat in ("delta", "ci_low", "ci_high", "p"):
        return paired_delta(v, ref)[stat]
    raise ValueError(f"unknown statistic {stat!r}")
