"""Snakemake job: parameters, FLOPs, latency and throughput of one experiment's model, on this machine."""
import json
import sys
from pathlib import Path

import torch

from iqa.complexity import measure
from iqa.device import resolve_device
from iqa.record import atomic_write

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
torch.set_num_threads(snakemake.threads)  # noqa: F821
spec = snakemake.params.spec  # noqa: F821
model = {**snakemake.params.model, "pretrained": False, "weights": None}  # noqa: F821
figures = measure(model, resolve_device(spec.get("device", "auto")), spec.get("precision", "fp32"),
                  spec.get("batch", 32))
out = Path(snakemake.output[0])  # noqa: F821
atomic_write(out, lambda tmp: tmp.write_text(json.dumps(figures, indent=2)))
print(json.dumps(figures, indent=2))
