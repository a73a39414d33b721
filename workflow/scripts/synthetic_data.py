"""Snakemake job: the embedded synthetic dataset, in KonIQ-10k's release format."""
import sys
from pathlib import Path

from iqa.synthetic import make_synthetic

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
root = make_synthetic(Path(snakemake.output[0]).parent, snakemake.params.n, snakemake.params.seed)  # noqa: F821
print(f"wrote {snakemake.params.n} images to {root}")  # noqa: F821
