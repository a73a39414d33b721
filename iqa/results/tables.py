"""Paper tables from run outputs: one builder per kind of table; `catalogue` says which tables a study has.

Each table is written as CSV, Markdown and LaTeX with a `<table>.provenance.json` mapping every cell
to the runs and statistic behind it. A run enters a cell only if `runs.load_runs` found it usable;
missing, stale and tampered runs are listed in the table notes.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from iqa import config as config_mod
from iqa.core import layout
from iqa.core.registry import Registry
from iqa.core.vocab import INTERVAL_STATS, SUMMARY_STATS, TABLE_METRICS, Metric, Stat, TableBuild, cell_key
from iqa.results.numberformat import MISSING, fixed_point_column, number_text
from iqa.stats.claim import delta_note, paired_pool_variance, shapley_pool_variance, study_claim
from iqa.training.record import sha256_file
from iqa.stats.cells import (cell, equivalence, excludes_zero, holm, interaction, mean_difference, paired_delta,
                             shapley, shapley_share)
from iqa.study import catalogue
from iqa.study.spec import Study, sweep_name, synthetic_datasets

TABLE_BUILDERS = Registry("table builder")  # TableBuild name -> function(spec, Builder) -> Table
table_builder = TABLE_BUILDERS.register
QUOTED_NOTE = "quoted_* columns are the numbers the seed study reported (single split), quoted, never measured here."


def _shown(column: str, v) -> str:
    """A cell as printed in .md and .tex: metrics with 4 decimals, settings (lr 3e-05) with 4 digits."""
    if v is None or isinstance(v, (bool, np.bool_, str)):
        return MISSING if v is None else str(v)
    if isinstance(v, (int, np.integer)):
        return str(v)
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return MISSING
        return number_text(v, fixed_point_column(column))
    return str(v)


class Table:
    """Rows of numbers plus, for every cell, the runs and statistic that produced it."""

    def __init__(self, name: str, caption: str):
        self.name, self.caption = name, caption
        self.rows: dict[str, dict] = {}
        self.provenance: dict[str, dict] = {}
        self.notes: list[str] = []

    def put(self, row: str, col: str, value, runs: list[str], stat: str, metric: str | None = None,
            ref_runs: list[str] | None = None, **extra) -> None:
        self.rows.setdefault(row, {})[col] = value
        self.provenance[cell_key(row, col)] = {"runs": runs, "ref_runs": ref_runs, "metric": metric,
                                               "stat": stat, "value": value, **extra}

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame.from_dict(self.rows, orient="index").rename_axis("row")

    def write(self, out: Path) -> None:
        """CSV, Markdown and LaTeX (notes visible under the LaTeX table too), then the provenance sidecar
        with the SHA-256 of each file, so an edit to a published table is detected by `iqa audit`."""
        out.mkdir(parents=True, exist_ok=True)
        self.frame().to_csv(out / f"{self.name}.csv")
        shown = pd.DataFrame.from_dict({r: {c: _shown(c, v) for c, v in cols.items()} for r, cols in self.rows.items()},
                                       orient="index").rename_axis("row").fillna(MISSING)
        notes = "".join(f"\n- {n}" for n in self.notes)
        md = f"**{self.caption}**\n\n{shown.to_markdown(disable_numparse=True, stralign='right')}\n{notes}\n"
        (out / f"{self.name}.md").write_text(re.sub(r"\\cite\{(.*?)\}", r"[\1]", md))  # no LaTeX in Markdown
        tex = shown.to_latex(caption=self.caption, label=f"tab:{self.name}", escape=True,
                             column_format="l" + "r" * len(shown.columns))
        # citation keys stay usable from LaTeX: `\\cite{key}` survives escaping as a real \cite
        tex = re.sub(r"\\textbackslash cite\\\{(.*?)\\\}", lambda m: "\\cite{" + m.group(1).replace("\\_", "_") + "}", tex)
        tex_notes = "".join(f"\\par\\footnotesize {_tex_escape(n)}\n" for n in self.notes)
        (out / f"{self.name}.tex").write_text(tex.replace("\\end{table}", tex_notes + "\\end{table}"))
        files = {ext: sha256_file(out / f"{self.name}.{ext}") for ext in layout.RECORD_FILES}
        sidecar = {"table": self.name, "caption": self.caption, "notes": self.notes, "files": files,
                   "cells": self.provenance}
        (out / f"{self.name}.{layout.PROVENANCE}").write_text(json.dumps(sidecar, indent=2, default=str))


TEX_SPECIAL = {"\\": r"\textbackslash{}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$",
               "{": r"\{", "}": r"\}", "~": r"\~{}", "^": r"\^{}"}


def _tex_escape(text: str) -> str:
    """A note as LaTeX text: each special character escaped once (one pass, so no escape is re-escaped)."""
    return "".join(TEX_SPECIAL.get(ch, ch) for ch in text)


class Builder:
    """Fills tables from the study's usable runs, pairing rows by split for deltas."""

    def __init__(self, study: Study, study_cfg: dict, runs: dict[str, dict], results: Path,
                 scores: dict[tuple[str, str], dict] | None = None):
        self.study, self.cfg, self.runs, self.results = study, study_cfg, runs, results
        self.scores = scores or {}
        self.claim = study_claim(study_cfg)
        self.predictions: dict = {}  # run id -> predictions.csv, read once for the population claim
        self.ceilings: dict = {}  # data root -> (its label-noise ceiling or None, why it is n/a)

    def split_runs(self, experiment: str) -> dict[int, str]:
        return {k: rid for k, rid in self.study.cells[experiment].items() if self.runs[rid]["usable"]}

    def value(self, rid: str, metric: str, part: str = "test") -> float:
        return (self.runs[rid]["metrics"].get(part) or {}).get(metric, float("nan"))

    def best_of(self) -> str:
        """The experiment the study's single-run figures and log show: `tables.best_of`, else the first."""
        return (self.cfg.get("tables") or {}).get("best_of") or next(iter(self.study.cells))

    def best_run(self, experiment: str) -> str | None:
        """The experiment's usable run with the best VALIDATION SRCC (never chosen on test), or None."""
        ids = list(self.split_runs(experiment).values()) if experiment in self.study.cells else []
        if not ids:
            return None
        return max(ids, key=lambda r: np.nan_to_num(self.value(r, Metric.SRCC, "val"), nan=-np.inf))

    def score_value(self, path: str, metric: str) -> float:
        """A metric of a cross-dataset score, named as `scores/<dataset>/<run id>`."""
        _, name, rid = path.split("/")
        return self.scores[(name, rid)]["metrics"]["test"][metric]

    def note_gaps(self, t: Table, experiment: str) -> None:
        for k, rid in self.study.cells[experiment].items():
            r = self.runs[rid]
            if r["status"] != "ok":
                t.note(f"{experiment} split {k}: run {rid} is {r['status']}"
                       f"{' (used, flagged)' if r['usable'] else ' (not used)'}")

    def summary(self, t: Table, row: str, experiment: str, refs: dict[str, str] | None = None) -> None:
        """Median, mean, std over splits of test SRCC/PLCC, validation SRCC beside them, the selection
        protocol, the quoted number if the study declares one, and a paired delta to each ref."""
        have = self.split_runs(experiment)
        self.note_gaps(t, experiment)
        ids = list(have.values())
        t.put(row, "splits", len(ids), ids, Stat.COUNT)
        for m in TABLE_METRICS:
            vals = [self.value(r, m) for r in ids]
            for stat in SUMMARY_STATS:
                t.put(row, f"{m}_{stat}", cell(stat, vals), ids, stat, m)
        t.put(row, "val_srcc_median", cell(Stat.MEDIAN, [self.value(r, Metric.SRCC, "val") for r in ids]), ids,
              Stat.MEDIAN, Metric.SRCC, part="val")
        selected = sorted({self.runs[r]["metrics"].get("selected_on", "val") for r in ids}) or ["--"]
        t.put(row, "selected_on", "/".join(selected), ids, Stat.LABEL)
        if "test" in selected:
            t.note(f"{row}: selected on the TEST set (best test-SRCC epoch, as the seed and the original did): "
                   f"optimistic, see the selection table")
        quoted = (self.cfg.get("reported") or {}).get(experiment) or {}
        for m in TABLE_METRICS:
            if m in quoted:
                t.put(row, f"quoted_{m}", float(quoted[m]), [], Stat.QUOTED, m)
                t.note(QUOTED_NOTE)
        for label, ref in (refs or {}).items():
            self.delta(t, row, experiment, ref, f"_vs_{label}")

    def delta(self, t: Table, row: str, experiment: str, ref: str, suffix: str = "", metric: str = Metric.SRCC,
              scale: float = 1.0, unit: str = "") -> dict:
        """Paired delta experiment - ref over common splits: delta, CI, p and the number of pairs."""
        return self.paired(t, row, self.split_runs(experiment), self.split_runs(ref), self.value, suffix=suffix,
                           metric=metric, scale=scale, unit=unit)

    def paired(self, t: Table, row: str, a: dict[int, str], b: dict[int, str], value, prefix: str = "",
               suffix: str = "", metric: str = Metric.SRCC, scale: float = 1.0, unit: str = "") -> dict:
        """Paired delta of the ids in `a` against those in `b` (split -> id) over the splits both have,
        each id's number read by `value(id, metric)`."""
        ks = sorted(set(a) & set(b))
        ra, rb = [a[k] for k in ks], [b[k] for k in ks]
        pool = self.pool_variance(ra, rb, metric)
        res = paired_delta([value(r, metric) for r in ra], [value(r, metric) for r in rb], pool_variance=pool)
        claim = {"claim": self.claim}
        for stat in INTERVAL_STATS:
            t.put(row, f"{prefix}{metric}_{stat}{unit}{suffix}", res[stat] * scale, ra, stat, metric, rb, scale=scale,
                  **claim)
        t.put(row, f"{prefix}p{suffix}", res["p"], ra, Stat.P, metric, rb, **claim)
        t.put(row, f"{prefix}pairs{suffix}", res["n_pairs"], ra, Stat.COUNT, metric, rb)
        t.note(delta_note(self.claim))
        return res

    def pool_variance(self, ra: list[str], rb: list[str], metric: str) -> float | None:
        """The pool term of a paired SRCC delta under the population claim (None under the dataset claim)."""
        if self.claim != "population" or len(ra) < 2:
            return None
        if metric != Metric.SRCC:
            raise ValueError(f"the population claim's pool term is derived for SRCC deltas, not {metric}")
        return paired_pool_variance(self.results, ra, rb, self.predictions)


