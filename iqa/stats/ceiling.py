"""The label-noise ceiling: the SRCC and PLCC that a perfect predictor of each image's true quality
would reach against a MOS that is the mean of a finite panel of raters.

KonIQ-10k ships each image's rating distribution: `c1..c5` (counts, or shares of `c_total`, on the
five levels) and `c_total`. Each resample splits every image's ratings at random into two halves
(each rating to either half with probability 1/2) and correlates the two halves' mean ratings over
the images (split-half reliability r). The Spearman-Brown formula R = 2r / (1 + r) gives the
reliability of the full panel's mean, and sqrt(R) the correlation that the true quality itself has
with the MOS (classical test theory: Spearman 1910, Brown 1910); for SRCC it is the same computation
on ranks, an approximation. The resamples also redraw the images (a bootstrap), so the 95% interval
covers which images happened to be rated as well as how the panels happened to split.

A model's "share of the ceiling" is its SRCC divided by the ceiling: how much of what the labels allow
it reaches. A dataset whose label file has no rating distributions has no ceiling (n/a).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from iqa.data.dataset import LABEL_FILES
from iqa.core.errors import DataError
from iqa.core.vocab import Metric

LEVELS = np.arange(1, 6)
COLUMNS = [f"c{k}" for k in LEVELS]
RESAMPLES = 200
SEED = 0  # fixed, so the table, its audit and a rerun give the same ceiling


def rating_counts(root: str | Path) -> np.ndarray | None:
    """(images, 5) rating counts from a KonIQ-format label file under `root`, or None when the file has
    no rating distributions."""
    root = Path(root)
    label_file = next((root / f for f, _ in LABEL_FILES if (root / f).is_file()), None)
    if label_file is None:
        raise DataError(f"{root}: no label file; expected one of {[f for f, _ in LABEL_FILES]}")
    table = pd.read_csv(label_file)
    if not set(COLUMNS + ["c_total"]) <= set(table.columns):
        return None
    c = table[COLUMNS].to_numpy(float)
    total = table["c_total"].to_numpy(float)
    shares = np.allclose(c.sum(1), 1.0, atol=0.01)  # shares of c_total (as some releases write them)
    counts = np.rint(c * total[:, None]) if shares else c
    if not np.allclose(counts.sum(1), total, atol=0.5):
        raise DataError(f"{label_file}: c1..c5 add up to neither 1 nor c_total")
    return counts.astype(np.int64)


def _rowwise_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return stats.pearsonr(a, b, axis=-1).statistic


def ceiling(counts: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """The SRCC and PLCC ceilings with 95% percentile intervals over `resamples` split-half resamples
    (images redrawn too), plus the split-half correlations behind them."""
    rng = np.random.default_rng(seed)
    counts = counts[counts.sum(1) >= 2]  # an image needs a rating in each half
    n = len(counts)
    images = np.vstack([np.arange(n), rng.integers(0, n, (resamples, n))])  # row 0: the images as they are
    drawn = counts[images]
    half = rng.binomial(drawn, 0.5)
    other = drawn - half
    keep = (half.sum(-1) > 0) & (other.sum(-1) > 0)
    means = [np.where(keep, (h * LEVELS).sum(-1) / np.maximum(h.sum(-1), 1), np.nan) for h in (half, other)]
    out = {"images": n, "resamples": resamples}
    for metric, transform in ((Metric.SRCC.value, lambda m: stats.rankdata(m, axis=-1, nan_policy="omit")),
                              (Metric.PLCC.value, lambda m: m)):
        r = np.array([_rowwise_corr(*(transform(m[i][keep[i]]) for m in means)) for i in range(len(images))])
        top = np.sqrt(2 * r / (1 + r))  # Spearman-Brown, then the true score's correlation with the mean
        low, high = np.percentile(top[1:], [2.5, 97.5])
        out.update({f"{metric}_split_half": float(r[0]), metric: float(np.median(top[1:])),
                    f"{metric}_ci_low": float(low), f"{metric}_ci_high": float(high)})
    return out


def dataset_ceiling(root: str | Path) -> dict | None:
    """The ceiling of the dataset at `root`, or None (n/a) when it ships no rating distributions."""
    counts = rating_counts(root)
    return None if counts is None else ceiling(counts)
