"""`iqa plan`: how many jobs a study is, how long each takes, and whether its SLURM runtime is enough.

Per run, the work is counted from its config: `epochs` x (training patches per epoch: the steps of
`train.train`, ceil(n_train x train_patches / batch) x batch) and evaluation patches (validation every
epoch, the test set every epoch too when selected on test, and once at the end; `test_crops` patches an
image). Times come from a measured throughput, in patches per second:

  --from-results  the `train_patches_per_second` finished runs recorded, median per model and size
                  (it includes each epoch's validation pass, so validation is counted twice: a slight
                  over-estimate);
  --bench-json    figures measured by `iqa bench` or docs/throughput.py (see docs/reproducibility.md for
                  the format), matched by model, size, precision and batch;
  --throughput    one training-step figure for every run.

A bench entry may carry `pack: K`: K runs stepped in turn in one process (`iqa bench --pack K`), its
figures the pack's total patches/s. `options` prices the whole grid under each precision and pack size:
start-up once per job, and a pack's GPU time from its measured total, or, unmeasured, from the figure
of a run alone (no gain assumed beyond start-up).

Evaluation runs forward only; without a measured evaluation figure it is taken as `EVAL_FACTOR` x the
training figure (forward+backward+update costs 3-7x a forward in docs/benchmarks.md; 3 is the slow end).
With early stopping (`train.patience`) a run may stop before `epochs`: the estimate is an upper bound.
"""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from iqa.core import layout
from iqa.config import RunConfig
from iqa.core.errors import ConfigError, DataError
from iqa.study import preflight
from iqa.study.spec import Study, cross_dataset_jobs, expand, load_study, rehearse, synthetic_datasets
from iqa.training.record import read_metrics

EVAL_FACTOR = 3.0
MARGIN = 1.5  # suggested SLURM runtime = estimate x MARGIN, rounded up to ROUND_MIN minutes
ROUND_MIN = 10
KONIQ_IMAGES = 10_073


def part_sizes(cfg: RunConfig, images: int | None, cache: dict) -> dict[str, int]:
    """Images in train / val / test: from the data on disk when it is there, else from `images` (the
    dataset size; for a study that generates synthetic data, the size it generates)."""
    from iqa.data.dataset import load_koniq, make_split, split_sizes

    d = cfg.data
    key = (d.root, d.split, d.test_fraction, d.val_fraction, images)
    if key in cache:
        return cache[key]
    try:
        ds = load_koniq(d.root)
        sizes = {part: len(idx) for part, idx in make_split(ds, replace(d, split_index=0)).items()}
    except DataError as e:
        if images is None:
            raise DataError(f"{e}; without the data, pass --images N (KonIQ-10k: {KONIQ_IMAGES:,})") from None
        if d.split == "official":
            raise DataError(f"data.split is 'official' and {d.root} is not here: the part sizes come from "
                            f"its label file") from None
        n_test, n_val = split_sizes(images, d)
        sizes = {"train": images - n_test - n_val, "val": n_val, "test": n_test}
    cache[key] = sizes
    return sizes


def run_work(cfg: RunConfig, sizes: dict[str, int]) -> dict[str, int]:
    """Patches one run trains on and evaluates, at most (every epoch run)."""
    from iqa.config import parse_crops

    d, t = cfg.data, cfg.train
    steps = math.ceil(sizes["train"] * d.train_patches / t.batch_size)
    crops = parse_crops(d.test_crops)[1]
    per_epoch_eval = sizes["val"] + (sizes["test"] if t.select == "test" else 0)
    return {"train": t.epochs * steps * t.batch_size,
            "eval": (t.epochs * per_epoch_eval + sizes["test"]) * crops}


