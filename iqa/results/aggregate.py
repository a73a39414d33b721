"""Aggregate a study's runs into results/runs.csv, every catalogued table and figure and the numbers
for the prose (results/numbers.tex), each p beside its Holm-adjusted p. `iqa.results.audit` checks
one cell or number afterwards."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from iqa.core import layout
from iqa.core.errors import DataError
from iqa.core.vocab import RAW_P_STATS, TABLE_METRICS, CellKey, Stat
from iqa.results import paperform, tables
from iqa.results.adaptive import repeated_columns
from iqa.results.quoted import write_numbers
from iqa.results.runs import code_versions, load_runs, load_scores, runs_table
from iqa.stats.cells import cell, holm
from iqa.study import catalogue
from iqa.study.adaptive import as_trained
from iqa.study.spec import expand
from iqa.training.record import read_metrics


def current_dataset_hashes(study, needed: set[str] | None = None) -> dict[str, str | None]:
    """Data root -> hash of the dataset on disk now, or None when it is not here (runs then keep their own)."""
    from iqa.data.dataset import dataset_hash, load_koniq

    hashes = {}
    for root in sorted({cfg.data.root for rid, cfg in study.runs.items() if needed is None or rid in needed}):
        try:
            hashes[root] = dataset_hash(load_koniq(root))
        except DataError:
            hashes[root] = None
    return hashes


def aggregate(study_cfg: dict, results: str | Path, strict: bool = False, mark_tampered: bool = False,
              only: list[str] | None = None, write_tables: bool = True) -> list[str]:
    """Write runs.csv, every table and every figure the catalogue lists for this study, and numbers.tex/.json
    (a macro for every quoted number); return table names.

    `only`: build just these tables, from just the runs behind them (`catalogue.experiments_behind`), and
    write nothing else: the workflow's one-table jobs. `write_tables=False` builds every table in memory
    for the figures and numbers but leaves the table files to those jobs."""
    from iqa.results import figures  # needs matplotlib, an optional dependency

    results = Path(results)
    specs = [s for s in catalogue.tables(study_cfg) if only is None or s.name in only]
    needed = None
    if only is not None:
        needed = {rid for e in {e for s in specs for e in catalogue.experiments_behind(study_cfg, s.name)}
                  for rid in expand(study_cfg).cells[e].values()}
    study, runs, scores = check_runs(study_cfg, results, strict=strict, mark_tampered=mark_tampered, needed=needed)
    b = tables.Builder(study, study_cfg, runs, results, scores)
    built = {spec.name: tables.TABLE_BUILDERS[spec.build](spec, b) for spec in specs}
    for t in built.values():
        add_holm(t)
    note_claim(built.values(), b.claim)
    note_code_versions(built.values(), runs)
    repeated_columns(built.values(), study_cfg, b.value)  # an adaptive study's repeated intervals; else nothing
    if write_tables:
        for spec in specs:
            built[spec.name].write(layout.tables_dir(results))
            paperform.write(spec, built[spec.name], b, layout.tables_dir(results))
            catalogue.write_caption(spec, results, built[spec.name].notes)
    if only is not None:
        return list(built)
    runs_table(study, runs).to_csv(layout.runs_csv(results), index=False)
    fac = study.factorial and {"factors": study.factorial["factors"],
                               "cells": {"+".join(sorted(on)): e for on, e in study.factorial["cells"].items()}}
    layout.study_json(results).write_text(json.dumps({"base": study.base.to_dict(), "cells": study.cells, "factorial": fac},
                                                   indent=2))
    for spec in catalogue.figures(study_cfg):
        figures.draw(spec, b, built)
        catalogue.write_caption(spec, results)
    write_numbers(catalogue.tables(study_cfg), built, results)
    return list(built)


def check_runs(study_cfg: dict, results: str | Path, strict: bool = False, mark_tampered: bool = False,
               needed: set[str] | None = None):
    """Aggregation's first step, before it writes anything: the study, its runs and its cross-dataset scores,
    each checked against its own record (`runs.load_runs`, `runs.load_scores`); a tampered one stops it.
    `needed`: only these runs are read (one table's)."""
    results = Path(results)
    if not results.is_dir():
        raise DataError(f"results folder not found: {results}; run the workflow first or pass --results DIR")
    study = as_trained(study_cfg, expand(study_cfg), results)  # adaptive: the splits each experiment ended with
    hashes = current_dataset_hashes(study, needed)
    runs = load_runs(study, results, hashes, strict=strict, mark_tampered=mark_tampered, needed=needed)
    return study, runs, load_scores(study_cfg, study, results, runs, mark_tampered=mark_tampered)


def experiment_summary(study_cfg: dict, results: str | Path, experiment: str) -> dict:
    """One experiment's runs, split by split (run id, status, test and validation SRCC/PLCC), checked as
    aggregation checks them, with the median over its usable splits."""
    results = Path(results)
    study = as_trained(study_cfg, expand(study_cfg), results)
    needed = set(study.cells[experiment].values())
    runs = load_runs(study, results, current_dataset_hashes(study, needed), needed=needed)
    splits = {}
    for k, rid in study.cells[experiment].items():
        m = runs[rid]["metrics"] or {}
        splits[str(k)] = {"run": rid, "status": runs[rid]["status"],
                          **{f"{part}_{metric}": (m.get(part) or {}).get(metric)
                             for part in ("test", "val") for metric in TABLE_METRICS}}
    usable = [s for s, rid in zip(splits.values(), study.cells[experiment].values()) if runs[rid]["usable"]]
    return {"experiment": experiment, "splits": splits,
            "median": {m: cell(Stat.MEDIAN, [s[f"test_{m}"] for s in usable]) for m in TABLE_METRICS}}


def add_holm(t) -> None:
    """Holm-adjusted p next to every raw p, over the distinct tests of this table: a table is one family,
    so it reads the same whether it was built alone or with the whole study."""
    tests: dict[tuple, list[str]] = {}
    for key, c in list(t.provenance.items()):
        if c["stat"] in RAW_P_STATS and not np.isnan(c["value"]):
            tests.setdefault(test_identity(c), []).append(key)
    adjusted = holm([t.provenance[keys[0]]["value"] for keys in tests.values()])
    for adj, keys in zip(adjusted, tests.values()):
        for key in keys:
            where = CellKey.parse(key)
            c = t.provenance[key]
            t.put(where.row, holm_column(where.column), float(adj), c["runs"], Stat.HOLM, c["metric"], c["ref_runs"],
                  family_size=len(tests), factor=c.get("factor"), raw=key, table=t.name,
                  **({"pair": c["pair"]} if c.get("pair") else {}))
    if tests:
        t.note(f"p_holm: Holm-adjusted over the {len(tests)} distinct comparison{'s' * (len(tests) != 1)} of this "
               f"table (one family per table, so the controls are a family of their own; a comparison shown "
               f"twice, or as A-B and B-A, counts once).")


def holm_column(col: str) -> str:
    """The Holm column beside a raw-p column, token by token: `spaq_p_vs_C0` -> `spaq_p_holm_vs_C0`."""
    tokens = col.split("_")
    i = tokens.index("p")
    return "_".join(tokens[:i + 1] + ["holm"] + tokens[i + 1:])


def test_identity(c: dict) -> tuple:
    """One test, wherever a table shows it and whichever side is the reference: its two sets of runs
    (unordered: A-B and B-A have the same two-sided p), metric and (Shapley) factor."""
    if c.get("pair"):  # a Shapley total: the comparison of the all-on and all-off cells
        return tuple(sorted(tuple(side) for side in c["pair"])), c["metric"], None
    sides = sorted([tuple(c["runs"]), tuple(c["ref_runs"] or ())])
    return tuple(sides), c["metric"], c.get("factor")


def note_claim(all_tables, claim: str) -> None:
    """Every table names its claim: tables with intervals say it in their delta note, the others here."""
    from iqa.stats.claim import summary_note

    for t in all_tables:
        if not any(c.get("claim") for c in t.provenance.values()):
            t.note(summary_note(claim))


def note_code_versions(all_tables, runs: dict) -> None:
    versions = code_versions(runs)
    if len(versions) <= 1:
        return
    for t in all_tables:
        used = {r for c in t.provenance.values() for r in (c["runs"] or []) + (c["ref_runs"] or [])}
        per = {v: sorted(set(ids) & used) for v, ids in versions.items()}
        per = {v: ids for v, ids in per.items() if ids}
        if len(per) > 1:
            t.note("runs from different code versions or environments (commit/source hash/lock hash): "
                   + "; ".join(f"{v}: {', '.join(ids)}" for v, ids in per.items()))
