import pytest

from iqa import config


def test_unknown_key_names_the_closest_valid_key():
    with pytest.raises(config.ConfigError, match=r"unknown key 'train\.lrr'.*'train\.lr'"):
        config.load(None, ["train.lrr=1e-6"])


@pytest.mark.parametrize("override, message", [
    ("train.lr=0", "train.lr"),
    ("train.lr=-1e-6", "train.lr"),
    ("model.size=huge", "model.size"),
    ("model.name=vgg", "model.name"),
    ("train.optimizer=sgd", "train.optimizer"),
    ("data.test_crops=random:0", "data.test_crops"),
    ("train.epochs=abc", "train.epochs"),
    ("model.multiscale=maybe", "model.multiscale"),
])
def test_invalid_values_are_named(override, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(None, [override])


def test_yaml_file_and_overrides(tmp_path):
    path = tmp_path / "c3.yaml"
    path.write_text("train:\n  lr: 5e-7\nmodel:\n  size: tiny\n")
    cfg = config.load(path, ["train.epochs=3"])
    assert cfg["train"]["lr"] == 5e-7 and cfg["model"]["size"] == "tiny" and cfg["train"]["epochs"] == 3
    assert cfg["name"] == "c3"
    path.write_text("trian: {lr: 1}\n")
    with pytest.raises(config.ConfigError, match=str(path)):
        config.load(path)


def test_run_id_depends_on_config_not_name():
    a = config.load(None, ["name=a"])
    b = config.load(None, ["name=b", "data.cache_dir=/elsewhere"])  # another name, and a key not hashed
    c = config.load(None, ["name=a", "train.lr=1e-6"])
    assert config.config_hash(a) == config.config_hash(b) != config.config_hash(c)
    short = config.config_hash(a)[:10]
    assert config.run_id(a) == f"a-{short}" and config.run_id(b) == f"b-{short}"
