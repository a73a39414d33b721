"""Snakemake job: score several finished runs' models on one external dataset, one after another, in one
process; each score's lines go to its own log, and one that fails does not stop the others."""
import sys
import traceback
from pathlib import Path

import torch

from iqa.core import layout
from iqa.training.score import score_dataset

torch.set_num_threads(snakemake.threads)  # noqa: F821 (snakemake injects it)
spec = snakemake.params.spec  # noqa: F821
failed = []
for run, out, log in zip(snakemake.input.runs, snakemake.output, snakemake.log):  # noqa: F821
    with open(log, "w") as f:
        sys.stderr = sys.stdout = f
        try:
            m = score_dataset(Path(run).parent / layout.MODEL, spec["kind"], spec["root"], Path(out).parent,
                              spec.get("options"))
            print(f"{m['model_run_id']} on {spec['kind']} {spec['root']}: SRCC {m['test']['srcc']:.4f}")
        except Exception:
            traceback.print_exc()
            failed.append(Path(run).parent.name)
        sys.stderr, sys.stdout = sys.__stderr__, sys.__stdout__
if failed:
    raise SystemExit(f"scoring failed for {', '.join(failed)}: see their logs")
