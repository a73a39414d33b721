"""Snakemake job: train a pack of runs, a step of each in turn, into results/runs/<run_id>/."""
import sys
from pathlib import Path

import torch

from iqa.config import RunConfig
from iqa.training.pack import train_pack

sys.stderr = sys.stdout = open(snakemake.log[0], "a")  # noqa: F821 (snakemake injects it)
torch.set_num_threads(snakemake.threads)  # noqa: F821
train_pack([RunConfig.from_dict(run) for run in snakemake.params.runs], [Path(f).parent for f in snakemake.output],  # noqa: F821
           [Path(f) for f in snakemake.log[1:]])  # noqa: F821
