"""Cell statistics over splits. Tables and `iqa audit` share these, so an audit recomputes a cell
exactly the way the table computed it.

Inference is over the splits of one study: each split is a seeded random resplit of the same image pool
with its own training run, so, given the pool, the per-split paired differences are independent draws
(docs/statistics.md says why, and what `n_train`/`n_test` change). Their measured calibration comes
from `iqa.calibration`.
"""
from __future__ import annotations

import math
from itertools import combinations

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
# Differences whose spread is below this (relative to their size) are identical up to rounding: no CI.
IDENTICAL_RTOL = 1e-12


def _per_split(values, name: str) -> np.ndarray:
    a = np.asarray(values, float)
    if a.ndim != 1:
        raise ValueError(f"{name}: expected one value per split, got an array of shape {a.shape}")
    return a


def _method_name(n_train, n_test) -> str:
    if n_train is None and n_test is None:
        return "paired t"
    if n_train is None or n_test is None or n_train <= 0 or n_test <= 0:
        raise ValueError(f"n_train and n_test must both be positive or both omitted, got {n_train}, {n_test}")
    return "corrected resampled t"


def mean_difference(d, n_train: int | None = None, n_test: int | None = None) -> dict:
    """Mean of per-split paired differences `d`, its 95% CI and two-sided p for "mean is 0".

    Default: Student t on the J differences (J-1 df), exact for independent normal differences, which
    resplits of one pool give. With `n_train` and `n_test` the variance factor 1/J becomes
    1/J + n_test/n_train (Nadeau & Bengio 2003): an interval for a fresh pool of the same size, wider.
    Fewer than two splits, or the same difference on every split, give a NaN CI and p; a split whose
    value is not finite (an SRCC of constant predictions) gives NaN throughout.
    """
    d = _per_split(d, "differences")
    method = _method_name(n_train, n_test)
    j = len(d)
    out = {"delta": float(d.mean()) if j else math.nan, "ci_low": math.nan, "ci_high": math.nan,
           "p": math.nan, "n_pairs": j, "method": f"{method}, J={j}"}
    bad = np.flatnonzero(~np.isfinite(d))
    if bad.size:
        out["method"] += f" (no estimate: split position {int(bad[0])} is not finite)"
        return out
    if j < 2:
        out["method"] += " (no CI: fewer than 2 splits)"
        return out
    if np.ptp(d) <= IDENTICAL_RTOL * max(1.0, float(np.abs(d).max())):
        out["method"] += " (no CI: identical differences)"
        return out
    factor = 1.0 / j + (n_test / n_train if method != "paired t" else 0.0)
    se = float(d.std(ddof=1)) * math.sqrt(factor)
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, j - 1)) * se
    out.update(ci_low=out["delta"] - half, ci_high=out["delta"] + half,
               p=float(2 * stats.t.sf(abs(out["delta"]) / se, j - 1)))
    return out


