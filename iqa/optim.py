"""Optimiser and learning-rate schedule of a run: backbone + LDA at lr, the rest at lr * lr_ratio."""
from __future__ import annotations

import torch


def make_optimizer(model, t: dict):
    backbone, head = model.param_groups()
    groups = [{"params": backbone, "lr": t["lr"], "name": "backbone"},
              {"params": head, "lr": t["lr"] * t["lr_ratio"], "name": "head"}]
    # Fused: one kernel updates every tensor (on a CPU 2.9 ms a step for the nano Swin against 13 ms
    # for foreach and 21 ms for torch's default per-tensor loop).
    kind = torch.optim.AdamW if t["optimizer"] == "adamw" else torch.optim.Adam
    opt = kind(groups, weight_decay=t["weight_decay"], fused=True)
    if t["schedule"] == "cosine":
        # One floor for every group, as torch's eta_min: a group whose lr starts below it rises towards it.
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t["epochs"], eta_min=t["lr_min"])
    else:
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=t["step_size"], gamma=t["gamma"])
    return opt, sched
