"""Snakemake job: score one finished run's model on one external dataset, without retraining."""
import sys
from pathlib import Path

import torch

from iqa.core import layout
from iqa.training.score import score_dataset

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
torch.set_num_threads(snakemake.threads)  # noqa: F821
spec = snakemake.params.spec  # noqa: F821
run_dir = Path(snakemake.input.run).parent  # noqa: F821
m = score_dataset(run_dir / layout.MODEL, spec["kind"], spec["root"], Path(snakemake.output[0]).parent,  # noqa: F821
                  spec.get("options"))
print(f"{m['model_run_id']} on {spec['kind']} {spec['root']}: SRCC {m['test']['srcc']:.4f}")
