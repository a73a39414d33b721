"""The data one run trains and is tested on: its dataset's split parts, decoded, labelled and on the device.

Each part holds the images (uint8, as `dataset.decoded_images` caches them), their MOS, names and crop
keys; where they came from (dataset and split hashes) goes into the run's provenance.
"""
from __future__ import annotations

import numpy as np
import torch

from iqa.config import RunConfig
from iqa.data.crops import image_key
from iqa.data.dataset import dataset_hash, decoded_images, load_koniq, make_split, split_hash


def load_parts(cfg: RunConfig, device: torch.device) -> tuple[dict, dict]:
    """Labels, split and decoded images of every split part, on `device`; and where they came from.

    `train.labels` can replace the training part's MOS for a control run (`training_labels`);
    validation and test labels stay true.
    """
    d = cfg.data
    ds = load_koniq(d.root)
    ds_hash = dataset_hash(ds)
    split = make_split(ds, d)
    cache = decoded_images(ds, ds_hash, d.resize, d.cache_dir)
    parts = {}
    for part, idx in split.items():
        mos = ds.mos[idx]
        if part == "train":
            mos = training_labels(mos, cfg.train.labels, cfg.seed)
        names = [ds.names[i] for i in idx]
        pixels = np.ascontiguousarray(cache[idx])
        parts[part] = {"images": torch.from_numpy(pixels).to(device),
                       "mos": torch.from_numpy(mos).to(device), "names": names,
                       "keys": [image_key(p) for p in pixels]}
    info = {"dataset_root": str(d.root), "label_file": ds.label_file.name, "image_dir": ds.image_dir.name,
            "dataset_hash": ds_hash, "split_hash": split_hash(ds, split),
            **{f"n_{part}": len(idx) for part, idx in split.items()}}
    return parts, info


def training_labels(mos, how: str, seed: int):
    """The labels a run trains on: as given, permuted (seeded), or reversed (min + max - MOS)."""
    if how == "shuffled":
        return np.random.default_rng(seed).permutation(mos)
    if how == "reversed":
        return mos.min() + mos.max() - mos
    return mos
