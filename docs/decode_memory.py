"""Peak memory of building the decoded-image cache for a SPAQ-like set of large photos.

    PYTHONPATH=$PWD python docs/decode_memory.py --images 300 --source 4000x3000

Writes a SPAQ-format dataset (`TestImage/`, `Annotations/MOS and Image attribute scores.csv`) of
`--images` JPEG photos at `--source` size, a third each landscape 4:3, portrait 3:4 and landscape
16:9, then decodes it with `data.decoded_images` under the SPAQ loader's resize policy in a fresh
process and reports that process's peak resident memory (`ru_maxrss`: imports, label reading and
decoding), and the highest anonymous and file-backed parts while decoding (`RssAnon`, `RssFile`
of /proc/self/status, sampled every 20 ms). Writing and decoding run in processes of their own: a
process starts with the peak of the one that started it (Linux keeps `ru_maxrss` across exec), and
this one stays small.
With `--score` a third process then scores the cached set as `iqa score` does (`score.score_all`,
one slice of the cache at a time, here with an untrained nano model on the CPU) and reports the
same figures while scoring.
`--distinct` different photos are generated and the rest are hard links to them: each file is still
opened and decoded on its own, so decoding costs the same; only generating them is saved.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

LABELS = "Annotations/MOS and Image attribute scores.csv"


def photo(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """Smooth colour regions plus sensor-like noise: compresses about as a real photo does."""
    w, h = size
    base = Image.fromarray(rng.integers(0, 256, (max(h // 64, 2), max(w // 64, 2), 3), dtype=np.uint8))
    noise = Image.effect_noise(size, 24).convert("RGB")
    return Image.blend(base.resize(size, Image.BICUBIC), noise, 0.2)


def write_set(root: Path, n: int, source: tuple[int, int], distinct: int, seed: int = 0) -> None:
    w, h = source
    shapes = [(w, h), (h, w), (w, w * 9 // 16)]
    rng = np.random.default_rng(seed)
    (root / "TestImage").mkdir(parents=True)
    sources = []
    for k in range(distinct):
        path = root / f"source-{k}.jpg"
        photo(shapes[k % len(shapes)], rng).save(path, quality=90)
        sources.append(path)
    names = [f"{i + 1:05d}.jpg" for i in range(n)]
    for i, name in enumerate(names):
        os.link(sources[i % distinct], root / "TestImage" / name)
    (root / "Annotations").mkdir()
    mos = np.round(rng.uniform(0, 100, n), 2)
    (root / LABELS).write_text("Image name,MOS\n" + "".join(f"{a},{b}\n" for a, b in zip(names, mos)))


def rss_sampler(peaks: dict, stop: threading.Event) -> None:
    while not stop.is_set():
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("RssAnon", "RssFile", "RssShmem"):
                    peaks[key] = max(peaks.get(key, 0), int(value.split()[0]))
        stop.wait(0.02)


def child(root: str, cache: str, shorter_side: int, workers: int | None) -> None:
    """Load and decode in this (fresh) process; print the figures as JSON."""
    from iqa.data.dataset import dataset_hash, decoded_images
    from iqa.data.external import load_dataset

    ds = load_dataset("spaq", root, shorter_side=shorter_side)
    ds_hash = dataset_hash(ds)
    images, figures = measured(lambda: decoded_images(ds, ds_hash, ds.image_size((512, 384)), cache,
                                                      workers=workers))
    print(json.dumps({"n": len(ds.names), "shape": list(images.shape), **figures,
                      "cache_bytes": os.path.getsize(next(Path(cache).glob("*.npy")))}))


def measured(work):
    """Run `work()` while sampling this process's memory; return its result and the figures."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peaks: dict = {}
    stop = threading.Event()
    sampler = threading.Thread(target=rss_sampler, args=(peaks, stop))
    sampler.start()
    tic = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - tic
    stop.set()
    sampler.join()
    return result, {"seconds": seconds, "maxrss_before_kib": before,
                    "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                    "peak_rss_anon_kib": peaks.get("RssAnon", 0), "peak_rss_file_kib": peaks.get("RssFile", 0)}


def score_child(root: str, cache: str, shorter_side: int) -> None:
    """Score the cached set with an untrained nano Swin-HyperIQA on the CPU, as `iqa score` does
    (`score.score_all`: one slice of the cache at a time); print the peak memory while scoring."""
    import torch

    from iqa import config
    from iqa.data.dataset import dataset_hash
    from iqa.data.external import load_dataset
    from iqa.models.builder import build_model
    from iqa.training.score import SLICE_IMAGES, score_all

    torch.set_num_threads(1)
    ds = load_dataset("spaq", root, shorter_side=shorter_side)
    cfg = config.RunConfig.from_dict({"model": {"size": "nano", "pretrained": False},
                                      "data": {"patch_size": 64, "test_crops": "random:4", "cache_dir": cache}})
    model = build_model(cfg.model)
    (scores, _), figures = measured(lambda: score_all(model, ds, dataset_hash(ds), cfg, torch.device("cpu")))
    print(json.dumps({"n": len(scores), "slice_images": SLICE_IMAGES, **figures}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=300)
    p.add_argument("--source", default="4000x3000", help="photo size WxH (landscape)")
    p.add_argument("--distinct", type=int, default=6, help="different photos generated; the rest are links")
    p.add_argument("--shorter-side", type=int, default=512)
    p.add_argument("--workers", type=int, default=None, help="decode threads (default: one per CPU)")
    p.add_argument("--write", metavar="ROOT", help=argparse.SUPPRESS)
    p.add_argument("--score", action="store_true", help="then score the cached set with a nano model")
    p.add_argument("--child", nargs=2, metavar=("ROOT", "CACHE"), help=argparse.SUPPRESS)
    p.add_argument("--score-child", nargs=2, metavar=("ROOT", "CACHE"), help=argparse.SUPPRESS)
    a = p.parse_args()
    source = tuple(int(x) for x in a.source.split("x"))
    if a.write:
        return write_set(Path(a.write), a.images, source, a.distinct)
    if a.child:
        return child(*a.child, a.shorter_side, a.workers)
    if a.score_child:
        return score_child(*a.score_child, a.shorter_side)
    with tempfile.TemporaryDirectory(prefix="iqa-decode-memory-") as tmp:
        root, cache = Path(tmp) / "spaq", Path(tmp) / "cache"
        tic = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--write", str(root), "--images", str(a.images),
                        "--source", a.source, "--distinct", str(a.distinct)], check=True)
        mb = sum(p.stat().st_size for p in root.glob("source-*.jpg")) / a.distinct / 2**20
        print(f"{a.images} photos of {source[0]}x{source[1]} (4:3, 3:4, 16:9; {a.distinct} distinct, "
              f"mean {mb:.1f} MiB) written in {time.perf_counter() - tic:.1f} s")
        cmd = [sys.executable, __file__, "--child", str(root), str(cache),
               "--shorter-side", str(a.shorter_side)]
        if a.workers:
            cmd += ["--workers", str(a.workers)]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        if a.score:
            cmd = [sys.executable, __file__, "--score-child", str(root), str(cache),
                   "--shorter-side", str(a.shorter_side)]
            scored = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    print(f"decoded to {r['shape']} ({r['cache_bytes'] / 2**20:.0f} MiB cache) in {r['seconds']:.1f} s "
          f"({r['n'] / r['seconds']:.1f} images/s, {a.workers or os.cpu_count()} threads)")
    print(f"peak RSS {r['maxrss_kib'] / 1024:.0f} MiB (ru_maxrss of the decoding process; "
          f"{r['maxrss_before_kib'] / 1024:.0f} MiB before decoding); while decoding: "
          f"peak RssAnon {r['peak_rss_anon_kib'] / 1024:.0f} MiB, "
          f"peak RssFile {r['peak_rss_file_kib'] / 1024:.0f} MiB")

    if a.score:
        print(f"scored {scored['n']} images (nano Swin-HyperIQA, 4 random 64 px crops each, CPU, 1 thread, "
              f"{scored['slice_images']} images of the cache at a time) in {scored['seconds']:.1f} s; "
              f"peak RSS {scored['maxrss_kib'] / 1024:.0f} MiB ({scored['maxrss_before_kib'] / 1024:.0f} MiB "
              f"before scoring); while scoring: peak RssAnon {scored['peak_rss_anon_kib'] / 1024:.0f} MiB, "
              f"peak RssFile {scored['peak_rss_file_kib'] / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
