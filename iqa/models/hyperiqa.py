"""HyperIQA head on any four-stage timm backbone, with optional multi-scale and attention fusion.

Su et al., "Blindly Assess Image Quality in the Wild Guided by a Self-Adaptive Hyper Network",
CVPR 2020. With a ResNet-50 backbone at 224 px, both fusion switches off and the `original`
head this is the original network (27,375,369 parameters): LDA taps after each stage give the
224-d target-net input, the hyper network turns the last stage's 7x7 map into the weights of a
per-image target MLP 224 -> 112 -> 56 -> 28 -> 14 -> 1.

The Swin variant feeds the hyper network with all four stages pooled to 7x7 and concatenated
(`multiscale`), optionally scaled by per-image softmax weights from the last stage
(`attention_fusion`). Grids are fixed at every backbone size (LDA pools to 8/4/2/1, the hyper
map to 7x7); at 224 px these pools equal the original's.

Two heads (`HEADS`) differ only in the widths and details a `HeadSpec` lists: `original` scales
the HyperIQA head to the backbone's channels; `seed` is the Swin head the study's reported
numbers come from (narrower reduce convs, dropout on the 112-channel map, small attention init).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

FEATURE_SIZE = 7  # hyper-network map side; generated weights are read off its 7x7 grid
LDA_GRIDS = (8, 4, 2, 1)  # AvgPool(7, stride 7) of the 56/28/14/7 stage maps at 224 px
LDA_OUT = (16, 16, 16, 176)  # concatenated: the 224-d target-net input
HYPER_CHANNELS = 112
TARGET_DIMS = (224, 112, 56, 28, 14, 1)


@dataclass(frozen=True)
class HeadSpec:
    """What one head variant fixes; everything not listed here is shared."""

    lda_widths: tuple[int, int, int] | None  # 1x1-conv widths of LDA taps 1-3; None: stage channels / 16
    reduce_widths: tuple[int, ...]  # 1x1 convs from the hyper input down to the 112-channel map
    dropout_after_reduce: bool  # hyper dropout on the 112-channel map, not on the hyper input
    attention_init_std: float | None  # attention Linear weights N(0, std), biases 0; None: PyTorch default
    attention_needs_multiscale: bool  # without multi-scale the attention module is not built


HEADS = {
    # HyperIQA's head (ResNet-50: C/16 = 16/32/64, 2048 -> 1024 -> 512 -> 112); attention whenever on.
    "original": HeadSpec(None, (1024, 512), False, None, False),
    # The seed system's Swin head: the same LDA widths at every size, C -> 512 -> 256 -> 112.
    "seed": HeadSpec((16, 32, 64), (512, 256), True, 0.01, True),
}


class LocalDistortionAware(nn.Module):
    """1x1 conv (none on the last stage), average pool, linear: one vector per stage."""

    def __init__(self, channels: list[int], widths: tuple[int, int, int] | None):
        super().__init__()
        widths = widths or tuple(max(1, c // 16) for c in channels[:3])
        self.convs = nn.ModuleList()
        self.fcs = nn.ModuleList()
        for i, (c, grid, out) in enumerate(zip(channels, LDA_GRIDS, LDA_OUT)):
            last = i == len(channels) - 1
            mid = c if last else widths[i]
            self.convs.append(nn.Identity() if last else nn.Conv2d(c, mid, 1, bias=False))
            self.fcs.append(nn.Linear(mid * grid * grid, out))

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        vecs = [fc(F.adaptive_avg_pool2d(conv(f), grid).flatten(1))
                for f, conv, fc, grid in zip(feats, self.convs, self.fcs, LDA_GRIDS)]
        return torch.cat(vecs, dim=1)


class ScaleAttention(nn.Module):
    """Per-image softmax weights over the four stages, from the last stage's pooled features."""

    def __init__(self, channels: int, init_std: float | None, n_scales: int = 4):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(channels, 256), nn.ReLU(inplace=True), nn.Dropout(0.5),
                                 nn.Linear(256, n_scales))
        if init_std is not None:  # near-zero logits: every stage starts at weight ~1/4
            for m in self.mlp:
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0.0, init_std)
                    nn.init.zeros_(m.bias)

    def forward(self, last: torch.Tensor) -> torch.Tensor:
        return self.mlp(last.mean(dim=(2, 3))).softmax(dim=1)


