"""Measured calibration of `iqa.stats.paired_delta` on simulated studies.

A simulated study has a pool of images with latent quality and a MOS; each split draws a random
test set (the rest is the training set, so splits overlap) and trains two "models" once. A model's
prediction is the latent quality plus a per-image error with a model-specific part (fixed per image,
partly shared by the two models) and a training-run part drawn afresh per split, whose size depends
on a per-run factor and on how hard the split's training images are. The per-split statistic is each
model's SRCC on the split's test images. `python -m iqa.calibration` prints the table in
docs/statistics.md.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

from .stats import CONFIDENCE, paired_delta


@dataclass(frozen=True)
class Design:
    """Simulation settings. `effect` is how much smaller the second model's own per-image error is than
    the first's (0: the second model is the same training procedure, so the true delta is 0)."""
    n_pool: int = 500
    test_fraction: float = 0.2
    mos_noise: float = 0.3  # subjective noise in the MOS, fixed per image
    model_error: float = 0.3  # sd of the first model's own per-image error
    shared_error: float = 0.7  # correlation of the two models' own per-image errors
    effect: float = 0.0
    run_error: float = 0.1  # sd of the per-run per-image error
    run_spread: float = 0.3  # log-sd of a run's error size: some runs train better than others
    train_difficulty: float = 3.0  # log error size per unit of mean difficulty of the training images
    fresh_pool: bool = False  # False: all studies share one pool (this dataset); True: a new pool per study

    @property
    def n_test(self) -> int:
        return round(self.test_fraction * self.n_pool)

    @property
    def n_train(self) -> int:
        return self.n_pool - self.n_test


