"""Resumable training state and the signals that ask a run to save it and stop.

A checkpoint holds the model, optimiser, scheduler, loop state and RNG streams; a run resumed from it
ends with the same numbers as an uninterrupted one.
"""
from __future__ import annotations

import contextlib
import json
import signal
from pathlib import Path

import torch

from iqa.core.errors import TrainingError
from iqa.core.files import atomic_write


class Interrupted(SystemExit):
    """SIGTERM/SIGUSR1/SIGURG arrived: the checkpoint is saved, the run exits non-zero to be resumed."""


class Checkpoint:
    def __init__(self, path: Path, config_hash: str, model, opt, sched, device: torch.device):
        self.path, self.config_hash = path, config_hash
        self.model, self.opt, self.sched, self.device = model, opt, sched, device

    def save(self, state: dict) -> None:
        snapshot = {"config_hash": self.config_hash, "model": self.model.state_dict(),
                    "optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
                    "state": json.dumps(state), "rng": torch.get_rng_state()}
        if self.device.type == "cuda":  # dropout and drop-path draw from the GPU's generator there
            snapshot["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        atomic_write(self.path, lambda tmp: torch.save(snapshot, tmp))

    def restore(self) -> dict | None:
        """Load model, optimiser and scheduler; return the loop state (with its RNG streams), or None."""
        if not self.path.is_file():
            return None
        ckpt = torch.load(self.path, map_location="cpu", weights_only=True)
        if ckpt["config_hash"] != self.config_hash:
            raise TrainingError(f"{self.path} belongs to another config (hash {ckpt['config_hash'][:10]}); "
                                f"move it away or use another --out")
        self.model.load_state_dict(ckpt["model"])
        self.opt.load_state_dict(ckpt["optimizer"])
        self.sched.load_state_dict(ckpt["scheduler"])
        state = json.loads(ckpt["state"])
        state["best_srcc"] = float(state["best_srcc"])
        state["rng"] = (ckpt["rng"], ckpt.get("cuda_rng"))
        return state

    def continue_rng(self, rng) -> None:
        """Mid-epoch resume: carry on the saved random streams instead of the epoch's fresh seed."""
        torch.set_rng_state(rng[0])
        if rng[1] is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng[1], self.device)


@contextlib.contextmanager
def preemption_signals():
    """Yield a dict whose 'signal' is set when SIGTERM, SIGUSR1 or SIGURG arrives.

    SLURM profiles send SIGURG ahead of a time limit (SIGUSR1 would also kill the job step).
    """
    caught = {"signal": None}

    def on_signal(signum, frame):
        caught["signal"] = signum

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGUSR1, signal.SIGURG)}
    try:
        yield caught
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
