"""Snakemake job: one experiment's runs on every split, summarised (run ids and test metrics per split)."""
import json
import sys

from iqa.core.layout import RESULTS
from iqa.results.aggregate import experiment_summary

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
summary = experiment_summary(snakemake.config, RESULTS, snakemake.wildcards.experiment)  # noqa: F821
open(snakemake.output[0], "w").write(json.dumps(summary, indent=2))  # noqa: F821
