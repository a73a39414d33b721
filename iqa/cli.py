"""`iqa` command line: train, evaluate, predict, models, make-synthetic, audit, bench."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import config as config_mod
from .data import DataError
from .models import WeightsMissing


def cmd_train(args) -> None:
    from .train import train

    cfg = config_mod.load(args.config, args.set)
    metrics = train(cfg, args.out)
    t = metrics["test"]
    print(f"{metrics['run_id']}: test SRCC {t['srcc']:.4f} PLCC {t['plcc']:.4f} "
          f"({t['n_images']} images, {metrics['provenance']['wall_seconds']:.1f}s) -> {args.out}/metrics.json")


def _load_checkpoint(path: str, overrides: list[str]):
    """Model and resolved config from a run's model.safetensors (config in its metadata)."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    from .models import build_model
    from .train import resolve_device

    if not Path(path).is_file():
        raise DataError(f"checkpoint not found: {path}")
    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
    if "config" not in meta:
        raise DataError(f"{path}: no config in the checkpoint metadata; was it written by `iqa train`?")
    cfg = config_mod.merge(json.loads(meta["config"]), {}, where=path)
    for text in overrides:
        cfg = config_mod.merge(cfg, config_mod.parse_override(text), where=f"--set {text}")
    config_mod.validate(cfg)
    device = resolve_device(cfg["train"]["device"])
    model = build_model({**cfg["model"], "pretrained": False}).to(device)
    model.load_state_dict(load_file(path, device=str(device)))
    model.eval()
    return model, cfg, device


def cmd_evaluate(args) -> None:
    from .train import evaluate_part, load_data

    overrides = list(args.set) + ([f"data.root={args.data}"] if args.data else [])
    model, cfg, device = _load_checkpoint(args.checkpoint, overrides)
    parts, info = load_data(cfg, device)
    metrics, _, _ = evaluate_part(model, parts[args.part], cfg, cfg["train"]["amp"])
    print(json.dumps({"checkpoint": args.checkpoint, "part": args.part, **metrics,
                      "dataset_hash": info["dataset_hash"], "split_hash": info["split_hash"]}, indent=2))


def cmd_predict(args) -> None:
    import numpy as np
    import torch

    from .data import load_image
    from .evaluate import score_images

    model, cfg, device = _load_checkpoint(args.checkpoint, args.set)
    d = cfg["data"]
    for i, path in enumerate(args.images):
        img = torch.from_numpy(np.ascontiguousarray(load_image(Path(path), tuple(d["resize"])))).to(device)
        score, _ = score_images(model, img[None], [i], d["test_crops"], d["patch_size"], d["crop_seed"],
                                cfg["train"]["amp"])
        print(f"{path}\t{score[0]:.4f}")


def cmd_models(args) -> None:
    from .models import catalogue

    print(f"{'model':<20}{'size':<8}{'backbone':<32}{'input':>6}{'params':>12}{'backbone':>12}")
    for r in catalogue():
        print(f"{r['model']:<20}{r['size']:<8}{r['backbone']:<32}{r['input']:>6}"
              f"{r['params_m']:>11.2f}M{r['backbone_params_m']:>11.2f}M")


def cmd_make_synthetic(args) -> None:
    from .synthetic import make_synthetic

    out = make_synthetic(args.dir, args.n, args.seed)
    print(f"wrote {args.n} images to {out}")


def cmd_aggregate(args) -> None:
    import yaml

    from .report import aggregate

    study_cfg = yaml.safe_load(Path(args.config).read_text())
    names = aggregate(study_cfg, args.results)
    print(f"wrote {len(names)} tables to {args.results}/tables: {', '.join(names)}")


def cmd_audit(args) -> int:
    from .report import audit

    text, same = audit(args.table, args.row, args.column)
    print(text)
    return 0 if same else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="iqa", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("train", help="train and test one run")
    s.add_argument("config", help="YAML run config (see iqa/config.py for every key)")
    s.add_argument("--out", required=True, help="run folder")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("evaluate", help="re-test a trained model")
    s.add_argument("checkpoint", help="a run's model.safetensors")
    s.add_argument("--data", help="dataset root (default: the one it was trained on)")
    s.add_argument("--part", default="test", choices=["train", "val", "test"])
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("predict", help="score images with a trained model")
    s.add_argument("checkpoint")
    s.add_argument("images", nargs="+")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    s.set_defaults(func=cmd_predict)

    s = sub.add_parser("aggregate", help="build runs.csv, tables and figures from a study's runs")
    s.add_argument("config", help="study config (config.yaml)")
    s.add_argument("--results", default="results")
    s.set_defaults(func=cmd_aggregate)

    s = sub.add_parser("audit", help="show the runs behind a table cell and recompute it")
    s.add_argument("table", help="e.g. results/tables/ablation.csv")
    s.add_argument("row")
    s.add_argument("column")
    s.set_defaults(func=cmd_audit)

    s = sub.add_parser("models", help="list model names, backbones and parameter counts")
    s.set_defaults(func=cmd_models)

    s = sub.add_parser("bench", help="measure input pipeline, training and evaluation throughput")
    from .bench import add_arguments as add_bench_arguments

    add_bench_arguments(s)

    s = sub.add_parser("make-synthetic", help="write the seeded synthetic dataset")
    s.add_argument("dir")
    s.add_argument("--n", type=int, default=300)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_make_synthetic)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .train import TrainingError

    try:
        return args.func(args) or 0
    except (config_mod.ConfigError, DataError, WeightsMissing, TrainingError, ValueError) as e:
        print(f"iqa {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
