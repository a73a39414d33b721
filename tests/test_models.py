import pytest
import torch

from iqa.models import FAMILIES, build_model, count_parameters


def model_cfg(name="swin_hyperiqa", size="nano", multiscale=True, attention=True):
    return dict(name=name, size=size, multiscale=multiscale, attention_fusion=attention, pretrained=False,
                weights=None, drop_path_rate=0.0, hyper_dropout=0.0, target_dropout=0.0)


def test_hyperiqa_resnet50_matches_original_parameter_count():
    model = build_model(model_cfg("hyperiqa_resnet50", "base", False, False))
    assert count_parameters(model) == pytest.approx(27.38e6, abs=0.01e6)
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
def test_every_switch_combination_builds_and_scores(family, multiscale, attention):
    model = build_model(model_cfg(family, "nano", multiscale, attention))
    scores, weights = model(torch.randn(3, 3, 64, 64))
    assert scores.shape == (3,)
    if attention:
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
    from iqa.models import WeightsMissing

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsMissing, match="model.weights"):
        build_model({**model_cfg(size="tiny"), "pretrained": True})
    with pytest.raises(WeightsMissing, match="not found"):
        build_model({**model_cfg(size="tiny"), "pretrained": True, "weights": str(tmp_path / "none.pth")})


def test_pretrained_from_local_file(tmp_path):
    import timm
    from safetensors.torch import save_file

    ref = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, num_classes=0, img_size=64,
                            window_size=4, embed_dim=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8))
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(path))
    model = build_model({**model_cfg(), "pretrained": True, "weights": str(path)})
    assert torch.equal(model.backbone.patch_embed.proj.weight, ref.patch_embed.proj.weight)
