"""`iqa bench`: throughput of the input pipeline, a training step and evaluation, in one process.

Measures, on generated 1024x768 JPEGs in a KonIQ-format temporary dataset:

  (a) our input pipeline: every JPEG decoded and resized once into the uint8 cache
      (`data.decoded_images`), then each epoch's training patches cut from the cached tensor by
      `step.make_batch` (`pipeline.gather_patches` + `augment` + `normalize`), as training does;
  (b) the original HyperIQA way: for every patch, PIL open + convert RGB + resize to 512x384 +
      RandomCrop + flip + ToTensor + Normalize (torchvision), sequentially in one process, as its
      DataLoader does with 0 workers;
  (c) training's own step (`step.Stepper`: forward, the config's loss, backward, optimiser step) on
      batches from `step.make_batch`; the run config's precision and channels_last on CUDA;
  (d) evaluation (`evaluate.score_images`),

plus parameters, GFLOPs of one patch forward, peak memory and the model FLOP utilisation of (c): its
FLOP/s (3 x the forward's FLOPs per patch: forward plus a backward of twice its cost) over the device's
peak at that precision (`device.peak_tflops`). With `--pack K`, (c) steps K models in turn, each with its
own optimiser and, on CUDA, its own stream, as a pack of K runs trains (`iqa.training.pack`): its figure is the
pack's total. `--json FILE` adds the figures to a throughput file `iqa plan --bench-json` reads; on CUDA also the bare timm backbone's
forward+backward, to show how much the HyperIQA head and optimiser cost. Both input pipelines run
with one torch thread, so they compare like for like. The last line is the (a)/(b) patches/s ratio.

Each measurement is a function returning a small dict of figures; `show` is the one place that
turns figures into the printed lines, section by section as they are measured.
"""
from __future__ import annotations

import math
import os
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from iqa import config as config_mod
from iqa.config import DataConfig, RunConfig, TrainConfig
from iqa.data.crops import train_positions
from iqa.core.device import autocast, cpu_model, peak_tflops, resolve_device, set_matmul_precision, synchronize, torch_threads
from iqa.models.cost import gflops_per_patch, parameters, time_loop
from iqa.models.registry import FAMILIES, check_model_config, input_size
from iqa.training.step import Stepper, make_batch

SOURCE_SIZE = (1024, 768)  # KonIQ-10k's release resolution (width, height)
WARMUP = 2  # untimed iterations before every timed loop
MIN_ORIGINAL_PATCHES = 128  # (b) decodes at ~100 patches/s: fewer would time mostly noise


# ---------------------------------------------------------------------------------------------
# generated test images


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


# ---------------------------------------------------------------------------------------------
# helpers


def _load() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _batches(n: int, batch: int):
    for start in range(0, n, batch):
        yield slice(start, min(start + batch, n))


def _rate(items: int, seconds: float) -> dict:
    return {"items": items, "seconds": seconds, "per_s": items / seconds}


# ---------------------------------------------------------------------------------------------
# setup


@dataclass(frozen=True)
class BenchOptions:
    """What `iqa bench` measures and how: its command-line options (defaults and meanings in iqa/cli.py)."""

    model: str
    size: str
    device: str
    batch: int
    steps: int
    images: int
    eval_batch: int
    threads: int | None
    color_jitter: bool
    compile: bool
    bare_backbone: bool
    precision: str
    pack: int
    peak_tflops: float | None
    json: str | None


def bench_config(opts: BenchOptions) -> RunConfig:
    """The run config the benchmark trains with: defaults, the chosen model at its input size, --batch."""
    for name in ("batch", "steps", "images", "eval_batch", "pack"):
        if getattr(opts, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(opts, name)}")
    model = {"name": opts.model, "size": opts.size}
    check_model_config(model)  # a bad name or size fails here, before input_size
    cfg = config_mod.load(None, {"name": "bench", "model": model,
                                 "data": {"patch_size": input_size(model), "color_jitter": opts.color_jitter},
                                 "train": {"batch_size": opts.batch, "device": opts.device,
                                           "compile": opts.compile, "precision": opts.precision}})
    patches = opts.images * cfg.data.train_patches
    if patches < opts.batch:
        raise ValueError(f"--images {opts.images} give {patches} training patches, fewer than one --batch "
                         f"of {opts.batch}")
    return cfg


