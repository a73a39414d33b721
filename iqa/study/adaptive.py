"""An adaptive study's looks: which experiments train more splits, and which splits each one ended with.

`splits: {adaptive: {k0, step, k_max, margin}}` declares splits 0 .. k_max - 1 of every experiment, with the
run ids a fixed study of those splits has. The workflow trains the first k0 and then takes a look (a
Snakemake checkpoint writing results/looks/<j>.json): every comparison the tables will make
(`power.comparisons`) that is still unresolved gets its repeated 95% interval over the first j splits
(`iqa.stats.sequential`), and is resolved when the interval excludes 0 (a finding) or lies inside +-margin
(negligible). An experiment trains the next splits, up to the next look, while one of its comparisons is
unresolved. Comparisons without a pair of run sets (cross-dataset rows, Shapley rows) never resolve, and an
experiment in no comparison has nothing to decide it: both train all k_max splits, as `iqa plan --adaptive`
projects.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from iqa.core import layout
from iqa.stats.sequential import nominal_level, repeated_interval
from iqa.study.power import comparisons
from iqa.study.spec import Study, adaptive_splits


def walk(study_cfg: dict, study: Study, read, before: int | None = None) -> tuple[dict[str, int], list[int]]:
    """(experiment -> splits it trains, the looks taken), following the looks in order: every experiment
    starts with k0; a look asks for more for some, which then train to the next look. `read(j)` returns look j's
    record (the workflow reads a checkpoint's output, aggregation the file) or None where it is not there
    yet; `before`: only the looks before that one."""
    schedule, _ = adaptive_splits(study_cfg)
    splits = dict.fromkeys(study.cells, schedule.k0)
    taken = []
    for j in schedule.looks:
        if j not in splits.values() or (before is not None and j >= before):
            break  # no experiment is at this look
        taken.append(j)
        record = read(j)
        if record is None:
            break
        for e in record["more"]:
            splits[e] = record["next"]
    return splits, taken


def take_look(study_cfg: dict, study: Study, j: int, srcc: dict[str, float], previous: dict | None) -> dict:
    """Look j's record: every comparison's status (those resolved at an earlier look keep it, with the
    interval they stopped with), the experiments that train on to the next look, and the design."""
    schedule, margin = adaptive_splits(study_cfg)
    level = nominal_level(schedule)
    earlier = {(c["family"], c["name"]): c for c in (previous or {}).get("comparisons", [])
               if c["status"] in ("finding", "negligible")}
    rows, go_on, compared = [], set(), set()
    for c in comparisons(study_cfg, study):
        sides = [tuple(s) for s in (c["runs"], c["ref_runs"]) if s] or [tuple(s) for s in c.get("cells", [])]
        if not sides:  # a cross-dataset row: its experiments' own run sets
            sides = [tuple(study.run_ids(e)) for e in (c["experiment"], c["reference"])]
        compared.update(sides)
        key = (c["family"], c["name"])
        if key in earlier:
            rows.append(earlier[key])
            continue
        row = {"family": c["family"], "name": c["name"], "experiment": c["experiment"],
               "reference": c["reference"], "splits": j}
        if c["runs"] is None:
            row["status"] = "no paired test: trains to k_max"
        else:
            row["runs"], row["ref_runs"] = c["runs"][:j], c["ref_runs"][:j]  # what it read, for an audit
            d = [srcc[a] - srcc[b] for a, b in zip(row["runs"], row["ref_runs"])]
            row["mean"], row["low"], row["high"] = repeated_interval(d, level)
            row["status"] = ("finding" if row["low"] > 0 or row["high"] < 0 else
                             "negligible" if -margin < row["low"] and row["high"] < margin else "unresolved")
        if row["status"] not in ("finding", "negligible"):
            go_on.update(sides)
        rows.append(row)
    later = [k for k in schedule.looks if k > j]
    more = [e for e in study.cells if later and (tuple(study.run_ids(e)) in go_on
                                                  or tuple(study.run_ids(e)) not in compared)]
    return {"look": j, "next": later[0] if later else None, "more": more,
            "design": {"k0": schedule.k0, "step": schedule.step, "k_max": schedule.k_max,
                       "looks": list(schedule.looks), "margin": margin, "level": level},
            "comparisons": rows}


def read_looks(results: str | Path):
    """A `read` for `walk` from the look files on disk (None where a look has not been written)."""
    def read(j: int) -> dict | None:
        path = layout.look_file(results, j)
        return json.loads(path.read_text()) if path.is_file() else None
    return read


def as_trained(study_cfg: dict, study: Study, results: str | Path) -> Study:
    """The study with each experiment's cells cut to the splits its looks gave it (an adaptive study), so
    that tables read the splits each ended with and list no untrained split as missing; a fixed study as it is."""
    if adaptive_splits(study_cfg) is None:
        return study
    return cut(study, walk(study_cfg, study, read_looks(results))[0])


def first_look(study_cfg: dict, study: Study) -> Study:
    """What an adaptive study trains before any look, every experiment's first k0 splits (what packs may
    group: a pack of later splits would train splits no look asked for); a fixed study as it is."""
    adaptive = adaptive_splits(study_cfg)
    return cut(study, dict.fromkeys(study.cells, adaptive[0].k0)) if adaptive else study


def cut(study: Study, splits: dict[str, int]) -> Study:
    """The study with experiment e's cells cut to its first splits[e] splits, and only the runs they use."""
    cells = {e: {k: rid for k, rid in by_split.items() if k < splits[e]} for e, by_split in study.cells.items()}
    kept = {rid for by_split in cells.values() for rid in by_split.values()}
    return replace(study, cells=cells, runs={rid: cfg for rid, cfg in study.runs.items() if rid in kept})
