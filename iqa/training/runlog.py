"""A run's log: plain lines in train.log, a live progress line on a terminal."""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from iqa.core import layout

log = logging.getLogger("iqa")


def setup_logging(out: Path, echo: Path | None = None) -> list[logging.Handler]:
    """Send the log to out/train.log and echo it to stderr (or to the file `echo`); return the handlers,
    which `use_log` puts back when runs of a pack take turns. The caller closes them (`close_log`)."""
    fh = logging.FileHandler(out / layout.TRAIN_LOG)
    fh.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    sh = logging.FileHandler(echo) if echo is not None else logging.StreamHandler(sys.stderr)
    sh.setFormatter(logging.Formatter("%(message)s"))
    use_log([fh, sh])
    return [fh, sh]


def use_log(handlers: list[logging.Handler]) -> None:
    log.setLevel(logging.INFO)
    log.handlers[:] = handlers
    log.propagate = False


def close_log(handlers: list[logging.Handler]) -> None:
    for h in handlers:
        if h in log.handlers:
            log.removeHandler(h)
        h.close()


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
