"""A seeded synthetic IQA dataset in KonIQ-10k's release format: the project's embedded default data.

Each image is a procedural reference (a colour gradient densely covered with 300-400 small sharp
shapes, so every 64 px patch has flat areas, which show noise and blocking, and edges, which show blur)
degraded at documented levels. Its true quality is one documented function of the levels, and its MOS
the mean of a simulated panel of raters, as KonIQ-10k's MOS is:

    scaled    b = sigma / 4,  n = noise_std / 40,  j = (95 - quality) / 90,  c = (1 - contrast) / 0.7,
              s = 1 - saturation,  r = (1 - downscale) / 0.75
    quality   q = 95 - 30 b - 25 n - 20 j - 15 c - 15 s - 25 r
    ratings   25 raters on the 1-5 scale: clip(round(1 + 4 q / 100 + N(0, 0.6^2)), 1, 5)
    MOS       = 1 + 99 (mean rating - 1) / 4   (rater noise of about 3 MOS points)

Two mixes (`MIXES`) draw the levels differently:

- `default` (the demo's training data): one severity v ~ U(0, 1) per image sets blur, noise, JPEG and
  contrast together, each scaled by its own factor u ~ U(0.5, 1), as a poor camera spoils an image on
  every count: sigma = 4 v u1, noise_std = 40 v u2, quality = round(95 - 90 v u3), contrast =
  1 - 0.7 v u4; no saturation loss or downscaling (s = r = 0).
- `shifted`: a test set for cross-dataset checks. Each degradation independently present: blur (p 0.3,
  sigma 0.3-2.5), noise (p 0.4, std 2-25), contrast (p 0.3, factor 0.5-1), JPEG (p 0.7, quality
  10-95), and two the default mix never shows: colour saturation loss (p 0.6, factor 0-1, 0 is grey)
  and downscale-upscale (p 0.5, scale 0.25-1, bilinear both ways). Its references come from their own
  random streams and its images are named `s<seed><index>.jpg`, so no image is shared with a default set.

Degradations apply in the order downscale, blur, saturation, contrast, JPEG, then noise (added after
compression and stored at quality 95, so it stays visible at every quality). Written as
`koniq10k_distributions_sets.csv` (image_name, c1..c5 rating fractions, c_total, MOS, SD, set: the
columns of KonIQ's release, so the label-noise ceiling reads both the same way) plus
WIDTH x HEIGHT JPEGs under `512x384/`, the folder name the KonIQ loader reads (`data.resize` sets the
size training uses); `synthetic_levels.csv` lists each image's levels.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

WIDTH, HEIGHT = 256, 192  # small: the demo trains on 64 px patches of these
IMAGE_DIR = "512x384"  # KonIQ's folder name, which the loader looks for
RATERS = 25
RATER_SD = 0.6  # one rater's noise on the 1-5 scale


@dataclass(frozen=True)
class Mix:
    """How one mix draws its levels: name -> (probability present, low, high, level when absent), each
    drawn independently; or, with `shared_severity`, the default mix's one-severity rule (docstring).

    `stream` is an extra seed word (None: the default mix's streams); `prefix` starts the image names.
    """
    levels: dict[str, tuple[float, float, float, float]]
    stream: int | None
    prefix: str
    shared_severity: bool = False


MIXES = {
    "default": Mix({"blur_sigma": (1, 0, 4.0, 0.0), "noise_std": (1, 0, 40.0, 0.0),
                    "jpeg_quality": (1, 5, 95, 95), "contrast": (1, 0.3, 1.0, 1.0)}, None, "", True),
    "shifted": Mix({"blur_sigma": (0.3, 0.3, 2.5, 0.0), "noise_std": (0.4, 2.0, 25.0, 0.0),
                    "jpeg_quality": (0.7, 10, 95, 95), "contrast": (0.3, 0.5, 1.0, 1.0),
                    "saturation": (0.6, 0.0, 1.0, 1.0), "downscale": (0.5, 0.25, 1.0, 1.0)}, 1, "s"),
}


def _reference(rng: np.random.Generator) -> Image.Image:
    """Gradient background under 300-400 shapes of 4-24 px: flat areas show noise and blocking, edges
    show blur, in any patch, with little else varying from patch to patch."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH] / max(WIDTH, HEIGHT)
    c0, c1 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    t = (x * rng.uniform(-1, 1) + y * rng.uniform(-1, 1))[..., None]
    t = (t - t.min()) / (np.ptp(t) + 1e-9)
    im = Image.fromarray(((c0 * (1 - t) + c1 * t) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(300, 400))):
        x0, y0 = rng.integers(0, WIDTH), rng.integers(0, HEIGHT)
        w, h = rng.integers(4, 25, 2)
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        box = [int(x0), int(y0), int(x0 + w), int(y0 + h)]
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
    return im


def _levels(rng: np.random.Generator, mix: Mix) -> dict:
    if mix.shared_severity:  # one severity v, each level at its own fraction u of it
        v, u = float(rng.uniform(0, 1)), rng.uniform(0.5, 1, 4)
        return {"blur_sigma": float(4 * v * u[0]), "noise_std": float(40 * v * u[1]),
                "jpeg_quality": int(round(95 - 90 * v * u[2])), "contrast": float(1 - 0.7 * v * u[3])}
    levels = {}
    for name, (p, lo, hi, off) in mix.levels.items():
        levels[name] = float(rng.uniform(lo, hi)) if rng.random() < p else off
    levels["jpeg_quality"] = int(levels["jpeg_quality"])
    return levels


def mos_from_levels(lv: dict) -> float:
    """The true quality q of the module docstring (a level a mix lacks counts as absent)."""
    b, n = lv["blur_sigma"] / 4, lv["noise_std"] / 40
    j, c = (95 - lv["jpeg_quality"]) / 90, (1 - lv["contrast"]) / 0.7
    s, r = 1 - lv.get("saturation", 1.0), (1 - lv.get("downscale", 1.0)) / 0.75
    return 95 - 30 * b - 25 * n - 20 * j - 15 * c - 15 * s - 25 * r


def _degrade(im: Image.Image, lv: dict, rng: np.random.Generator) -> bytes:
    scale = lv.get("downscale", 1.0)
    if scale < 1:  # detail lost at the lower resolution does not come back on the way up
        small = (max(1, round(WIDTH * scale)), max(1, round(HEIGHT * scale)))
        im = im.resize(small, Image.BILINEAR).resize((WIDTH, HEIGHT), Image.BILINEAR)
    if lv["blur_sigma"] > 0:
        im = im.filter(ImageFilter.GaussianBlur(lv["blur_sigma"]))
    if lv.get("saturation", 1.0) < 1:
        im = ImageEnhance.Color(im).enhance(lv["saturation"])
    a = np.asarray(im).astype(np.float32)
    a = (a - a.mean()) * lv["contrast"] + a.mean()
    compressed = _jpeg(Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)), lv["jpeg_quality"])
    a = np.asarray(Image.open(io.BytesIO(compressed)).convert("RGB")).astype(np.float32)
    a += rng.normal(0, lv["noise_std"], a.shape)
    return _jpeg(Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)), 95)


