"""External IQA test sets read in the formats their authors release, all returned as a `data.Dataset`.

`load_dataset(kind, root, **options)` picks a loader from `LOADERS`. Every loader does the KonIQ
loader's checks before any image is decoded: label file and image folder present, columns present,
every score a finite number, every image named once, no path escaping the image folder, every image
file present; each error names the file and the row (as an editor or MATLAB numbers it). Scores keep
each dataset's own scale, higher always better; the label file's other columns are kept in
`Dataset.extra`. Images are addressed by name relative to `Dataset.image_dir`, so hashing, the
decoded-image cache and scoring work unchanged.
"""
from __future__ import annotations

import inspect
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io

from iqa.data.dataset import (
    DataError,
    Dataset,
    ResizePolicy,
    check_images,
    check_labels,
    check_names,
    check_scores,
    csv_row,
    load_koniq,
    read_label_csv,
)

SPAQ_LABELS = ("MOS and Image attribute scores.xlsx", "MOS and Image attribute scores.csv")
SPAQ_LABEL_DIRS = ("Annotations", ".")
AGIQA_IMAGE_DIRS = ("images", "Images", "AGIQA-3K", "AGIQA-3k", ".")
LIVEC_TRAINING = 7  # entries 1-7 of the .mat files: the release's training images (Images/trainingImages/)
STRETCH = ResizePolicy()  # the default policy: images already share one aspect ratio


