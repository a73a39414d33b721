import numpy as np
import pandas as pd
import pytest
from PIL import Image

from iqa.data.dataset import load_koniq
from iqa.data.synthetic import MIXES, _degrade, _levels, _reference, make_synthetic, mos_from_levels

CLEAN = {"blur_sigma": 0.0, "noise_std": 0.0, "jpeg_quality": 95, "contrast": 1.0}


def test_mos_is_the_documented_function_of_the_levels():
    assert mos_from_levels(CLEAN) == 95
    assert mos_from_levels({**CLEAN, "blur_sigma": 4.0, "noise_std": 40.0}) == pytest.approx(95 - 30 - 25)
    assert mos_from_levels({**CLEAN, "jpeg_quality": 5, "contrast": 0.3}) == pytest.approx(95 - 20 - 15)
    # the shifted mix's two extra terms; absent, they count as no degradation
    assert mos_from_levels({**CLEAN, "saturation": 0.0, "downscale": 1.0}) == pytest.approx(80)
    assert mos_from_levels({**CLEAN, "saturation": 1.0, "downscale": 0.25}) == pytest.approx(70)


@pytest.mark.parametrize("mix", sorted(MIXES))
def test_levels_stay_in_each_mix_range(mix):
    rng = np.random.default_rng(0)
    draws = pd.DataFrame([_levels(rng, MIXES[mix]) for _ in range(300)])
    assert list(draws.columns) == list(MIXES[mix].levels)
    for name, (p, lo, hi, off) in MIXES[mix].levels.items():
        present = draws[name] != off
        assert ((draws[name][present] >= lo) & (draws[name][present] <= hi)).all(), name
        assert abs(present.mean() - p) < 0.1, name  # present about as often as the mix says


def test_saturation_loss_and_downscale_degrade_the_image():
    import io

    ref = _reference(np.random.default_rng(3))

    def decode(levels):
        return np.asarray(Image.open(io.BytesIO(_degrade(ref, levels, np.random.default_rng(0)))), np.float64)

    clean, grey = decode(CLEAN), decode({**CLEAN, "saturation": 0.0})
    assert clean.std(axis=2).mean() > 10 and grey.std(axis=2).mean() < 2  # colour gone
    small = decode({**CLEAN, "downscale": 0.25})
    detail = [np.abs(np.diff(a.mean(2), axis=1)).mean() for a in (clean, small)]
    assert detail[1] < 0.6 * detail[0]  # fine detail lost


def test_unknown_mix_is_named():
    with pytest.raises(ValueError, match="unknown synthetic mix 'blurry'"):
        make_synthetic("unused", 10, mix="blurry")


@pytest.mark.slow
def test_shifted_set_is_a_koniq_format_set_of_its_own(tmp_path):
    shifted = make_synthetic(tmp_path / "shifted", 10, seed=0, mix="shifted")
    default = make_synthetic(tmp_path / "default", 10, seed=0)
    ds = load_koniq(shifted)
    assert len(ds.names) == 10 and all(n.startswith("s") for n in ds.names)
    assert not set(ds.names) & set(load_koniq(default).names)
    levels = pd.read_csv(shifted / "synthetic_levels.csv")
    assert list(levels.columns) == ["image_name", *MIXES["shifted"].levels, "MOS"]
    formula = np.clip([mos_from_levels(row) for row in levels.to_dict("records")], 1, 100)
    noise = levels["MOS"] - formula
    assert (noise.abs() < 12).all() and noise.std() > 0.5  # a 25-rater panel's noise, not a copy
    assert not (tmp_path / "default" / "512x384" / ds.names[0]).exists()


def test_default_mix_degrades_all_four_ways_with_one_severity():
    rng = np.random.default_rng(1)
    draws = pd.DataFrame([_levels(rng, MIXES["default"]) for _ in range(300)])
    scaled = pd.DataFrame({"b": draws["blur_sigma"] / 4, "n": draws["noise_std"] / 40,
                           "j": (95 - draws["jpeg_quality"]) / 90, "c": (1 - draws["contrast"]) / 0.7})
    assert (scaled.corr() > 0.6).all().all()  # one severity per image moves every level
    assert ((scaled >= 0) & (scaled <= 1)).all().all()
