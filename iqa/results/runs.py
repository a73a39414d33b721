"""The finished runs of a study, checked before any number of theirs enters a table.

A run is usable when its metrics.json exists and still has the content hash it recorded (every number
in it: test and validation metrics, epochs, costs), its config hash matches the study, its dataset hash
matches the data on disk, every file it wrote still has the SHA-256 it recorded, and its test metrics
recomputed from predictions.csv equal the recorded ones. A run that fails the content hash or the last
two checks was altered after it finished: aggregation refuses it, naming the file, unless told to mark
and skip it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from iqa import config as config_mod
from iqa.core import layout
from iqa.core.errors import DataError
from iqa.core.metrics import correlations
from iqa.core.vocab import Metric
from iqa.training import metrics_schema
from iqa.training.record import content_hash, sha256_file
from iqa.study.spec import Study, cross_dataset_jobs


class RunTampered(DataError):
    """A finished run's files no longer match what it recorded."""


def tampering(run_dir: Path, metrics: dict) -> str | None:
    """What in a finished run differs from its own record, or None."""
    record = run_dir / layout.METRICS
    if "content_sha256" not in metrics:
        return f"{record} records no content hash (written by an older iqa)"
    if content_hash(metrics) != metrics["content_sha256"]:
        return f"{record} was edited after the run: its content no longer has the SHA-256 it recorded"
    for name, digest in (metrics.get("files") or {}).items():
        path = run_dir / name
        if not path.is_file():
            return f"{path} is missing"
        if sha256_file(path) != digest:
            return f"{path} does not match the SHA-256 recorded in {record}"
    if "files" not in metrics:
        return f"{record} records no file hashes (written by an older iqa)"
    recomputed = recompute(run_dir, plcc_mode(metrics))
    for m in Metric:
        if m not in metrics["test"]:  # cross-dataset scores report no RMSE
            continue
        if not np.isclose(recomputed[m], metrics["test"][m], rtol=1e-9, atol=1e-12, equal_nan=True):
            return (f"{record}: test {m} {metrics['test'][m]!r} differs from {recomputed[m]!r} "
                    f"recomputed from {run_dir / layout.PREDICTIONS}")
    return None


def plcc_mode(metrics: dict) -> str:
    """A training run's `eval.plcc`; cross-dataset scores are always raw Pearson."""
    return metrics.get("plcc") or metrics["config"]["eval"]["plcc"]


def recompute(run_dir: Path, plcc_mode: str) -> dict:
    p = pd.read_csv(run_dir / layout.PREDICTIONS)
    return correlations(p["pred"].to_numpy(), p["mos"].to_numpy(), plcc_mode)


def load_runs(study: Study, results: Path, dataset_hashes: dict[str, str | None], *, strict: bool = False,
              mark_tampered: bool = False, needed: set[str] | None = None) -> dict[str, dict]:
    """Run id -> {status, usable, metrics} for every run the study declares (`needed`: only these are
    read; the others are 'not read').

    `dataset_hashes` maps each data root to its hash now (None: not on this machine, not checked).
    `strict`: dirty-tree runs and runs of more than one code version are refused, not flagged.
    """
    runs = {}
    for rid, cfg in study.runs.items():
        run_dir = layout.run_dir(results, rid)
        if needed is not None and rid not in needed:
            runs[rid] = {"status": "not read", "usable": False, "metrics": None}
            continue
        record = run_dir / layout.METRICS
        if not record.is_file():
            runs[rid] = {"status": "missing", "usable": False, "metrics": None}
            continue
        m = json.loads(record.read_text())
        problem = tampering(run_dir, m)  # an edit is tampering, not a schema error
        if problem and not mark_tampered:
            raise RunTampered(f"run {rid}: {problem}; rerun it (delete {run_dir}) or aggregate with "
                              f"--mark-tampered to leave it out")
        if not problem:
            metrics_schema.check(m, record)
        prov = m.get("provenance") or {}
        if problem:
            status = "tampered"
        elif prov["config_hash"] != config_mod.config_hash(cfg):
            status = "stale-config"
        elif dataset_hashes.get(cfg.data.root) not in (None, prov["dataset_hash"]):
            status = "stale-data"
        elif prov.get("git_dirty"):
            status = "dirty"
        else:
            status = "ok"
        if strict and status == "dirty":
            raise DataError(f"run {rid} came from a dirty git tree ({prov.get('git_commit')}); --strict refuses it")
        runs[rid] = {"status": status, "usable": status in ("ok", "dirty"), "metrics": m}
    if strict:
        versions = code_versions(runs)
        if len(versions) > 1:
            raise DataError(f"--strict: runs come from {len(versions)} code versions: {versions}")
    return runs