@table_builder(TableBuild.COMPARISON)
def comparison(spec, b: Builder) -> Table:
    """Rows in declared order; every row after the first is paired against the first. Rows of different
    networks also get their cost (parameters, GFLOPs per patch, training throughput)."""
    t = Table(spec.name, spec.caption)
    rows = _declared(b, spec)
    for i, e in enumerate(rows):
        b.summary(t, e, e, {rows[0]: rows[0]} if i else None)
    if len({(b.study.experiments[e].model.name, b.study.experiments[e].model.size) for e in rows}) > 1:
        for e in rows:
            cost_columns(t, b, e, e)
    if spec.name == catalogue.CEILING_TABLE:
        for e in rows:
            ceiling_columns(t, b, e)
    return t


def ceiling_columns(t: Table, b: Builder, experiment: str) -> None:
    """The label-noise ceiling of the experiment's dataset (`iqa.stats.ceiling`) with its CI, and the share of
    it that the experiment's median reaches; n/a where the dataset ships no rating distributions."""
    from iqa.stats.ceiling import dataset_ceiling
    from iqa.core.errors import DataError

    root = b.study.experiments[experiment].data.root
    if root not in b.ceilings:
        try:
            b.ceilings[root] = dataset_ceiling(root), "ships no rating distributions (c1..c5, c_total)"
        except DataError as e:
            b.ceilings[root] = None, f"cannot be read ({e})"
    top, why = b.ceilings[root]
    ids = list(b.split_runs(experiment).values())
    for m in TABLE_METRICS:
        if top is None:
            t.put(experiment, f"{m}_ceiling", "n/a", [], Stat.LABEL)
            t.put(experiment, f"{m}_share_of_ceiling", "n/a", [], Stat.LABEL)
            continue
        for stat in ("", "_ci_low", "_ci_high"):
            t.put(experiment, f"{m}_ceiling{stat}", top[m + stat], [], Stat.CEILING, m + stat, source=root)
        share = cell(Stat.MEDIAN, [b.value(r, m) for r in ids]) / top[m]
        t.put(experiment, f"{m}_share_of_ceiling", share, ids, Stat.CEILING_SHARE, m, source=root)
    if top is None:
        t.note(f"label-noise ceiling n/a: {root} {why}")
    else:
        t.note(f"Label-noise ceiling: the {'/'.join(x.upper() for x in TABLE_METRICS)} a perfect predictor of each "
               f"image's true quality would reach against this MOS, from {root}'s rating distributions "
               f"(split-half reliability of the raters, Spearman-Brown; 95% CI over {top['resamples']} resamples "
               f"of the images and of the rater halves); share = median over splits / ceiling. "
               f"See docs/statistics.md.")


