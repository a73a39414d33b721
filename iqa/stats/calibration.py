"""Measured calibration of `iqa.stats.cells.paired_delta` on simulated studies, for both claims a table can make.

A simulated study has a pool of images (KonIQ-10k's size by default: 10,073 images, 2,015 tested per
split) with latent quality and a MOS; each split draws a random test set (the rest is the training
set, so splits overlap) and trains two "models" once. A model's prediction is the latent quality plus
a per-image error with a model-specific part (fixed per image; the two models' parts are different but
correlated, as similar networks make similar mistakes) and a training-run part drawn afresh per split,
whose size depends on a per-run factor and on how hard the split's training images are. The per-split
statistic is each model's SRCC on the split's test images.

- The dataset claim ("on this dataset's images") is checked on one fixed pool: its truth is the
  expected delta over resplits and runs of that pool.
- The population claim ("on new images from the same population") is checked with a new pool per
  study: its truth is the expected delta over pools, splits and runs.

The null is equal accuracy: B has errors of its own, as large as A's (not A's errors again).
`python -m iqa.stats.calibration` prints the table in docs/statistics.md.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy import stats

from iqa.stats.cells import CONFIDENCE, delta_influence, paired_delta, pool_variance

KONIQ_IMAGES = 10_073


@dataclass(frozen=True)
class Design:
    """Simulation settings. `effect` is how much smaller the second model's own per-image error is than
    the first's (0: equal accuracy, so the true population delta is 0 by symmetry)."""
    n_pool: int = KONIQ_IMAGES
    test_fraction: float = 0.2
    mos_noise: float = 0.12  # rater noise in the MOS: reliability 1 / (1 + 0.12^2) = 0.986, KonIQ's
    model_error: float = 0.35  # sd of the first model's own per-image error: test SRCC about 0.93
    shared_error: float = 0.7  # correlation of the two models' own per-image errors
    effect: float = 0.0
    run_error: float = 0.07  # sd of the per-run per-image error: seed-to-seed SRCC sd about 0.002
    run_spread: float = 0.3  # log-sd of a run's error size: some runs train better than others
    train_difficulty: float = 3.0  # log error size per unit of mean difficulty of the training images
    fresh_pool: bool = True  # True: a new pool per study (population claim); False: one pool (dataset claim)

    @property
    def n_test(self) -> int:
        return round(self.test_fraction * self.n_pool)

    @property
    def n_train(self) -> int:
        return self.n_pool - self.n_test

    @property
    def claim(self) -> str:
        return "population" if self.fresh_pool else "dataset"


