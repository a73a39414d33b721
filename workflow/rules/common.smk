from pathlib import Path

from iqa.config import ConfigError
from iqa.report import aggregate
from iqa.study import expand as expand_study

try:
    STUDY = expand_study(config)
except ConfigError as e:
    raise ValueError(f"invalid study config: {e}") from None

TABLES = ["main", "ablation", "leave_one_out", "strategy", "contributions", "hyperparameters"]
TABLES += [name for key, name in (("lr", "lr_sweep"), ("size", "model_size")) if key in config.get("sweeps", {})]
TABLES += ["training_log"]
FIGURES = ["ablation_waterfall", "lr_sensitivity", "model_size", "training_curves", "attention_weights",
           "pred_vs_mos", "contributions"]
RESOURCES = config["resources"]["train"]


def table_files():
    return expand("results/tables/{table}.{ext}", table=TABLES, ext=["csv", "md", "tex", "provenance.json"])


def figure_files():
    return expand("results/figures/{figure}.{ext}", figure=FIGURES, ext=["pdf", "png"])


def run_metrics():
    return expand("results/runs/{run_id}/metrics.json", run_id=sorted(STUDY.runs))


def dataset_input(wildcards):
    """The generated label file when the study makes its own synthetic data; real data is not a rule's job."""
    if (config.get("dataset") or {}).get("synthetic"):
        return f"{STUDY.base['data']['root']}/koniq10k_distributions_sets.csv"
    return []


def aggregate_now():
    aggregate(config, "results")
