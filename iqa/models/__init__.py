"""Model registry: names and sizes (data) apart from the builder (how weights are made)."""
from __future__ import annotations

from pathlib import Path

import timm
import torch.nn as nn

from .hyperiqa import HyperIQA

# size -> (timm architecture, constructor overrides, input side in pixels)
SWIN_SIZES = {
    # 64 px, four stages of 16/8/4/2: shifted windows are exercised in stages 1-2.
    "nano": ("swin_tiny_patch4_window7_224",
             dict(img_size=64, window_size=4, embed_dim=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8)), 64),
    "micro": ("swin_tiny_patch4_window7_224",
              dict(img_size=64, window_size=4, embed_dim=32, depths=(2, 2, 4, 2), num_heads=(1, 2, 4, 8)), 64),
    "tiny": ("swin_tiny_patch4_window7_224", {}, 224),
    "small": ("swin_small_patch4_window7_224", {}, 224),
    "base": ("swin_base_patch4_window7_224", {}, 224),
}
RESNET_SIZES = {
    "nano": ("resnet50", dict(layers=[1, 1, 1, 1], channels=(16, 32, 64, 128), stem_width=16), 64),
    "base": ("resnet50", {}, 224),
}
FAMILIES = {"swin_hyperiqa": SWIN_SIZES, "hyperiqa_resnet50": RESNET_SIZES}


class WeightsMissing(RuntimeError):
    """Pretrained weights were asked for but are not on this machine."""


def check_model_config(m: dict) -> None:
    if m["name"] not in FAMILIES:
        raise ValueError(f"'model.name' must be one of {sorted(FAMILIES)}, got {m['name']!r}")
    sizes = FAMILIES[m["name"]]
    if m["size"] not in sizes:
        raise ValueError(f"'model.size' for {m['name']} must be one of {list(sizes)}, got {m['size']!r}")


def input_size(m: dict) -> int:
    """Side of the square patch the model takes."""
    return FAMILIES[m["name"]][m["size"]][2]


def _pretrained_overlay(arch: str, weights: str | None) -> dict:
    """Where timm should read ImageNet weights from, without touching the network."""
    if weights:
        if not Path(weights).is_file():
            raise WeightsMissing(f"model.weights: file not found: {weights}")
        return dict(file=str(weights))
    from huggingface_hub import try_to_load_from_cache

    hub_id = timm.models.get_pretrained_cfg(arch).hf_hub_id
    for filename in ("model.safetensors", "pytorch_model.bin"):
        path = try_to_load_from_cache(hub_id, filename)
        if isinstance(path, str):
            return dict(file=path)
    raise WeightsMissing(
        f"pretrained weights for {arch} ({hub_id}) are not in the local Hugging Face cache. "
        f"Download them where there is network (`huggingface-cli download {hub_id}`) and copy the cache, "
        f"or set model.weights to a local .safetensors/.pth file, or set model.pretrained: false.")


def build_model(m: dict) -> HyperIQA:
    """Build the model a config's `model` section describes."""
    check_model_config(m)
    arch, overrides, _ = FAMILIES[m["name"]][m["size"]]
    kwargs = dict(num_classes=0, drop_path_rate=m["drop_path_rate"], **overrides)
    if m["pretrained"]:
        kwargs["pretrained_cfg_overlay"] = _pretrained_overlay(arch, m["weights"])
    backbone = timm.create_model(arch, pretrained=m["pretrained"], **kwargs)
    # Only the four stages feed the head: drop timm's classifier and final norm.
    backbone.prune_intermediate_layers(4, prune_norm=True, prune_head=True)
    channels = [f["num_chs"] for f in backbone.feature_info][-4:]
    return HyperIQA(backbone, channels, m["multiscale"], m["attention_fusion"], m["hyper_dropout"],
                    m["target_dropout"])


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def catalogue() -> list[dict]:
    """Every (model, size) with its backbone, input size and parameter count (fusion switches on for Swin)."""
    rows = []
    for name, sizes in FAMILIES.items():
        swin = name == "swin_hyperiqa"
        for size, (arch, _, side) in sizes.items():
            cfg = dict(name=name, size=size, multiscale=swin, attention_fusion=swin, pretrained=False,
                       weights=None, drop_path_rate=0.0, hyper_dropout=0.0, target_dropout=0.0)
            model = build_model(cfg)
            rows.append(dict(model=name, size=size, backbone=arch, input=side,
                             params_m=count_parameters(model) / 1e6,
                             backbone_params_m=count_parameters(model.backbone) / 1e6))
    return rows
