"""Adaptive splits (iqa/study/adaptive.py): the looks' decisions, the splits each experiment ends with,
and the tables that read them. The workflow itself runs them in tests/test_workflow.py (slow)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_runs import small_study, write_run

from iqa.core import layout
from iqa.core.errors import ConfigError
from iqa.core.vocab import Metric
from iqa.results.aggregate import aggregate
from iqa.results.audit import audit
from iqa.stats.sequential import Schedule, run
from iqa.study.adaptive import as_trained, cut, first_look, read_looks, take_look, walk
from iqa.training.record import read_metrics
from iqa.study.spec import adaptive_splits, check_study, expand, split_indices


def adaptive_study() -> dict:
    """A planted harm (shuffled labels), an A/A rerun, and an experiment no table compares."""
    cfg = small_study()
    cfg.update(splits={"adaptive": {"k0": 3, "step": 1, "k_max": 5}}, sweeps={}, factorial=None)
    cfg["experiments"] = {e: cfg["experiments"][e] for e in ("C3", "C3_rerun", "C3_shuffled")}
    cfg["experiments"]["C1"] = {"of": "C3", "model": {"multiscale": False, "attention_fusion": False}}
    cfg["tables"] = {"best_of": "C3", "controls": cfg["tables"]["controls"]}
    return cfg


def test_adaptive_splits_declare_the_fixed_study_run_ids():
    cfg = adaptive_study()
    assert adaptive_splits(cfg) == (Schedule(3, 1, 5), 0.0)
    assert split_indices(cfg) == [0, 1, 2, 3, 4] and adaptive_splits(small_study()) is None
    fixed = expand({**cfg, "splits": [0, 1, 2, 3, 4]})
    study = expand(cfg)
    assert study.cells == fixed.cells and study.runs == fixed.runs
    assert all(len(v) == 3 for v in first_look(cfg, study).cells.values())
    assert first_look(small_study(), fixed) is fixed


@pytest.mark.parametrize("splits, message", [
    ({"adaptive": {"k0": 1, "step": 1, "k_max": 5}}, "splits.adaptive.k0: a whole number >= 2"),
    ({"adaptive": {"k0": 3, "step": 0, "k_max": 5}}, "splits.adaptive.step"),
    ({"adaptive": {"k0": 4, "step": 1, "k_max": 3}}, "splits.adaptive.k_max: 3 is below k0 (4)"),
    ({"adaptive": {"k0": 3, "step": 1}}, "splits.adaptive.k_max"),
    ({"adaptive": {"k0": 3, "step": 1, "k_max": 5, "margn": 0.1}}, "unknown key 'splits.adaptive.margn'"),
    ({"adaptive": {"k0": 3, "step": 1, "k_max": 5, "margin": -1}}, "splits.adaptive.margin"),
    ({"adaptiv": {"k0": 3}}, "splits: a list of split indices, or {adaptive:"),
])
def test_a_bad_adaptive_design_is_one_line_naming_the_key(splits, message):
    cfg = {**adaptive_study(), "splits": splits, "resources": {"train": {"gpu": 0, "runtime": 1, "mem_mb": 100,
                                                                          "threads": 1}}}
    with pytest.raises(ConfigError, match="^study.yaml: ") as e:
        check_study(cfg, "study.yaml")
    assert message in str(e.value) and "\n" not in str(e.value)
    population = {**adaptive_study(), "stats": {"claim": "population"}}
    with pytest.raises(ConfigError, match="stats.claim dataset"):
        adaptive_splits(population)


def train_as_the_workflow_does(cfg: dict, results: Path) -> dict[str, int]:
    """What the workflow's checkpoints do, without Snakemake: train what the looks ask for (fake runs),
    take the next look, until no look asks for more."""
    study = expand(cfg)
    read = read_looks(results)
    while True:
        splits, taken = walk(cfg, study, read)
        trained = cut(study, splits)
        for rid, run_cfg in trained.runs.items():
            if not layout.run_file(results, rid).is_file():
                write_run(layout.run_dir(results, rid), run_cfg)
        j = taken[-1]
        if read(j) is not None:
            return splits
        srcc = {rid: read_metrics(layout.run_file(results, rid))["test"][Metric.SRCC] for rid in trained.runs}
        record = take_look(cfg, study, j, srcc, read(taken[-2]) if len(taken) > 1 else None)
        layout.looks_dir(results).mkdir(parents=True, exist_ok=True)
        layout.look_file(results, j).write_text(json.dumps(record))


def test_looks_stop_resolved_comparisons_and_tables_read_the_splits_each_ended_with(tmp_path):
    cfg, results = adaptive_study(), tmp_path / "results"
    splits = train_as_the_workflow_does(cfg, results)
    # the harm is a finding at the first look; the A/A rerun stays unresolved, so it and its reference go on;
    # C1 is in no comparison: nothing decides it is done (as `iqa plan --adaptive` projects)
    assert splits == {"C3": 5, "C3_rerun": 5, "C3_shuffled": 3, "C1": 5}
    first, last = (json.loads(layout.look_file(results, j).read_text()) for j in (3, 5))
    status = {c["name"]: c["status"] for c in first["comparisons"]}
    assert status == {"C3_rerun vs C3": "unresolved", "C3_shuffled vs C3": "finding"}
    assert first["more"] == ["C3", "C3_rerun", "C1"] and first["next"] == 4
    assert last["more"] == [] and last["next"] is None
    assert {c["name"]: c["splits"] for c in last["comparisons"]} == {"C3_rerun vs C3": 5, "C3_shuffled vs C3": 3}
    assert len(list(layout.runs_dir(results).iterdir())) == 3 * 5 + 3

    aggregate(cfg, results, only=["controls"])
    table = pd.read_csv(layout.table_file(results, "controls", "csv"), index_col="row")
    assert table.loc["shuffled labels", "pairs"] == 3 and table.loc["A/A rerun", "pairs"] == 5
    for row in table.index:  # the repeated interval is the wider one, around the same mean
        assert table.loc[row, "srcc_rci_low"] < table.loc[row, "srcc_ci_low"] < table.loc[row, "srcc_delta"]
        assert table.loc[row, "srcc_delta"] < table.loc[row, "srcc_ci_high"] < table.loc[row, "srcc_rci_high"]
    notes = json.loads(layout.table_file(results, "controls", layout.PROVENANCE).read_text())["notes"]
    assert any(n.startswith("Adaptive splits") for n in notes) and not any("missing" in n for n in notes)
    text, same = audit(layout.table_file(results, "controls", "csv"), "shuffled labels", "srcc_rci_high")
    assert same and "matches" in text
    assert len(as_trained(cfg, expand(cfg), results).runs) == 3 * 5 + 3


def test_fixed_study_tables_get_no_repeated_interval(tmp_path):
    cfg, results = adaptive_study(), tmp_path / "results"
    cfg["splits"] = [0, 1, 2]
    for rid, run_cfg in expand(cfg).runs.items():
        write_run(layout.run_dir(results, rid), run_cfg)
    aggregate(cfg, results, only=["controls"])
    side = json.loads(layout.table_file(results, "controls", layout.PROVENANCE).read_text())
    assert not any("rci" in key for key in side["cells"]) and not any("Adaptive" in n for n in side["notes"])


def test_the_workflow_looks_stop_where_the_simulated_sequential_rule_stops():
    """The looks (take_look + walk) are the procedure whose type-I error and coverage
    tests/test_sequential.py simulates: on simulated differences they stop at the same splits."""
    cfg = adaptive_study()
    cfg["experiments"] = {"A": {}, "B": {"of": "A", "reseed": 7}}
    cfg["tables"] = {"main": ["A", "B"]}
    cfg["splits"]["adaptive"]["margin"] = 0.01
    study = expand(cfg)
    schedule, margin = adaptive_splits(cfg)
    rng = np.random.default_rng(3)
    d = rng.normal(rng.choice([0.0, 0.01, 0.03], (300, 1)), 0.01, (300, schedule.k_max))
    expected = run(d, schedule, margin)["splits"]
    a, b = study.run_ids("A"), study.run_ids("B")
    for row, want in zip(d, expected):
        srcc = {**dict.fromkeys(a, 0.0), **dict(zip(b, row))}
        looks = {}
        while True:
            splits, taken = walk(cfg, study, looks.get)
            if taken[-1] in looks:
                break
            looks[taken[-1]] = take_look(cfg, study, taken[-1], srcc, looks.get(taken[-2]) if len(taken) > 1 else None)
        assert splits == {"A": want, "B": want}


def test_iqa_plan_projects_an_adaptive_study_against_fixed_splits(capsys):
    from iqa.cli import main

    assert main(["plan", "config/adaptive.yaml", "--throughput", "200"]) == 0
    assert "adaptive study: add --sd" in capsys.readouterr().out
    assert main(["plan", "config/adaptive.yaml", "--throughput", "200", "--sd", "0.03", "--delta", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "looks at 3, 4, 5 splits" in out and "fixed at 5 splits" in out
    expected, fixed = (float(x.split()[0]) for x in out.split("expected ")[1].split(" h against "))
    assert expected < fixed  # a 0.1 step is found before k_max
