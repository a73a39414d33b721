"""iqa: a HyperIQA -> Swin-HyperIQA ablation study, reproducible end to end, on a laptop or a SLURM cluster.

The package is in layers, lowest first; a module imports only from its own layer or a lower one
(tests/test_layers.py checks every import, function-level ones included):

    core      errors, the results layout, the vocabulary (metric, statistic, table names), devices, metrics
    models    the torch-free model registry; HyperIQA heads on timm backbones; saved model files; cost
    config    (iqa/config.py) a run's typed config: every key declared once
    data      datasets in their release layouts, splits, crops, the decoded-image cache, synthetic data
    training  one run or a pack of runs: steps, selection, evaluation, its self-describing record; scoring
    measure   `iqa bench` and `iqa complexity`
    stats     paired intervals, Holm, what a table claims, calibration, label-noise ceiling, sequential looks
    study     a study config expanded into runs; its tables and figures; plan, preflight checks, power
    results   runs -> tables, paper forms, figures, numbers for the prose, paper.pdf; audit; reproduce
    cli       the `iqa` command

The names below are the public API. Each is imported on first use, so `import iqa` costs nothing and
the workflow can parse a study without importing torch.
"""
from importlib import import_module

API = {  # public name -> the module that defines it
    "RunConfig": "iqa.config",
    "load_config": "iqa.config",  # iqa.config.load: a run config from YAML + overrides
    "build_model": "iqa.models.builder",
    "load_model": "iqa.models.saved",
    "load_koniq": "iqa.data.dataset",
    "load_dataset": "iqa.data.external",
    "correlations": "iqa.core.metrics",
    "train": "iqa.training.train",
    "score_dataset": "iqa.training.score",
    "load_study": "iqa.study.spec",
    "expand": "iqa.study.spec",
    "aggregate": "iqa.results.aggregate",
    "audit": "iqa.results.audit",
    "reproduce": "iqa.results.reproduce",
}
RENAMED = {"load_config": "load"}
__all__ = sorted(API)


def __getattr__(name: str):
    if name not in API:
        raise AttributeError(f"module 'iqa' has no attribute {name!r}")
    return getattr(import_module(API[name]), RENAMED.get(name, name))
