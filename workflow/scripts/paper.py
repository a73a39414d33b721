"""Snakemake job: results/paper.pdf, every paper-form table and figure compiled with pdflatex."""
import sys

from iqa.results.document import build

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
print(f"results/paper.pdf compiled in {build(snakemake.config, 'results'):.1f} s")  # noqa: F821
