"""The `iqa` command as a user meets it: conventions, odd images, bad files, one-line errors."""
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from iqa import config
from iqa.cli import build_parser, main
from iqa.models.builder import build_model
from iqa.models.saved import save_model


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """An untrained nano model as `iqa train` saves one (scores are arbitrary but deterministic)."""
    cfg = config.RunConfig.from_dict({
        "name": "t", "model": {"name": "swin_hyperiqa", "size": "nano", "drop_path_rate": 0.0,
                               "hyper_dropout": 0.0, "target_dropout": 0.0},
        "data": {"patch_size": 64, "resize": [96, 72], "test_crops": "random:4"}})
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "model.safetensors"
    save_model(path, build_model(cfg.model), cfg)
    return path


def picture(seed=0, shape=(72, 96, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


def predict(model_file, *images, out) -> dict[str, float]:
    """Image -> score at full precision (the CSV's), from `iqa predict ... --out`."""
    assert main(["predict", str(model_file), *map(str, images), "--device", "cpu", "--out", str(out)]) == 0
    return dict(pd.read_csv(out).itertuples(index=False))


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    return err.strip()


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("iqa ")


def test_predict_scores_a_folder_into_a_csv_and_never_overwrites_it(model_file, tmp_path, capsys):
    for i in range(3):
        Image.fromarray(picture(i)).save(tmp_path / f"{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    out = tmp_path / "scores.csv"
    assert main(["predict", str(model_file), str(tmp_path), "--out", str(out), "--device", "cpu"]) == 0
    assert capsys.readouterr().out == f"scored 3 images -> {out}\n"
    table = pd.read_csv(out)
    assert table["image"].tolist() == [str(tmp_path / f"{i}.png") for i in range(3)]
    assert main(["predict", str(model_file), *table["image"], "--device", "cpu"]) == 0
    printed = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [p for p, _ in printed] == table["image"].tolist()
    assert [s for _, s in printed] == [f"{s:.4f}" for s in table["score"]]
    before = out.read_bytes()
    assert main(["predict", str(model_file), str(tmp_path), "--out", str(out)]) == 2
    assert error_line(capsys) == f"iqa predict: error: {out} already exists; remove it or pass another --out"
    assert out.read_bytes() == before


def test_a_copy_under_another_name_scores_the_same(model_file, tmp_path):
    Image.fromarray(picture()).save(tmp_path / "photo.png")
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(tmp_path / "photo.png", tmp_path / "elsewhere" / "renamed.png")
    scores = predict(model_file, tmp_path / "photo.png", tmp_path / "elsewhere" / "renamed.png",
                     out=tmp_path / "scores.csv")
    assert len(set(scores.values())) == 1, scores


def test_a_16_bit_greyscale_png_scores_as_its_8_bit_twin(model_file, tmp_path):
    grey = picture(shape=(72, 96))
    Image.fromarray(grey).save(tmp_path / "8.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "16.png")
    scores = predict(model_file, tmp_path / "8.png", tmp_path / "16.png", out=tmp_path / "scores.csv")
    assert len(set(scores.values())) == 1, scores


def test_a_photo_with_an_exif_orientation_scores_as_shown(model_file, tmp_path):
    upright = picture(shape=(96, 72, 3))  # portrait as shown
    exif = Image.Exif()
    exif[0x0112] = 8  # stored turned: a viewer rotates it 90 degrees counter-clockwise back
    Image.fromarray(np.rot90(upright, -1).copy()).save(tmp_path / "turned.png", exif=exif)
    Image.fromarray(upright).save(tmp_path / "upright.png")
    scores = predict(model_file, tmp_path / "turned.png", tmp_path / "upright.png",
                     out=tmp_path / "scores.csv")
    assert len(set(scores.values())) == 1, scores


def test_predict_on_the_training_checkpoint_names_the_file_to_give(model_file, tmp_path, capsys):
    torch.save({"model": {}}, tmp_path / "checkpoint.pt")
    Image.fromarray(picture()).save(tmp_path / "photo.png")
    assert main(["predict", str(tmp_path / "checkpoint.pt"), str(tmp_path / "photo.png")]) == 2
    line = error_line(capsys)
    assert line.startswith(f"iqa predict: error: {tmp_path / 'checkpoint.pt'}: not a safetensors model file")
    assert line.endswith("give the run's model.safetensors (checkpoint.pt only resumes training)")
    assert main(["predict", str(model_file), str(tmp_path / "absent.png")]) == 2
    absent = tmp_path / "absent.png"
    assert error_line(capsys).endswith(f"image not found: {absent}; give image files or folders")


def test_every_command_that_runs_a_model_takes_one_device_flag():
    p = build_parser()
    given = {"evaluate": ["m.safetensors"], "predict": ["m.safetensors", "x.png"],
             "score": ["m.safetensors", "--kind", "csv", "--root", ".", "--out", "o"], "bench": [],
             "complexity": [], "train": ["run.yaml", "--out", "o"], "reproduce": ["r"]}
    for command, rest in given.items():
        default = None if command in ("train", "reproduce") else "auto"  # None: the run config's train.device
        assert p.parse_args([command, *rest]).device == default
        for device in ("auto", "cpu", "cuda"):
            assert p.parse_args([command, *rest, "--device", device]).device == device


def test_complexity_names_its_source_by_what_it_is(tmp_path, model_file, capsys):
    assert main(["complexity", "--run-config", str(model_file)]) == 2
    assert error_line(capsys) == (f"iqa complexity: error: {model_file}: --run-config takes a .yaml or .yml "
                                  f"file; pass this one as --model-file")
    run_yaml = tmp_path / "run.yaml"
    run_yaml.write_text("model: {name: swin_hyperiqa, size: nano}\n")
    assert main(["complexity", "--model-file", str(run_yaml)]) == 2
    assert "pass this one as --run-config" in error_line(capsys)


def test_aggregate_names_a_results_folder_that_is_not_there(tmp_path, capsys):
    assert main(["aggregate", "config.yaml", "--results", str(tmp_path / "nope")]) == 2
    assert error_line(capsys) == (f"iqa aggregate: error: results folder not found: {tmp_path / 'nope'}; "
                                  f"run the workflow first or pass --results DIR")


@pytest.mark.parametrize("edit, message", [
    (lambda text: text.replace("\nsweeps:", "\nsweep:"), "unknown key 'sweep'; did you mean 'sweeps'?"),
    (lambda text: text.replace("splits: [0, 1, 2]", "splits: !!python/object/apply:os.getpid []"),
     "line 8 ('splits: !!python/object/apply:os.getpid []'): a YAML tag that builds Python objects is not "
     "allowed; remove the tag (a study config holds plain values)"),
    (lambda text: text.replace("splits: [0, 1, 2]", "splits: [0, 1"), "not valid YAML"),
])
def test_aggregate_refuses_a_bad_study_file_in_one_line_and_writes_nothing(tmp_path, capsys, edit, message):
    from pathlib import Path

    study = tmp_path / "study.yaml"
    study.write_text(edit(Path("config.yaml").read_text()))
    (tmp_path / "results").mkdir()
    assert main(["aggregate", str(study), "--results", str(tmp_path / "results")]) == 2
    line = error_line(capsys)
    assert line.startswith(f"iqa aggregate: error: {study}: ") and message in line
    assert not any((tmp_path / "results").iterdir())
