import pytest

from iqa import config
from iqa.data.synthetic import make_synthetic


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory):
    """A small synthetic dataset shared by the tests (read-only)."""
    return make_synthetic(tmp_path_factory.mktemp("synthetic"), 60, seed=0)


def nano_config(root, cache, **overrides):
    """A resolved config for a nano run that trains in seconds."""
    cfg = config.RunConfig.from_dict({
        "name": "t",
        "model": {"name": "swin_hyperiqa", "size": "nano", "drop_path_rate": 0.0, "hyper_dropout": 0.0,
                  "target_dropout": 0.0},
        "data": {"root": str(root), "patch_size": 64, "train_patches": 2, "test_crops": "random:2",
                 "cache_dir": str(cache)},
        "train": {"epochs": 2, "batch_size": 32, "lr": 1e-3, "label_scale": 0.01, "patience": None},
    })
    for text in overrides.get("set", []):
        cfg = cfg.merged(config.parse_override(text))
    return cfg


@pytest.fixture(scope="session")
def nano_run(synthetic, tmp_path_factory):
    """A finished one-epoch nano Swin run (with scale attention) on the shared synthetic set (read-only)."""
    from iqa.training.train import train

    base = tmp_path_factory.mktemp("nano_run")
    train(nano_config(synthetic, base / "cache", set=["train.epochs=1"]), base / "run")
    return base / "run"
