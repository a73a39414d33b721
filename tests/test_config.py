import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from iqa import config
from iqa.study.spec import expand, load_study


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
    assert cfg.train.lr == 5e-7 and cfg.model.size == "tiny" and cfg.train.epochs == 3
    assert cfg.name == "c3"
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


# Run ids, and a digest of every run's config in dict form, of the demo, paper and rehearsal studies as
# they were while run configs were nested dicts: the typed config must give them byte for byte.
RECORDED = json.loads((Path(__file__).parent / "recorded_runs.json").read_text())


@pytest.mark.parametrize("files", list(RECORDED))
def test_typed_runs_keep_the_ids_and_dicts_of_the_dict_configs(files):
    study = expand(load_study(files.split("+")))
    runs = {rid: cfg.to_dict() for rid, cfg in study.runs.items()}
    assert list(runs) == RECORDED[files]["run_ids"]
    assert hashlib.sha256(json.dumps(runs).encode()).hexdigest() == RECORDED[files]["config_digest"]
    for rid, cfg in study.runs.items():
        assert config.RunConfig.from_dict(runs[rid]) == cfg and config.run_id(cfg) == rid


def test_the_declaration_gives_the_defaults_and_the_dict_form():
    assert config.RunConfig().to_dict() == config.DEFAULTS
    assert list(config.KEYS) == [(k,) for k in ("name", "seed")] + [
        (s, f.name) for s in ("model", "data", "train", "eval")
        for f in dataclasses.fields(type(getattr(config.RunConfig(), s)))]
    cfg = config.RunConfig.from_dict({"data": {"resize": [640, 480]}, "train": {"lr": "5e-7", "lr_ratio": 10}})
    assert cfg.data.resize == (640, 480) and cfg.to_dict()["data"]["resize"] == [640, 480]
    assert cfg.train.lr == 5e-7 and isinstance(cfg.train.lr, float)  # YAML's 5e-7 is a string
    assert cfg.to_dict()["train"]["lr_ratio"] == 10 and isinstance(cfg.train.lr_ratio, int)  # as given: the hash
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.lr = 1e-3


@pytest.mark.parametrize("given, message", [
    ({"train": {"lrr": 1}}, "config: unknown key 'train.lrr' (did you mean 'train.lr'?)"),
    ({"model": "tiny"}, "config: 'model' must be a mapping, got 'tiny'"),
    ({"train": {"epochs": "abc"}}, "'train.epochs' must be a number, got 'abc'"),
    ({"train": {"epochs": 2.5}}, "'train.epochs' must be a whole number, got 2.5"),
    ({"model": {"multiscale": "maybe"}}, "'model.multiscale' must be true or false, got 'maybe'"),
    ({"data": {"resize": [512]}}, "'data.resize' must be a list of 2 numbers, got [512]"),
    ({"train": {"optimizer": "sgd"}}, "'train.optimizer' must be one of ['adamw', 'adam'], got 'sgd'"),
    ({"train": {"lr": 0}}, "'train.lr' must be > 0, got 0"),
    ({"data": {"root": None}}, "'data.root' must not be null"),
    ({"data": {"patch_size": 64}}, "'data.patch_size' is 64 but swin_hyperiqa size base takes 224 px patches"),
])
def test_from_dict_refuses_with_the_messages_of_the_dict_configs(given, message):
    with pytest.raises(config.ConfigError) as e:
        config.RunConfig.from_dict(given)
    assert str(e.value) == message


def test_merged_overrides_a_config_and_validates_it():
    cfg = config.RunConfig.from_dict({"name": "a"})
    assert cfg.merged({"train": {"epochs": 3}}).train.epochs == 3 and cfg.train.epochs == 10
    with pytest.raises(config.ConfigError, match=r"^rehearsal: unknown key 'train\.epoch'"):
        cfg.merged({"train": {"epoch": 3}}, where="rehearsal")
