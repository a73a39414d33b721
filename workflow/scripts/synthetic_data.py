"""Snakemake job: a generated dataset: the demo's (KonIQ-10k-style, `iqa make-synthetic`) or a rehearsal's
in a real dataset's release layout (`iqa.data.fixtures`)."""
import sys
from pathlib import Path

from iqa.data.fixtures import write_release
from iqa.data.synthetic import make_synthetic

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
spec = snakemake.params.spec  # noqa: F821
root = snakemake.wildcards.root  # noqa: F821
if spec["kind"]:
    write_release(spec["kind"], root, spec["n"], spec["seed"], spec["mix"])
else:
    make_synthetic(root, spec["n"], spec["seed"], spec["mix"])
print(f"wrote {spec['n']} images ({spec['mix']} mix, {spec['kind'] or 'demo'} layout) to {root}")
