"""Every table and figure a study produces, declared once: name, caption, builder, and the part of the
study config its rows come from. The workflow asks this module for its outputs; `report` builds them.

Torch- and matplotlib-free, so the workflow lists a study's outputs when it is parsed.
"""
from __future__ import annotations

from dataclasses import dataclass

TABLE_FILES = ("csv", "md", "tex", "provenance.json")
FIGURE_FILES = ("pdf", "png")
NUMBERS_FILES = ("numbers.tex", "numbers.json")  # every quoted number as a LaTeX macro (iqa.numbers)


@dataclass(frozen=True)
class Output:
    name: str
    caption: str
    build: str  # function name in iqa.tables (tables) or iqa.figures (figures)
    source: str  # the study-config section its rows come from
    arg: str | None = None  # e.g. the sweep or table a builder reads


# Tables whose rows a study lists under `tables:` but that are not plain comparisons (builder, caption).
SPECIAL_TABLES = {
    "ablation": ("forward_path", "Forward ablation: each component added in turn"),
    "controls": ("controls", "Controls: an A/A rerun (true effect zero) and a planted effect (known to hurt)"),
    "selection": ("selection_gap", "Selection optimism: test-selected minus validation-selected SRCC"),
    "precision": ("precision", "Precision: bf16 autocast and TF32 against fp32, paired, with a TOST equivalence test"),
}
# Captions of the usual comparison tables; any other list under `tables:` is a comparison table too.
CAPTIONS = {
    "main": "Main comparison on the test set",
    "leave_one_out": "Leave-one-out: the full model without one component",
    "strategy": "Training and evaluation strategy ablations",
    "size": "Backbone size: accuracy, parameters, GFLOPs per patch, training throughput",
    "loss": "Loss functions",
}
SETTINGS = ("best_of", "contributions")  # keys under `tables:` that configure other tables
_LAST_TABLES = (
    ("cross_dataset", "Cross-dataset: models trained here, scored without retraining on other datasets",
     "cross_dataset", "cross_dataset"),
    ("contributions", "Contribution of each component (SRCC points x100)", "contributions", "factorial"),
    ("complexity", "Computational cost of each model, measured, beside its accuracy", "complexity", "complexity"),
    ("sota", "Comparison with published methods (quoted) beside this study's measured rows", "sota", "sota"),
    ("hyperparameters", "Hyperparameters of the runs that produced the tables", "hyperparameters", "experiments"),
    ("training_log", "Per-epoch log of the best-validation run", "training_log", "experiments"),
)
# (name, caption, builder, source section, table or None)
_FIGURES = (
    ("ablation_waterfall", "Forward ablation: SRCC and PLCC from the baseline, one step per component, "
     "paired 95% CIs", "ablation_waterfall", "tables.ablation", "ablation"),
    ("loss_comparison", "Loss functions: test SRCC and PLCC per loss (bars) and SRCC against PLCC per split",
     "bars_and_scatter", "tables.loss", "loss"),
    ("contributions", "Shapley contribution of each component with 95% CIs", "contribution_chart",
     "factorial", "contributions"),
    ("cross_dataset", "Cross-dataset median test SRCC: experiments x datasets", "cross_dataset_heatmap",
     "cross_dataset", "cross_dataset"),
    ("training_curves", "Training loss and validation SRCC per epoch", "training_curves", "experiments", None),
    ("attention_weights", "Scale attention weights by MOS quintile", "attention_weights", "experiments", None),
    ("pred_vs_mos", "Predicted score against MOS on the test set", "pred_vs_mos", "experiments", None),
    ("per_image_attention", "Test images at the 10th, 50th and 90th MOS percentile with their scale attention",
     "attention_examples", "experiments", None),
    ("feature_maps", "Per-stage feature activations of a high- and a low-quality test image",
     "feature_map_examples", "experiments", None),
)


def _present(study_cfg: dict, source: str) -> bool:
    section, _, key = source.partition(".")
    node = study_cfg.get(section) or {}
    return bool(node.get(key)) if key else bool(node)


def tables(study_cfg: dict) -> list[Output]:
    out = []
    for name in study_cfg.get("tables") or {}:
        if name in SETTINGS:
            continue
        build, caption = SPECIAL_TABLES.get(name, ("comparison", CAPTIONS.get(name, f"Comparison: {name}")))
        out.append(Output(name, caption, build, f"tables.{name}"))
    for sweep, spec in (study_cfg.get("sweeps") or {}).items():
        out.append(Output(f"{sweep}_sweep", f"Sweep of {spec['key']} from {spec.get('of') or 'the base'}",
                          "sweep", f"sweeps.{sweep}", sweep))
    return out + [Output(*spec) for spec in _LAST_TABLES if _present(study_cfg, spec[3])]


def figures(study_cfg: dict) -> list[Output]:
    out = [Output(*spec) for spec in _FIGURES if _present(study_cfg, spec[3])]
    for sweep, spec in (study_cfg.get("sweeps") or {}).items():
        out.append(Output(f"{sweep}_sweep", f"Test and validation SRCC across {spec['key']}", "sweep_curve",
                          f"sweeps.{sweep}", f"{sweep}_sweep"))
    return out


def files(study_cfg: dict, results: str = "results") -> list[str]:
    """Every table and figure file the study's aggregation writes."""
    paths = [f"{results}/tables/{t.name}.{ext}" for t in tables(study_cfg) for ext in TABLE_FILES]
    paths += [f"{results}/figures/{f.name}.{ext}" for f in figures(study_cfg) for ext in FIGURE_FILES]
    return paths + [f"{results}/{name}" for name in NUMBERS_FILES]
