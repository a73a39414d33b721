"""`iqa` command line: train, pack, evaluate, predict, score, models, make-synthetic, aggregate, audit, reproduce,
plan, bench, complexity."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from iqa.core import layout
from iqa.config import SCHEMA
from iqa.core.errors import ConfigError, DataError, TrainingError, WeightsMissing


def cmd_train(args) -> None:
    from iqa import config as config_mod
    from iqa.training.train import train

    cfg = config_mod.load(args.config, [*args.set, *([f"train.device={args.device}"] if args.device else [])])
    metrics = train(cfg, args.out)
    t = metrics["test"]
    print(f"{metrics['run_id']}: test SRCC {t['srcc']:.4f} PLCC {t['plcc']:.4f} "
          f"({t['n_images']} images, {metrics['provenance']['wall_seconds']:.1f}s) -> {args.out}/metrics.json")


def cmd_pack(args) -> None:
    from iqa import config as config_mod
    from iqa.training.pack import train_pack

    if len(args.config) != len(args.out):
        raise ValueError(f"give one --out per config: {len(args.config)} configs, {len(args.out)} --out")
    cfgs = [config_mod.load(path, args.set) for path in args.config]
    for out, m in zip(args.out, train_pack(cfgs, args.out)):
        t = m["test"]
        print(f"{m['run_id']}: test SRCC {t['srcc']:.4f} PLCC {t['plcc']:.4f} ({t['n_images']} images) -> "
              f"{out}/metrics.json")


def cmd_evaluate(args) -> None:
    from iqa.data.parts import load_parts
    from iqa.models.saved import load_model
    from iqa.training.evaluate import evaluate_part

    overrides = [*args.set, f"train.device={args.device}"] + ([f"data.root={args.data}"] if args.data else [])
    model, cfg, device = load_model(args.checkpoint, overrides)
    parts, info = load_parts(cfg, device)
    metrics, _, _ = evaluate_part(model, parts[args.part], cfg)
    print(json.dumps({"checkpoint": args.checkpoint, "part": args.part, **metrics,
                      "dataset_hash": info["dataset_hash"], "split_hash": info["split_hash"]}, indent=2))


def cmd_predict(args) -> None:
    """Scores on the MOS scale, each image's random crops seeded by its pixels (as in training)."""
    import pandas as pd
    import torch

    from iqa.core.files import atomic_write
    from iqa.data.crops import image_key
    from iqa.data.dataset import load_image
    from iqa.models.saved import load_model
    from iqa.training.evaluate import mos_scores

    paths = image_paths(args.images)
    out = Path(args.out) if args.out else None
    if out is not None and out.exists():
        raise DataError(f"{out} already exists; remove it or pass another --out")
    model, cfg, device = load_model(args.checkpoint, [*args.set, f"train.device={args.device}"])
    rows = []
    for path in paths:
        image = load_image(path, cfg.data.resize)
        img = torch.tensor(image, device=device)  # a copy: the decoded array is read-only
        score, _ = mos_scores(model, img[None], [image_key(image)], cfg)
        rows.append((str(path), float(score[0])))
        if out is None:
            print(f"{path}\t{score[0]:.4f}")
    if out is not None:
        table = pd.DataFrame(rows, columns=["image", "score"])
        atomic_write(out, lambda tmp: table.to_csv(tmp, index=False))
        print(f"scored {len(rows)} images -> {out}")


def image_paths(args: list[str]) -> list[Path]:
    """Image files, a folder standing for the image files directly in it (sorted); checked up front."""
    from PIL import Image

    known = {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}
    paths = []
    for arg in map(Path, args):
        if arg.is_dir():
            found = sorted(p for p in arg.iterdir() if p.is_file() and p.suffix.lower() in known)
            if not found:
                raise DataError(f"{arg}: a folder without image files; give images or a folder holding them")
            paths += found
        elif arg.is_file():
            paths.append(arg)
        else:
            raise DataError(f"image not found: {arg}; give image files or folders")
    return paths


def cmd_score(args) -> None:
    import yaml

    from iqa.training.score import score_dataset

    options = {}
    for text in args.option:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise ValueError(f"--option must be KEY=VALUE, got {text!r}")
        options[key] = yaml.safe_load(value)  # numbers and booleans as YAML reads them
    m = score_dataset(Path(args.checkpoint), args.kind, Path(args.root), Path(args.out), options, args.device)
    t = m["test"]
    print(f"{m['model_run_id']} on {args.kind} {args.root}: SRCC {t['srcc']:.4f} PLCC {t['plcc']:.4f} "
          f"({t['n_images']} images) -> {args.out}/metrics.json")


