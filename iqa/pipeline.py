"""Tensor-side input pipeline: patches cut from decoded images already in (device) memory.

Images are decoded and resized once per dataset (see `data.decoded_images`); every patch after
that is an index gather, so the same code crops on the GPU when the images live there.
"""
from __future__ import annotations

import torch
from torchvision.transforms import v2

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def gather_patches(images: torch.Tensor, index: torch.Tensor, corners: torch.Tensor, patch: int) -> torch.Tensor:
    """(N, H, W, 3) uint8 images -> (B, 3, patch, patch) uint8 crops at (top, left) `corners`."""
    ar = torch.arange(patch, device=images.device)
    index, corners = index.to(images.device), corners.to(images.device)
    rows = (corners[:, 0, None] + ar)[:, :, None]
    cols = (corners[:, 1, None] + ar)[:, None, :]
    return images[index[:, None, None], rows, cols].permute(0, 3, 1, 2)


def augment(x: torch.Tensor, flip: torch.Tensor, color_jitter: bool) -> torch.Tensor:
    """Horizontal flip where `flip`; ColorJitter(0.2, 0.2, 0.2, 0.1) drawn independently per patch."""
    x = torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)
    if color_jitter:
        jitter = v2.ColorJitter(0.2, 0.2, 0.2, 0.1)
        x = torch.stack([jitter(p) for p in x])
    return x


def normalize(x: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """uint8 (B, 3, h, w) -> ImageNet-normalised float32."""
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1) * 255
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1) * 255
    x = (x.float() - mean) / std
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x