def results_throughput(results: str | Path) -> list[dict]:
    """Throughput entries from finished runs: median recorded train_patches_per_second per model and size."""
    rates: dict[tuple, list] = {}
    for path in sorted(layout.runs_dir(results).glob(f"*/{layout.METRICS}")):
        m = read_metrics(path)
        p, model = m["provenance"], RunConfig.from_dict(m["config"], where=str(path)).model
        if p.get("train_patches_per_second"):
            device = p.get("gpu_model") or p.get("cpu_model") or p.get("device")
            key = (model.name, model.size)
            rates.setdefault(key, []).append((p["train_patches_per_second"], device))
    if not rates:
        raise DataError(f"{results}: no finished run records train_patches_per_second (runs/*/metrics.json)")
    return [{"model": name, "size": size, "train_patches_per_s": float(np.median([r for r, _ in v])),
             "source": f"{len(v)} run(s) in {results}, {', '.join(sorted({d for _, d in v}))}"}
            for (name, size), v in rates.items()]


def bench_throughput(path: str | Path) -> list[dict]:
    """Entries of a throughput JSON: {"device": ..., "throughput": [{model, size, precision, batch_size,
    train_patches_per_s, eval_patches_per_s?}, ...]}."""
    try:
        data = json.loads(Path(path).read_text())
        entries = data["throughput"]
        for i, e in enumerate(entries):
            for key in ("model", "size", "train_patches_per_s"):
                if key not in e:
                    raise DataError(f"{path}: throughput[{i}] has no {key!r}")
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise DataError(f"{path}: not a throughput file ({e}); see docs/reproducibility.md for its "
                        f"format") from None
    return [{**e, "source": f"{Path(path).name}, {data.get('device', 'device not named')}"} for e in entries]


def pick_throughput(cfg: RunConfig, entries: list[dict], fallback: float | None, pack: int = 1) -> dict:
    """The entry for this run's model and size (same precision, pack size and batch preferred), else the
    fallback. Without a figure measured at `pack`, a run alone's."""
    m, t = cfg.model, cfg.train
    same = [e for e in entries if (e["model"], e["size"]) == (m.name, m.size) and e.get("pack", 1) in (1, pack)]
    same.sort(key=lambda e: (e.get("precision", t.precision) != t.precision, e.get("pack", 1) != pack,
                             e.get("batch_size", t.batch_size) != t.batch_size))
    if same:
        e = same[0]
        off = [f"{k} {e[k]}" for k in ("precision", "batch_size") if k in e and e[k] != getattr(t, k)]
        return {**e, "pack": e.get("pack", 1), "note": f"measured at {', '.join(off)}" if off else ""}
    if fallback is None:
        raise DataError(f"no throughput for {m.name} {m.size}: measure it (docs/throughput.py) or pass "
                        f"--throughput")
    return {"train_patches_per_s": fallback, "source": "--throughput", "note": "", "pack": 1}


def suggest_runtime(minutes: float) -> int:
    """SLURM runtime in minutes: the estimate x MARGIN, rounded up to ROUND_MIN minutes."""
    return int(math.ceil(minutes * MARGIN / ROUND_MIN) * ROUND_MIN)


def estimate(study: Study, entries: list[dict], fallback: float | None, eval_throughput: float | None,
             images: int | None, setup_minutes: float, precision: str | None = None, pack: int = 1) -> pd.DataFrame:
    """One row per experiment: work per run, throughput, minutes per run, the distinct runs it adds
    (a run shared with an earlier experiment is counted there), their hours and a SLURM runtime.

    `precision` prices every run at that precision instead of its own; `pack` > 1 the device time a run
    takes in a pack of that many (`gpu_min`: the pack's measured total throughput shared among its runs)."""
    owner = {rid: study.experiments_of(rid)[0] for rid in study.runs}  # the first declared names a shared run
    cache: dict = {}
    rows = []
    for name, cfg in study.experiments.items():
        if precision is not None:
            cfg = replace(cfg, train=replace(cfg.train, precision=precision))
        sizes = part_sizes(cfg, images, cache)
        work = run_work(cfg, sizes)
        tp = pick_throughput(cfg, entries, fallback, pack)
        eval_rate = tp.get("eval_patches_per_s") or eval_throughput or EVAL_FACTOR * tp["train_patches_per_s"]
        work_minutes = (work["train"] / tp["train_patches_per_s"] + work["eval"] / eval_rate) / 60
        minutes = setup_minutes + work_minutes
        new = sum(owner[rid] == name for rid in set(study.cells[name].values()))
        t = cfg.train
        rows.append({
            "experiment": name, "model": f"{cfg.model.name} {cfg.model.size}",
            "precision": t.precision, "batch": t.batch_size,
            "epochs": f"<={t.epochs}" if t.patience is not None else str(t.epochs),
            "n_train": sizes["train"], "train_kpatch": work["train"] / 1e3, "eval_kpatch": work["eval"] / 1e3,
            "patch_per_s": tp["train_patches_per_s"], "min_per_run": minutes, "new_runs": new,
            "hours": new * minutes / 60, "slurm_min": suggest_runtime(minutes),
            "throughput_from": tp["source"] + (f" ({tp['note']})" if tp["note"] else ""),
            "gpu_min": work_minutes, "measured": not tp["note"] and tp["pack"] == pack,
        })
    return pd.DataFrame(rows)


