from dataclasses import replace
from pathlib import Path

import pytest

from iqa.config import ModelConfig
from iqa.study import preflight
from iqa.data.fixtures import write_release
from iqa.study.spec import expand, load_study, rehearse

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def koniq(tmp_path_factory):
    root = tmp_path_factory.mktemp("koniq")
    write_release("koniq10k", root, 12)
    return root


def test_release_layout_dataset_passes_and_a_missing_root_is_named(koniq, tmp_path):
    assert preflight.check_data(str(koniq), "koniq10k", {}) is None
    problem = preflight.check_data(str(tmp_path / "nowhere"), "koniq10k", {})
    assert problem.startswith(f"data root {tmp_path / 'nowhere'} (koniq10k) not found") and "\n" not in problem


def test_an_image_that_does_not_decode_is_named_with_its_fix(koniq, tmp_path):
    import shutil

    root = tmp_path / "broken"
    shutil.copytree(koniq, root)
    label = (root / "koniq10k_scores_and_distributions.csv").read_text().splitlines()[1].split(",")[0]
    (root / "1024x768" / label).write_bytes(b"not a jpeg")
    problem = preflight.check_data(str(root), "koniq10k", {})
    assert label in problem and "does not decode" in problem and "replace it" in problem, problem


def test_missing_weights_name_the_hf_command():
    m = ModelConfig(name="swin_hyperiqa", size="tiny", head="seed", pretrained=True, weights_tag="ms_in1k")
    problems = preflight.check_weights([m])
    # a developer's cache may hold these weights; without them the line says how to get them
    assert not problems or problems[0].startswith("pretrained weights swin_tiny_patch4_window7_224.ms_in1k") \
        and "`hf download timm/swin_tiny_patch4_window7_224.ms_in1k`" in problems[0]
    problems = preflight.check_weights([replace(m, weights="/nonexistent.safetensors")])
    assert problems == ["model.weights: file not found for swin_tiny_patch4_window7_224.ms_in1k: /nonexistent.safetensors"]


def test_disk_need_counts_models_checkpoints_and_cache_and_fails_when_space_is_short(monkeypatch):
    cfg = rehearse(load_study([REPO / "config/koniq10k.yaml", REPO / "config/rehearsal.yaml"]))
    study = expand(cfg)
    need = preflight.needs(cfg, study, list(study.runs), [], parallel=2)
    need.cache_pixels = 1000
    b = preflight.disk_bytes(need)
    assert b["models"] > 4 * 1e6 * len(study.runs) and b["cache"] == 3000  # nano models have over 1M parameters
    assert b["checkpoints"] < b["models"]
    monkeypatch.setattr(preflight.shutil, "disk_usage", lambda p: type("U", (), {"free": 10})())
    problem = preflight.check_disk(need, "results")
    assert problem.startswith("disk: results needs about") and "has 0.0 GB free" in problem and "\n" not in problem
