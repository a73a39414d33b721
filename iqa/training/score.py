"""Score a whole external dataset with a trained run's model: cross-dataset tests, no training.

`score_dataset` reads the model and its config from a run's model.safetensors, loads the dataset
in its release format (`datasets.load_dataset`), decodes it once through the decoded-image cache
and scores every image with the run's test-crop protocol on the training set's MOS scale. Images
go to the device a slice at a time from the memory-mapped cache, so any size of dataset fits.

Scales: predictions are on the scale of the set the model was trained on, labels on the external
dataset's own (KADID-10k 1-5, SPAQ 0-100 ...). SRCC and KRCC depend on ranks only, and Pearson's
PLCC is unchanged by any linear rescaling of either side, so PLCC is always raw Pearson here
(whatever the run's `eval.plcc`) and RMSE, which would mix two scales, is not reported.

Outputs in `out/`: predictions.csv (image, mos, pred, attention_stage1..4 when the model has scale
attention) and metrics.json, written last and atomically with the SHA-256 of predictions.csv.
A finished folder for the same model and dataset is returned as it is, never scored again.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import torch

from iqa.core import layout
from iqa.config import RunConfig
from iqa.data.crops import image_key
from iqa.data.dataset import Dataset, dataset_hash, decoded_images
from iqa.data.external import load_dataset
from iqa.core.errors import DataError
from iqa.training.evaluate import mos_scores
from iqa.core.metrics import correlations
from iqa.training.provenance import code_and_machine
from iqa.models.saved import load_model
from iqa.training.record import read_metrics, sha256_file, write_metrics, write_predictions

SLICE_IMAGES = 256  # images on the device at once


def score_dataset(model_path: Path, kind: str, root: Path, out: Path, options: dict | None = None,
                  device: str | None = None, slice_images: int = SLICE_IMAGES) -> dict:
    """Score every image of the `kind` dataset at `root` (loader `options`), write `out/`, return the metrics.

    `device` ('cpu' | 'cuda' | 'auto') overrides the run's `train.device`; it changes where, not what.
    """
    model_path, out, options = Path(model_path), Path(out), dict(options or {})
    started = dt.datetime.now(dt.timezone.utc)
    if not model_path.is_file():
        raise DataError(f"checkpoint not found: {model_path}")
    model_sha = sha256_file(model_path)
    ds = load_dataset(kind, root, **options)
    ds_hash = dataset_hash(ds)
    done = finished_scores(out, model_sha, ds_hash)
    if done is not None:
        return done
    model, cfg, dev = load_model(model_path, [f"train.device={device}"] if device else [])
    pred, weights = score_all(model, ds, ds_hash, cfg, dev, slice_images)
    out.mkdir(parents=True, exist_ok=True)
    write_predictions(out / layout.PREDICTIONS, ds.names, ds.mos, pred, weights)
    test = correlations(pred, ds.mos, "raw")
    del test["rmse"]  # predictions and labels are on different scales
    metrics = {"model_run_id": run_id_of(model_path), "model_sha256": model_sha,
               "model_path": str(model_path),
               "dataset_kind": kind, "dataset_root": str(root), "dataset_options": options,
               "dataset_hash": ds_hash, "n_images": len(ds.names), "plcc": "raw", "test": test,
               "provenance": scoring_provenance(cfg, dev, started)}
    write_metrics(out, metrics)
    return metrics


def finished_scores(out: Path, model_sha: str, ds_hash: str) -> dict | None:
    """The metrics in `out` if it holds this model's scores of this dataset; another pair's is an error."""
    done = out / layout.METRICS
    if not done.is_file():
        return None
    metrics = read_metrics(done)
    if (metrics.get("model_sha256"), metrics.get("dataset_hash")) != (model_sha, ds_hash):
        raise DataError(f"{done} holds the scores of another model or dataset; use another out folder")
    return metrics


def score_all(model, ds: Dataset, ds_hash: str, cfg: RunConfig, device: torch.device,
              slice_images: int = SLICE_IMAGES) -> tuple[np.ndarray, np.ndarray | None]:
    """MOS-scale scores (and mean attention weights) of every image, one slice of the cache at a time."""
    d = cfg.data
    size = ds.image_size(d.resize)
    if min(size) < d.patch_size:
        raise DataError(f"{ds.root}: images decode to {size[0]}x{size[1]}, smaller than the model's "
                        f"{d.patch_size} px patches")
    cache = decoded_images(ds, ds_hash, size, d.cache_dir)
    scores, weights = [], []
    for start in range(0, len(ds.names), slice_images):
        pixels = np.array(cache[start:start + slice_images])  # a writable copy of the slice
        s, w = mos_scores(model, torch.from_numpy(pixels).to(device), [image_key(p) for p in pixels], cfg)
        scores.append(s)
        if w is not None:
            weights.append(w)
    return np.concatenate(scores), (np.concatenate(weights) if weights else None)


def run_id_of(model_path: Path) -> str | None:
    """The run id `iqa train` stored in the model's metadata."""
    from safetensors import safe_open

    with safe_open(str(model_path), "pt") as f:
        return (f.metadata() or {}).get("run_id")


def scoring_provenance(cfg: RunConfig, device: torch.device, started: dt.datetime) -> dict:
    """Code, environment, machine and times of one scoring job."""
    ended = dt.datetime.now(dt.timezone.utc)
    d = cfg.data
    return {**code_and_machine(device),
            "test_crops": d.test_crops, "crop_seed": d.crop_seed, "patch_size": d.patch_size,
            "precision": cfg.train.precision, "start_time": started.isoformat(),
            "end_time": ended.isoformat(), "wall_seconds": round((ended - started).total_seconds(), 3)}
