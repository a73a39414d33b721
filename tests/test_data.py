import os
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from iqa import config
from iqa.data.dataset import DataError, dataset_hash, decoded_images, load_koniq, make_split, split_hash


def write_koniq(root, fmt="scores", n=12, folder="1024x768", size=(1024, 768)):
    """A tiny dataset in one of the two official KonIQ-10k release formats."""
    (root / folder).mkdir(parents=True)
    names = [f"{1000 + i}.jpg" for i in range(n)]
    for i, name in enumerate(names):
        Image.new("RGB", size, (i * 20 % 255, 100, 50)).save(root / folder / name)
    if fmt == "scores":  # koniq10k_scores_and_distributions.csv: counts, MOS 1-5, MOS_zscore 0-100
        table = pd.DataFrame({"image_name": names, "c1": 0, "c2": 0, "c3": 25, "c4": 73, "c5": 7,
                              "c_total": 105, "MOS": 3.83, "SD": 0.53,
                              "MOS_zscore": np.linspace(10, 90, n)})
        table.to_csv(root / "koniq10k_scores_and_distributions.csv", index=False)
    else:  # koniq10k_distributions_sets.csv: fractions, MOS 0-100, set
        sets = (["training"] * (n - 4)) + ["validation"] * 2 + ["test"] * 2
        table = pd.DataFrame({"image_name": names, "c1": 0.1, "c2": 0.2, "c3": 0.3, "c4": 0.3, "c5": 0.1,
                              "c_total": 100, "MOS": np.linspace(10, 90, n), "SD": 0.5, "set": sets})
        table.to_csv(root / "koniq10k_distributions_sets.csv", index=False)
    return root


def test_loads_scores_format_and_resizes_to_512x384(tmp_path):
    root = write_koniq(tmp_path / "k", "scores")
    ds = load_koniq(root)
    assert ds.names[0] == "1000.jpg" and ds.sets is None
    assert np.allclose(ds.mos, np.linspace(10, 90, 12))
    images = decoded_images(ds, dataset_hash(ds), (512, 384), tmp_path / "cache")
    assert images.shape == (12, 384, 512, 3) and images.dtype == np.uint8
    assert tuple(images[3, 0, 0]) == (60, 100, 50)
    again = decoded_images(ds, dataset_hash(ds), (512, 384), tmp_path / "cache")  # from the cache
    assert np.array_equal(images, again)


def test_loads_sets_format_with_official_split(tmp_path):
    root = write_koniq(tmp_path / "k", "sets", folder="512x384", size=(512, 384))
    ds = load_koniq(root)
    split = make_split(ds, config.DataConfig(split="official"))
    assert [len(split[p]) for p in ("train", "val", "test")] == [8, 2, 2]


def test_random_split_is_deterministic_and_independent_of_row_order(tmp_path):
    root = write_koniq(tmp_path / "k", "scores", n=40)
    d = config.DataConfig(split_seed=3, split_index=1)
    ds = load_koniq(root)
    a = make_split(ds, d)
    assert [len(a[p]) for p in ("train", "val", "test")] == [29, 3, 8]
    assert not set(a["train"]) & set(a["test"]) and not set(a["val"]) & set(a["test"])
    csv = root / "koniq10k_scores_and_distributions.csv"
    pd.read_csv(csv).iloc[::-1].to_csv(csv, index=False)
    shuffled = load_koniq(root)
    b = make_split(shuffled, d)
    assert split_hash(ds, a) == split_hash(shuffled, b)
    assert split_hash(ds, a) != split_hash(ds, make_split(ds, replace(d, split_index=2)))


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.drop(columns="MOS_zscore"), "missing column"),
    (lambda t: t.assign(MOS_zscore=t.MOS_zscore.where(t.index != 4, np.nan)), "row 6"),
    (lambda t: t.assign(MOS_zscore=t.MOS_zscore.astype(object).where(t.index != 2, "good")), "'good'"),
    (lambda t: t.assign(image_name=t.image_name.where(t.index != 1, "nope.jpg")), "image not found"),
    (lambda t: t.assign(image_name=t.image_name.where(t.index != 0, "../../etc/passwd")), "escapes"),
])
def test_bad_label_files_are_named(tmp_path, edit, message):
    root = write_koniq(tmp_path / "k", "scores")
    csv = root / "koniq10k_scores_and_distributions.csv"
    edit(pd.read_csv(csv)).to_csv(csv, index=False)
    with pytest.raises(DataError, match=message) as e:
        load_koniq(root)
    assert "koniq10k_scores_and_distributions.csv" in str(e.value)


def test_corrupt_image_is_named(tmp_path):
    root = write_koniq(tmp_path / "k", "scores")
    (root / "1024x768" / "1005.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    ds = load_koniq(root)
    with pytest.raises(DataError, match="1005.jpg"):
        decoded_images(ds, dataset_hash(ds), (512, 384), tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*.npy"))  # no half-written cache left behind


def test_missing_label_file_and_image_folder(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_koniq(tmp_path / "absent")
    root = write_koniq(tmp_path / "k", "scores")
    (root / "koniq10k_scores_and_distributions.csv").unlink()
    with pytest.raises(DataError, match="no label file"):
        load_koniq(root)
    root = write_koniq(tmp_path / "k2", "scores")
    shutil.rmtree(root / "1024x768")
    with pytest.raises(DataError, match="no image folder"):
        load_koniq(root)


def test_image_rewritten_in_place_gets_a_fresh_cache(tmp_path):
    root = write_koniq(tmp_path / "k", "scores")
    ds = load_koniq(root)
    before = dataset_hash(ds)
    first = decoded_images(ds, before, (512, 384), tmp_path / "cache")[3].copy()
    target = ds.path(3)
    donor = next(ds.path(i) for i in range(len(ds.names))
                 if i != 3 and ds.path(i).stat().st_size == target.stat().st_size)
    mtime = target.stat().st_mtime_ns
    target.write_bytes(donor.read_bytes())  # same name, same byte size, other pixels
    os.utime(target, ns=(mtime + 10**9, mtime + 10**9))
    assert dataset_hash(ds) == before  # invisible to the hash: only the cache key sees it
    again = decoded_images(ds, before, (512, 384), tmp_path / "cache")[3]
    assert not np.array_equal(first, again)
