"""Cell statistics over splits. Tables and `iqa audit` share these, so an audit recomputes a cell
exactly the way the table computed it.

Inference is over the splits of one study: each split is a seeded random resplit of the same image pool
with its own training run, so, given the pool, the per-split paired differences are independent draws
(docs/statistics.md says why, and what `n_train`/`n_test` change). That is the *dataset* claim. The
*population* claim (`pool_variance`) adds the variance of the pool itself, estimated from the
per-image influence on Spearman's rho. Their measured calibration comes from `iqa.stats.calibration`.
"""
from __future__ import annotations

import math
from itertools import combinations

import numpy as np
from scipy import stats

from iqa.core.vocab import INTERVAL_STATS, Stat

CONFIDENCE = 0.95
# Differences whose spread is below this (relative to their size) are identical up to rounding: no CI.
IDENTICAL_RTOL = 1e-12


def _per_split(values, name: str) -> np.ndarray:
    a = np.asarray(values, float)
    if a.ndim != 1:
        raise ValueError(f"{name}: expected one value per split, got an array of shape {a.shape}")
    return a


def _method_name(n_train, n_test, pool_variance=None) -> str:
    if pool_variance is not None:
        if n_train is not None or n_test is not None:
            raise ValueError("pool_variance (population t) and n_train/n_test (corrected t) exclude each other")
        if not pool_variance >= 0:
            raise ValueError(f"pool_variance must be a variance (>= 0), got {pool_variance}")
        return "population t"
    if n_train is None and n_test is None:
        return "paired t"
    if n_train is None or n_test is None or n_train <= 0 or n_test <= 0:
        raise ValueError(f"n_train and n_test must both be positive or both omitted, got {n_train}, {n_test}")
    return "corrected resampled t"


def mean_difference(d, n_train: int | None = None, n_test: int | None = None,
                    pool_variance: float | None = None) -> dict:
    """Mean of per-split paired differences `d`, its 95% CI and two-sided p for "mean is 0".

    Default: Student t on the J differences (J-1 df), exact for independent normal differences, which
    resplits of one pool give (the dataset claim). With `pool_variance` (from `pool_variance`) the
    squared standard error s^2/J gains the variance of the pool's own mean difference, and the degrees
    of freedom follow Welch-Satterthwaite, the pool term being estimated from thousands of images (the
    population claim). With `n_train` and `n_test` the variance factor 1/J becomes
    1/J + n_test/n_train (Nadeau & Bengio 2003), the older population interval.
    Fewer than two splits, or the same difference on every split, give a NaN CI and p; a split whose
    value is not finite (an SRCC of constant predictions) gives NaN throughout.
    """
    d = _per_split(d, "differences")
    method = _method_name(n_train, n_test, pool_variance)
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
    within = float(d.var(ddof=1)) / j
    if method == "corrected resampled t":
        within *= 1 + j * n_test / n_train
    intervals = [(math.sqrt(within), j - 1)]
    if pool_variance:  # Welch-Satterthwaite: only the within-pool term is estimated from J values
        df = (within + pool_variance) ** 2 / (within ** 2 / (j - 1))
        intervals.append((math.sqrt(within + pool_variance), df))
    # The population interval is never narrower than the dataset one: at J=3 the Satterthwaite df alone
    # covers 93% (docs/statistics.md); the wider of the two covers 95%. p agrees with the interval.
    half, p = max((float(stats.t.ppf(0.5 + CONFIDENCE / 2, df)) * se,
                   float(2 * stats.t.sf(abs(out["delta"]) / se, df))) for se, df in intervals)
    out.update(ci_low=out["delta"] - half, ci_high=out["delta"] + half, p=p)
    return out


def paired_delta(values, ref, n_train: int | None = None, n_test: int | None = None,
                 pool_variance: float | None = None) -> dict:
    """Mean of values - ref over splits (paired by position, same split order) with CI, p, n_pairs and
    method; see `mean_difference`."""
    v, r = _per_split(values, "values"), _per_split(ref, "ref")
    if len(v) != len(r):
        raise ValueError(f"paired values need the same splits: {len(v)} values against {len(r)} ref values")
    return mean_difference(v - r, n_train, n_test, pool_variance)


