"""Snakemake job: runs.csv, every figure and the numbers for the prose (the table jobs write the tables)."""
import sys

from iqa.core.layout import RESULTS
from iqa.results.aggregate import aggregate

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
cfg = snakemake.config  # noqa: F821
# `--config strict=true` asks for one code version and a clean tree; see `iqa aggregate --help`
print("tables:", ", ".join(aggregate(cfg, RESULTS, strict=bool(cfg.get("strict")), write_tables=False)))
