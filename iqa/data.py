"""KonIQ-10k-format datasets: label files, image folders, splits, hashes and the decoded-image cache.

The official release ships `koniq10k_scores_and_distributions.csv` (`image_name`, `MOS_zscore`)
or `koniq10k_distributions_sets.csv` (`image_name`, `MOS`, `set`), and images under
`1024x768/` or `512x384/`. The synthetic set (`iqa make-synthetic`) is written the same way.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

LABEL_FILES = (("koniq10k_scores_and_distributions.csv", "MOS_zscore"),
               ("koniq10k_distributions_sets.csv", "MOS"))
IMAGE_DIRS = ("1024x768", "512x384")
OFFICIAL_SETS = {"training": "train", "validation": "val", "test": "test"}
CACHE_VERSION = "1"


class DataError(ValueError):
    """A dataset file, row or image is missing or malformed; the message names it."""


@dataclass
class Dataset:
    root: Path
    label_file: Path
    image_dir: Path
    names: list[str]
    mos: np.ndarray  # float32, one per image, label-file order
    sets: list[str] | None  # official split ('train' | 'val' | 'test') when the file has a `set` column

    def path(self, i: int) -> Path:
        return self.image_dir / self.names[i]


def load_koniq(root: str | Path) -> Dataset:
    """Read labels and check every image exists, before any decoding."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset root not found: {root}")
    found = [(root / f, col) for f, col in LABEL_FILES if (root / f).is_file()]
    if not found:
        raise DataError(f"{root}: no label file; expected one of {[f for f, _ in LABEL_FILES]}")
    label_file, mos_col = found[0]
    image_dir = next((root / d for d in IMAGE_DIRS if (root / d).is_dir()), None)
    if image_dir is None:
        raise DataError(f"{root}: no image folder; expected one of {list(IMAGE_DIRS)}")

    try:
        table = pd.read_csv(label_file, dtype={"image_name": str})
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise DataError(f"{label_file}: not a readable CSV ({e})") from None
    missing = [c for c in ("image_name", mos_col) if c not in table.columns]
    if missing:
        raise DataError(f"{label_file}: missing column(s) {missing}; has {list(table.columns)}")
    mos = pd.to_numeric(table[mos_col], errors="coerce")
    bad = mos.isna() | ~np.isfinite(mos.fillna(0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{label_file}: row {i + 2} ({table['image_name'][i]}): "
                        f"{mos_col} is not a finite number: {table[mos_col][i]!r}")
    names = [str(n) for n in table["image_name"]]
    dupes = table["image_name"][table["image_name"].duplicated()]
    if len(dupes):
        raise DataError(f"{label_file}: image {dupes.iloc[0]} is listed more than once")

    resolved = image_dir.resolve()
    present = set(os.listdir(image_dir))
    for i, name in enumerate(names):
        p = (image_dir / name).resolve()
        if not p.is_relative_to(resolved):
            raise DataError(f"{label_file}: row {i + 2}: image path {name!r} escapes the dataset root {image_dir}")
        if name not in present and not p.is_file():
            raise DataError(f"{label_file}: row {i + 2}: image not found: {image_dir / name}")

    sets = None
    if "set" in table.columns:
        unknown = set(table["set"]) - set(OFFICIAL_SETS)
        if unknown:
            raise DataError(f"{label_file}: column 'set' has unknown value(s) {sorted(map(str, unknown))}")
        sets = [OFFICIAL_SETS[s] for s in table["set"]]
    return Dataset(root, label_file, image_dir, names, mos.to_numpy(np.float32), sets)


def dataset_hash(ds: Dataset) -> str:
    """sha256 of the label file and the image list (names and byte sizes)."""
    h = hashlib.sha256(ds.label_file.read_bytes())
    for i, name in enumerate(ds.names):
        h.update(f"\n{name}:{ds.path(i).stat().st_size}".encode())
    return h.hexdigest()


def make_split(ds: Dataset, data_cfg: dict) -> dict[str, np.ndarray]:
    """Row indices of train / val / test.

    Random splits order images by sha256(split_seed, split_index, name): the same names land in the
    same part on every machine and whatever the row order of the label file.
    """
    n = len(ds.names)
    if data_cfg["split"] == "official":
        if ds.sets is None:
            raise DataError(f"{ds.label_file}: data.split is 'official' but the file has no 'set' column")
        sets = np.array(ds.sets)
        return {part: np.flatnonzero(sets == part) for part in ("train", "val", "test")}
    key = f"{data_cfg['split_seed']}:{data_cfg['split_index']}:"
    order = sorted(range(n), key=lambda i: hashlib.sha256((key + ds.names[i]).encode()).digest())
    n_test = round(data_cfg["test_fraction"] * n)
    n_val = round(data_cfg["val_fraction"] * (n - n_test))
    parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    for part, idx in parts.items():
        if not idx:
            raise DataError(f"{ds.root}: the {part} part of the split is empty ({n} images)")
    return {part: np.sort(np.array(idx)) for part, idx in parts.items()}


def split_hash(ds: Dataset, split: dict[str, np.ndarray]) -> str:
    names = {part: sorted(ds.names[i] for i in idx) for part, idx in split.items()}
    return hashlib.sha256(json.dumps(names, sort_keys=True).encode()).hexdigest()


def load_image(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Decode one image to RGB uint8 (H, W, 3) at `size` = (width, height)."""
    try:
        with Image.open(path) as im:
            im.draft("RGB", size)  # JPEG: let the decoder downscale by 2/4/8 first (much faster)
            im = im.convert("RGB")
            if im.size != size:
                im = im.resize(size, Image.BILINEAR)
            return np.asarray(im)
    except (OSError, SyntaxError, ValueError) as e:
        raise DataError(f"cannot read image {path}: {e}") from None


def cache_path(ds: Dataset, ds_hash: str, size: tuple[int, int], cache_dir: str | Path | None) -> Path:
    """The decoded-image cache of this dataset as it is on disk now.

    Keyed by the dataset hash and the images' modification times, so an image rewritten in place
    (even at the same byte size) gets a fresh cache instead of a stale one.
    """
    base = Path(cache_dir or os.environ.get("IQA_CACHE") or Path.home() / ".cache" / "iqa")
    key = hashlib.sha256(ds_hash.encode())
    for i in range(len(ds.names)):
        key.update(str(ds.path(i).stat().st_mtime_ns).encode())
    return base / f"{ds_hash[:12]}-{key.hexdigest()[:8]}-{size[0]}x{size[1]}-v{CACHE_VERSION}.npy"


def decoded_images(ds: Dataset, ds_hash: str, size: tuple[int, int], cache_dir=None,
                   workers: int | None = None) -> np.ndarray:
    """All images decoded and resized once: a (N, H, W, 3) uint8 array, memory-mapped from the cache.

    Built in parallel on first use and reused by every later run on the same dataset and size.
    The file appears atomically, so concurrent runs never read a half-written cache.
    """
    path = cache_path(ds, ds_hash, size, cache_dir)
    shape = (len(ds.names), size[1], size[0], 3)
    if path.is_file():
        arr = np.load(path, mmap_mode="r")
        if arr.shape == shape:
            return arr
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
    os.close(fd)
    try:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)

        def fill(i: int) -> None:
            arr[i] = load_image(ds.path(i), size)

        with ThreadPoolExecutor(workers or os.cpu_count()) as pool:
            list(pool.map(fill, range(len(ds.names))))
        arr.flush()
        del arr
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return np.load(path, mmap_mode="r")