def setup(opts: BenchOptions, cfg: RunConfig, device: torch.device) -> dict:
    """What runs where: model, patch, batch, machine, threads, precision."""
    cuda = device.type == "cuda"
    return {"model": opts.model, "size": opts.size, "arch": FAMILIES[opts.model][opts.size][0],
            "patch": cfg.data.patch_size, "device": str(device), "cuda": cuda, "batch": opts.batch,
            "steps": opts.steps, "cpus": os.cpu_count(), "cpu": cpu_model(),
            "gpu": torch.cuda.get_device_name(device) if cuda else None, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "load": _load(),
            "precision": cfg.train.precision if cuda else "fp32", "compile": opts.compile,
            "pack": opts.pack, "peak_tflops": opts.peak_tflops}


def test_images(root: Path, n: int):
    """The generated KonIQ-format dataset, and how long making it took."""
    from iqa.data.dataset import load_koniq

    tic = time.perf_counter()
    make_dataset(root, n)
    ds = load_koniq(root)
    paths = [ds.path(i) for i in range(len(ds.names))]
    return ds, {"n": len(paths), "mean_kib": sum(p.stat().st_size for p in paths) / len(paths) / 1024,
                "seconds": time.perf_counter() - tic}


# ---------------------------------------------------------------------------------------------
# (a) our input pipeline


def cache_images(ds, size: tuple[int, int], device: torch.device, cache_dir: Path):
    """(a), once per dataset: decode+resize into the cache, then copy it to `device` as training does."""
    from iqa.data.dataset import dataset_hash, decoded_images

    tic = time.perf_counter()
    cache = decoded_images(ds, dataset_hash(ds), size, cache_dir=cache_dir)
    build_s = time.perf_counter() - tic
    tic = time.perf_counter()
    images = torch.from_numpy(np.array(cache)).to(device)
    synchronize(device)
    return images, {"n": len(images), "build_s": build_s, "load_s": time.perf_counter() - tic,
                    "size": size, "decode_threads": os.cpu_count()}


def _positions(images: torch.Tensor, d: DataConfig, per_image: int, seed: int):
    n, h, w = images.shape[:3]
    return train_positions(n, per_image, h, w, d.patch_size, torch.Generator().manual_seed(seed))


def ours_epoch(images: torch.Tensor, d: DataConfig, per_image: int, batch: int, seed: int) -> int:
    """One epoch of training batches cut from the cached images by `make_batch`; returns patches."""
    index, corners, flips = _positions(images, d, per_image, seed)
    for sl in _batches(len(index), batch):
        make_batch(images, index[sl], corners[sl], flips[sl], d, images.device.type == "cuda")
    return len(index)


def stage_shares(images: torch.Tensor, d: DataConfig, batch: int) -> dict[str, float]:
    """Share of one epoch's cropping time in each stage of `make_batch`, each stage synchronised."""
    from iqa.data.pipeline import augment, gather_patches, normalize

    index, corners, flips = _positions(images, d, d.train_patches, 1)
    jitter = d.jitter if d.color_jitter else None
    stages = {"gather_patches": lambda x, sl: gather_patches(images, index[sl], corners[sl], d.patch_size),
              "augment": lambda x, sl: augment(x, flips[sl], jitter),
              "normalize": lambda x, sl: normalize(x, channels_last=images.device.type == "cuda")}
    seconds = dict.fromkeys(stages, 0.0)
    for sl in _batches(len(index), batch):
        x = None
        for name, stage in stages.items():
            tic = time.perf_counter()
            x = stage(x, sl)
            synchronize(images.device)
            seconds[name] += time.perf_counter() - tic
    total = sum(seconds.values())
    return {name: s / total for name, s in seconds.items()}


