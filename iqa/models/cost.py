"""Model cost, measured: parameters, FLOPs of one forward, latency and throughput.

Shared by training (recorded in every run), `iqa bench` and the complexity table.
"""
from __future__ import annotations

import time

import torch

from iqa.core.device import autocast, synchronize


def parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def gflops_per_patch(model, patch: int, device: torch.device) -> float:
    """Matmul/conv/attention FLOPs (2 per multiply-add) of one patch forward, fp32, eval mode."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, patch, patch, device=device))
    model.train(was_training)
    return round(counter.get_total_flops() / 1e9, 4)


def time_loop(step, n_warmup: int, n_timed: int, device: torch.device) -> float:
    """Seconds for `n_timed` calls of `step(i)` after `n_warmup` untimed ones."""
    for i in range(n_warmup):
        step(i)
    synchronize(device)
    tic = time.perf_counter()
    for i in range(n_timed):
        step(n_warmup + i)
    synchronize(device)
    return time.perf_counter() - tic


@torch.inference_mode()
def inference_seconds(model, patch: int, batch: int, device: torch.device, precision: str,
                      n_warmup: int = 3, n_timed: int = 10, channels_last: bool = False) -> list[float]:
    """Seconds of each of `n_timed` eval-mode forwards of `batch` patches, after `n_warmup` untimed ones.

    Each forward is timed on its own (synchronised on CUDA), so callers can take the median.
    """
    was_training = model.training
    model.eval()
    x = torch.randn(batch, 3, patch, patch, generator=torch.Generator().manual_seed(0)).to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    seconds = []
    for i in range(n_warmup + n_timed):
        synchronize(device)
        tic = time.perf_counter()
        with autocast(device, precision):
            model(x)
        synchronize(device)
        if i >= n_warmup:
            seconds.append(time.perf_counter() - tic)
    model.train(was_training)
    return seconds
