"""A results folder of finished runs written without training: seeded predictions whose accuracy depends
on the run's settings, recorded exactly as `iqa.training.record` records a real run. For tests of aggregation,
numbers and audits, which only read what runs wrote."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from iqa import config
from iqa.core import layout
from iqa.core.metrics import correlations
from iqa.training.record import write_history, write_metrics, write_predictions
from iqa.study.spec import expand

N_TEST = 40


def small_study() -> dict:
    """Every kind of table: comparison, forward ablation, controls, selection, sweep, contributions."""
    return {
        "splits": [0, 1, 2],
        "base": {"model": {"name": "swin_hyperiqa", "size": "nano", "pretrained": False},
                 "data": {"root": "data/not-here", "patch_size": 64, "train_patches": 2,
                          "test_crops": "random:2"},
                 "train": {"epochs": 2, "patience": None}},
        "experiments": {
            "C3": {}, "C2": {"of": "C3", "model": {"attention_fusion": False}},
            "C1": {"of": "C2", "model": {"multiscale": False}},
            "C0": {"of": "C1", "model": {"name": "hyperiqa_resnet50"}},
            "C3_rerun": {"of": "C3", "reseed": 1000},
            "C3_shuffled": {"of": "C3", "train": {"labels": "shuffled"}},
            "C3_test_selected": {"of": "C3", "train": {"select": "test"}},
            "centre_crop": {"of": "C3", "data": {"test_crops": "center"}},
        },
        "sweeps": {"lr": {"of": "C3", "key": "train.lr", "values": [1.0e-4, 3.0e-4]}},
        "factorial": {"of": "C3", "factors": {"multiscale": {"model": {"multiscale": False}},
                                              "attention": {"model": {"attention_fusion": False}}}},
        "reported": {"C3": {"srcc": 0.9378, "plcc": 0.9485}},
        "tables": {"main": ["C0", "C3"], "ablation": ["C0", "C1", "C2", "C3"], "best_of": "C3",
                   "controls": {"A/A rerun": {"run": "C3_rerun", "reference": "C3",
                                              "expect": "zero inside CI"},
                                "shuffled labels": {"run": "C3_shuffled", "reference": "C3",
                                                    "expect": "CI below zero"}},
                   "selection": {"C3": "C3_test_selected"},
                   "contributions": {"random-crop testing": ["C3", "centre_crop"]}},
    }


def noise_of(cfg: config.RunConfig) -> float:
    """Prediction noise (MOS points) of a run: each component of the full model lowers it."""
    m = cfg.model
    noise = 12.0 - 3.0 * (m.name == "swin_hyperiqa") - 1.5 * m.multiscale - 1.0 * m.attention_fusion
    noise += 0.3 * (cfg.data.test_crops == "center") + 0.2 * abs(np.log10(cfg.train.lr / 1e-3))
    return 200.0 if cfg.train.labels == "shuffled" else noise


def record_run(out: Path, cfg: config.RunConfig, names: list[str], mos, pred, history: list[dict], val: dict,
               provenance: dict) -> dict:
    """A finished run's folder written by the writers a real run uses (`iqa.training.record`): predictions.csv,
    history.csv, then metrics.json with the file and content hashes. Every fake run of the tests is one."""
    out.mkdir(parents=True, exist_ok=True)
    write_predictions(out / layout.PREDICTIONS, names, mos, np.asarray(pred), None)
    write_history(out / layout.HISTORY, history)
    metrics = {"run_id": out.name, "config": cfg.to_dict(), "test": correlations(pred, mos, cfg.eval.plcc),
               "val": val, "selected_on": cfg.train.select, "best_epoch": len(history),
               "epochs_run": len(history), "provenance": provenance}
    write_metrics(out, metrics)
    return metrics


def write_run(out: Path, cfg: config.RunConfig) -> dict:
    """One finished run of `cfg` whose accuracy depends on its settings (`noise_of`)."""
    rng = np.random.default_rng([cfg.seed, int(config.config_hash(cfg)[:8], 16)])
    mos = np.random.default_rng(cfg.data.split_index).uniform(10, 90, N_TEST)
    pred = mos + rng.normal(0, noise_of(cfg), N_TEST)
    history = [{"epoch": e, "train_loss": 1.0 / e, "val_srcc": 0.5 + 0.1 * e, "val_plcc": 0.5 + 0.1 * e,
                "seconds": 1.0} for e in (1, 2)]
    prov = {"config_hash": config.config_hash(cfg), "dataset_hash": "0" * 64, "split_hash": "1" * 64,
            "seed": cfg.seed, "git_commit": "f" * 40, "git_dirty": False, "source_hash": "e" * 64,
            "parameters": 2_000_000, "gflops_per_patch": 0.16, "train_patches_per_second": 240.0,
            "device": "cpu", "gpu_model": None, "wall_seconds": 2.0, "train_seconds": 2.0}
    return record_run(out, cfg, [f"{i:04d}.jpg" for i in range(N_TEST)], mos, pred, history,
                      {"srcc": 0.7, "plcc": 0.7}, prov)


def write_study_runs(study_cfg: dict, results: Path) -> None:
    for rid, cfg in expand(study_cfg).runs.items():
        write_run(layout.run_dir(results, rid), cfg)
