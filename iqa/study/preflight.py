"""Checks a study's inputs before any job starts: data, pretrained weights and disk.

The workflow runs `check` once, locally, before the first job is submitted (its `onstart`), over the
runs that this invocation will train or score; `iqa plan --check` runs the same by hand. Every problem
is one line naming what is missing and how to supply it. A dry run checks nothing, so a study still
plans on a machine without its data.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iqa.config import ModelConfig
from iqa.core.errors import DataError, WeightsMissing

SAMPLE_IMAGES = 8  # decoded per dataset, besides the first: enough to catch a broken copy, quick on 10k
CHECKPOINT_FACTOR = 3  # checkpoint.pt ~ weights + Adam's two moments, kept while a run trains
CACHE_BYTES_PER_PIXEL = 3  # the decoded-image cache: uint8 RGB at the run's resize


@dataclass
class Need:
    """What the runs and scores of one invocation read and write."""
    data: dict[str, tuple[str, dict]]  # root -> (dataset kind, loader options)
    models: list[ModelConfig]  # the `model` section of every run to train
    cache_pixels: int  # decoded-image cache: images x width x height, summed over distinct (root, size)
    parallel: int  # runs that may train at once (each holds a checkpoint)


def needs(study_cfg: dict, study, train_ids, scores, parallel: int = 1) -> Need:
    """The inputs of training `train_ids` and scoring `scores` ((dataset, run id) pairs)."""
    data: dict[str, tuple[str, dict]] = {}
    sizes = set()
    for rid in train_ids:
        d = study.runs[rid].data
        data[d.root] = ("koniq10k", {})
        sizes.add((d.root, d.resize))
    for name, _ in scores:
        spec = study_cfg["cross_dataset"]["datasets"][name]
        data[spec["root"]] = (spec["kind"], spec.get("options") or {})
    return Need(data, [study.runs[rid].model for rid in train_ids],
                sum(_image_count(root) * w * h for root, (w, h) in sizes), max(1, min(parallel, len(train_ids))))


def _image_count(root: str) -> int:
    from iqa.data.dataset import load_koniq

    try:
        return len(load_koniq(root).names)
    except DataError:
        return 0  # reported by the data check


def check_data(root: str, kind: str, options: dict) -> str | None:
    """The label file readable, every listed image present, the first and a sample decodable."""
    from iqa.data.dataset import load_image
    from iqa.data.external import load_dataset

    if not Path(root).is_dir():
        return (f"data root {root} ({kind}) not found: put the {kind} release there (see iqa/data/external.py for "
                f"its layout) or point the study's root at it")
    try:
        ds = load_dataset(kind, root, **options)
        picks = sorted({0, *np.linspace(0, len(ds.names) - 1, SAMPLE_IMAGES).astype(int).tolist()})
        for i in picks:
            try:
                load_image(ds.path(i), (32, 32))
            except Exception as e:  # PIL raises many types for a broken file
                return f"data root {root} ({kind}): {ds.path(i)} does not decode ({e}); replace it from the release"
    except DataError as e:
        return f"data root {root} ({kind}): {e}"
    return None


def check_weights(models: list[ModelConfig]) -> list[str]:
    """Each pretrained backbone's weights in the local Hugging Face cache or at `model.weights`."""
    from iqa.models.builder import pretrained_file, weights_name

    problems, seen = [], set()
    for m in models:
        if not m.pretrained:
            continue
        key = (weights_name(m), m.weights)
        if key in seen:
            continue
        seen.add(key)
        try:
            pretrained_file(m)
        except WeightsMissing as e:
            problems.append(str(e))
    return problems


def disk_bytes(need: Need) -> dict[str, int]:
    """Bytes the invocation writes: every model file, the checkpoints of runs training at once, the cache."""
    from iqa.models.builder import parameter_count

    params = [parameter_count(m) for m in need.models]
    model_bytes = 4 * sum(params)  # float32 safetensors
    biggest = sorted(params, reverse=True)[: need.parallel]
    return {"models": model_bytes, "checkpoints": 4 * CHECKPOINT_FACTOR * sum(biggest),
            "cache": CACHE_BYTES_PER_PIXEL * need.cache_pixels}


def check_disk(need: Need, results: str | Path) -> str | None:
    results = Path(results)
    where = next(p for p in (results, *results.resolve().parents) if p.exists())
    free = shutil.disk_usage(where).free
    needed = disk_bytes(need)
    total = sum(needed.values())
    if total > free:
        parts = ", ".join(f"{k} {v / 1e9:.1f} GB" for k, v in needed.items())
        return (f"disk: {results} needs about {total / 1e9:.1f} GB ({parts}) but {where} has {free / 1e9:.1f} GB free; "
                f"free space, or move results/ to a larger disk")
    return None


def check(study_cfg: dict, study, results: str | Path, need: Need) -> list[str]:
    """Every problem with the invocation's inputs, one line each (empty: ready to run)."""
    problems = [p for root, (kind, options) in need.data.items() if (p := check_data(root, kind, options))]
    problems += check_weights(need.models)
    disk = check_disk(need, results)
    return problems + ([disk] if disk else [])
