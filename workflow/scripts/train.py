"""Snakemake job: train one run of the study into results/runs/<run_id>/."""
import sys
from pathlib import Path

import torch

from iqa.config import RunConfig
from iqa.training.train import train

sys.stderr = sys.stdout = open(snakemake.log[0], "a")  # noqa: F821 (snakemake injects it)
torch.set_num_threads(snakemake.threads)  # noqa: F821
train(RunConfig.from_dict(snakemake.params.run), Path(snakemake.output[0]).parent)  # noqa: F821