def cost_columns(t: Table, b: Builder, row: str, experiment: str) -> None:
    ids = list(b.split_runs(experiment).values())
    for col, key, scale in (("params_m", "parameters", 1e-6), ("gflops", "gflops_per_patch", 1.0),
                            ("train_patches_per_s", "train_patches_per_second", 1.0)):
        vals = [b.runs[r]["metrics"]["provenance"].get(key) for r in ids]
        vals = [x for x in vals if x is not None]
        t.put(row, col, cell(Stat.MEAN, vals) * scale if vals else np.nan, ids, Stat.MEAN, key, scale=scale)


EQUIVALENCE_MARGIN = 0.002  # test SRCC: a faster precision counts as the same when it moves SRCC less than this


@table_builder(TableBuild.PRECISION)
def precision(spec, b: Builder) -> Table:
    """A comparison against the first row (fp32), plus TOST: is each row within EQUIVALENCE_MARGIN of it?"""
    t = comparison(spec, b)
    rows = _declared(b, spec)
    for e in rows[1:]:
        a, r = b.split_runs(e), b.split_runs(rows[0])
        ks = sorted(set(a) & set(r))
        res = equivalence([b.value(a[k], Metric.SRCC) - b.value(r[k], Metric.SRCC) for k in ks], EQUIVALENCE_MARGIN)
        t.put(e, f"p_tost_vs_{rows[0]}", res["p"], [a[k] for k in ks], Stat.TOST_P, Metric.SRCC, [r[k] for k in ks],
              margin=EQUIVALENCE_MARGIN)
    t.note(f"p_tost: two one-sided paired t tests (TOST) that the mean test-SRCC difference to {rows[0]} lies "
           f"within +-{EQUIVALENCE_MARGIN:g}; p < 0.05 says equivalent at that margin (its 90% CI inside it).")
    return t


