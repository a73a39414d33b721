"""Score whole images: average the model over each image's test crops, many images per batch."""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from .crops import test_positions
from .pipeline import gather_patches, normalize


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast on CUDA; a no-op on CPU so CPU numbers stay exact."""
    if device.type == "cuda" and enabled:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.inference_mode()
def score_images(model, images: torch.Tensor, keys, crops: str, patch: int, crop_seed: int,
                 amp: bool = True, batch: int = 256) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-image mean score over its crops, and the mean attention weights when the model has them.

    `images` is (N, H, W, 3) uint8 on the compute device; `keys` are the images' label-file rows,
    which seed random crops so every model is scored on the same patches.
    """
    was_training = model.training
    model.eval()
    h, w = images.shape[1:3]
    corners = [test_positions(crops, h, w, patch, crop_seed, int(k)) for k in keys]
    per_image = len(corners[0])
    corners = torch.cat(corners)
    index = torch.arange(len(keys)).repeat_interleave(per_image)
    scores, weights = [], []
    for start in range(0, len(index), batch):
        sl = slice(start, start + batch)
        x = normalize(gather_patches(images, index[sl], corners[sl], patch))
        with autocast(images.device, amp):
            s, a = model(x)
        scores.append(s.float().cpu())
        if a is not None:
            weights.append(a.float().cpu())
    model.train(was_training)
    mean_scores = torch.cat(scores).view(-1, per_image).mean(1).numpy()
    mean_weights = torch.cat(weights).view(-1, per_image, weights[0].shape[1]).mean(1).numpy() if weights else None
    return mean_scores, mean_weights
