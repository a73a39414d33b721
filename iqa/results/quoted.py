"""Numbers for the prose: a LaTeX macro for every number the paper quotes, each traced to its table cell.

`write_numbers` (called at the end of `report.aggregate`) writes results/numbers.tex, one
`\\newcommand` per number with a `%` comment naming its table, row and column, and
results/numbers.json with the same numbers ({name: {value, text, table, row, column, ...}}).
`audit_macro` traces a macro back to its cell and audits that cell (`report.audit`).

Which numbers: every numeric cell of every catalogued table except `hyperparameters` (settings) and
`training_log` (per-epoch history), plus the relative gain of each row over its table's first row in
the comparison and forward-ablation tables.

Naming rule (letters only, so every name is a valid TeX control word):
  words      `camel(text)`: letters are kept, each run of letters starts upper case (`rerun` -> `Rerun`);
             each digit is spelled (`3` -> `Three`, `10` -> `OneZero`); `.` between digits is `Point`,
             `+` is `Plus`; every other character only separates words. `C3_rerun` -> `CThreeRerun`,
             `lr=3e-05` -> `LrThreeEZeroFive`, `r2_rank0.3` -> `RTwoRankZeroPointThree`.
  columns    split at `_`, each part through `WORDS` (`srcc` -> `SRCC`, `ci` -> `CI`, `x100` -> `Points`,
             SRCC points x100) or else `camel`: `srcc_ci_low` -> `SRCCCILow`, `p_holm` -> `PHolm`.
  experiment columns (`EXPERIMENT_COLUMNS`: median/mean/std of test SRCC and PLCC, validation SRCC,
             quoted numbers, split count, cost) belong to the experiment, whatever table shows them:
             experiment + column, `\\CThreeSRCCMedian`. A sweep row `3e-05` of sweep `lr` is the
             experiment `lr=3e-05`.
  other cells (deltas, CIs, p, Holm p, pairs, Shapley rows, controls): table + row + column, where a
             column `<stat>_vs_<ref>` becomes `Vs<ref><stat>` (`vs_prev` names the previous row):
             `\\AblationCThreeVsCZeroSRCCDelta`, `\\ContributionsMultiscaleSRCCDeltaPoints`.
  gains      table + row + `Vs` + first row + column + `GainPercent`:
             `\\MainCThreeVsCZeroSRCCMedianGainPercent` = 100 (C3 - C0) / C0 of the srcc_median cells.
Two cells that would get the same name stop aggregation with an error naming both (an experiment shown
in several tables is one number and one macro).

Text: metrics 4 decimals (`0.9378`); deltas and CIs signed (`+0.0123`, `-0.0040` with a math minus);
p and Holm p 3 significant digits (`0.0123`, `0.500`, `1.23x10^-5` below 0.001); counts whole; gains
signed with 2 decimals (percent); cost columns 4 significant digits; a missing number (NaN) is `--`.
"""
from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from iqa.core import layout
from iqa.core.errors import DataError

SKIPPED_BUILDERS = ("hyperparameters", "training_log")  # settings and per-epoch logs: no prose numbers
GAIN_BUILDERS = ("comparison", "forward_path")
GAIN_COLUMNS = ("srcc_median", "plcc_median")
EXPERIMENT_COLUMNS = ("splits", "srcc_median", "srcc_mean", "srcc_std", "plcc_median", "plcc_mean",
                      "plcc_std", "val_srcc_median", "quoted_srcc", "quoted_plcc", "params_m", "gflops",
                      "train_patches_per_s")
WORDS = {"srcc": "SRCC", "plcc": "PLCC", "krcc": "KRCC", "rmse": "RMSE", "ci": "CI", "p": "P",
         "x100": "Points", "gflops": "GFLOPs"}
DIGITS = ("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine")
SIGNED = ("delta", "ci_low", "ci_high", "shapley_delta", "shapley_ci_low", "shapley_ci_high", "gain")
P_VALUES = ("p", "holm", "shapley_p")
FOUR_DECIMALS = ("median", "mean", "std", "quoted", "shapley_share")
METRICS = ("srcc", "plcc", "krcc", "rmse")


@dataclass
class Number:
    """One quoted number and the table cell(s) it comes from."""

    name: str  # macro name without the backslash
    value: float | int | None
    text: str  # what the macro expands to
    table: str
    row: str
    column: str
    stat: str
    metric: str | None = None
    ref_row: str | None = None  # gains: the first row the gain is relative to


def camel(text: str) -> str:
    """The naming rule's words (module docstring): letters kept, digits spelled, the rest separates."""
    out = []
    for m in re.finditer(r"[A-Za-z]+|\d|(?<=\d)\.(?=\d)|\+", str(text)):
        tok = m.group()
        out.append(DIGITS[int(tok)] if tok.isdigit() else "Point" if tok == "." else "Plus" if tok == "+"
                   else tok[0].upper() + tok[1:])
    return "".join(out)


def column_name(column: str, scaled: bool = True) -> str:
    """`srcc_ci_low_x100` -> `SRCCCILowPoints`; `x100` is dropped from unscaled cells (p_x100, pairs_x100)."""
    return "".join(WORDS.get(part, camel(part)) for part in column.split("_") if scaled or part != "x100")