@table_builder(TableBuild.FORWARD_PATH)
def forward_path(spec, b: Builder) -> Table:
    """Each row paired against the previous row and against the first."""
    t = Table(spec.name, spec.caption)
    rows = _declared(b, spec)
    for i, e in enumerate(rows):
        refs = {"prev": rows[i - 1], rows[0]: rows[0]} if i > 1 else ({"prev": rows[0]} if i else None)
        b.summary(t, e, e, refs)
    return t


def _declared(b: Builder, spec) -> list[str]:
    rows = b.cfg["tables"][spec.source.split(".", 1)[1]]
    missing = [r for r in rows if r not in b.study.cells]
    if missing:
        raise ValueError(f"tables.{spec.name}: experiment(s) {missing} are not declared")
    return list(rows)


@table_builder(TableBuild.SWEEP)
def sweep(spec, b: Builder) -> Table:
    """One row per value: test and validation SRCC, cost, delta to the sweep's origin; the value to use is
    the one with the best VALIDATION SRCC (marked `chosen`), never picked on test."""
    s = b.cfg["sweeps"][spec.arg]
    t = Table(spec.name, f"{spec.caption} (median over splits; `chosen` = best validation SRCC)")
    ref = s.get("of")
    for v in s["values"]:
        e = sweep_name(spec.arg, v)
        row = f"{v:g}" if isinstance(v, float) else str(v)
        b.summary(t, row, e, {ref: ref} if ref else None)
        cost_columns(t, b, row, e)
    val = {r: c.get("val_srcc_median", np.nan) for r, c in t.rows.items()}
    finite = {r: v for r, v in val.items() if not math.isnan(v)}
    for r in t.rows:
        t.put(r, "chosen", "yes" if finite and r == max(finite, key=finite.get) else "", [], Stat.LABEL)
    return t


