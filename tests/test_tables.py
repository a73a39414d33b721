import json

from iqa.tables import Table


def test_table_files_keep_small_settings_and_trace_every_cell(tmp_path):
    t = Table("lr_sweep", "Learning rates")
    t.put("3e-05", "splits", 3, ["a", "b", "c"], "count")
    t.put("3e-05", "srcc_median", 0.123456, ["a", "b", "c"], "median", "srcc")
    t.put("3e-05", "lr_head", 3e-5, ["a"], "value")
    t.put("0.001", "srcc_median", float("nan"), [], "median", "srcc")
    t.notes.append("run x is missing")
    t.write(tmp_path)
    md = (tmp_path / "lr_sweep.md").read_text()
    row = [c.strip() for c in next(line for line in md.splitlines() if line.startswith("| 3e-05")).split("|")]
    assert row[1:5] == ["3e-05", "3", "0.1235", "3e-05"]  # lr not rounded to 0.0000, count not 3.0000
    assert "--" in md and "run x is missing" in md
    tex = (tmp_path / "lr_sweep.tex").read_text()
    assert "\\toprule" in tex and "3e-05" in tex and "0.1235" in tex
    sidecar = json.loads((tmp_path / "lr_sweep.provenance.json").read_text())
    assert sidecar["cells"]["3e-05|srcc_median"]["runs"] == ["a", "b", "c"]
    assert (tmp_path / "lr_sweep.csv").read_text().splitlines()[0].startswith("row,")


# --- the table builder on a fabricated study: no training, every table kind, tamper checks ---------------

import zlib  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from iqa import catalogue  # noqa: E402
from iqa.config import config_hash  # noqa: E402
from iqa.errors import DataError  # noqa: E402
from iqa.metrics import correlations  # noqa: E402
from iqa.record import write_metrics  # noqa: E402
from iqa.report import aggregate, audit  # noqa: E402
from iqa.runs import RunTampered  # noqa: E402
from iqa.study import expand  # noqa: E402

# Planted effects, in SRCC-relevant noise: multi-scale and attention each help, reversed labels destroy.
NOISE = {"C3": 10.0, "C2": 14.0, "A2": 16.0, "C1": 22.0, "C0_reversed": None}


def fabricated_study(tmp_path):
    cfg = yaml.safe_load(open("config.yaml"))
    cfg["sweeps"] = {"lr": {"of": "C3", "key": "train.lr", "values": [1e-4, 3e-4]}}
    cfg["complexity"]["experiments"] = ["C0", "C3"]
    cfg["experiments"]["C3_tf32"] = {"of": "C3", "train": {"precision": "tf32"}}
    cfg["tables"]["precision"] = ["C3", "C3_tf32"]
    cfg["base"]["data"]["root"] = str(tmp_path / "not-here")  # the fabricated runs' data is nowhere
    study = expand(cfg)
    results = tmp_path / "results"
    mos = np.linspace(5, 95, 80)
    for rid, run_cfg in study.runs.items():
        exp = study.experiments_of(rid)[0]
        rng = np.random.default_rng([run_cfg["seed"], run_cfg["data"]["split_index"], zlib.crc32(exp.encode())])
        noise = NOISE.get(exp, 12.0)
        pred = rng.permutation(mos) if noise is None else mos + rng.normal(0, noise, len(mos))
        write_run(results / "runs" / rid, run_cfg, mos, pred)
    for k, e in enumerate(cfg["complexity"]["experiments"]):
        # the same model cost the runs record (one number per experiment, whichever table shows it)
        figures = {"parameters": 1000, "head_parameters": 200, "gflops": 0.1,
                   "latency_ms": 5.0 + k, "throughput_images_per_s": 100.0 / (k + 1), "device": "cpu",
                   "device_name": "test CPU", "precision": "fp32", "repeats": 20, "throughput_batch": 32,
                   "unit": "one 64x64 patch forward", "flops_counting": "2 per multiply-add"}
        (results / "complexity").mkdir(exist_ok=True)
        (results / "complexity" / f"{e}.json").write_text(json.dumps(figures))
    return cfg, study, results


def write_run(out, cfg, mos, pred):
    out.mkdir(parents=True)
    names = [f"img{i:03d}.jpg" for i in range(len(mos))]
    pd.DataFrame({"image": names, "mos": mos, "pred": pred}).to_csv(out / "predictions.csv", index=False)
    pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_srcc": [0.3, 0.4],
                  "seconds": [1.0, 1.0]}).to_csv(out / "history.csv", index=False)
    test = correlations(pred, mos)
    metrics = {"run_id": out.name, "config": cfg, "test": test, "val": {"srcc": test["srcc"] - 0.01, "plcc": 0.5},
               "selected_on": cfg["train"]["select"], "best_epoch": 2, "epochs_run": 2,
               "provenance": {"config_hash": config_hash(cfg), "dataset_hash": "d" * 64, "split_hash": "s" * 64,
                              "git_commit": "abc", "git_dirty": False, "source_hash": "f" * 64,
                              "seed": cfg["seed"], "n_train": 300, "n_val": 30, "n_test": len(mos),
                              "parameters": 1000, "gflops_per_patch": 0.1, "train_patches_per_second": 50.0}}
    write_metrics(out, metrics)


