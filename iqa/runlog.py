"""A run's log: plain lines in train.log, a live progress line on a terminal."""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

log = logging.getLogger("iqa")


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


class Progress:
    """A live line on a terminal; plain lines every `every` steps in the log file."""

    def __init__(self, epochs: int, steps: int, every: int):
        self.epochs, self.steps, self.every = epochs, steps, every
        self.tty = sys.stderr.isatty()
        self.t0 = time.time()
        self.done = 0

    def step(self, epoch: int, step: int, loss: float) -> None:
        self.done += 1
        rate = self.done / max(time.time() - self.t0, 1e-9)
        remaining = (self.epochs - epoch) * self.steps - step - 1
        line = (f"epoch {epoch + 1}/{self.epochs} step {step + 1}/{self.steps} loss {loss:.4f} "
                f"{rate:.1f} it/s ETA {remaining / rate:.0f}s")
        if self.tty:
            sys.stderr.write("\r" + line + " " * 8)
            sys.stderr.flush()
        if (step + 1) % self.every == 0 or step + 1 == self.steps:
            log.handlers[0].handle(log.makeRecord("iqa", logging.INFO, "", 0, line, None, None))

    def end_epoch(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
