import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch
import yaml

from iqa import config
from iqa.data.synthetic import make_synthetic
from iqa.core.errors import TrainingError
from iqa.training.train import train

from conftest import nano_config


@pytest.fixture(scope="module")
def learnable(tmp_path_factory):
    return make_synthetic(tmp_path_factory.mktemp("learnable"), 160, seed=1)


pytestmark = pytest.mark.slow  # every test here trains


def test_nano_resnet_learns_the_synthetic_set(learnable, tmp_path):
    cfg = nano_config(learnable, tmp_path / "cache", set=[
        "model.name=hyperiqa_resnet50", "model.multiscale=false", "model.attention_fusion=false",
        "train.epochs=4", "data.train_patches=4", "data.test_crops=random:4", "train.lr_ratio=1"])
    m = train(cfg, tmp_path / "run")
    assert m["test"]["srcc"] > 0.3, m["test"]
    assert m["test"]["n_images"] == 32 and m["epochs_run"] == 4
    prov = m["provenance"]
    for key in ("git_commit", "git_dirty", "config_hash", "dataset_hash", "split_hash", "seed", "versions",
                "host", "device", "start_time", "end_time", "wall_seconds", "slurm_job_id"):
        assert key in prov
    pred = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert list(pred.columns) == ["image", "mos", "pred"] and len(pred) == 32
    assert len(pd.read_csv(tmp_path / "run" / "history.csv")) == 4


def test_swin_nano_run_writes_attention_weights_and_is_reproducible(synthetic, tmp_path):
    cfg = nano_config(synthetic, tmp_path / "cache")
    a = train(cfg, tmp_path / "a")
    b = train(cfg, tmp_path / "b")
    assert a["run_id"] == b["run_id"]
    assert a["test"] == b["test"] and a["val"] == b["val"]
    assert pd.read_csv(tmp_path / "a" / "predictions.csv").equals(pd.read_csv(tmp_path / "b" / "predictions.csv"))
    pred = pd.read_csv(tmp_path / "a" / "predictions.csv")
    weights = pred[[f"attention_stage{k}" for k in range(1, 5)]].sum(axis=1)
    assert ((weights - 1).abs() < 1e-5).all()
    saved = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert saved["config"] == cfg.to_dict() and saved["test"] == a["test"]


def test_finished_run_is_not_retrained(synthetic, tmp_path):
    cfg = nano_config(synthetic, tmp_path / "cache", set=["train.epochs=1"])
    first = train(cfg, tmp_path / "run")
    stamp = os.stat(tmp_path / "run" / "metrics.json").st_mtime_ns
    assert train(cfg, tmp_path / "run") == first
    assert os.stat(tmp_path / "run" / "metrics.json").st_mtime_ns == stamp
    with pytest.raises(TrainingError, match="another config"):
        train(cfg.merged({"train": {"lr": 1e-4}}), tmp_path / "run")


def test_nan_loss_stops_with_a_clear_error_and_no_metrics(synthetic, tmp_path, monkeypatch):
    from iqa.training import losses

    monkeypatch.setitem(losses.LOSSES, "l1", lambda pred, y: (pred * float("nan")).mean())
    with pytest.raises(TrainingError, match="loss is nan at epoch 1 step 1"):
        train(nano_config(synthetic, tmp_path / "cache"), tmp_path / "run")
    assert not (tmp_path / "run" / "metrics.json").exists()


def _cli_train(cfg_path, out, **kw):
    return subprocess.Popen([sys.executable, "-m", "iqa.cli", "train", str(cfg_path), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_interrupted_run_resumes_to_identical_numbers(synthetic, tmp_path, sig):
    cfg = nano_config(synthetic, tmp_path / "cache", set=["train.epochs=3", "data.train_patches=6",
                                                         "train.batch_size=8", "train.log_every=1"])
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg.to_dict()))
    reference = train(cfg, tmp_path / "reference")

    out = tmp_path / "interrupted"
    proc = _cli_train(cfg_path, out)
    log = out / "train.log"
    deadline = time.time() + 120
    # Wait until training is under way in epoch 2: SIGKILL then loses part of an epoch, SIGTERM saves mid-epoch.
    while time.time() < deadline and not (log.is_file() and "epoch 2/3 step 3/" in log.read_text()):
        time.sleep(0.05)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert not (out / "metrics.json").exists() and (out / "checkpoint.pt").exists()
    if sig == signal.SIGTERM:
        assert "checkpoint saved at epoch 2" in log.read_text()

    resumed = _cli_train(cfg_path, out)
    assert resumed.wait(timeout=300) == 0, resumed.stdout.read()
    assert "resumed from" in log.read_text()
    m = json.loads((out / "metrics.json").read_text())
    assert m["test"] == reference["test"] and m["val"] == reference["val"]
    assert m["best_epoch"] == reference["best_epoch"]
    ref_hist = pd.read_csv(tmp_path / "reference" / "history.csv")
    hist = pd.read_csv(out / "history.csv")
    assert hist[["train_loss", "val_srcc"]].equals(ref_hist[["train_loss", "val_srcc"]])


