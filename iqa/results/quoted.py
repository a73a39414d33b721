"""Numbers for the prose: a LaTeX macro for every number the paper quotes, each traced to its table cell.

`write_numbers` (called at the end of `aggregate.aggregate`) writes results/numbers.tex, one
`\\newcommand` per number with a `%` comment naming its table, row and column, and
results/numbers.json with the same numbers ({name: {value, text, table, row, column, ...}}).
`iqa.results.audit.audit_macro` traces a macro back to its cell and audits that cell.

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

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from iqa.core import layout
from iqa.core.errors import DataError
from iqa.core.vocab import (INTERVAL_STATS, REPEATED_INTERVAL_STATS, SUMMARY_STATS, TABLE_METRICS, CellKey, Metric,
                             Stat, TableBuild)
from iqa.results.numberformat import MISSING, is_missing, number_text

SKIPPED_BUILDERS = (TableBuild.HYPERPARAMETERS, TableBuild.TRAINING_LOG)  # settings and per-epoch logs
GAIN_BUILDERS = (TableBuild.COMPARISON, TableBuild.FORWARD_PATH)
GAIN_COLUMNS = tuple(f"{m}_{Stat.MEDIAN}" for m in TABLE_METRICS)
# the columns of `tables.Builder.summary` and `tables.cost_columns`: facts of one experiment
EXPERIMENT_COLUMNS = ("splits", *(f"{m}_{stat}" for m in TABLE_METRICS for stat in SUMMARY_STATS),
                      f"val_{Metric.SRCC}_{Stat.MEDIAN}", *(f"quoted_{m}" for m in TABLE_METRICS), "params_m",
                      "gflops", "train_patches_per_s")
WORDS = {**{m.value: m.upper() for m in Metric}, "ci": "CI", "p": "P", "x100": "Points", "gflops": "GFLOPs"}
DIGITS = ("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine")
SIGNED = (*INTERVAL_STATS, *REPEATED_INTERVAL_STATS, Stat.SHAPLEY_DELTA, Stat.SHAPLEY_CI_LOW, Stat.SHAPLEY_CI_HIGH,
          Stat.GAIN)
P_VALUES = (Stat.P, Stat.HOLM, Stat.SHAPLEY_P)
FOUR_DECIMALS = (Stat.MEDIAN, Stat.MEAN, Stat.STD, Stat.QUOTED, Stat.SHAPLEY_SHARE)


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
    if is_missing(value):
        return MISSING
    if stat == Stat.COUNT:
        return str(int(value))
    if stat in P_VALUES:
        if value != 0 and abs(value) < 1e-3:
            mantissa, exponent = f"{value:.2e}".split("e")
            return f"\\ensuremath{{{mantissa}\\times10^{{{int(exponent)}}}}}"
        return f"{value:#.3g}"
    if stat in SIGNED:
        text = f"{abs(value):.{2 if stat == Stat.GAIN else 4}f}"
        return ("\\ensuremath{-}" if value < 0 else "+") + text
    return number_text(value, stat in FOUR_DECIMALS and (metric in tuple(Metric) or stat == Stat.SHAPLEY_SHARE))


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
        where = CellKey.parse(key)
        row, column = where.row, where.column
        value = c["value"].item() if hasattr(c["value"], "item") else c["value"]
        if isinstance(value, (bool, str)) or value is None or c["stat"] in (Stat.LABEL, Stat.CONFIG, Stat.HISTORY):
            continue
        if column in EXPERIMENT_COLUMNS:
            experiment = f"{spec.arg}={row}" if spec.build == TableBuild.SWEEP else row
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
            out.append(Number(name, value, format_number(Stat.GAIN, value), table.name, row, column, Stat.GAIN,
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
            elif not (n.column in EXPERIMENT_COLUMNS and n.text == old.text and same_number(n.value, old.value)):
                raise DataError(f"numbers: macro \\{n.name} would name two numbers: table {old.table} "
                                f"row {old.row!r} column {old.column!r} ({old.text}) and table {n.table} "
                                f"row {n.row!r} column {n.column!r} ({n.text}); rename one of the rows "
                                f"(see iqa/results/quoted.py)")
    return numbers


def same_number(a, b) -> bool:
    """One number shown twice (a mean over runs and the same figure measured once agree to rounding)."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9) or (math.isnan(a) and math.isnan(b))
    return a == b


def source_comment(n: Number) -> str:
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
    lines += [f"\\newcommand{{\\{n.name}}}{{{n.text}}}  % {source_comment(n)}" for n in numbers.values()]
    layout.numbers_file(results, layout.NUMBERS_TEX).write_text("\n".join(lines) + "\n")
    as_json = {name: {**asdict(n), "value": None if is_missing(n.value) else n.value}
               for name, n in numbers.items()}
    layout.numbers_file(results, layout.NUMBERS_JSON).write_text(json.dumps(as_json, indent=2))
    return numbers