def test_every_catalogued_table_and_figure_is_built_and_every_cell_audits(tmp_path):
    cfg, study, results = fabricated_study(tmp_path)
    names = aggregate(cfg, results)
    assert names == [t.name for t in catalogue.tables(cfg)]
    for path in catalogue.files(cfg, str(results)):
        assert Path(path).is_file(), path
    contrib = pd.read_csv(results / "tables" / "contributions.csv", index_col="row")
    total = contrib.loc[[r for r in contrib.index if r.startswith("total")][0], "srcc_delta_x100"]
    assert contrib.loc[["multiscale", "attention"], "srcc_delta_x100"].sum() == pytest.approx(total, abs=1e-9)
    assert (contrib.loc[["multiscale", "attention"], "srcc_delta_x100"] > 0).all()
    controls = pd.read_csv(results / "tables" / "controls.csv", index_col="row")
    assert (controls["outcome"] == "as expected").all(), controls
    main = pd.read_csv(results / "tables" / "main.csv", index_col="row")
    assert {"p_vs_C0", "p_holm_vs_C0", "pairs_vs_C0", "val_srcc_median"} <= set(main.columns)
    assert main.loc["C3", "p_holm_vs_C0"] >= main.loc["C3", "p_vs_C0"]
    assert "paired t" in (results / "tables" / "main.tex").read_text()
    precision = pd.read_csv(results / "tables" / "precision.csv", index_col="row")
    assert 0 <= precision.loc["C3_tf32", "p_tost_vs_C3"] <= 1 and "TOST" in (results / "tables" / "precision.md").read_text()
    text, ok = audit(results / "tables" / "precision.csv", "C3_tf32", "p_tost_vs_C3")
    assert ok, text
    # every numeric cell of every table recomputes from the runs' predictions
    for t in names:
        cells = json.loads((results / "tables" / f"{t}.provenance.json").read_text())["cells"]
        for key in list(cells)[:40] + [k for k in cells if "|p_holm" in k][:5]:
            row, col = key.split("|")
            text, ok = audit(results / "tables" / f"{t}.csv", row, col)
            assert ok, text


def test_tampered_runs_and_tables_are_named(tmp_path):
    cfg, study, results = fabricated_study(tmp_path)
    aggregate(cfg, results)
    rid = study.run_ids("C3")[0]
    metrics_path = results / "runs" / rid / "metrics.json"
    m = json.loads(metrics_path.read_text())
    original = metrics_path.read_text()
    m["test"]["srcc"] = 0.95
    metrics_path.write_text(json.dumps(m))
    with pytest.raises(RunTampered, match=rid):
        aggregate(cfg, results)
    aggregate(cfg, results, mark_tampered=True)  # explicit: the run is left out and named
    assert f"run {rid} is tampered" in (results / "tables" / "main.md").read_text()
    metrics_path.write_text(original)
    aggregate(cfg, results)

    pred_path = results / "runs" / rid / "predictions.csv"
    pred = pd.read_csv(pred_path)
    pred.loc[0, "pred"] += 1.0
    pred.to_csv(pred_path, index=False)
    with pytest.raises(RunTampered, match="predictions.csv"):
        aggregate(cfg, results)
    text, ok = audit(results / "tables" / "main.csv", "C3", "srcc_median")
    assert not ok and "TAMPERED" in text

    table = results / "tables" / "main.md"
    table.write_text(table.read_text().replace("0.", "0.9", 1))
    text, ok = audit(results / "tables" / "main.csv", "C0", "splits")
    assert not ok and "main.md" in text


def test_strict_refuses_mixed_code_versions(tmp_path):
    cfg, study, results = fabricated_study(tmp_path)
    rid = study.run_ids("C0")[0]
    m = json.loads((results / "runs" / rid / "metrics.json").read_text())
    m["provenance"]["git_commit"] = "other"
    (results / "runs" / rid / "metrics.json").write_text(json.dumps(m))
    aggregate(cfg, results)
    assert "different code versions" in (results / "tables" / "main.md").read_text()
    assert rid in (results / "tables" / "main.md").read_text()
    with pytest.raises(DataError, match="code versions"):
        aggregate(cfg, results, strict=True)


def test_holm_column_is_named_token_by_token():
    from iqa.report import holm_column

    assert holm_column("p_vs_C0") == "p_holm_vs_C0"
    assert holm_column("spaq_p_vs_C0") == "spaq_p_holm_vs_C0"
    assert holm_column("p") == "p_holm"
