"""Paper tables from run outputs: runs.csv and one CSV/Markdown/LaTeX table per paper table, each
with a `<table>.provenance.json` mapping every cell to the runs and statistic behind it.

A run enters a cell only if its metrics.json exists, its config hash matches the declared study
and its dataset hash matches the dataset on disk. Missing and stale runs are listed in the table
notes; runs from a dirty git tree are used but flagged.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from . import config as config_mod
from .stats import cell
from .study import Study, sweep_name

METRICS = ("srcc", "plcc")


def load_runs(study: Study, results: Path, dataset_hashes: dict[str, str | None]) -> dict[str, dict]:
    """Run id -> {status, metrics} for every run the study declares.

    `dataset_hashes` maps each data root to its hash now (None: not on this machine, not checked).
    """
    runs = {}
    for rid, cfg in study.runs.items():
        path = results / "runs" / rid / "metrics.json"
        if not path.is_file():
            runs[rid] = {"status": "missing", "metrics": None}
            continue
        m = json.loads(path.read_text())
        prov = m["provenance"]
        if prov["config_hash"] != config_mod.config_hash(cfg):
            status = "stale-config"
        elif dataset_hashes.get(cfg["data"]["root"]) not in (None, prov["dataset_hash"]):
            status = "stale-data"
        elif prov.get("git_dirty"):
            status = "dirty"
        else:
            status = "ok"
        runs[rid] = {"status": status, "metrics": m}
    return runs


def usable(run: dict) -> bool:
    return run["status"] in ("ok", "dirty")


def runs_table(study: Study, runs: dict[str, dict]) -> pd.DataFrame:
    rows = []
    for rid, cfg in study.runs.items():
        r = runs[rid]
        m = r["metrics"] or {}
        prov = m.get("provenance", {})
        varied = config_mod.diff(cfg, study.base)
        varied = {k: v for k, v in varied.items() if k not in ("name", "seed", "data.split_index")}
        rows.append({
            "run_id": rid, "experiments": ";".join(study.experiments_of(rid)),
            "split": cfg["data"]["split_index"], "seed": cfg["seed"], "status": r["status"],
            "varied": "; ".join(f"{k}={b}" for k, (_, b) in varied.items()),
            **{f"test_{k}": m.get("test", {}).get(k) for k in ("srcc", "plcc", "krcc", "rmse", "n_images")},
            "val_srcc": (m.get("val") or {}).get("srcc"), "best_epoch": m.get("best_epoch"),
            "epochs_run": m.get("epochs_run"), "wall_seconds": prov.get("wall_seconds"),
            "parameters": prov.get("parameters"), "gflops_per_patch": prov.get("gflops_per_patch"),
            "train_patches_per_second": prov.get("train_patches_per_second"),
            "git_commit": prov.get("git_commit"), "git_dirty": prov.get("git_dirty"),
            "config_hash": prov.get("config_hash"), "dataset_hash": prov.get("dataset_hash"),
            "split_hash": prov.get("split_hash"), "device": prov.get("device"),
            "slurm_job_id": prov.get("slurm_job_id"),
        })
    return pd.DataFrame(rows)


FIXED_POINT = ("srcc", "plcc", "krcc", "rmse", "val_", "train_loss", "share")  # 4 decimals (and "p")


def _shown(column: str, v) -> str:
    """A cell as printed in .md and .tex: metrics with 4 decimals, settings (lr 3e-05) with 4 digits."""
    if v is None or isinstance(v, (bool, np.bool_, str)):
        return "--" if v is None else str(v)
    if isinstance(v, (int, np.integer)):
        return str(v)
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return "--"
        return f"{v:.4f}" if column == "p" or column.startswith(FIXED_POINT) else f"{v:.4g}"
    return str(v)


class Table:
    """Rows of numbers plus, for every cell, the runs and statistic that produced it."""

    def __init__(self, name: str, caption: str):
        self.name, self.caption = name, caption
        self.rows: dict[str, dict] = {}
        self.provenance: dict[str, dict] = {}
        self.notes: list[str] = []

    def put(self, row: str, col: str, value, runs: list[str], stat: str, metric: str | None = None,
            ref_runs: list[str] | None = None) -> None:
        self.rows.setdefault(row, {})[col] = value
        self.provenance[f"{row}|{col}"] = {"runs": runs, "ref_runs": ref_runs, "metric": metric,
                                           "stat": stat, "value": value}

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame.from_dict(self.rows, orient="index").rename_axis("row")

    def write(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        df = self.frame()
        df.to_csv(out / f"{self.name}.csv")
        notes = "".join(f"\n- {n}" for n in self.notes)
        shown = pd.DataFrame.from_dict({row: {c: _shown(c, v) for c, v in cols.items()} for row, cols in self.rows.items()},
                                       orient="index").rename_axis("row").fillna("--")
        (out / f"{self.name}.md").write_text(
            f"**{self.caption}**\n\n{shown.to_markdown(disable_numparse=True, stralign='right')}\n{notes}\n")
        tex = shown.to_latex(caption=self.caption, label=f"tab:{self.name}", escape=True,
                             column_format="l" + "r" * len(shown.columns))
        (out / f"{self.name}.tex").write_text(tex + "".join(f"% {n}\n" for n in self.notes))
        sidecar = {"table": self.name, "caption": self.caption, "notes": self.notes, "cells": self.provenance}
        (out / f"{self.name}.provenance.json").write_text(json.dumps(sidecar, indent=2, default=str))


class Builder:
    """Fills tables from the study's usable runs, pairing rows by split for deltas."""

    def __init__(self, study: Study, runs: dict[str, dict]):
        self.study, self.runs = study, runs

    def split_runs(self, experiment: str) -> dict[int, str]:
        return {k: rid for k, rid in self.study.cells[experiment].items() if usable(self.runs[rid])}

    def value(self, rid: str, metric: str) -> float:
        return self.runs[rid]["metrics"]["test"][metric]

    def summary(self, t: Table, row: str, experiment: str, refs: dict[str, str] | None = None,
                metrics=METRICS) -> None:
        """Median, mean, std over splits; for each ref (label -> experiment) the paired SRCC delta."""
        have = self.split_runs(experiment)
        self.note_gaps(t, experiment)
        ids = list(have.values())
        t.put(row, "splits", len(ids), ids, "count")
        for m in metrics:
            vals = [self.value(r, m) for r in ids]
            for stat in ("median", "mean", "std"):
                t.put(row, f"{m}_{stat}", cell(stat, vals) if vals else np.nan, ids, stat, m)
        for label, ref in (refs or {}).items():
            other = self.split_runs(ref)
            common = sorted(set(have) & set(other))
            a, b = [have[k] for k in common], [other[k] for k in common]
            va, vb = [self.value(r, "srcc") for r in a], [self.value(r, "srcc") for r in b]
            for stat in ("delta", "ci_low", "ci_high", "p"):
                v = cell(stat, va, vb) if common else np.nan
                t.put(row, f"srcc_{stat}_vs_{label}", v, a, stat, "srcc", b)

    def note_gaps(self, t: Table, experiment: str) -> None:
        for k, rid in self.study.cells[experiment].items():
            status = self.runs[rid]["status"]
            if status != "ok":
                note = f"{experiment} split {k}: run {rid} is {status}"
                note += " (used, flagged)" if status == "dirty" else " (not used)"
                if note not in t.notes:
                    t.notes.append(note)