PRECISIONS = ("fp32", "tf32", "bf16")


def options(study: Study, entries: list[dict], fallback: float | None, eval_throughput: float | None,
            images: int | None, setup_minutes: float, packs: list[int]) -> pd.DataFrame:
    """The whole grid's hours under each precision (every run at it) and pack size (an experiment's
    splits, `packs` runs to a job): start-up once per job plus each run's device time."""
    measured = [p for p in PRECISIONS if any(e.get("precision") == p for e in entries)] or [None]
    rows = []
    for precision in measured:
        for pack in packs:
            table = estimate(study, entries, fallback, eval_throughput, images, setup_minutes, precision, pack)
            jobs = int(sum(math.ceil(n / pack) for n in table["new_runs"]))
            hours = (jobs * setup_minutes + (table["new_runs"] * table["gpu_min"]).sum()) / 60
            guessed = table.loc[~table["measured"] & (table["new_runs"] > 0), "experiment"]
            rows.append({"precision": precision or "as configured", "runs_per_job": pack, "jobs": jobs,
                         "hours": hours, "not_measured": len(guessed)})
    return pd.DataFrame(rows)


def describe(study_cfg: dict, study: Study, table: pd.DataFrame, config_name: str) -> str:
    """The printed plan: jobs, the per-experiment table, totals and runtime warnings."""
    res = (study_cfg.get("resources") or {}).get("train") or {}
    unit = "GPU-h" if res.get("gpu") else "CPU-h"
    jobs = len(study.experiments) * len(study.splits)
    lines = [f"plan for {config_name}: {len(study.experiments)} experiments x {len(study.splits)} splits = "
             f"{jobs} jobs, {len(study.runs)} distinct runs after dedupe"]
    shown = table.drop(columns=["throughput_from", "gpu_min", "measured"]).rename(columns={"hours": unit})
    lines.append(shown.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    sources = table.groupby("throughput_from", sort=False)["experiment"]
    lines.append("throughput from " + "; ".join(
        f"{src}: {'all experiments' if len(sources) == 1 else ', '.join(names)}" for src, names in sources))
    total = table["hours"].sum()
    bound = " (an upper bound: early stopping can end runs before their last epoch)" \
        if table["epochs"].str.startswith("<=").any() else ""
    lines.append(f"total: {len(study.runs)} runs, {total:,.1f} {unit}{bound}; longest job "
                 f"{table['min_per_run'].max():,.0f} min")
    runtime = res.get("runtime")
    if runtime is None:
        lines.append("no resources.train.runtime in the study: nothing to compare")
        return "\n".join(lines)
    short = table[table["slurm_min"] > runtime]
    lines.append(f"suggested SLURM runtime: estimate x {MARGIN:g}, rounded up to {ROUND_MIN} min; the study "
                 f"asks resources.train.runtime {runtime} min for every job")
    if short.empty:
        lines.append(f"resources.train.runtime {runtime} min is enough for every job "
                     f"(largest suggestion {table['slurm_min'].max()} min)")
    for _, r in short.iterrows():
        lines.append(f"WARNING: {r['experiment']}: a run may take {r['min_per_run']:,.0f} min, suggested "
                     f"{r['slurm_min']} min > resources.train.runtime {runtime} min")
    return "\n".join(lines)


def disk_line(study_cfg: dict, study: Study, images: int | None) -> str:
    """What the study writes under results/: every model file, the checkpoints of runs training at once
    (deleted when each finishes unless train.keep_checkpoint), the decoded-image cache."""
    need = preflight.needs(study_cfg, study, list(study.runs), cross_dataset_jobs(study_cfg, study),
                           parallel=len(study.splits))
    if images:  # the data is not here: size the cache from the stated image count
        need.cache_pixels = images * sum(w * h for w, h in {c.data.resize for c in study.runs.values()})
    b = preflight.disk_bytes(need)
    keep = sum(cfg.train.keep_checkpoint for cfg in study.runs.values())
    kept = f"; {keep} runs keep their checkpoint (x{preflight.CHECKPOINT_FACTOR} their model)" if keep else ""
    return (f"disk: {sum(b.values()) / 1e9:,.1f} GB under results/ = models {b['models'] / 1e9:,.1f} GB + "
            f"checkpoints of {need.parallel} runs training at once {b['checkpoints'] / 1e9:,.1f} GB + "
            f"decoded-image cache {b['cache'] / 1e9:,.1f} GB{kept}")


def describe_options(opts: pd.DataFrame, unit: str) -> str:
    shown = opts.rename(columns={"hours": unit})
    return ("options, the whole grid (every run at that precision; an experiment's splits, runs_per_job to a "
            "job; not_measured: experiments priced from another precision's or a lone run's figure):\n"
            + shown.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))


