"""Choices and defaults that the library, the CLI (`iqa.cli`) and the workflow's schema
(workflow/schemas/config.schema.yaml) share, declared here because the modules that act on them import
torch and the CLI and the workflow read them without it. tests/test_vocab.py checks the schema against
these and against the library's other choices (`iqa.data.external.LOADERS`, `iqa.data.synthetic.MIXES`).
"""
from __future__ import annotations

# `iqa.core.device.resolve_device`; auto: CUDA when there is one, else the CPU
DEVICES = ("auto", "cpu", "cuda")

# `iqa.measure.complexity.measure`: one model's cost, measured on this machine
COMPLEXITY_PRECISIONS = ("fp32", "bf16")  # bf16: autocast, CUDA only
COMPLEXITY_DEFAULTS = {"device": "auto", "precision": "fp32", "batch": 32, "warmup": 5, "repeats": 20}
