"""Aggregate a study's runs into results/runs.csv, every catalogued table and figure and the numbers
for the prose (results/numbers.tex); audit one cell."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import catalogue, tables
from .errors import DataError
from .runs import code_version, code_versions, load_runs, load_scores, plcc_mode, recompute, runs_table
from .stats import cell, equivalence, holm, interaction, mean_difference, paired_delta, shapley
from .study import expand


def current_dataset_hashes(study) -> dict[str, str | None]:
    """Data root -> hash of the dataset on disk now, or None when it is not here (runs then keep their own)."""
    from .data import dataset_hash, load_koniq

    hashes = {}
    for root in sorted({cfg["data"]["root"] for cfg in study.runs.values()}):
        try:
            hashes[root] = dataset_hash(load_koniq(root))
        except DataError:
            hashes[root] = None
    return hashes


def aggregate(study_cfg: dict, results: str | Path, strict: bool = False, mark_tampered: bool = False) -> list[str]:
    """Write runs.csv, every table and every figure the catalogue lists for this study, and numbers.tex/.json
    (a macro for every quoted number); return table names."""
    from . import figures
    from .numbers import write_numbers

    results = Path(results)
    study = expand(study_cfg)
    runs = load_runs(study, results, current_dataset_hashes(study), strict=strict, mark_tampered=mark_tampered)
    runs_table(study, runs).to_csv(results / "runs.csv", index=False)
    fac = study.factorial and {"factors": study.factorial["factors"],
                               "cells": {"+".join(sorted(on)): e for on, e in study.factorial["cells"].items()}}
    (results / "study.json").write_text(json.dumps({"base": study.base, "cells": study.cells, "factorial": fac},
                                                   indent=2))
    scores = load_scores(study_cfg, study, results, runs, mark_tampered=mark_tampered)
    b = tables.Builder(study, study_cfg, runs, results, scores)
    built = {spec.name: getattr(tables, spec.build)(spec, b) for spec in catalogue.tables(study_cfg)}
    add_holm(built.values())
    note_code_versions(built.values(), runs)
    for t in built.values():
        t.write(results / "tables")
    for spec in catalogue.figures(study_cfg):
        getattr(figures, spec.build)(spec, b, built)
    write_numbers(catalogue.tables(study_cfg), built, results)
    return list(built)


def add_holm(all_tables) -> None:
    """Holm-adjusted p next to every raw p, over all distinct tests the study reports (a test shown in
    several tables counts once)."""
    tests: dict[tuple, list[tuple]] = {}
    for t in all_tables:
        for key, c in t.provenance.items():
            if c["stat"] in ("p", "shapley_p") and not np.isnan(c["value"]):
                tests.setdefault(test_identity(c), []).append((t, key))
    adjusted = holm([next(iter(cells))[0].provenance[next(iter(cells))[1]]["value"] for cells in tests.values()])
    for adj, cells in zip(adjusted, tests.values()):
        for t, key in cells:
            row, col = key.split("|")
            c = t.provenance[key]
            t.put(row, holm_column(col), float(adj), c["runs"], "holm", c["metric"], c["ref_runs"],
                  family_size=len(tests), factor=c.get("factor"), raw=key)
    for t in all_tables:
        if any(c["stat"] == "holm" for c in t.provenance.values()):
            t.note(f"p_holm: Holm-adjusted over all {len(tests)} distinct tests this study reports.")


def holm_column(col: str) -> str:
    """The Holm column beside a raw-p column, token by token: `spaq_p_vs_C0` -> `spaq_p_holm_vs_C0`."""
    tokens = col.split("_")
    i = tokens.index("p")
    return "_".join(tokens[:i + 1] + ["holm"] + tokens[i + 1:])


def test_identity(c: dict) -> tuple:
    """One test, wherever a table shows it: its runs, reference runs, metric and (Shapley) factor."""
    return tuple(c["runs"]), tuple(c["ref_runs"] or ()), c["metric"], c.get("factor")


def _recompute_holm(results: Path, c: dict) -> float:
    """Holm over the raw p of every distinct test in the published sidecars, this test's raw p recomputed."""
    raw = {}
    for sidecar in sorted((results / "tables").glob("*.provenance.json")):
        for cc in json.loads(sidecar.read_text())["cells"].values():
            if cc["stat"] in ("p", "shapley_p") and cc["value"] is not None and not np.isnan(cc["value"]):
                raw.setdefault(test_identity(cc), cc)
    mine = test_identity(c)
    if mine not in raw:
        raise DataError(f"no published raw p for the test behind this Holm cell ({c['raw']})")
    p = [recompute_cell(results, cc) if ident == mine else cc["value"] for ident, cc in raw.items()]
    return float(holm(p)[list(raw).index(mine)])


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