class HyperNetwork(nn.Module):
    """Feature map -> weights and biases of the target MLP, one set per image."""

    def __init__(self, in_channels: int, dropout: float, spec: HeadSpec):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.dropout_after_reduce = spec.dropout_after_reduce
        widths = (in_channels, *spec.reduce_widths, HYPER_CHANNELS)
        self.reduce = nn.Sequential(*[layer for c_in, c_out in zip(widths[:-1], widths[1:])
                                      for layer in (nn.Conv2d(c_in, c_out, 1), nn.ReLU(inplace=True))])
        pairs = list(zip(TARGET_DIMS[:-1], TARGET_DIMS[1:]))
        cells = FEATURE_SIZE * FEATURE_SIZE
        # FC1-FC4 weights come from 3x3 convs read off the 7x7 grid; FC5's from a linear on the pooled vector.
        self.weight_convs = nn.ModuleList(
            nn.Conv2d(HYPER_CHANNELS, i * o // cells, 3, padding=1) for i, o in pairs[:-1])
        self.last_weight = nn.Linear(HYPER_CHANNELS, pairs[-1][0] * pairs[-1][1])
        self.biases = nn.ModuleList(nn.Linear(HYPER_CHANNELS, o) for _, o in pairs)
        self.pairs = pairs
        for m in [*self.weight_convs, self.last_weight, *self.biases]:
            nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        if self.dropout_after_reduce:
            h = self.dropout(self.reduce(x))
        else:
            h = self.reduce(self.dropout(x))
        pooled = h.mean(dim=(2, 3))
        b = x.shape[0]
        weights = [conv(h).reshape(b, o, i) for conv, (i, o) in zip(self.weight_convs, self.pairs)]
        i, o = self.pairs[-1]
        weights.append(self.last_weight(pooled).reshape(b, o, i))
        return [(w, bias(pooled)) for w, bias in zip(weights, self.biases)]


class TargetNet(nn.Module):
    """The per-image MLP whose weights the hyper network generated: sigmoids between layers."""

    def __init__(self, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, params: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        for k, (w, b) in enumerate(params):
            x = torch.bmm(w, x.unsqueeze(2)).squeeze(2) + b
            if k < len(params) - 1:
                x = torch.sigmoid(x)
                if k < 3:
                    x = self.dropout(x)
        return x.squeeze(1)


class HyperIQA(nn.Module):
    """Backbone (any timm model with four-stage `forward_intermediates`) + HyperIQA head."""

    def __init__(self, backbone: nn.Module, channels: list[int], multiscale: bool, attention_fusion: bool,
                 hyper_dropout: float, target_dropout: float, head: HeadSpec = HEADS["original"]):
        super().__init__()
        self.backbone = backbone
        self.multiscale = multiscale
        self.lda = LocalDistortionAware(channels, head.lda_widths)
        with_attention = attention_fusion and (multiscale or not head.attention_needs_multiscale)
        self.attention = ScaleAttention(channels[-1], head.attention_init_std) if with_attention else None
        self.hyper = HyperNetwork(sum(channels) if multiscale else channels[-1], hyper_dropout, head)
        self.target = TargetNet(target_dropout)
        for m in self.lda.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Scores (B,) and, with attention fusion, the (B, 4) scale weights."""
        feats = self.backbone.forward_intermediates(x, indices=4, intermediates_only=True)
        target_in = self.lda(feats)
        weights = self.attention(feats[-1]) if self.attention is not None else None
        maps = [F.adaptive_avg_pool2d(f, FEATURE_SIZE) for f in (feats if self.multiscale else feats[-1:])]
        if weights is not None:
            scales = weights if self.multiscale else weights[:, -1:]
            maps = [m * scales[:, i, None, None, None] for i, m in enumerate(maps)]
        params = self.hyper(torch.cat(maps, dim=1))
        return self.target(target_in, params).float(), weights

    def param_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(backbone + LDA, everything else): the original trains LDA with the backbone."""
        low = {id(p) for m in (self.backbone, self.lda) for p in m.parameters()}
        backbone = [p for p in self.parameters() if id(p) in low]
        head = [p for p in self.parameters() if id(p) not in low]
        return backbone, head
