import numpy as np
import pandas as pd
import pytest
import scipy.io
from dataset_fixtures import (
    FORMATS,
    LIVEC_MOS,
    LIVEC_TRAINING,
    SPAQ_SHEET,
    N,
    livec_table,
    write_agiqa3k,
    write_csv,
    write_kadid,
    write_live_challenge,
    write_spaq,
)
from PIL import Image

from iqa.data.dataset import DataError, ResizePolicy, dataset_hash, decoded_images, load_image
from iqa.data.external import LOADERS, load_dataset

IDS = [f.kind for f in FORMATS]


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_every_format_loads_its_fixture(tmp_path, fmt):
    root = fmt.write(tmp_path / fmt.kind)
    ds = load_dataset(fmt.kind, root, **fmt.options)
    table = fmt.read(root).iloc[fmt.first:]
    assert ds.names == list(table[fmt.name_col])
    assert ds.mos.dtype == np.float32 and np.allclose(ds.mos, table[fmt.score_col])
    assert len(ds.names) == N and ds.sets is None
    assert all(ds.path(i).is_file() for i in range(N))
    assert list(ds.extra.columns) == [c for c in table.columns if c not in (fmt.name_col, fmt.score_col)]
    assert (root / fmt.label_file).samefile(ds.label_file)


def test_registry_holds_every_format_and_koniq():
    assert set(LOADERS) == {"koniq10k"} | set(IDS)
    with pytest.raises(DataError, match="unknown dataset kind 'tid2013'"):
        load_dataset("tid2013", ".")
    with pytest.raises(DataError, match=r"unknown option\(s\) \['shorter'\] for dataset kind 'spaq'"):
        load_dataset("spaq", ".", shorter=512)


def test_spaq_reads_a_csv_export_and_decodes_to_its_square_policy(tmp_path):
    root = write_spaq(tmp_path / "spaq", sheet=SPAQ_SHEET.replace(".xlsx", ".csv"))
    ds = load_dataset("spaq", root, shorter_side=32)
    assert ds.names[0] == "00001.jpg" and ds.label_file.suffix == ".csv"
    assert ds.resize_policy == ResizePolicy("crop", (32, 32)) and ds.image_size((512, 384)) == (32, 32)
    images = decoded_images(ds, dataset_hash(ds), ds.image_size((512, 384)), tmp_path / "cache")
    assert images.shape == (N, 32, 32, 3)
    assert all(np.array_equal(images[i], load_image(ds.path(i), (32, 32), "crop")) for i in range(N))
    assert abs(int(images[3, 16, 16, 0]) - 3 * 23) <= 2  # image 3's own colour
    assert list((tmp_path / "cache").glob("*-32x32-crop-v*.npy"))


def test_spaq_default_policy_is_shorter_side_512(tmp_path):
    ds = load_dataset("spaq", write_spaq(tmp_path / "spaq"))
    assert ds.resize_policy == ResizePolicy("crop", (512, 512))
    assert list(ds.extra.columns) == ["Brightness", "Colorfulness", "Contrast", "Noisiness", "Sharpness"]


def test_resize_policy_rejects_unknown_modes_and_sizes():
    with pytest.raises(ValueError, match="resize mode"):
        ResizePolicy("pad", (32, 32))
    with pytest.raises(ValueError, match="width, height"):
        ResizePolicy("crop", (0, 0))


def test_crop_keeps_the_centre_and_stretch_keeps_everything(tmp_path):
    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, :20] = (255, 0, 0)
    pixels[:, 20:60] = (0, 255, 0)
    pixels[:, 60:] = (0, 0, 255)
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    crop = load_image(tmp_path / "wide.png", (20, 20), "crop")
    assert crop.shape == (20, 20, 3) and (crop[:, 2:-2] == (0, 255, 0)).all()
    assert crop[..., 0].max() < 128 and crop[..., 2].max() < 128  # sides cut off (the edges blend a little)
    stretch = load_image(tmp_path / "wide.png", (20, 20))
    assert tuple(stretch[10, 0]) == (255, 0, 0) and tuple(stretch[10, -1]) == (0, 0, 255)