def format_number(stat: str, value, metric: str | None = None) -> str:
    """The macro text of a value with statistic `stat` of `metric` (module docstring: Text)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "--"
    if stat == "count":
        return str(int(value))
    if stat in P_VALUES:
        if value != 0 and abs(value) < 1e-3:
            mantissa, exponent = f"{value:.2e}".split("e")
            return f"\\ensuremath{{{mantissa}\\times10^{{{int(exponent)}}}}}"
        return f"{value:#.3g}"
    if stat in SIGNED:
        text = f"{abs(value):.{2 if stat == 'gain' else 4}f}"
        return ("\\ensuremath{-}" if value < 0 else "+") + text
    if stat in FOUR_DECIMALS and (metric in METRICS or stat == "shapley_share"):
        return f"{value:.4f}"
    return f"{value:.4g}"


def _split_ref(column: str, row: str, rows: list[str]) -> tuple[str, str | None]:
    """`srcc_delta_vs_C0` -> (`srcc_delta`, `C0`); `vs_prev` names the row before `row`."""
    base, sep, ref = column.partition("_vs_")
    if not sep:
        return column, None
    return base, rows[rows.index(row) - 1] if ref == "prev" else ref


def cell_numbers(spec, table) -> list[Number]:
    """A Number for every numeric cell of one table (labels and settings left out)."""
    out = []
    rows = list(table.rows)
    for key, c in table.provenance.items():
        row, column = key.split("|", 1)
        value = c["value"].item() if hasattr(c["value"], "item") else c["value"]
        if isinstance(value, (bool, str)) or value is None or c["stat"] in ("label", "config", "history"):
            continue
        if column in EXPERIMENT_COLUMNS:
            experiment = f"{spec.arg}={row}" if spec.build == "sweep" else row
            name = camel(experiment) + column_name(column)
        else:
            base, ref = _split_ref(column, row, rows)
            name = (camel(table.name) + camel(row) + (f"Vs{camel(ref)}" if ref else "")
                    + column_name(base, scaled="scale" in c))
        text = format_number(c["stat"], value, c["metric"])
        out.append(Number(name, value, text, table.name, row, column, c["stat"], c["metric"]))
    return out


def gain_numbers(table) -> list[Number]:
    """Relative gain in percent of each row over the table's first row, for srcc_median and plcc_median."""
    rows = list(table.rows)
    out = []
    for row in rows[1:]:
        for column in GAIN_COLUMNS:
            value = relative_gain(table.rows[row].get(column), table.rows[rows[0]].get(column))
            name = f"{camel(table.name)}{camel(row)}Vs{camel(rows[0])}{column_name(column)}GainPercent"
            out.append(Number(name, value, format_number("gain", value), table.name, row, column, "gain",
                              column.split("_")[0], rows[0]))
    return out


def relative_gain(value, ref) -> float:
    if value is None or ref is None or not math.isfinite(value) or not math.isfinite(ref) or ref == 0:
        return math.nan
    return 100.0 * (value - ref) / ref


def collect(specs, built: dict) -> dict[str, Number]:
    """Every quoted number of the built tables by macro name; two different cells under one name raise."""
    numbers: dict[str, Number] = {}
    for spec in specs:
        if spec.build in SKIPPED_BUILDERS:
            continue
        table = built[spec.name]
        found = cell_numbers(spec, table) + (gain_numbers(table) if spec.build in GAIN_BUILDERS else [])
        for n in found:
            old = numbers.get(n.name)
            if old is None:
                numbers[n.name] = n
            elif not (n.column in EXPERIMENT_COLUMNS and n.text == old.text and _same(n.value, old.value)):
                raise DataError(f"numbers: macro \\{n.name} would name two numbers: table {old.table} "
                                f"row {old.row!r} column {old.column!r} ({old.text}) and table {n.table} "
                                f"row {n.row!r} column {n.column!r} ({n.text}); rename one of the rows "
                                f"(see iqa/results/quoted.py)")
    return numbers


def _same(a, b) -> bool:
    """One number shown twice (a mean over runs and the same figure measured once agree to rounding)."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9) or (math.isnan(a) and math.isnan(b))
    return a == b


def _comment(n: Number) -> str:
    where = f"table {n.table}, row {n.row}, column {n.column}"
    return f"{where}, relative to row {n.ref_row}" if n.ref_row else where


def write_numbers(specs, built: dict, results: str | Path) -> dict[str, Number]:
    """Write results/numbers.tex and results/numbers.json for the built tables; return the numbers."""
    results = Path(results)
    numbers = collect(specs, built)
    lines = ["% Numbers for the prose, written by `iqa aggregate` from results/tables (iqa/results/quoted.py gives",
             "% the naming rule). Each comment names the table cell; `iqa audit results/numbers.tex \\Name`",
             "% checks it.",
             "% Use as \\Name{} before a space; a missing number reads --."]
    lines += [f"\\newcommand{{\\{n.name}}}{{{n.text}}}  % {_comment(n)}" for n in numbers.values()]
    layout.numbers_file(results, layout.NUMBERS_TEX).write_text("\n".join(lines) + "\n")
    as_json = {name: {**asdict(n), "value": None if _missing(n.value) else n.value}
               for name, n in numbers.items()}
    layout.numbers_file(results, layout.NUMBERS_JSON).write_text(json.dumps(as_json, indent=2))
    return numbers


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# --- audit ---------------------------------------------------------------------------------------


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
    the cell(s) with `report.audit`; (text, everything matches)."""
    from iqa.results.aggregate import audit

    path, e = find_macro(numbers_path, macro)
    lines = [f"\\{e['name']} = {e['text']}: {_comment(Number(**e))}"]
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
    ref = cells[f"{e['ref_row']}|{e['column']}"]["value"] if e["ref_row"] else None
    cell = cells[f"{e['row']}|{e['column']}"]["value"]
    value = relative_gain(cell, ref) if e["ref_row"] else cell
    same = _same(float("nan") if value is None else value, float("nan") if e["value"] is None else e["value"])
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