def check(config_paths) -> list[str]:
    """`iqa plan --check`: the workflow's pre-flight checks (data, weights, disk) over every run and score."""
    study_cfg = rehearse(load_study(config_paths))
    study = expand(study_cfg)
    need = preflight.needs(study_cfg, study, list(study.runs), cross_dataset_jobs(study_cfg, study))
    generated = synthetic_datasets(study_cfg, study)
    need.data = {root: spec for root, spec in need.data.items() if root not in generated}
    return preflight.check(study_cfg, study, layout.RESULTS, need)


def plan(config_path, *, bench_json=None, throughput=None, from_results=None, images=None,
         eval_throughput=None, setup_minutes: float = 2.0, packs: list[int] | None = None) -> tuple[str, pd.DataFrame]:
    """The printed plan and its table for a study config (or several, merged in order)."""
    if bench_json is None and throughput is None and from_results is None:
        raise ConfigError("give a throughput: --from-results DIR, --bench-json FILE or "
                          "--throughput PATCHES_PER_S")
    study_cfg = rehearse(load_study(config_path))
    study = expand(study_cfg)
    generated = synthetic_datasets(study_cfg, study).get(study.base.data.root)
    if images is None and generated:  # the workflow generates this many images
        images = generated["n"]
    entries = (results_throughput(from_results) if from_results else []) + \
        (bench_throughput(bench_json) if bench_json else [])
    table = estimate(study, entries, throughput, eval_throughput, images, setup_minutes)
    name = " + ".join(map(str, config_path)) if isinstance(config_path, (list, tuple)) else str(config_path)
    text = describe(study_cfg, study, table, name) + "\n" + disk_line(study_cfg, study, images)
    if packs is None:  # a run alone, the study's packing and every pack size measured
        packs = {1, (study_cfg.get("packing") or {}).get("runs", 1)} | {e.get("pack", 1) for e in entries}
    opts = options(study, entries, throughput, eval_throughput, images, setup_minutes, sorted(packs))
    unit = "GPU-h" if ((study_cfg.get("resources") or {}).get("train") or {}).get("gpu") else "CPU-h"
    return text + "\n" + describe_options(opts, unit), table
