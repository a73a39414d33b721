import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from iqa.cli import main
from iqa.data.crops import image_key
from iqa.data.dataset import dataset_hash, decoded_images, load_koniq
from iqa.core.errors import DataError
from iqa.training.evaluate import mos_scores
from iqa.models.saved import load_model
from iqa.training.record import sha256_file
from iqa.training.score import score_dataset
from iqa.data.synthetic import make_synthetic

pytestmark = pytest.mark.slow  # every test here scores with a trained model


@pytest.fixture(scope="module")
def shifted(tmp_path_factory):
    """A second synthetic set, another degradation mix: the cross-dataset test set (read-only)."""
    return make_synthetic(tmp_path_factory.mktemp("shifted"), 30, seed=5, mix="shifted")


def test_every_image_is_scored_in_slices_as_in_one_piece(nano_run, shifted, tmp_path):
    model_path = nano_run / "model.safetensors"
    m = score_dataset(model_path, "koniq10k", shifted, tmp_path / "out", device="cpu", slice_images=7)
    ds = load_koniq(shifted)
    pred = pd.read_csv(tmp_path / "out" / "predictions.csv", dtype={"image": str})
    assert pred["image"].tolist() == ds.names and np.array_equal(pred["mos"], ds.mos.astype(np.float64))
    assert list(pred.columns[3:]) == [f"attention_stage{k}" for k in range(1, 5)]
    # the whole set on the device at once gives the same scores
    model, cfg, _ = load_model(model_path, ["train.device=cpu"])
    cache = decoded_images(ds, dataset_hash(ds), cfg.data.resize, cfg.data.cache_dir)
    whole, _ = mos_scores(model, torch.from_numpy(np.array(cache)), [image_key(p) for p in cache], cfg)
    np.testing.assert_allclose(pred["pred"], whole, rtol=1e-5, atol=1e-4)
    assert m["n_images"] == 30 and m["test"]["n_images"] == 30 and "rmse" not in m["test"]
    assert m["test"]["srcc"] == pytest.approx(stats.spearmanr(pred["pred"], pred["mos"]).statistic)
    assert m["test"]["plcc"] == pytest.approx(stats.pearsonr(pred["pred"], pred["mos"]).statistic)
    assert m["model_sha256"] == sha256_file(model_path) and m["dataset_hash"] == dataset_hash(ds)
    assert m["model_run_id"] == json.loads((nano_run / "metrics.json").read_text())["run_id"]
    assert m["files"]["predictions.csv"] == sha256_file(tmp_path / "out" / "predictions.csv")
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == m
    for key in ("git_commit", "source_hash", "versions", "device", "start_time", "wall_seconds"):
        assert key in m["provenance"]


def test_finished_scores_are_kept_and_another_dataset_is_refused(nano_run, shifted, synthetic, tmp_path):
    model_path = nano_run / "model.safetensors"
    first = score_dataset(model_path, "koniq10k", shifted, tmp_path / "out", device="cpu")
    stamp = os.stat(tmp_path / "out" / "metrics.json").st_mtime_ns
    assert score_dataset(model_path, "koniq10k", shifted, tmp_path / "out", device="cpu") == first
    assert os.stat(tmp_path / "out" / "metrics.json").st_mtime_ns == stamp
    with pytest.raises(DataError, match="another model or dataset"):
        score_dataset(model_path, "koniq10k", synthetic, tmp_path / "out", device="cpu")
    with pytest.raises(DataError, match="checkpoint not found"):
        score_dataset(tmp_path / "missing.safetensors", "koniq10k", shifted, tmp_path / "other")


def test_csv_copy_on_another_scale_gets_the_same_scores_and_correlations(nano_run, shifted, tmp_path):
    """The same images as a generic CSV, shuffled and rated 1-5: same predictions, same SRCC and PLCC."""
    root = tmp_path / "csvset"
    shutil.copytree(shifted / "512x384", root / "photos")
    table = pd.read_csv(shifted / "koniq10k_distributions_sets.csv").sample(frac=1, random_state=0)
    pd.DataFrame({"path": "photos/" + table["image_name"], "quality": 1 + 4 * table["MOS"] / 100}).to_csv(
        root / "scores.csv", index=False)
    model_path = nano_run / "model.safetensors"
    koniq = score_dataset(model_path, "koniq10k", shifted, tmp_path / "koniq", device="cpu")
    assert main(["score", str(model_path), "--kind", "csv", "--root", str(root),
                 "--out", str(tmp_path / "csv"), "--device", "cpu", "--option", "label_file=scores.csv",
                 "--option", "image_column=path", "--option", "score_column=quality"]) == 0
    csv = json.loads((tmp_path / "csv" / "metrics.json").read_text())
    assert csv["dataset_kind"] == "csv" and csv["dataset_options"]["score_column"] == "quality"
    a = pd.read_csv(tmp_path / "koniq" / "predictions.csv").set_index("image")
    b = pd.read_csv(tmp_path / "csv" / "predictions.csv")
    b = b.assign(image=b["image"].str.removeprefix("photos/")).set_index("image").loc[a.index]
    np.testing.assert_allclose(b["pred"], a["pred"], rtol=1e-6)
    np.testing.assert_allclose(b["mos"], 1 + 4 * a["mos"] / 100, rtol=1e-6)
    for metric in ("srcc", "plcc", "krcc"):  # rank- and affine-invariant: the label scale does not matter
        assert csv["test"][metric] == pytest.approx(koniq["test"][metric], abs=1e-6)
