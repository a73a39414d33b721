"""Snakemake job: runs.csv, every table (+ provenance sidecars) and every figure."""
import sys

from iqa.report import aggregate

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
cfg = snakemake.config  # noqa: F821
# `--config strict=true` asks for one code version and a clean tree; see `iqa aggregate --help`
print("tables:", ", ".join(aggregate(cfg, "results", strict=bool(cfg.get("strict")))))
