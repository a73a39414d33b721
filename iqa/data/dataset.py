"""Datasets: the KonIQ-10k loader, the checks every loader shares, splits, hashes and the decoded-image cache.

The official KonIQ-10k release ships `koniq10k_scores_and_distributions.csv` (`image_name`, `MOS_zscore`)
or `koniq10k_distributions_sets.csv` (`image_name`, `MOS`, `set`), and images under
`1024x768/` or `512x384/`. The synthetic set (`iqa make-synthetic`) is written the same way.
Loaders for other release formats are in `datasets.py`; all of them return a `Dataset`.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import ExifTags, Image, ImageOps

from iqa.config import DataConfig
from iqa.core.errors import DataError

LABEL_FILES = (("koniq10k_scores_and_distributions.csv", "MOS_zscore"),
               ("koniq10k_distributions_sets.csv", "MOS"))
IMAGE_DIRS = ("1024x768", "512x384")
OFFICIAL_SETS = {"training": "train", "validation": "val", "test": "test"}
CACHE_VERSION = "2"  # 2: the decoding rule of `as_shown` (EXIF orientation, 16-bit) on every path


RESIZE_MODES = ("stretch", "crop")


@dataclass(frozen=True)
class ResizePolicy:
    """How every image of a dataset becomes the one (width, height) of the decoded-image cache.

    - 'stretch': resize straight to (width, height). Right for KonIQ-10k, whose images are all 4:3.
    - 'crop': keep the aspect ratio, as a photo viewer shows the image (EXIF orientation applied):
      scale the image until it covers (width, height), then cut the centre. With a square size S x S
      this is "shorter side to S, longer side centre-cropped to S", whatever the orientation.

    `size` is the dataset's own (width, height); None leaves it to the caller (config `data.resize`).
    """
    mode: str = "stretch"
    size: tuple[int, int] | None = None

    def __post_init__(self):
        if self.mode not in RESIZE_MODES:
            raise ValueError(f"resize mode must be one of {RESIZE_MODES}, got {self.mode!r}")
        if self.size is not None and not (len(self.size) == 2 and all(int(x) == x > 0 for x in self.size)):
            raise ValueError(f"resize size must be (width, height) in pixels, got {self.size!r}")


@dataclass
class Dataset:
    root: Path
    label_file: Path
    image_dir: Path
    names: list[str]
    mos: np.ndarray  # float32, one per image, label-file order; higher is better
    sets: list[str] | None  # official split ('train' | 'val' | 'test') when the file has a `set` column
    resize_policy: ResizePolicy = ResizePolicy()
    extra: pd.DataFrame | None = None  # the label file's other columns, one row per image, same order

    def path(self, i: int) -> Path:
        return self.image_dir / self.names[i]

    def image_size(self, default: tuple[int, int]) -> tuple[int, int]:
        """(width, height) to decode to: the dataset's own size when its policy has one, else `default`."""
        return self.resize_policy.size or tuple(default)


def csv_row(i: int) -> str:
    """Where table row i is in a CSV or spreadsheet with one header line, as an editor numbers lines."""
    return f"row {i + 2}"


def read_label_csv(label_file: Path, name_col: str) -> pd.DataFrame:
    """A label CSV with its image-name column read as text (so `00001.jpg`-style names keep their zeros)."""
    if not label_file.is_file():
        raise DataError(f"label file not found: {label_file}")
    try:
        return pd.read_csv(label_file, dtype={name_col: str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"{label_file}: not a readable CSV ({e})") from None


def check_labels(label_file: Path, table: pd.DataFrame, name_col: str, score_col: str,
                 row: Callable[[int], str] = csv_row) -> tuple[list[str], np.ndarray]:
    """Image names and float32 scores of a label table, checked: both columns present, every name given
    and listed once, every score a finite number. Errors name the file and `row(i)` of the bad row."""
    missing = [c for c in (name_col, score_col) if c not in table.columns]
    if missing:
        raise DataError(f"{label_file}: missing column(s) {missing}; has {list(table.columns)}")
    names = check_names(label_file, table[name_col], name_col, row)
    return names, check_scores(label_file, table[score_col], score_col, names, row)


def check_names(label_file: Path, column: pd.Series, name_col: str,
                row: Callable[[int], str] = csv_row) -> list[str]:
    """At least one image, every image named, and named once."""
    names = column.reset_index(drop=True)
    if names.empty:
        raise DataError(f"{label_file}: lists no images (a header but no rows); add one row per image")
    blank = names.isna() | (names.astype(str).str.strip() == "")
    if blank.any():
        i = int(np.flatnonzero(blank)[0])
        raise DataError(f"{label_file}: {row(i)}: no image name in column {name_col!r}")
    names = names.astype(str)
    repeated = names.duplicated()
    if repeated.any():
        i = int(np.flatnonzero(repeated)[0])
        first = int(np.flatnonzero(names == names[i])[0])
        raise DataError(f"{label_file}: {row(i)}: image {names[i]} is listed more than once "
                        f"(first at {row(first)})")
    return names.tolist()


def check_scores(label_file: Path, column: pd.Series, score_col: str, names: list[str],
                 row: Callable[[int], str] = csv_row) -> np.ndarray:
    """Every score a finite number (in float32 too); returned as float32."""
    raw = column.reset_index(drop=True)
    mos = pd.to_numeric(raw, errors="coerce").to_numpy(np.float64)
    with np.errstate(over="ignore"):
        bad = ~np.isfinite(mos.astype(np.float32))  # also catches values too large for float32
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{label_file}: {row(i)} ({names[i]}): {score_col} is not a finite number: "
                        f"{shown(raw[i])}; give a number")
    return mos.astype(np.float32)


