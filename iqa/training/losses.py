"""Training losses for quality regression, selected by name (`train.loss`).

Every loss takes `(pred, target)`, two 1-D tensors of one batch's predicted and true scores
(MOS * label_scale), and returns a scalar tensor. docs/losses.md gives each formula and its source.

The pairwise and correlation losses measure score differences in units of the batch's target
standard deviation, so the same loss value (and the same temperature) holds at label_scale 1
(MOS 0-100) and 0.01.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

# Keeps square roots away from 0, where their derivative is infinite (fidelity loss, Pearson norms).
EPS = 1e-8


def _scores(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Check that pred and target are matching 1-D batches; compute in float32 even under autocast."""
    if pred.dim() != 1 or pred.shape != target.shape:
        raise ValueError(f"a loss needs pred and target of one shape [batch], got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}")
    return pred.float(), target.float()


def _target_unit(target: torch.Tensor) -> torch.Tensor:
    """The batch's target standard deviation, or 1 where all targets are equal (no order to learn)."""
    std = target.std(correction=0)
    return torch.where(std > 0, std, torch.ones_like(std))


def _differences(x: torch.Tensor) -> torch.Tensor:
    """Matrix of x_i - x_j."""
    return x[:, None] - x[None, :]


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error: mean_i |s_i - y_i|."""
    pred, target = _scores(pred, target)
    return F.l1_loss(pred, target)


def l2_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error: mean_i (s_i - y_i)^2."""
    pred, target = _scores(pred, target)
    return F.mse_loss(pred, target)


def ranking_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pairwise ranking hinge: sum_{i,j} max(0, -(s_i - s_j) sign(y_i - y_j)) / #{pairs with y_i != y_j}.

    Zero margin: a pair costs only when the predictions order it wrongly, by how far.
    """
    pred, target = _scores(pred, target)
    sign = torch.sign(_differences(target))
    return F.relu(-_differences(pred) * sign).sum() / sign.abs().sum().clamp(min=1)


def fidelity_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pairwise fidelity loss with a Thurstone (Case V) preference probability, over pairs i < j:

    p = Phi((s_i - s_j) / (sqrt(2) sigma)),  p* = 1, 1/2, 0 for y_i >, =, < y_j,
    loss = mean 1 - sqrt(p p* + eps) - sqrt((1 - p)(1 - p*) + eps),

    sigma the batch's target standard deviation. eps keeps the gradient finite where p p* = 0.
    """
    pred, target = _scores(pred, target)
    i, j = torch.triu_indices(len(pred), len(pred), offset=1, device=pred.device)
    p = torch.special.ndtr((pred[i] - pred[j]) / (math.sqrt(2) * _target_unit(target)))
    p_true = (torch.sign(target[i] - target[j]) + 1) / 2
    loss = 1 - torch.sqrt(p * p_true + EPS) - torch.sqrt((1 - p) * (1 - p_true) + EPS)
    return loss.sum() / max(len(i), 1)


def soft_rank(x: torch.Tensor, temperature: torch.Tensor | float) -> torch.Tensor:
    """Pairwise-sigmoid rank: r_i = sum_j sigmoid((x_i - x_j) / temperature) (+1/2 for j = i)."""
    return torch.sigmoid(_differences(x) / temperature).sum(dim=1)


def hard_rank(x: torch.Tensor) -> torch.Tensor:
    """Rank with ties averaged (soft_rank as temperature -> 0): r_i = sum_j H(x_i - x_j), H(0) = 1/2."""
    return torch.heaviside(_differences(x), torch.tensor(0.5, device=x.device)).sum(dim=1)


def _pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation; 0 (with a finite gradient) where either vector is constant."""
    a, b = a - a.mean(), b - b.mean()
    return (a * b).sum() / torch.sqrt((a.square().sum() + EPS) * (b.square().sum() + EPS))


def srcc_loss(pred: torch.Tensor, target: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Differentiable SRCC loss: 1 - Pearson(soft_rank(s, tau sigma), hard_rank(y)).

    tau = `temperature` in units of sigma, the batch's target standard deviation: predictions closer
    than about tau sigma are ranked as partly tied.
    """
    pred, target = _scores(pred, target)
    ranks = soft_rank(pred, temperature * _target_unit(target))
    return 1 - _pearson(ranks, hard_rank(target))


Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

LOSSES: dict[str, Loss] = {
    "l1": l1_loss,
    "l2": l2_loss,
    "rank": ranking_loss,
    "fidelity": fidelity_loss,
    "srcc": srcc_loss,
}


def get_loss(name: str) -> Loss:
    """The loss registered under `name`."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}: choose one of {', '.join(LOSSES)}")
    return LOSSES[name]
