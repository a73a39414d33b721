"""`iqa plan --power`: before training, can the study answer its questions?

For every comparison the tables will report (table by table, the Holm families of `aggregate.add_holm`:
distinct pairs of run sets), this prints the minimum detectable SRCC difference at 80% power after Holm,
and the splits needed to detect a given difference (by default the step the seed study reported
between the two rows, from `reported:`).

Power of the two-sided paired t over J splits at level alpha / m, m the family size: Holm's first step,
the strictest, so the figures are conservative for every later step. The difference d / se is
noncentral-t distributed with J - 1 degrees of freedom, se^2 = sd^2 / J (+ the pool variance under the
population claim, which more splits do not shrink). `sd` is the standard deviation of the per-split
SRCC difference: from pilot runs (`--from-results`) or stated (`--sd`).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from iqa.stats.claim import study_claim
from iqa.core import layout
from iqa.core.errors import ConfigError
from iqa.core.vocab import Metric, TableBuild
from iqa.study.spec import Study, expand, sweep_name

ALPHA = 0.05
POWER = 0.8
MAX_SPLITS = 1000


def _table_pairs(spec, study_cfg: dict, study: Study) -> list[tuple[str, str]]:
    """(experiment, reference) of every paired delta a table's builder (`iqa.results.tables`) prints."""
    tables = study_cfg.get("tables") or {}
    if spec.build in (TableBuild.COMPARISON, TableBuild.PRECISION):  # precision: a comparison plus TOST
        rows = tables[spec.name]
        return [(e, rows[0]) for e in rows[1:]]
    if spec.build == TableBuild.FORWARD_PATH:
        rows = tables[spec.name]
        return [(rows[i], rows[i - 1]) for i in range(1, len(rows))] + [(rows[i], rows[0]) for i in range(2, len(rows))]
    if spec.build == TableBuild.CONTROLS:
        return [(c["run"], c["reference"]) for c in tables["controls"].values()]
    if spec.build == TableBuild.SELECTION_GAP:
        return [(test, val) for val, test in tables["selection"].items()]
    if spec.build == TableBuild.SWEEP:
        sweep = study_cfg["sweeps"][spec.arg]
        return [(sweep_name(spec.arg, v), sweep["of"]) for v in sweep["values"]] if sweep.get("of") else []
    if spec.build == TableBuild.CONTRIBUTIONS:
        fac = study.factorial
        total = [(fac["cells"][frozenset(fac["factors"])], fac["cells"][frozenset()])] if fac else []
        return total + [tuple(pair) for pair in (tables.get("contributions") or {}).values()]
    return []


def comparisons(study_cfg: dict, study: Study) -> list[dict]:
    """Every distinct test the tables report, table by table (each table is one Holm family, as
    `aggregate.add_holm` counts): {family (the table), name, runs, ref_runs, experiment, reference}. Two
    comparisons of the same two run sets in one table (A-B and B-A, or an experiment that shares its runs
    with another) are one test; a comparison of a run set with itself is no test."""
    from iqa.study.catalogue import tables as table_specs

    out = []
    for spec in table_specs(study_cfg):
        seen = set()
        for e, ref in _table_pairs(spec, study_cfg, study):
            runs, ref_runs = tuple(study.run_ids(e)), tuple(study.run_ids(ref))
            key = frozenset([runs, ref_runs])
            if runs == ref_runs or key in seen:
                continue
            seen.add(key)
            out.append({"family": spec.name, "name": f"{e} vs {ref}", "experiment": e, "reference": ref,
                        "runs": list(runs), "ref_runs": list(ref_runs)})
        if spec.build == TableBuild.CROSS_DATASET:
            first, *rest = study_cfg["cross_dataset"]["experiments"]
            out += [{"family": spec.name, "name": f"{e} vs {first} on {dataset}", "experiment": e,
                     "reference": first, "runs": None, "ref_runs": None}
                    for dataset in study_cfg["cross_dataset"]["datasets"] for e in rest]
        if spec.build == TableBuild.CONTRIBUTIONS and study.factorial:
            fac = study.factorial
            rows = [f"Shapley {f}" for f in fac["factors"]]
            rows += [f"interaction {' x '.join(fac['factors'])}"] if len(fac["factors"]) == 2 else []
            cells = [study.run_ids(e) for e in fac["cells"].values()]
            out += [{"family": spec.name, "name": r, "experiment": None, "reference": None, "runs": None,
                     "ref_runs": None, "cells": cells} for r in rows]
    return out


