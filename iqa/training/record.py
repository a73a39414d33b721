"""What a run writes, and how: atomically, with the SHA-256 of every file recorded in metrics.json.

metrics.json is written last: a failed run leaves none, and a finished one names (and hashes) the
predictions, history and weights it produced, so a later edit to any of them is detected. Its keys are
declared in `metrics_schema`; `write_metrics` is its only writer and `read_metrics` its checked reader.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from iqa import config as config_mod
from iqa.core import layout
from iqa.core.errors import DataError, TrainingError
from iqa.training import metrics_schema


def atomic_write(path: Path, write) -> None:
    """Call `write(tmp_path)`, then rename over `path`: readers never see a partial file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def finished(out: Path, cfg: dict) -> dict | None:
    """The metrics of a finished run of this config in `out`, or None; another config's run is an error."""
    done = out / layout.METRICS
    if not done.is_file():
        return None
    metrics = read_metrics(done)
    if metrics["provenance"]["config_hash"] != config_mod.config_hash(cfg):
        raise TrainingError(f"{done} holds a finished run of another config; use another --out")
    return metrics


def save_model(path: Path, model, cfg: dict) -> None:
    """The weights and the run config (in the metadata) as safetensors, byte for byte the same for the same
    weights in every process."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"config": json.dumps(cfg), "run_id": config_mod.run_id(cfg)}
    blob = memoryview(save(state, metadata=meta))
    header = sorted_metadata(blob)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(len(header).to_bytes(8, "little") + header)
            f.write(blob[8 + int.from_bytes(blob[:8], "little"):])

    atomic_write(path, write)


def sorted_metadata(blob) -> bytes:
    """A safetensors file's JSON header with its metadata keys sorted, padded to 8 bytes as safetensors pads.

    safetensors writes the metadata keys in a hash order that changes from process to process, so the same
    weights would get another SHA-256 in every rerun; the tensor entries' order is already fixed."""
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(bytes(blob[8:8 + n]))
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    return text + b" " * (-len(text) % 8)


def saved_config(path: str | Path) -> dict:
    """The run config a `save_model` file carries in its metadata, over the defaults (not yet validated)."""
    from safetensors import SafetensorError, safe_open

    if not Path(path).is_file():
        raise DataError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
    except SafetensorError as e:
        raise DataError(f"{path}: not a safetensors model file ({e}); give the run's model.safetensors "
                        f"(checkpoint.pt only resumes training)") from None
    if "config" not in meta:
        raise DataError(f"{path}: no config in the checkpoint metadata; was it written by `iqa train`?")
    return config_mod.merge(config_mod.DEFAULTS, json.loads(meta["config"]), where=str(path))


def load_model(path: str | Path, overrides=()):
    """Model (eval mode), resolved config and device from a run's model.safetensors (config in its metadata).

    `overrides` are `key=value` texts (as `--set` takes them) applied to the stored config.
    """
    from safetensors.torch import load_file

    from iqa.core.device import resolve_device
    from iqa.models.builder import build_model

    cfg = saved_config(path)
    for text in overrides:
        cfg = config_mod.merge(cfg, config_mod.parse_override(text), where=f"--set {text}")
    config_mod.validate(cfg)
    device = resolve_device(cfg["train"]["device"])
    model = build_model({**cfg["model"], "pretrained": False}).to(device)
    model.load_state_dict(load_file(str(path), device=str(device)))
    model.eval()
    return model, cfg, device


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
