import re
from pathlib import Path

from iqa import catalogue
from iqa.config import ConfigError
from iqa.pack import packs, score_packs
from iqa.study import cross_dataset_jobs, expand as expand_study, synthetic_datasets

# Every run of the study is fully validated here, before any job starts (torch is not imported).
try:
    STUDY = expand_study(config)
except (ConfigError, ValueError) as e:
    raise ValueError(f"invalid study config: {e}") from None

TABLES = [t.name for t in catalogue.tables(config)]
FIGURES = [f.name for f in catalogue.figures(config)]
RESOURCES = config["resources"]["train"]
try:
    PACKS = packs(STUDY, config.get("packing"))  # pack name -> run ids trained by one job (iqa/pack.py)
except ConfigError as e:
    raise ValueError(f"invalid study config: {e}") from None
ALONE = sorted(set(STUDY.runs) - {rid for rids in PACKS.values() for rid in rids})
SYNTHETIC = synthetic_datasets(config, STUDY)  # root -> {n, seed, mix} of every dataset the workflow generates
CROSS_DATASET = cross_dataset_jobs(config, STUDY)
SCORE_PACKS = score_packs(STUDY, CROSS_DATASET, config.get("packing"))  # name -> (dataset, run ids)
SCORED_ALONE = sorted({rid for _, rid in CROSS_DATASET} - {rid for _, rids in SCORE_PACKS.values() for rid in rids})


def table_files():
    return expand("results/tables/{table}.{ext}", table=TABLES, ext=catalogue.TABLE_FILES)


def figure_files():
    return expand("results/figures/{figure}.{ext}", figure=FIGURES, ext=catalogue.FIGURE_FILES)


def run_metrics():
    return expand("results/runs/{run_id}/metrics.json", run_id=sorted(STUDY.runs))


def complexity_files():
    return expand("results/complexity/{experiment}.json", experiment=(config.get("complexity") or {}).get("experiments", []))


def score_metrics():
    return [f"results/scores/{name}/{rid}/metrics.json" for name, rid in CROSS_DATASET]


def _generated(root):
    return [f"{root}/koniq10k_distributions_sets.csv"] if root in SYNTHETIC else []


def dataset_input(wildcards):
    """The generated label file when the run's data is synthetic; real data is not a rule's job."""
    return _generated(STUDY.runs[wildcards.run_id]["data"]["root"])


def score_data_input(wildcards):
    return _generated(config["cross_dataset"]["datasets"][wildcards.dataset]["root"])


def aggregate_now():
    from iqa.report import aggregate

    aggregate(config, "results")
