"""What a run writes: model files byte-identical across processes."""
import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from iqa.models.saved import saved_config
from iqa.training.record import sha256_file

# A fresh interpreter saves a model: safetensors' metadata order is drawn per process.
SAVE = """
import sys, torch
from pathlib import Path
from iqa import config
from iqa.models.saved import save_model
cfg = config.RunConfig.from_dict({"name": "t"})
torch.manual_seed(0)
save_model(Path(sys.argv[1]), torch.nn.Linear(3, 2), cfg)
"""


@pytest.mark.slow  # three fresh interpreters import torch
def test_equal_weights_give_equal_bytes_in_every_process(tmp_path):
    # Unsorted, each process wrote one of two key orders: three agreeing by chance is a 1 in 4 event,
    # all three sorted 1 in 8.
    paths = [tmp_path / f"model{i}.safetensors" for i in range(3)]
    for path in paths:
        subprocess.run([sys.executable, "-c", SAVE, str(path)], check=True)
    assert len({sha256_file(p) for p in paths}) == 1
    blob = paths[0].read_bytes()
    meta = json.loads(blob[8:8 + int.from_bytes(blob[:8], "little")])["__metadata__"]
    assert list(meta) == sorted(meta)
    torch.manual_seed(0)
    expected = torch.nn.Linear(3, 2).state_dict()
    loaded = load_file(str(paths[0]))
    assert loaded.keys() == expected.keys() and all(torch.equal(loaded[k], expected[k]) for k in expected)
    assert saved_config(paths[0]).name == "t"
