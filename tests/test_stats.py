import math
from dataclasses import replace
from itertools import combinations

import numpy as np
import pytest
from scipy import stats

from iqa.stats import calibration
from iqa.stats.cells import (cell, delta_influence, holm, interaction, mean_difference, paired_delta, pool_variance,
                       shapley, shapley_deltas)

STUDIES = 2000  # binomial s.e. of a 95% coverage: 0.49 points
SEED = 1


def test_holm_matches_hand_computed_example():
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4x, 3x, 2x, 1x = 0.02, 0.03, 0.06, 0.04 -> running max 0.06
    p = [0.01, np.nan, 0.04, 0.03, 0.005]
    np.testing.assert_allclose(holm(p), [0.03, np.nan, 0.06, 0.06, 0.02], equal_nan=True)
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])
    assert np.isnan(holm([np.nan, np.nan])).all()
    with pytest.raises(ValueError, match="p-values"):
        holm([0.1, 1.5])


def test_paired_delta_is_the_t_interval_of_the_differences():
    values, ref = np.array([0.91, 0.93, 0.92, 0.95, 0.94]), np.array([0.90, 0.91, 0.92, 0.92, 0.93])
    r = paired_delta(values, ref)
    t = stats.ttest_1samp(values - ref, 0.0)
    ci = t.confidence_interval(0.95)
    assert r["delta"] == pytest.approx(0.014)
    assert (r["ci_low"], r["ci_high"], r["p"]) == pytest.approx((ci.low, ci.high, t.pvalue))
    assert r["n_pairs"] == 5 and r["method"] == "paired t, J=5"
    assert cell("p", values, ref) == r["p"]


def test_corrected_resampled_t_widens_by_the_overlap_factor():
    values, ref = [0.91, 0.93, 0.92, 0.95], [0.90, 0.91, 0.92, 0.92]
    plain, corrected = paired_delta(values, ref), paired_delta(values, ref, n_train=800, n_test=200)
    ratio = (corrected["ci_high"] - corrected["ci_low"]) / (plain["ci_high"] - plain["ci_low"])
    assert ratio == pytest.approx(math.sqrt((1 / 4 + 200 / 800) / (1 / 4)))
    assert corrected["p"] > plain["p"] and corrected["method"] == "corrected resampled t, J=4"
    assert cell("ci_low", values, ref, n_train=800, n_test=200) == corrected["ci_low"]
    with pytest.raises(ValueError, match="n_train and n_test"):
        paired_delta(values, ref, n_train=800)


@pytest.mark.parametrize("values, ref, why", [([0.9], [0.8], "fewer than 2"),
                                              ([0.9, 0.8, 0.7], [0.8, 0.7, 0.6], "identical differences")])
def test_degenerate_inputs_give_no_interval(values, ref, why):
    r = paired_delta(values, ref)
    assert r["delta"] == pytest.approx(0.1)
    assert math.isnan(r["ci_low"]) and math.isnan(r["ci_high"]) and math.isnan(r["p"])
    assert why in r["method"]
    assert math.isnan(mean_difference([])["delta"])


def test_a_split_without_a_metric_gives_no_estimate():
    r = paired_delta([0.9, np.nan, 0.8], [0.9, 0.8, 0.7])
    assert all(math.isnan(r[k]) for k in ("delta", "ci_low", "ci_high", "p"))
    assert "split position 1 is not finite" in r["method"]


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="same splits"):
        paired_delta([0.9, 0.8], [0.9])
    with pytest.raises(ValueError, match="one value per split"):
        paired_delta([[0.9, 0.8]], [[0.9, 0.8]])
    with pytest.raises(ValueError, match="reference"):
        cell("delta", [0.9, 0.8])
    with pytest.raises(ValueError, match="unknown statistic"):
        cell("mode", [0.9, 0.8])


def _factorial(factors, value, splits=4, seed=0):
    """All 2^k cells of `value(on, noise)` with a per-split noise shared by the cells of a split."""
    noise = np.random.default_rng(seed).normal(size=splits)
    return {frozenset(on): value(frozenset(on), noise)
            for k in range(len(factors) + 1) for on in combinations(factors, k)}


def test_shapley_adds_up_to_all_on_minus_none_on():
    factors = ["backbone", "multiscale", "attention"]
    rng = np.random.default_rng(3)
    cells = {on: rng.normal(size=6) for on in _factorial(factors, lambda on, e: 0)}
    phi = shapley(cells, factors)
    total = cells[frozenset(factors)] - cells[frozenset()]
    np.testing.assert_allclose(sum(phi.values()), total, rtol=0, atol=1e-9)


