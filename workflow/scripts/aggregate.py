"""Snakemake job: runs.csv, every table (+ provenance sidecars) and every figure."""
import sys

from iqa.report import aggregate

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
print("tables:", ", ".join(aggregate(snakemake.config, "results")))  # noqa: F821
