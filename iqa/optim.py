"""Optimiser and learning-rate schedule of a run: backbone + LDA at lr, the rest at lr * lr_ratio."""
from __future__ import annotations

import torch


def make_optimizer(model, t: dict, device: torch.device):
    backbone, head = model.param_groups()
    groups = [{"params": backbone, "lr": t["lr"], "name": "backbone"},
              {"params": head, "lr": t["lr"] * t["lr_ratio"], "name": "head"}]
    # On a CPU torch defaults to one update per tensor, about a fifth of a small model's step; foreach
    # updates all tensors at once (the same arithmetic). CUDA keeps its fused AdamW.
    foreach = True if device.type == "cpu" else None
    if t["optimizer"] == "adamw":
        opt = torch.optim.AdamW(groups, weight_decay=t["weight_decay"], fused=device.type == "cuda", foreach=foreach)
    else:
        opt = torch.optim.Adam(groups, weight_decay=t["weight_decay"], foreach=foreach)
    if t["schedule"] == "cosine":
        # One floor for every group, as torch's eta_min: a group whose lr starts below it rises towards it.
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t["epochs"], eta_min=t["lr_min"])
    else:
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=t["step_size"], gamma=t["gamma"])
    return opt, sched