def test_crop_shows_the_photo_as_its_exif_orientation_says(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)  # stored landscape: top half red, bottom half blue
    pixels[:10] = (255, 0, 0)
    pixels[10:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated by 90 degrees: the halves become left and right
    Image.fromarray(pixels).save(tmp_path / "turned.png", exif=exif)
    shown = load_image(tmp_path / "turned.png", (10, 10), "crop")
    assert (shown[:, 0] == shown[0, 0]).all() and (shown[:, -1] == shown[0, -1]).all()
    assert not (shown[0, 0] == shown[0, -1]).all()


def test_kadid_keeps_dmos_as_is_higher_is_better(tmp_path):
    ds = load_dataset("kadid10k", write_kadid(tmp_path / "kadid"))
    mildest, strongest = ds.names.index("I01_01_01.png"), ds.names.index("I01_01_05.png")
    assert ds.mos[mildest] > ds.mos[strongest]
    assert list(ds.extra["ref_img"][:2]) == ["I01.png", "I01.png"]


def test_agiqa3k_keeps_prompt_and_alignment_and_finds_its_folder(tmp_path):
    root = write_agiqa3k(tmp_path / "agiqa", folder="AGIQA-3K")
    ds = load_dataset("agiqa3k", root)
    assert ds.image_dir == root / "AGIQA-3K"
    assert ds.extra["prompt"][1] == "a cat doing karaoke, anime style"
    assert np.allclose(ds.extra["mos_align"], pd.read_csv(root / "data.csv")["mos_align"])
    assert load_dataset("agiqa3k", root, image_dir="AGIQA-3K").names == ds.names
    with pytest.raises(DataError, match="image folder not found"):
        load_dataset("agiqa3k", root, image_dir="elsewhere")
    (root / "AGIQA-3K").rename(root / "unknown")
    with pytest.raises(DataError, match="no image folder holding AttnGAN_normal_000.jpg"):
        load_dataset("agiqa3k", root)


def test_live_challenge_leaves_out_the_training_images_unless_asked(tmp_path):
    root = write_live_challenge(tmp_path / "livec")
    ds = load_dataset("live_challenge", root)
    assert ds.names[0] == "100.bmp" and len(ds.names) == N
    with_training = load_dataset("live_challenge", root, include_training=True)
    assert with_training.names[:2] == ["trainingImages/t1.bmp", "trainingImages/t2.bmp"]
    assert len(with_training.names) == N + 7 and with_training.path(0).is_file()
    assert np.allclose(with_training.mos[7:], ds.mos)


def test_live_challenge_files_that_disagree_are_named(tmp_path):
    root = write_live_challenge(tmp_path / "livec")
    (root / "Data" / "AllStdDev_release.mat").unlink()
    assert load_dataset("live_challenge", root).extra is None  # the standard deviations are optional
    scipy.io.savemat(root / "Data" / "AllMOS_release.mat", {"AllMOS_release": np.ones((1, 3))})
    with pytest.raises(DataError, match=r"AllMOS_release.mat: 3 values .* 17 images of .*AllImages_release"):
        load_dataset("live_challenge", root)
    (root / "Data" / "AllMOS_release.mat").write_bytes(b"not a mat file")
    with pytest.raises(DataError, match="AllMOS_release.mat"):
        load_dataset("live_challenge", root)


def test_csv_columns_and_image_folder_are_options(tmp_path):
    root = write_csv(tmp_path / "any")
    table = pd.read_csv(root / "labels.csv").rename(columns={"image": "file", "score": "quality"})
    table["file"] = table["file"].str.removeprefix("photos/")
    table.to_csv(root / "mine.csv", index=False)
    ds = load_dataset("csv", root, label_file="mine.csv", image_column="file", score_column="quality",
                      image_dir="photos")
    assert ds.image_dir == root / "photos" and ds.path(0).is_file()
    with pytest.raises(DataError, match="escapes the dataset root"):
        load_dataset("csv", root, image_dir="..")


def _set(table, col, i, value):
    table[col] = table[col].astype(object)
    table.loc[i, col] = value
    return table


# label edit, table row it breaks (7-9: rows every loader keeps), expected message
BAD_LABELS = {
    "missing column": (lambda t, f, i: t.drop(columns=f.score_col), None, "missing column|no variable"),
    "NaN score": (lambda t, f, i: _set(t, f.score_col, i, np.nan), 8, "is not a finite number"),
    "text score": (lambda t, f, i: _set(t, f.score_col, i, "good"), 9, "'good'"),
    "infinite score": (lambda t, f, i: _set(t, f.score_col, i, np.inf), 7, "is not a finite number"),
    "duplicate name": (lambda t, f, i: _set(t, f.name_col, i, t[f.name_col][i - 1]), 9, "more than once"),
    "no name": (lambda t, f, i: _set(t, f.name_col, i, np.nan), 8, "no image name|not an image name"),
    "escaping path": (lambda t, f, i: _set(t, f.name_col, i, "../../etc/passwd"), 9, "escapes"),
    "absolute path": (lambda t, f, i: _set(t, f.name_col, i, "/etc/passwd"), 8, "escapes"),
    "missing image": (lambda t, f, i: _set(t, f.name_col, i, "nope.jpg"), 7, "image not found"),
}
NAME_CASES = {"duplicate name", "no name", "escaping path", "absolute path", "missing image"}


@pytest.mark.parametrize("case", BAD_LABELS)
@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_bad_labels_name_the_file_and_row(tmp_path, fmt, case):
    if fmt.kind == "live_challenge" and case == "text score":
        pytest.skip("a MATLAB double array cannot hold text")
    edit, i, message = BAD_LABELS[case]
    root = fmt.write(tmp_path / fmt.kind)
    fmt.save(root, edit(fmt.read(root), fmt, i))
    with pytest.raises(DataError, match=message) as e:
        load_dataset(fmt.kind, root, **fmt.options)
    named = fmt.names_file if case in NAME_CASES and fmt.names_file else fmt.label_file
    assert f"{root / named}: " in str(e.value)
    if i is not None:
        assert f"{fmt.row(i)}:" in str(e.value) or f"{fmt.row(i)} (" in str(e.value)


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_missing_label_file_or_root_is_named(tmp_path, fmt):
    root = fmt.write(tmp_path / fmt.kind)
    (root / fmt.label_file).unlink()
    with pytest.raises(DataError, match=fmt.label_file.split("/")[-1]):
        load_dataset(fmt.kind, root, **fmt.options)
    with pytest.raises(DataError, match="dataset root not found"):
        load_dataset(fmt.kind, tmp_path / "absent", **fmt.options)


def test_unreadable_spreadsheet_is_named(tmp_path):
    root = write_spaq(tmp_path / "spaq")
    (root / SPAQ_SHEET).write_bytes(b"PK not really a workbook")
    with pytest.raises(DataError, match="MOS and Image attribute scores.xlsx: not a readable .xlsx"):
        load_dataset("spaq", root)


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_a_label_file_without_rows_is_named(tmp_path, fmt):
    root = fmt.write(tmp_path / fmt.kind)
    fmt.save(root, fmt.read(root).iloc[:0])
    with pytest.raises(DataError, match="lists no images") as e:
        load_dataset(fmt.kind, root, **fmt.options)
    assert str(e.value).startswith(f"{root / (fmt.names_file or fmt.label_file)}: ")


def test_a_koniq_label_file_without_rows_is_named(tmp_path):
    (tmp_path / "1024x768").mkdir()
    (tmp_path / "koniq10k_distributions_sets.csv").write_text("image_name,MOS,set\n")
    with pytest.raises(DataError, match="koniq10k_distributions_sets.csv: lists no images"):
        load_dataset("koniq10k", tmp_path)


def test_a_nan_score_prints_as_the_file_holds_it(tmp_path):
    root = write_kadid(tmp_path / "kadid")
    table = pd.read_csv(root / "dmos.csv")
    table.loc[3, "dmos"] = np.nan
    table.to_csv(root / "dmos.csv", index=False)
    with pytest.raises(DataError, match=r"row 5 \(.*\): dmos is not a finite number: nan; give a number$"):
        load_dataset("kadid10k", root)


def test_live_challenge_mos_as_a_cell_array_blames_the_entry_holding_text(tmp_path):
    root = write_live_challenge(tmp_path / "livec")
    mos = livec_table()["AllMOS_release"]
    cells = np.empty((1, len(mos)), dtype=object)
    for i, value in enumerate(mos):
        cells[0, i] = np.array([[value]])
    cells[0, 9] = np.array(["n/a"])  # entry 10
    scipy.io.savemat(root / LIVEC_MOS, {"AllMOS_release": cells})
    with pytest.raises(DataError, match=r"AllMOS_release.mat: entry 10 \(.*\): .*'n/a'"):
        load_dataset("live_challenge", root)
    cells[0, 9] = np.array([[mos[9]]])
    scipy.io.savemat(root / LIVEC_MOS, {"AllMOS_release": cells})
    assert np.allclose(load_dataset("live_challenge", root).mos, mos[LIVEC_TRAINING:])


@pytest.mark.parametrize("suffix, mode", [(".png", "I;16"), (".tif", "I;16"), (".pgm", "I")])
def test_a_16_bit_greyscale_image_decodes_as_its_8_bit_twin(tmp_path, suffix, mode):
    grey = np.random.default_rng(0).integers(0, 256, (36, 48)).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "8.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / f"16{suffix}")  # the same picture, 16 bits
    assert Image.open(tmp_path / f"16{suffix}").mode == mode
    sixteen = load_image(tmp_path / f"16{suffix}", (48, 36))
    assert np.array_equal(sixteen, load_image(tmp_path / "8.png", (48, 36)))
    assert np.array_equal(sixteen[..., 1], grey)


@pytest.mark.parametrize("mode", ["stretch", "crop"])
def test_every_resize_mode_shows_the_image_as_its_exif_orientation_says(tmp_path, mode):
    pixels = np.random.default_rng(1).integers(0, 256, (24, 32, 3)).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown turned 90 degrees clockwise
    Image.fromarray(pixels).save(tmp_path / "turned.png", exif=exif)
    Image.fromarray(np.rot90(pixels, -1).copy()).save(tmp_path / "upright.png")
    assert np.array_equal(load_image(tmp_path / "turned.png", (24, 32), mode),
                          load_image(tmp_path / "upright.png", (24, 32), mode))


@pytest.mark.parametrize("pixels, mode", [(np.zeros((8, 8), np.float32), "F"),
                                          (np.full((8, 8), 70_000, np.int32), "I")])
def test_a_32_bit_image_is_refused_by_name(tmp_path, pixels, mode):
    Image.fromarray(pixels, mode).save(tmp_path / "wide.tif")
    message = rf"wide.tif: mode {mode} \(32-bit\) has no white level; save it as 8- or 16-bit$"
    with pytest.raises(DataError, match=message):
        load_image(tmp_path / "wide.tif", (8, 8))