def _cropping_rate(images: torch.Tensor, d: DataConfig, batch: int, threads: int) -> dict:
    with torch_threads(threads):
        ours_epoch(images[:1], d, 1, batch, 0)  # warm-up
        ours_epoch(images, d, 1, batch, 0)
        synchronize(images.device)
        tic = time.perf_counter()
        n = ours_epoch(images, d, d.train_patches, batch, 1)
        synchronize(images.device)
        return _rate(n, time.perf_counter() - tic)


def input_ours(images: torch.Tensor, d: DataConfig, batch: int, threads: int) -> dict:
    """(a) per epoch: patches/s on one thread (and on `threads` on CPU), and the share of each stage."""
    out = {"one_thread": _cropping_rate(images, d, batch, 1), "per_image": d.train_patches,
           "color_jitter": d.color_jitter}
    with torch_threads(1):
        out["shares"] = stage_shares(images, d, batch)
    if threads != 1 and images.device.type == "cpu":
        out["threads"] = threads
        out["many_threads"] = _cropping_rate(images, d, batch, threads)
    return out


# ---------------------------------------------------------------------------------------------
# (b) the original per-patch decode


def original_transform(patch: int, size: tuple[int, int], jitter: list[float] | None):
    """The original HyperIQA KonIQ training transform at this patch size (+ the study's ColorJitter)."""
    import torchvision.transforms as T

    from iqa.data.pipeline import IMAGENET_MEAN, IMAGENET_STD

    colour = [T.ColorJitter(*jitter)] if jitter else []
    return T.Compose([T.Resize((size[1], size[0])), T.RandomCrop(patch), T.RandomHorizontalFlip(), *colour,
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


def input_original(paths: list[Path], d: DataConfig, n: int, batch: int) -> dict:
    """(b): patches/s of the per-patch decode, on one thread, for (up to) `n` training patches."""
    size = d.resize
    jitter = d.jitter if d.color_jitter else None
    transform = original_transform(d.patch_size, size, jitter)
    order = train_positions(len(paths), d.train_patches, size[1], size[0], d.patch_size,
                            torch.Generator().manual_seed(2))[0][:n].tolist()
    with torch_threads(1):
        torch.manual_seed(0)
        per_patch_decode(paths, order[:WARMUP], transform, batch)
        tic = time.perf_counter()
        n = per_patch_decode(paths, order, transform, batch)
        seconds = time.perf_counter() - tic
    return {**_rate(n, seconds), "size": size, "patch": d.patch_size, "color_jitter": d.color_jitter}


# ---------------------------------------------------------------------------------------------
# the model: size, cost, (c) train step, bare backbone, (d) evaluation


def bench_model(cfg: RunConfig, device: torch.device):
    """The model as training builds it (seeded, channels_last on CUDA), and what runs it (compiled or not)."""
    from iqa.models.builder import build_model

    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model, torch.compile(model) if cfg.train.compile else model


def model_cost(model, patch: int, device: torch.device) -> dict:
    return {"parameters": parameters(model), "backbone_parameters": parameters(model.backbone),
            "gflops": gflops_per_patch(model, patch, device), "patch": patch}


def train_batches(images: torch.Tensor, mos: torch.Tensor, cfg: RunConfig, n: int) -> list[tuple]:
    """`n` training batches cut by `make_batch` beforehand, so (c) times the step alone."""
    d, b = cfg.data, cfg.train.batch_size
    index, corners, flips = _positions(images, d, d.train_patches, 3)
    batches = []
    for k in range(n):
        start = (k * b) % len(index)
        sl = slice(start, start + b) if start + b <= len(index) else slice(0, b)
        x = make_batch(images, index[sl], corners[sl], flips[sl], d, images.device.type == "cuda")
        batches.append((x, mos[index[sl].to(mos.device)] * cfg.train.label_scale))
    return batches


def train_step(model, forward, batches: list[tuple], t: TrainConfig, steps: int, device: torch.device) -> dict:
    """(c): training's `Stepper` (forward, loss, backward, optimiser) timed over `steps` batches."""
    from iqa.training.optim import make_optimizer

    opt, _ = make_optimizer(model, t)
    stepper = Stepper(forward, model.parameters(), opt, t, device)
    model.train()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds = time_loop(lambda i: stepper(*batches[i]), WARMUP, steps, device)
    opt.zero_grad(set_to_none=True)
    held = sum(x.numel() * x.element_size() + y.numel() * y.element_size() for x, y in batches)
    return {**_rate(steps * t.batch_size, seconds), "ms_per_step": seconds / steps * 1000,
            "loss": t.loss, "optimizer": t.optimizer, "batch": t.batch_size, "batches_bytes": held,
            "peak_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None}


def train_pack(cfg: RunConfig, batches: list[tuple], steps: int, device: torch.device, k: int) -> dict:
    """(c) for a pack: `k` models (own optimiser, own CUDA stream) each taking a step in turn, per timed step."""
    import contextlib

    from iqa.training.optim import make_optimizer

    t = cfg.train
    steppers, streams = [], []
    for _ in range(k):
        model, forward = bench_model(cfg, device)
        model.train()
        opt, _ = make_optimizer(model, t)
        steppers.append(Stepper(forward, model.parameters(), opt, t, device))
        streams.append(torch.cuda.Stream(device) if device.type == "cuda" else None)
        if streams[-1] is not None:
            streams[-1].wait_stream(torch.cuda.current_stream(device))  # the batches were cut on the default one
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def step(i: int) -> None:
        for stepper, stream in zip(steppers, streams):
            with torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext():
                stepper.step(*batches[i])

    seconds = time_loop(step, WARMUP, steps, device)
    held = sum(x.numel() * x.element_size() + y.numel() * y.element_size() for x, y in batches)
    return {**_rate(k * steps * t.batch_size, seconds), "ms_per_step": seconds / steps * 1000,
            "loss": t.loss, "optimizer": t.optimizer, "batch": t.batch_size, "batches_bytes": held,
            "peak_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None}


def utilisation(r: dict, device: torch.device) -> dict:
    """(c)'s achieved FLOP/s (3 x forward FLOPs per patch) and its share of the device's peak."""
    s = r["setup"]
    achieved = r["train"]["per_s"] * 3 * r["model"]["gflops"] / 1e3  # TFLOP/s
    peak, source = (s["peak_tflops"], "--peak-tflops") if s["peak_tflops"] else \
        peak_tflops(device, s["precision"], s["threads"])
    return {"tflops": achieved, "peak_tflops": peak, "peak_source": source,
            "mfu": achieved / peak if peak else None}


def throughput_entry(r: dict) -> dict:
    """The figures `iqa plan --bench-json` reads, for one model, precision, batch and pack size."""
    s = r["setup"]
    return {"model": s["model"], "size": s["size"], "precision": s["precision"], "batch_size": s["batch"],
            "pack": s["pack"], "train_patches_per_s": round(r["train"]["per_s"], 1),
            "eval_patches_per_s": round(r["eval"]["patches_per_s"], 1), "mfu": r["mfu"]["mfu"],
            "tflops": float(f"{r['mfu']['tflops']:.4g}"), "compile": s["compile"]}


def write_entry(path: Path, r: dict) -> None:
    """Add (or replace: same model, size, precision, batch and pack) this run's entry in a throughput file."""
    import datetime as dt
    import json

    s = r["setup"]
    data = json.loads(path.read_text()) if path.is_file() else {"throughput": []}
    data.update(device=s["gpu"] or s["cpu"], torch=s["torch"], measured=dt.date.today().isoformat())
    entry = throughput_entry(r)
    same = {"model": None, "size": None, "precision": None, "batch_size": None, "pack": 1, "compile": False}
    data["throughput"] = [e for e in data["throughput"]
                          if any(e.get(k, default) != entry[k] for k, default in same.items())] + [entry]
    path.write_text(json.dumps(data, indent=2) + "\n")


def bare_backbone(model, batches: list[tuple], t: TrainConfig, steps: int, device: torch.device) -> dict:
    """The timm backbone's forward_intermediates + backward alone, at the batch and precision of (c)."""
    backbone = model.backbone.forward_intermediates
    backbone = torch.compile(backbone) if t.compile else backbone

    def step(i: int) -> None:
        with autocast(device, t.precision):
            feats = backbone(batches[i][0], indices=4, intermediates_only=True)
        loss = sum(f.float().mean() for f in feats)
        model.zero_grad(set_to_none=True)
        loss.backward()
        loss.item()  # one host sync per step, as the train step has

    seconds = time_loop(step, WARMUP, steps, device)
    model.zero_grad(set_to_none=True)
    return {**_rate(steps * t.batch_size, seconds), "ms_per_step": seconds / steps * 1000}


def evaluation(forward, images: torch.Tensor, cfg: RunConfig, n_images: int, eval_batch: int) -> dict:
    """(d): `score_images` over the first `n_images` images with the config's test crops."""
    from iqa.config import parse_crops
    from iqa.training.evaluate import score_images

    d, precision, device = cfg.data, cfg.train.precision, images.device
    keys = np.arange(len(images))
    if device.type == "cuda":  # warm-up: the timed call itself (allocator, kernels for both batch shapes)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        score_images(forward, images[:n_images], keys[:n_images], d.test_crops, d.patch_size,
                     d.crop_seed, precision, eval_batch)
    else:  # warm-up: one patch
        score_images(forward, images[:1], keys[:1], "center", d.patch_size, d.crop_seed, precision,
                     eval_batch)
    synchronize(device)
    tic = time.perf_counter()
    score_images(forward, images[:n_images], keys[:n_images], d.test_crops, d.patch_size,
                 d.crop_seed, precision, eval_batch)
    synchronize(device)
    seconds = time.perf_counter() - tic
    crops = parse_crops(d.test_crops)[1]
    return {**_rate(n_images, seconds), "patches_per_s": n_images * crops / seconds, "crops": d.test_crops,
            "eval_batch": eval_batch,
            "peak_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None}


def memory() -> dict:
    """Peak resident memory of the whole process, and the load average when the benchmark ends."""
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"rss_bytes": rss_kib * 1024, "load": _load()}


# ---------------------------------------------------------------------------------------------
# the printer: figures -> lines


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.2f} GiB"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _precision(s: dict, evaluating: bool = False) -> str:
    """How (c) and (d) compute: autocast and memory format on CUDA, fp32 and threads on CPU."""
    if s["cuda"]:
        text = {"bf16": "bf16 autocast", "tf32": "TF32"}.get(s["precision"], "fp32")
        text += "" if evaluating and s["precision"] == "bf16" else ", channels_last"
    else:
        text = f"fp32, {_plural(s['threads'], 'thread')}"
    return text + ", torch.compile" * s["compile"]


def _flops(tflops: float) -> str:
    return f"{tflops:.1f} TFLOP/s" if tflops >= 1 else f"{tflops * 1e3:.1f} GFLOP/s"


def _lines_setup(r: dict):
    s = r["setup"]
    gpu = f", GPU {s['gpu']}" if s["gpu"] else ""
    yield (f"iqa bench: {s['model']} {s['size']} ({s['arch']}), {s['patch']} px patches, "
           f"device {s['device']}, batch {s['batch']}, {_plural(s['steps'], 'timed step')} "
           f"after {WARMUP} warm-up")
    yield (f"machine: {s['cpus']} CPUs ({s['cpu']}){gpu}; torch {s['torch']}, "
           f"{_plural(s['threads'], 'torch thread')} for (c) and (d), 1 for (a) and (b); "
           f"load average {s['load']} at start")


def _lines_ours(r: dict):
    i, c, a, device = r["images"], r["cache"], r["ours"], r["setup"]["device"]
    one = a["one_thread"]
    yield (f"test images: {i['n']} generated {SOURCE_SIZE[0]}x{SOURCE_SIZE[1]} JPEGs "
           f"(mean {i['mean_kib']:.0f} KiB) in {i['seconds']:.1f} s; "
           f"cache size {c['size'][0]}x{c['size'][1]}, {a['per_image']} training patches per image")
    yield (f"(a) decoded-image cache: {c['n']} images decoded+resized once in {c['build_s']:.3f} s "
           f"({c['n'] / c['build_s']:.1f} images/s, {c['decode_threads']} decode threads); "
           f"loaded to {device} in {c['load_s']:.3f} s")
    where = f"on {device}" if r["setup"]["cuda"] else "1 torch thread"
    yield (f"(a) per-epoch cropping (gather_patches+augment+normalize, color_jitter={a['color_jitter']}, "
           f"{where}): {one['items']} patches in {one['seconds']:.3f} s = {one['per_s']:.0f} patches/s "
           f"({one['per_s'] / a['per_image']:.1f} images/s at {a['per_image']} patches/image)")
    yield "(a) time split: " + ", ".join(f"{k} {v:.0%}" for k, v in a["shares"].items())
    first = one["items"] / (one["seconds"] + c["build_s"] + c["load_s"])
    yield f"(a) first epoch including the cache build: {first:.0f} patches/s"
    if "many_threads" in a:
        many = a["many_threads"]["per_s"]
        yield f"(a) per-epoch cropping with {a['threads']} torch threads: {many:.0f} patches/s"


def _lines_original(r: dict):
    b = r["original"]
    yield (f"(b) per-patch decode (PIL open+RGB+Resize {b['size'][0]}x{b['size'][1]}+RandomCrop {b['patch']}+"
           f"flip+{'ColorJitter+' * b['color_jitter']}ToTensor+Normalize, 1 process, 0 workers, "
           f"1 torch thread): "
           f"{b['items']} patches in {b['seconds']:.3f} s = {b['per_s']:.1f} patches/s")


def _lines_model(r: dict):
    m = r["model"]
    yield (f"model: {m['parameters'] / 1e6:.3f} M parameters ({m['backbone_parameters'] / 1e6:.3f} M "
           f"backbone), {m['gflops']:.3f} GFLOPs per {m['patch']} px patch forward (FlopCounterMode, "
           f"2 per multiply-add)")


def _lines_train(r: dict):
    s, c = r["setup"], r["train"]
    mem = (f", peak {_gib(c['peak_bytes'])} allocated (incl. {c['batches_bytes'] / 2**20:.0f} MiB of "
           f"pre-cut batches)") if s["cuda"] else ""
    pack = f", {s['pack']} runs in turn" if s["pack"] > 1 else ""
    u = r["mfu"]
    mfu = (f"MFU {u['mfu']:.1%} ({_flops(u['tflops'])} of {_flops(u['peak_tflops'])}, {u['peak_source']})"
           if u["mfu"] is not None else f"{_flops(u['tflops'])}, MFU unknown: {u['peak_source']}")
    yield (f"(c) train step (forward+{c['loss']} loss+backward+{c['optimizer']}, {_precision(s)}, batch "
           f"{c['batch']}{pack}): {c['ms_per_step']:.1f} ms/step = {c['per_s']:.1f} images/s{mem}; {mfu}")


def _lines_backbone(r: dict):
    bb = r["backbone"]
    yield (f"bare backbone forward_intermediates+backward ({_precision(r['setup'])}, "
           f"batch {r['train']['batch']}): {bb['ms_per_step']:.1f} ms/step = {bb['per_s']:.1f} images/s")


def _lines_eval(r: dict):
    e = r["eval"]
    mem = f", peak {_gib(e['peak_bytes'])} allocated" if r["setup"]["cuda"] else ""
    yield (f"(d) evaluation (score_images, {e['crops']} crops, eval batch {e['eval_batch']}, "
           f"{_precision(r['setup'], evaluating=True)}): {e['items']} images in {e['seconds']:.3f} s = "
           f"{e['per_s']:.2f} images/s ({e['patches_per_s']:.1f} patches/s){mem}")


def _lines_memory(r: dict):
    m = r["memory"]
    if r["setup"]["cuda"]:
        yield (f"peak memory: training {_gib(r['train']['peak_bytes'])} GPU "
               f"(torch.cuda.max_memory_allocated); host {_gib(m['rss_bytes'])} resident (ru_maxrss)")
    else:
        yield f"peak memory: {_gib(m['rss_bytes'])} resident (ru_maxrss, whole process)"
    if "backbone" in r:
        yield f"train step / bare backbone: {r['train']['per_s'] / r['backbone']['per_s']:.2f}"
    yield f"load average {m['load']} at end"
    speedup = r["ours"]["one_thread"]["per_s"] / r["original"]["per_s"]
    yield f"input pipeline speedup vs per-patch decode: {speedup:.1f}x"


PRINTERS = {"setup": _lines_setup, "ours": _lines_ours, "original": _lines_original, "model": _lines_model,
            "train": _lines_train, "backbone": _lines_backbone, "eval": _lines_eval, "memory": _lines_memory}


def show(figures: dict, section: str) -> None:
    """Print `section`'s lines as soon as its figures are in: a killed run keeps what it had measured."""
    print("\n".join(PRINTERS[section](figures)), flush=True)


# ---------------------------------------------------------------------------------------------


def run(opts: BenchOptions) -> dict:
    """Measure and print everything; return the figures, by section."""
    if opts.threads is not None and opts.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {opts.threads}")
    with torch_threads(opts.threads or torch.get_num_threads()):
        return _measure(opts)


def _measure(opts: BenchOptions) -> dict:
    cfg = bench_config(opts)
    d, t = cfg.data, cfg.train
    device = resolve_device(t.device)
    r = {"setup": setup(opts, cfg, device)}
    show(r, "setup")
    with tempfile.TemporaryDirectory(prefix="iqa-bench-") as tmp:
        ds, r["images"] = test_images(Path(tmp) / "koniq", opts.images)
        images, r["cache"] = cache_images(ds, d.resize, device, Path(tmp) / "cache")
        r["ours"] = input_ours(images, d, opts.batch, r["setup"]["threads"])
        show(r, "ours")
        paths = [ds.path(i) for i in range(len(ds.names))]
        n_original = max(opts.steps * opts.batch, MIN_ORIGINAL_PATCHES)
        r["original"] = input_original(paths, d, n_original, opts.batch)
        show(r, "original")

        model, forward = bench_model(cfg, device)
        r["model"] = model_cost(model, d.patch_size, device)
        show(r, "model")
        batches = train_batches(images, torch.from_numpy(ds.mos).to(device), cfg, WARMUP + opts.steps)
        set_matmul_precision(t.precision)
        if opts.pack > 1:
            r["train"] = train_pack(cfg, batches, opts.steps, device, opts.pack)
        else:
            r["train"] = train_step(model, forward, batches, t, opts.steps, device)
        r["mfu"] = utilisation(r, device)
        show(r, "train")
        if device.type == "cuda" or opts.bare_backbone:
            r["backbone"] = bare_backbone(model, batches, t, opts.steps, device)
            show(r, "backbone")
        del batches
        # as many test patches as (c) trained on, in whole images
        n_eval = math.ceil(opts.steps * opts.batch / config_mod.parse_crops(d.test_crops)[1])
        r["eval"] = evaluation(forward, images, cfg, min(len(images), n_eval), opts.eval_batch)
        show(r, "eval")
    r["memory"] = memory()
    show(r, "memory")
    if opts.json:
        write_entry(Path(opts.json), r)
    return r
