"""Run configuration: defaults, loading, `key=value` overrides, validation and hashing.

A run is fully described by one nested dict. Every key has a default here, so an unknown key
is a typo and is rejected (with the closest valid key) before any work starts.
"""
from __future__ import annotations

import copy
import difflib
import hashlib
import json
from pathlib import Path

import yaml

DEFAULTS: dict = {
    "name": "run",  # readable part of the run id; not part of the config hash
    "seed": 0,  # initialisation, patch sampling, dropout
    "model": {
        "name": "swin_hyperiqa",  # see `iqa models`
        "size": "base",  # nano | micro | tiny | small | base (swin); nano | resnet50 (hyperiqa)
        "multiscale": True,  # pool the four stages to the last stage's grid and concatenate
        "attention_fusion": True,  # per-image softmax weights over the four stages
        "pretrained": False,  # timm ImageNet weights from the local HF cache or `weights`
        "weights": None,  # path to a local timm weights file (safetensors or .pth)
        "drop_path_rate": 0.3,
        "hyper_dropout": 0.4,  # dropout on the hyper-network input
        "target_dropout": 0.4,  # dropout after target-net layers 1-3
    },
    "data": {
        "root": "data/synthetic",  # folder with the KonIQ-style label CSV and image folder
        "resize": [512, 384],  # width, height every image is resized to (once per run)
        "split": "random",  # random (seeded 80/20 + validation carve-out) | official (KonIQ `set`)
        "split_seed": 0,
        "split_index": 0,  # split k under split_seed s is the same image set on every machine
        "test_fraction": 0.2,
        "val_fraction": 0.1,  # of the training part
        "patch_size": 224,
        "train_patches": 20,  # random crops per training image per epoch
        "color_jitter": False,  # ColorJitter(0.2, 0.2, 0.2, 0.1) on training patches
        "test_crops": "random:20",  # center | random:N (seeded) | grid:N
        "crop_seed": 0,  # fixes random test crops: the same crops for every model
        "cache_dir": None,  # decoded-image cache; default ~/.cache/iqa
    },
    "train": {
        "epochs": 10,
        "batch_size": 32,
        "lr": 5.0e-7,  # backbone (and LDA) learning rate
        "lr_ratio": 10.0,  # hyper and target networks train at lr * lr_ratio
        "optimizer": "adamw",  # adamw (decoupled decay) | adam (coupled L2)
        "weight_decay": 2.0e-4,
        "schedule": "cosine",  # cosine | step
        "step_size": 6,  # epochs between decays for `step`
        "gamma": 0.1,
        "patience": 3,  # epochs without val SRCC gain before stopping; null = never stop early
        "label_scale": 1.0,  # train on MOS * label_scale (original: 1, MOS 0-100; pyiqa: 0.01); scores reported on the MOS scale
        "ranking_loss_weight": 0.0,  # weight of a pairwise margin-ranking loss added to L1
        "device": "auto",  # auto | cpu | cuda
        "amp": True,  # bf16 autocast on CUDA
        "compile": False,  # torch.compile the model
        "log_every": 20,  # steps between progress lines in the log
    },
    "eval": {
        "plcc": "raw",  # raw | logistic4 (4-parameter logistic fit before Pearson)
    },
}

# Keys that do not change what a run computes, so they stay out of the config hash.
UNHASHED = {("name",), ("data", "cache_dir"), ("train", "log_every")}

CHOICES = {
    ("model", "name"): {"swin_hyperiqa", "hyperiqa_resnet50"},
    ("data", "split"): {"random", "official"},
    ("train", "optimizer"): {"adamw", "adam"},
    ("train", "schedule"): {"cosine", "step"},
    ("train", "device"): {"auto", "cpu", "cuda"},
    ("eval", "plcc"): {"raw", "logistic4"},
}
POSITIVE = {("train", "lr"), ("train", "label_scale"), ("train", "lr_ratio"), ("train", "epochs"), ("train", "batch_size"),
            ("data", "patch_size"), ("data", "train_patches"), ("train", "step_size"), ("train", "log_every")}
NULLABLE = {("train", "patience")}
FRACTIONS = {("data", "test_fraction"), ("data", "val_fraction"), ("model", "drop_path_rate"),
             ("model", "hyper_dropout"), ("model", "target_dropout")}


class ConfigError(ValueError):
    """A config key or value is wrong; the message names it."""


def _flatten(d: dict, prefix: tuple = ()) -> dict[tuple, object]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, prefix + (k,)))
        else:
            out[prefix + (k,)] = v
    return out


def _dotted(path: tuple) -> str:
    return ".".join(path)


