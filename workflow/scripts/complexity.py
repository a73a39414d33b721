"""Snakemake job: parameters, FLOPs, latency and throughput of experiments' models, on this machine, one
after another."""
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

from iqa.core.choices import COMPLEXITY_DEFAULTS
from iqa.config import ModelConfig
from iqa.measure.complexity import measure
from iqa.core.device import resolve_device
from iqa.core.files import atomic_write

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
torch.set_num_threads(snakemake.threads)  # noqa: F821
spec = {**COMPLEXITY_DEFAULTS, **snakemake.params.spec}  # noqa: F821 (the schema fills the same defaults)
for model, out in zip(snakemake.params.models, snakemake.output):  # noqa: F821
    model = replace(ModelConfig.of(model), pretrained=False, weights=None)
    figures = measure(model, resolve_device(spec["device"]), spec["precision"], spec["batch"])
    atomic_write(Path(out), lambda tmp: tmp.write_text(json.dumps(figures, indent=2)))
    print(json.dumps(figures, indent=2))
