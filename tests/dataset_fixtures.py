"""Tiny datasets in each external release format, with the real file names, headers and file types.

Each `Format` writes one dataset and reads / rewrites its label table, so one test can break any
format's labels the same way. Rows are counted in the file's own terms: `row(i)` is how an editor
(CSV, spreadsheet) or MATLAB (the LIVE Challenge .mat files) numbers table row i.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io
from PIL import Image

N = 10  # images in every fixture as loaded


def _image(path: Path, i: int, size=(48, 36)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (i * 23 % 256, 90, 40)).save(path)


def _csv_row(i: int) -> str:
    return f"row {i + 2}"


# ---- SPAQ: Annotations/MOS and Image attribute scores.xlsx (or .csv) + TestImage/00001.jpg ...

SPAQ_SHEET = "Annotations/MOS and Image attribute scores.xlsx"
SPAQ_SIZES = [(64, 48), (48, 64), (64, 36)]  # 4:3, 3:4 and 16:9 photos


def spaq_table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"Image name": [f"{i + 1:05d}.jpg" for i in range(N)],
                          "MOS": np.round(np.linspace(12.5, 91.2, N), 2)})
    for attribute in ("Brightness", "Colorfulness", "Contrast", "Noisiness", "Sharpness"):
        table[attribute] = np.round(rng.uniform(10, 90, N), 2)
    return table


def write_spaq(root: Path, sheet: str = SPAQ_SHEET) -> Path:
    for i in range(N):
        _image(root / "TestImage" / f"{i + 1:05d}.jpg", i, SPAQ_SIZES[i % len(SPAQ_SIZES)])
    save_sheet(root / sheet, spaq_table())
    return root


def read_sheet(path: Path) -> pd.DataFrame:
    if path.suffix == ".xlsx":
        return pd.read_excel(path, dtype={"Image name": str})
    return pd.read_csv(path, dtype={"Image name": str})


def save_sheet(path: Path, table: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".xlsx":
        table.to_excel(path, index=False)  # a real workbook, written by openpyxl
    else:
        table.to_csv(path, index=False)


# ---- KADID-10k: dmos.csv (dist_img, ref_img, dmos, var) + images/I01_01_01.png ...

def write_kadid(root: Path) -> Path:
    rows = []
    for i in range(N):
        ref, kind, level = i // 5 + 1, 1, i % 5 + 1
        name = f"I{ref:02d}_{kind:02d}_{level:02d}.png"
        _image(root / "images" / name, i)
        rows.append((name, f"I{ref:02d}.png", round(4.6 - 0.8 * (level - 1), 2), 0.5))
    for ref in (1, 2):
        _image(root / "images" / f"I{ref:02d}.png", 99)
    pd.DataFrame(rows, columns=["dist_img", "ref_img", "dmos", "var"]).to_csv(root / "dmos.csv", index=False)
    return root


# ---- AGIQA-3K: data.csv + images in a folder

AGIQA_COLUMNS = ["name", "prompt", "adj1", "adj2", "style", "mos_quality", "std_quality", "mos_align",
                 "std_align"]


def write_agiqa3k(root: Path, folder: str = "images") -> Path:
    models = ["AttnGAN", "midjourney", "sd1.5"]
    rows = []
    for i in range(N):
        name = f"{models[i % 3]}_normal_{i:03d}.jpg"
        _image(root / folder / name, i)
        style = "anime style" if i % 2 else ""
        prompt = f"a cat doing karaoke, {style}" if style else "a tray of sushi"
        rows.append((name, prompt, "warm color" if i % 3 == 0 else "", "", style,
                     round(0.5 + 0.3 * i, 4), 0.6, round(2.5 - 0.1 * i, 4), 0.7))
    pd.DataFrame(rows, columns=AGIQA_COLUMNS).to_csv(root / "data.csv", index=False)
    return root


# ---- LIVE Challenge: Data/AllImages_release.mat, Data/AllMOS_release.mat + Images/, Images/trainingImages/

LIVEC_NAMES = "Data/AllImages_release.mat"
LIVEC_MOS = "Data/AllMOS_release.mat"
LIVEC_TRAINING = 7


def livec_table() -> pd.DataFrame:
    names = [f"t{i + 1}.bmp" for i in range(LIVEC_TRAINING)] + [f"{100 + i}.bmp" for i in range(N)]
    mos = np.round(np.linspace(5.0, 95.0, len(names)), 3)
    return pd.DataFrame({"AllImages_release": names, "AllMOS_release": mos,
                         "AllStdDev_release": np.full(len(names), 18.5)})


def write_live_challenge(root: Path) -> Path:
    table = livec_table()
    for i, name in enumerate(table["AllImages_release"]):
        folder = "Images/trainingImages" if i < LIVEC_TRAINING else "Images"
        _image(root / folder / name, i)
    save_mats(root, table)
    return root


def read_mats(root: Path) -> pd.DataFrame:
    names = scipy.io.loadmat(root / LIVEC_NAMES)["AllImages_release"]
    table = pd.DataFrame({"AllImages_release": [str(np.ravel(x)[0]) for x in np.ravel(names)]})
    for key in ("AllMOS_release", "AllStdDev_release"):
        table[key] = np.ravel(scipy.io.loadmat(root / f"Data/{key}.mat")[key])
    return table


def save_mats(root: Path, table: pd.DataFrame) -> None:
    """As the release stores them: names an N x 1 cell array, scores 1 x N rows, one file each."""
    (root / "Data").mkdir(parents=True, exist_ok=True)
    cells = np.empty((len(table), 1), dtype=object)
    for i, name in enumerate(table["AllImages_release"]):
        cells[i, 0] = np.array([name])
    scipy.io.savemat(root / LIVEC_NAMES, {"AllImages_release": cells})
    for key in ("AllMOS_release", "AllStdDev_release"):
        values = {key: table[key].to_numpy(float)[None, :]} if key in table.columns else {}
        scipy.io.savemat(root / f"Data/{key}.mat", values)


# ---- a plain CSV of image paths and scores

def write_csv(root: Path) -> Path:
    rows = []
    for i in range(N):
        name = f"photos/{'a' if i % 2 else 'b'}/{i}.png"
        _image(root / name, i)
        rows.append((name, round(1 + 0.4 * i, 2), f"source {i % 3}"))
    pd.DataFrame(rows, columns=["image", "score", "source"]).to_csv(root / "labels.csv", index=False)
    return root


@dataclass
class Format:
    """One release format: how to write it, where its labels are and how its rows are numbered."""
    kind: str
    write: Callable[[Path], Path]
    label_file: str  # relative to the root
    name_col: str
    score_col: str
    read: Callable[[Path], pd.DataFrame]  # the label table, every row of the file
    save: Callable[[Path, pd.DataFrame], None]
    row: Callable[[int], str] = _csv_row
    first: int = 0  # table rows before the first row the loader keeps
    names_file: str = ""  # the file listing the image names, when not the label file
    options: dict = field(default_factory=dict)


def _csv_format(kind, write, label_file, name_col, score_col) -> Format:
    return Format(kind, write, label_file, name_col, score_col,
                  read=lambda root: pd.read_csv(root / label_file, dtype={name_col: str}),
                  save=lambda root, t: t.to_csv(root / label_file, index=False))


FORMATS = [
    Format("spaq", write_spaq, SPAQ_SHEET, "Image name", "MOS",
           read=lambda root: read_sheet(root / SPAQ_SHEET),
           save=lambda root, t: save_sheet(root / SPAQ_SHEET, t),
           options={"shorter_side": 32}),
    _csv_format("kadid10k", write_kadid, "dmos.csv", "dist_img", "dmos"),
    _csv_format("agiqa3k", write_agiqa3k, "data.csv", "name", "mos_quality"),
    Format("live_challenge", write_live_challenge, LIVEC_MOS, "AllImages_release", "AllMOS_release",
           read=read_mats, save=save_mats, row=lambda i: f"entry {i + 1}", first=LIVEC_TRAINING,
           names_file=LIVEC_NAMES),
    _csv_format("csv", write_csv, "labels.csv", "image", "score"),
]