def shown(value) -> str:
    """A label value as the file holds it: text quoted, numbers (NaN too) plain, never numpy's repr."""
    return repr(value) if isinstance(value, str) else str(value)


def check_images(label_file: Path, image_dir: Path, names: list[str],
                 row: Callable[[int], str] = csv_row) -> None:
    """Every listed image is a file inside `image_dir`: no path escapes it (`..`, absolute paths)."""
    resolved = image_dir.resolve()
    present = set(os.listdir(image_dir))
    for i, name in enumerate(names):
        p = (image_dir / name).resolve()
        if not p.is_relative_to(resolved):
            raise DataError(f"{label_file}: {row(i)}: image path {name!r} escapes the dataset root "
                            f"{image_dir}")
        if name not in present and not p.is_file():
            raise DataError(f"{label_file}: {row(i)}: image not found: {image_dir / name}")


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

    table = read_label_csv(label_file, "image_name")
    names, mos = check_labels(label_file, table, "image_name", mos_col)
    check_images(label_file, image_dir, names)

    sets = None
    if "set" in table.columns:
        unknown = set(table["set"]) - set(OFFICIAL_SETS)
        if unknown:
            raise DataError(f"{label_file}: column 'set' has unknown value(s) {sorted(map(str, unknown))}")
        sets = [OFFICIAL_SETS[s] for s in table["set"]]
    return Dataset(root, label_file, image_dir, names, mos, sets)


def dataset_hash(ds: Dataset) -> str:
    """sha256 of the label file and the image list (names and byte sizes)."""
    h = hashlib.sha256(ds.label_file.read_bytes())
    for i, name in enumerate(ds.names):
        h.update(f"\n{name}:{ds.path(i).stat().st_size}".encode())
    return h.hexdigest()


def split_sizes(n: int, d: DataConfig) -> tuple[int, int]:
    """Test and validation images of a random split of n images (the rest train)."""
    n_test = round(d.test_fraction * n)
    return n_test, round(d.val_fraction * (n - n_test))


def make_split(ds: Dataset, d: DataConfig) -> dict[str, np.ndarray]:
    """Row indices of train / val / test.

    Random splits order images by sha256(split_seed, split_index, name): the same names land in the
    same part on every machine and whatever the row order of the label file.
    """
    n = len(ds.names)
    if d.split == "official":
        if ds.sets is None:
            raise DataError(f"{ds.label_file}: data.split is 'official' but the file has no 'set' column")
        sets = np.array(ds.sets)
        return {part: np.flatnonzero(sets == part) for part in ("train", "val", "test")}
    key = f"{d.split_seed}:{d.split_index}:"
    order = sorted(range(n), key=lambda i: hashlib.sha256((key + ds.names[i]).encode()).digest())
    n_test, n_val = split_sizes(n, d)
    parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    for part, idx in parts.items():
        if not idx:
            if part == "val" and d.val_fraction == 0:
                continue  # no validation part: a run selected on test (the original protocol)
            raise DataError(f"{ds.root}: the {part} part of the split is empty ({n} images)")
    return {part: np.sort(np.array(idx, dtype=np.int64)) for part, idx in parts.items()}


def split_hash(ds: Dataset, split: dict[str, np.ndarray]) -> str:
    names = {part: sorted(ds.names[i] for i in idx) for part, idx in split.items()}
    return hashlib.sha256(json.dumps(names, sort_keys=True).encode()).hexdigest()


