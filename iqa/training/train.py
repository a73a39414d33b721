"""Train one run: setup -> epochs -> select -> test once -> write its self-describing outputs.

Outputs in the run folder (see `record`): metrics.json (last, atomically, with the SHA-256 of
every other file), predictions.csv, history.csv, model.safetensors (the selected epoch's weights,
config in its metadata), checkpoint.pt (resumable) and train.log.

Selection (`train.select`): `val` keeps the epoch with the best validation SRCC and touches the
test set once, at the end; `test` keeps the best test-SRCC epoch, as the seed system and the
original HyperIQA code did (optimistic; such runs are marked in every table).

Every epoch draws its patches and dropout from generators seeded by (seed, epoch), and the
checkpoint carries the RNG state, so a resumed run ends with the same numbers as an uninterrupted one.

A run is a generator (`run_steps`) that yields after each step: `train` steps one to its end, a pack
(`iqa.training.pack`) steps several in turn in one process.
"""
from __future__ import annotations

import datetime as dt
import math
import time
from pathlib import Path

import torch

from iqa import config as config_mod
from iqa.config import RunConfig, TrainConfig
from iqa.training.checkpoint import Checkpoint, Interrupted, preemption_signals
from iqa.data.crops import train_positions
from iqa.core import layout
from iqa.core.device import resolve_device, set_matmul_precision
from iqa.core.errors import TrainingError
from iqa.training.evaluate import evaluate_part
from iqa.models.builder import build_model
from iqa.training.optim import make_optimizer
from iqa.data.parts import load_parts
from iqa.training.provenance import run_provenance
from iqa.models.saved import save_model
from iqa.training.record import finished, write_history, write_metrics, write_predictions
from iqa.training.runlog import Progress, close_log, log, setup_logging, use_log
from iqa.training.step import Stepper, check_loss, make_batch


def train(cfg: RunConfig, out: str | Path) -> dict:
    """Run one training job to completion (resuming if a checkpoint is there); return its metrics."""
    with preemption_signals() as caught:
        metrics = to_end(run_steps(cfg, out, caught))
    drop_checkpoint(cfg, out)
    return metrics


def drop_checkpoint(cfg: RunConfig, out: str | Path) -> None:
    """A finished run's checkpoint.pt is needed only to resume (Swin-B's is about 1.4 GB): deleted unless
    `train.keep_checkpoint`. Called once the job's runs have all finished (a pack's sibling may still fail,
    and Snakemake then deletes every metrics.json of the pack: the rerun re-tests from the checkpoints)."""
    if not cfg.train.keep_checkpoint:
        (Path(out) / layout.CHECKPOINT).unlink(missing_ok=True)