@table_builder(TableBuild.CONTRIBUTIONS)
def contributions(spec, b: Builder) -> Table:
    """Shapley value of each factor of the study's factorial (order-free, adds up to the total on every
    split), their interaction, and one-at-a-time effects of single settings of the full model."""
    t = Table(spec.name, spec.caption)
    fac = b.study.factorial
    per_split = {cells: b.split_runs(e) for cells, e in fac["cells"].items()}
    ks = sorted(set.intersection(*(set(v) for v in per_split.values())))
    absent = [f"{e} split {k}" for cells, e in fac["cells"].items() for k in b.study.splits
              if k not in per_split[cells]]
    if absent:
        t.note(f"Shapley values use the {len(ks)} split(s) on which every factorial cell finished; "
               f"missing: {', '.join(absent)}")
    if ks:
        _shapley_rows(t, b, fac, per_split, ks)
    for label, (with_, without) in (b.cfg.get("tables", {}).get("contributions") or {}).items():
        b.delta(t, label, with_, without, scale=100, unit="_x100")
        t.put(label, "kind", f"one at a time: {with_} vs {without}", [], Stat.LABEL)
    return t


def _shapley_rows(t: Table, b: Builder, fac: dict, per_split: dict, ks: list[int]) -> None:
    factors = fac["factors"]
    runs = {cells: [per_split[cells][k] for k in ks] for cells in per_split}
    values = {cells: np.array([b.value(r, Metric.SRCC) for r in ids]) for cells, ids in runs.items()}
    all_runs = sorted({r for ids in runs.values() for r in ids})
    top, bottom = frozenset(factors), frozenset()
    total = values[top] - values[bottom]
    phi = shapley(values, factors)
    assert np.allclose(sum(phi.values()), total, atol=1e-9)  # Shapley efficiency, split by split
    rows = {**{f: phi[f] for f in factors}, f"total {fac['cells'][bottom]} -> {fac['cells'][top]}": total}
    if len(factors) == 2:
        a, c = factors
        rows[f"interaction {a} x {c}"] = interaction(values, factors)
    pools = {row: shapley_pool_variance(b.results, runs, factors, row, b.predictions)
             if b.claim == "population" and len(ks) > 1 else None for row in rows}
    total_row = next(r for r in rows if r.startswith("total"))
    total_res = mean_difference(total, pool_variance=pools[total_row])
    for row, per in rows.items():
        res = mean_difference(per, pool_variance=pools[row])
        kind = "Shapley" if row in factors else row.split()[0]
        for stat in INTERVAL_STATS:
            t.put(row, f"{Metric.SRCC}_{stat}_x100", res[stat] * 100, all_runs, Stat(f"shapley_{stat}"),
                  Metric.SRCC, scale=100, factor=row, claim=b.claim)
        # the total is the plain comparison of the all-on and all-off cells: one test with it
        # (`aggregate.test_identity`)
        pair = {"pair": [runs[top], runs[bottom]]} if row == total_row else {}
        t.put(row, "p", res["p"], all_runs, Stat.SHAPLEY_P, Metric.SRCC, factor=row, claim=b.claim, **pair)
        t.put(row, "pairs", res["n_pairs"], all_runs, Stat.COUNT)
        if row in factors:
            t.put(row, "share_of_total", shapley_share(per, total_res), all_runs, Stat.SHAPLEY_SHARE, Metric.SRCC,
                  factor=row, claim=b.claim)
        t.put(row, "kind", kind, [], Stat.LABEL)
    t.note(delta_note(b.claim))
    t.note(f"Shapley values over the {len(factors)}-factor factorial ({', '.join(factors)}), computed split by "
           f"split on {len(ks)} split(s): they add up to the total on every split (checked to 1e-9). Shares are "
           f"printed only when the total's 95% CI excludes zero"
           + ("." if excludes_zero(total_res) else "; here it does not."))