def cmd_models(args) -> None:
    from iqa.models.builder import catalogue

    print(f"{'model':<20}{'size':<8}{'head':<10}{'backbone':<32}{'input':>6}{'params':>13}{'backbone':>13}"
          f"{'head':>12}")
    for r in catalogue():
        print(f"{r['model']:<20}{r['size']:<8}{r['head']:<10}{r['backbone']:<32}{r['input']:>6}"
              f"{r['params']:>13,}{r['backbone_params']:>13,}{r['head_params']:>12,}")


def cmd_make_synthetic(args) -> None:
    from iqa.data.synthetic import make_synthetic

    out = make_synthetic(args.dir, args.n, args.seed, args.mix)
    print(f"wrote {args.n} images ({args.mix} mix) to {out}")


def cmd_aggregate(args) -> None:
    from iqa.results.aggregate import aggregate
    from iqa.study.spec import load_study

    study_cfg = load_study(args.config)
    names = aggregate(study_cfg, args.results, strict=args.strict, mark_tampered=args.mark_tampered)
    print(f"wrote {len(names)} tables to {args.results}/tables: {', '.join(names)}")


def cmd_audit(args) -> int:
    """`iqa audit TABLE ROW COLUMN`, `iqa audit NUMBERS_FILE MACRO` or `iqa audit MACRO [--results DIR]`."""
    from iqa.results.audit import audit, audit_macro

    target, rest = args.target, args.rest
    if len(rest) == 2:
        text, same = audit(target, *rest)
    elif len(rest) == 1 and target.endswith((".tex", ".json")):
        text, same = audit_macro(target, rest[0])
    elif not rest:
        text, same = audit_macro(Path(args.results), target)
    else:
        raise DataError(f"audit takes TABLE ROW COLUMN, NUMBERS_FILE MACRO or MACRO; got {[target, *rest]}")
    print(text)
    return 0 if same else 1


DEVICE_HELP = "auto (default): CUDA when there is one, else the CPU"


def add_device_argument(p, run_config: bool = False) -> None:
    """The one --device flag of every command that runs a model: auto, cpu or cuda, default auto.

    Where a run config is trained (train, reproduce), an absent flag leaves the config's `train.device`,
    itself auto unless the config sets it."""
    device = SCHEMA["train"]["device"]
    p.add_argument("--device", choices=device.choices, default=None if run_config else device.default,
                   help="the run config's train.device (auto unless set)" if run_config else DEVICE_HELP)


def add_score_arguments(p) -> None:
    p.add_argument("checkpoint", help="a run's model.safetensors")
    from iqa.data.external import LOADERS

    p.add_argument("--kind", required=True, help=f"dataset release format: {' | '.join(LOADERS)}")
    p.add_argument("--root", required=True, help="dataset root")
    p.add_argument("--out", required=True, help="folder for predictions.csv and metrics.json")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="loader option, e.g. shorter_side=512 (spaq) or score_column=mos (csv)")
    add_device_argument(p)
    p.set_defaults(func=cmd_score)


def cmd_reproduce(args) -> int:
    from iqa.results.reproduce import reproduce

    return reproduce(args.run_id, args.results, args.scratch, args.code, args.device)


def cmd_plan(args) -> int:
    from iqa.study.plan import check, plan

    if args.check:
        problems = check(args.config)
        print("\n".join(f"iqa check: {p}" for p in problems) or "iqa check: data, weights and disk ready")
        if problems or not (args.bench_json or args.throughput or args.from_results or args.power):
            return 1 if problems else 0
    if args.power:
        from iqa.study.power import power_plan

        text, _ = power_plan(args.config, sd=args.sd, pool_sd=args.pool_sd, from_results=args.from_results,
                             delta=args.delta)
        print(text)
        return 0
    text, table = plan(args.config, bench_json=args.bench_json, throughput=args.throughput,
                       from_results=args.from_results, images=args.images, eval_throughput=args.eval_throughput,
                       setup_minutes=args.setup_minutes, packs=args.pack)
    print(text)
    from iqa.study.spec import adaptive_splits, load_study, rehearse

    study_cfg = rehearse(load_study(args.config))
    design = adaptive_splits(study_cfg)  # an adaptive study projects its own design unless --adaptive is given
    if args.adaptive or design:
        from iqa.study.power import adaptive_projection

        if args.sd is None and not args.adaptive:
            print("adaptive study: add --sd SD (the per-split SD of an SRCC difference) for its expected hours "
                  "against fixed splits")
            return 0
        if args.sd is None:
            raise ConfigError("--adaptive needs --sd: the per-split SD of an SRCC difference")
        if args.adaptive:
            (k0, step), margin = (int(x) for x in args.adaptive.split(",")), args.margin or 0.0
        else:
            k0, step, margin = design[0].k0, design[0].step, design[1] if args.margin is None else args.margin
        minutes = dict(zip(table["experiment"], table["min_per_run"]))
        print(adaptive_projection(study_cfg, minutes, args.sd, k0, step, margin, args.delta))