def paired_delta(values, ref, n_train: int | None = None, n_test: int | None = None) -> dict:
    """Mean of values - ref over splits (paired by position, same split order) with CI, p, n_pairs and
    method; see `mean_difference`."""
    v, r = _per_split(values, "values"), _per_split(ref, "ref")
    if len(v) != len(r):
        raise ValueError(f"paired values need the same splits: {len(v)} values against {len(r)} ref values")
    return mean_difference(v - r, n_train, n_test)


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values, in input order. NaN entries stay NaN and do not count
    towards the number of tests."""
    p = np.asarray(pvalues, float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size == 0:
        return out
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError(f"p-values must lie in [0, 1], got {p[ok][(p[ok] < 0) | (p[ok] > 1)][0]}")
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(stepped)  # step-down: an adjusted p never falls below an earlier one
    return out


def _cell_name(on: frozenset) -> str:
    return "{" + ", ".join(sorted(on)) + "}" if on else "{} (all factors off)"


def _factorial(values: dict, factors: list[str]) -> dict[frozenset, np.ndarray]:
    """Check a full 2^k factorial over `factors` and return its per-split arrays."""
    if len(set(factors)) != len(factors) or not factors:
        raise ValueError(f"factors must be distinct and non-empty, got {factors}")
    known = set(factors)
    for key in values:
        if not isinstance(key, frozenset) or not key <= known:
            raise ValueError(f"factorial cell {key!r} is not a frozenset of the factors {factors}")
    cells, length = {}, None
    for k in range(len(factors) + 1):
        for on in map(frozenset, combinations(factors, k)):
            if on not in values:
                raise ValueError(f"factorial cell {_cell_name(on)} is missing")
            cells[on] = _per_split(values[on], f"factorial cell {_cell_name(on)}")
            if length is not None and len(cells[on]) != length:
                raise ValueError(f"factorial cell {_cell_name(on)} has {len(cells[on])} splits, "
                                 f"the others {length}")
            length = len(cells[on])
    return cells


def shapley(values: dict, factors: list[str]) -> dict[str, np.ndarray]:
    """Per-split Shapley value of each binary factor over a full 2^k factorial.

    `values` maps the set of factors switched on to per-split values (same split order in every cell).
    A factor's value is its marginal effect averaged over every order of switching factors on; per split
    the factors' values add up to value(all on) - value(none on).
    """
    cells = _factorial(values, factors)
    k = len(factors)
    out = {}
    for f in factors:
        rest = [g for g in factors if g != f]
        phi = np.zeros_like(cells[frozenset()])
        for size in range(k):
            weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
            for on in map(frozenset, combinations(rest, size)):
                phi = phi + weight * (cells[on | {f}] - cells[on])
        out[f] = phi
    return out


def interaction(values: dict, factors: list[str]) -> np.ndarray:
    """Per-split highest-order interaction of the factorial: sum over cells of (-1)^(factors off) x value.
    With two factors A, B: value(AB) - value(A) - value(B) + value(none)."""
    cells = _factorial(values, factors)
    return sum((-1) ** (len(factors) - len(on)) * v for on, v in cells.items())


def shapley_deltas(values: dict, factors: list[str], n_train: int | None = None,
                   n_test: int | None = None) -> dict[str, dict]:
    """Each factor's mean Shapley value over splits with CI and p (`mean_difference`): per split a Shapley
    value is already a paired difference between cells of the same split."""
    return {f: mean_difference(phi, n_train, n_test) for f, phi in shapley(values, factors).items()}


def cell(stat: str, values, ref=None, *, n_train: int | None = None, n_test: int | None = None) -> float:
    """One table number from per-split values (and the paired reference row's values for deltas)."""
    v = np.asarray(values, float)
    if stat in ("median", "mean") and not len(v):
        return math.nan  # no finished run: an empty cell, not a warning
    if stat == "median":
        return float(np.median(v))
    if stat == "mean":
        return float(v.mean())
    if stat == "std":
        return float(v.std(ddof=1)) if len(v) > 1 else float("nan")
    if stat in ("delta", "ci_low", "ci_high", "p"):
        if ref is None:
            raise ValueError(f"statistic {stat!r} needs the paired reference values")
        return paired_delta(v, ref, n_train, n_test)[stat]
    raise ValueError(f"unknown statistic {stat!r}")


def equivalence(d, margin: float) -> dict:
    """TOST: two one-sided paired t tests that the mean of per-split differences `d` lies inside
    (-margin, margin). p (the larger one-sided p) below 0.05 says equivalent at that margin: the 90% CI
    of the mean is inside it. The same model as `mean_difference` (independent resplits); NaN without
    two finite differences. Differences identical on every split (no spread) are equivalent exactly when
    they are inside the margin."""
    d = _per_split(d, "differences")
    j = len(d)
    out = {"margin": margin, "p": math.nan, "n_pairs": j}
    if j < 2 or not np.isfinite(d).all():
        return out
    mean, se = float(d.mean()), float(d.std(ddof=1)) / math.sqrt(j)
    if se <= IDENTICAL_RTOL * max(1.0, float(np.abs(d).max())):
        out["p"] = 0.0 if abs(mean) < margin else 1.0
        return out
    p_below = stats.t.sf((mean + margin) / se, j - 1)  # H0: mean <= -margin
    p_above = stats.t.cdf((mean - margin) / se, j - 1)  # H0: mean >= +margin
    out["p"] = float(max(p_below, p_above))
    return out
