"""Tables of an adaptive study (`splits: {adaptive: ...}`, iqa/study/adaptive.py): the repeated intervals.

Where looks chose how many splits an experiment trained, the plain 95% t interval of a paired difference
no longer holds its level (the splits depend on the data). The repeated interval at the design's per-look
level (`iqa.stats.sequential`) holds at every look at once, so it does: beside every paired 95% CI of
training runs, a table gets `*_rci_low` / `*_rci_high`, and a note naming the design. A fixed study's
tables are left exactly as they are.
"""
from __future__ import annotations

import numpy as np

from iqa.core import layout
from iqa.core.vocab import REPEATED_INTERVAL_STATS, CellKey, Stat
from iqa.stats.sequential import nominal_level, repeated_interval
from iqa.study.spec import adaptive_splits


def repeated_columns(all_tables, study_cfg: dict, value) -> None:
    """Add the repeated interval beside each paired CI of training runs (`value(run id, metric)` reads a
    run's test metric), and the design note; nothing in a fixed study. Cross-dataset scores and Shapley rows
    keep only their CI: their experiments always train k_max splits, so no look chose their splits."""
    adaptive = adaptive_splits(study_cfg)
    if adaptive is None:
        return
    schedule, margin = adaptive
    level = nominal_level(schedule)
    for t in all_tables:
        added = False
        for key, c in list(t.provenance.items()):
            if c["stat"] != Stat.CI_LOW or not c.get("ref_runs") or any("/" in r for r in c["runs"]):
                continue  # not a paired CI of training runs (a cross-dataset score's run is `scores/...`)
            where = CellKey.parse(key)
            for stat, bound in zip(REPEATED_INTERVAL_STATS, rci(c, level, value)):
                t.put(where.row, where.column.replace(f"_{Stat.CI_LOW}", f"_{stat}", 1), bound, c["runs"], stat,
                      c["metric"], c["ref_runs"], scale=c.get("scale", 1.0), level=level)
            added = True
        if added:
            t.note(design_note(schedule, margin, level))


def rci(c: dict, level: float, value) -> tuple[float, float]:
    """A cell's repeated interval (low, high), from the runs its provenance names (`iqa audit` recomputes it so)."""
    d = np.subtract([value(r, c["metric"]) for r in c["runs"]], [value(r, c["metric"]) for r in c["ref_runs"]])
    if len(d) < 2:
        return float("nan"), float("nan")
    _, low, high = repeated_interval(d, level)
    scale = c.get("scale", 1.0)
    return low * scale, high * scale


def design_note(schedule, margin: float, level: float) -> str:
    return (f"Adaptive splits (splits.adaptive, docs/statistics.md): every experiment trained {schedule.k0} "
            f"splits, then more at each look ({', '.join(map(str, schedule.looks))} splits) while one of its "
            f"comparisons was unresolved ({layout.look_file(layout.RESULTS, '*')}); pairs: the splits a row was "
            "compared on. "
            f"*_rci_low/high: the repeated 95% interval, a paired t interval at {level:.4f} per look (Pocock-type "
            f"boundary), which holds at every look at once: read it, not the fixed-design CI, where looks chose "
            f"the splits. A comparison stopped when it excluded 0"
            + (f" or lay inside +-{margin:g}." if margin else "."))
