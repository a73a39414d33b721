"""What a run writes, and how: atomically, with the SHA-256 of every file recorded in metrics.json.

metrics.json is written last: a failed run leaves none, and a finished one names (and hashes) the
predictions, history and weights it produced, so a later edit to any of them is detected. Its keys are
declared in `metrics_schema`; `write_metrics` is its only writer and `read_metrics` its checked reader.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from iqa.config import RunConfig, config_hash
from iqa.core import layout
from iqa.core.errors import DataError, TrainingError
from iqa.core.files import atomic_write
from iqa.training import metrics_schema


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def finished(out: Path, cfg: RunConfig) -> dict | None:
    """The metrics of a finished run of this config in `out`, or None; another config's run is an error."""
    done = out / layout.METRICS
    if not done.is_file():
        return None
    metrics = read_metrics(done)
    if metrics["provenance"]["config_hash"] != config_hash(cfg):
        raise TrainingError(f"{done} holds a finished run of another config; use another --out")
    return metrics


def write_predictions(path: Path, names: list[str], mos: np.ndarray, pred: np.ndarray,
                      weights: np.ndarray | None) -> None:
    # float64 columns round-trip exactly through CSV, so audits recompute the same metrics.
    table = pd.DataFrame({"image": names, "mos": np.asarray(mos, np.float64), "pred": pred.astype(np.float64)})
    if weights is not None:
        for k in range(weights.shape[1]):
            table[f"attention_stage{k + 1}"] = weights[:, k]
    atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))


def write_history(path: Path, history: list[dict]) -> None:
    atomic_write(path, lambda tmp: pd.DataFrame(history).to_csv(tmp, index=False))


def content_hash(metrics: dict) -> str:
    """SHA-256 of a record's content as JSON stores it (keys sorted, without this hash itself): an edit to
    any number of metrics.json (validation scores, epochs, costs, config) changes it."""
    body = json.loads(json.dumps({k: v for k, v in metrics.items() if k != "content_sha256"}))
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def write_metrics(out: Path, metrics: dict) -> None:
    """Hash the run's files into `metrics['files']` and the record's own content into
    `metrics['content_sha256']`, check the record against its schema, then write metrics.json (last,
    atomically). The one writer of metrics.json: training, scoring, packs and the tests' fake runs."""
    path = Path(out) / layout.METRICS
    metrics["files"] = {name: sha256_file(out / name) for name in layout.RUN_FILES if (out / name).is_file()}
    metrics["content_sha256"] = content_hash(metrics)
    metrics_schema.check(metrics, path)
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(metrics, indent=2)))


def read_metrics(path: str | Path) -> dict:
    """A metrics.json, checked against its schema: a missing or mistyped key is a DataError naming it."""
    return metrics_schema.check(json.loads(Path(path).read_text()), path)
