"""Tensor-side input pipeline: patches cut from decoded images already in (device) memory.

Images are decoded and resized once per dataset (see `data.decoded_images`); every patch after
that is an index gather, so the same code crops on the GPU when the images live there.
"""
from __future__ import annotations

import torch
from torchvision.transforms.v2 import functional as TF
# torchvision's own RGB<->HSV kernels (what its adjust_hue runs), applied here with a per-patch shift
from torchvision.transforms.v2.functional._color import _hsv_to_rgb, _rgb_to_hsv

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def gather_patches(images: torch.Tensor, index: torch.Tensor, corners: torch.Tensor, patch: int) -> torch.Tensor:
    """(N, H, W, 3) uint8 images -> (B, patch, patch, 3) uint8 crops at (top, left) `corners`."""
    if images.device.type == "cpu":  # slice views + one copy: ~10x faster than index tensors on CPU
        return torch.stack([images[i, y:y + patch, x:x + patch]
                            for i, (y, x) in zip(index.tolist(), corners.tolist())])
    ar = torch.arange(patch, device=images.device)
    index, corners = index.to(images.device), corners.to(images.device)
    rows = (corners[:, 0, None] + ar)[:, :, None]
    cols = (corners[:, 1, None] + ar)[:, None, :]
    return images[index[:, None, None], rows, cols]


def augment(x: torch.Tensor, flip: torch.Tensor, jitter: list[float] | None) -> torch.Tensor:
    """(B, h, w, 3) uint8: horizontal flip where `flip`; then, if `jitter` strengths are given, ColorJitter.

    With colour jitter the result is float in [0, 255] (still channels last), ready for `normalize`.
    """
    flip = flip.to(x.device)
    if flip.any():
        x[flip] = x[flip].flip(2)
    if jitter:
        # On CPU a few patches at a time stay in cache (a whole batch runs ~2x slower); on a GPU all at once.
        chunk = 4 if x.device.type == "cpu" else len(x)
        x = torch.cat([batched_color_jitter(part.permute(0, 3, 1, 2).float().div_(255), *jitter)
                       for part in x.split(chunk)]).mul_(255).permute(0, 2, 3, 1)
    return x


def batched_color_jitter(x: torch.Tensor, brightness: float, contrast: float, saturation: float,
                         hue: float) -> torch.Tensor:
    """torchvision's ColorJitter on float (B, 3, h, w) in [0, 1], with factors drawn per patch.

    torchvision draws one set of factors per call, so jittering patch by patch costs a Python loop
    and ~10 small kernels per patch; here each operation runs once over the whole batch. Factors come
    from torch's global RNG (seeded per epoch by training), the order of the four operations is drawn
    once per batch, and the maths is torchvision's (`adjust_brightness/contrast/saturation/hue`).
    """
    b = x.shape[0]
    u = torch.rand(b, 4) * 2 - 1
    factors = torch.stack([1 + brightness * u[:, 0], 1 + contrast * u[:, 1],
                           1 + saturation * u[:, 2], hue * u[:, 3]], 1).to(x.device)
    for op in torch.randperm(4).tolist():
        f = factors[:, op].view(b, 1, 1, 1)
        if op == 0:
            x = x.mul(f).clamp_(0, 1)
        elif op == 1:
            mean = TF.rgb_to_grayscale(x).mean((1, 2, 3), keepdim=True)
            x = _blend(x, mean, f)
        elif op == 2:
            x = _blend(x, TF.rgb_to_grayscale(x), f)
        else:
            h, s, v = _rgb_to_hsv(x).unbind(1)
            x = _hsv_to_rgb(torch.stack([(h + f.view(b, 1, 1)).remainder_(1.0), s, v], 1))
    return x


def _blend(x: torch.Tensor, other: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    return (x * ratio + other * (1 - ratio)).clamp_(0, 1)


def normalize(x: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """(B, h, w, 3) uint8 (or float in [0, 255]) -> ImageNet-normalised float32 (B, 3, h, w).

    For a contiguous result the channels are moved first, while values are still one byte each:
    about 5x faster on a CPU than converting to float first.
    """
    view = (1, 3, 1, 1)
    if channels_last:  # (B, 3, h, w) view of channels-last memory
        x, view = x.float(), (3,)
    else:
        x = x.permute(0, 3, 1, 2).contiguous().float()
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).mul_(255).view(view)
    inv_std = torch.tensor(IMAGENET_STD, device=x.device).mul_(255).reciprocal_().view(view)
    x = x.sub_(mean).mul_(inv_std)  # in place: x is a copy made above, or augment's fresh output
    return x.permute(0, 3, 1, 2) if channels_last else x
