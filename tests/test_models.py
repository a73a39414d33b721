from dataclasses import replace

import pytest
import torch

from iqa.config import ModelConfig
from iqa.models import FAMILIES
from iqa.models.builder import attach_head, build_backbone, build_model, count_parameters
from iqa.models.hyperiqa import HEADS

# Parameters outside the backbone of the seed system's Swin head, counted from its code with weights off
# (seed-system.md): size -> (C1 single scale, C2 multi-scale, C3 multi-scale + attention).
SEED_HEAD_PARAMS = {"tiny": (1_461_705, 1_805_769, 2_003_661), "small": (1_461_705, 1_805_769, 2_003_661),
                    "base": (1_648_585, 2_107_337, 2_370_765)}
# Its whole C3 networks with timm's features_only backbone.
SEED_C3_TOTAL = {"tiny": 29_521_479, "small": 50_839_383, "base": 89_111_941}
# (multiscale, attention_fusion) of C1, C2, C3; A2 is (False, True).
SWITCHES = {"C1": (False, False), "C2": (True, False), "C3": (True, True)}


def model_cfg(name="swin_hyperiqa", size="nano", multiscale=True, attention=True, head="original"):
    return ModelConfig(name=name, size=size, multiscale=multiscale, attention_fusion=attention, head=head,
                       pretrained=False, weights=None, drop_path_rate=0.0, hyper_dropout=0.0, target_dropout=0.0)


@pytest.mark.slow
def test_hyperiqa_resnet50_matches_original_parameter_count():
    model = build_model(model_cfg("hyperiqa_resnet50", "base", False, False))
    assert count_parameters(model) == 27_375_369
    model.eval()
    with torch.no_grad():
        feats = model.backbone.forward_intermediates(torch.zeros(1, 3, 224, 224), indices=4,
                                                     intermediates_only=True)
        assert [tuple(f.shape[1:]) for f in feats] == [(256, 56, 56), (512, 28, 28), (1024, 14, 14),
                                                       (2048, 7, 7)]
        assert model.lda(feats).shape == (1, 224)
        params = model.hyper(feats[-1])
    assert [tuple(w.shape[1:]) for w, _ in params] == [(112, 224), (56, 112), (28, 56), (14, 28), (1, 14)]


@pytest.mark.parametrize("multiscale", [False, True])
@pytest.mark.parametrize("attention", [False, True])
@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("head", list(HEADS))
def test_every_switch_combination_builds_and_scores(family, multiscale, attention, head):
    model = build_model(model_cfg(family, "nano", multiscale, attention, head))
    scores, weights = model(torch.randn(3, 3, 64, 64))
    assert scores.shape == (3,)
    if attention and (multiscale or head == "original"):
        assert weights.shape == (3, 4)
        assert torch.allclose(weights.sum(1), torch.ones(3))
    else:
        assert weights is None


def test_multiscale_hyper_input_channels():
    # tiny/small stages 96+192+384+768 = 1440, base 128+256+512+1024 = 1920 (method.md)
    for size, channels in (("tiny", 1440), ("base", 1920)):
        model = build_model(model_cfg(size=size))
        assert model.hyper.reduce[0].in_channels == channels


def test_pretrained_without_weights_fails_fast(tmp_path, monkeypatch):
    from iqa.core.errors import WeightsMissing

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsMissing, match="model.weights"):
        build_model(replace(model_cfg(size="tiny"), pretrained=True))
    with pytest.raises(WeightsMissing, match="not found"):
        build_model(replace(model_cfg(size="tiny"), pretrained=True, weights=str(tmp_path / "none.pth")))


def test_pretrained_from_local_file(tmp_path):
    import timm
    from safetensors.torch import save_file

    ref = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, num_classes=0, img_size=64,
                            window_size=4, embed_dim=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8))
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(path))
    model = build_model(replace(model_cfg(), pretrained=True, weights=str(path)))
    assert torch.equal(model.backbone.patch_embed.proj.weight, ref.patch_embed.proj.weight)


