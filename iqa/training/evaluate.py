"""Score whole images: average the model over each image's test crops, many images per batch."""
from __future__ import annotations

import numpy as np
import torch

from iqa.config import RunConfig
from iqa.data.crops import test_positions
from iqa.core.device import autocast
from iqa.core.metrics import correlations
from iqa.data.pipeline import gather_patches, normalize


@torch.inference_mode()
def score_images(model, images: torch.Tensor, keys, crops: str, patch: int, crop_seed: int,
                 precision: str = "fp32", batch: int = 256) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-image mean raw model output over its crops, and the mean attention weights when the model has them.

    `images` is (N, H, W, 3) uint8 on the compute device; `keys` (from `crops.image_key`) seed each
    image's random crops, so every model is scored on the same patches.
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
        with autocast(images.device, precision):
            s, a = model(x)
        scores.append(s.float().cpu())
        if a is not None:
            weights.append(a.float().cpu())
    model.train(was_training)
    mean_scores = torch.cat(scores).view(-1, per_image).mean(1).numpy()
    mean_weights = torch.cat(weights).view(-1, per_image, weights[0].shape[1]).mean(1).numpy() if weights else None
    return mean_scores, mean_weights


def mos_scores(model, images: torch.Tensor, keys, cfg: RunConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """Scores on the MOS scale (raw outputs / train.label_scale) with the run's test-crop protocol."""
    d = cfg.data
    raw, weights = score_images(model, images, keys, d.test_crops, d.patch_size, d.crop_seed, cfg.train.precision)
    return raw.astype(np.float64) / cfg.train.label_scale, weights


def evaluate_part(model, part: dict, cfg: RunConfig) -> tuple[dict, np.ndarray, np.ndarray | None]:
    """Metrics, MOS-scale predictions and attention weights of one split part."""
    pred, weights = mos_scores(model, part["images"], part["keys"], cfg)
    return correlations(pred, part["mos"].cpu().numpy(), cfg.eval.plcc), pred, weights