def _root(root: str | Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset root not found: {root}")
    return root


def _folder(root: Path, name: str, label_file: Path) -> Path:
    """A folder that must lie inside the dataset root."""
    folder = root / name
    if not folder.resolve().is_relative_to(root.resolve()):
        raise DataError(f"{label_file}: image folder {name!r} escapes the dataset root {root}")
    if not folder.is_dir():
        raise DataError(f"{root}: image folder not found: {folder}")
    return folder


def _extra(table: pd.DataFrame, *used: str) -> pd.DataFrame | None:
    rest = table.drop(columns=list(used)).reset_index(drop=True)
    return rest if len(rest.columns) else None


def _from_table(root: Path, label_file: Path, image_dir: Path, table: pd.DataFrame, name_col: str,
                score_col: str, policy: ResizePolicy = STRETCH,
                row: Callable[[int], str] = csv_row) -> Dataset:
    """Check a label table and its images, then build the Dataset."""
    names, mos = check_labels(label_file, table, name_col, score_col, row)
    check_images(label_file, image_dir, names, row)
    return Dataset(root, label_file, image_dir, names, mos, None, policy, _extra(table, name_col, score_col))


def load_spaq(root: str | Path, label_file: str | None = None, shorter_side: int = 512) -> Dataset:
    """SPAQ (Fang et al., CVPR 2020): 11,125 smartphone photos with a MOS of 0-100.

    Release layout: `Annotations/MOS and Image attribute scores.xlsx` (columns `Image name`, `MOS`,
    `Brightness`, `Colorfulness`, `Contrast`, `Noisiness`, `Sharpness`) and the photos in
    `TestImage/` (`00001.jpg` ...). A CSV export of the same sheet (same name, `.csv`) is read
    too; `label_file` (relative to the root) names another. The attribute scores go to `extra`.

    Resize policy: the photos are large (most about 4000x3000) and differ in aspect ratio and
    orientation, while the decoded-image cache holds one fixed size. Each photo is shown as a viewer
    shows it (EXIF orientation applied), scaled so its shorter side is `shorter_side` (512, as the
    SPAQ authors' own models see it), and its longer side is centre-cropped to the same length:
    every image becomes `shorter_side` x `shorter_side`. A 4:3 photo keeps 75 % of its longer side,
    a 16:9 one 56 %; nothing is stretched and no padding enters the crops.
    """
    root = _root(root)
    if label_file is not None:
        path = root / label_file
    else:
        found = [root / d / f for d in SPAQ_LABEL_DIRS for f in SPAQ_LABELS if (root / d / f).is_file()]
        if not found:
            raise DataError(f"{root}: no SPAQ label file; expected one of {list(SPAQ_LABELS)} "
                            f"in {[str(root / d) for d in SPAQ_LABEL_DIRS]}")
        path = found[0]
    table = _read_sheet(path, "Image name")
    image_dir = _folder(root, "TestImage", path)
    policy = ResizePolicy("crop", (shorter_side, shorter_side))
    return _from_table(root, path, image_dir, table, "Image name", "MOS", policy)


def _read_sheet(path: Path, name_col: str) -> pd.DataFrame:
    """The first sheet of an .xlsx workbook, or a CSV; names read as text."""
    if path.suffix.lower() != ".xlsx":
        return read_label_csv(path, name_col)
    if not path.is_file():
        raise DataError(f"label file not found: {path}")
    try:
        return pd.read_excel(path, sheet_name=0, dtype={name_col: str}, engine="openpyxl")
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise DataError(f"{path}: not a readable .xlsx workbook ({e})") from None


def load_kadid(root: str | Path) -> Dataset:
    """KADID-10k (Lin et al., QoMEX 2019): 10,125 distorted images of 81 references.

    Release layout: `dmos.csv` (`dist_img`, `ref_img`, `dmos`, `var`) and `images/`. Despite its
    name, `dmos` is a mean opinion score on the 1-5 degradation scale, where 5 is imperceptible
    distortion: higher is better (the mildest level of a distortion has the highest values), so it
    is used as is. `ref_img` and `var` go to `extra`.
    """
    root = _root(root)
    label_file = root / "dmos.csv"
    table = read_label_csv(label_file, "dist_img")
    return _from_table(root, label_file, _folder(root, "images", label_file), table, "dist_img", "dmos")


def load_agiqa3k(root: str | Path, image_dir: str | None = None) -> Dataset:
    """AGIQA-3K (Li et al., 2023): 2,982 AI-generated images with quality and alignment MOS.

    Release layout: `data.csv` (`name`, `prompt`, `adj1`, `adj2`, `style`, `mos_quality`,
    `std_quality`, `mos_align`, `std_align`) and the images, unpacked into a folder whose name
    varies between copies: `image_dir` names it, else the first of `images/`, `Images/`, `AGIQA-3K/`,
    `AGIQA-3k/` or the root itself that holds the first listed image. The score is `mos_quality`;
    the prompt, its adjectives and style, and the alignment MOS stay available in `extra`.
    """
    root = _root(root)
    label_file = root / "data.csv"
    table = read_label_csv(label_file, "name")
    folder = _folder(root, image_dir or _agiqa_image_dir(root, table, label_file), label_file)
    return _from_table(root, label_file, folder, table, "name", "mos_quality")


def _agiqa_image_dir(root: Path, table: pd.DataFrame, label_file: Path) -> str:
    """The first candidate folder that holds the first listed image."""
    if "name" not in table.columns:
        raise DataError(f"{label_file}: missing column(s) ['name']; has {list(table.columns)}")
    first = check_names(label_file, table["name"], "name")[0]
    found = next((d for d in AGIQA_IMAGE_DIRS if (root / d / first).is_file()), None)
    if found is None:
        raise DataError(f"{root}: no image folder holding {first}; "
                        f"expected one of {list(AGIQA_IMAGE_DIRS)} or the image_dir option")
    return found


def load_live_challenge(root: str | Path, include_training: bool = False) -> Dataset:
    """LIVE In the Wild Image Quality Challenge (Ghadiyaram and Bovik, 2016): 1,162 photos, MOS 0-100.

    Release layout: `Data/AllImages_release.mat` (names), `Data/AllMOS_release.mat` (MOS, same
    order), optional `Data/AllStdDev_release.mat`, and the photos in `Images/`. The first 7 entries
    are the release's training images, stored apart in `Images/trainingImages/`; the usual protocol
    (and the database paper's 1,162 images) leaves them out, and so does this loader unless
    `include_training` is set, when they are read from that folder. Errors name the entry as
    MATLAB numbers it (1-based, training images included). The standard deviation, when
    present, goes to `extra` as `AllStdDev_release`.
    """
    root = _root(root)
    data = root / "Data"
    names_file, mos_file = data / "AllImages_release.mat", data / "AllMOS_release.mat"
    names = [_mat_name(names_file, i, x) for i, x in enumerate(_mat_vector(names_file, "AllImages_release"))]
    table = pd.DataFrame({"AllImages_release": names})
    table["AllMOS_release"] = _mat_column(mos_file, "AllMOS_release", len(names), names_file)
    std_file = data / "AllStdDev_release.mat"
    if std_file.is_file():
        table["AllStdDev_release"] = _mat_column(std_file, "AllStdDev_release", len(names), names_file)
    first = 0
    if include_training:
        training = table["AllImages_release"][:LIVEC_TRAINING]
        table.loc[:LIVEC_TRAINING - 1, "AllImages_release"] = "trainingImages/" + training
    else:
        first = LIVEC_TRAINING
        table = table.iloc[first:]

    def entry(i: int) -> str:
        return f"entry {i + first + 1}"

    # names are checked against the file that lists them, scores against theirs
    names = check_names(names_file, table["AllImages_release"], "AllImages_release", entry)
    mos = check_scores(mos_file, table["AllMOS_release"], "AllMOS_release", names, entry)
    image_dir = _folder(root, "Images", names_file)
    check_images(names_file, image_dir, names, entry)
    extra = _extra(table, "AllImages_release", "AllMOS_release")
    return Dataset(root, mos_file, image_dir, names, mos, None, STRETCH, extra)


def _mat_vector(path: Path, key: str) -> np.ndarray:
    """One variable of a MATLAB file, flattened (the release stores 1 x N rows and N x 1 cells)."""
    if not path.is_file():
        raise DataError(f"label file not found: {path}")
    try:
        mat = scipy.io.loadmat(path)
    except (scipy.io.matlab.MatReadError, ValueError, OSError, TypeError) as e:
        raise DataError(f"{path}: not a readable MATLAB file ({e})") from None
    if key not in mat:
        raise DataError(f"{path}: no variable {key!r}; has {[k for k in mat if not k.startswith('__')]}")
    return np.ravel(mat[key])


def _mat_name(path: Path, i: int, cell) -> str:
    """The text of one cell-array entry (loadmat gives each as a 1-element string array)."""
    text = np.ravel(cell)
    if text.size != 1 or not isinstance(text[0], str):
        raise DataError(f"{path}: entry {i + 1}: not an image name: {cell!r}")
    return str(text[0])


def _mat_column(path: Path, key: str, n: int, names_file: Path) -> np.ndarray:
    values = _mat_vector(path, key)
    if values.dtype == object:  # a cell array: each entry is its own array; unwrap the one value it holds
        values = np.array([x.item() if np.size(x) == 1 else x for x in values], dtype=object)
    if len(values) != n:
        raise DataError(f"{path}: {len(values)} values of {key!r} for the {n} images of {names_file}")
    return values


def load_csv(root: str | Path, label_file: str = "labels.csv", image_column: str = "image",
             score_column: str = "score", image_dir: str = ".") -> Dataset:
    """Any set as a CSV of image paths and scores (higher is better), both relative to the root.

    `image_dir` (relative to the root, default the root itself) is where the paths start; the
    CSV's other columns go to `extra`.
    """
    root = _root(root)
    path = root / label_file
    table = read_label_csv(path, image_column)
    return _from_table(root, path, _folder(root, image_dir, path), table, image_column, score_column)


LOADERS: dict[str, Callable[..., Dataset]] = {
    "koniq10k": load_koniq,
    "spaq": load_spaq,
    "kadid10k": load_kadid,
    "agiqa3k": load_agiqa3k,
    "live_challenge": load_live_challenge,
    "csv": load_csv,
}


def load_dataset(kind: str, root: str | Path, **options) -> Dataset:
    """The dataset at `root` in the release format `kind` (a key of LOADERS), with that loader's options."""
    if kind not in LOADERS:
        raise DataError(f"unknown dataset kind {kind!r}; known: {sorted(LOADERS)}")
    known = list(inspect.signature(LOADERS[kind]).parameters)[1:]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise DataError(f"unknown option(s) {unknown} for dataset kind {kind!r}; known: {known}")
    return LOADERS[kind](root, **options)
