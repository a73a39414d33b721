"""Train one run, select it on validation SRCC, test it once, and write its self-describing outputs.

Outputs in the run folder:
  metrics.json      written last and atomically: a failed run leaves none
  predictions.csv   per test image: image, mos, pred (+ attention weights)
  history.csv       per epoch: train loss, validation SRCC/PLCC, learning rates, seconds
  model.safetensors the selected (best-validation) weights, with the resolved config in its metadata
  checkpoint.pt     resumable state (model, optimiser, scheduler, RNG, epoch, step, early stopping)
  train.log         plain progress lines

Every epoch draws its patches and dropout from generators seeded by (seed, epoch), and the
checkpoint carries the RNG state, so a run resumed after a crash or a SIGTERM ends with the same
numbers as an uninterrupted one.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from . import config as config_mod
from .crops import train_positions
from .data import dataset_hash, decoded_images, load_koniq, make_split, split_hash
from .evaluate import autocast, score_images
from .metrics import correlations
from .models import build_model, input_size
from .pipeline import augment, gather_patches, normalize
from .provenance import git_state, machine, versions

log = logging.getLogger("iqa")


class TrainingError(RuntimeError):
    """Training cannot go on (NaN loss, bad setup); the message says where."""


class Interrupted(SystemExit):
    """SIGTERM/SIGUSR1 arrived: the checkpoint is saved, the run exits non-zero to be resumed."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("train.device is 'cuda' but no CUDA device is available")
    return torch.device(name)


