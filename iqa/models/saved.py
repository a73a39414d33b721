"""A trained model on disk: its weights in model.safetensors with the run config in the metadata.

`save_model` writes the file byte for byte the same for the same weights in every process;
`saved_config` and `load_model` read the config and the model back.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from iqa import config as config_mod
from iqa.config import RunConfig
from iqa.core.errors import DataError
from iqa.core.files import atomic_write


def save_model(path: Path, model, cfg: RunConfig) -> None:
    """The weights and the run config (in the metadata) as safetensors, byte for byte the same for the same
    weights in every process."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"config": json.dumps(cfg.to_dict()), "run_id": config_mod.run_id(cfg)}
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


def saved_config(path: str | Path, overrides=()) -> RunConfig:
    """The run config a `save_model` file carries in its metadata, over the defaults, with `overrides`
    (`key=value` texts, as `--set` takes them) applied before it is validated."""
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
    cfg = config_mod.merge(config_mod.DEFAULTS, json.loads(meta["config"]), where=str(path))
    for text in overrides:
        cfg = config_mod.merge(cfg, config_mod.parse_override(text), where=f"--set {text}")
    config_mod.validate(cfg)
    return RunConfig.of(cfg)


def load_model(path: str | Path, overrides=()):
    """Model (eval mode), resolved config and device from a run's model.safetensors (config in its metadata).

    `overrides` are `key=value` texts (as `--set` takes them) applied to the stored config.
    """
    from safetensors.torch import load_file

    from iqa.core.device import resolve_device
    from iqa.models.builder import build_model

    cfg = saved_config(path, overrides)
    device = resolve_device(cfg.train.device)
    model = build_model(replace(cfg.model, pretrained=False)).to(device)
    model.load_state_dict(load_file(str(path), device=str(device)))
    model.eval()
    return model, cfg, device