def _draw_pools(d: Design, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """`n` pools, each array shaped (n, 1, n_pool) so it broadcasts over splits."""
    shape = (n, 1, d.n_pool)
    quality, mos_noise, difficulty, own, other = (rng.standard_normal(shape) for _ in range(5))
    second = d.shared_error * own + np.sqrt(1 - d.shared_error ** 2) * other
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


def _simulate_chunk(d: Design, n_studies: int, n_splits: int, rng: np.random.Generator,
                    pool: dict[str, np.ndarray] | None) -> tuple[np.ndarray, ...]:
    pools = pool if pool is not None else _draw_pools(d, rng, n_studies)
    full = (n_studies, n_splits, d.n_pool)
    test = np.argpartition(rng.random(full, dtype=np.float32), d.n_test, axis=-1)[..., :d.n_test]

    def on_test(name: str) -> np.ndarray:
        return np.take_along_axis(np.broadcast_to(pools[name], full), test, -1)

    difficulty_test = on_test("difficulty").sum(-1, keepdims=True)
    train_difficulty = (pools["difficulty"].sum(-1, keepdims=True) - difficulty_test) / d.n_train
    quality, mos = on_test("quality"), on_test("mos")
    mos_ranks = centred_ranks(mos)
    preds = []
    for error in ("error_a", "error_b"):
        run_factor = rng.standard_normal((n_studies, n_splits, 1))
        log_size = d.run_spread * run_factor + d.train_difficulty * train_difficulty
        preds.append(quality + on_test(error) + d.run_error * np.exp(log_size) * rng.standard_normal(test.shape))
    influence = np.full(full, np.nan)  # per split on the pool's image index, as the tables align by name
    np.put_along_axis(influence, test, delta_influence(preds[1], preds[0], mos), -1)
    return srcc_rows(preds[0], mos_ranks), srcc_rows(preds[1], mos_ranks), pool_variance(influence, d.n_pool)


def simulate(d: Design, n_studies: int, n_splits: int, rng: np.random.Generator,
             pool: dict[str, np.ndarray] | None = None, chunk_splits: int = 600) -> tuple[np.ndarray, ...]:
    """Per-split test SRCC of the two models, each shaped (n_studies, n_splits), and each study's pool
    variance of their difference (`stats.pool_variance`, shaped (n_studies,)). Every study uses `pool`
    when given, else a pool of its own. Studies are simulated a chunk at a time: memory stays bounded."""
    per = max(1, chunk_splits // n_splits)
    parts = [_simulate_chunk(d, min(per, n_studies - s), n_splits, rng, pool) for s in range(0, n_studies, per)]
    return tuple(np.concatenate(p) for p in zip(*parts))


def study_pool(d: Design, seed: int) -> dict[str, np.ndarray] | None:
    """The fixed pool all studies of a design share, or None when each study draws its own."""
    return None if d.fresh_pool else _draw_pools(d, np.random.default_rng([seed, 0]), 1)


@lru_cache
def true_delta(d: Design, seed: int, draws: int = 4_000) -> float:
    """Expected SRCC(b) - SRCC(a) over splits and runs (and pools when `fresh_pool`): 0 by symmetry for
    equal accuracy on new pools, else the mean of many draws on the pool `study_pool(d, seed)` gives."""
    if d.fresh_pool and d.effect == 0:
        return 0.0
    rng = np.random.default_rng([seed, 1])
    pool = study_pool(d, seed)
    a, b, _ = simulate(d, draws, 1, rng) if pool is None else simulate(d, 1, draws, rng, pool)
    return float((b - a).mean())


@lru_cache(maxsize=8)
def simulated_studies(d: Design, n_splits: int, n_studies: int, seed: int) -> tuple[np.ndarray, ...]:
    """`simulate` with a seed of its own per number of splits; every method is checked on the same studies."""
    return simulate(d, n_studies, n_splits, np.random.default_rng([seed, 2, n_splits]), study_pool(d, seed))


METHODS = ("paired t", "population t", "corrected resampled t", "percentile bootstrap")


def coverage(d: Design, n_splits: int, n_studies: int, seed: int, method: str = "paired t") -> dict:
    """Share of simulated studies whose 95% CI covers the true delta of the design's claim, and whose
    p < 0.05 (NaN for the bootstrap, which gives no p). `method`: one of METHODS."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {METHODS}")
    truth = true_delta(d, seed)
    a, b, pool_var = simulated_studies(d, n_splits, n_studies, seed)
    if method == "percentile bootstrap":
        low, high = percentile_bootstrap(b - a)
        return {"truth": truth, "coverage": float(np.mean((low <= truth) & (truth <= high))), "rejected": np.nan}
    options = [{}] * n_studies
    if method == "corrected resampled t":
        options = [{"n_train": d.n_train, "n_test": d.n_test}] * n_studies
    elif method == "population t":
        options = [{"pool_variance": float(v)} for v in pool_var]
    results = [paired_delta(b[i], a[i], **options[i]) for i in range(n_studies)]
    covered = [r["ci_low"] <= truth <= r["ci_high"] for r in results]
    return {"truth": truth, "coverage": float(np.mean(covered)),
            "rejected": float(np.mean([r["p"] < 1 - CONFIDENCE for r in results])),
            "ci_width": float(np.mean([r["ci_high"] - r["ci_low"] for r in results]))}


def percentile_bootstrap(d: np.ndarray, resamples: int = 2_000) -> tuple[np.ndarray, np.ndarray]:
    """95% percentile-bootstrap CI of the mean of each row of `d`: the interval the tables used before."""
    ci = stats.bootstrap((d,), np.mean, axis=-1, confidence_level=CONFIDENCE, n_resamples=resamples,
                         method="percentile", rng=np.random.default_rng(0)).confidence_interval
    return ci.low, ci.high


EFFECT = 0.01  # the second model's own error 0.34 instead of 0.35: about +0.003 SRCC
KONIQ = Design()
DEMO = Design(n_pool=500)
CI_SIZED = Design(n_pool=1000)  # the normal test suite's design: a tenth of the simulation time
SCENARIOS = {
    "KonIQ-sized, one pool, equal accuracy": replace(KONIQ, fresh_pool=False),
    "KonIQ-sized, one pool, effect": replace(KONIQ, fresh_pool=False, effect=EFFECT),
    "KonIQ-sized, new pool per study, equal accuracy": KONIQ,
    "KonIQ-sized, new pool per study, effect": replace(KONIQ, effect=EFFECT),
    "KonIQ-sized, new pool per study, equal accuracy, no run noise": replace(KONIQ, run_error=0.0),
    "1,000 images, new pool per study, equal accuracy": CI_SIZED,
    "1,000 images, one pool, equal accuracy": replace(CI_SIZED, fresh_pool=False),
    "demo-sized, new pool per study, equal accuracy": DEMO,
}
# The method each claim uses in the tables; the others are shown for comparison.
CLAIM_METHOD = {"dataset": "paired t", "population": "population t"}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Measured coverage and rejection rate of the 95% CIs")
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", help="only the scenario of this name")
    args = parser.parse_args(argv)
    print(f"{args.studies} simulated studies per row, seed {args.seed}\n")
    print("| scenario | claim | method | J | true delta | coverage of 95% CI | p < 0.05 | mean CI width |")
    print("|---|---|---|---|---|---|---|---|")
    for name, d in SCENARIOS.items():
        if args.only and args.only != name:
            continue
        methods = [CLAIM_METHOD[d.claim], "corrected resampled t"] + (["paired t"] if d.fresh_pool else [])
        for method in methods:
            for j in (3, 5, 10):
                r = coverage(d, j, args.studies, args.seed, method)
                bold = "**" if method == CLAIM_METHOD[d.claim] else ""
                print(f"| {name} | {d.claim} | {bold}{method}{bold} | {j} | {r['truth']:+.4f} | "
                      f"{bold}{100 * r['coverage']:.1f}%{bold} | {100 * r['rejected']:.1f}% | "
                      f"{r['ci_width']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
