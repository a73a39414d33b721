import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from iqa.core.errors import DataError
from iqa.results.diagnostics import choose_images, feature_maps, per_image_attention, stage_activations
from iqa.models.saved import load_model
from iqa.data.synthetic import make_synthetic


def test_choose_images_takes_the_best_predicted_image_near_each_percentile():
    # 20 images, MOS 1..20: percentile ranks 2.5, 7.5, ..., 97.5; p10 +- 5 holds MOS 2 and 3
    names = [f"img{k:02d}.jpg" for k in range(20)]
    mos = np.arange(1.0, 21.0)
    pred = mos + np.where(mos % 2 == 0, 3.0, 1.0)  # odd MOS predicted better
    chosen = choose_images(pd.DataFrame({"image": names, "mos": mos, "pred": pred}))
    assert chosen["percentile"].tolist() == [10, 50, 90]
    assert chosen["mos"].tolist() == [3.0, 11.0, 19.0]  # p50 window: MOS 10, 11; p90: 18, 19
    # equal errors: the first name wins, whatever the row order (n = 21: p10 +- 5 holds MOS 1 and 2)
    letters = "qwertyuiopasdfghjklzx"
    tied = pd.DataFrame({"image": [f"{c}.jpg" for c in letters], "mos": np.arange(21.0)})
    tied["pred"] = tied["mos"] + 1
    picked = choose_images(tied)
    assert picked["image"].iloc[0] == min("w.jpg", "e.jpg") == "e.jpg"
    assert picked.equals(choose_images(tied.sample(frac=1, random_state=1)))

def test_choose_images_falls_back_to_the_nearest_rank_on_tiny_sets():
    table = pd.DataFrame({"image": ["x.jpg", "y.jpg", "z.jpg"], "mos": [30.0, 10.0, 20.0],
                          "pred": [0.0, 0.0, 0.0]})  # ranks 83.3, 16.7, 50
    assert choose_images(table)["image"].tolist() == ["y.jpg", "z.jpg", "x.jpg"]


@pytest.mark.slow
def test_figures_of_a_trained_run(nano_run, synthetic, tmp_path):
    per_image_attention(nano_run, synthetic, tmp_path / "figs", "per_image_attention")
    feature_maps(nano_run, synthetic, tmp_path / "figs", "feature_maps")
    for name in ("per_image_attention", "feature_maps"):
        assert (tmp_path / "figs" / f"{name}.pdf").stat().st_size > 10_000
        png = matplotlib.image.imread(tmp_path / "figs" / f"{name}.png")
        assert png.shape[0] > 500 and png.shape[1] > 1000 and png.std() > 0.05  # drawn, not blank


@pytest.mark.slow
def test_stage_activations_are_one_map_per_stage_at_patch_size(nano_run):
    model, _, _ = load_model(nano_run / "model.safetensors", ["train.device=cpu"])
    patch = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    maps = stage_activations(model, patch)
    assert [grid for _, grid in maps] == [(16, 16), (8, 8), (4, 4), (2, 2)]
    assert all(act.shape == (64, 64) and (act >= 0).all() and act.std() > 0 for act, _ in maps)
    again = stage_activations(model, patch)
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(maps, again))


@pytest.mark.slow
def test_figures_refuse_another_dataset_or_edited_predictions(nano_run, synthetic, tmp_path):
    other = make_synthetic(tmp_path / "other", 10, seed=9)
    with pytest.raises(DataError, match="not the dataset run"):
        per_image_attention(nano_run, other, tmp_path / "figs", "per_image_attention")
    edited = tmp_path / "run"
    edited.mkdir()
    for name in ("metrics.json", "model.safetensors"):
        (edited / name).write_bytes((nano_run / name).read_bytes())
    pred = pd.read_csv(nano_run / "predictions.csv")
    pred.assign(pred=pred["pred"] + 1).to_csv(edited / "predictions.csv", index=False)
    with pytest.raises(DataError, match="not the file the run recorded"):
        feature_maps(edited, synthetic, tmp_path / "figs", "feature_maps")