# --- audit ---------------------------------------------------------------------------------------


def audit(table_path: str | Path, row: str, column: str) -> tuple[str, bool]:
    """The runs behind one cell, the cell recomputed from their predictions, and the published files
    checked against their recorded hashes; (text, everything matches)."""
    table_path = Path(table_path)
    stem = table_path.name.split(".")[0]
    sidecar = table_path.with_name(stem + ".provenance.json")
    if not sidecar.is_file():
        raise DataError(f"no provenance sidecar next to {table_path} (expected {sidecar})")
    side = json.loads(sidecar.read_text())
    key = f"{row}|{column}"
    if key not in side["cells"]:
        rows = sorted({k.split("|")[0] for k in side["cells"]})
        cols = sorted({k.split("|")[1] for k in side["cells"]})
        raise DataError(f"{sidecar}: no cell row={row!r} column={column!r}; rows: {rows}; columns: {cols}")
    c = side["cells"][key]
    results = table_path.parent.parent
    lines = [f"{stem} [{row}, {column}] = {c['value']} ({c['stat']} of {c['metric']})"]
    ok = _check_files(table_path.parent, stem, side, lines)
    for role, ids in (("run", c["runs"]), ("reference run", c["ref_runs"] or [])):
        for rid in ids:
            ok &= _describe_run(run_dir(results, rid), role, c["metric"], lines)
    value = recompute_cell(results, c)
    if value is None:
        lines.append("  (label or quoted cell: nothing to recompute)")
        return "\n".join(lines), ok
    same = bool(np.isclose(value, c["value"], rtol=1e-9, atol=1e-12, equal_nan=True))
    lines.append(f"recomputed from predictions.csv: {value} -> {'matches' if same else 'DOES NOT MATCH'}")
    return "\n".join(lines), ok and same


def _check_files(folder: Path, stem: str, side: dict, lines: list[str]) -> bool:
    from .record import sha256_file

    ok = True
    for ext, digest in (side.get("files") or {}).items():
        path = folder / f"{stem}.{ext}"
        if not path.is_file() or sha256_file(path) != digest:
            lines.append(f"  PUBLISHED FILE CHANGED: {path} differs from the SHA-256 its provenance recorded")
            ok = False
    if not side.get("files"):
        lines.append("  (provenance records no file hashes)")
    return ok