def _exists(study: Study, names: list[str]) -> list[str]:
    return [n for n in names if n in study.cells]


def build_tables(study: Study, study_cfg: dict, runs: dict[str, dict], results: Path) -> list[Table]:
    b = Builder(study, runs)
    groups = study_cfg.get("tables") or {}
    tables = []

    def forward(name: str, caption: str, rows: list[str], first_ref: bool, prev_ref: bool):
        t = Table(name, caption)
        for i, e in enumerate(rows):
            refs = {}
            if prev_ref and i > 0:
                refs["prev"] = rows[i - 1]
            if first_ref and i > 0:
                refs[rows[0]] = rows[0]
            b.summary(t, e, e, refs)
        t.notes.append("Deltas: paired over splits (same split, same seed); 95% percentile bootstrap CI of the "
                       "mean SRCC difference; p from a paired t-test.")
        tables.append(t)
        return t

    forward("main", "Main comparison on the test set (median, mean, std over splits)",
            _exists(study, groups.get("main", [])), first_ref=True, prev_ref=False)
    abl = _exists(study, groups.get("ablation", []))
    forward("ablation", "Forward ablation: each component added in turn", abl, first_ref=True, prev_ref=True)
    for key, caption in (("leave_one_out", "Leave-one-out: the full model without one component"),
                         ("strategy", "Training and evaluation strategy ablations")):
        rows = _exists(study, groups.get(key, []))
        t = Table(key, caption)
        for i, e in enumerate(rows):  # first row is the full model; deltas are paired against it
            b.summary(t, e, e, {rows[0]: rows[0]} if i else None)
        tables.append(t)

    sweeps = study_cfg.get("sweeps") or {}
    if "lr" in sweeps:
        t = Table("lr_sweep", "Learning-rate sensitivity (backbone lr; head at lr x lr_ratio)")
        ref = sweeps["lr"].get("of")
        for v in sweeps["lr"]["values"]:
            e = sweep_name("lr", v)
            b.summary(t, f"{v:g}", e, {ref: ref} if ref else None)
        tables.append(t)
    if "size" in sweeps:
        t = Table("model_size", "Backbone size: accuracy, parameters, GFLOPs per patch, measured training "
                                "throughput")
        for v in sweeps["size"]["values"]:
            e = sweep_name("size", v)
            b.summary(t, str(v), e)
            ids = list(b.split_runs(e).values())
            for col, key in (("params_m", "parameters"), ("gflops", "gflops_per_patch"),
                             ("train_patches_per_s", "train_patches_per_second")):
                vals = [runs[r]["metrics"]["provenance"].get(key) for r in ids]
                vals = [v for v in vals if v is not None]
                scale = 1e-6 if key == "parameters" else 1.0
                t.put(str(v), col, cell("mean", vals) * scale if vals else np.nan, ids, "mean", key)
        tables.append(t)

    tables.append(contributions(b, abl, groups.get("contributions", {})))
    tables.append(hyperparameters(study, runs, list(study.cells)))
    tables.append(training_log(b, groups.get("best_of", abl[-1] if abl else None), results))
    return tables


