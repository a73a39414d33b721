import json

from iqa.results.tables import Table


def test_table_files_keep_small_settings_and_trace_every_cell(tmp_path):
    t = Table("lr_sweep", "Learning rates")
    t.put("3e-05", "splits", 3, ["a", "b", "c"], "count")
    t.put("3e-05", "srcc_median", 0.123456, ["a", "b", "c"], "median", "srcc")
    t.put("3e-05", "lr_head", 3e-5, ["a"], "value")
    t.put("0.001", "splits", 0, [], "count")
    t.put("0.001", "srcc_median", float("nan"), [], "median", "srcc")
    t.notes.append("run x is missing")
    t.write(tmp_path)
    md = (tmp_path / "lr_sweep.md").read_text()

    def md_row(label):
        return [c.strip() for c in next(line for line in md.splitlines() if line.startswith(f"| {label}")).split("|")]

    assert md_row("3e-05")[1:5] == ["3e-05", "3", "0.1235", "3e-05"]  # lr not rounded to 0.0000, count not 3.0000
    assert md_row("0.001")[1:5] == ["0.001", "0", "--", "--"]  # NaN and an absent cell print as --, not nan
    assert md.rstrip().endswith("- run x is missing")
    tex = (tmp_path / "lr_sweep.tex").read_text().splitlines()
    assert "3e-05 & 3 & 0.1235 & 3e-05 \\\\" in tex and "0.001 & 0 & -- & -- \\\\" in tex
    assert tex.index("\\toprule") < tex.index("\\midrule") < tex.index("\\bottomrule")
    sidecar = json.loads((tmp_path / "lr_sweep.provenance.json").read_text())
    assert sidecar["cells"]["3e-05|srcc_median"]["runs"] == ["a", "b", "c"]
    assert (tmp_path / "lr_sweep.csv").read_text().splitlines()[0].startswith("row,")


# --- the table builder on a fabricated study: no training, every table kind, tamper checks ---------------

import zlib  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from iqa.core import layout  # noqa: E402
from iqa.study import catalogue  # noqa: E402
from iqa.config import config_hash  # noqa: E402
from iqa.core.errors import DataError  # noqa: E402
from iqa.core.metrics import correlations  # noqa: E402
from iqa.training.record import write_metrics  # noqa: E402
from iqa.results.aggregate import aggregate  # noqa: E402
from iqa.results.audit import audit  # noqa: E402
from iqa.results.runs import RunTampered  # noqa: E402
from iqa.study.spec import expand  # noqa: E402
from fake_runs import record_run  # noqa: E402

# Planted effects, in SRCC-relevant noise: multi-scale and attention each help, reversed labels destroy.
NOISE = {"C3": 10.0, "C2": 14.0, "A2": 16.0, "C1": 22.0, "C0_reversed": None}


def fabricated_study(tmp_path, splits=None):
    cfg = yaml.safe_load(open("config.yaml"))
    cfg["splits"] = splits or cfg["splits"]
    cfg["sweeps"] = {"lr": {"of": "C3", "key": "train.lr", "values": [1e-4, 3e-4]}}
    cfg["complexity"]["experiments"] = ["C0", "C3"]
    cfg["experiments"]["C3_tf32"] = {"of": "C3", "train": {"precision": "tf32"}}
    cfg["tables"]["precision"] = ["C3", "C3_tf32"]
    cfg["base"]["data"]["root"] = str(tmp_path / "not-here")  # the fabricated runs' data is nowhere
    study = expand(cfg)
    results = tmp_path / "results"
    pool = np.linspace(5, 95, 400)  # each split tests 80 of these 400 images
    for rid, run_cfg in study.runs.items():
        exp = study.experiments_of(rid)[0]
        test = np.sort(np.random.default_rng(run_cfg.data.split_index).choice(len(pool), 80, replace=False))
        rng = np.random.default_rng([run_cfg.seed, run_cfg.data.split_index, zlib.crc32(exp.encode())])
        noise = NOISE.get(exp, 12.0)
        own = np.random.default_rng(zlib.crc32(exp.encode())).normal(0, 0.8 * (noise or 1), len(pool))
        pred = (rng.permutation(pool[test]) if noise is None
                else pool[test] + own[test] + rng.normal(0, 0.6 * noise, len(test)))  # model's own + run's errors
        write_run(layout.run_dir(results, rid), run_cfg, pool[test], pred, test)
    for k, e in enumerate(cfg["complexity"]["experiments"]):
        # the same model cost the runs record (one number per experiment, whichever table shows it)
        figures = {"parameters": 1000, "head_parameters": 200, "gflops": 0.1,
                   "latency_ms": 5.0 + k, "throughput_images_per_s": 100.0 / (k + 1), "device": "cpu",
                   "device_name": "test CPU", "precision": "fp32", "repeats": 20, "throughput_batch": 32,
                   "unit": "one 64x64 patch forward", "flops_counting": "2 per multiply-add"}
        (results / "complexity").mkdir(exist_ok=True)
        (results / "complexity" / f"{e}.json").write_text(json.dumps(figures))
    return cfg, study, results


