"""Build the network a config's `model` section describes, loading pretrained weights from local files only."""
from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import timm
import torch.nn as nn

from iqa.config import ModelConfig
from iqa.core.errors import WeightsMissing
from iqa.models.hyperiqa import HEADS, HyperIQA
from iqa.models.registry import FAMILIES, check_model_config


def check_weights_tag(m: ModelConfig) -> None:
    """A `model.weights_tag` must be one timm knows for the architecture (needs timm, so checked here)."""
    tag = m.weights_tag
    if tag is not None:
        arch = FAMILIES[m.name][m.size][0]
        tags = [name.split(".", 1)[1] for name in timm.list_pretrained(f"{arch}.*")]
        if tag not in tags:
            raise ValueError(f"'model.weights_tag' for {arch} must be one of {tags}, got {tag!r}")


def weights_name(m: ModelConfig) -> str:
    """timm's `arch.tag` name of the backbone weights: `model.weights_tag`, or timm's default tag."""
    arch = FAMILIES[m.name][m.size][0]
    tag = m.weights_tag or timm.models.get_pretrained_cfg(arch).tag
    return f"{arch}.{tag}"


def pretrained_file(m: ModelConfig) -> str:
    """The local file holding the backbone's ImageNet weights (`model.weights`, else the Hugging Face
    cache), found without touching the network; WeightsMissing says how to supply it."""
    name = weights_name(m)
    if m.weights:
        if not Path(m.weights).is_file():
            raise WeightsMissing(f"model.weights: file not found for {name}: {m.weights}")
        return str(m.weights)
    from huggingface_hub import try_to_load_from_cache

    hub_id = timm.models.get_pretrained_cfg(name).hf_hub_id
    for filename in ("model.safetensors", "pytorch_model.bin"):
        path = try_to_load_from_cache(hub_id, filename)
        if isinstance(path, str):
            return path
    raise WeightsMissing(
        f"pretrained weights {name} are not in the local Hugging Face cache: run `hf download {hub_id}` "
        f"where there is network and copy the cache, or set model.weights to a local .safetensors/.pth file, "
        f"or set model.pretrained: false")


def build_backbone(m: ModelConfig, initialise: bool = True) -> tuple[nn.Module, list[int]]:
    """The timm backbone a config's `model` section describes, and its four stage widths.

    `initialise=False` skips timm's Swin weight initialisation (slow on the meta device, pointless there)."""
    check_model_config(m.to_dict())
    check_weights_tag(m)
    overrides = FAMILIES[m.name][m.size][1]
    name = weights_name(m)
    kwargs = dict(num_classes=0, drop_path_rate=m.drop_path_rate, **overrides)
    if not initialise and m.name == "swin_hyperiqa":
        kwargs["weight_init"] = "skip"
    if m.pretrained:
        kwargs["pretrained_cfg_overlay"] = dict(file=pretrained_file(m))
    backbone = timm.create_model(name, pretrained=m.pretrained, **kwargs)
    # Only the four stages feed the head: drop timm's classifier and final norm (as features_only does).
    backbone.prune_intermediate_layers(4, prune_norm=True, prune_head=True)
    return backbone, [f["num_chs"] for f in backbone.feature_info][-4:]


def attach_head(backbone: nn.Module, channels: list[int], m: ModelConfig) -> HyperIQA:
    """The HyperIQA head `m` describes (model.head and the fusion switches) on a built backbone."""
    return HyperIQA(backbone, channels, m.multiscale, m.attention_fusion, m.hyper_dropout, m.target_dropout,
                    HEADS[m.head])


def build_model(m: ModelConfig) -> HyperIQA:
    """Build the model a config's `model` section describes."""
    return attach_head(*build_backbone(m), m)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def parameter_count(m: ModelConfig) -> int:
    """Exact parameters of the network `m` describes, built on the meta device: nothing is allocated."""
    return _meta_count(m.name, m.size, m.head, m.multiscale, m.attention_fusion)


@functools.lru_cache(maxsize=None)
def _meta_count(name: str, size: str, head: str, multiscale: bool, attention_fusion: bool) -> int:
    import torch

    m = ModelConfig(name=name, size=size, head=head, multiscale=multiscale, attention_fusion=attention_fusion)
    with torch.device("meta"):
        return count_parameters(build_model(m))


def catalogue() -> list[dict]:
    """Every (model, size, head) with its backbone, input size and exact parameter counts.

    Swin rows have both fusion switches on (the full model) and list every head; ResNet rows are
    the original HyperIQA (switches off, original head). Built on the meta device: parameters get
    their shapes but no memory and no initialisation, so the counts are exact and cost nothing.
    """
    import torch

    rows = []
    for name, sizes in FAMILIES.items():
        swin = name == "swin_hyperiqa"
        for size, (arch, _, side) in sizes.items():
            m = ModelConfig(name=name, size=size, head="original", multiscale=swin, attention_fusion=swin,
                            pretrained=False, weights=None, drop_path_rate=0.0, hyper_dropout=0.0,
                            target_dropout=0.0)
            with torch.device("meta"):
                backbone, channels = build_backbone(m, initialise=False)
            n_backbone = count_parameters(backbone)
            for head in HEADS if swin else ["original"]:
                with torch.device("meta"):
                    n_total = count_parameters(attach_head(backbone, channels, replace(m, head=head)))
                rows.append(dict(model=name, size=size, head=head, backbone=arch, input=side, params=n_total,
                                 backbone_params=n_backbone, head_params=n_total - n_backbone))
    return rows