def _delta_row(t: Table, b: Builder, row: str, exp: str, ref: str, splits: set | None = None):
    """Paired SRCC change exp - ref (x100) with CI and p into `row`; returns (runs, ref runs, delta)."""
    pa, pb = b.split_runs(exp), b.split_runs(ref)
    ks = sorted(set(pa) & set(pb) & (splits if splits is not None else set(pa)))
    a, r = [pa[k] for k in ks], [pb[k] for k in ks]
    va, vr = [b.value(x, "srcc") for x in a], [b.value(x, "srcc") for x in r]
    for stat in ("delta", "ci_low", "ci_high", "p"):
        v = cell(stat, va, vr) if ks else np.nan
        t.put(row, f"srcc_{stat}_x100" if stat != "p" else "p", v * 100 if stat != "p" else v, a, stat, "srcc", r)
    return a, r, cell("delta", va, vr) if ks else np.nan


def contributions(b: Builder, path: list[str], one_at_a_time: dict) -> Table:
    """Measured contribution of each component: steps along the forward path telescope, so their shares of
    the total add up to 100%; one-at-a-time effects (`one_at_a_time`: label -> [with, without]) are listed
    separately because they overlap with the path and with each other."""
    t = Table("contributions", "Contribution of each component (SRCC points, x100)")
    if len(path) >= 2:
        first, last = b.split_runs(path[0]), b.split_runs(path[-1])
        common = sorted(set(first) & set(last))
        total_a, total_b = [last[k] for k in common], [first[k] for k in common]
        tv = [b.value(r, "srcc") for r in total_a]
        tr = [b.value(r, "srcc") for r in total_b]
        total = cell("delta", tv, tr) if common else np.nan
        for prev, cur in zip(path, path[1:]):
            row = f"{prev} -> {cur}"
            a, r, delta = _delta_row(t, b, row, cur, prev, set(common))
            share = delta / total if a and total else np.nan
            t.put(row, "share_of_total", share, a + r, "share", "srcc", total_a + total_b)
            t.put(row, "kind", "forward path", [], "label")
        t.put(f"total {path[0]} -> {path[-1]}", "srcc_delta_x100", total * 100, total_a, "delta", "srcc", total_b)
        t.put(f"total {path[0]} -> {path[-1]}", "share_of_total", 1.0 if common else np.nan, [], "label")
    for label, (with_, without) in (one_at_a_time or {}).items():
        if with_ not in b.study.cells or without not in b.study.cells:
            continue
        _delta_row(t, b, label, with_, without)
        t.put(label, "kind", f"one at a time: {with_} vs {without}", [], "label")
    t.notes.append("Attribution: the forward-path rows telescope (C0 -> ... -> full model), so their deltas sum "
                   "to the total and their shares add up to 100%. One-at-a-time rows change a single setting of "
                   "the full model; they overlap with the path and each other and take no share.")
    return t


