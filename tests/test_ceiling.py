import numpy as np
import pandas as pd
import pytest
from scipy import stats

from iqa.stats.ceiling import ceiling, dataset_ceiling, rating_counts
from iqa.core.errors import DataError


def panel(n_images: int, seed: int = 0):
    """True qualities and KonIQ-like panels: 20-120 raters an image, each one noisy and rounded to 1-5."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(3, 0.6, n_images)
    raters = rng.integers(20, 121, n_images)
    counts = np.zeros((n_images, 5), int)
    for i in range(n_images):
        ratings = np.clip(np.rint(quality[i] + rng.normal(0, 0.8, raters[i])), 1, 5).astype(int)
        counts[i] = np.bincount(ratings, minlength=6)[1:]
    return quality, counts


def test_ceiling_is_what_the_true_quality_reaches_against_the_panel_mean():
    quality, counts = panel(3000)
    mos = (counts * np.arange(1, 6)).sum(1) / counts.sum(1)
    top = ceiling(counts)
    # the truth, measured: how well the true quality (a perfect model) agrees with the MOS
    for metric, truth in (("srcc", stats.spearmanr(quality, mos).statistic),
                          ("plcc", stats.pearsonr(quality, mos).statistic)):
        assert top[f"{metric}_ci_low"] <= truth <= top[f"{metric}_ci_high"], (metric, truth, top)
        assert top[metric] == pytest.approx(truth, abs=0.004)
        assert top[metric] < 1 and top[f"{metric}_split_half"] < top[metric]


def test_shares_and_counts_read_the_same_and_files_without_distributions_have_no_ceiling(tmp_path):
    _, counts = panel(50)
    names = [f"{i}.jpg" for i in range(50)]
    base = pd.DataFrame({"image_name": names, "c_total": counts.sum(1), "MOS": 50.0})
    (tmp_path / "counts").mkdir()
    base.assign(**{f"c{k + 1}": counts[:, k] for k in range(5)}).to_csv(
        tmp_path / "counts" / "koniq10k_scores_and_distributions.csv", index=False)
    (tmp_path / "shares").mkdir()
    base.assign(**{f"c{k + 1}": counts[:, k] / counts.sum(1) for k in range(5)}).to_csv(
        tmp_path / "shares" / "koniq10k_distributions_sets.csv", index=False)
    np.testing.assert_array_equal(rating_counts(tmp_path / "counts"), rating_counts(tmp_path / "shares"))
    (tmp_path / "none").mkdir()
    base.to_csv(tmp_path / "none" / "koniq10k_distributions_sets.csv", index=False)
    assert dataset_ceiling(tmp_path / "none") is None
    (tmp_path / "bad").mkdir()
    base.assign(**{f"c{k + 1}": 3 for k in range(5)}).to_csv(
        tmp_path / "bad" / "koniq10k_distributions_sets.csv", index=False)
    with pytest.raises(DataError, match="add up to neither"):
        rating_counts(tmp_path / "bad")


def test_synthetic_mos_is_the_mean_of_the_ratings_it_ships(synthetic):
    counts = rating_counts(synthetic)
    table = pd.read_csv(synthetic / "koniq10k_distributions_sets.csv")
    assert (counts.sum(1) == 25).all()
    mean = (counts * np.arange(1, 6)).sum(1) / 25
    np.testing.assert_allclose(table["MOS"], 1 + 99 * (mean - 1) / 4, atol=1e-4)
