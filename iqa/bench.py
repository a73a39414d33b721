"""`iqa bench`: throughput of the input pipeline, a training step and evaluation, in one process.

Measures, on generated 1024x768 JPEGs in a KonIQ-format temporary dataset:

  (a) our input pipeline: every JPEG decoded and resized once into the uint8 cache
      (`data.decoded_images`), then each epoch's training patches cut from the cached tensor
      (`crops.train_positions` + `pipeline.gather_patches` + `augment` + `normalize`);
  (b) the original HyperIQA way: for every patch, PIL open + convert RGB + resize to 512x384 +
      RandomCrop + flip + ToTensor + Normalize (torchvision), sequentially in one process, as its
      DataLoader does with 0 workers;
  (c) a training step (forward, L1 loss, backward, AdamW step), bf16 autocast and channels_last on CUDA;
  (d) evaluation (`evaluate.score_images`),

plus parameters, GFLOPs of one patch forward and peak memory; on CUDA also the bare timm backbone's
forward+backward, to show how much the HyperIQA head and optimiser cost. Both input pipelines run
with one torch thread, so they compare like for like. The last line is the (a)/(b) patches/s ratio.
"""
from __future__ import annotations

import contextlib
import math
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .models import FAMILIES

SOURCE_SIZE = (1024, 768)  # KonIQ-10k's release resolution (width, height)
WARMUP = 2  # untimed iterations before every timed loop




# ---------------------------------------------------------------------------------------------
# helpers


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def _threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _load() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _make_jpeg(path: Path, rng: np.random.Generator) -> None:
    """A 1024x768 photo-like JPEG: coarse colour field + mid-scale structure + fine grain, quality 90."""
    w, h = SOURCE_SIZE
    coarse = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((w, h), Image.BICUBIC)
    mid = Image.fromarray(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)).resize((w, h), Image.BILINEAR)
    img = np.asarray(coarse, dtype=np.int16) * 3 // 4 + np.asarray(mid, dtype=np.int16) // 4
    img += rng.integers(-12, 13, (h, w, 1), dtype=np.int16)  # luminance grain
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=90)


def make_dataset(root: Path, n: int, seed: int = 0) -> None:
    """`n` generated JPEGs under `1024x768/` and a `koniq10k_distributions_sets.csv` (image_name,MOS,set)."""
    image_dir = root / f"{SOURCE_SIZE[0]}x{SOURCE_SIZE[1]}"
    image_dir.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    rows = ["image_name,MOS,set"]
    for i in range(n):
        name = f"bench{i:05d}.jpg"
        _make_jpeg(image_dir / name, rng)
        rows.append(f"{name},{rng.uniform(1, 100):.4f},training")
    (root / "koniq10k_distributions_sets.csv").write_text("\n".join(rows) + "\n")


def _batches(n: int, batch: int):
    for start in range(0, n, batch):
        yield slice(start, min(start + batch, n))


# ---------------------------------------------------------------------------------------------
# (a) and (b): input pipelines


def ours_epoch(images: torch.Tensor, per_image: int, patch: int, batch: int, color_jitter: bool,
               seed: int, channels_last: bool, split: dict | None = None) -> int:
    """One epoch of training batches cut from the cached images, as `train.train` does; returns patches.

    With `split`, each stage is synchronised and its seconds added to split[stage].
    """
    from .crops import train_positions
    from .pipeline import augment, gather_patches, normalize

    n, h, w = images.shape[:3]
    gen = torch.Generator().manual_seed(seed)
    idx, corners, flips = train_positions(n, per_image, h, w, patch, gen)
    stages = (("gather_patches", lambda x, sl: gather_patches(images, idx[sl], corners[sl], patch)),
              ("augment", lambda x, sl: augment(x, flips[sl], color_jitter)),
              ("normalize", lambda x, sl: normalize(x, channels_last=channels_last)))
    for sl in _batches(len(idx), batch):
        x = None
        for name, stage in stages:
            if split is None:
                x = stage(x, sl)
                continue
            tic = time.perf_counter()
            x = stage(x, sl)
            _sync(images.device)
            split[name] = split.get(name, 0.0) + time.perf_counter() - tic
    return len(idx)


