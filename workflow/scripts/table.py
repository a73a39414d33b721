"""Snakemake job: one table (+ its provenance sidecar) from the runs behind it."""
import sys

from iqa.core.layout import RESULTS
from iqa.results.aggregate import aggregate

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
cfg = snakemake.config  # noqa: F821
print("table:", *aggregate(cfg, RESULTS, strict=bool(cfg.get("strict")), only=[snakemake.params.table]))  # noqa: F821