def merge(base: dict, overrides: dict, where: str = "config") -> dict:
    """Deep-merge `overrides` into a copy of `base`; unknown keys raise with the closest valid key."""
    out = copy.deepcopy(base)
    valid = {_dotted(p) for p in _flatten(DEFAULTS)} | {k for k in DEFAULTS}

    def walk(dst: dict, src: dict, prefix: tuple):
        for k, v in src.items():
            path = prefix + (str(k),)
            if k not in dst:
                close = difflib.get_close_matches(_dotted(path), valid, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(f"{where}: unknown key '{_dotted(path)}'{hint}")
            if isinstance(dst[k], dict):
                if not isinstance(v, dict):
                    raise ConfigError(f"{where}: '{_dotted(path)}' must be a mapping, got {v!r}")
                walk(dst[k], v, path)
            else:
                dst[k] = v

    walk(out, overrides or {}, ())
    return out


def parse_override(text: str) -> dict:
    """`train.lr=1e-6` -> {'train': {'lr': 1e-06}}; the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' is not of the form key=value")
    key, value = text.split("=", 1)
    node: dict = {}
    cur = node
    parts = key.strip().split(".")
    for p in parts[:-1]:
        cur[p] = {}
        cur = cur[p]
    cur[parts[-1]] = yaml.safe_load(value)
    return node


def load(path: str | Path | None = None, overrides: list[str] | dict | None = None) -> dict:
    """Defaults <- YAML file <- overrides, validated."""
    cfg = copy.deepcopy(DEFAULTS)
    if path is not None:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except OSError as e:
            raise ConfigError(f"cannot read config {path}: {e.strerror}") from e
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: top level must be a mapping")
        cfg = merge(cfg, data, where=str(path))
        if "name" not in data:
            cfg["name"] = path.stem
    if isinstance(overrides, dict):
        cfg = merge(cfg, overrides, where="overrides")
    else:
        for text in overrides or []:
            cfg = merge(cfg, parse_override(text), where=f"--set {text}")
    validate(cfg)
    return cfg


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def validate(cfg: dict) -> None:
    flat = _flatten(cfg)
    for path, default in _flatten(DEFAULTS).items():
        v = flat.get(path)
        name = _dotted(path)
        if isinstance(default, bool) and not isinstance(v, bool):
            raise ConfigError(f"'{name}' must be true or false, got {v!r}")
        if path in NULLABLE and v is None:
            continue
        if _is_number(default) and not _is_number(v):
            # YAML reads 5e-7 (no dot) as a string; accept anything float() reads.
            try:
                v = float(v) if isinstance(default, float) else int(v)
            except (TypeError, ValueError):
                raise ConfigError(f"'{name}' must be a number, got {v!r}") from None
            _set(cfg, path, v)
        if path in CHOICES and v not in CHOICES[path]:
            raise ConfigError(f"'{name}' must be one of {sorted(CHOICES[path])}, got {v!r}")
        if path in POSITIVE and not v > 0:
            raise ConfigError(f"'{name}' must be > 0, got {v!r}")
        if path in FRACTIONS and not 0 <= v < 1:
            raise ConfigError(f"'{name}' must be in [0, 1), got {v!r}")
    if cfg["train"]["weight_decay"] < 0:
        raise ConfigError(f"'train.weight_decay' must be >= 0, got {cfg['train']['weight_decay']!r}")
    patience = cfg["train"]["patience"]
    if patience is not None and (not isinstance(patience, int) or patience < 1):
        raise ConfigError(f"'train.patience' must be a positive integer or null, got {patience!r}")
    resize = cfg["data"]["resize"]
    if not (isinstance(resize, list) and len(resize) == 2 and all(isinstance(x, int) and x > 0 for x in resize)):
        raise ConfigError(f"'data.resize' must be [width, height] in pixels, got {resize!r}")
    if min(resize) < cfg["data"]["patch_size"]:
        raise ConfigError(f"'data.patch_size' {cfg['data']['patch_size']} is larger than 'data.resize' {resize}")
    from .crops import parse_crops  # local import: crops imports nothing from here

    try:
        parse_crops(cfg["data"]["test_crops"])
    except ValueError as e:
        raise ConfigError(f"'data.test_crops': {e}") from None
    from .models import check_model_config

    try:
        check_model_config(cfg["model"])
    except ValueError as e:
        raise ConfigError(str(e)) from None


def _set(cfg: dict, path: tuple, value) -> None:
    for p in path[:-1]:
        cfg = cfg[p]
    cfg[path[-1]] = value


def config_hash(cfg: dict) -> str:
    """sha256 of the canonical JSON of every key that changes what a run computes."""
    hashed = {_dotted(p): v for p, v in _flatten(cfg).items() if p not in UNHASHED}
    return hashlib.sha256(json.dumps(hashed, sort_keys=True).encode()).hexdigest()


def run_id(cfg: dict) -> str:
    """Readable name plus a short config hash: identical configs get the same id."""
    return f"{cfg['name']}-{config_hash(cfg)[:10]}"


def diff(cfg: dict, base: dict) -> dict[str, tuple]:
    """Dotted keys whose value differs between two configs: {key: (base value, cfg value)}."""
    a, b = _flatten(base), _flatten(cfg)
    return {_dotted(k): (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
