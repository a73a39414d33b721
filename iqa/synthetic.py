"""A seeded synthetic IQA dataset in KonIQ-10k's release format: the project's embedded default data.

Each image is a procedural reference (gradient, fine texture and sharp shapes) degraded at random levels.
Its MOS is one documented function of the levels plus rater noise:

    severity  b = sigma / 4,  n = noise_std / 40,  j = (95 - quality) / 90,  c = (1 - contrast) / 0.7,
              s = 1 - saturation,  r = (1 - downscale) / 0.75
    MOS       = clip(95 - 30 b - 25 n - 20 j - 15 c - 15 s - 25 r + N(0, 3^2), 1, 100)

Two mixes (`MIXES`) draw the levels differently:

- `default`: Gaussian blur (sigma 0.3-4), additive noise (std 2-40), JPEG (quality 5-95) and contrast
  reduction (factor 0.3-1), each present with probability 0.6 (level 0 otherwise); saturation and
  downscale are never applied (s = r = 0), so MOS = clip(95 - 30 b - 25 n - 20 j - 15 c + N(0, 3^2), 1, 100).
- `shifted`: a test set for cross-dataset checks. Milder, rarer blur (p 0.3, sigma 0.3-2.5), noise
  (p 0.4, std 2-25) and contrast (p 0.3, factor 0.5-1), more JPEG (p 0.7, quality 10-95), and two
  degradations the default mix never shows: colour saturation loss (p 0.6, saturation factor 0-1, 0 is
  grey) and downscale-upscale (p 0.5, scale 0.25-1, bilinear both ways); the full formula above.
  Its references come from their own random streams and its images are named `s<seed><index>.jpg`,
  so no image or reference is shared with a default set of the same seed.

Degradations apply in the order downscale, blur, saturation, contrast, noise, JPEG. Written as
`koniq10k_distributions_sets.csv` (image_name, c1..c5 rating fractions, c_total, MOS, SD, set)
plus JPEGs under `512x384/`, so the KonIQ loader reads it unchanged; `synthetic_levels.csv` lists
each image's levels.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

WIDTH, HEIGHT = 512, 384
RATERS = 25


@dataclass(frozen=True)
class Mix:
    """How one mix draws its levels: name -> (probability present, low, high, level when absent).

    Levels are drawn in the order listed; `stream` is an extra seed word (None keeps the
    default mix's streams, and so its bytes, as they were before there were mixes).
    """
    levels: dict[str, tuple[float, float, float, float]]
    stream: int | None
    prefix: str  # of the image names


MIXES = {
    "default": Mix({"blur_sigma": (0.6, 0.3, 4.0, 0.0), "noise_std": (0.6, 2.0, 40.0, 0.0),
                    "jpeg_quality": (0.6, 5, 95, 95), "contrast": (0.6, 0.3, 1.0, 1.0)}, None, ""),
    "shifted": Mix({"blur_sigma": (0.3, 0.3, 2.5, 0.0), "noise_std": (0.4, 2.0, 25.0, 0.0),
                    "jpeg_quality": (0.7, 10, 95, 95), "contrast": (0.3, 0.5, 1.0, 1.0),
                    "saturation": (0.6, 0.0, 1.0, 1.0), "downscale": (0.5, 0.25, 1.0, 1.0)}, 1, "s"),
}


def _reference(rng: np.random.Generator) -> Image.Image:
    """Gradient background, fine colour texture and sharp shapes: edges everywhere, so every
    patch shows how blurred, noisy or blocky its image is."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH] / max(WIDTH, HEIGHT)
    c0, c1 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    t = (x * rng.uniform(-1, 1) + y * rng.uniform(-1, 1))[..., None]
    t = (t - t.min()) / (np.ptp(t) + 1e-9)
    img = c0 * (1 - t) + c1 * t
    texture = np.zeros((HEIGHT, WIDTH, 1))
    for _ in range(3):
        f, a, phase = rng.uniform(20, 80), rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
        texture += np.sin(2 * np.pi * f * (x * np.cos(a) + y * np.sin(a)) + phase)[..., None]
    img = np.clip(img + rng.uniform(0.05, 0.2) * texture, 0, 1)
    im = Image.fromarray((img * 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(20, 60))):
        x0, y0 = rng.integers(0, WIDTH), rng.integers(0, HEIGHT)
        w, h = rng.integers(8, 120, 2)
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        box = [int(x0), int(y0), int(x0 + w), int(y0 + h)]
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
    return im


def _levels(rng: np.random.Generator, mix: Mix) -> dict:
    levels = {}
    for name, (p, lo, hi, off) in mix.levels.items():
        levels[name] = float(rng.uniform(lo, hi)) if rng.random() < p else off
    levels["jpeg_quality"] = int(levels["jpeg_quality"])
    return levels


def mos_from_levels(lv: dict) -> float:
    """The noise-free MOS of the module docstring (a level a mix lacks counts as absent)."""
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
    a += rng.normal(0, lv["noise_std"], a.shape) if lv["noise_std"] > 0 else 0
    im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=lv["jpeg_quality"])
    return buf.getvalue()


def make_synthetic(out: str | Path, n: int, seed: int = 0, mix: str = "default") -> Path:
    """Write `n` images of a `MIXES` mix and their label file under `out`; same (n, seed, mix): same bytes."""
    if n < 10:
        raise ValueError(f"--n must be at least 10, got {n}")
    if mix not in MIXES:
        raise ValueError(f"unknown synthetic mix {mix!r}; known: {sorted(MIXES)}")
    m = MIXES[mix]
    out = Path(out)
    image_dir = out / f"{WIDTH}x{HEIGHT}"
    image_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        rng = np.random.default_rng([seed, i] if m.stream is None else [seed, i, m.stream])
        lv = _levels(rng, m)
        name = f"{m.prefix}{seed:04d}{i:06d}.jpg"
        (image_dir / name).write_bytes(_degrade(_reference(rng), lv, rng))
        mos = float(np.clip(mos_from_levels(lv) + rng.normal(0, 3), 1, 100))
        # Simulated 1-5 ratings around the MOS, for KonIQ's distribution columns.
        ratings = np.clip(np.rint(1 + 4 * mos / 100 + rng.normal(0, 0.7, RATERS)), 1, 5)
        counts = np.bincount(ratings.astype(int), minlength=6)[1:]
        split = rng.choice(["training", "validation", "test"], p=[0.7, 0.1, 0.2])
        rows.append({"image_name": name, **{f"c{k + 1}": counts[k] / RATERS for k in range(5)},
                     "c_total": RATERS, "MOS": round(mos, 4), "SD": round(float(ratings.std()), 4),
                     "set": split, **lv})
    table = pd.DataFrame(rows)
    cols = ["image_name", "c1", "c2", "c3", "c4", "c5", "c_total", "MOS", "SD", "set"]
    table[cols].to_csv(out / "koniq10k_distributions_sets.csv", index=False)
    # The degradation levels behind each MOS, for anyone checking the generator.
    table[["image_name", *m.levels, "MOS"]].to_csv(out / "synthetic_levels.csv", index=False)
    return out