def add_bench_arguments(p) -> None:
    name = SCHEMA["model"]["name"]
    p.add_argument("--model", default=name.default, choices=sorted(name.choices))
    p.add_argument("--size", default="nano", help="see `iqa models` (swin: nano..base; resnet50: nano, base)")
    add_device_argument(p)
    p.add_argument("--batch", type=int, default=32, help="training batch (patches)")
    p.add_argument("--steps", type=int, default=10, help="timed training steps (also sizes (b) and (d))")
    p.add_argument("--images", type=int, default=64, help="generated 1024x768 test JPEGs")
    p.add_argument("--eval-batch", type=int, default=256, help="patches per forward in evaluation")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads for (c) and (d) (default: torch's, one per core); "
                        "the input pipelines (a) and (b) always run on one")
    p.add_argument("--color-jitter", action="store_true",
                   help="ColorJitter (the config default strengths) in both input pipelines and the training batches")
    p.add_argument("--compile", action="store_true", help="torch.compile the model for (c) and (d)")
    p.add_argument("--bare-backbone", action="store_true",
                   help="also time the bare backbone on CPU (always done on CUDA)")
    precision = SCHEMA["train"]["precision"]
    p.add_argument("--precision", default=precision.default, choices=precision.choices,
                   help="CUDA arithmetic of (c) and (d): fp32, TF32 matmuls and convolutions, or bf16 autocast "
                        "(a CPU runs fp32)")
    p.add_argument("--pack", type=int, default=1, metavar="K",
                   help="(c) steps K models in turn, each with its own optimiser and CUDA stream, as a pack of "
                        "K runs trains; its figure is the pack's total")
    p.add_argument("--peak-tflops", type=float,
                   help="the device's peak TFLOP/s at this precision for the MFU (default: data sheet of known "
                        "GPUs, or a CPU's cores x clock x vector FMA width)")
    p.add_argument("--json", metavar="FILE",
                   help="add this measurement to a throughput file (`iqa plan --bench-json FILE`)")
    p.set_defaults(func=cmd_bench)


def options(kind: type, args: argparse.Namespace):
    """The typed options (a dataclass) a command's library call takes, from its parsed arguments."""
    return kind(**{f.name: getattr(args, f.name) for f in dataclasses.fields(kind)})


def cmd_bench(args) -> None:
    from iqa.measure.bench import BenchOptions, run

    run(options(BenchOptions, args))


def add_complexity_arguments(p) -> None:
    from iqa.core.choices import COMPLEXITY_DEFAULTS, COMPLEXITY_PRECISIONS
    from iqa.models.registry import FAMILIES

    source = p.add_mutually_exclusive_group()
    source.add_argument("--run-config", metavar="RUN.yaml", help="the model of a run config (YAML)")
    source.add_argument("--model-file", metavar=layout.MODEL,
                        help="the model of a trained run (its config is in the file)")
    p.add_argument("--model", choices=sorted(SCHEMA["model"]["name"].choices),
                   help="without a run config or model file: the model")
    p.add_argument("--size", help="with --model: see `iqa models`")
    p.add_argument("--head", choices=SCHEMA["model"]["head"].choices, help="(default: original, or the config's)")
    p.add_argument("--multiscale", action=argparse.BooleanOptionalAction,
                   help="(default: the config's; else on for swin_hyperiqa, off for hyperiqa_resnet50)")
    p.add_argument("--attention", action=argparse.BooleanOptionalAction,
                   help="attention fusion (default: as --multiscale)")
    add_device_argument(p)
    p.add_argument("--precision", default=COMPLEXITY_DEFAULTS["precision"], choices=COMPLEXITY_PRECISIONS,
                   help="bf16: autocast, CUDA only")
    p.add_argument("--batch", type=int, default=COMPLEXITY_DEFAULTS["batch"],
                   help="patches per forward for the throughput")
    p.add_argument("--warmup", type=int, default=COMPLEXITY_DEFAULTS["warmup"],
                   help="untimed forwards before each timed series")
    p.add_argument("--repeats", type=int, default=COMPLEXITY_DEFAULTS["repeats"],
                   help="timed forwards at batch 1 and at --batch")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--out", help="JSON file to write (default: print the JSON)")
    p.set_defaults(func=cmd_complexity)