def _ranks_and_order(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks along the last axis (ties averaged, as scipy's rankdata) and the sorting order."""
    order = np.argsort(x, axis=-1)
    ranks = np.empty(x.shape)
    np.put_along_axis(ranks, order, np.broadcast_to(np.arange(1.0, x.shape[-1] + 1), x.shape), -1)
    ordered = np.take_along_axis(x, order, -1)
    if np.any(ordered[..., 1:] == ordered[..., :-1]):
        ranks = stats.rankdata(x, axis=-1)
    return ranks, order


def _mean_above(order: np.ndarray, w: np.ndarray) -> np.ndarray:
    """mean_j w_j 1{key_j >= key_i} for every i, given key's sorting `order`: w summed from the top."""
    order = np.broadcast_to(order, w.shape)
    tail = np.flip(np.cumsum(np.flip(np.take_along_axis(w, order, -1), -1), -1), -1) / w.shape[-1]
    out = np.empty_like(tail)
    np.put_along_axis(out, order, tail, -1)
    return out


def spearman_influence(x, y) -> np.ndarray:
    """Empirical influence of each observation on Spearman's rho of `x` and `y`, along the last axis
    (`y` may broadcast against `x`: several predictors of one MOS).

    rho = 12 E[F(X) G(Y)] - 3; differentiating in the direction of one observation (x_i, y_i) gives
    12 [u_i v_i + mean_j v_j 1{x_j >= x_i} + mean_j u_j 1{y_j >= y_i}] + const, with u, v the
    observations' ranks / n (Croux & Dehon 2010). The variance of rho over samples of n observations is
    about var(influence) / n.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = x.shape[-1]
    (rx, ox), (ry, oy) = _ranks_and_order(x), _ranks_and_order(y)
    u, v = rx / n, np.broadcast_to(ry / n, x.shape)
    infl = 12 * (u * v + _mean_above(ox, v) + _mean_above(oy, u))
    return infl - infl.mean(-1, keepdims=True)


def delta_influence(pred, ref_pred, mos) -> np.ndarray:
    """Per-image influence on SRCC(pred) - SRCC(ref_pred), both against `mos` (last axis)."""
    infl = spearman_influence(np.stack([np.asarray(pred, float), np.asarray(ref_pred, float)]), mos)
    return infl[0] - infl[1]


def pool_variance(influence, pool_size: int) -> np.ndarray:
    """Variance of a pool's expected SRCC difference over pools of `pool_size` images from the same
    population: the variance of each image's stable influence (`delta_influence`) / pool_size.

    `influence` is (..., J, images): one row per split on a common image index, NaN where the image is
    not in that split's test set. The stable part of an image's influence is what two splits testing it
    agree on: their product, averaged over split pairs and shared images. A training run's own per-image
    noise differs between splits and drops out: it is already in the splits' spread, and counting it
    again would widen the interval. NaN when no two splits share an image; clipped at 0.
    """
    x = np.asarray(influence, float)
    seen = ~np.isnan(x)
    x = np.where(seen, x, 0.0)
    seen = seen.astype(float)
    products = x @ np.swapaxes(x, -1, -2)
    shared = seen @ np.swapaxes(seen, -1, -2)
    pairs = shared.sum((-1, -2)) - np.trace(shared, axis1=-2, axis2=-1)
    total = products.sum((-1, -2)) - np.trace(products, axis1=-2, axis2=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.maximum(total / pairs, 0.0) / pool_size


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


def factorial_row(values: dict, factors: list[str], row: str) -> np.ndarray:
    """Per split, one row of the contributions table: a factor's Shapley value, the total (all on minus
    none on, a row named `total ...`) or the interaction (any other row)."""
    if row in factors:
        return shapley(values, factors)[row]
    if row.startswith("total"):
        return values[frozenset(factors)] - values[frozenset()]
    return interaction(values, factors)


def shapley_deltas(values: dict, factors: list[str], n_train: int | None = None,
                   n_test: int | None = None) -> dict[str, dict]:
    """Each factor's mean Shapley value over splits with CI and p (`mean_difference`): per split a Shapley
    value is already a paired difference between cells of the same split."""
    return {f: mean_difference(phi, n_train, n_test) for f, phi in shapley(values, factors).items()}


def excludes_zero(res: dict) -> bool:
    """Does a `mean_difference` result's 95% CI exclude zero (False without a CI)?"""
    return res["ci_low"] > 0 or res["ci_high"] < 0


def shapley_share(per: np.ndarray, total: dict) -> float:
    """A factor's share of the total (its mean Shapley value over the total's mean), given only where the
    total itself is a finding (`total`: its `mean_difference`, CI excluding zero); NaN otherwise."""
    return float(per.mean() / total["delta"]) if excludes_zero(total) else math.nan


def cell(stat: str, values, ref=None, *, n_train: int | None = None, n_test: int | None = None,
         pool_variance: float | None = None) -> float:
    """One table number from per-split values (and the paired reference row's values for deltas)."""
    v = np.asarray(values, float)
    if stat in (Stat.MEDIAN, Stat.MEAN) and not len(v):
        return math.nan  # no finished run: an empty cell, not a warning
    if stat == Stat.MEDIAN:
        return float(np.median(v))
    if stat == Stat.MEAN:
        return float(v.mean())
    if stat == Stat.STD:
        return float(v.std(ddof=1)) if len(v) > 1 else float("nan")
    if stat in (*INTERVAL_STATS, Stat.P):
        if ref is None:
            raise ValueError(f"statistic {stat!r} needs the paired reference values")
        return paired_delta(v, ref, n_train, n_test, pool_variance)[stat]
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
