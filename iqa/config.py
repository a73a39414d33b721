"""The run schema: every key of a run config with its default, meaning and constraint, in one place.

A run is one `RunConfig`: frozen dataclasses, a section each (`model`, `data`, `train`, `eval`), every
field declared once below by `key(default, help, constraint...)`. The defaults, the validation, the
config hash, the hyperparameter table and the dict form (`SCHEMA`, `DEFAULTS`, `to_dict`) all read this
declaration. Rules that tie keys together (a patch must fit the model's input) are in `RULES`.
Values are checked (and YAML's number strings coerced) on the dict form a config arrives in (YAML, a
saved record), before the typed one is built from it: `RunConfig.from_dict`, `load`.
Nothing here imports torch, so the workflow checks every run of a study when it is parsed.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from iqa.core.choices import DEVICES
from iqa.core.errors import ConfigError
from iqa.models.registry import FAMILIES, check_model_config, input_size

__all__ = ["ConfigError", "RunConfig", "ModelConfig", "DataConfig", "TrainConfig", "EvalConfig", "SCHEMA",
           "DEFAULTS", "load", "merge", "validate", "config_hash", "run_id", "diff",
           "flatten"]


@dataclass(frozen=True)
class Key:
    """One config key: default, meaning, and the constraint `validate` enforces."""

    default: object
    help: str
    type: type | None = None  # of the value when the default is None
    choices: tuple = ()
    gt: float | None = None  # value > gt
    ge: float | None = None  # value >= ge
    lt: float | None = None  # value < lt
    nullable: bool = False
    hashed: bool = True  # False: does not change what the run computes (kept out of the config hash)
    length: int | None = None  # lists: exact number of items

    @property
    def kind(self) -> type:
        return self.type or type(self.default)


def key(default, help: str, **constraint):
    """A config field, declared in one line: its default, meaning and constraint (a `Key`, kept in the
    field's metadata). A list default is held as a tuple, so a config is immutable all through."""
    spec = Key(default, help, **constraint)
    return field(default=tuple(default) if isinstance(default, list) else default, metadata={"key": spec})


def section(kind: type):
    """A field holding one section of the config (`model`, `data`, ...), its defaults by default."""
    return field(default_factory=kind, metadata={"section": kind})


class Section:
    """What every part of a run config has: its dict form, exactly as YAML and metrics.json hold it."""

    def to_dict(self) -> dict:
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if isinstance(value, Section) else (
                list(value) if isinstance(value, tuple) else value)
        return out

    @classmethod
    def of(cls, d: dict):
        """The typed form of an already validated dict (`validate`); lists become tuples."""
        values = {}
        for f in dataclasses.fields(cls):
            v = d[f.name]
            values[f.name] = f.metadata["section"].of(v) if "section" in f.metadata else (
                tuple(v) if isinstance(v, list) else v)
        return cls(**values)


FRACTION = dict(ge=0.0, lt=1.0)


@dataclass(frozen=True)
class ModelConfig(Section):
    name: str = key("swin_hyperiqa", "see `iqa models`", choices=tuple(FAMILIES))
    size: str = key("base", "nano | micro | tiny | small | base (swin); nano | base (hyperiqa_resnet50)")
    head: str = key("original", "original: LDA convs to C/16, hyper reduce C->1024->512->112, dropout before it; "
                                "seed: the seed system's head (16/32/64 LDA, C->512->256->112, dropout after, "
                                "attention only with multi-scale)", choices=("original", "seed"))
    multiscale: bool = key(True, "pool the four stages to the last stage's grid and concatenate")
    attention_fusion: bool = key(True, "per-image softmax weights over the four stages")
    pretrained: bool = key(False, "timm ImageNet weights from the local HF cache or `weights`")
    weights: str | None = key(None, "path to a local timm weights file (safetensors or .pth)", type=str,
                              nullable=True)
    weights_tag: str | None = key(None, "timm pretrained tag, e.g. tv_in1k for torchvision's ResNet-50 (null: "
                                        "timm's default)", type=str, nullable=True)
    drop_path_rate: float = key(0.3, "stochastic depth inside the backbone", **FRACTION)
    hyper_dropout: float = key(0.4, "dropout in the hyper network", **FRACTION)
    target_dropout: float = key(0.4, "dropout after target-net layers 1-3", **FRACTION)


@dataclass(frozen=True)
class DataConfig(Section):
    root: str = key("data/synthetic", "folder with the KonIQ-style label CSV and image folder")
    resize: tuple[int, int] = key([512, 384], "[width, height] every image is resized to, once (original: "
                                              "[384, 512])", length=2)
    split: str = key("random", "random (seeded 80/20 + validation carve-out) | official (KonIQ `set`)",
                     choices=("random", "official"))
    split_seed: int = key(0, "seed of the random splits", ge=0)
    split_index: int = key(0, "split k under split_seed s is the same image set on every machine", ge=0)
    test_fraction: float = key(0.2, "share of images in the test part", gt=0.0, lt=1.0)
    val_fraction: float = key(0.1, "share of the training part carved out for validation (0 only with "
                                   "train.select: test)", ge=0.0, lt=1.0)
    patch_size: int = key(224, "side of the square training and test crops (must be the model's input)", gt=0)
    train_patches: int = key(20, "random crops per training image per epoch", gt=0)
    color_jitter: bool = key(False, "ColorJitter on training patches, strengths `jitter`")
    jitter: tuple[float, float, float, float] = key([0.2, 0.2, 0.2, 0.1], "ColorJitter [brightness, contrast, "
                                                    "saturation, hue] (seed: [0.1, 0.1, 0.1, 0.05])", length=4)
    test_crops: str = key("random:20", "center | random:N (seeded by each image's name) | grid:N")
    crop_seed: int = key(0, "fixes random test crops: the same crops for every model", ge=0)
    cache_dir: str | None = key(None, "decoded-image cache; default ~/.cache/iqa", type=str, nullable=True,
                                hashed=False)


@dataclass(frozen=True)
class TrainConfig(Section):
    epochs: int = key(10, "maximum epochs", gt=0)
    batch_size: int = key(32, "patches per step", gt=0)
    lr: float = key(5.0e-7, "backbone (and LDA) learning rate", gt=0)
    lr_ratio: float = key(10.0, "hyper and target networks train at lr * lr_ratio", gt=0)
    lr_min: float = key(0.0, "cosine floor for every group (seed: 1e-6, so a smaller lr rises towards it)", ge=0)
    optimizer: str = key("adamw", "adamw (decoupled decay) | adam (coupled L2)", choices=("adamw", "adam"))
    weight_decay: float = key(2.0e-4, "weight decay", ge=0)
    schedule: str = key("cosine", "cosine | step | hyperiqa (the original's: backbone constant, head lr * ratio "
                                  "/ 10^(t//6) with the ratio 1 after epoch 9, Adam rebuilt every epoch)",
                        choices=("cosine", "step", "hyperiqa"))
    step_size: int = key(6, "epochs between decays for `step`", gt=0)
    gamma: float = key(0.1, "decay factor for `step`", gt=0)
    grad_clip: float | None = key(None, "clip the gradient norm of all parameters to this (null: no clipping)",
                                  type=float, nullable=True, gt=0)
    patience: int | None = key(3, "epochs without a selection-SRCC gain before stopping; null = never stop early",
                               type=int, nullable=True, ge=1)
    select: str = key("val", "val: keep the epoch with the best validation SRCC | test: the best test SRCC "
                             "(the seed's and the original's protocol; optimistic)", choices=("val", "test"))
    loss: str = key("l1", "l1 | l2 | rank | fidelity | srcc (see docs/losses.md)",
                    choices=("l1", "l2", "rank", "fidelity", "srcc"))
    ranking_loss_weight: float = key(0.0, "weight of a pairwise margin-ranking loss added to the loss", ge=0)
    label_scale: float = key(1.0, "train on MOS * label_scale (original: 1; pyiqa: 0.01); scores are reported "
                                  "on the MOS scale", gt=0)
    labels: str = key("given", "training labels for controls: given | shuffled (seeded permutation: must destroy "
                               "learning) | reversed (min + max - MOS: must invert the ranking)",
                      choices=("given", "shuffled", "reversed"))
    device: str = key("auto", "auto | cpu | cuda", choices=DEVICES, hashed=False)
    precision: str = key("bf16", "bf16 autocast on CUDA, tf32 (fp32 with TF32 matmuls and convolutions on "
                                 "CUDA), or fp32 throughout (a CPU always runs fp32)",
                         choices=("bf16", "tf32", "fp32"))
    compile: bool = key(False, "torch.compile the model", hashed=False)
    keep_checkpoint: bool = key(False, "keep checkpoint.pt once the run has finished (it is needed only to "
                                       "resume; about 4x the model file with Adam's moments)", hashed=False)
    log_every: int = key(20, "steps between progress lines in the log", gt=0, hashed=False)


@dataclass(frozen=True)
class EvalConfig(Section):
    plcc: str = key("raw", "raw | logistic4 (4-parameter logistic fit before Pearson)",
                    choices=("raw", "logistic4"))


@dataclass(frozen=True)
class RunConfig(Section):
    """One run, fully described."""

    name: str = key("run", "readable part of the run id", hashed=False)
    seed: int = key(0, "initialisation, patch sampling, dropout", ge=0)
    model: ModelConfig = section(ModelConfig)
    data: DataConfig = section(DataConfig)
    train: TrainConfig = section(TrainConfig)
    eval: EvalConfig = section(EvalConfig)

    @classmethod
    def from_dict(cls, d: dict | None, where: str = "config") -> RunConfig:
        """`d` over the defaults (unknown keys name the closest valid one), validated."""
        cfg = merge(DEFAULTS, d or {}, where=where)
        validate(cfg)
        return cls.of(cfg)

    def merged(self, overrides: dict, where: str = "overrides") -> RunConfig:
        """This config with `overrides` (a nested mapping, as YAML gives) set, validated."""
        return RunConfig.from_dict(merge(self.to_dict(), overrides, where=where), where=where)


def _schema(kind: type) -> dict:
    return {f.name: _schema(f.metadata["section"]) if "section" in f.metadata else f.metadata["key"]
            for f in dataclasses.fields(kind)}


SCHEMA: dict = _schema(RunConfig)  # the declaration as a nested dict of `Key`s, in the dict form's layout


def flatten(d: dict, prefix: tuple = ()) -> dict[tuple, object]:
    """A nested config as {key path: value}: `{"train": {"lr": 1e-4}}` -> `{("train", "lr"): 1e-4}`."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(flatten(v, prefix + (k,)))
        else:
            out[prefix + (k,)] = v
    return out


KEYS: dict[tuple, Key] = flatten(SCHEMA)
DEFAULTS: dict = {s: ({k: spec.default for k, spec in sec.items()} if isinstance(sec, dict) else sec.default)
                  for s, sec in SCHEMA.items()}
HASHED = tuple(".".join(p) for p, k in KEYS.items() if k.hashed)


def _dotted(path: tuple) -> str:
    return ".".join(path)


def merge(base: dict, overrides: dict, where: str = "config") -> dict:
    """Deep-merge `overrides` into a copy of `base`; unknown keys raise with the closest valid key."""
    out = copy.deepcopy(base)
    valid = [_dotted(p) for p in KEYS] + list(SCHEMA)

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


def merge_dicts(a: dict, b: dict) -> dict:
    """Plain recursive merge of two override mappings (b wins); no validation."""
    out = copy.deepcopy(a)
    for k, v in b.items():
        out[k] = merge_dicts(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
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


def load(path: str | Path | None = None, overrides: list[str] | dict | None = None) -> RunConfig:
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
    return RunConfig.of(cfg)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _checked(name: str, key: Key, v):
    """The value, coerced where YAML read a number as a string; ConfigError when it breaks the key's rule."""
    if v is None:
        if key.nullable:
            return v
        raise ConfigError(f"'{name}' must not be null")
    kind = key.kind
    if kind is bool and not isinstance(v, bool):
        raise ConfigError(f"'{name}' must be true or false, got {v!r}")
    if kind in (int, float) and not _is_number(v):
        try:  # YAML reads 5e-7 (no dot) as a string; accept anything float() reads
            v = float(v) if kind is float else int(v)
        except (TypeError, ValueError):
            raise ConfigError(f"'{name}' must be a number, got {v!r}") from None
    if kind is int and isinstance(v, float):
        if not v.is_integer():
            raise ConfigError(f"'{name}' must be a whole number, got {v!r}")
        v = int(v)
    if kind is str and not isinstance(v, str):
        raise ConfigError(f"'{name}' must be a string, got {v!r}")
    if kind is list and not (isinstance(v, list) and len(v) == key.length and all(map(_is_number, v))):
        raise ConfigError(f"'{name}' must be a list of {key.length} numbers, got {v!r}")
    if key.choices and v not in key.choices:
        raise ConfigError(f"'{name}' must be one of {list(key.choices)}, got {v!r}")
    for bound, ok, word in ((key.gt, lambda b: v > b, ">"), (key.ge, lambda b: v >= b, ">="),
                            (key.lt, lambda b: v < b, "<")):
        if bound is not None and not ok(bound):
            raise ConfigError(f"'{name}' must be {word} {bound:g}, got {v!r}")
    return v


def _model_size(cfg: dict) -> str | None:
    try:
        check_model_config(cfg["model"])
    except ValueError as e:
        return str(e)
    return None


def _patch_is_model_input(cfg: dict) -> str | None:
    need = input_size(cfg["model"])
    if cfg["data"]["patch_size"] != need:
        return (f"'data.patch_size' is {cfg['data']['patch_size']} but {cfg['model']['name']} size "
                f"{cfg['model']['size']} takes {need} px patches")
    return None


def _patch_fits_image(cfg: dict) -> str | None:
    resize, patch = cfg["data"]["resize"], cfg["data"]["patch_size"]
    if min(resize) < patch or not all(isinstance(x, int) for x in resize):
        return f"'data.resize' {resize} must be whole pixels, each at least 'data.patch_size' {patch}"
    return None


def parse_crops(spec: str) -> tuple[str, int]:
    """'center' -> ('center', 1); 'random:20' -> ('random', 20); 'grid:25' -> ('grid', 25)."""
    if spec == "center":
        return "center", 1
    kind, _, n = str(spec).partition(":")
    if kind not in ("random", "grid") or not n.isdigit() or int(n) < 1:
        raise ValueError(f"crop spec must be 'center', 'random:N' or 'grid:N' with N >= 1, got {spec!r}")
    return kind, int(n)


def _test_crops(cfg: dict) -> str | None:
    try:
        parse_crops(cfg["data"]["test_crops"])
    except ValueError as e:
        return f"'data.test_crops': {e}"
    return None


def _validation_to_select_on(cfg: dict) -> str | None:
    if cfg["data"]["val_fraction"] == 0 and cfg["train"]["select"] == "val":
        return "'data.val_fraction' is 0 but 'train.select' is 'val': nothing to select on"
    return None


RULES = (_model_size, _patch_is_model_input, _patch_fits_image, _test_crops, _validation_to_select_on)  # in order: each assumes the last


def validate(cfg: dict) -> None:
    """Check every key against its declaration, then the rules between keys; coerce numbers in place."""
    flat = flatten(cfg)
    for path, key in KEYS.items():
        value = _checked(_dotted(path), key, flat.get(path))
        _set(cfg, path, value)
    for rule in RULES:
        problem = rule(cfg)
        if problem:
            raise ConfigError(problem)


def _set(cfg: dict, path: tuple, value) -> None:
    for p in path[:-1]:
        cfg = cfg[p]
    cfg[path[-1]] = value


def config_hash(cfg: RunConfig) -> str:
    """sha256 of the canonical JSON of every key that changes what a run computes (of the dict form, so the
    hash of a config is what it was when configs were dicts)."""
    hashed = {_dotted(p): v for p, v in flatten(cfg.to_dict()).items() if p in KEYS and KEYS[p].hashed}
    return hashlib.sha256(json.dumps(hashed, sort_keys=True).encode()).hexdigest()


def run_id(cfg: RunConfig) -> str:
    """Readable name plus a short config hash: identical configs get the same id."""
    return f"{cfg.name}-{config_hash(cfg)[:10]}"


def diff(cfg: RunConfig, base: RunConfig) -> dict[str, tuple]:
    """Dotted keys whose value differs between two configs: {key: (base value, cfg value)}."""
    a, b = flatten(base.to_dict()), flatten(cfg.to_dict())
    return {_dotted(k): (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