def _draw_pools(d: Design, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """`n` pools, each array shaped (n, 1, n_pool) so it broadcasts over splits."""
    shape = (n, 1, d.n_pool)
    quality, mos_noise, difficulty, own, other = (rng.standard_normal(shape) for _ in range(5))
    second = d.shared_error * own + np.sqrt(1 - d.shared_error ** 2) * other if d.effect else own
    return {"quality": quality, "mos": quality + d.mos_noise * mos_noise, "difficulty": difficulty,
            "error_a": d.model_error * own, "error_b": (d.model_error - d.effect) * second}


def centred_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks along the last axis (ties averaged), minus their mean."""
    r = stats.rankdata(x, axis=-1)
    return r - r.mean(-1, keepdims=True)


def srcc_rows(pred: np.ndarray, mos_ranks: np.ndarray) -> np.ndarray:
    """Spearman correlation along the last axis (Pearson correlation of the ranks) against centred MOS
    ranks from `centred_ranks`."""
    rp = centred_ranks(pred)
    return (rp * mos_ranks).sum(-1) / np.sqrt((rp ** 2).sum(-1) * (mos_ranks ** 2).sum(-1))


def simulate(d: Design, n_studies: int, n_splits: int, rng: np.random.Generator,
             pool: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-split test SRCC of the two models, each shaped (n_studies, n_splits). Every study uses `pool`
    when given, else a pool of its own."""
    pools = pool if pool is not None else _draw_pools(d, rng, n_studies)
    full = (n_studies, n_splits, d.n_pool)
    test = np.argpartition(rng.random(full, dtype=np.float32), d.n_test, axis=-1)[..., :d.n_test]

    def on_test(name: str) -> np.ndarray:
        return np.take_along_axis(np.broadcast_to(pools[name], full), test, -1)

    difficulty_test = on_test("difficulty").sum(-1, keepdims=True)
    train_difficulty = (pools["difficulty"].sum(-1, keepdims=True) - difficulty_test) / d.n_train
    quality, mos_ranks = on_test("quality"), centred_ranks(on_test("mos"))
    srcc = []
    for error in ("error_a", "error_b"):
        run_factor = rng.standard_normal((n_studies, n_splits, 1))
        log_size = d.run_spread * run_factor + d.train_difficulty * train_difficulty
        run = d.run_error * np.exp(log_size) * rng.standard_normal(test.shape)
        srcc.append(srcc_rows(quality + on_test(error) + run, mos_ranks))
    return srcc[0], srcc[1]


def study_pool(d: Design, seed: int) -> dict[str, np.ndarray] | None:
    """The fixed pool all studies of a design share, or None when each study draws its own."""
    return None if d.fresh_pool else _draw_pools(d, np.random.default_rng([seed, 0]), 1)


@lru_cache
def true_delta(d: Design, seed: int, draws: int = 20_000, chunk: int = 2_000) -> float:
    """Expected SRCC(b) - SRCC(a) over splits and runs (and pools when `fresh_pool`), from many draws on
    the pool that `study_pool(d, seed)` gives."""
    rng = np.random.default_rng([seed, 1])
    pool = study_pool(d, seed)
    parts = []
    for _ in range(draws // chunk):
        a, b = simulate(d, chunk, 1, rng, pool) if pool is None else simulate(d, 1, chunk, rng, pool)
        parts.append((b - a).mean())
    return float(np.mean(parts))


def coverage(d: Design, n_splits: int, n_studies: int, seed: int, method: str = "paired t") -> dict:
    """Share of simulated studies whose 95% CI covers the true delta, and whose p < 0.05 (NaN for the
    bootstrap, which gives no p). `method`: one of METHODS."""
    truth = true_delta(d, seed)
    a, b = simulate(d, n_studies, n_splits, np.random.default_rng([seed, 2, n_splits]), study_pool(d, seed))
    if method == "percentile bootstrap":
        low, high = percentile_bootstrap(b - a)
        covered = (low <= truth) & (truth <= high)
        return {"truth": truth, "coverage": float(np.mean(covered)), "rejected": np.nan}
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {METHODS}")
    sizes = {"n_train": d.n_train, "n_test": d.n_test} if method == "corrected resampled t" else {}
    results = [paired_delta(b[i], a[i], **sizes) for i in range(n_studies)]
    covered = [r["ci_low"] <= truth <= r["ci_high"] for r in results]
    return {"truth": truth, "coverage": float(np.mean(covered)),
            "rejected": float(np.mean([r["p"] < 1 - CONFIDENCE for r in results]))}


def percentile_bootstrap(d: np.ndarray, resamples: int = 2_000) -> tuple[np.ndarray, np.ndarray]:
    """95% percentile-bootstrap CI of the mean of each row of `d`: the interval the tables used before."""
    ci = stats.bootstrap((d,), np.mean, axis=-1, confidence_level=CONFIDENCE, n_resamples=resamples,
                         method="percentile", rng=np.random.default_rng(0)).confidence_interval
    return ci.low, ci.high


METHODS = ("paired t", "corrected resampled t", "percentile bootstrap")
EFFECT = 0.04
SCENARIOS = {
    "one pool, no effect": Design(),
    "one pool, effect": Design(effect=EFFECT),
    "new pool per study, no effect": Design(fresh_pool=True),
    "new pool per study, effect": Design(effect=EFFECT, fresh_pool=True),
    "new pool per study, effect, no run noise": Design(effect=EFFECT, fresh_pool=True, run_error=0.0),
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Measured coverage and rejection rate of the 95% CIs")
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(f"{args.studies} simulated studies per row, seed {args.seed}; "
          f"pool {Design().n_pool} images, {Design().n_train} train / {Design().n_test} test per split\n")
    print("| scenario | method | J | true delta | coverage of 95% CI | p < 0.05 |")
    print("|---|---|---|---|---|---|")
    for name, d in SCENARIOS.items():
        for method in METHODS:
            for j in (3, 5, 10):
                r = coverage(d, j, args.studies, args.seed, method)
                rejected = "-" if np.isnan(r["rejected"]) else f"{100 * r['rejected']:.1f}%"
                cover = f"{100 * r['coverage']:.1f}%"
                print(f"| {name} | {method} | {j} | {r['truth']:+.4f} | {cover} | {rejected} |", flush=True)


if __name__ == "__main__":
    main()