def atomic_write(path: Path, write) -> None:
    """Call `write(tmp_path)`, then rename over `path`: readers never see a partial file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def setup_logging(out: Path) -> None:
    log.setLevel(logging.INFO)
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    fh = logging.FileHandler(out / "train.log")
    fh.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    log.addHandler(fh)
    sh = logging.StreamHandler(sys.stderr)
    sh.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(sh)
    log.propagate = False


def ranking_loss(pred: torch.Tensor, mos: torch.Tensor) -> torch.Tensor:
    """Mean hinge over all pairs in the batch whose MOS order the predictions get wrong."""
    dp = pred[:, None] - pred[None, :]
    sign = torch.sign(mos[:, None] - mos[None, :])
    return F.relu(-dp * sign).sum() / sign.abs().sum().clamp(min=1)


def make_optimizer(model, t: dict, device: torch.device):
    backbone, head = model.param_groups()
    groups = [{"params": backbone, "lr": t["lr"], "name": "backbone"},
              {"params": head, "lr": t["lr"] * t["lr_ratio"], "name": "head"}]
    if t["optimizer"] == "adamw":
        opt = torch.optim.AdamW(groups, weight_decay=t["weight_decay"], fused=device.type == "cuda")
    else:
        opt = torch.optim.Adam(groups, weight_decay=t["weight_decay"])
    if t["schedule"] == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t["epochs"])
    else:
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=t["step_size"], gamma=t["gamma"])
    return opt, sched


class Progress:
    """A live line on a terminal; plain lines every `every` steps in the log."""

    def __init__(self, epochs: int, steps: int, every: int):
        self.epochs, self.steps, self.every = epochs, steps, every
        self.tty = sys.stderr.isatty()
        self.t0 = time.time()
        self.done = 0

    def step(self, epoch: int, step: int, loss: float, remaining_steps: int) -> None:
        self.done += 1
        rate = self.done / max(time.time() - self.t0, 1e-9)
        eta = remaining_steps / rate
        line = (f"epoch {epoch + 1}/{self.epochs} step {step + 1}/{self.steps} loss {loss:.4f} "
                f"{rate:.1f} it/s ETA {eta:.0f}s")
        if self.tty:
            sys.stderr.write("\r" + line + " " * 8)
            sys.stderr.flush()
        if (step + 1) % self.every == 0 or step + 1 == self.steps:
            log.handlers[0].handle(log.makeRecord("iqa", logging.INFO, "", 0, line, None, None))

    def end_epoch(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def load_data(cfg: dict, device: torch.device):
    """Labels, split and decoded images of every split part, on `device`."""
    d = cfg["data"]
    ds = load_koniq(d["root"])
    ds_hash = dataset_hash(ds)
    split = make_split(ds, d)
    size = tuple(d["resize"])
    cache = decoded_images(ds, ds_hash, size, d["cache_dir"])
    parts = {}
    for part, idx in split.items():
        parts[part] = {
            "images": torch.from_numpy(np.ascontiguousarray(cache[idx])).to(device),
            "mos": torch.from_numpy(ds.mos[idx]).to(device),
            "keys": idx,
            "names": [ds.names[i] for i in idx],
        }
    info = {"dataset_root": str(Path(d["root"]).resolve()), "label_file": ds.label_file.name,
            "image_dir": ds.image_dir.name, "dataset_hash": ds_hash, "split_hash": split_hash(ds, split),
            "n_train": len(split["train"]), "n_val": len(split["val"]), "n_test": len(split["test"])}
    return parts, info


def evaluate_part(model, part: dict, cfg: dict, amp: bool) -> tuple[dict, np.ndarray, np.ndarray | None]:
    d = cfg["data"]
    pred, weights = score_images(model, part["images"], part["keys"], d["test_crops"], d["patch_size"],
                                 d["crop_seed"], amp)
    pred = pred.astype(np.float64) / cfg["train"]["label_scale"]
    return correlations(pred, part["mos"].cpu().numpy(), cfg["eval"]["plcc"]), pred, weights


def save_model(path: Path, model, cfg: dict) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"config": json.dumps(cfg), "run_id": config_mod.run_id(cfg)}
    atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata=meta))


def train(cfg: dict, out: str | Path) -> dict:
    """Run one training job to completion (resuming if a checkpoint is there); return metrics."""
    out = Path(out)
    done = out / "metrics.json"
    if done.is_file():  # a finished run is never retrained (nor its outputs overwritten)
        metrics = json.loads(done.read_text())
        if metrics["provenance"]["config_hash"] != config_mod.config_hash(cfg):
            raise TrainingError(f"{done} holds a finished run of another config; use another --out")
        return metrics
    out.mkdir(parents=True, exist_ok=True)
    setup_logging(out)
    started = dt.datetime.now(dt.timezone.utc)
    t, d = cfg["train"], cfg["data"]
    rid, chash = config_mod.run_id(cfg), config_mod.config_hash(cfg)
    if d["patch_size"] != input_size(cfg["model"]):
        raise config_mod.ConfigError(
            f"'data.patch_size' is {d['patch_size']} but {cfg['model']['name']} size "
            f"{cfg['model']['size']} takes {input_size(cfg['model'])} px patches")
    device = resolve_device(t["device"])
    amp = t["amp"] and device.type == "cuda"
    log.info(f"run {rid} on {device}; output {out}")

    parts, data_info = load_data(cfg, device)
    log.info(f"data: {data_info['n_train']} train / {data_info['n_val']} val / {data_info['n_test']} test "
             f"images from {data_info['dataset_root']}")

    torch.manual_seed(cfg["seed"])
    model = build_model(cfg["model"]).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    forward = torch.compile(model) if t["compile"] else model
    opt, sched = make_optimizer(model, t, device)

    n_train = len(parts["train"]["keys"])
    per_epoch = n_train * d["train_patches"]
    steps = math.ceil(per_epoch / t["batch_size"])
    state = {"epoch": 0, "step": 0, "best_srcc": -math.inf, "best_epoch": -1, "bad_epochs": 0,
             "best_val": None, "history": [], "epoch_loss": 0.0, "epoch_seconds": 0.0}
    ckpt_path, model_path = out / "checkpoint.pt", out / "model.safetensors"
    rng_state = None
    if ckpt_path.is_file():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        if ckpt["config_hash"] != chash:
            raise TrainingError(f"{ckpt_path} belongs to another config (hash {ckpt['config_hash'][:10]}); "
                                f"move it away or use another --out")
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        state = json.loads(ckpt["state"])
        state["best_srcc"] = float(state["best_srcc"])
        rng_state = ckpt["rng"], ckpt.get("cuda_rng")
        log.info(f"resumed from {ckpt_path}: epoch {state['epoch'] + 1}, step {state['step']}")

    def save_checkpoint():
        snapshot = {"config_hash": chash, "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(), "state": json.dumps(state),
                    "rng": torch.get_rng_state()}
        if device.type == "cuda":  # dropout and drop-path draw from the GPU's generator there
            snapshot["cuda_rng"] = torch.cuda.get_rng_state(device)
        atomic_write(ckpt_path, lambda tmp: torch.save(snapshot, tmp))

    stop = {"signal": None}

    def on_signal(signum, frame):
        stop["signal"] = signum

    # SLURM profiles send SIGURG ahead of a time limit (SIGUSR1 would also kill the job step).
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGUSR1, signal.SIGURG)}
    progress = Progress(t["epochs"], steps, t["log_every"])
    try:
        while state["epoch"] < t["epochs"] and not _stopped_early(state, t):
            epoch = state["epoch"]
            tic = time.time()
            gen = torch.Generator().manual_seed(cfg["seed"] * 100_003 + epoch)
            img_idx, corners, flips = train_positions(n_train, d["train_patches"], d["resize"][1], d["resize"][0],
                                                      d["patch_size"], gen)
            torch.manual_seed(cfg["seed"] * 100_003 + epoch)  # dropout, drop-path, colour jitter
            if rng_state is not None and state["step"] > 0:  # mid-epoch: continue the saved stream
                torch.set_rng_state(rng_state[0])
                if rng_state[1] is not None and device.type == "cuda":
                    torch.cuda.set_rng_state(rng_state[1], device)
            rng_state = None
            model.train()
            for step in range(state["step"], steps):
                sl = slice(step * t["batch_size"], (step + 1) * t["batch_size"])
                train_part = parts["train"]
                x = gather_patches(train_part["images"], img_idx[sl], corners[sl], d["patch_size"])
                x = normalize(augment(x, flips[sl], d["color_jitter"]), channels_last=device.type == "cuda")
                y = train_part["mos"][img_idx[sl].to(device)] * t["label_scale"]
                with autocast(device, amp):
                    pred, _ = forward(x)
                loss = F.l1_loss(pred, y)
                if t["ranking_loss_weight"]:
                    loss = loss + t["ranking_loss_weight"] * ranking_loss(pred, y)
                if not torch.isfinite(loss):
                    raise TrainingError(f"loss is {loss.item()} at epoch {epoch + 1} step {step + 1}: "
                                        f"lower train.lr or check the labels")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                state["epoch_loss"] += loss.item()
                state["step"] = step + 1
                progress.step(epoch, step, loss.item(), (t["epochs"] - epoch) * steps - step - 1)
                if stop["signal"] is not None:
                    state["epoch_seconds"] += time.time() - tic
                    save_checkpoint()
                    log.info(f"signal {stop['signal']}: checkpoint saved at epoch {epoch + 1} step {step + 1}")
                    raise Interrupted(128 + stop["signal"])
            progress.end_epoch()
            sched.step()
            val, _, _ = evaluate_part(forward, parts["val"], cfg, amp)
            seconds = state["epoch_seconds"] + time.time() - tic
            lrs = {f"lr_{g['name']}": g["lr"] for g in opt.param_groups}
            state["history"].append({"epoch": epoch + 1, "train_loss": state["epoch_loss"] / steps,
                                     "val_srcc": val["srcc"], "val_plcc": val["plcc"], **lrs,
                                     "seconds": round(seconds, 3)})
            # NaN SRCC (constant predictions) never counts as a gain, but epoch 1 is always kept.
            improved = state["best_epoch"] < 0 or val["srcc"] > state["best_srcc"]
            if improved:
                state.update(best_srcc=val["srcc"] if math.isfinite(val["srcc"]) else -math.inf, best_epoch=epoch + 1, bad_epochs=0, best_val=val)
                save_model(model_path, model, cfg)
            else:
                state["bad_epochs"] += 1
            log.info(f"epoch {epoch + 1}/{t['epochs']}: train loss {state['epoch_loss'] / steps:.4f} "
                     f"val SRCC {val['srcc']:.4f} PLCC {val['plcc']:.4f}{' (best)' if improved else ''} "
                     f"{seconds:.1f}s")
            state.update(epoch=epoch + 1, step=0, epoch_loss=0.0, epoch_seconds=0.0)
            save_checkpoint()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)

    if state["best_epoch"] < 0:
        raise TrainingError("no epoch finished; nothing to test")
    model.load_state_dict(load_file(str(model_path), device=str(device)))
    test, pred, weights = evaluate_part(forward, parts["test"], cfg, amp)
    log.info(f"test ({test['n_images']} images, model of epoch {state['best_epoch']}): "
             f"SRCC {test['srcc']:.4f} PLCC {test['plcc']:.4f} KRCC {test['krcc']:.4f} RMSE {test['rmse']:.3f}")
    write_predictions(out / "predictions.csv", parts["test"], pred, weights)
    pd.DataFrame(state["history"]).to_csv(out / "history.csv", index=False)

    ended = dt.datetime.now(dt.timezone.utc)
    metrics = {
        "run_id": rid,
        "config": cfg,
        "test": test,
        "val": state["best_val"],
        "best_epoch": state["best_epoch"],
        "epochs_run": len(state["history"]),
        "provenance": {
            **git_state(), "config_hash": chash, **data_info, "seed": cfg["seed"],
            "versions": versions(), **machine(device),
            "parameters": sum(p.numel() for p in model.parameters()),
            "gflops_per_patch": gflops_per_patch(model, d["patch_size"], device),
            "train_patches_per_second": round(per_epoch * len(state["history"])
                                              / max(sum(h["seconds"] for h in state["history"]), 1e-9), 2),
            "start_time": started.isoformat(), "end_time": ended.isoformat(),
            "wall_seconds": round((ended - started).total_seconds(), 3),
            "train_seconds": round(sum(h["seconds"] for h in state["history"]), 3),
        },
    }
    atomic_write(out / "metrics.json", lambda tmp: tmp.write_text(json.dumps(metrics, indent=2)))
    return metrics


def gflops_per_patch(model, patch: int, device: torch.device) -> float:
    """Forward GFLOPs for one patch, counted by PyTorch's FLOP counter."""
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, patch, patch, device=device))
    return round(counter.get_total_flops() / 1e9, 4)


def _stopped_early(state: dict, t: dict) -> bool:
    return t["patience"] is not None and state["bad_epochs"] >= t["patience"] and state["step"] == 0


def write_predictions(path: Path, part: dict, pred: np.ndarray, weights: np.ndarray | None) -> None:
    # float64 columns round-trip exactly through CSV, so audits recompute the same metrics.
    table = pd.DataFrame({"image": part["names"], "mos": part["mos"].cpu().numpy().astype(np.float64),
                          "pred": pred.astype(np.float64)})
    if weights is not None:
        for k in range(weights.shape[1]):
            table[f"attention_stage{k + 1}"] = weights[:, k]
    table.to_csv(path, index=False)