def cmd_complexity(args) -> None:
    from iqa.measure.complexity import ComplexityOptions, run

    run(options(ComplexityOptions, args))


def add_reproduce_parser(sub) -> None:
    s = sub.add_parser("reproduce", help="retrain a finished run from its recorded config and compare every number",
                       description="Checks the data and code first, retrains in a scratch folder, compares test and "
                                   "validation metrics, the selected epoch and predictions.csv; exit 1 on a "
                                   "mismatch or when data or code differ. See docs/reproducibility.md.")
    s.add_argument("run_id", help="a folder name under RESULTS/runs")
    s.add_argument("--results", default=layout.RESULTS)
    s.add_argument("--scratch", help="empty folder to retrain in (default: a new temporary folder, kept)")
    s.add_argument("--code", choices=["refuse", "warn"], default="refuse",
                   help="when the library source differs from the run's: refuse (default) or rerun anyway")
    add_device_argument(s, run_config=True)
    s.set_defaults(func=cmd_reproduce)


def add_plan_parser(sub) -> None:
    s = sub.add_parser("plan", help="jobs, hours and SLURM runtimes of a study, and the GPU-hours of each option",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Estimates each run's time from its work (epochs x training patches + "
                                   "evaluation) and a measured throughput; see docs/reproducibility.md.\n\n"
                                   "Then prices the options, for the whole grid, in GPU-hours (CPU-hours for a "
                                   "CPU study):\n"
                                   "  precision  fp32, tf32 (TF32 matmuls and convolutions) and bf16 (autocast), "
                                   "each\n"
                                   "             wherever --bench-json has a figure at it (train.precision in "
                                   "a study)\n"
                                   "  packing    an experiment's splits, K runs to a job: start-up once per job, "
                                   "and the\n"
                                   "             pack's total throughput when --bench-json has one measured at "
                                   "`pack: K`\n"
                                   "             (`iqa bench --pack K`), else a lone run's (the study's "
                                   "`packing:`)\n"
                                   "An option priced from another precision's or a lone run's figure is "
                                   "counted under not_measured.")
    s.add_argument("config", nargs="+", help="study config (config.yaml, config/koniq10k.yaml), or several "
                                             "merged in order as snakemake --configfile does "
                                             "(config/koniq10k.yaml config/rehearsal.yaml)")
    s.add_argument("--check", action="store_true",
                   help="run the workflow's pre-flight checks first (data, pretrained weights, disk), one line "
                        "per problem; exit 1 on any")
    s.add_argument("--from-results", metavar="DIR", help="recorded train_patches_per_second of finished runs")
    s.add_argument("--bench-json", metavar="FILE", help="measured throughputs (docs/throughput-h200.json)")
    s.add_argument("--throughput", type=float, metavar="PATCHES_PER_S",
                   help="training-step throughput for every run without a measured figure")
    s.add_argument("--eval-throughput", type=float, metavar="PATCHES_PER_S",
                   help="evaluation throughput (default: measured, else 3x the training figure)")
    s.add_argument("--images", type=int, help="dataset size when the data is not here (KonIQ-10k: 10073)")
    s.add_argument("--setup-minutes", type=float, default=2.0,
                   help="per job: start-up, decoded-image cache, checkpoints (default 2)")
    s.add_argument("--power", action="store_true",
                   help="instead: the detectable difference of every comparison at 80%% power after Holm, and the "
                        "splits a difference needs (see iqa/study/power.py); SDs from --from-results (pilot runs) or --sd")
    s.add_argument("--sd", type=float, help="with --power: stated SD of a per-split SRCC difference")
    s.add_argument("--pool-sd", type=float,
                   help="with --power under stats.claim population: stated SD of the pool's own mean difference")
    s.add_argument("--delta", type=float,
                   help="with --power: the SRCC difference to detect; with an adaptive projection: every comparison's "
                        "difference (default: the seed's reported step per comparison)")
    s.add_argument("--adaptive", metavar="K0,STEP",
                   help="also project the adaptive design (iqa/stats/sequential.py): K0 splits, then STEP more while a "
                        "comparison is unresolved, up to the study's splits; needs --sd. An adaptive study "
                        "(splits: {adaptive: ...}) projects its own design with --sd alone")
    s.add_argument("--margin", type=float, default=None,
                   help="with --adaptive: a comparison whose interval lies inside +-MARGIN stops too (default 0, or "
                        "an adaptive study's own splits.adaptive.margin)")
    s.add_argument("--pack", type=int, nargs="+", metavar="K",
                   help="runs per job to price (default: 1, the study's packing.runs and every pack size "
                        "in --bench-json)")
    s.set_defaults(func=cmd_plan)


