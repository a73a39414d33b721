"""`iqa audit`: one table cell or one number of the prose traced to the runs behind it, recomputed from
their predictions, and every published file checked against the hash its provenance recorded.

A cell (`audit`) is recomputed the way its table computed it (`recompute_cell`, by the cell's `stat`);
a paper-form cell is audited through the full-record cells it is read from; a macro of numbers.tex
(`audit_macro`) through the table cell(s) it names.
"""
from __future__ import annotations

import difflib
import json
import math
import re
from pathlib import Path

import numpy as np

from iqa.core import layout
from iqa.core.errors import DataError
from iqa.core.vocab import (NOT_COMPUTED_STATS, RAW_P_STATS, REPEATED_INTERVAL_STATS, SUMMARY_STATS, CellKey, Metric,
                             Stat, cell_key)
from iqa.results.adaptive import rci
from iqa.results.aggregate import test_identity
from iqa.results.quoted import Number, format_number, relative_gain, same_number, source_comment
from iqa.results.runs import code_version, plcc_mode, recompute, tampering
from iqa.stats.cells import cell, equivalence, factorial_row, holm, mean_difference, paired_delta, shapley_share
from iqa.training.record import read_metrics, sha256_file


def audit(table_path: str | Path, row: str, column: str) -> tuple[str, bool]:
    """The runs behind one cell, the cell recomputed from their predictions, and the published files
    checked against their recorded hashes; (text, everything matches)."""
    table_path = Path(table_path)
    stem = table_path.name.split(".")[0]
    sidecar = table_path.with_name(f"{stem}.{layout.PROVENANCE}")
    if not sidecar.is_file():
        raise DataError(f"no provenance sidecar next to {table_path} (expected {sidecar})")
    side = json.loads(sidecar.read_text())
    key = cell_key(row, column)
    paper = side.get("paper") or {}
    if table_path.name.endswith(tuple(f".{ext}" for ext in layout.PAPER_FILES)) or (
            key not in side["cells"] and key in paper.get("cells", {})):
        return _audit_paper(table_path.with_name(f"{stem}.csv"), paper, row, column)
    if key not in side["cells"]:
        rows = sorted({CellKey.parse(k).row for k in side["cells"]})
        cols = sorted({CellKey.parse(k).column for k in side["cells"]})
        raise DataError(f"{sidecar}: no cell row={row!r} column={column!r}; rows: {rows}; columns: {cols}")
    c = side["cells"][key]
    results = table_path.parent.parent
    lines = [f"{stem} [{row}, {column}] = {c['value']} ({c['stat']} of {c['metric']})"]
    ok = _check_files(table_path.parent, stem, side, lines)
    for role, ids in (("run", c["runs"]), ("reference run", c["ref_runs"] or [])):
        for rid in ids:
            ok &= _describe_run(layout.record_dir(results, rid), role, c["metric"], lines)
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
    if c["stat"] in (Stat.MEASURED, Stat.MEASURED_RATIO):
        return "the complexity measurements"
    return layout.PREDICTIONS if c.get("part", "test") == "test" else f"{layout.METRICS} ({c['part']} record)"


def _audit_paper(record: Path, paper: dict, row: str, heading: str) -> tuple[str, bool]:
    """A paper-form cell: its files checked against their hashes, then every full-record cell it is read
    from, audited."""
    stem = record.name.split(".")[0]
    key = cell_key(row, heading)
    if key not in paper.get("cells", {}):
        rows = sorted({CellKey.parse(k).row for k in paper.get("cells", {})})
        raise DataError(f"{stem} paper form: no cell row={row!r} heading={heading!r}; rows: {rows}; "
                        f"headings: {paper.get('headings')}")
    c = paper["cells"][key]
    lines = [f"{stem} (paper form) [{row}, {heading}] = {c['text']!r}, read from {len(c['from'])} "
             f"full-record cell(s) of {record.name}"]
    ok = _check_files(record.parent, stem, {"files": {ext: h for ext, h in paper["files"].items()}}, lines)
    for source in c["from"]:
        source = CellKey.parse(source)
        text, good = audit(record, source.row, source.column)
        lines += ["  " + line for line in text.splitlines()]
        ok &= good
    return "\n".join(lines), ok


def _check_files(folder: Path, stem: str, side: dict, lines: list[str]) -> bool:
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
    mpath = run_dir / layout.METRICS
    if not mpath.is_file():
        lines.append(f"  {role} {run_dir.name}: {layout.METRICS} missing")
        return False
    m = read_metrics(mpath)
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


