"""What a study's intervals claim (`stats.claim`), said in every table, and the population interval's
extra variance read from the runs' predictions.

- `dataset` (default): the expected difference over random resplits of THIS dataset's images and over
  training seeds. The paired t over splits (`stats.paired_delta`).
- `population`: the expected difference on a new pool of the same size from the same image
  population. The paired t's variance gains the variance of the pool's own mean difference, estimated
  from each test image's influence on the SRCC difference (`stats.pool_variance`), read from the runs'
  predictions.csv.

docs/statistics.md gives the method, its justification and its simulated calibration.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from iqa.core import layout
from iqa.core.errors import ConfigError, DataError
from iqa.stats.cells import factorial_row, pool_variance, spearman_influence
from iqa.training.record import read_metrics

CLAIMS = ("dataset", "population")
WHAT = {
    "dataset": "this dataset's images: the expected difference over random resplits of its images and "
               "over training seeds",
    "population": "new images from the same population: the expected difference on a new pool of this "
                  "dataset's size, over pools, resplits and seeds",
}
METHOD = {
    "dataset": "the paired t over the per-split differences",
    "population": "the paired t over the per-split differences with the pool's own variance added "
                  "(each test image's influence on the SRCC difference, averaged over split pairs that "
                  "test it; Welch-Satterthwaite df)",
}


def study_claim(study_cfg: dict) -> str:
    """The study's `stats.claim` (default dataset); a one-line error naming the key otherwise."""
    stats_cfg = study_cfg.get("stats") or {}
    if not isinstance(stats_cfg, dict):
        raise ConfigError(f"'stats' must be a mapping, got {stats_cfg!r}")
    unknown = set(stats_cfg) - {"claim"}
    if unknown:
        raise ConfigError(f"'stats.{sorted(unknown)[0]}' is not a key of stats (known: claim)")
    claim = stats_cfg.get("claim", "dataset")
    if claim not in CLAIMS:
        raise ConfigError(f"'stats.claim' must be one of {list(CLAIMS)}, got {claim!r}")
    return claim


def delta_note(claim: str) -> str:
    """The note under every table with paired deltas: estimand, what was resampled, over how many pairs."""
    return (f"Claim (stats.claim: {claim}): {WHAT[claim]}. Deltas: test-SRCC differences paired by split "
            f"(same split, same seed) over the `pairs` splits both rows finished; 95% CI and p from "
            f"{METHOD[claim]}. Resampled: the random 80/20 split of the images and the training seed"
            + (", and, for the pool term, the test images" if claim == "population" else "")
            + ". Calibrated by simulation at 3, 5 and 10 splits: see docs/statistics.md.")


def summary_note(claim: str) -> str:
    """The note under tables without paired deltas."""
    return (f"Claim (stats.claim: {claim}): medians and spreads describe this study's splits of this "
            f"dataset; no interval in this table. The study's intervals are about {WHAT[claim]}.")


# --- the pool term, from predictions.csv ----------------------------------------------------------


def _predictions(results: Path, rid: str, cache: dict) -> pd.DataFrame:
    if rid not in cache:
        cache[rid] = pd.read_csv(layout.record_dir(results, rid) / layout.PREDICTIONS, dtype={"image": str})
    return cache[rid]


def pool_size(results: Path, rid: str) -> int:
    """Images the study's test sets are drawn from: the whole dataset for random splits, the test set
    for the official split, the whole external dataset for a cross-dataset score."""
    m = read_metrics(layout.record_dir(results, rid) / layout.METRICS)
    if "model_run_id" in m:
        return int(m["n_images"])
    p = m["provenance"]
    if "n_test" not in p:
        raise DataError(f"{layout.record_dir(results, rid)}/{layout.METRICS} records no part sizes (n_train, n_val, "
                        f"n_test): the population claim needs the pool's size")
    if m["config"]["data"]["split"] == "official":
        return int(p["n_test"])
    return int(p["n_train"] + p["n_val"] + p["n_test"])


def split_influence(results: Path, weights: dict[str, float], cache: dict) -> pd.Series:
    """Per test image of one split, the influence on sum_r weight_r x SRCC(run r) (runs of the same split,
    same test images): a paired difference is {a: 1, b: -1}."""
    frames = {rid: _predictions(results, rid, cache) for rid in weights}
    first = next(iter(frames.values()))
    for rid, f in frames.items():
        if list(f["image"]) != list(first["image"]):
            raise DataError(f"{layout.record_dir(results, rid)}/{layout.PREDICTIONS} tests other images than "
                            f"{layout.record_dir(results, next(iter(frames)))}: not the same split")
    pred = np.stack([f["pred"].to_numpy(float) for f in frames.values()])
    infl = spearman_influence(pred, first["mos"].to_numpy(float))
    return pd.Series(np.tensordot(list(weights.values()), infl, 1), index=first["image"])


def pool_term(results: Path, per_split: list[pd.Series], size: int) -> float:
    """`stats.pool_variance` of per-split influences aligned on image names."""
    table = pd.DataFrame({k: s for k, s in enumerate(per_split)}).T  # splits x images, NaN where not tested
    return float(pool_variance(table.to_numpy(float), size))


def paired_pool_variance(results: Path, runs: list[str], ref_runs: list[str], cache: dict) -> float:
    """The pool term of the paired delta runs - ref_runs (paired by position)."""
    if not runs:
        return float("nan")
    per_split = [split_influence(results, {a: 1.0, b: -1.0}, cache) for a, b in zip(runs, ref_runs)]
    return pool_term(results, per_split, pool_size(results, runs[0]))


def shapley_pool_variance(results: Path, cells: dict[frozenset, list[str]], factors: list[str], row: str,
                          cache: dict) -> float:
    """The pool term of a Shapley row (a factor, the total or the interaction): per split it is a fixed
    combination of the cells' SRCCs, so its influence is the same combination of theirs."""
    top = frozenset(factors)
    per_split = []
    for k in range(len(cells[top])):
        infl = {on: split_influence(results, {ids[k]: 1.0}, cache) for on, ids in cells.items()}
        index = infl[top].index
        arrays = {on: s.reindex(index).to_numpy(float) for on, s in infl.items()}
        per_split.append(pd.Series(factorial_row(arrays, factors, row), index=index))
    return pool_term(results, per_split, pool_size(results, cells[top][0]))
