import numpy as np
from scipy import stats

from iqa.core.metrics import correlations


def test_metrics_equal_scipy():
    rng = np.random.default_rng(0)
    mos = rng.uniform(0, 100, 50)
    pred = mos + rng.normal(0, 20, 50)
    m = correlations(pred, mos)
    assert m["srcc"] == stats.spearmanr(pred, mos).statistic
    assert m["plcc"] == stats.pearsonr(pred, mos).statistic
    assert m["krcc"] == stats.kendalltau(pred, mos).statistic
    assert np.isclose(m["rmse"], np.sqrt(np.mean((pred - mos) ** 2)))
    assert m["n_images"] == 50


def test_logistic_plcc_is_at_least_raw_for_a_monotone_nonlinearity():
    rng = np.random.default_rng(1)
    pred = rng.normal(0, 3, 200)
    mos = 100 / (1 + np.exp(-pred)) + rng.normal(0, 2, 200)  # MOS saturates at both ends
    raw, fitted = correlations(pred, mos)["plcc"], correlations(pred, mos, "logistic4")["plcc"]
    assert fitted > raw + 0.01
