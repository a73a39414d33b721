"""Aggregate a study's runs into results/runs.csv, every catalogued table and figure and the numbers
for the prose (results/numbers.tex); audit one cell."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from iqa.study import catalogue

from iqa.results import paperform

from iqa.results import tables
from iqa.core.errors import DataError
from iqa.results.runs import code_version, code_versions, load_runs, load_scores, plcc_mode, recompute, runs_table
from iqa.stats.cells import cell, equivalence, factorial_row, holm, mean_difference, paired_delta
from iqa.study.spec import expand


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
    from iqa.results import figures
    from iqa.results.quoted import write_numbers

    results = Path(results)
    specs = [s for s in catalogue.tables(study_cfg) if only is None or s.name in only]
    needed = None
    if only is not None:
        needed = {rid for e in {e for s in specs for e in catalogue.experiments_behind(study_cfg, s.name)}
                  for rid in expand(study_cfg).cells[e].values()}
    study, runs, scores = check_runs(study_cfg, results, strict=strict, mark_tampered=mark_tampered, needed=needed)
    b = tables.Builder(study, study_cfg, runs, results, scores)
    built = {spec.name: getattr(tables, spec.build)(spec, b) for spec in specs}
    for t in built.values():
        add_holm(t)
    note_claim(built.values(), b.claim)
    note_code_versions(built.values(), runs)
    if write_tables:
        for spec in specs:
            built[spec.name].write(results / "tables")
            paperform.write(spec, built[spec.name], b, results / "tables")
            catalogue.write_caption(spec, results, built[spec.name].notes)
    if only is not None:
        return list(built)
    runs_table(study, runs).to_csv(results / "runs.csv", index=False)
    fac = study.factorial and {"factors": study.factorial["factors"],
                               "cells": {"+".join(sorted(on)): e for on, e in study.factorial["cells"].items()}}
    (results / "study.json").write_text(json.dumps({"base": study.base.to_dict(), "cells": study.cells, "factorial": fac},
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
    study = expand(study_cfg)
    hashes = current_dataset_hashes(study, needed)
    runs = load_runs(study, results, hashes, strict=strict, mark_tampered=mark_tampered, needed=needed)
    return study, runs, load_scores(study_cfg, study, results, runs, mark_tampered=mark_tampered)


def experiment_summary(study_cfg: dict, results: str | Path, experiment: str) -> dict:
    """One experiment's runs, split by split (run id, status, test and validation SRCC/PLCC), checked as
    aggregation checks them, with the median over its usable splits."""
    results = Path(results)
    study = expand(study_cfg)
    needed = set(study.cells[experiment].values())
    runs = load_runs(study, results, current_dataset_hashes(study, needed), needed=needed)
    splits = {}
    for k, rid in study.cells[experiment].items():
        m = runs[rid]["metrics"] or {}
        splits[str(k)] = {"run": rid, "status": runs[rid]["status"],
                          **{f"{part}_{metric}": (m.get(part) or {}).get(metric)
                             for part in ("test", "val") for metric in ("srcc", "plcc")}}
    usable = [s for s, rid in zip(splits.values(), study.cells[experiment].values()) if runs[rid]["usable"]]
    return {"experiment": experiment, "splits": splits,
            "median": {m: cell("median", [s[f"test_{m}"] for s in usable]) for m in ("srcc", "plcc")}}


def add_holm(t) -> None:
    """Holm-adjusted p next to every raw p, over the distinct tests of this table: a table is one family,
    so it reads the same whether it was built alone or with the whole study."""
    tests: dict[tuple, list[str]] = {}
    for key, c in list(t.provenance.items()):
        if c["stat"] in ("p", "shapley_p") and not np.isnan(c["value"]):
            tests.setdefault(test_identity(c), []).append(key)
    adjusted = holm([t.provenance[keys[0]]["value"] for keys in tests.values()])
    for adj, keys in zip(adjusted, tests.values()):
        for key in keys:
            row, col = key.split("|")
            c = t.provenance[key]
            t.put(row, holm_column(col), float(adj), c["runs"], "holm", c["metric"], c["ref_runs"],
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


def _recompute_holm(results: Path, c: dict) -> float:
    """Holm over the raw p of every distinct test of the cell's table, this test's raw p recomputed."""
    raw = {}
    sidecar = results / "tables" / f"{c['table']}.provenance.json"
    for cc in json.loads(sidecar.read_text())["cells"].values():
        if cc["stat"] in ("p", "shapley_p") and cc["value"] is not None and not np.isnan(cc["value"]):
            raw.setdefault(test_identity(cc), cc)
    mine = test_identity(c)
    if mine not in raw:
        raise DataError(f"no published raw p for the test behind this Holm cell ({c['raw']})")
    p = [recompute_cell(results, cc) if ident == mine else cc["value"] for ident, cc in raw.items()]
    return float(holm(p)[list(raw).index(mine)])


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
    paper = side.get("paper") or {}
    if table_path.name.endswith(tuple(f".{ext}" for ext in paperform.PAPER_FILES)) or (
            key not in side["cells"] and key in paper.get("cells", {})):
        return _audit_paper(table_path.with_name(f"{stem}.csv"), paper, row, column)
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
    try:
        value = recompute_cell(results, c)
    except FileNotFoundError as e:  # a run folder (or complexity file) deleted since the table was built
        lines.append(f"cannot recompute: {e.filename} is missing; rerun the workflow (it redoes missing "
                     f"runs) or restore the file, then audit again")
        return "\n".join(lines), False
    if value is None:
        lines.append("  (label or quoted cell: nothing to recompute)")
        return "\n".join(lines), ok
    same = bool(np.isclose(value, c["value"], rtol=1e-9, atol=1e-12, equal_nan=True))
    verdict = "matches" if same else "DOES NOT MATCH"
    lines.append(f"recomputed from {recomputed_from(c)}: {value} -> {verdict}")
    return "\n".join(lines), ok and same


def recomputed_from(c: dict) -> str:
    """What a cell's recomputation reads (validation metrics have no predictions file: the run's record,
    whose content hash the run check above verifies)."""
    if c["stat"] in ("measured", "measured_ratio"):
        return "the complexity measurements"
    return "predictions.csv" if c.get("part", "test") == "test" else f"metrics.json ({c['part']} record)"


def _audit_paper(record: Path, paper: dict, row: str, heading: str) -> tuple[str, bool]:
    """A paper-form cell: its files checked against their hashes, then every full-record cell it is read
    from, audited."""
    stem = record.name.split(".")[0]
    key = f"{row}|{heading}"
    if key not in paper.get("cells", {}):
        rows = sorted({k.split("|")[0] for k in paper.get("cells", {})})
        raise DataError(f"{stem} paper form: no cell row={row!r} heading={heading!r}; rows: {rows}; "
                        f"headings: {paper.get('headings')}")
    c = paper["cells"][key]
    lines = [f"{stem} (paper form) [{row}, {heading}] = {c['text']!r}, read from {len(c['from'])} "
             f"full-record cell(s) of {record.name}"]
    ok = _check_files(record.parent, stem, {"files": {ext: h for ext, h in paper["files"].items()}}, lines)
    for source in c["from"]:
        text, good = audit(record, *source.split("|", 1))
        lines += ["  " + line for line in text.splitlines()]
        ok &= good
    return "\n".join(lines), ok


def _check_files(folder: Path, stem: str, side: dict, lines: list[str]) -> bool:
    from iqa.training.record import sha256_file

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
    from iqa.results.runs import tampering

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
        if stat == "measured_ratio":  # ref / own (latency speed-up) unless the cell says own / ref
            ref = json.loads((results / c["ref_source"]).read_text())[metric]
            value = value / ref if c.get("ratio") == "own/ref" else ref / value
        return value
    if stat in ("ceiling", "ceiling_share"):  # from the dataset's rating distributions (fixed seed)
        from iqa.stats.ceiling import dataset_ceiling

        top = dataset_ceiling(c["source"])
        if stat == "ceiling":
            return top[metric]
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
    if stat == "ceiling_share":
        return cell("median", values(c["runs"])) / top[metric]
    if stat == "tost_p":
        return equivalence(np.subtract(values(c["runs"]), values(c["ref_runs"])), c["margin"])["p"]
    pool = None
    if c.get("claim") == "population" and len(c["runs"]) > 1:
        from iqa.stats.claim import paired_pool_variance

        pool = paired_pool_variance(results, c["runs"], c["ref_runs"], {})
    return paired_delta(values(c["runs"]), values(c["ref_runs"]), pool_variance=pool)[stat] * scale


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
    pools = {row: None, "total": None}
    if c.get("claim") == "population" and len(ks) > 1:  # the pool term, recomputed from predictions.csv
        from iqa.stats.claim import shapley_pool_variance

        runs = {on: [study["cells"][exp][str(k)] for k in ks] for on, exp in cells.items()}
        pools = {name: shapley_pool_variance(results, runs, factors, name, {}) for name in pools}
    per = factorial_row(vals, factors, row)
    if c["stat"] == "shapley_share":  # printed only where the total's CI excludes zero
        total = mean_difference(vals[top] - vals[bottom], pool_variance=pools["total"])
        excludes_zero = total["ci_low"] > 0 or total["ci_high"] < 0
        return float(per.mean() / total["delta"]) if excludes_zero else float("nan")
    return mean_difference(per, pool_variance=pools[row])[c["stat"].removeprefix("shapley_")] * c.get("scale", 1.0)