@pytest.mark.slow
@pytest.mark.parametrize("size", list(SEED_HEAD_PARAMS))
def test_seed_head_parameter_counts_match_the_seed_system(size):
    backbone, channels = build_backbone(model_cfg(size=size, head="seed"))
    n_backbone = count_parameters(backbone)
    for (variant, (multiscale, attention)), expected in zip(SWITCHES.items(), SEED_HEAD_PARAMS[size]):
        cfg = model_cfg(size=size, multiscale=multiscale, attention=attention, head="seed")
        model = attach_head(backbone, channels, cfg)
        assert count_parameters(model) - n_backbone == expected, variant
    assert n_backbone + SEED_HEAD_PARAMS[size][2] == SEED_C3_TOTAL[size]


@pytest.mark.slow
@pytest.mark.parametrize("size", list(SEED_HEAD_PARAMS))
def test_pruned_backbone_has_the_parameters_of_features_only(size):
    import timm

    arch = FAMILIES["swin_hyperiqa"][size][0]
    features_only = timm.create_model(arch, pretrained=False, features_only=True, out_indices=(0, 1, 2, 3))
    backbone, _ = build_backbone(model_cfg(size=size))
    assert count_parameters(backbone) == count_parameters(features_only)


def test_head_widths():
    """Seed LDA convs are 16/32/64 at every size; the original's are stage channels / 16 (16/32/64 on
    ResNet-50, 1/2/4 on the nano backbone's 16/32/64 channels)."""
    backbone, channels = build_backbone(model_cfg())
    widths = {}
    for head in HEADS:
        model = attach_head(backbone, channels, model_cfg(head=head))
        widths[head] = ([c.out_channels for c in model.lda.convs[:3]],
                        [m.out_channels for m in model.hyper.reduce if isinstance(m, torch.nn.Conv2d)])
    assert widths == {"original": ([1, 2, 4], [1024, 512, 112]), "seed": ([16, 32, 64], [512, 256, 112])}


def test_seed_head_a2_is_c1():
    x = torch.randn(2, 3, 64, 64)
    outputs = []
    for attention in (False, True):
        torch.manual_seed(0)
        model = build_model(model_cfg(multiscale=False, attention=attention, head="seed")).eval()
        with torch.no_grad():
            outputs.append((model.state_dict(), *model(x)))
    (c1_state, c1_scores, _), (a2_state, a2_scores, a2_weights) = outputs
    assert a2_weights is None
    assert c1_state.keys() == a2_state.keys()
    assert all(torch.equal(c1_state[k], a2_state[k]) for k in c1_state)
    assert torch.equal(c1_scores, a2_scores)


def test_seed_attention_starts_near_uniform():
    torch.manual_seed(0)
    model = build_model(model_cfg(head="seed")).eval()
    linears = [m for m in model.attention.mlp if isinstance(m, torch.nn.Linear)]
    assert all(torch.count_nonzero(m.bias) == 0 for m in linears)
    assert linears[0].weight.std().item() == pytest.approx(0.01, rel=0.1)
    with torch.no_grad():
        _, weights = model(torch.randn(4, 3, 64, 64))
    assert torch.allclose(weights, torch.full_like(weights, 0.25), atol=1e-3)


@pytest.mark.parametrize("head, dropped_at", [("original", "reduce"), ("seed", "weight_convs")])
def test_hyper_dropout_position(head, dropped_at):
    """Dropout zeroes the hyper input (original) or the 112-channel map (seed), and nothing else."""
    torch.manual_seed(0)
    model = build_model(replace(model_cfg(multiscale=True, attention=False, head=head), hyper_dropout=0.5))
    taps = {"reduce": model.hyper.reduce[0], "weight_convs": model.hyper.weight_convs[0]}
    seen = {}
    for name, module in taps.items():
        module.register_forward_hook(lambda m, inp, out, name=name: seen.setdefault(name, []).append(inp[0]))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        model.eval()(x)
        model.train()(x)
    for name in taps:
        clean, noisy = seen[name]
        if name == dropped_at:  # inverted dropout: each value kept at twice its size or zeroed
            assert torch.all((noisy == 0) | torch.isclose(noisy, 2 * clean))
            assert torch.count_nonzero(noisy) < 0.75 * torch.count_nonzero(clean)
        elif name == "reduce":
            assert torch.equal(noisy, clean)