def original_transform(patch: int, size: tuple[int, int], color_jitter: bool):
    """The original HyperIQA KonIQ training transform, at this model's patch size (+ the study's ColorJitter)."""
    import torchvision.transforms as T

    from .pipeline import IMAGENET_MEAN, IMAGENET_STD

    jitter = [T.ColorJitter(0.2, 0.2, 0.2, 0.1)] if color_jitter else []
    return T.Compose([T.Resize((size[1], size[0])), T.RandomCrop(patch), T.RandomHorizontalFlip(), *jitter,
                      T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def per_patch_decode(paths: list[Path], order: list[int], transform, batch: int) -> int:
    """Decode, resize and crop once per patch, batch by batch (DataLoader with 0 workers); returns patches."""
    for sl in _batches(len(order), batch):
        patches = []
        for i in order[sl]:
            with Image.open(paths[i]) as im:
                patches.append(transform(im.convert("RGB")))
        torch.stack(patches)
    return len(order)


# ---------------------------------------------------------------------------------------------
# (c) and (d): model


def gflops_per_patch(model, patch: int, device: torch.device) -> float:
    """Matmul/conv/attention FLOPs (2 per multiply-add) of one patch forward, fp32, eval mode."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    x = torch.zeros(1, 3, patch, patch, device=device)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    model.train(was_training)
    return counter.get_total_flops() / 1e9


def time_loop(step, n_warmup: int, n_timed: int, device: torch.device) -> float:
    """Seconds for `n_timed` calls of `step(i)` after `n_warmup` untimed ones."""
    for i in range(n_warmup):
        step(i)
    _sync(device)
    tic = time.perf_counter()
    for i in range(n_timed):
        step(n_warmup + i)
    _sync(device)
    return time.perf_counter() - tic


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.2f} GiB"


# ---------------------------------------------------------------------------------------------


def run(args) -> None:
    if getattr(args, "threads", None) is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    with _threads(args.threads or torch.get_num_threads()):
        _run(args)


def _run(args) -> None:
    from . import config as config_mod
    from .crops import parse_crops, train_positions
    from .data import dataset_hash, decoded_images, load_koniq
    from .evaluate import autocast, score_images
    from .models import build_model, count_parameters, input_size
    from .pipeline import augment, gather_patches, normalize
    from .train import make_optimizer, resolve_device

    for name in ("batch", "steps", "images", "eval_batch"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    cfg = config_mod.load(None, {"model": {"name": args.model, "size": args.size}})
    patch = input_size(cfg["model"])
    cfg = config_mod.load(None, {"name": "bench", "model": {"name": args.model, "size": args.size},
                                 "data": {"patch_size": patch, "color_jitter": args.color_jitter},
                                 "train": {"batch_size": args.batch, "device": args.device,
                                           "compile": args.compile}})
    d, t = cfg["data"], cfg["train"]
    if args.images * d["train_patches"] < args.batch:
        raise ValueError(f"--images {args.images} give {args.images * d['train_patches']} training patches, "
                         f"fewer than one --batch of {args.batch}")
    device = resolve_device(t["device"])
    cuda = device.type == "cuda"
    amp = t["amp"] and cuda
    size = tuple(d["resize"])  # (width, height) of the cache
    per_image = d["train_patches"]
    threads = torch.get_num_threads()
    arch = FAMILIES[args.model][args.size][0]

    print(f"iqa bench: {args.model} {args.size} ({arch}), {patch} px patches, device {device}, "
          f"batch {args.batch}, {args.steps} timed steps after {WARMUP} warm-up")
    gpu = f", GPU {torch.cuda.get_device_name(device)}" if cuda else ""
    print(f"machine: {os.cpu_count()} CPUs ({_cpu_model()}){gpu}; torch {torch.__version__}, "
          f"{threads} torch thread{'s' * (threads != 1)} for (c) and (d), 1 for (a) and (b); load average {_load()} at start")

    with tempfile.TemporaryDirectory(prefix="iqa-bench-") as tmp:
        root = Path(tmp) / "koniq"
        tic = time.perf_counter()
        make_dataset(root, args.images)
        ds = load_koniq(root)
        ds_hash = dataset_hash(ds)
        paths = [ds.path(i) for i in range(len(ds.names))]
        mean_kb = sum(p.stat().st_size for p in paths) / len(paths) / 1024
        print(f"test images: {len(paths)} generated {SOURCE_SIZE[0]}x{SOURCE_SIZE[1]} JPEGs (mean {mean_kb:.0f} KiB) "
              f"in {time.perf_counter() - tic:.1f} s; cache size {size[0]}x{size[1]}, "
              f"{per_image} training patches per image")

        # ---- (a) ours: decode once, then crop tensors
        tic = time.perf_counter()
        cache = decoded_images(ds, ds_hash, size, cache_dir=Path(tmp) / "cache")
        build_s = time.perf_counter() - tic
        tic = time.perf_counter()
        images = torch.from_numpy(np.array(cache)).to(device)  # a copy in RAM, as train.load_data makes
        _sync(device)
        load_s = time.perf_counter() - tic
        del cache
        print(f"(a) decoded-image cache: {len(paths)} images decoded+resized once in {build_s:.3f} s "
              f"({len(paths) / build_s:.1f} images/s, {os.cpu_count()} decode threads); "
              f"loaded to {device} in {load_s:.3f} s")

        def our_rate(n_threads: int) -> tuple[int, float]:
            with _threads(n_threads):
                ours_epoch(images[:1], 1, patch, args.batch, d["color_jitter"], 0, cuda)  # warm-up
                ours_epoch(images, 1, patch, args.batch, d["color_jitter"], 0, cuda)
                _sync(device)
                tic = time.perf_counter()
                n = ours_epoch(images, per_image, patch, args.batch, d["color_jitter"], 1, cuda)
                _sync(device)
                return n, time.perf_counter() - tic

        n_a, a_s = our_rate(1)
        a_rate = n_a / a_s
        where = f"on {device}" if cuda else "1 torch thread"
        print(f"(a) per-epoch cropping (gather_patches+augment+normalize, color_jitter={d['color_jitter']}, "
              f"{where}): {n_a} patches in {a_s:.3f} s = {a_rate:.0f} patches/s "
              f"({a_rate / per_image:.1f} images/s at {per_image} patches/image)")
        split: dict[str, float] = {}
        with _threads(1):
            ours_epoch(images, per_image, patch, args.batch, d["color_jitter"], 1, cuda, split)
        total = sum(split.values())
        print("(a) time split: " + ", ".join(f"{k} {v / total:.0%}" for k, v in split.items()))
        first = n_a / (a_s + build_s + load_s)
        print(f"(a) first epoch including the cache build: {first:.0f} patches/s")
        if threads != 1 and not cuda:
            n2, s2 = our_rate(threads)
            print(f"(a) per-epoch cropping with {threads} torch threads: {n2 / s2:.0f} patches/s")

        # ---- (b) the original: decode + resize per patch
        transform = original_transform(patch, size, d["color_jitter"])
        n_b = max(args.steps * args.batch, 128)
        order = train_positions(len(paths), per_image, size[1], size[0], patch,
                                torch.Generator().manual_seed(2))[0][:n_b].tolist()
        with _threads(1):
            torch.manual_seed(0)
            per_patch_decode(paths, order[:WARMUP], transform, args.batch)
            tic = time.perf_counter()
            per_patch_decode(paths, order, transform, args.batch)
            b_s = time.perf_counter() - tic
        b_rate = n_b / b_s
        print(f"(b) per-patch decode (PIL open+RGB+Resize {size[0]}x{size[1]}+RandomCrop {patch}+flip+"
              f"{'ColorJitter+' * d['color_jitter']}"
              f"ToTensor+Normalize, 1 process, 0 workers, 1 torch thread): {n_b} patches in {b_s:.3f} s = "
              f"{b_rate:.1f} patches/s")

        # ---- model: size and cost
        torch.manual_seed(cfg["seed"])
        model = build_model(cfg["model"]).to(device)
        if cuda:
            model = model.to(memory_format=torch.channels_last)
        n_params = count_parameters(model)
        gflops = gflops_per_patch(model, patch, device)
        print(f"model: {n_params / 1e6:.3f} M parameters ({count_parameters(model.backbone) / 1e6:.3f} M backbone), "
              f"{gflops:.3f} GFLOPs per {patch} px patch forward (FlopCounterMode, 2 per multiply-add)")

        forward = torch.compile(model) if args.compile else model  # compiled in the warm-up steps
        # ---- (c) training step
        gen = torch.Generator().manual_seed(3)
        idx, corners, flips = train_positions(len(paths), per_image, size[1], size[0], patch, gen)
        mos = torch.from_numpy(ds.mos).to(device) * t["label_scale"]
        n_batches = WARMUP + args.steps
        batches = []
        for k in range(n_batches):
            sl = slice((k * args.batch) % len(idx), (k * args.batch) % len(idx) + args.batch)
            if sl.stop > len(idx):
                sl = slice(0, args.batch)
            x = gather_patches(images, idx[sl], corners[sl], patch)
            x = normalize(augment(x, flips[sl], d["color_jitter"]), channels_last=cuda)
            batches.append((x, mos[idx[sl].to(device)]))
        opt, _ = make_optimizer(model, t, device)
        model.train()

        def train_step(i: int) -> None:
            x, y = batches[i]
            with autocast(device, amp):
                pred, _ = forward(x)
            loss = F.l1_loss(pred, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        c_s = time_loop(train_step, WARMUP, args.steps, device)
        train_rate = args.steps * args.batch / c_s
        peak_train = torch.cuda.max_memory_allocated(device) if cuda else None
        prec = "bf16 autocast, channels_last" if cuda else f"fp32, {threads} thread{'s' * (threads != 1)}"
        prec += ", torch.compile" * args.compile
        held = sum(x.numel() * x.element_size() + y.numel() * y.element_size() for x, y in batches)
        mem = f", peak {_gib(peak_train)} allocated (incl. {held / 2**20:.0f} MiB of pre-cut batches)" if cuda else ""
        print(f"(c) train step (forward+L1+backward+AdamW, {prec}, batch {args.batch}): "
              f"{c_s / args.steps * 1000:.1f} ms/step = {train_rate:.1f} images/s{mem}")

        # ---- bare backbone forward+backward (CUDA; on CPU with --bare-backbone)
        bb_rate = None
        if cuda or args.bare_backbone:
            backbone = model.backbone.forward_intermediates
            backbone = torch.compile(backbone) if args.compile else backbone

            def backbone_step(i: int) -> None:
                x, _ = batches[i]
                with autocast(device, amp):
                    feats = backbone(x, indices=4, intermediates_only=True)
                loss = sum(f.float().mean() for f in feats)
                model.zero_grad(set_to_none=True)
                loss.backward()

            bb_s = time_loop(backbone_step, WARMUP, args.steps, device)
            bb_rate = args.steps * args.batch / bb_s
            model.zero_grad(set_to_none=True)
            print(f"bare backbone forward_intermediates+backward ({prec}, batch {args.batch}): "
                  f"{bb_s / args.steps * 1000:.1f} ms/step = {bb_rate:.1f} images/s")

        # ---- (d) evaluation
        crops_per_image = parse_crops(d["test_crops"])[1]
        n_eval = min(len(paths), max(1, math.ceil(args.steps * args.batch / crops_per_image)))
        del batches
        opt.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        keys = np.arange(len(paths))
        if cuda:  # warm-up: the timed call itself (allocator, kernels for both batch shapes)
            score_images(forward, images[:n_eval], keys[:n_eval], d["test_crops"], patch, d["crop_seed"], amp,
                         args.eval_batch)
        else:  # warm-up: one patch
            score_images(forward, images[:1], keys[:1], "center", patch, d["crop_seed"], amp, args.eval_batch)
        _sync(device)
        tic = time.perf_counter()
        score_images(forward, images[:n_eval], keys[:n_eval], d["test_crops"], patch, d["crop_seed"], amp,
                     args.eval_batch)
        _sync(device)
        d_s = time.perf_counter() - tic
        mem = f", peak {_gib(torch.cuda.max_memory_allocated(device))} allocated" if cuda else ""
        eval_prec = "bf16 autocast" if amp else prec
        print(f"(d) evaluation (score_images, {d['test_crops']} crops, eval batch {args.eval_batch}, "
              f"{eval_prec}): {n_eval} images in {d_s:.3f} s = "
              f"{n_eval / d_s:.2f} images/s ({n_eval * crops_per_image / d_s:.1f} patches/s){mem}")

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    if cuda:
        print(f"peak memory: training {_gib(peak_train)} GPU (torch.cuda.max_memory_allocated); "
              f"host {_gib(rss)} resident (ru_maxrss)")
    else:
        print(f"peak memory: {_gib(rss)} resident (ru_maxrss, whole process)")
    if bb_rate is not None:
        print(f"train step / bare backbone: {train_rate / bb_rate:.2f}")
    print(f"load average {_load()} at end")
    print(f"input pipeline speedup vs per-patch decode: {a_rate / b_rate:.1f}x")
