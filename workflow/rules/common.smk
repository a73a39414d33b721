from pathlib import Path

from iqa import catalogue
from iqa.config import ConfigError
from iqa.study import expand as expand_study

# Every run of the study is fully validated here, before any job starts (torch is not imported).
try:
    STUDY = expand_study(config)
except (ConfigError, ValueError) as e:
    raise ValueError(f"invalid study config: {e}") from None

TABLES = [t.name for t in catalogue.tables(config)]
FIGURES = [f.name for f in catalogue.figures(config)]
RESOURCES = config["resources"]["train"]


def table_files():
    return expand("results/tables/{table}.{ext}", table=TABLES, ext=catalogue.TABLE_FILES)


def figure_files():
    return expand("results/figures/{figure}.{ext}", figure=FIGURES, ext=catalogue.FIGURE_FILES)


def run_metrics():
    return expand("results/runs/{run_id}/metrics.json", run_id=sorted(STUDY.runs))


def dataset_input(wildcards):
    """The generated label file when the study makes its own synthetic data; real data is not a rule's job."""
    if (config.get("dataset") or {}).get("synthetic"):
        return f"{STUDY.base['data']['root']}/koniq10k_distributions_sets.csv"
    return []


def aggregate_now():
    from iqa.report import aggregate

    aggregate(config, "results")