def reported_step(test: dict, reported: dict) -> float:
    """The seed's reported SRCC step between the comparison's two rows, or NaN when it reported no pair."""
    e, ref = test["experiment"], test["reference"]
    if test["runs"] is None or not all(Metric.SRCC in (reported.get(x) or {}) for x in (e, ref)):
        return math.nan
    return reported[e][Metric.SRCC] - reported[ref][Metric.SRCC]


def power(delta: float, sd: float, splits: int, m: int, pool_sd: float = 0.0, alpha: float = ALPHA) -> float:
    """Power of the two-sided paired t over `splits` splits at level alpha / m for a true difference `delta`."""
    if splits < 2:
        return 0.0
    se = math.sqrt(sd ** 2 / splits + pool_sd ** 2)
    crit = stats.t.ppf(1 - alpha / (2 * m), splits - 1)
    nc = abs(delta) / se
    # rejecting on the wrong side: negligible where scipy's far tail gives NaN
    wrong_side = np.nan_to_num(stats.nct.cdf(-crit, splits - 1, nc), nan=0.0)
    return float(stats.nct.sf(crit, splits - 1, nc) + wrong_side)


def detectable(sd: float, splits: int, m: int, pool_sd: float = 0.0, target: float = POWER) -> float:
    """The smallest difference detected with probability `target` (at level alpha / m)."""
    if splits < 2:
        return math.inf
    high = math.sqrt(sd ** 2 / splits + pool_sd ** 2)
    while power(high, sd, splits, m, pool_sd) < target:
        high *= 2
    return float(optimize.brentq(lambda d: power(d, sd, splits, m, pool_sd) - target, 0.0, high))


def splits_needed(delta: float, sd: float, m: int, pool_sd: float = 0.0, target: float = POWER) -> int | None:
    """The fewest splits that detect `delta` with probability `target`; None when no number of splits does
    (the pool's own variance, under the population claim, does not shrink with splits)."""
    if delta == 0 or not math.isfinite(delta):
        return None
    if power(delta, sd, MAX_SPLITS, m, pool_sd) < target:
        return None
    low, high = 1, MAX_SPLITS  # power grows with the splits: bisect for the first that reaches the target
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if power(delta, sd, mid, m, pool_sd) >= target else (mid, high)
    return high


def pilot_sd(results: Path, study: Study, comparison: dict) -> tuple[float, float] | None:
    """(sd of the per-split SRCC difference, pool sd) from finished pilot runs of both sides, or None when
    fewer than 2 splits have both."""
    from iqa.stats.claim import paired_pool_variance
    from iqa.training.record import read_metrics

    def srcc(rid):
        path = layout.run_file(results, rid)
        return read_metrics(path)["test"][Metric.SRCC] if path.is_file() else None

    if comparison["runs"] is None:
        return None
    both = [(a, b) for a, b in zip(comparison["runs"], comparison["ref_runs"])
            if srcc(a) is not None and srcc(b) is not None]
    if len(both) < 2:
        return None
    d = np.array([srcc(a) - srcc(b) for a, b in both])
    pool = paired_pool_variance(results, [a for a, _ in both], [b for _, b in both], {})
    return float(d.std(ddof=1)), math.sqrt(pool) if math.isfinite(pool) else 0.0


def power_table(study_cfg: dict, *, sd: float | None = None, pool_sd: float | None = None,
                from_results: str | Path | None = None, delta: float | None = None) -> pd.DataFrame:
    """One row per comparison: its family and family size, the sd used and where it came from, the
    detectable difference at the study's splits, the difference asked about and the splits it needs."""
    if sd is None and from_results is None:
        raise ConfigError("give the per-split SD of an SRCC difference: --sd SD (stated) or --from-results DIR "
                          "(pilot runs)")
    study = expand(study_cfg)
    claim = study_claim(study_cfg)
    tests = comparisons(study_cfg, study)
    sizes = pd.Series([t["family"] for t in tests]).value_counts().to_dict()  # each table is a family
    reported = study_cfg.get("reported") or {}
    rows = []
    for t in tests:
        pilot = pilot_sd(Path(from_results), study, t) if from_results else None
        if pilot is not None:
            s, p, source = pilot[0], pilot[1] if claim == "population" else 0.0, "pilot runs"
        elif sd is not None:
            s, p, source = sd, (pool_sd or 0.0) if claim == "population" else 0.0, "stated"
        else:
            s, p, source = math.nan, 0.0, "no pilot pairs"
        if claim == "population" and source == "stated" and pool_sd is None:
            raise ConfigError("stats.claim is population: state the pool's sd too (--pool-sd) or use pilot runs")
        asked = delta if delta is not None else reported_step(t, reported)
        asked = None if math.isnan(asked) else asked
        m = sizes[t["family"]]
        j = len(study.splits)
        rows.append({"family": t["family"], "m": m, "comparison": t["name"], "sd": s, "sd_from": source,
                     "pool_sd": p, f"detectable_at_{j}": detectable(s, j, m, p) if math.isfinite(s) else math.nan,
                     "delta": asked if asked is not None else math.nan,
                     "splits_needed": (splits_needed(asked, s, m, p) if asked is not None and math.isfinite(s)
                                       else None)})
    return pd.DataFrame(rows)


