import json
import subprocess
import time
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import yaml

from iqa import config

from iqa.study import catalogue
from iqa.training.pack import packs
from iqa.study.spec import expand

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]


def load(path):
    return yaml.safe_load((REPO / path).read_text())


def test_demo_grid_expansion_deduplicates_identical_runs():
    study = expand(load("config.yaml"))
    assert study.run_ids("A1") == study.run_ids("C2")  # C3 without attention is C2: trained once
    assert study.run_ids("C3-no_attention") == study.run_ids("C2")  # factorial cells reuse declared runs
    assert study.run_ids("C3-no_multiscale-no_attention") == study.run_ids("C1")
    assert study.run_ids("C3_rerun") != study.run_ids("C3")  # the A/A control: other seeds, same splits
    assert [study.runs[r].data.split_index for r in study.run_ids("C3_rerun")] == study.splits
    distinct = {config.config_hash(replace(cfg, name="", seed=0)) for cfg in study.experiments.values()}
    assert len(study.runs) == (len(distinct) + 1) * len(study.splits)  # + 1: C3_rerun differs only in seed


def test_paper_grid_expansion():
    study = expand(load("config/koniq10k.yaml"))
    assert len(study.splits) == 10
    c3 = study.runs[study.run_ids("C3")[0]]
    assert c3.model.size == "base" and c3.model.head == "seed" and c3.train.lr_min == 1e-6
    assert study.run_ids("lr=5e-07") == study.run_ids("C3") == study.run_ids("E6")
    c0 = study.runs[study.run_ids("C0")[0]]
    assert c0.model.weights_tag == "tv_in1k" and c0.train.epochs == 5
    original = study.runs[study.run_ids("hyperiqa_original")[0]]
    assert original.train.select == "test" and original.data.resize == (384, 512)
    assert study.runs[study.run_ids("C3_test_selected")[0]].train.select == "test"


def test_packs_hold_each_run_once_by_experiment_or_model_shape():
    from iqa.core.errors import ConfigError

    study = expand(load("config.yaml"))
    by_experiment = packs(study, {"by": "experiment", "runs": 2})
    assert by_experiment["C3_1"] == study.run_ids("C3")[:2] and "C3_2" not in by_experiment  # 3 splits: 2 + 1 alone
    assert "A1" not in by_experiment  # A1's runs are C2's, packed there
    by_model = packs(study, {"by": "model", "runs": 100})
    assert set(study.run_ids("C3") + study.run_ids("loss_l2")) <= set(by_model["C3"])  # named after its first
    packed = [rid for rids in by_model.values() for rid in rids]
    assert sorted(packed) == sorted(study.runs)  # every run once: no shape is alone in this study
    for rids in by_model.values():
        assert len({tuple(getattr(study.runs[r].model, k) for k in ("name", "size", "multiscale", "attention_fusion"))
                    for r in rids}) == 1
    assert packs(study, None) == {} == packs(study, {"runs": 1})
    with pytest.raises(ConfigError, match="packing"):
        packs(study, {"by": "gpu", "runs": 2})