def write_run(out, cfg, mos, pred, images=None):
    names = [f"img{i:03d}.jpg" for i in (range(len(mos)) if images is None else images)]
    history = [{"epoch": 1, "train_loss": 1.0, "val_srcc": 0.3, "seconds": 1.0},
               {"epoch": 2, "train_loss": 0.5, "val_srcc": 0.4, "seconds": 1.0}]
    val = {"srcc": correlations(pred, mos)["srcc"] - 0.01, "plcc": 0.5}
    provenance = {"config_hash": config_hash(cfg), "dataset_hash": "d" * 64, "split_hash": "s" * 64,
                  "git_commit": "abc", "git_dirty": False, "source_hash": "f" * 64,
                  "seed": cfg.seed, "n_train": 288, "n_val": 32, "n_test": len(mos),
                  "parameters": 1000, "gflops_per_patch": 0.1, "train_patches_per_second": 50.0}
    record_run(out, cfg, names, mos, pred, history, val, provenance)


def test_every_catalogued_table_and_figure_is_built_and_every_cell_audits(tmp_path):
    cfg, study, results = fabricated_study(tmp_path)
    names = aggregate(cfg, results)
    assert names == [t.name for t in catalogue.tables(cfg)]
    for path in catalogue.files(cfg, results):
        assert path.is_file(), path
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


def test_population_claim_widens_every_interval_names_itself_and_audits(tmp_path):
    cfg, study, results = fabricated_study(tmp_path, splits=list(range(6)))
    aggregate(cfg, results)
    dataset = pd.read_csv(results / "tables" / "ablation.csv", index_col="row")
    cfg["stats"] = {"claim": "population"}
    aggregate(cfg, results)
    population = pd.read_csv(results / "tables" / "ablation.csv", index_col="row")
    width = {name: t["srcc_ci_high_vs_C0"] - t["srcc_ci_low_vs_C0"] for name, t in
             (("dataset", dataset), ("population", population))}
    wider = width["population"].dropna() - width["dataset"].dropna()
    assert (wider >= 0).all() and (wider > 0).any(), wider  # never narrower: it claims more
    assert population["srcc_delta_vs_C0"].equals(dataset["srcc_delta_vs_C0"])  # same estimate, other claim
    for name in catalogue.tables(cfg):
        notes = json.loads((results / "tables" / f"{name.name}.provenance.json").read_text())["notes"]
        assert any("stats.claim: population" in n for n in notes), name.name
    for table, row, col in (("ablation", "C3", "srcc_ci_low_vs_C0"), ("ablation", "C3", "p_holm_vs_C0"),
                            ("contributions", "multiscale", "srcc_ci_high_x100"),
                            ("cross_dataset", "C3", "shifted_srcc_ci_low_vs_C0")):
        text, ok = audit(results / "tables" / f"{table}.csv", row, col)
        assert ok, text


def test_a_bad_claim_is_named():
    from iqa.stats.claim import study_claim
    from iqa.core.errors import ConfigError

    assert study_claim({}) == "dataset"
    with pytest.raises(ConfigError, match="'stats.claim' must be one of"):
        study_claim({"stats": {"claim": "populaton"}})
    with pytest.raises(ConfigError, match="'stats.level'"):
        study_claim({"stats": {"level": 0.9}})


def test_holm_counts_a_comparison_once_whichever_side_is_the_reference(tmp_path):
    from iqa.results.aggregate import test_identity

    cell = {"runs": ["a1", "a2"], "ref_runs": ["b1", "b2"], "metric": "srcc"}
    assert test_identity(cell) == test_identity({**cell, "runs": cell["ref_runs"], "ref_runs": cell["runs"]})
    total = {"runs": ["a1", "b1", "c1"], "ref_runs": None, "metric": "srcc", "factor": "total x -> y",
             "pair": [["b1", "b2"], ["a1", "a2"]]}
    assert test_identity(total) == test_identity(cell)  # the Shapley total is the plain comparison of its cells
    cfg, study, results = fabricated_study(tmp_path)
    cfg["tables"]["contributions"]["both components"] = ["C3", "C1"]  # the Shapley total's pair again
    aggregate(cfg, results)
    contrib = json.loads((results / "tables" / "contributions.provenance.json").read_text())["cells"]
    total = next(k for k in contrib if k.startswith("total") and k.endswith("|p_holm"))
    assert contrib[total]["value"] == contrib["both components|p_holm"]["value"]
    # 2 Shapley values, the total, the interaction and 3 one-at-a-time rows, one of them the total again
    assert {c["family_size"] for c in contrib.values() if c["stat"] == "holm"} == {6}
    ablation = json.loads((results / "tables" / "ablation.provenance.json").read_text())["cells"]
    assert {c["family_size"] for c in ablation.values() if c["stat"] == "holm"} == {5}  # C1-C0 ... C3-C0
    controls = json.loads((results / "tables" / "controls.provenance.json").read_text())["cells"]
    assert {c["family_size"] for c in controls.values() if c["stat"] == "holm"} == {2}


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
    write_metrics(results / "runs" / rid, m)  # a run of other code, recorded as such (not an edit)
    aggregate(cfg, results)
    assert "different code versions" in (results / "tables" / "main.md").read_text()
    assert rid in (results / "tables" / "main.md").read_text()
    with pytest.raises(DataError, match="code versions"):
        aggregate(cfg, results, strict=True)


