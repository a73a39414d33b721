"""Synthetic datasets in the release layouts of KonIQ-10k, SPAQ, KADID-10k and AGIQA-3K.

A rehearsal of a real study (`rehearsal:` in a study config) must read its data through the same
loaders, file names and folders as the real thing. These writers put the synthetic generator's images
(`iqa.data.synthetic`) where each release puts its own, with the release's label file and columns:

- koniq10k: `koniq10k_scores_and_distributions.csv` (image_name, c1..c5 rating counts, c_total, MOS on
  1-5, SD, MOS_zscore on 0-100) and 1024 x 768 JPEGs under `1024x768/`;
- spaq: `Annotations/MOS and Image attribute scores.xlsx` (Image name, MOS 0-100, five attributes) and
  `TestImage/00001.jpg`..., photos of three aspect ratios, some landscape images stored rotated with an
  EXIF orientation tag as phones store them;
- kadid10k: `dmos.csv` (dist_img, ref_img, dmos on 1-5, var) and PNGs `images/I01_01_01.png`...;
- agiqa3k: `data.csv` (name, prompt, adj1, adj2, style, mos_quality, std_quality, mos_align, std_align)
  and the images under `images/`.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from iqa.data.synthetic import synthetic_images

LABEL_FILES = {"koniq10k": "koniq10k_scores_and_distributions.csv",
               "spaq": "Annotations/MOS and Image attribute scores.xlsx",
               "kadid10k": "dmos.csv", "agiqa3k": "data.csv"}
SPAQ_SIZES = ((400, 300), (300, 400), (480, 270))  # 4:3, 3:4 and 16:9 photos
EXIF_ORIENTATION = 0x0112


def _decoded(jpeg: bytes) -> Image.Image:
    return Image.open(io.BytesIO(jpeg)).convert("RGB")


def _koniq(out: Path, images) -> None:
    (out / "1024x768").mkdir(parents=True, exist_ok=True)
    rows = []
    for name, jpeg, mos, counts, _, _ in images:
        _decoded(jpeg).resize((1024, 768), Image.BICUBIC).save(out / "1024x768" / name, quality=90)
        ratings = np.repeat(np.arange(1, 6), counts)
        rows.append({"image_name": name, **{f"c{k + 1}": int(counts[k]) for k in range(5)},
                     "c_total": int(counts.sum()), "MOS": round(float(ratings.mean()), 4),
                     "SD": round(float(ratings.std()), 4), "MOS_zscore": round(mos, 5)})
    pd.DataFrame(rows).to_csv(out / LABEL_FILES["koniq10k"], index=False)


def _spaq(out: Path, images) -> None:
    (out / "TestImage").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (_, jpeg, mos, _, _, rng) in enumerate(images):
        name = f"{i + 1:05d}.jpg"
        im = _decoded(jpeg).resize(SPAQ_SIZES[i % len(SPAQ_SIZES)], Image.BICUBIC)
        exif = Image.Exif()
        if i % 4 == 3:  # stored rotated, shown upright by its orientation tag (6: rotate 90 clockwise)
            im, exif[EXIF_ORIENTATION] = im.transpose(Image.Transpose.ROTATE_90), 6
        im.save(out / "TestImage" / name, quality=90, exif=exif)
        rows.append({"Image name": name, "MOS": round(mos, 2),
                     **{a: round(float(rng.uniform(10, 90)), 2)
                        for a in ("Brightness", "Colorfulness", "Contrast", "Noisiness", "Sharpness")}})
    (out / "Annotations").mkdir(exist_ok=True)
    pd.DataFrame(rows).to_excel(out / LABEL_FILES["spaq"], index=False)


def _kadid(out: Path, images) -> None:
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (_, jpeg, mos, counts, _, _) in enumerate(images):
        ref, kind, level = i // 5 + 1, i % 5 + 1, 1
        name = f"I{ref:02d}_{kind:02d}_{level:02d}.png"
        _decoded(jpeg).save(out / "images" / name)
        ratings = np.repeat(np.arange(1, 6), counts)
        rows.append({"dist_img": name, "ref_img": f"I{ref:02d}.png", "dmos": round(1 + 4 * mos / 100, 3),
                     "var": round(float(ratings.var()), 3)})
    pd.DataFrame(rows).to_csv(out / LABEL_FILES["kadid10k"], index=False)


def _agiqa3k(out: Path, images) -> None:
    (out / "images").mkdir(parents=True, exist_ok=True)
    generators = ("AttnGAN", "midjourney", "sd1.5")
    rows = []
    for i, (_, jpeg, mos, _, _, rng) in enumerate(images):
        name = f"{generators[i % 3]}_normal_{i:03d}.jpg"
        (out / "images" / name).write_bytes(jpeg)
        rows.append({"name": name, "prompt": "a tray of sushi", "adj1": "", "adj2": "", "style": "",
                     "mos_quality": round(5 * mos / 100, 4), "std_quality": 0.6,
                     "mos_align": round(float(rng.uniform(1, 5)), 4), "std_align": 0.7})
    pd.DataFrame(rows).to_csv(out / LABEL_FILES["agiqa3k"], index=False)


WRITERS = {"koniq10k": _koniq, "spaq": _spaq, "kadid10k": _kadid, "agiqa3k": _agiqa3k}


def write_release(kind: str, out: str | Path, n: int, seed: int = 0, mix: str = "default") -> Path:
    """`n` synthetic images of `mix` written as dataset `kind` releases them; returns the label file."""
    if kind not in WRITERS:
        raise ValueError(f"no release layout for dataset kind {kind!r}; known: {sorted(WRITERS)}")
    out = Path(out)
    WRITERS[kind](out, synthetic_images(n, seed, mix))
    return out / LABEL_FILES[kind]
