"""One optimisation step, shared by training and `iqa bench`: batch in, loss out, weights updated."""
from __future__ import annotations

import math

import torch

from iqa.config import DataConfig, TrainConfig
from iqa.core.device import autocast
from iqa.core.errors import TrainingError
from iqa.training.losses import get_loss, ranking_loss
from iqa.data.pipeline import augment, gather_patches, normalize


def make_batch(images: torch.Tensor, index: torch.Tensor, corners: torch.Tensor, flips: torch.Tensor,
               d: DataConfig, channels_last: bool) -> torch.Tensor:
    """Training patches cut from cached uint8 images, flipped, jittered if asked, normalised."""
    x = gather_patches(images, index, corners, d.patch_size)
    jitter = d.jitter if d.color_jitter else None
    return normalize(augment(x, flips, jitter), channels_last=channels_last)


class Stepper:
    """forward -> loss -> backward -> clip -> optimiser step, as a train config asks."""

    def __init__(self, forward, params, opt, t: TrainConfig, device: torch.device):
        self.forward, self.params, self.opt, self.t, self.device = forward, list(params), opt, t, device
        self.loss_fn = get_loss(t.loss)

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One update; the loss stays where it was computed (reading it on a GPU waits for the step)."""
        with autocast(self.device, self.t.precision):
            pred, _ = self.forward(x)
        loss = self.loss_fn(pred.float(), y)
        if self.t.ranking_loss_weight:
            loss = loss + self.t.ranking_loss_weight * ranking_loss(pred.float(), y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.t.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.t.grad_clip)
        self.opt.step()
        return loss.detach()

    def __call__(self, x: torch.Tensor, y: torch.Tensor, where: str = "") -> float:
        loss = self.step(x, y).item()
        check_loss(loss, where)
        return loss


def check_loss(loss: float, where: str = "") -> None:
    if not math.isfinite(loss):
        raise TrainingError(f"loss is {loss}{where}: lower train.lr or check the labels")
