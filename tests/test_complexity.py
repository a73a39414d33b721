import json
from dataclasses import replace

import pytest
import torch
import yaml

from iqa import config

from iqa.measure import complexity
from iqa.cli import main
from iqa.models.builder import build_model, count_parameters
from iqa.models.saved import save_model

CPU = torch.device("cpu")
FIGURES = ("parameters", "backbone_parameters", "head_parameters", "gflops", "latency_ms",
           "throughput_images_per_s")


@pytest.mark.parametrize("name", ["hyperiqa_resnet50", "swin_hyperiqa"])
def test_measure_nano_gives_every_figure_and_the_builders_parameter_count(name):
    m = complexity.model_section(name=name, size="nano")
    out = complexity.measure(m, CPU, "fp32", batch=2, warmup=1, repeats=2)
    for key in FIGURES:
        assert out[key] > 0, key
    built = build_model(m)
    assert out["parameters"] == count_parameters(built)
    assert out["backbone_parameters"] == count_parameters(built.backbone)
    assert out["unit"] == "one 64x64 patch forward" and out["throughput_batch"] == 2
    q1, q3 = out["latency_ms_quartiles"]
    assert q1 <= out["latency_ms"] <= q3
    assert out["device_name"] and out["threads"] == torch.get_num_threads()
    assert out["torch"] == torch.__version__ and out["precision"] == "fp32"


def test_family_defaults_are_the_full_swin_and_the_original_resnet():
    swin = complexity.model_section(name="swin_hyperiqa", size="nano")
    resnet = complexity.model_section(name="hyperiqa_resnet50", size="nano", head="original")
    assert swin.multiscale and swin.attention_fusion and not swin.pretrained
    assert not resnet.multiscale and not resnet.attention_fusion


def test_yaml_config_gives_the_model_and_flags_override_it(tmp_path):
    run = {"model": {"name": "swin_hyperiqa", "size": "nano", "head": "seed", "attention_fusion": False,
                     "pretrained": True},
           "data": {"patch_size": 64}}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(run))
    m = complexity.model_section(path, multiscale=False)
    switches = (m.head, m.multiscale, m.attention_fusion, m.pretrained)
    assert switches == ("seed", False, False, False)


def test_checkpoint_config_gives_the_model_it_was_trained_with(tmp_path):
    cfg = config.load(None, {"model": {"name": "hyperiqa_resnet50", "size": "nano", "multiscale": False,
                                       "attention_fusion": False}, "data": {"patch_size": 64}})
    path = tmp_path / "model.safetensors"
    save_model(path, build_model(cfg.model), cfg)
    assert complexity.model_section(path) == replace(cfg.model, pretrained=False, weights=None)


@pytest.mark.parametrize("kwargs, message", [({}, "give --run-config, --model-file, or --model and --size"),
                                             ({"name": "swin_hyperiqa", "size": "huge"}, "'model.size'"),
                                             ({"config": "run.json"}, "must be a run config")])
def test_model_section_rejects_what_names_no_model(kwargs, message):
    with pytest.raises(ValueError, match=message):
        complexity.model_section(**kwargs)


def test_bf16_on_cpu_is_refused():
    with pytest.raises(ValueError, match="CUDA only"):
        complexity.measure(complexity.model_section(name="swin_hyperiqa", size="nano"), CPU, "bf16")


def test_cli_writes_the_json(tmp_path, capsys):
    out = tmp_path / "tables" / "swin_nano.json"
    assert main(["complexity", "--model", "swin_hyperiqa", "--size", "nano", "--no-attention", "--batch", "2",
                 "--warmup", "0", "--repeats", "1", "--out", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert saved["model"]["attention_fusion"] is False and saved["model"]["multiscale"] is True
    assert saved["precision"] == "fp32" and saved["throughput_batch"] == 2
    assert str(out) in capsys.readouterr().out
    assert main(["complexity", "--model", "swin_hyperiqa", "--size", "nano", "--repeats", "0"]) == 2