def test_shapley_hand_example_and_interaction():
    v = {frozenset(): 0.0, frozenset("a"): 1.0, frozenset("b"): 2.0, frozenset("ab"): 5.0}
    cells = {k: np.array([x, 2 * x]) for k, x in v.items()}
    phi = shapley(cells, ["a", "b"])
    np.testing.assert_allclose(phi["a"], [2.0, 4.0])  # (1 - 0)/2 + (5 - 2)/2
    np.testing.assert_allclose(phi["b"], [3.0, 6.0])
    np.testing.assert_allclose(interaction(cells, ["a", "b"]), [2.0, 4.0])  # 5 - 1 - 2 + 0


def test_shapley_is_symmetric_and_a_plain_difference_for_one_factor():
    cells = _factorial(["x", "y"], lambda on, e: 0.9 + 0.01 * len(on) + 0.02 * (len(on) == 2) + e)
    phi = shapley(cells, ["x", "y"])
    np.testing.assert_allclose(phi["x"], phi["y"])
    idle = {on | extra: v for on, v in cells.items() for extra in (frozenset(), frozenset("z"))}
    np.testing.assert_allclose(shapley(idle, ["x", "y", "z"])["z"], 0.0, atol=1e-12)
    one = _factorial(["x"], lambda on, e: 0.9 + 0.01 * len(on) + 0.003 * e ** 2 + e)
    np.testing.assert_allclose(shapley(one, ["x"])["x"], one[frozenset("x")] - one[frozenset()])
    per_factor = shapley_deltas(one, ["x"])["x"]
    assert per_factor == paired_delta(one[frozenset("x")], one[frozenset()])


def test_shapley_names_a_missing_or_mismatched_cell():
    cells = _factorial(["a", "b"], lambda on, e: e)
    with pytest.raises(ValueError, match=r"\{a, b\} is missing"):
        shapley({k: v for k, v in cells.items() if k != frozenset("ab")}, ["a", "b"])
    with pytest.raises(ValueError, match="all factors off"):
        interaction({k: v for k, v in cells.items() if k}, ["a", "b"])
    with pytest.raises(ValueError, match="splits"):
        shapley({**cells, frozenset("a"): np.zeros(3)}, ["a", "b"])
    with pytest.raises(ValueError, match="not a frozenset of the factors"):
        shapley({**cells, frozenset("c"): np.zeros(4)}, ["a", "b"])


def test_simulated_srcc_is_spearman():
    rng = np.random.default_rng(0)
    pred, mos = rng.normal(size=(3, 80)), rng.normal(size=(3, 80))
    got = calibration.srcc_rows(pred, calibration.centred_ranks(mos))
    np.testing.assert_allclose(got, [stats.spearmanr(p, m).statistic for p, m in zip(pred, mos)])


def test_spearman_influence_predicts_the_variance_of_an_srcc_difference():
    # 2000 test sets of 300 from a large population: the spread of SRCC(b) - SRCC(a) against the
    # influence estimate, and against scipy's paired bootstrap on one test set
    rng = np.random.default_rng(0)
    quality = rng.standard_normal(100_000)
    mos = quality + 0.12 * rng.standard_normal(quality.size)
    own, other = rng.standard_normal((2, quality.size))
    a, b = quality + 0.35 * own, quality + 0.35 * (0.7 * own + math.sqrt(0.51) * other)
    idx = np.stack([rng.choice(quality.size, 300, replace=False) for _ in range(2000)])
    ranks = calibration.centred_ranks(mos[idx])
    spread = (calibration.srcc_rows(b[idx], ranks) - calibration.srcc_rows(a[idx], ranks)).var()
    estimate = (delta_influence(b[idx], a[idx], mos[idx]).var(-1, ddof=1) / 300).mean()
    assert estimate == pytest.approx(spread, rel=0.1)
    one = idx[0]
    boot = stats.bootstrap((b[one], a[one], mos[one]), lambda x, y, m: stats.spearmanr(x, m)[0] - stats.spearmanr(y, m)[0],
                           paired=True, vectorized=False, n_resamples=400, rng=np.random.default_rng(1))
    assert delta_influence(b[one], a[one], mos[one]).var(ddof=1) / 300 == pytest.approx(boot.standard_error ** 2, rel=0.3)


def test_pool_variance_keeps_what_splits_agree_on_and_drops_run_noise():
    rng = np.random.default_rng(2)
    stable = rng.normal(0, 1.0, 400)
    splits = np.full((6, 400), np.nan)
    for k in range(6):  # each split tests 200 of 400 images; run noise (sd 2) differs per split
        seen = rng.choice(400, 200, replace=False)
        splits[k, seen] = stable[seen] + rng.normal(0, 2.0, 200)
    assert pool_variance(splits, 400) == pytest.approx(stable.var() / 400, rel=0.2)
    assert np.isnan(pool_variance(np.array([[1.0, np.nan], [np.nan, 2.0]]), 2))  # no image tested twice