@pytest.mark.slow
def test_paper_config_dry_run_lists_every_training_job_without_data(tmp_path):
    study = expand(load("config/koniq10k.yaml"))
    cluster = tmp_path / "cluster.yaml"  # a site's partition and GPU type, merged over the study
    cluster.write_text("resources: {train: {slurm_partition: gpuq, constraint: h200}}\n")
    r = subprocess.run(SNAKEMAKE + ["-n", "-d", str(tmp_path), "--configfile", str(REPO / "config/koniq10k.yaml"),
                                    str(cluster)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    blocks = r.stdout.split("\nrule ")[1:]  # one per job: its rule, output, ..., resources
    asks = [line for b in blocks if b.startswith("train") for line in b.splitlines() if "resources:" in line]
    assert asks and all("slurm_partition=gpuq" in a and "constraint=h200" in a and "gpu=1" in a for a in asks)
    jobs = dict(line.split()[:2] for line in r.stdout.splitlines() if line.startswith(("train", "aggregate ")))
    packed = packs(study, load("config/koniq10k.yaml")["packing"])  # a job per pack, and one per other run
    assert {name for name in jobs if name.startswith("train_pack_")} == {f"train_pack_{p}" for p in packed}
    assert int(jobs.get("train", 0)) == len(study.runs) - sum(map(len, packed.values())), r.stdout[-1500:]


@pytest.mark.slow
def test_a_thousand_run_study_expands_and_dry_runs_quickly(tmp_path):
    cfg = load("config.yaml")
    cfg["splits"] = list(range(50))
    cfg["sweeps"] = {"lr": {"of": "C3", "key": "train.lr", "values": [1e-5 * (k + 1) for k in range(19)]}}
    cfg["experiments"] = {"C3": {}}
    for section in ("factorial", "cross_dataset", "complexity", "sota"):
        cfg.pop(section)
    cfg["tables"] = {"best_of": "C3"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert len(expand(cfg).runs) == 1000
    tic = time.perf_counter()
    r = subprocess.run(SNAKEMAKE + ["-n", "-d", str(tmp_path)], capture_output=True, text=True, cwd=tmp_path)
    seconds = time.perf_counter() - tic
    assert r.returncode == 0, r.stderr[-2000:]
    # 10 s on an idle 2-core machine; a loaded one slows every snakemake start, so compare with a one-rule one
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "Snakefile").write_text('rule all:\n    output: "x"\n    shell: "touch {output}"\n')
    tic = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", "-n"], capture_output=True, cwd=tmp_path / "one")
    one_rule = time.perf_counter() - tic
    assert seconds < max(10.0, 5 * one_rule), (seconds, one_rule)


@pytest.mark.slow
@pytest.mark.parametrize("edit, message", [
    (lambda c: c.update(splitz=[0]), "splitz"),
    (lambda c: c["base"]["train"].update(lrate=1e-3), "did you mean 'train.lr'"),
    (lambda c: c["experiments"]["C2"]["model"].update(size="huge"), "experiment 'C2'"),
    (lambda c: c["experiments"]["C2"].update({"of": "C9"}), "C9"),
    (lambda c: c["tables"]["main"].append("C7"), "tables.main: 'C7' names no experiment"),
    (lambda c: c["resources"]["train"].update(gpu=-1), "gpu"),
    (lambda c: c.update(stats={"claim": "populaton"}), "populaton"),
    (lambda c: c.update(splits={"adaptive": {"k0": 3, "step": 1, "k_max": 2}}), "splits.adaptive.k_max: 2 is below k0"),
    # a size the model runs at 224 px, in a study whose patches are 64 px: caught before any job starts
    (lambda c: c["sweeps"].update(size={"of": "C3", "key": "model.size", "values": ["nano", "tiny"]}),
     "experiment 'size=tiny': 'data.patch_size'"),
])
def test_bad_study_config_fails_before_any_job(tmp_path, edit, message):
    cfg = load("config.yaml")
    edit(cfg)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    r = subprocess.run(SNAKEMAKE + ["-n", "-d", str(tmp_path)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode != 0
    assert message in r.stdout + r.stderr
    assert not (tmp_path / "results").exists()


def small_study():
    cfg = load("config.yaml")
    for section in ("factorial", "cross_dataset", "complexity", "sota"):
        cfg.pop(section)
    cfg["dataset"] = {"synthetic": {"n": 60, "seed": 2}}
    cfg["splits"] = [0, 1]
    cfg["base"]["train"].update(epochs=1)
    cfg["experiments"] = {"C3": {}, "C0": {"of": "C3", "model": {
        "name": "hyperiqa_resnet50", "multiscale": False, "attention_fusion": False}}}
    cfg["sweeps"] = {}
    cfg["tables"] = {"main": ["C0", "C3"], "ablation": ["C0", "C3"], "best_of": "C3"}
    return cfg


@pytest.mark.slow
def test_small_workflow_end_to_end_and_audit(tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(small_study()))
    r = subprocess.run(SNAKEMAKE + ["--cores", "2", "-d", str(tmp_path)], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    results = tmp_path / "results"
    runs = pd.read_csv(results / "runs.csv")
    assert len(runs) == 4 and runs["status"].isin(["ok", "dirty"]).all() and runs["test_srcc"].notna().all()
    for name in ("main", "ablation", "hyperparameters", "training_log"):
        for ext in ("csv", "md", "tex", "provenance.json"):
            assert (results / "tables" / f"{name}.{ext}").is_file()
    for fig in ("ablation_waterfall", "pred_vs_mos", "attention_weights", "training_curves"):
        assert (results / "figures" / f"{fig}.png").stat().st_size > 1000
    assert "\\toprule" in (results / "tables" / "ablation.tex").read_text()

    assert (results / "paper.pdf").read_bytes()[:5] == b"%PDF-"

    # The report embeds every table and figure with its own caption from the catalogue, and the paper.
    r = subprocess.run(SNAKEMAKE + ["-d", str(tmp_path), "--report", "results/report.html"], capture_output=True,
                       text=True, cwd=tmp_path)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    html = (results / "report.html").read_text()
    captions = {o.name: o.caption for o in catalogue.tables(small_study()) + catalogue.figures(small_study())}
    for needle in ("ablation_waterfall.png", "ablation.csv", "training_log.csv", "paper.pdf",
                   captions["ablation"], captions["training_curves"]):
        assert needle in html, needle

    table = pd.read_csv(results / "tables" / "ablation.csv", index_col="row")
    c3 = runs[runs["experiments"] == "C3"]["test_srcc"]
    assert table.loc["C3", "srcc_median"] == pytest.approx(c3.median())
    for column in ("srcc_median", "plcc_std", "srcc_delta_vs_prev", "p_vs_prev", "p_holm_vs_prev"):
        r = subprocess.run([sys.executable, "-m", "iqa.cli", "audit", str(results / "tables" / "ablation.csv"),
                            "C3", column], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "matches" in r.stdout and "C3_s1" in r.stdout

    # Tamper with one prediction: the audit must notice.
    sidecar = json.loads((results / "tables" / "ablation.provenance.json").read_text())
    rid = sidecar["cells"]["C3|srcc_median"]["runs"][0]
    pred = pd.read_csv(results / "runs" / rid / "predictions.csv")
    pred.loc[0, "pred"], pred.loc[1, "pred"] = pred.loc[1, "pred"] + 50, pred.loc[0, "pred"] - 50
    pred.to_csv(results / "runs" / rid / "predictions.csv", index=False)
    r = subprocess.run([sys.executable, "-m", "iqa.cli", "audit", str(results / "tables" / "ablation.csv"),
                        "C3", "srcc_mean"], capture_output=True, text=True)
    assert r.returncode == 1 and "DOES NOT MATCH" in r.stdout and "TAMPERED" in r.stdout

    # Changing one experiment reruns only its runs.
    cfg = small_study()
    cfg["experiments"]["C0"]["train"] = {"lr": 1e-4}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    r = subprocess.run(SNAKEMAKE + ["-n", "-d", str(tmp_path)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0
    jobs = dict(line.split()[:2] for line in r.stdout.splitlines() if line.startswith("train"))
    assert jobs == {"train_pack_C0": "1"}, r.stdout[-1500:]  # C0's two runs, one pack


@pytest.mark.slow
def test_corrupt_jpeg_fails_its_runs_only_and_a_rerun_finishes_them(tmp_path):
    from iqa.data.synthetic import make_synthetic

    bad_root = make_synthetic(tmp_path / "bad", 60, seed=2)
    victim = sorted((Path(bad_root) / "512x384").glob("*.jpg"))[7]
    good_bytes = victim.read_bytes()
    victim.write_bytes(good_bytes[: len(good_bytes) // 3])  # truncated mid-scan
    cfg = small_study()
    cfg["experiments"] = {"C3": {}, "Cbad": {"of": "C3", "data": {"root": str(bad_root)}}}
    cfg["tables"] = {"main": ["C3", "Cbad"], "ablation": ["C3", "Cbad"], "best_of": "C3"}
    cfg["packing"] = {"by": "experiment", "runs": 2}  # a job per experiment: Cbad's failure is its own
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    run = SNAKEMAKE + ["--cores", "2", "-d", str(tmp_path), "--keep-going"]

    r = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode != 0
    results = tmp_path / "results"
    runs = pd.read_csv(results / "runs.csv").set_index("run_id")
    bad = [rid for rid in runs.index if rid.startswith("Cbad")]
    good = [rid for rid in runs.index if rid.startswith("C3")]
    assert len(bad) == len(good) == 2
    assert (runs.loc[good, "status"].isin(["ok", "dirty"])).all()  # independent runs completed
    assert (runs.loc[bad, "status"] == "missing").all()  # the tables say which runs are missing
    for rid in bad:
        assert not (results / "runs" / rid / "metrics.json").exists()
        assert victim.name in (results / "logs" / "train" / f"{rid}.log").read_text()
    assert "missing" in (results / "tables" / "ablation.md").read_text()
    finished = {rid: (results / "runs" / rid / "metrics.json").stat().st_mtime_ns for rid in good}

    victim.write_bytes(good_bytes)  # repaired: a plain rerun finishes only what is missing
    r = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    runs = pd.read_csv(results / "runs.csv").set_index("run_id")
    assert runs["status"].isin(["ok", "dirty"]).all()
    assert {rid: (results / "runs" / rid / "metrics.json").stat().st_mtime_ns for rid in good} == finished


def job_counts(stdout: str) -> dict[str, int]:
    """`Job stats` of a snakemake dry run: rule -> jobs."""
    block = stdout.split("Job stats:")[1].split("\n\n")[0]
    return {line.split()[0]: int(line.split()[1]) for line in block.splitlines()[3:] if line.split()[0] != "total"}


def dry_run(*args) -> dict[str, int]:
    """A dry run from the repository root, as the README gives the commands."""
    r = subprocess.run([sys.executable, "-m", "snakemake", "-n", *args], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    return job_counts(r.stdout)


@pytest.mark.slow
def test_paper_command_plans_exactly_the_paper_study_from_the_repository_root():
    from iqa.training.pack import score_packs
    from iqa.study.spec import cross_dataset_jobs

    cfg = load("config/koniq10k.yaml")
    study = expand(cfg)
    jobs = dry_run("--configfile", "config/koniq10k.yaml")
    trained = packs(study, cfg["packing"])  # each pack one job; every run in exactly one
    assert sum(map(len, trained.values())) + jobs.get("train", 0) == len(study.runs) == 390
    assert {k for k in jobs if k.startswith("train_pack_")} == {f"train_pack_{p}" for p in trained}
    scored = score_packs(study, cross_dataset_jobs(cfg, study), cfg["packing"])
    assert sum(len(rids) for _, rids in scored.values()) + jobs.get("score", 0) == 60
    assert "synthetic_data" not in jobs  # nothing of the demo (its data, its shifted set) leaks in
    assert sorted(k for k in jobs if k.startswith("table_")) == sorted(f"table_{t.name}" for t in catalogue_tables(cfg))
    # one table: C0..C3 on every split (8 packs of 5 runs), the check of those runs, the table
    ablation = dry_run("results/tables/ablation.csv", "--configfile", "config/koniq10k.yaml")
    assert {k for k in ablation if k.startswith("train_pack_")} == {
        f"train_pack_{p}" for p in trained if set(trained[p]) <= {r for e in ("C0", "C1", "C2", "C3") for r in study.run_ids(e)}}
    assert sum(len(trained[k.removeprefix("train_pack_")]) for k in ablation if k.startswith("train_pack_")) == 40
    assert set(ablation) - {k for k in ablation if k.startswith("train_pack_")} == {"check_runs", "table_ablation"}
    c3 = dry_run("results/experiments/C3.json", "--configfile", "config/koniq10k.yaml")
    assert sum(len(trained[k.removeprefix("train_pack_")]) for k in c3 if k.startswith("train_pack_")) == 10
    assert "experiment" in c3


def catalogue_tables(cfg):
    from iqa.study import catalogue

    return catalogue.tables(cfg)


def test_rehearsal_differs_from_the_paper_study_only_in_scale():
    from iqa.study import catalogue
    from iqa.study.spec import SCALE_KEYS, cross_dataset_jobs, load_study, rehearse

    paper = load("config/koniq10k.yaml")
    rehearsal = rehearse(load_study([REPO / "config/koniq10k.yaml", REPO / "config/rehearsal.yaml"]))
    a, b = expand(paper), expand(rehearsal)
    assert list(a.experiments) == list(b.experiments)
    assert [t.name for t in catalogue.tables(paper)] == [t.name for t in catalogue.tables(rehearsal)]
    assert [f.name for f in catalogue.figures(paper)] == [f.name for f in catalogue.figures(rehearsal)]
    for section in ("tables", "sweeps", "factorial", "reported", "sota"):
        assert paper[section] == rehearsal[section], section
    assert b.splits == a.splits[:2]
    assert {n for n, _ in cross_dataset_jobs(paper, a)} == {n for n, _ in cross_dataset_jobs(rehearsal, b)}
    for name in a.experiments:
        changed = set(config.diff(b.experiments[name], a.experiments[name]))
        assert changed <= set(SCALE_KEYS), (name, changed - set(SCALE_KEYS))
    # a centre-crop test is a protocol: the rehearsal keeps it
    assert b.experiments["centre_crop"].data.test_crops == "center"


def test_a_rehearsal_may_change_only_scale_keys():
    from iqa.study.spec import rehearse

    cfg = load("config/koniq10k.yaml")
    cfg["rehearsal"] = {"run": {"train": {"lr": 1e-3}}}
    with pytest.raises(config.ConfigError, match="rehearsal.run: train.lr is not a scale key"):
        rehearse(cfg)


@pytest.mark.slow
def test_paper_study_without_data_or_weights_stops_before_any_job_in_one_line_per_problem(tmp_path):
    r = subprocess.run(SNAKEMAKE + ["--cores", "1", "-d", str(tmp_path), "--configfile",
                                    str(REPO / "config/koniq10k.yaml")], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode != 0
    checks = [line for line in (r.stdout + r.stderr).splitlines() if line.startswith("iqa check: ")]
    assert checks[0].startswith("iqa check: data root data/koniq10k (koniq10k) not found"), checks
    assert any("`hf download timm/" in line for line in checks) or not any("weights" in c for c in checks)
    assert not (tmp_path / "results" / "runs").exists()  # no job ran


@pytest.mark.slow
def test_a_tampered_run_stops_the_workflow_and_the_last_good_outputs_stay(tmp_path):
    from fake_runs import small_study as fabricated, write_study_runs

    cfg = {**fabricated(), "resources": load("config.yaml")["resources"]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    results = tmp_path / "results"
    write_study_runs(cfg, results)  # finished runs: the workflow only aggregates them
    run = SNAKEMAKE + ["--cores", "1", "-d", str(tmp_path)]
    r = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    published = [results / "runs.csv", results / "numbers.tex", results / "numbers.json",
                 *(results / "tables").iterdir(), *(results / "figures").iterdir()]
    before = {p: p.read_bytes() for p in published}

    path = sorted((results / "runs").glob("*/metrics.json"))[0]
    m = json.loads(path.read_text())
    m["val"]["srcc"] += 0.01
    path.write_text(json.dumps(m))
    r = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode != 0
    assert f"{path.relative_to(tmp_path)} was edited after the run" in r.stdout + r.stderr
    assert {p: p.read_bytes() for p in published if p.is_file()} == before


@pytest.mark.slow
@pytest.mark.parametrize("edit, message", [
    (lambda text: text.replace("\nsweeps:", "\nsweep:"),
     "config.yaml: unknown key 'sweep'; did you mean 'sweeps'?"),
    (lambda text: text.replace("splits: [0, 1, 2]", "splits: !!python/object/apply:os.getpid []"),
     "config.yaml: line 8 ('splits: !!python/object/apply:os.getpid []'): a YAML tag that builds Python "
     "objects is not allowed; remove the tag"),
])
def test_a_bad_study_file_is_one_line_naming_the_key(tmp_path, edit, message):
    (tmp_path / "config.yaml").write_text(edit((REPO / "config.yaml").read_text()))
    r = subprocess.run(SNAKEMAKE + ["-n", "-d", str(tmp_path)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode != 0 and message in r.stdout + r.stderr
    assert len((r.stdout + r.stderr).splitlines()) < 15  # not the schema (462 lines)


@pytest.mark.slow
def test_adaptive_demo_adds_splits_only_where_a_comparison_is_unresolved(tmp_path):
    """config/adaptive.yaml end to end: the planted harm is a finding at the first look and stops at 3
    splits, the A/A rerun and its reference C3 train on to 5; the tables read the splits each ended with;
    a rerun has nothing to do."""
    cfg = load("config/adaptive.yaml")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    r = subprocess.run(SNAKEMAKE + ["--cores", "2", "-d", str(tmp_path)], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    results = tmp_path / "results"
    looks = {j: json.loads((results / "looks" / f"{j}.json").read_text()) for j in (3, 4, 5)}
    first = {c["name"]: c["status"] for c in looks[3]["comparisons"]}
    assert first == {"C3_rerun vs C3": "unresolved", "C3_reversed vs C3": "finding"}
    assert looks[3]["more"] == ["C3", "C3_rerun"] and looks[5]["more"] == []
    study = expand(cfg)
    trained = {e: sum((results / "runs" / rid / "metrics.json").is_file() for rid in study.run_ids(e))
               for e in study.cells}
    assert trained == {"C3": 5, "C3_rerun": 5, "C3_reversed": 3}
    assert (results / "runs" / study.run_ids("C3_reversed")[3]).exists() is False  # never asked for

    table = pd.read_csv(results / "tables" / "controls.csv", index_col="row")
    assert table.loc["reversed labels", "pairs"] == 3 and table.loc["A/A rerun", "pairs"] == 5
    assert table.loc["reversed labels", "srcc_rci_high"] < 0 < table.loc["A/A rerun", "srcc_rci_high"]
    assert "Adaptive splits" in (results / "tables" / "controls.md").read_text()
    assert len(pd.read_csv(results / "runs.csv")) == 13 and (results / "paper.pdf").is_file()

    r = subprocess.run(SNAKEMAKE + ["-n", "-d", str(tmp_path)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and "Nothing to be done" in r.stdout + r.stderr, (r.stdout + r.stderr)[-2000:]
