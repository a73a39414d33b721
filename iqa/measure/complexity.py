"""`iqa complexity`: what one model costs to run, as JSON for the complexity table.

Parameters (total and backbone), GFLOPs of one forward, inference latency at batch 1 and
throughput at a larger batch, with the machine, precision and library versions that produced them.
The unit is one forward of one input patch (224x224, or 64x64 for the nano and micro sizes): the
study scores an image as the mean over its test crops, so an image costs that many patch forwards.

The model is built with pretrained weights off (cost does not depend on them). It is described by a
run's `model` section, taken from a run config (YAML), from a trained run's `model.safetensors`
(its config is in the metadata) or from the command-line flags; flags given with a config override it.
"""
from __future__ import annotations

import datetime as dt
import json
import statistics
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from iqa import config as config_mod
from iqa.core.choices import COMPLEXITY_DEFAULTS
from iqa.config import ModelConfig, RunConfig
from iqa.core.device import device_name, resolve_device
from iqa.models.cost import gflops_per_patch, inference_seconds, parameters
from iqa.models.registry import FAMILIES, check_model_config, input_size

FLOPS_COUNTING = "torch FlopCounterMode, one fp32 forward: matmul, conv, attention; 2 FLOPs per multiply-add"


def model_section(config: str | Path | None = None, **flags) -> ModelConfig:
    """The `model` section to measure: from `config` (run YAML or model.safetensors), then the flags not None.

    Without a config, `name` and `size` are required, and the fusion switches default to the family's
    full model: both on for swin_hyperiqa, both off (the original HyperIQA) for hyperiqa_resnet50.
    """
    given = {k: v for k, v in flags.items() if v is not None}
    if config is not None:
        m = _config_file(Path(config)).model
    elif "name" in given and "size" in given:
        swin = given["name"] == "swin_hyperiqa"
        m = ModelConfig(multiscale=swin, attention_fusion=swin)
    else:
        raise ValueError("give --run-config, --model-file, or --model and --size")
    unknown = set(given) - set(config_mod.SCHEMA["model"])
    if unknown:
        raise ValueError(f"unknown model key(s) {sorted(unknown)}")
    m = replace(m, **given, pretrained=False, weights=None)
    check_model_config(m.to_dict())
    return m


def _config_file(path: Path) -> RunConfig:
    """A validated run config from a YAML file or a trained run's model.safetensors."""
    if path.suffix == ".safetensors":
        from iqa.models.saved import saved_config

        return saved_config(path)
    if path.suffix in (".yaml", ".yml"):
        return config_mod.load(path)
    raise ValueError(f"{path}: must be a run config (.yaml/.yml) or a model.safetensors")


def measure(m: ModelConfig, device: torch.device, precision: str = COMPLEXITY_DEFAULTS["precision"],
            batch: int = COMPLEXITY_DEFAULTS["batch"], warmup: int = COMPLEXITY_DEFAULTS["warmup"],
            repeats: int = COMPLEXITY_DEFAULTS["repeats"]) -> dict:
    """Parameters, GFLOPs, median batch-1 latency and batch-`batch` throughput of the model `m` describes."""
    from iqa.models.builder import build_model

    if precision == "bf16" and device.type != "cuda":
        raise ValueError("--precision bf16 runs on CUDA only (the CPU always computes in fp32 here)")
    for name, value, least in (("batch", batch, 1), ("warmup", warmup, 0), ("repeats", repeats, 1)):
        if value < least:
            raise ValueError(f"--{name} must be >= {least}, got {value}")
    side = input_size(m.to_dict())
    torch.manual_seed(0)
    model = build_model(m).to(device).eval()
    channels_last = device.type == "cuda"  # as training and evaluation run it there
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    one = inference_seconds(model, side, 1, device, precision, warmup, repeats, channels_last)
    many = inference_seconds(model, side, batch, device, precision, warmup, repeats, channels_last)
    q1, _, q3 = statistics.quantiles(one, n=4) if repeats > 1 else (one[0],) * 3
    n_params, n_backbone = parameters(model), parameters(model.backbone)
    return {
        "model": m.to_dict(), "backbone": FAMILIES[m.name][m.size][0], "input_side": side,
        "unit": f"one {side}x{side} patch forward",
        "parameters": n_params, "backbone_parameters": n_backbone, "head_parameters": n_params - n_backbone,
        "gflops": gflops_per_patch(model, side, device), "flops_counting": FLOPS_COUNTING,
        "latency_ms": round(statistics.median(one) * 1000, 4),
        "latency_ms_quartiles": [round(q1 * 1000, 4), round(q3 * 1000, 4)],
        "throughput_images_per_s": round(batch / statistics.median(many), 2), "throughput_batch": batch,
        **_conditions(device, precision, channels_last, warmup, repeats),
    }


def _conditions(device: torch.device, precision: str, channels_last: bool, warmup: int, repeats: int) -> dict:
    """Where and how the figures were measured."""
    import timm

    from iqa.training.provenance import git_state

    return {"device": str(device), "device_name": device_name(device), "precision": precision,
            "memory_format": "channels_last" if channels_last else "contiguous",
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "cuda": torch.version.cuda if device.type == "cuda" else None,
            "timm": timm.__version__, "warmup": warmup, "repeats": repeats,
            "timing": "each forward synchronised and timed alone, eval mode, inference_mode; "
                      "latency: median at batch 1; throughput: batch / median seconds of a batch forward",
            "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **git_state()}


@dataclass(frozen=True)
class ComplexityOptions:
    """What `iqa complexity` measures and how: its command-line options (defaults and meanings in iqa/cli.py)."""

    run_config: str | None
    model_file: str | None
    model: str | None
    size: str | None
    head: str | None
    multiscale: bool | None
    attention: bool | None
    device: str
    precision: str
    batch: int
    warmup: int
    repeats: int
    threads: int | None
    out: str | None


def run(opts: ComplexityOptions) -> dict:
    """`iqa complexity`: measure the model the options describe; JSON to --out (atomically) or stdout."""
    from iqa.core.files import atomic_write

    sources = ((opts.run_config, "--run-config", (".yaml", ".yml"), "--model-file"),
               (opts.model_file, "--model-file", (".safetensors",), "--run-config"))
    for given, flag, suffixes, other in sources:
        if given and Path(given).suffix not in suffixes:
            raise ValueError(f"{given}: {flag} takes a {' or '.join(suffixes)} file; "
                             f"pass this one as {other}")
    source = opts.run_config or opts.model_file
    m = model_section(source, name=opts.model, size=opts.size, head=opts.head,
                      multiscale=opts.multiscale, attention_fusion=opts.attention)
    if opts.threads is not None:
        if opts.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {opts.threads}")
        torch.set_num_threads(opts.threads)
    figures = measure(m, resolve_device(opts.device), opts.precision, opts.batch, opts.warmup, opts.repeats)
    figures["config"] = str(source) if source else None
    text = json.dumps(figures, indent=2) + "\n"
    if opts.out is None:
        print(text, end="")
    else:
        Path(opts.out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(Path(opts.out), lambda tmp: tmp.write_text(text))
        print(f"{m.name} {m.size} ({m.head} head): {figures['parameters']:,} parameters, "
              f"{figures['gflops']} GFLOPs, {figures['latency_ms']} ms/patch at batch 1, "
              f"{figures['throughput_images_per_s']} images/s at batch {opts.batch} -> {opts.out}")
    return figures