def _jpeg(im: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def synthetic_images(n: int, seed: int = 0, mix: str = "default"):
    """The generator behind `make_synthetic`: (name, JPEG bytes, MOS 1-100, 1-5 rating counts, levels) for
    each of `n` images of a `MIXES` mix; same (n, seed, mix): same images."""
    if n < 10:
        raise ValueError(f"--n must be at least 10, got {n}")
    if mix not in MIXES:
        raise ValueError(f"unknown synthetic mix {mix!r}; known: {sorted(MIXES)}")
    m = MIXES[mix]
    for i in range(n):
        rng = np.random.default_rng([seed, i] if m.stream is None else [seed, i, m.stream])
        lv = _levels(rng, m)
        name = f"{m.prefix}{seed:04d}{i:06d}.jpg"
        jpeg = _degrade(_reference(rng), lv, rng)
        # A panel's 1-5 ratings around the true quality; the MOS is their mean, rescaled to 1-100.
        ratings = np.clip(np.rint(1 + 4 * mos_from_levels(lv) / 100 + rng.normal(0, RATER_SD, RATERS)), 1, 5)
        mos = float(1 + 99 * (ratings.mean() - 1) / 4)
        counts = np.bincount(ratings.astype(int), minlength=6)[1:]
        yield name, jpeg, mos, counts, lv, rng


def make_synthetic(out: str | Path, n: int, seed: int = 0, mix: str = "default") -> Path:
    """Write `n` images of a `MIXES` mix and their label file under `out`; same (n, seed, mix): same bytes."""
    out = Path(out)
    rows = []
    for name, jpeg, mos, counts, lv, rng in synthetic_images(n, seed, mix):
        (out / IMAGE_DIR).mkdir(parents=True, exist_ok=True)
        (out / IMAGE_DIR / name).write_bytes(jpeg)
        split = rng.choice(["training", "validation", "test"], p=[0.7, 0.1, 0.2])
        rows.append({"image_name": name, **{f"c{k + 1}": counts[k] / RATERS for k in range(5)},
                     "c_total": RATERS, "MOS": round(mos, 4), "SD": round(float(np.std(np.repeat(np.arange(1, 6), counts))), 4),
                     "set": split, **lv})
    table = pd.DataFrame(rows)
    cols = ["image_name", "c1", "c2", "c3", "c4", "c5", "c_total", "MOS", "SD", "set"]
    table[cols].to_csv(out / "koniq10k_distributions_sets.csv", index=False)
    # The degradation levels behind each MOS, for anyone checking the generator.
    table[["image_name", *MIXES[mix].levels, "MOS"]].to_csv(out / "synthetic_levels.csv", index=False)
    return out
