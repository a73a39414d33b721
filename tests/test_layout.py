"""The results layout: every path under results/ defined once (iqa/core/layout.py), and taken from there by
the library and the workflow."""
import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from iqa.core import layout
from iqa.study import catalogue
from iqa.study.spec import cross_dataset_jobs, expand

REPO = Path(__file__).resolve().parent.parent
# Every file name the layout defines; a module spelling one of them itself has a second definition.
NAMES = {layout.METRICS, layout.PREDICTIONS, layout.HISTORY, layout.MODEL, layout.CHECKPOINT, layout.TRAIN_LOG,
         layout.PROVENANCE, *layout.PAPER_FILES, *layout.NUMBERS_FILES, "runs.csv", "study.json", "paper.pdf"}
# The Hugging Face hub names its weights file model.safetensors too: a hub file, not a run's.
ALLOWED = {("iqa/models/builder.py", "model.safetensors")}


def test_a_wildcard_for_a_name_gives_the_workflows_pattern():
    assert str(layout.run_file(layout.RESULTS, "{run_id}")) == "results/runs/{run_id}/metrics.json"
    assert str(layout.score_file("r", "{dataset}", "{run_id}")) == "r/scores/{dataset}/{run_id}/metrics.json"
    assert str(layout.log_file("r", "aggregate")) == "r/logs/aggregate.log"
    assert str(layout.look_file(layout.RESULTS, "{look}")) == "results/looks/{look}.json"  # an adaptive study's
    assert (str(layout.log_file("r", "synthetic_data", "data/x", "labels.csv"))
            == "r/logs/synthetic_data/data/x/labels.csv.log")
    assert layout.record_dir("r", layout.score_ref("spaq", "C3-1")) == layout.score_dir("r", "spaq", "C3-1")
    assert layout.record_dir("r", "C3-1") == layout.run_dir("r", "C3-1")
    assert layout.TABLE_FILES == ("csv", "md", "tex", "provenance.json", "paper.tex", "paper.md")


def _python_literals(path: Path) -> set[str]:
    return {n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)}


def test_no_module_or_rule_spells_a_results_path_itself():
    found = []
    for path in sorted((REPO / "iqa").rglob("*.py")) + sorted((REPO / "workflow/scripts").glob("*.py")):
        rel = str(path.relative_to(REPO))
        if rel != "iqa/core/layout.py":
            found += [(rel, s) for s in _python_literals(path) & NAMES if (rel, s) not in ALLOWED]
    for path in [REPO / "Snakefile", *sorted((REPO / "workflow/rules").glob("*.smk"))]:
        rel = str(path.relative_to(REPO))
        code = "\n".join(line.split("#")[0] for line in path.read_text().splitlines())  # comments may name paths
        found += [(rel, s) for s in re.findall(r"[\"']([^\"']*)[\"']", code)
                  if s.startswith("results/") or s in NAMES or s.endswith(tuple(f"/{n}" for n in NAMES))]
    assert found == []


@pytest.mark.slow  # one Snakemake start
def test_the_workflows_outputs_are_the_layouts_paths():
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    study = expand(cfg)
    r = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--forceall", "--cores", "1"],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    listed = {kind: {f for line in re.findall(rf"^    {kind}: (.*)$", r.stdout, re.M) for f in line.split(", ")}
              for kind in ("output", "log")}
    tables = [t.name for t in catalogue.tables(cfg)]
    expected = {layout.run_file(layout.RESULTS, rid) for rid in study.runs}
    expected |= {layout.score_file(layout.RESULTS, name, rid) for name, rid in cross_dataset_jobs(cfg, study)}
    expected |= {layout.complexity_file(layout.RESULTS, e) for e in cfg["complexity"]["experiments"]}
    expected |= {layout.check_file(layout.RESULTS, part) for part in ["all", *tables]}
    expected |= set(catalogue.files(cfg)) | {layout.runs_csv(layout.RESULTS), layout.paper_pdf(layout.RESULTS)}
    generated = {f for f in listed["output"] if not f.startswith(f"{layout.RESULTS}/")}  # the synthetic datasets
    assert {Path(f) for f in listed["output"] - generated} == expected
    assert all(Path(f).is_relative_to(layout.log_file(layout.RESULTS, "x").parent) for f in listed["log"])
    assert {str(layout.log_file(layout.RESULTS, job)) for job in ("aggregate", "paper")} <= listed["log"]
