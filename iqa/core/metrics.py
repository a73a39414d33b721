"""Correlation metrics on per-image scores: SRCC, PLCC (raw or after a 4-parameter logistic), KRCC, RMSE."""
from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize, stats

from iqa.core.vocab import Metric


def logistic4(x, b1, b2, b3, b4):
    """VQEG 4-parameter logistic: maps predictions onto the MOS scale before Pearson."""
    return (b1 - b2) / (1 + np.exp(-(x - b3) / np.abs(b4))) + b2


def fit_logistic4(pred: np.ndarray, mos: np.ndarray) -> np.ndarray:
    p0 = [mos.max(), mos.min(), np.median(pred), max(pred.std(), 1e-6)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optimize.OptimizeWarning)
        params, _ = optimize.curve_fit(logistic4, pred, mos, p0=p0, maxfev=20000)
    return logistic4(pred, *params)


def correlations(pred, mos, plcc: str = "raw") -> dict:
    """Each `Metric` (plain-text keys, as metrics.json records them) and n_images. `plcc='logistic4'` fits
    the logistic first (RMSE too)."""
    pred, mos = np.asarray(pred, np.float64), np.asarray(mos, np.float64)
    if len(pred) != len(mos) or len(pred) < 3:
        raise ValueError(f"need at least 3 paired scores, got {len(pred)} predictions and {len(mos)} MOS")
    mapped = fit_logistic4(pred, mos) if plcc == "logistic4" else pred
    return {
        Metric.SRCC.value: float(stats.spearmanr(pred, mos).statistic),
        Metric.PLCC.value: float(stats.pearsonr(mapped, mos).statistic),
        Metric.KRCC.value: float(stats.kendalltau(pred, mos).statistic),
        Metric.RMSE.value: float(np.sqrt(np.mean((mapped - mos) ** 2))),
        "n_images": int(len(pred)),
    }