def test_cli_reports_bad_config_key(tmp_path, synthetic):
    cfg_path = tmp_path / "bad.yaml"
    cfg_path.write_text("train:\n  learning_rate: 1e-3\n")
    r = subprocess.run([sys.executable, "-m", "iqa.cli", "train", str(cfg_path), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "unknown key 'train.learning_rate'" in r.stderr
    assert not (tmp_path / "o").exists()


def test_evaluate_and_predict_reload_the_checkpoint(synthetic, tmp_path):
    cfg = nano_config(synthetic, tmp_path / "cache", set=["train.epochs=1"])
    m = train(cfg, tmp_path / "run")
    ckpt = str(tmp_path / "run" / "model.safetensors")
    r = subprocess.run([sys.executable, "-m", "iqa.cli", "evaluate", ckpt], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["srcc"] == m["test"]["srcc"]
    # predict scores on the MOS scale with the crops the test set used: the run's own predictions, in any order
    pred = pd.read_csv(tmp_path / "run" / "predictions.csv").head(3)
    images = [str(synthetic / "512x384" / name) for name in pred["image"]]
    for order in (images, images[::-1]):
        r = subprocess.run([sys.executable, "-m", "iqa.cli", "predict", ckpt, *order], capture_output=True, text=True)
        assert r.returncode == 0 and "Warning" not in r.stderr, r.stderr
        scores = {line.split("\t")[0]: float(line.split("\t")[1]) for line in r.stdout.splitlines()}
        for path, expected in zip(images, pred["pred"]):
            assert scores[path] == pytest.approx(expected, rel=1e-4, abs=1e-3)


def test_original_hyperiqa_solver_schedule_and_fresh_adam_every_epoch():
    import torch

    from iqa.training.optim import OriginalHyperIQASchedule

    backbone, head = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.Adam([{"params": [backbone], "lr": 2e-5}, {"params": [head], "lr": 2e-4}])
    sched = OriginalHyperIQASchedule(opt, lr_ratio=10)
    lrs = []
    for _ in range(16):
        lrs.append([g["lr"] for g in opt.param_groups])
        (backbone.sum() + head.sum()).backward()
        opt.step()
        assert opt.state  # Adam moments within the epoch
        sched.step()
        assert not opt.state  # ... and a brand-new Adam for the next
    assert all(b == 2e-5 for b, _ in lrs)  # the backbone is never decayed
    expected = [2e-4] * 7 + [2e-5] * 3 + [2e-6] * 3 + [2e-7] * 3
    assert [h for _, h in lrs] == pytest.approx(expected, rel=1e-9)


def test_a_packed_run_equals_the_same_run_trained_alone(synthetic, learnable, tmp_path):
    """Runs stepped in turn in one process draw from their own dropout, drop-path and colour-jitter streams."""
    from safetensors.torch import load_file

    from iqa.training.pack import train_pack

    random = ["model.drop_path_rate=0.1", "model.hyper_dropout=0.2", "model.target_dropout=0.2",
              "data.color_jitter=true"]
    cfgs = [nano_config(synthetic, tmp_path / "cache", set=random),
            nano_config(synthetic, tmp_path / "cache", set=random + ["seed=1", "data.split_index=1"]),
            nano_config(learnable, tmp_path / "cache", set=["model.name=hyperiqa_resnet50", "train.epochs=1",
                                                            "model.multiscale=false", "model.attention_fusion=false"])]
    alone = [train(cfg, tmp_path / f"alone{i}") for i, cfg in enumerate(cfgs)]
    packed = train_pack(cfgs, [tmp_path / f"pack{i}" for i in range(3)], [tmp_path / f"echo{i}.log" for i in range(3)])
    for i, (a, p) in enumerate(zip(alone, packed)):
        assert p["run_id"] == a["run_id"] and p["test"] == a["test"] and p["val"] == a["val"]
        assert p["files"]["predictions.csv"] == a["files"]["predictions.csv"]
        weights = [load_file(str(tmp_path / f"{way}{i}" / "model.safetensors")) for way in ("alone", "pack")]
        assert all(torch.equal(w, weights[1][k]) for k, w in weights[0].items())  # the file's metadata order varies
        history = [pd.read_csv(tmp_path / f"{way}{i}" / "history.csv").drop(columns="seconds") for way in ("alone", "pack")]
        assert history[0].equals(history[1])  # every epoch's loss and validation SRCC; only the time differs
        train_log = (tmp_path / f"pack{i}" / "train.log").read_text()
        assert a["run_id"] in train_log and not any(o["run_id"] in train_log for o in alone if o is not a)
        assert a["run_id"] in (tmp_path / f"echo{i}.log").read_text()
    assert alone[0]["test"] != alone[1]["test"]


def test_a_failing_packed_run_leaves_the_others_finished(synthetic, tmp_path, monkeypatch):
    from iqa.training.pack import train_pack

    good = nano_config(synthetic, tmp_path / "cache", set=["train.epochs=1"])
    bad = nano_config(synthetic, tmp_path / "cache", set=["train.epochs=1", "train.loss=l2"])
    from iqa.training import losses

    monkeypatch.setitem(losses.LOSSES, "l2", lambda pred, y: (pred * float("nan")).mean())
    with pytest.raises(TrainingError, match="1 of 2 packed runs failed"):
        train_pack([bad, good], [tmp_path / "bad", tmp_path / "good"], [tmp_path / "bad.log", tmp_path / "good.log"])
    assert (tmp_path / "good" / "metrics.json").is_file() and not (tmp_path / "bad" / "metrics.json").exists()
    assert "loss is nan at epoch 1 step 1" in (tmp_path / "bad.log").read_text()
