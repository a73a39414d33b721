"""Model names, sizes and input sizes: plain data, importable without torch.

size -> (timm architecture, constructor overrides, input side in pixels). The builder
(`iqa.models.builder`) turns an entry into a network.
"""
from __future__ import annotations

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


def check_model_config(m: dict) -> None:
    if m["name"] not in FAMILIES:
        raise ValueError(f"'model.name' must be one of {sorted(FAMILIES)}, got {m['name']!r}")
    sizes = FAMILIES[m["name"]]
    if m["size"] not in sizes:
        raise ValueError(f"'model.size' for {m['name']} must be one of {list(sizes)}, got {m['size']!r}")


def input_size(m: dict) -> int:
    """Side of the square patch the model takes."""
    return FAMILIES[m["name"]][m["size"]][2]