@table_builder(TableBuild.CROSS_DATASET)
def cross_dataset(spec, b: Builder) -> Table:
    """Each selected experiment's models scored without retraining on each external dataset: median and
    std over splits of SRCC and PLCC, and the paired SRCC delta to the first experiment per dataset."""
    t = Table(spec.name, spec.caption)
    cd = b.cfg["cross_dataset"]
    first = cd["experiments"][0]
    for name in cd["datasets"]:
        scored = {e: {k: layout.score_ref(name, rid) for k, rid in b.study.cells[e].items()
                      if b.scores.get((name, rid), {}).get("usable")} for e in cd["experiments"]}
        for e in cd["experiments"]:
            ids = list(scored[e].values())
            missing = len(b.study.splits) - len(ids)
            if missing:
                t.note(f"{e} on {name}: {missing} split(s) not scored (run or score missing)")
            t.put(e, f"{name}_splits", len(ids), ids, Stat.COUNT)
            for m in TABLE_METRICS:
                vals = [b.score_value(r, m) for r in ids]
                for stat in (Stat.MEDIAN, Stat.STD):
                    t.put(e, f"{name}_{m}_{stat}", cell(stat, vals), ids, stat, m)
            if e != first:
                b.paired(t, e, scored[e], scored[first], b.score_value, prefix=f"{name}_", suffix=f"_vs_{first}")
    t.note("Scored without retraining, with each run's test-crop protocol; PLCC is raw Pearson (the scales "
           "differ).")
    return t


# One forward is one input patch (the complexity job's `unit`), so throughput counts patches, not images.
COMPLEXITY_COLUMNS = (("params_m", "parameters", 1e-6), ("head_params_m", "head_parameters", 1e-6),
                      ("gflops", "gflops", 1.0), ("latency_ms", "latency_ms", 1.0),
                      ("patches_per_s", "throughput_images_per_s", 1.0))


