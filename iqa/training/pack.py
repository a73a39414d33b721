"""Several runs in one job: one process trains them, one optimisation step of each in turn.

A job per run pays Python's start-up and imports every time (about 6 s of a 16 s demo job on a CPU),
and one run at the seed's batch 32 leaves most of a large GPU idle. A pack starts once; on a GPU each of
its runs queues its kernels on its own CUDA stream, so the GPU computes several runs' steps side by side.

Each run keeps its own seeds, batches, checkpoint, resume, provenance, train.log and metrics.json
(`train.run_steps`): on a CPU a packed run ends with the numbers it has alone, to the last bit
(tests/test_train.py); on a GPU within what `iqa reproduce` accepts of a rerun.

The study config says which runs share a job:

    packing: {by: experiment, runs: 5}   # the splits of one experiment, at most 5 to a job
    packing: {by: model, runs: 8}        # any runs of one model shape (name, size, head, fusion)
    packing: {..., runtime: 1440}        # minutes a pack job may run (default: runs x resources.train.runtime)

Without `packing` (or with runs: 1) every run is a job of its own. Nothing here imports torch at
module level: the workflow computes the packs when it parses the study.
"""
from __future__ import annotations

import re
import traceback
from pathlib import Path

from iqa.config import RunConfig
from iqa.core.errors import ConfigError, TrainingError

SHAPE = ("name", "size", "head", "multiscale", "attention_fusion")  # what makes two models the same shape


def packs(study, spec: dict | None) -> dict[str, list[str]]:
    """Pack name -> run ids, for every pack of two or more runs (the other runs train alone).

    A run shared by several experiments belongs to the first declared one, as in `iqa plan`."""
    spec = spec or {}
    by, size = spec.get("by", "experiment"), spec.get("runs", 1)
    if by not in ("experiment", "model") or not isinstance(size, int) or size < 1:
        raise ConfigError(f"packing: 'by' must be experiment or model and 'runs' a whole number >= 1, got {spec}")
    groups: dict[str, list[str]] = {}
    named: dict[tuple, str] = {}  # a model shape is named after the first experiment that has it
    for rid, cfg in study.runs.items():
        key = study.experiments_of(rid)[0]
        if by == "model":
            key = named.setdefault(tuple(getattr(cfg.model, k) for k in SHAPE), key)
        groups.setdefault(key, []).append(rid)
    out = {}
    for key, rids in groups.items():
        chunks = [rids[i:i + size] for i in range(0, len(rids), size)]
        for i, chunk in enumerate(chunks):
            if len(chunk) < 2:
                continue
            name = re.sub(r"\W+", "_", key) + (f"_{i + 1}" if len(chunks) > 1 else "")
            while name in out:  # two keys that read the same once made a rule name
                name += "_"
            out[name] = chunk
    return out


def score_packs(study, jobs: list[tuple[str, str]], spec: dict | None) -> dict[str, tuple[str, list[str]]]:
    """Pack name -> (dataset, run ids) of the cross-dataset scoring jobs (`study.cross_dataset_jobs`) that
    one job does: a dataset's scores of one experiment's runs, as many as `packing.runs`, in one process."""
    size = (spec or {}).get("runs", 1)
    groups: dict[tuple[str, str], list[str]] = {}
    for dataset, rid in jobs:
        groups.setdefault((dataset, study.experiments_of(rid)[0]), []).append(rid)
    out = {}
    for (dataset, experiment), rids in groups.items():
        chunks = [rids[i:i + size] for i in range(0, len(rids), size)]
        for i, chunk in enumerate(chunks):
            if len(chunk) > 1:
                name = re.sub(r"\W+", "_", f"{dataset}_{experiment}") + (f"_{i + 1}" if len(chunks) > 1 else "")
                while name in out:
                    name += "_"
                out[name] = (dataset, chunk)
    return out


def train_pack(cfgs: list[RunConfig], outs: list[str | Path], echoes: list[Path] | None = None) -> list[dict]:
    """Train the runs `cfgs` into the folders `outs`, a step of each in turn; their metrics, in order.

    `echoes`: a file per run for the log lines a run alone writes to stderr, and for its error. A run
    that fails does not stop the others: once every run has ended, the failures are raised together.
    On a preemption signal every unfinished run saves its checkpoint before the pack exits.
    """
    from iqa.training.checkpoint import Interrupted, preemption_signals
    from iqa.training.train import drop_checkpoint, run_steps

    echoes = echoes or [None] * len(cfgs)
    metrics, failed, interrupted = {}, {}, None
    with preemption_signals() as caught:
        running = {i: run_steps(cfg, out, caught, echo, own_stream=len(cfgs) > 1)
                   for i, (cfg, out, echo) in enumerate(zip(cfgs, outs, echoes))}
        while running:
            for i in list(running):
                try:
                    next(running[i])
                except StopIteration as stop:
                    metrics[i] = stop.value
                    del running[i]
                except Interrupted as e:
                    interrupted = e
                    del running[i]
                except Exception as e:  # the other runs go on; this one's log says why it stopped
                    failed[i] = e
                    del running[i]
                    report(e, echoes[i])
    if interrupted is not None:
        raise interrupted
    if failed:
        from iqa.config import run_id

        raise TrainingError(f"{len(failed)} of {len(cfgs)} packed runs failed: " +
                            "; ".join(f"{run_id(cfgs[i])}: {e}" for i, e in failed.items()))
    for cfg, out in zip(cfgs, outs):
        drop_checkpoint(cfg, out)
    return [metrics[i] for i in range(len(cfgs))]


def report(error: Exception, echo: Path | None) -> None:
    import sys

    text = "".join(traceback.format_exception(error))
    if echo is None:
        sys.stderr.write(text)
    else:
        with open(echo, "a") as f:
            f.write(text)