def test_weights_tag_names_the_tagged_weights(tmp_path, monkeypatch):
    from iqa.core.errors import WeightsMissing

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = replace(model_cfg("hyperiqa_resnet50", "base", False, False), pretrained=True, weights_tag="tv_in1k")
    with pytest.raises(WeightsMissing, match=r"resnet50\.tv_in1k"):
        build_model(cfg)
    with pytest.raises(ValueError, match="model.weights_tag"):
        build_model(replace(cfg, weights_tag="no_such_tag"))


def test_weights_tag_loads_a_local_file(tmp_path):
    import timm
    from safetensors.torch import save_file

    ref = timm.create_model("resnet50", pretrained=False)  # with its 1000-class fc, like the released file
    path = tmp_path / "resnet50.tv_in1k.safetensors"
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(path))
    cfg = replace(model_cfg("hyperiqa_resnet50", "base", False, False), pretrained=True, weights=str(path),
                  weights_tag="tv_in1k")
    model = build_model(cfg)
    assert model.backbone.pretrained_cfg["tag"] == "tv_in1k"
    state = model.backbone.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in ref.state_dict().items() if not k.startswith("fc."))


# Every network the paper config trains, at its real size with weights off: the seed's counts (seed-system.md)
# and the original HyperIQA's, exactly. Keyed by (name, size, head, multiscale, attention).
SEED_BACKBONE_BASE = 86_741_176
PAPER_COUNTS = {
    ("hyperiqa_resnet50", "base", "original", False, False): 27_375_369,
    ("swin_hyperiqa", "base", "seed", False, False): SEED_BACKBONE_BASE + 1_648_585,  # C1
    ("swin_hyperiqa", "base", "seed", False, True): SEED_BACKBONE_BASE + 1_648_585,  # A2 = C1's network
    ("swin_hyperiqa", "base", "seed", True, False): SEED_BACKBONE_BASE + 2_107_337,  # C2
    ("swin_hyperiqa", "base", "seed", True, True): 89_111_941,  # C3
    ("swin_hyperiqa", "tiny", "seed", True, True): 29_521_479,
    ("swin_hyperiqa", "small", "seed", True, True): 50_839_383,
}


@pytest.mark.slow
def test_every_model_of_the_paper_config_has_the_seeds_parameter_count():
    import yaml

    from iqa.study.spec import expand

    study = expand(yaml.safe_load(open("config/koniq10k.yaml")))
    networks = {(m.name, m.size, m.head, m.multiscale, m.attention_fusion)
                for m in (cfg.model for cfg in study.experiments.values())}
    assert networks == set(PAPER_COUNTS), networks ^ set(PAPER_COUNTS)
    for name, size, head, multiscale, attention in sorted(networks):
        model = build_model(model_cfg(name, size, multiscale, attention, head))
        assert count_parameters(model) == PAPER_COUNTS[(name, size, head, multiscale, attention)], (name, size)


def test_the_model_list_counts_exactly_without_building_real_weights():
    import time

    from iqa.models.builder import catalogue

    nano = model_cfg(head="seed")
    real = count_parameters(build_model(nano))  # also pays timm's first-use costs outside the timing
    started = time.process_time()
    rows = catalogue()
    seconds = time.process_time() - started
    assert seconds < 3.0, f"`iqa models` built its networks for real: {seconds:.1f} s of CPU"  # real: ~10 s
    row = next(r for r in rows if (r["model"], r["size"], r["head"]) == ("swin_hyperiqa", "nano", "seed"))
    assert row["params"] == real
    base = next(r for r in rows if (r["model"], r["size"], r["head"]) == ("swin_hyperiqa", "base", "seed"))
    assert base["params"] == 89_111_941  # Swin-B with the seed head, as built on the CPU (docs/benchmarks.md)