@table_builder(TableBuild.COMPLEXITY)
def complexity(spec, b: Builder) -> Table:
    """Measured cost of each experiment's model (one job per model, on the machine it ran on) beside its
    accuracy; against the first row: latency speed-up (its latency / this one's: above 1 is faster at
    batch 1) and throughput ratio (this one's / its: above 1 is faster in batches)."""
    t = Table(spec.name, spec.caption)
    rows = b.cfg["complexity"]["experiments"]
    measured = {}
    for e in rows:
        path = layout.complexity_file(b.results, e)
        if not path.is_file():
            t.note(f"{e}: {path} missing (its complexity job has not run)")
            continue
        measured[e] = json.loads(path.read_text())
        for col, key, scale in COMPLEXITY_COLUMNS:
            t.put(e, col, measured[e][key] * scale, [], Stat.MEASURED, key, source=layout.complexity_ref(e),
                  scale=scale)
        ids = list(b.split_runs(e).values())
        for m in TABLE_METRICS:
            t.put(e, f"{m}_median", cell(Stat.MEDIAN, [b.value(r, m) for r in ids]), ids, Stat.MEDIAN, m)
    if rows[0] in measured:
        for e in measured:
            ref = {"source": layout.complexity_ref(e), "ref_source": layout.complexity_ref(rows[0])}
            speedup = measured[rows[0]]["latency_ms"] / measured[e]["latency_ms"]
            t.put(e, f"latency_speedup_vs_{rows[0]}", speedup, [], Stat.MEASURED_RATIO, "latency_ms", **ref)
            key = "throughput_images_per_s"
            t.put(e, f"throughput_ratio_vs_{rows[0]}", measured[e][key] / measured[rows[0]][key], [],
                  Stat.MEASURED_RATIO, key, ratio="own/ref", **ref)
    conditions: dict[str, list[str]] = {}  # one note per set of measuring conditions, not one per row
    for e, m in measured.items():
        text = (f"{m['device_name']} ({m['device']}), {m['precision']}, latency at batch 1 (median of "
                f"{m['repeats']}), throughput at batch {m['throughput_batch']}; unit: {m['unit']}; "
                f"FLOPs: {m['flops_counting']}")
        conditions.setdefault(text, []).append(e)
    for text, es in conditions.items():
        t.note(f"{'All rows' if len(es) == len(measured) else ', '.join(es)}: {text}")
    return t


@table_builder(TableBuild.SOTA)
def sota(spec, b: Builder) -> Table:
    """Published results (quoted from their papers, marked so, never used in any statistic) beside this
    study's measured rows (median over splits)."""
    t = Table(spec.name, spec.caption)
    sota_cfg = b.cfg["sota"]
    published = sota_cfg.get("published", [])
    if isinstance(published, str):  # a YAML list in a file of its own, shared by studies
        import yaml

        published = yaml.safe_load(Path(published).read_text())
    for p in published:
        row = p["method"]
        t.put(row, "family", p.get("family", ""), [], Stat.LABEL)
        t.put(row, "backbone", p.get("backbone", ""), [], Stat.LABEL)
        for m in TABLE_METRICS:
            t.put(row, m, float(p[m]) if p.get(m) is not None else np.nan, [], Stat.QUOTED, m, cite=p.get("cite"))
        t.put(row, "source", f"quoted \\cite{{{p['cite']}}}" if p.get("cite") else "quoted", [], Stat.LABEL)
    synthetic = synthetic_datasets(b.cfg, b.study)
    for e in sota_cfg.get("measured", []):
        ids = list(b.split_runs(e).values())
        model = b.study.experiments[e].model
        root = b.study.experiments[e].data.root
        t.put(e, "family", "this study", [], Stat.LABEL)
        t.put(e, "backbone", f"{model.name} {model.size}", [], Stat.LABEL)
        for m in TABLE_METRICS:
            t.put(e, m, cell(Stat.MEDIAN, [b.value(r, m) for r in ids]), ids, Stat.MEDIAN, m)
        t.put(e, "dataset", "synthetic" if root in synthetic else "KonIQ-10k", [], Stat.LABEL)
        t.put(e, "source", f"measured here on {root}: median of {len(ids)} splits"
              + (" (synthetic data: NOT comparable with the quoted KonIQ-10k rows)" if root in synthetic
                 else ""),
              [], Stat.LABEL)
    roots = sorted({b.study.experiments[e].data.root for e in sota_cfg.get("measured", [])})
    t.note("Quoted rows are the numbers their papers report on KonIQ-10k (each on its own protocol and "
           "split); they are shown for orientation and enter no statistic. Measured rows: median test metric "
           f"over this study's splits of {', '.join(roots)}.")
    if any(r in synthetic for r in roots):
        t.note("The measured rows come from synthetic data, not KonIQ-10k: the comparison with the quoted "
               "rows does not apply (the paper form shows n/a).")
    return t