def add_run_parsers(sub) -> None:
    """Commands on one run: train it, re-test it, score images or a dataset with it."""
    s = sub.add_parser("train", help="train and test one run")
    s.add_argument("config", help="YAML run config (see iqa/config.py for every key)")
    s.add_argument("--out", required=True, help="run folder")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    add_device_argument(s, run_config=True)
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("pack", help="train and test several runs in one process, a step of each in turn",
                       description="Each run as `iqa train` trains it alone (same numbers on a CPU); one start-up, "
                                   "and on a GPU the runs' steps side by side. See iqa/training/pack.py.")
    s.add_argument("config", nargs="+", help="YAML run configs")
    s.add_argument("--out", action="append", required=True, help="run folder, once per config, in order")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key in every config")
    s.set_defaults(func=cmd_pack)

    s = sub.add_parser("evaluate", help="re-test a trained model")
    s.add_argument("checkpoint", help="a run's model.safetensors")
    s.add_argument("--data", help="dataset root (default: the one it was trained on)")
    s.add_argument("--part", default="test", choices=["train", "val", "test"])
    add_device_argument(s)
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("predict", help="score images (files or folders of them) with a trained model")
    s.add_argument("checkpoint", help="a run's model.safetensors")
    s.add_argument("images", nargs="+", help="image files, or folders: every image file directly in them")
    s.add_argument("--out", help="write image,score to this CSV (default: print path and score per line)")
    add_device_argument(s)
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    s.set_defaults(func=cmd_predict)

    add_score_arguments(sub.add_parser(
        "score", help="score a whole external dataset with a trained model (cross-dataset)"))


def add_study_parsers(sub) -> None:
    """Commands on a study's results: tables and figures, audits, reruns, cost."""
    s = sub.add_parser("aggregate", help="build runs.csv, tables and figures from a study's runs")
    s.add_argument("config", nargs="+", help="study config (config.yaml), or several merged in order as "
                                             "snakemake --configfile does")
    s.add_argument("--results", default=layout.RESULTS)
    s.add_argument("--strict", action="store_true",
                   help="refuse runs from a dirty tree or from more than one code version/environment")
    s.add_argument("--mark-tampered", action="store_true",
                   help="leave out (and name in the notes) runs whose files no longer match their record, "
                        "instead of stopping")
    s.set_defaults(func=cmd_aggregate)

    s = sub.add_parser("audit", help="show the runs behind a table cell (or a numbers.tex macro) and recompute it",
                       description="iqa audit results/tables/ablation.csv C3 srcc_median | "
                                   "iqa audit results/tables/ablation.paper.tex C3 SRCC | "
                                   "iqa audit results/numbers.tex '\\CThreeSRCCMedian' | iqa audit '\\CThreeSRCCMedian'")
    s.add_argument("target", help="a table (results/tables/ablation.csv, or its paper form "
                                  "ablation.paper.tex), numbers.tex/.json, or a macro")
    s.add_argument("rest", nargs="*", help="ROW COLUMN after a table (ROW HEADING after a paper form); MACRO "
                                           "after a numbers file")
    s.add_argument("--results", default=layout.RESULTS, help="folder with numbers.json when only a macro is given")
    s.set_defaults(func=cmd_audit)

    add_reproduce_parser(sub)
    add_plan_parser(sub)


def version() -> str:
    from importlib import metadata

    try:
        return metadata.version("iqa")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="iqa", description=__doc__)
    p.add_argument("--version", action="version", version=f"iqa {version()}")
    sub = p.add_subparsers(dest="command", required=True)
    add_run_parsers(sub)
    add_study_parsers(sub)

    s = sub.add_parser("models", help="list models, sizes, heads, backbones and exact parameter counts")
    s.set_defaults(func=cmd_models)

    s = sub.add_parser("bench", help="measure input pipeline, training and evaluation throughput")
    add_bench_arguments(s)

    s = sub.add_parser("complexity", help="parameters, GFLOPs, latency and throughput of one model, as JSON")
    add_complexity_arguments(s)

    from iqa.data.synthetic import MIXES

    s = sub.add_parser("make-synthetic", help="write the seeded synthetic dataset")
    s.add_argument("dir")
    s.add_argument("--n", type=int, default=300)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--mix", default="default",
                   help=f"degradation mix: {' | '.join(MIXES)} (see iqa/data/synthetic.py; shifted is another mix, "
                        f"for cross-dataset tests)")
    s.set_defaults(func=cmd_make_synthetic)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (ConfigError, DataError, WeightsMissing, TrainingError, ValueError) as e:
        print(f"iqa {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
