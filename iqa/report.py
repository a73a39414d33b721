"""Aggregate a study's runs into results/runs.csv, results/tables/ and results/figures/; audit one cell."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import figures
from .data import DataError, dataset_hash, load_koniq
from .config import DEFAULTS, diff
from .metrics import correlations
from .stats import cell
from .study import expand
from .tables import Builder, Table, build_tables, load_runs, runs_table


def current_dataset_hashes(study) -> dict[str, str | None]:
    """Data root -> hash of the dataset on disk now, or None when it is not here (runs then keep their own)."""
    hashes = {}
    for root in sorted({cfg["data"]["root"] for cfg in study.runs.values()}):
        try:
            hashes[root] = dataset_hash(load_koniq(root))
        except DataError:
            hashes[root] = None
    return hashes


def aggregate(study_cfg: dict, results: str | Path) -> list[str]:
    """Write every table and figure; returns the table names."""
    results = Path(results)
    study = expand(study_cfg)
    runs = load_runs(study, results, current_dataset_hashes(study))
    runs_table(study, runs).to_csv(results / "runs.csv", index=False)
    (results / "study.json").write_text(json.dumps({"base": study.base, "cells": study.cells}, indent=2))
    tables = build_tables(study, study_cfg, runs, results)
    for t in tables:
        t.write(results / "tables")
    by_name = {t.name: t for t in tables}
    b = Builder(study, runs)
    groups = study_cfg.get("tables") or {}
    best_of = groups.get("best_of") or (groups.get("ablation") or [None])[-1]
    fig_dir = results / "figures"
    figures.ablation_waterfall(by_name["ablation"], fig_dir)
    figures.lr_sensitivity(by_name.get("lr_sweep") or Table("lr_sweep", ""), fig_dir)
    figures.model_size(by_name.get("model_size") or Table("model_size", ""), fig_dir)
    figures.training_curves(b, best_of, results, fig_dir)
    figures.attention_weights(b, best_of, results, fig_dir)
    figures.pred_vs_mos(b, best_of, results, fig_dir)
    figures.contribution_chart(by_name["contributions"], fig_dir)
    return [t.name for t in tables]


def _run_metric(results: Path, rid: str, metric: str, plcc_mode: str) -> float:
    """Recompute one run's test metric from its predictions.csv."""
    p = pd.read_csv(results / "runs" / rid / "predictions.csv")
    return correlations(p["pred"].to_numpy(), p["mos"].to_numpy(), plcc_mode)[metric]


def audit(table_path: str | Path, row: str, column: str) -> tuple[str, bool]:
    """Report the runs behind one cell and recompute it from their predictions; (text, still matches)."""
    table_path = Path(table_path)
    sidecar = table_path.with_name(table_path.name.split(".")[0] + ".provenance.json")
    if not sidecar.is_file():
        raise DataError(f"no provenance sidecar next to {table_path} (expected {sidecar})")
    cells = json.loads(sidecar.read_text())["cells"]
    key = f"{row}|{column}"
    if key not in cells:
        rows = sorted({k.split("|")[0] for k in cells})
        cols = sorted({k.split("|")[1] for k in cells})
        raise DataError(f"{sidecar}: no cell row={row!r} column={column!r}; rows: {rows}; columns: {cols}")
    c = cells[key]
    results = table_path.parent.parent
    lines = [f"{table_path.name} [{row}, {column}] = {c['value']} ({c['stat']} of {c['metric']})"]
    study_file = results / "study.json"
    base = json.loads(study_file.read_text())["base"] if study_file.is_file() else DEFAULTS
    for role, ids in (("run", c["runs"]), ("reference run", c["ref_runs"] or [])):
        for rid in ids:
            mpath = results / "runs" / rid / "metrics.json"
            if not mpath.is_file():
                lines.append(f"  {role} {rid}: metrics.json missing")
                continue
            m = json.loads(mpath.read_text())
            p = m["provenance"]
            lines.append(f"  {role} {rid}: split {m['config']['data']['split_index']} seed {p['seed']} "
                         f"commit {p['git_commit']} dirty {p['git_dirty']} dataset {p['dataset_hash'][:12]} "
                         f"split {p['split_hash'][:12]} test {c['metric']}={m['test'].get(c['metric'] or '', '')}")
            changed = {k: v[1] for k, v in diff(m["config"], base).items() if k != "name"}
            lines.append(f"    config vs study base: {changed}")
            lines.append(f"    checkpoint {mpath.parent / 'model.safetensors'}  log {mpath.parent / 'train.log'}")
    recomputable = c["stat"] in ("median", "mean", "std", "delta", "ci_low", "ci_high", "p") and c["metric"] in (
        "srcc", "plcc", "krcc", "rmse")
    if not recomputable:
        lines.append("  (derived cell, not a per-run test statistic: shown from the runs' records)")
        return "\n".join(lines), True
    plcc_mode = "raw"
    first = results / "runs" / c["runs"][0] / "metrics.json"
    if first.is_file():
        plcc_mode = json.loads(first.read_text())["config"]["eval"]["plcc"]
    vals = [_run_metric(results, r, c["metric"], plcc_mode) for r in c["runs"]]
    refs = [_run_metric(results, r, c["metric"], plcc_mode) for r in c["ref_runs"]] if c["ref_runs"] else None
    value = cell(c["stat"], vals, refs)
    if column.endswith("_x100"):
        value *= 100
    same = bool(np.isclose(value, c["value"], rtol=1e-9, atol=1e-9, equal_nan=True))
    lines.append(f"recomputed from predictions.csv: {value} -> {'matches' if same else 'DOES NOT MATCH'}")
    return "\n".join(lines), same