@table_builder(TableBuild.CONTROLS)
def controls(spec, b: Builder) -> Table:
    """Each control against its reference, with what a working study must show: an A/A rerun's CI includes
    zero; a planted harmful change's CI lies below zero and it stays a finding after Holm within the
    controls (their own family, `aggregate.add_holm`)."""
    t = Table(spec.name, spec.caption)
    results = {label: b.delta(t, label, c["run"], c["reference"]) for label, c in b.cfg["tables"]["controls"].items()}
    adjusted = dict(zip(results, holm([r["p"] for r in results.values()])))
    for label, c in b.cfg["tables"]["controls"].items():
        lo, hi = results[label]["ci_low"], results[label]["ci_high"]
        ok = {"zero inside CI": lo <= 0 <= hi, "CI below zero": hi < 0 and adjusted[label] < 0.05}[c["expect"]]
        t.put(label, "expect", c["expect"], [], Stat.LABEL)
        t.put(label, "outcome", "as expected" if ok else "NOT as expected", [], Stat.LABEL)
    t.note("A planted harm is as expected only when its CI lies below zero and its Holm-adjusted p (within the "
           "controls) is below 0.05.")
    return t


@table_builder(TableBuild.SELECTION_GAP)
def selection_gap(spec, b: Builder) -> Table:
    """Test-selected minus validation-selected SRCC, paired by split: how much a best-test-epoch number
    owes to the protocol."""
    t = Table(spec.name, spec.caption)
    for val_exp, test_exp in b.cfg["tables"]["selection"].items():
        b.summary(t, val_exp, val_exp)
        b.summary(t, test_exp, test_exp)
        b.delta(t, f"gap {test_exp} - {val_exp}", test_exp, val_exp)
    return t


HIDDEN_KEYS = ("name", "seed", "data.root", "data.split_index", "data.cache_dir", "train.device", "train.compile",
               "train.keep_checkpoint",
               "train.log_every")


@table_builder(TableBuild.HYPERPARAMETERS)
def hyperparameters(spec, b: Builder) -> Table:
    """Every schema key, read back from the metrics.json of runs that actually ran (never the study file)."""
    t = Table(spec.name, spec.caption)
    keys = [k for k in config_mod.KEYS if ".".join(k) not in HIDDEN_KEYS]
    for e in b.study.cells:
        ids = [r for r in b.study.cells[e].values() if b.runs[r]["metrics"]]
        if not ids:
            continue
        cfg = config_mod.flatten(b.runs[ids[0]]["metrics"]["config"])
        for key in keys:
            value = cfg.get(key)
            shown = str(value) if isinstance(value, (list, bool)) or value is None else value
            t.put(e, ".".join(key), shown, ids, Stat.CONFIG)
    return t


@table_builder(TableBuild.TRAINING_LOG)
def training_log(spec, b: Builder) -> Table:
    """Per-epoch history of the best-VALIDATION run of the study's `best_of` experiment."""
    experiment = b.best_of()
    best = b.best_run(experiment)
    if best is None:
        t = Table(spec.name, spec.caption)
        t.note(f"no finished run of {experiment!r}")
        return t
    hist = pd.read_csv(layout.run_file(b.results, best, layout.HISTORY))
    t = Table(spec.name, f"{spec.caption}: {experiment}, run {best}")
    for _, h in hist.iterrows():
        for col in hist.columns:
            if col != "epoch":
                t.put(str(int(h["epoch"])), col, float(h[col]), [best], Stat.HISTORY, col)
    return t