def _describe_run(run_dir: Path, role: str, metric: str | None, lines: list[str]) -> bool:
    from .runs import tampering

    mpath = run_dir / "metrics.json"
    if not mpath.is_file():
        lines.append(f"  {role} {run_dir.name}: metrics.json missing")
        return False
    m = json.loads(mpath.read_text())
    p = m["provenance"]
    if "model_run_id" in m:  # a cross-dataset score
        lines.append(f"  {role} {run_dir}: model {m['model_run_id']} ({m['model_sha256'][:12]}) on {m['dataset_kind']} "
                     f"{m['dataset_root']} (dataset {m['dataset_hash'][:12]}) code {code_version(m)} "
                     f"{metric}={m['test'].get(metric or '', '')}")
    else:
        lines.append(f"  {role} {run_dir.name}: split {m['config']['data']['split_index']} seed {p['seed']} "
                     f"code {code_version(m)} dirty {p['git_dirty']} dataset {p['dataset_hash'][:12]} "
                     f"split {p['split_hash'][:12]} selected on {m.get('selected_on', 'val')} "
                     f"test {metric}={m['test'].get(metric or '', '')}")
    env = p.get("environment") or {}
    if env:
        dists = env.get("distributions", {})
        key = ", ".join(f"{n} {dists[n]}" for n in ("torch", "timm", "numpy", "scipy", "pandas") if n in dists)
        lines.append(f"    environment: lock {str(env.get('lock_sha256'))[:12]}, {len(dists)} distributions ({key})")
    problem = tampering(run_dir, m)
    if problem:
        lines.append(f"    TAMPERED: {problem}")
    return problem is None


def run_dir(results: Path, rid: str) -> Path:
    """A cell's run: a training run id, or `scores/<dataset>/<run id>` for a cross-dataset score."""
    return results / rid if "/" in rid else results / "runs" / rid


def recompute_cell(results: Path, c: dict) -> float | None:
    """A table cell recomputed from the runs' predictions.csv, the way the table computed it."""
    stat, metric = c["stat"], c["metric"]
    if stat in ("measured", "measured_ratio"):  # read back from the complexity job's JSON
        value = json.loads((results / c["source"]).read_text())[metric] * c.get("scale", 1.0)
        if stat == "measured_ratio":
            value = json.loads((results / c["ref_source"]).read_text())[metric] / value
        return value
    if stat in ("label", "quoted", "config", "history", "count") or metric not in ("srcc", "plcc", "krcc", "rmse"):
        return None

    def values(ids):
        out = []
        for rid in ids:
            m = json.loads((run_dir(results, rid) / "metrics.json").read_text())
            part = c.get("part", "test")
            out.append(recompute(run_dir(results, rid), plcc_mode(m))[metric] if part == "test" else m[part][metric])
        return out

    scale = c.get("scale", 1.0)
    if stat == "holm":
        return _recompute_holm(results, c)
    if stat.startswith("shapley_"):
        return _recompute_shapley(results, c, values)
    if stat in ("median", "mean", "std"):
        return cell(stat, values(c["runs"]))
    if stat == "tost_p":
        return equivalence(np.subtract(values(c["runs"]), values(c["ref_runs"])), c["margin"])["p"]
    return paired_delta(values(c["runs"]), values(c["ref_runs"]))[stat] * scale


def _recompute_shapley(results: Path, c: dict, values) -> float:
    study = json.loads((results / "study.json").read_text())
    fac = study.get("factorial")
    if not fac:
        raise DataError(f"{results / 'study.json'} has no factorial; cannot recompute a Shapley cell")
    by_run = dict(zip(c["runs"], values(c["runs"])))
    split_of = {rid: k for e in study["cells"].values() for k, rid in e.items()}
    cells = {frozenset(on.split("+")) - {""}: exp for on, exp in fac["cells"].items()}
    ks = sorted({split_of[r] for r in c["runs"]})
    vals = {on: np.array([by_run[study["cells"][exp][str(k)]] for k in ks]) for on, exp in cells.items()}
    factors = fac["factors"]
    top, bottom = frozenset(factors), frozenset()
    row = c["factor"]
    if row in factors:
        per = shapley(vals, factors)[row]
    elif row.startswith("total"):
        per = vals[top] - vals[bottom]
    else:
        per = interaction(vals, factors)
    if c["stat"] == "shapley_share":  # printed only where the total's CI excludes zero
        total = mean_difference(vals[top] - vals[bottom])
        excludes_zero = total["ci_low"] > 0 or total["ci_high"] < 0
        return float(per.mean() / total["delta"]) if excludes_zero else float("nan")
    return mean_difference(per)[c["stat"].removeprefix("shapley_")] * c.get("scale", 1.0)