def to_end(steps) -> dict:
    """Step a `run_steps` generator to its end; its metrics."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


def run_steps(cfg: RunConfig, out: str | Path, caught: dict, echo: Path | None = None, own_stream: bool = False):
    """One run as a generator: it yields after every optimisation step and returns the run's metrics.

    `caught` is `preemption_signals()`'s dict; `echo` a file for the log lines that otherwise go to
    stderr. While it runs, a run owns what torch and the log hold process-wide (`Turn`), so several
    runs can take turns in one process (`iqa.training.pack`), each computing what it computes alone.
    """
    out = Path(out)
    metrics = finished(out, cfg)
    if metrics is not None:  # a finished run is never retrained, nor its outputs overwritten
        return metrics
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.train.device)
    handlers = setup_logging(out, echo)
    turn = Turn(device, cfg.train.precision, handlers, own_stream)
    try:
        turn.resume()
        return (yield from run(cfg, out, caught, turn))
    finally:
        turn.end()
        close_log(handlers)


def run(cfg: RunConfig, out: Path, caught: dict, turn: "Turn"):
    """`run_steps` once the run's log and process-wide state are set up."""
    started = dt.datetime.now(dt.timezone.utc)
    t, d = cfg.train, cfg.data
    device = turn.device
    log.info(f"run {config_mod.run_id(cfg)} on {device}; output {out}")

    parts, data_info = load_parts(cfg, device)
    log.info(f"data: {data_info['n_train']} train / {data_info['n_val']} val / {data_info['n_test']} test "
             f"images from {data_info['dataset_root']}")
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    forward = torch.compile(model) if t.compile else model
    opt, sched = make_optimizer(model, t)
    stepper = Stepper(forward, model.parameters(), opt, t, device)
    ckpt = Checkpoint(out / layout.CHECKPOINT, config_mod.config_hash(cfg), model, opt, sched, device)
    state = ckpt.restore() or {"epoch": 0, "step": 0, "best_srcc": -math.inf, "best_epoch": -1,
                               "bad_epochs": 0, "best_val": None, "history": [], "epoch_loss": 0.0,
                               "epoch_seconds": 0.0}
    rng = state.pop("rng", None)
    if rng is not None:
        log.info(f"resumed from {ckpt.path}: epoch {state['epoch'] + 1}, step {state['step']}")
    steps = math.ceil(len(parts["train"]["keys"]) * d.train_patches / t.batch_size)
    progress = Progress(t.epochs, steps, t.log_every)

    while state["epoch"] < t.epochs and not stopped_early(state, t):
        yield from run_epoch(state, parts["train"], stepper, cfg, steps, progress, ckpt, rng, caught, turn)
        rng = None
        sched.step()
        select_epoch(state, forward, model, parts, cfg, out, opt)
        ckpt.save(state)

    if state["best_epoch"] < 0:
        raise TrainingError("no epoch finished; nothing to test")
    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(out / layout.MODEL), device=str(device)))
    test, pred, weights = evaluate_part(forward, parts["test"], cfg)
    log.info(f"test ({test['n_images']} images, model of epoch {state['best_epoch']}, selected on "
             f"{t.select}): SRCC {test['srcc']:.4f} PLCC {test['plcc']:.4f} KRCC {test['krcc']:.4f} "
             f"RMSE {test['rmse']:.3f}")
    write_predictions(out / layout.PREDICTIONS, parts["test"]["names"], parts["test"]["mos"].cpu().numpy(),
                      pred, weights)
    write_history(out / layout.HISTORY, state["history"])
    metrics = {"run_id": config_mod.run_id(cfg), "config": cfg.to_dict(), "test": test, "val": state["best_val"],
               "selected_on": t.select, "best_epoch": state["best_epoch"],
               "epochs_run": len(state["history"]),
               "provenance": run_provenance(cfg, model, device, data_info, state["history"], steps, started)}
    write_metrics(out, metrics)
    return metrics


class Turn:
    """What a run sets process-wide: torch's RNG streams, the log's handlers, the TF32 flags and, in a
    pack on a GPU, the CUDA stream its kernels queue on (so the GPU runs the pack's steps side by side).
    `pause` keeps them when the run yields, `resume` puts them back when it continues."""

    def __init__(self, device: torch.device, precision: str, handlers: list, own_stream: bool):
        self.device, self.precision, self.handlers = device, precision, handlers
        self.cuda = device.type == "cuda"
        self.stream = torch.cuda.Stream(device) if own_stream and self.cuda else None
        self.rng = None

    def resume(self) -> None:
        use_log(self.handlers)
        set_matmul_precision(self.precision)
        if self.stream is not None:
            torch.cuda.set_stream(self.stream)
        if self.rng is not None:
            torch.set_rng_state(self.rng[0])
            if self.cuda:
                torch.cuda.set_rng_state(self.rng[1], self.device)

    def pause(self) -> None:
        self.rng = (torch.get_rng_state(), torch.cuda.get_rng_state(self.device) if self.cuda else None)

    def end(self) -> None:
        if self.stream is not None:
            self.stream.synchronize()
            torch.cuda.set_stream(torch.cuda.default_stream(self.device))