def load_image(path: Path, size: tuple[int, int], mode: str = "stretch") -> np.ndarray:
    """Decode one image to RGB uint8 (H, W, 3) at `size` = (width, height), by a `ResizePolicy` mode.

    Every path that reads an image (the decoded-image cache behind training, evaluation and scoring,
    `iqa predict`, `iqa.results.diagnostics`) decodes it here, by the rule of `as_shown`.
    """
    try:
        with Image.open(path) as im:
            im = as_shown(im, path, size if mode == "stretch" else (max(size),) * 2)
            if mode == "crop":
                im = ImageOps.fit(im, size, Image.BILINEAR)
            elif im.size != size:
                im = im.resize(size, Image.BILINEAR)
            return np.array(im)  # writable: torch.from_numpy warns on a read-only view
    except (OSError, SyntaxError, ValueError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"cannot read image {path}: {e}") from None


def as_shown(im: Image.Image, path: Path, at_least: tuple[int, int] | None = None) -> Image.Image:
    """The one decoding rule: an image as a photo viewer shows it, in 8-bit RGB.

    - EXIF orientation is applied (a photo taken upright is seen upright, whatever its stored pixels).
    - 16-bit images keep their high byte, as Pillow already does for 16-bit RGB PNGs (Pillow itself
      would clip 16-bit greyscale to white). Integer images (16-bit PGMs open so) count as 16-bit
      when their values fit in 16 bits.
    - Every other mode becomes RGB by Pillow's conversion (greyscale repeated, palette looked up, CMYK
      converted, alpha dropped); float images and wider integers have no white level and are refused.
    `at_least` (width, height), for JPEGs: let the decoder downscale by 2/4/8 (much faster), no smaller.
    """
    if at_least is not None:
        turned = im.getexif().get(ExifTags.Base.Orientation) in (5, 6, 7, 8)  # stored sideways
        im.draft("RGB", at_least[::-1] if turned else at_least)
    no_white = (f"cannot read image {path}: mode {im.mode} (32-bit) has no white level; "
                f"save it as 8- or 16-bit")
    if im.mode == "F":
        raise DataError(no_white)
    im = ImageOps.exif_transpose(im)
    if im.mode == "I" or im.mode.startswith("I;16"):
        pixels = np.asarray(im)
        if pixels.min() < 0 or pixels.max() > 65535:
            raise DataError(no_white)
        im = Image.fromarray((pixels >> 8).astype(np.uint8), "L")
    return im.convert("RGB")


def cache_path(ds: Dataset, ds_hash: str, size: tuple[int, int], cache_dir: str | Path | None) -> Path:
    """The decoded-image cache of this dataset as it is on disk now.

    Keyed by the dataset hash and the images' modification times, so an image rewritten in place
    (even at the same byte size) gets a fresh cache instead of a stale one.
    """
    base = Path(cache_dir or os.environ.get("IQA_CACHE") or Path.home() / ".cache" / "iqa")
    key = hashlib.sha256(ds_hash.encode())
    for i in range(len(ds.names)):
        key.update(str(ds.path(i).stat().st_mtime_ns).encode())
    mode = ds.resize_policy.mode
    tag = "" if mode == "stretch" else f"-{mode}"  # stretch caches keep their names from before policies
    return base / f"{ds_hash[:12]}-{key.hexdigest()[:8]}-{size[0]}x{size[1]}{tag}-v{CACHE_VERSION}.npy"


def write_at(fd: int, data: np.ndarray, offset: int) -> None:
    """Write all of `data` at `offset` of an open file (os.pwrite may write less than asked)."""
    view = memoryview(np.ascontiguousarray(data)).cast("B")
    while view:
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done


def decoded_images(ds: Dataset, ds_hash: str, size: tuple[int, int], cache_dir=None,
                   workers: int | None = None) -> np.ndarray:
    """All images decoded and resized once: a (N, H, W, 3) uint8 array, memory-mapped from the cache.

    `size` is (width, height); each image gets there by the dataset's `resize_policy` mode (pass
    `ds.image_size(default)` to use the dataset's own size where it has one).

    Built in parallel on first use and reused by every later run on the same dataset and size.
    Building streams: each thread holds one decoded image at a time, whatever the number of images.
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
    try:
        # Header and (sparse) size via numpy; pixels by positioned writes, not through a writable map:
        # a map keeps every written page resident in this process, the whole cache by the end.
        offset = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape).offset
        per_image = size[0] * size[1] * 3

        def fill(i: int) -> None:
            write_at(fd, load_image(ds.path(i), size, ds.resize_policy.mode), offset + i * per_image)

        with ThreadPoolExecutor(workers or os.cpu_count()) as pool:
            list(pool.map(fill, range(len(ds.names))))
        os.close(fd)
        fd = None
        os.replace(tmp, path)
    finally:
        if fd is not None:
            os.close(fd)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return np.load(path, mmap_mode="r")