def load_scores(study_cfg: dict, study: Study, results: Path, runs: dict[str, dict], *,
                mark_tampered: bool = False) -> dict[tuple[str, str], dict]:
    """(dataset, run id) -> {status, usable, metrics} for every cross-dataset score the study declares.

    A score is usable when its model run is usable, its files match their recorded hashes and it scored
    that run's current model (the model file's SHA-256 it recorded)."""
    scores = {}
    for name, rid in cross_dataset_jobs(study_cfg, study):
        out = layout.score_dir(results, name, rid)
        if not (out / layout.METRICS).is_file() or not runs[rid]["usable"]:
            scores[(name, rid)] = {"status": "missing", "usable": False, "metrics": None}
            continue
        m = json.loads((out / layout.METRICS).read_text())
        problem = tampering(out, m)
        if not problem:
            metrics_schema.check(m, out / layout.METRICS)
        model = layout.run_file(results, rid, layout.MODEL)
        if not problem and m["model_sha256"] != sha256_file(model):
            problem = f"{out} scored another model than {model}"
        if problem and not mark_tampered:
            raise RunTampered(f"cross-dataset score {name}/{rid}: {problem}")
        scores[(name, rid)] = {"status": "tampered" if problem else "ok", "usable": not problem, "metrics": m}
    return scores


def code_version(m: dict) -> str:
    """Commit / library source hash / environment lock hash of the run: what code and packages ran."""
    p = m["provenance"]
    lock = (p.get("environment") or {}).get("lock_sha256") or "?"
    return f"{(p.get('git_commit') or 'no-git')[:10]}/{(p.get('source_hash') or '?')[:10]}/lock {lock[:10]}"


def code_versions(runs: dict[str, dict]) -> dict[str, list[str]]:
    """Code version (commit/source hash/lock hash) -> the usable runs that came from it."""
    out: dict[str, list[str]] = {}
    for rid, r in runs.items():
        if r["usable"]:
            out.setdefault(code_version(r["metrics"]), []).append(rid)
    return out


def runs_table(study: Study, runs: dict[str, dict]) -> pd.DataFrame:
    """results/runs.csv: one row per declared run with its status, metrics and provenance."""
    rows = []
    for rid, cfg in study.runs.items():
        r = runs[rid]
        m = r["metrics"] or {}
        prov = m.get("provenance", {})
        varied = {k: v for k, v in config_mod.diff(cfg, study.base).items()
                  if k not in ("name", "seed", "data.split_index")}
        rows.append({
            "run_id": rid, "experiments": ";".join(study.experiments_of(rid)),
            "split": cfg.data.split_index, "seed": cfg.seed, "status": r["status"],
            "selected_on": m.get("selected_on"),
            "varied": "; ".join(f"{k}={b}" for k, (_, b) in varied.items()),
            **{f"test_{k}": m.get("test", {}).get(k) for k in (*Metric, "n_images")},
            "val_srcc": (m.get("val") or {}).get(Metric.SRCC), "best_epoch": m.get("best_epoch"),
            "epochs_run": m.get("epochs_run"),
            **{k: prov.get(k) for k in ("wall_seconds", "parameters", "gflops_per_patch", "train_patches_per_second",
                                        "git_commit", "git_dirty", "source_hash", "config_hash", "dataset_hash",
                                        "split_hash", "device", "gpu_model", "slurm_job_id")},
        })
    return pd.DataFrame(rows)