def run_epoch(state: dict, train_part: dict, stepper: Stepper, cfg: RunConfig, steps: int, progress: Progress,
              ckpt: Checkpoint, rng, caught: dict, turn: Turn):
    """The optimisation steps of one epoch, from `state['step']`, yielding after each; saves and exits on a
    preemption signal."""
    t, d, epoch = cfg.train, cfg.data, state["epoch"]
    tic = time.time()
    gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
    index, corners, flips = train_positions(len(train_part["keys"]), d.train_patches, d.resize[1], d.resize[0],
                                            d.patch_size, gen)
    torch.manual_seed(cfg.seed * 100_003 + epoch)  # dropout, drop-path, colour jitter
    if rng is not None and state["step"] > 0:
        ckpt.continue_rng(rng)
    stepper.forward.train()
    channels_last = ckpt.device.type == "cuda"
    # Losses are read (on a GPU, a wait for the step) every step on a CPU, at progress lines on a GPU.
    every = 1 if ckpt.device.type == "cpu" else t.log_every
    losses = []
    for step in range(state["step"], steps):
        sl = slice(step * t.batch_size, (step + 1) * t.batch_size)
        x = make_batch(train_part["images"], index[sl], corners[sl], flips[sl], d, channels_last)
        y = train_part["mos"][index[sl].to(ckpt.device)] * t.label_scale
        losses.append(stepper.step(x, y))
        if (step + 1) % every == 0 or step + 1 == steps or caught["signal"] is not None:
            read_losses(losses, state, step, epoch, progress)
        if caught["signal"] is not None:
            state["epoch_seconds"] += time.time() - tic
            ckpt.save(state)
            log.info(f"signal {caught['signal']}: checkpoint saved at epoch {epoch + 1} step {step + 1}")
            raise Interrupted(128 + caught["signal"])
        turn.pause()
        yield
        turn.resume()
    progress.end_epoch()
    state["epoch_seconds"] += time.time() - tic


def read_losses(losses: list, state: dict, last: int, epoch: int, progress: Progress) -> None:
    """Add the losses of the steps up to `last` (0-based) to the epoch's, in order; stop at a non-finite one."""
    first = last + 1 - len(losses)
    for k, loss in enumerate(torch.stack(losses).tolist()):
        check_loss(loss, f" at epoch {epoch + 1} step {first + k + 1}")
        state["epoch_loss"] += loss
        state["step"] = first + k + 1
        progress.step(epoch, first + k, loss)
    losses.clear()


def select_epoch(state: dict, forward, model, parts: dict, cfg: RunConfig, out: Path, opt) -> None:
    """Score the epoch on the selection part, keep its weights if it is the best so far, log it."""
    t, epoch, tic = cfg.train, state["epoch"], time.time()
    no_val = {"srcc": math.nan, "plcc": math.nan}  # val_fraction 0: selected on test, nothing to report
    val = evaluate_part(forward, parts["val"], cfg)[0] if len(parts["val"]["keys"]) else no_val
    row = {"epoch": epoch + 1, "train_loss": state["epoch_loss"] / max(state["step"], 1),
           "val_srcc": val["srcc"], "val_plcc": val["plcc"]}
    score = val["srcc"]
    if t.select == "test":
        test = evaluate_part(forward, parts["test"], cfg)[0]
        row.update(test_srcc=test["srcc"], test_plcc=test["plcc"])
        score = test["srcc"]
    row.update({f"lr_{g['name']}": g["lr"] for g in opt.param_groups},
               seconds=round(state["epoch_seconds"] + time.time() - tic, 3))
    state["history"].append(row)
    # NaN SRCC (constant predictions) never counts as a gain, but epoch 1 is always kept.
    improved = state["best_epoch"] < 0 or score > state["best_srcc"]
    if improved:
        state.update(best_srcc=score if math.isfinite(score) else -math.inf, best_epoch=epoch + 1,
                     bad_epochs=0, best_val=val)
        save_model(out / layout.MODEL, model, cfg)
    else:
        state["bad_epochs"] += 1
    log.info(f"epoch {epoch + 1}/{t.epochs}: train loss {row['train_loss']:.4f} val SRCC {val['srcc']:.4f} "
             f"PLCC {val['plcc']:.4f}{' (best ' + t.select + ')' if improved else ''} {row['seconds']:.1f}s")
    state.update(epoch=epoch + 1, step=0, epoch_loss=0.0, epoch_seconds=0.0)


def stopped_early(state: dict, t: TrainConfig) -> bool:
    return t.patience is not None and state["bad_epochs"] >= t.patience and state["step"] == 0