def recompute_cell(results: Path, c: dict) -> float | None:
    """A table cell recomputed from the runs' predictions.csv, the way the table computed it."""
    stat, metric = c["stat"], c["metric"]
    if stat in (Stat.MEASURED, Stat.MEASURED_RATIO):  # read back from the complexity job's JSON
        value = json.loads((results / c["source"]).read_text())[metric] * c.get("scale", 1.0)
        if stat == Stat.MEASURED_RATIO:  # ref / own (latency speed-up) unless the cell says own / ref
            ref = json.loads((results / c["ref_source"]).read_text())[metric]
            value = value / ref if c.get("ratio") == "own/ref" else ref / value
        return value
    if stat in (Stat.CEILING, Stat.CEILING_SHARE):  # from the dataset's rating distributions (fixed seed)
        from iqa.stats.ceiling import dataset_ceiling

        top = dataset_ceiling(c["source"])
        if stat == Stat.CEILING:
            return top[metric]
    if stat in NOT_COMPUTED_STATS or metric not in tuple(Metric):
        return None

    def values(ids):
        out = []
        for rid in ids:
            folder = layout.record_dir(results, rid)
            m = read_metrics(folder / layout.METRICS)
            part = c.get("part", "test")
            out.append(recompute(folder, plcc_mode(m))[metric] if part == "test" else m[part][metric])
        return out

    scale = c.get("scale", 1.0)
    if stat == Stat.HOLM:
        return _recompute_holm(results, c)
    if stat.startswith("shapley_"):
        return _recompute_shapley(results, c, values)
    if stat in SUMMARY_STATS:
        return cell(stat, values(c["runs"]))
    if stat == Stat.CEILING_SHARE:
        return cell(Stat.MEDIAN, values(c["runs"])) / top[metric]
    if stat in REPEATED_INTERVAL_STATS:
        return rci(c, c["level"], lambda rid, metric: values([rid])[0])[stat == Stat.RCI_HIGH]
    if stat == Stat.TOST_P:
        return equivalence(np.subtract(values(c["runs"]), values(c["ref_runs"])), c["margin"])["p"]
    pool = None
    if c.get("claim") == "population" and len(c["runs"]) > 1:
        from iqa.stats.claim import paired_pool_variance

        pool = paired_pool_variance(results, c["runs"], c["ref_runs"], {})
    return paired_delta(values(c["runs"]), values(c["ref_runs"]), pool_variance=pool)[stat] * scale


def _recompute_shapley(results: Path, c: dict, values) -> float:
    study = json.loads(layout.study_json(results).read_text())
    fac = study.get("factorial")
    if not fac:
        raise DataError(f"{layout.study_json(results)} has no factorial; cannot recompute a Shapley cell")
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
    if c["stat"] == Stat.SHAPLEY_SHARE:
        return shapley_share(per, mean_difference(vals[top] - vals[bottom], pool_variance=pools["total"]))
    return mean_difference(per, pool_variance=pools[row])[c["stat"].removeprefix("shapley_")] * c.get("scale", 1.0)


def _recompute_holm(results: Path, c: dict) -> float:
    """Holm over the raw p of every distinct test of the cell's table, this test's raw p recomputed."""
    raw = {}
    sidecar = layout.table_file(results, c["table"], layout.PROVENANCE)
    for cc in json.loads(sidecar.read_text())["cells"].values():
        if cc["stat"] in RAW_P_STATS and cc["value"] is not None and not np.isnan(cc["value"]):
            raw.setdefault(test_identity(cc), cc)
    mine = test_identity(c)
    if mine not in raw:
        raise DataError(f"no published raw p for the test behind this Holm cell ({c['raw']})")
    p = [recompute_cell(results, cc) if ident == mine else cc["value"] for ident, cc in raw.items()]
    return float(holm(p)[list(raw).index(mine)])


# --- macros of numbers.tex ------------------------------------------------------------------------


def find_macro(numbers_path: str | Path, macro: str) -> tuple[Path, dict]:
    """numbers.json next to `numbers_path` (numbers.tex, numbers.json or a results folder) and the
    entry of `macro` (with or without its backslash)."""
    path = Path(numbers_path)
    path = layout.numbers_file(path, layout.NUMBERS_JSON) if path.is_dir() else path.with_suffix(".json")
    if not path.is_file():
        raise DataError(f"no {path}: run `iqa aggregate` first (it writes numbers.tex and numbers.json)")
    entries = json.loads(path.read_text())
    name = macro.lstrip("\\")
    if name not in entries:
        close = difflib.get_close_matches(name, list(entries), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise DataError(f"{path}: no macro \\{name}{hint}")
    return path, entries[name]


def audit_macro(numbers_path: str | Path, macro: str) -> tuple[str, bool]:
    """Trace a macro to its table cell(s), check numbers.tex, numbers.json and the table agree, and audit
    the cell(s) with `audit`; (text, everything matches)."""
    path, e = find_macro(numbers_path, macro)
    lines = [f"\\{e['name']} = {e['text']}: {source_comment(Number(**e))}"]
    ok = _check_tex(path.with_suffix(".tex"), e, lines)
    expected = format_number(e["stat"], math.nan if e["value"] is None else e["value"], e["metric"])
    if expected != e["text"]:
        lines.append(f"  TEXT CHANGED: {path} says {e['text']!r} but its value {e['value']} prints "
                     f"{expected!r}")
        ok = False
    table_path = layout.table_file(path.parent, e["table"], "csv")
    cells = json.loads(layout.table_file(path.parent, e["table"], layout.PROVENANCE).read_text())["cells"]
    for row in [e["row"]] + ([e["ref_row"]] if e["ref_row"] else []):
        text, same = audit(table_path, row, e["column"])
        lines += ["  " + line for line in text.splitlines()]
        ok &= same
    ref = cells[cell_key(e["ref_row"], e["column"])]["value"] if e["ref_row"] else None
    shown = cells[cell_key(e["row"], e["column"])]["value"]
    value = relative_gain(shown, ref) if e["ref_row"] else shown
    same = same_number(float("nan") if value is None else value, float("nan") if e["value"] is None else e["value"])
    verdict = "matches" if same else "DOES NOT MATCH"
    lines.append(f"macro value {e['value']} against the table: {value} -> {verdict}")
    return "\n".join(lines), ok and same


def _check_tex(tex: Path, e: dict, lines: list[str]) -> bool:
    if not tex.is_file():
        lines.append(f"  {tex} is missing")
        return False
    m = re.search(r"^\\newcommand\{\\" + e["name"] + r"\}\{(.*)\}  % ", tex.read_text(), re.M)
    if m is None or m.group(1) != e["text"]:
        lines.append(f"  TEX CHANGED: {tex} defines \\{e['name']} as {m and m.group(1)!r}, "
                     f"{tex.with_suffix('.json').name} as {e['text']!r}")
        return False
    return True