def test_population_interval_adds_the_pool_term_and_is_never_narrower():
    d = [0.004, 0.001, 0.006, 0.003, 0.002]
    plain, pop = mean_difference(d), mean_difference(d, pool_variance=4e-6)
    se = math.sqrt(np.var(d, ddof=1) / 5 + 4e-6)
    df = se ** 4 / ((np.var(d, ddof=1) / 5) ** 2 / 4)
    assert pop["ci_high"] - pop["delta"] == pytest.approx(max(stats.t.ppf(0.975, df) * se,
                                                                plain["ci_high"] - plain["delta"]))
    assert pop["p"] > plain["p"] and pop["method"] == "population t, J=5"
    with pytest.raises(ValueError, match="exclude each other"):
        mean_difference(d, n_train=800, n_test=200, pool_variance=1e-6)


def test_equal_accuracy_on_new_pools_has_no_true_effect_and_one_pool_has_its_own():
    assert calibration.true_delta(calibration.CI_SIZED, SEED) == 0.0  # exchangeable models
    a, b, _ = calibration.simulate(calibration.CI_SIZED, 4000, 1, np.random.default_rng(0))
    assert abs((b - a).mean()) < 4 * (b - a).std() / math.sqrt(4000)
    assert calibration.true_delta(calibration.SCENARIOS["1,000 images, one pool, equal accuracy"], SEED) != 0.0


@pytest.mark.parametrize("splits", [3, 5, 10])
@pytest.mark.parametrize("claim", ["dataset", "population"])
def test_each_claims_interval_is_calibrated_under_equal_accuracy(claim, splits):
    """Two different models of equal accuracy (each with errors of its own), 1,000-image pools tested 200
    at a time; the KonIQ-sized design is in the slow suite and docs/statistics.md."""
    d = replace(calibration.CI_SIZED, fresh_pool=claim == "population")
    r = calibration.coverage(d, splits, STUDIES, SEED, calibration.CLAIM_METHOD[claim])
    assert 0.93 <= r["coverage"] <= 0.97, r
    if claim == "population":
        assert r["rejected"] <= 0.06, r  # the truth is 0: a rejection is a type-I error


@pytest.mark.parametrize("splits", [5, 10])
def test_the_dataset_interval_undercovers_the_population(splits):
    r = calibration.coverage(calibration.CI_SIZED, splits, STUDIES, SEED, "paired t")
    assert r["coverage"] < 0.92 and r["rejected"] > 0.08, r


@pytest.mark.slow
@pytest.mark.parametrize("splits", [3, 5, 10])
@pytest.mark.parametrize("scenario, studies", [("KonIQ-sized, new pool per study, equal accuracy", 2000),
                                               ("KonIQ-sized, one pool, equal accuracy", 1000)])
def test_konIQ_sized_design_is_calibrated(scenario, studies, splits):
    """The studies docs/statistics.md reports for each (minutes of CPU each)."""
    d = calibration.SCENARIOS[scenario]
    r = calibration.coverage(d, splits, studies, SEED, calibration.CLAIM_METHOD[d.claim])
    assert 0.93 <= r["coverage"] <= 0.97, r
    if d.fresh_pool:
        assert r["rejected"] <= 0.06, r


@pytest.mark.slow
@pytest.mark.parametrize("splits", [3, 5, 10])
def test_percentile_bootstrap_undercovers(splits):
    r = calibration.coverage(calibration.SCENARIOS["1,000 images, one pool, equal accuracy"], splits, STUDIES,
                             SEED, "percentile bootstrap")
    assert r["coverage"] < 0.93, r


def test_tost_says_equivalent_exactly_when_the_90_percent_ci_is_inside_the_margin():
    from scipy import stats as sps

    from iqa.stats.cells import equivalence

    rng = np.random.default_rng(0)
    verdicts = set()
    for _ in range(300):
        d = rng.normal(rng.uniform(-0.003, 0.003), 0.001, 10)
        half = sps.t.ppf(0.95, 9) * d.std(ddof=1) / np.sqrt(10)
        inside = -0.002 < d.mean() - half and d.mean() + half < 0.002
        assert (equivalence(d, 0.002)["p"] < 0.05) == inside
        verdicts.add(inside)
    assert verdicts == {True, False}
    assert equivalence([0.0, 0.0, 0.0], 0.002)["p"] == 0.0  # bit-identical runs: equivalent
    assert equivalence([0.01, 0.01], 0.002)["p"] == 1.0
    assert np.isnan(equivalence([0.001], 0.002)["p"]) and np.isnan(equivalence([0.0, np.nan], 0.002)["p"])
