"""Where patches are cut from an image: test-time crop strategies and training crop sampling.

Positions are (top, left) pairs. Random test crops are drawn from a generator seeded by the
crop seed and the image's decoded pixels, so every model sees the same crops of an image, whatever
the order it is scored in (a table, a split, or `iqa predict`) and whatever its file is called.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
import torch

from iqa.config import parse_crops


def image_key(pixels: np.ndarray) -> int:
    """A stable integer from an image's decoded pixels (H, W, 3) uint8, to seed its test crops."""
    return int.from_bytes(hashlib.sha256(np.ascontiguousarray(pixels)).digest()[:6], "big")


def test_positions(spec: str, height: int, width: int, patch: int, crop_seed: int, key: int) -> torch.Tensor:
    """(N, 2) tensor of (top, left) crop corners for one image."""
    kind, n = parse_crops(spec)
    max_y, max_x = height - patch, width - patch
    if kind == "center":
        return torch.tensor([[max_y // 2, max_x // 2]])
    if kind == "random":
        g = torch.Generator().manual_seed(crop_seed * 1_000_003 + key)
        ys = torch.randint(0, max_y + 1, (n,), generator=g)
        xs = torch.randint(0, max_x + 1, (n,), generator=g)
        return torch.stack([ys, xs], dim=1)
    # grid: the most square rows x cols layout with rows * cols >= n, spread to the borders
    rows = math.isqrt(n)
    rows = rows if rows * rows == n else rows + 1
    cols = math.ceil(n / rows)
    ys = torch.linspace(0, max_y, rows).round().long()
    xs = torch.linspace(0, max_x, cols).round().long()
    grid = torch.cartesian_prod(ys, xs)
    return grid[:n]


def train_positions(n_images: int, per_image: int, height: int, width: int, patch: int,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One epoch's shuffled training patches: image index, (top, left) corner and flip flag each."""
    n = n_images * per_image
    image = torch.arange(n_images).repeat_interleave(per_image)
    ys = torch.randint(0, height - patch + 1, (n,), generator=generator)
    xs = torch.randint(0, width - patch + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    order = torch.randperm(n, generator=generator)
    return image[order], torch.stack([ys, xs], 1)[order], flip[order]