def describe(study_cfg: dict, table: pd.DataFrame, config_name: str) -> str:
    study = expand(study_cfg)
    claim = study_claim(study_cfg)
    families = table.groupby("family", sort=False)["m"].first()
    lines = [f"power for {config_name}: {len(study.splits)} splits, claim {claim}; two-sided paired t at "
             f"{POWER:.0%} power, level {ALPHA:g} / m (Holm's first step: conservative for the later ones); "
             + ", ".join(f"{f}: m = {m}" for f, m in families.items())]
    shown = table.copy()
    shown["splits_needed"] = [
        str(int(v)) if v is not None and not pd.isna(v) else "--" if pd.isna(d) else "never" if p > 0
        else f">{MAX_SPLITS}" for v, d, p in zip(table["splits_needed"], table["delta"], table["pool_sd"])]
    lines.append(shown.to_string(index=False, float_format=lambda v: f"{v:+.4f}" if abs(v) < 1 else f"{v:.4g}"))
    lines.append("delta: the difference asked about (--delta, else the seed's reported step between the two "
                 "rows, from `reported:`); never: no number of splits reaches the power"
                 + (" (the pool's own variance does not shrink with splits)" if claim == "population" else ""))
    return "\n".join(lines)


def power_plan(config_paths, **kwargs) -> tuple[str, pd.DataFrame]:
    """The printed power table of a study (one YAML file, or several merged in order)."""
    from iqa.study.spec import load_study, rehearse

    study_cfg = rehearse(load_study(config_paths))
    table = power_table(study_cfg, **kwargs)
    name = config_paths if isinstance(config_paths, str) else " ".join(map(str, config_paths))
    return describe(study_cfg, table, name), table


def adaptive_projection(study_cfg: dict, minutes_per_run: dict[str, float], sd: float, k0: int, step: int,
                        margin: float = 0.0, delta: float | None = None) -> str:
    """Expected compute of the adaptive design (`iqa.stats.sequential`) against the fixed one: every distinct run
    set trains K0 splits, then more only while one of its comparisons is unresolved, up to the study's
    splits. A comparison's difference is `delta`, else the seed's reported step (none reported: it runs to
    the end)."""
    from iqa.stats.sequential import Schedule, expected_splits, nominal_level

    study = expand(study_cfg)
    schedule = Schedule(k0, step, len(study.splits))
    reported = study_cfg.get("reported") or {}
    tests = [{**t, "delta": reported_step(t, reported) if delta is None or t["runs"] is None else delta}
             for t in comparisons(study_cfg, study)]
    expected = expected_splits(tests, sd, schedule, margin)
    owner: dict[tuple, str] = {}
    for e in study.experiments:
        owner.setdefault(tuple(study.run_ids(e)), e)
    fixed = sum(minutes_per_run[e] * schedule.k_max for e in owner.values()) / 60
    adaptive = sum(minutes_per_run[e] * expected.get(s, schedule.k_max) for s, e in owner.items()) / 60
    early = sorted((expected[s], e) for s, e in owner.items() if expected.get(s, schedule.k_max) < schedule.k_max)
    return "\n".join([
        f"adaptive splits (looks at {', '.join(map(str, schedule.looks))} splits; repeated 95% intervals at "
        f"{nominal_level(schedule):.4f} per look; sd {sd:g}"
        + (f"; every difference {delta:+g}" if delta is not None else "") + "; stop when the interval excludes 0"
        + (f" or lies inside +-{margin:g}" if margin else "") + "):",
        f"  expected {adaptive:,.1f} h against {fixed:,.1f} h fixed at {schedule.k_max} splits "
        f"({100 * adaptive / fixed:.0f}%)",
        "  stop early on average: " + (", ".join(f"{e} {n:.1f}" for n, e in early) or "none"),
    ])