HYPER_KEYS = ("model.name", "model.size", "model.multiscale", "model.attention_fusion", "model.pretrained",
              "model.drop_path_rate", "model.hyper_dropout", "model.target_dropout", "data.resize",
              "data.patch_size", "data.train_patches", "data.color_jitter", "data.test_crops", "train.epochs",
              "train.batch_size", "train.lr", "train.lr_ratio", "train.optimizer", "train.weight_decay",
              "train.schedule", "train.patience", "train.label_scale")


def hyperparameters(study: Study, runs: dict[str, dict], experiments: list[str]) -> Table:
    """Settings read back from the metrics.json of runs that actually ran (never from the study file)."""
    t = Table("hyperparameters", "Hyperparameters of the runs that produced the tables")
    flat = config_mod._flatten
    for e in experiments:
        ids = [r for r in study.cells[e].values() if runs[r]["metrics"]]
        if not ids:
            continue
        cfg = flat(runs[ids[0]]["metrics"]["config"])
        for key in HYPER_KEYS:
            value = cfg.get(tuple(key.split(".")))
            t.put(e, key, str(value) if isinstance(value, (list, bool)) or value is None else value, ids, "config")
    return t


def training_log(b: Builder, experiment: str | None, results: Path) -> Table:
    """Per-epoch history of the run of `experiment` with the best validation SRCC (chosen on val, not test)."""
    ids = list(b.split_runs(experiment).values()) if experiment in b.study.cells else []
    if not ids:
        t = Table("training_log", "Per-epoch log of the best-validation run")
        t.notes.append(f"no finished run of {experiment!r}")
        return t
    best = max(ids, key=lambda r: b.runs[r]["metrics"]["val"]["srcc"])
    hist = pd.read_csv(results / "runs" / best / "history.csv")
    t = Table("training_log", f"Per-epoch log of {experiment}'s best-validation run {best}")
    for _, h in hist.iterrows():
        for col in hist.columns:
            if col != "epoch":
                t.put(str(int(h["epoch"])), col, float(h[col]), [best], "history", col)
    return t
