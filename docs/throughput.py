"""Training-step and evaluation throughput of every network a study trains, as its runs train it.

For each distinct (model, size, precision, batch) of the study's experiments, the first experiment's
config is built (random initial weights: speed does not depend on them) and timed with the project's
own code: `step.make_batch` + `step.Stepper` (forward, loss, backward, clipping, optimiser step) on
random uint8 images of the study's `data.resize` held on the device, and `evaluate.score_images` with
its `test_crops`. Writes the JSON `iqa plan --bench-json` reads.

    PYTHONPATH=$PWD python docs/throughput.py config/koniq10k.yaml --device cuda --out throughput.json
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import torch
import yaml

from iqa.config import RunConfig, parse_crops
from iqa.core.device import resolve_device, synchronize
from iqa.training.evaluate import score_images
from iqa.models.builder import build_model
from iqa.training.optim import make_optimizer
from iqa.training.step import Stepper, make_batch
from iqa.study.spec import expand


def networks(study_cfg: dict) -> dict[tuple, tuple[str, dict]]:
    """(model, size, precision, batch) -> (name, config) of the first experiment that trains it."""
    out = {}
    for name, cfg in expand(study_cfg).experiments.items():
        m, t = cfg.model, cfg.train
        out.setdefault((m.name, m.size, t.precision, t.batch_size), (name, cfg))
    return out


def timed(fn, warmup: int, n: int, device: torch.device) -> float:
    for _ in range(warmup):
        fn()
    synchronize(device)
    tic = time.perf_counter()
    for _ in range(n):
        fn()
    synchronize(device)
    return time.perf_counter() - tic


def measure(experiment: str, cfg: RunConfig, device: torch.device, steps: int, eval_images: int) -> dict:
    """Training patches/s of the real step and evaluation patches/s of `score_images`."""
    d, t = cfg.data, cfg.train
    torch.manual_seed(0)
    model = build_model(replace(cfg.model, pretrained=False)).to(device)
    channels_last = device.type == "cuda"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt, _ = make_optimizer(model, t)
    step = Stepper(model, model.parameters(), opt, t, device)
    width, height = d.resize
    images = torch.randint(0, 256, (64, height, width, 3), dtype=torch.uint8, device=device)
    b, p = t.batch_size, d.patch_size
    index = torch.randint(0, 64, (b,))
    corners = torch.stack([torch.randint(0, height - p + 1, (b,)), torch.randint(0, width - p + 1, (b,))], 1)
    flips = torch.zeros(b, dtype=torch.bool)
    y = torch.rand(b, device=device) * 100 * t.label_scale

    def train_step():
        step(make_batch(images, index, corners, flips, d, channels_last), y)

    train_s = timed(train_step, 3, steps, device)
    keys = list(range(eval_images))
    pick = torch.randint(0, 64, (eval_images,), device=device)
    crops = parse_crops(d.test_crops)[1]
    eval_s = timed(lambda: score_images(model, images[pick], keys, d.test_crops, p, d.crop_seed, t.precision),
                   1, 2, device)
    return {"model": cfg.model.name, "size": cfg.model.size, "precision": t.precision,
            "batch_size": b, "train_patches_per_s": round(steps * b / train_s, 1),
            "eval_patches_per_s": round(2 * eval_images * crops / eval_s, 1), "experiment": experiment}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    ap.add_argument("--steps", type=int, default=20, help="timed training steps (after 3 untimed)")
    ap.add_argument("--eval-images", type=int, default=64,
                    help="images scored, twice, after one untimed pass")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    name = torch.cuda.get_device_name(device) if cuda else f"CPU, {torch.get_num_threads()} threads"
    entries = []
    for key, (experiment, cfg) in networks(yaml.safe_load(open(args.config))).items():
        e = measure(experiment, cfg, device, args.steps, args.eval_images)
        entries.append(e)
        print(f"{' '.join(map(str, key))}: train {e['train_patches_per_s']} patches/s, "
              f"eval {e['eval_patches_per_s']} patches/s", flush=True)
        if cuda:
            torch.cuda.empty_cache()
    result = {"device": name, "torch": torch.__version__, "config": args.config,
              "measured": time.strftime("%Y-%m-%d"), "throughput": entries}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
