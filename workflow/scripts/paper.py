"""Snakemake job: results/paper.pdf, every paper-form table and figure compiled with pdflatex."""
import sys

from iqa.core import layout
from iqa.results.document import build

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
seconds = build(snakemake.config, layout.RESULTS)  # noqa: F821
print(f"{layout.paper_pdf(layout.RESULTS)} compiled in {seconds:.1f} s")
