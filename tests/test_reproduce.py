import json
import shutil

import pandas as pd
import pytest
import torch

from iqa import config
from iqa.core.device import torch_threads
from iqa.results.reproduce import check_code, device_class, reproduce, standard_error, within
from iqa.training.train import train

from conftest import nano_config

MACHINE = {"device": "cpu", "gpu_model": None, "cpu_model": "Xeon (family 6 model 143, torch AVX512)",
           "torch_threads": 1, "versions": {"torch": "2.14.1"}}


def test_exact_only_for_a_cpu_run_on_the_same_processor_torch_and_threads():
    assert device_class(MACHINE, MACHINE)[0]
    for change in ({"torch_threads": 2}, {"cpu_model": "EPYC (family 25 model 1, torch AVX2)"},
                   {"versions": {"torch": "2.11.0"}}, {"device": "cuda:0", "gpu_model": "NVIDIA H200"}):
        exact, why = device_class(MACHINE, {**MACHINE, **change})
        assert not exact and why.startswith("tolerance class")
    assert not device_class({"device": "cpu"}, MACHINE)[0]  # a run recorded before processors were
    gpu = {**MACHINE, "device": "cuda:0", "gpu_model": "NVIDIA H200"}
    assert "arithmetic fp32 -> bf16 autocast" in device_class(MACHINE, gpu, "bf16")[1]


def test_tolerance_is_half_the_sampling_standard_error_on_the_images_measured():
    assert standard_error("srcc", 0.9, 40) == pytest.approx(0.19 * (1.06 / 37) ** 0.5)
    assert within("srcc", 0.90, 0.915, 40) and not within("srcc", 0.90, 0.92, 40)
    assert not within("srcc", 0.90, 0.915, 2015)  # the allowance shrinks as the test set grows
    assert within("rmse", 10.0, 10.5, 40) and not within("rmse", 10.0, 10.6, 40)
    assert within("plcc", float("nan"), float("nan"), 40) and not within("plcc", 0.5, float("nan"), 40)


def test_changed_code_refuses_unless_told_to_warn():
    prov = {"source_hash": "0" * 64, "git_commit": "a" * 40, "git_dirty": False}
    ok, line = check_code(prov, "refuse")
    assert not ok and "code CHANGED" in line and "--code warn" in line
    ok, line = check_code(prov, "warn")
    assert ok and "rerunning under today's code" in line


@pytest.fixture(scope="module")
def finished(tmp_path_factory, synthetic):
    """A 1-epoch nano run on a private copy of the synthetic set, as `iqa train` leaves it in a results
    folder."""
    tmp = tmp_path_factory.mktemp("reproduce")
    data = shutil.copytree(synthetic, tmp / "data")
    cfg = nano_config(data, tmp / "cache", set=["train.epochs=1"])
    with torch_threads(1):
        metrics = train(cfg, tmp / "results" / "runs" / config.run_id(cfg))
    return tmp / "results", metrics["run_id"]


def run(results, rid, tmp_path, **kw):
    said = []
    rc = reproduce(rid, results, tmp_path / "scratch", say=said.append, **kw)
    return rc, "\n".join(said)


@pytest.mark.slow  # the fixture trains
def test_a_rerun_on_the_same_machine_is_identical(finished, tmp_path):
    threads = torch.get_num_threads()
    rc, out = run(*finished, tmp_path)
    assert rc == 0, out
    assert torch.get_num_threads() == threads  # the recorded count applies to the rerun only
    assert "same machine type" in out and "verdict: identical" in out
    assert pd.read_csv(tmp_path / "scratch" / "predictions.csv").equals(
        pd.read_csv(finished[0] / "runs" / finished[1] / "predictions.csv"))


@pytest.mark.slow  # the fixture trains
def test_edited_recorded_metrics_are_a_mismatch(finished, tmp_path):
    results = shutil.copytree(finished[0], tmp_path / "results")
    path = results / "runs" / finished[1] / "metrics.json"
    m = json.loads(path.read_text())
    m["test"]["srcc"] += 0.1
    path.write_text(json.dumps(m))
    rc, out = run(results, finished[1], tmp_path)
    assert rc == 1
    assert "test srcc" in out and "OUT OF TOLERANCE" in out and "verdict: MISMATCH (test srcc" in out
    assert "TAMPERED" in out


@pytest.mark.slow  # the fixture trains
def test_changed_data_is_refused_before_training(finished, tmp_path):
    results = shutil.copytree(finished[0], tmp_path / "results")
    data = shutil.copytree(json.loads((results / "runs" / finished[1] / "metrics.json").read_text())
                           ["config"]["data"]["root"], tmp_path / "data")
    labels = data / "koniq10k_distributions_sets.csv"
    table = pd.read_csv(labels)
    table.loc[0, "MOS"] += 1.0
    table.to_csv(labels, index=False)
    path = results / "runs" / finished[1] / "metrics.json"
    m = json.loads(path.read_text())
    m["config"]["data"]["root"] = str(data)
    path.write_text(json.dumps(m))
    rc, out = run(results, finished[1], tmp_path)
    assert rc == 1 and "data CHANGED" in out and "refusing" in out
    assert not (tmp_path / "scratch").exists()


@pytest.mark.slow  # the fixture trains
def test_changed_code_is_refused_before_training(finished, tmp_path, monkeypatch):
    monkeypatch.setattr("iqa.training.provenance.source_hash", lambda: "0" * 64)
    rc, out = run(*finished, tmp_path)
    assert rc == 1 and "code CHANGED" in out
    assert not (tmp_path / "scratch").exists()


@pytest.mark.slow  # the fixture trains
def test_missing_run_names_the_file(finished, tmp_path):
    with pytest.raises(ValueError, match="no finished run 'nope'.*metrics.json is missing.*t-"):
        reproduce("nope", finished[0], say=print)