def test_holm_column_is_named_token_by_token():
    from iqa.results.aggregate import holm_column

    assert holm_column("p_vs_C0") == "p_holm_vs_C0"
    assert holm_column("spaq_p_vs_C0") == "spaq_p_holm_vs_C0"
    assert holm_column("p") == "p_holm"


def test_a_table_built_alone_from_only_its_runs_equals_the_table_of_the_whole_study(tmp_path):
    import shutil

    cfg, study, results = fabricated_study(tmp_path)
    aggregate(cfg, results)
    whole = {ext: (results / "tables" / f"ablation.{ext}").read_text() for ext in ("csv", "md", "tex")}
    behind = {rid for e in catalogue.experiments_behind(cfg, "ablation") for rid in study.run_ids(e)}
    for rid in set(study.runs) - behind:  # only the ablation's runs exist, as after `snakemake results/tables/ablation.csv`
        shutil.rmtree(results / "runs" / rid)
    shutil.rmtree(results / "tables")
    assert aggregate(cfg, results, only=["ablation"]) == ["ablation"]
    assert sorted(p.name for p in (results / "tables").iterdir()) == [f"ablation.{e}" for e in sorted(layout.TABLE_FILES)]
    for ext, text in whole.items():
        assert (results / "tables" / f"ablation.{ext}").read_text() == text, ext
    assert "distinct comparisons of this table" in whole["md"]  # ablation: 5


def test_an_edited_validation_score_is_named_by_the_run_check(tmp_path):
    from iqa.results.runs import tampering

    cfg = expand(yaml.safe_load(open("config.yaml"))).base
    mos = np.linspace(5, 95, 20)
    write_run(tmp_path / "run", cfg, mos, mos[::-1])
    path = tmp_path / "run" / "metrics.json"
    assert tampering(tmp_path / "run", json.loads(path.read_text())) is None
    m = json.loads(path.read_text())
    m["val"]["srcc"] = 0.79081  # a number no predictions file backs
    assert tampering(tmp_path / "run", m) == (f"{path} was edited after the run: its content no longer has "
                                              f"the SHA-256 it recorded")


@pytest.mark.slow  # aggregates the demo study twice
def test_an_edited_validation_score_stops_aggregation_and_its_audit_says_where_it_read(tmp_path):
    cfg, study, results = fabricated_study(tmp_path)
    aggregate(cfg, results)
    before = (results / "tables" / "main.csv").read_text()
    rid = study.run_ids("C3")[0]
    path = results / "runs" / rid / "metrics.json"
    m = json.loads(path.read_text())
    m["val"]["srcc"] += 0.05
    path.write_text(json.dumps(m))
    with pytest.raises(RunTampered, match=f"run {rid}: .*metrics.json was edited after the run"):
        aggregate(cfg, results)
    assert (results / "tables" / "main.csv").read_text() == before  # nothing published from it
    text, ok = audit(results / "tables" / "main.csv", "C3", "val_srcc_median")
    assert not ok and "TAMPERED" in text and "recomputed from metrics.json (val record)" in text
    assert "predictions.csv" not in text.splitlines()[-1]


@pytest.mark.slow  # aggregates the demo study
def test_auditing_a_cell_or_macro_whose_run_was_deleted_says_what_is_missing(tmp_path):
    import shutil

    from iqa.results.audit import audit_macro

    cfg, study, results = fabricated_study(tmp_path)
    aggregate(cfg, results)
    rid = study.run_ids("C3")[1]
    shutil.rmtree(results / "runs" / rid)
    for text, ok in (audit(results / "tables" / "main.csv", "C3", "srcc_median"),
                     audit_macro(results / "numbers.tex", "\\CThreeSRCCMedian")):
        assert not ok
        missing = results / "runs" / rid / "metrics.json"
        assert f"cannot recompute: {missing} is missing; rerun the workflow" in text
