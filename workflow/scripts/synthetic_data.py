"""Snakemake job: a synthetic dataset in KonIQ-10k's release format (the demo's training or test data)."""
import sys
from pathlib import Path

from iqa.synthetic import make_synthetic

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
spec = snakemake.params.spec  # noqa: F821
root = make_synthetic(Path(snakemake.output[0]).parent, spec["n"], spec["seed"], spec["mix"])  # noqa: F821
print(f"wrote {spec['n']} images ({spec['mix']} mix) to {root}")
