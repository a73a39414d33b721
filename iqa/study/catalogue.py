"""Every table and figure a study produces, declared once: name, caption, builder, and the part of the
study config its rows come from. The workflow asks this module for its outputs; `iqa.results.aggregate` builds them.

Torch- and matplotlib-free, so the workflow lists a study's outputs when it is parsed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from iqa.core import layout
from iqa.core.vocab import FigureBuild, TableBuild
from iqa.study.spec import declared_experiments, factorial_cells, sweep_name


@dataclass(frozen=True)
class Output:
    name: str
    caption: str
    build: TableBuild | FigureBuild  # the builder registered under this name (iqa.results.tables, .figures)
    source: str  # the study-config section its rows come from
    arg: str | None = None  # e.g. the sweep or table a builder reads


# Tables whose rows a study lists under `tables:` but that are not plain comparisons (builder, caption).
SPECIAL_TABLES = {
    "ablation": (TableBuild.FORWARD_PATH, "Forward ablation: each component added in turn"),
    "controls": (TableBuild.CONTROLS, "Controls: an A/A rerun (true effect zero) and a planted effect (known to hurt)"),
    "selection": (TableBuild.SELECTION_GAP, "Selection optimism: test-selected minus validation-selected SRCC"),
    "precision": (TableBuild.PRECISION, "Precision: bf16 autocast and TF32 against fp32, paired, with a TOST equivalence test"),
}
# Captions of the usual comparison tables; any other list under `tables:` is a comparison table too.
CAPTIONS = {
    "main": "Main comparison on the test set",
    "leave_one_out": "Leave-one-out: the full model without one component",
    "strategy": "Training and evaluation strategy ablations",
    "size": "Backbone size: accuracy, parameters, GFLOPs per patch, training throughput",
    "loss": "Loss functions",
}
CEILING_TABLE = "main"  # the comparison table that shows the label-noise ceiling (iqa.stats.ceiling)
SETTINGS = ("best_of", "contributions")  # keys under `tables:` that configure other tables
_LAST_TABLES = (
    ("cross_dataset", "Cross-dataset: models trained here, scored without retraining on other datasets",
     TableBuild.CROSS_DATASET, "cross_dataset"),
    ("contributions", "Contribution of each component (SRCC points x100)", TableBuild.CONTRIBUTIONS,
     "factorial"),
    ("complexity", "Computational cost of each model, measured, beside its accuracy", TableBuild.COMPLEXITY,
     "complexity"),
    ("sota", "Published KonIQ-10k results (quoted) and this study's measured rows, compared only where "
     "measured on KonIQ-10k", TableBuild.SOTA, "sota"),
    ("hyperparameters", "Hyperparameters of the runs that produced the tables", TableBuild.HYPERPARAMETERS,
     "experiments"),
    ("training_log", "Per-epoch log of the best-validation run", TableBuild.TRAINING_LOG, "experiments"),
)
# (name, caption, builder, source section, table or None)
_FIGURES = (
    ("ablation_waterfall", "Forward ablation, one step per added component: paired change in test SRCC and "
     "PLCC over the previous row (mean over splits, 95% CI)", FigureBuild.ABLATION_WATERFALL, "tables.ablation",
     "ablation"),
    ("loss_comparison", "Loss functions: paired change in test SRCC and PLCC against the first loss "
     "(95% CI), and SRCC against PLCC of every run", FigureBuild.BARS_AND_SCATTER, "tables.loss", "loss"),
    ("contributions", "Contribution of each component to test SRCC (points x100, 95% CI): Shapley "
     "values, the total, the interaction and one-at-a-time effects, each in its own panel",
     FigureBuild.CONTRIBUTION_CHART, "factorial", "contributions"),
    ("cross_dataset", "Cross-dataset median test SRCC: experiments x datasets",
     FigureBuild.CROSS_DATASET_HEATMAP, "cross_dataset", "cross_dataset"),
    ("training_curves", "Training loss and validation SRCC per epoch of the best-validation experiment, "
     "one line per split", FigureBuild.TRAINING_CURVES, "experiments", None),
    ("attention_weights", "Scale attention weight per backbone stage by MOS quintile (mean over test images, "
     "95% CI)", FigureBuild.ATTENTION_WEIGHTS, "experiments", None),
    ("pred_vs_mos", "Predicted score against MOS on the test set, every split, with the identity line",
     FigureBuild.PRED_VS_MOS, "experiments", None),
    ("per_image_attention", "Test images at the 10th, 50th and 90th MOS percentile with their scale attention",
     FigureBuild.ATTENTION_EXAMPLES, "experiments", None),
    ("feature_maps", "Per-stage feature activations of a high- and a low-quality test image",
     FigureBuild.FEATURE_MAP_EXAMPLES, "experiments", None),
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
        build, caption = SPECIAL_TABLES.get(name, (TableBuild.COMPARISON,
                                                   CAPTIONS.get(name, f"Comparison: {name}")))
        out.append(Output(name, caption, build, f"tables.{name}"))
    for sweep, spec in (study_cfg.get("sweeps") or {}).items():
        out.append(Output(f"{sweep}_sweep", f"Sweep of {spec['key']} from {spec.get('of') or 'the base'}",
                          TableBuild.SWEEP, f"sweeps.{sweep}", sweep))
    return out + [Output(*spec) for spec in _LAST_TABLES if _present(study_cfg, spec[3])]


def figures(study_cfg: dict) -> list[Output]:
    out = [Output(*spec) for spec in _FIGURES if _present(study_cfg, spec[3])]
    for sweep, spec in (study_cfg.get("sweeps") or {}).items():
        out.append(Output(f"{sweep}_sweep", f"Test and validation SRCC across {spec['key']} (median over "
                          f"splits, one dot per split), and the paired change against "
                          f"{spec.get('of') or 'the base'} with its 95% CI", FigureBuild.SWEEP_CURVE,
                          f"sweeps.{sweep}", f"{sweep}_sweep"))
    return out


def experiments_behind(study_cfg: dict, table: str) -> list[str]:
    """The experiments whose runs one table reads: what its workflow job waits for, and nothing else."""
    tabs = study_cfg.get("tables") or {}
    spec = next((t for t in tables(study_cfg) if t.name == table), None)
    if spec is None:
        raise ValueError(f"no table {table!r} in this study; its tables: {[t.name for t in tables(study_cfg)]}")
    if spec.build == TableBuild.CONTROLS:
        return [e for c in tabs["controls"].values() for e in (c["reference"], c["run"])]
    if spec.build == TableBuild.SELECTION_GAP:
        return [e for pair in tabs["selection"].items() for e in pair]
    if spec.build == TableBuild.SWEEP:
        s = study_cfg["sweeps"][spec.arg]
        return ([s["of"]] if s.get("of") else []) + [sweep_name(spec.arg, v) for v in s["values"]]
    if spec.build == TableBuild.CONTRIBUTIONS:
        return list(factorial_cells(study_cfg)) + [e for pair in (tabs.get("contributions") or {}).values()
                                                   for e in pair]
    if spec.build in (TableBuild.CROSS_DATASET, TableBuild.COMPLEXITY, TableBuild.SOTA):
        return list(study_cfg[spec.source]["experiments" if spec.build != TableBuild.SOTA else "measured"])
    if spec.build == TableBuild.TRAINING_LOG:
        return [tabs.get("best_of") or next(iter(declared_experiments(study_cfg)))]
    if spec.build == TableBuild.HYPERPARAMETERS:
        return list(declared_experiments(study_cfg))
    return list(tabs[table])


def files(study_cfg: dict, results: str | Path = layout.RESULTS) -> list[Path]:
    """Every table, figure and caption file the study's aggregation writes, and the numbers."""
    paths = [layout.table_file(results, t.name, ext) for t in tables(study_cfg) for ext in layout.TABLE_FILES]
    paths += [layout.figure_file(results, f.name, ext) for f in figures(study_cfg) for ext in layout.FIGURE_FILES]
    paths += [layout.caption_file(results, "tables", t.name) for t in tables(study_cfg)]
    paths += [layout.caption_file(results, "figures", f.name) for f in figures(study_cfg)]
    return paths + [layout.numbers_file(results, name) for name in layout.NUMBERS_FILES]


def write_caption(output: Output, results, notes: list[str] | None = None) -> None:
    """The output's own caption for the report (`layout.caption_file`); a table's (`notes` given)
    also says where its paper form and provenance are."""
    lines = [f"**{output.name}**: {output.caption}."]
    if notes is not None:
        lines += [""] + [f"- {n}" for n in notes] + [
            "", f"Paper form: ``{output.name}.paper.tex`` and ``.paper.md``. Every cell of both forms is "
                f"traced to its runs in ``{output.name}.provenance.json``; ``iqa audit TABLE ROW COLUMN`` "
                "recomputes it."]
    path = layout.caption_file(results, "figures" if notes is None else "tables", output.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).replace("{{", "{ {").replace("{%", "{ %") + "\n")  # no Jinja in notes
