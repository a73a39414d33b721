"""K runs of the demo trained alone (K `iqa train` processes, one after another) and as one pack (one
`iqa pack` process): wall and CPU seconds of each way, and whether every run's numbers are the same.

    PYTHONPATH=. python docs/pack_vs_alone.py [--experiment C3] [--k 3] [--threads 1]

The runs are the demo study's (config.yaml) experiment at splits 0..K-1, on its synthetic data, generated
into a temporary folder; the decoded-image cache is built before either way is timed.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
import yaml
from safetensors.torch import load_file

from iqa import config as config_mod
from iqa.data.parts import load_parts
from iqa.study.spec import expand


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(cmds: list[list[str]], env: dict) -> tuple[float, float]:
    """Wall and CPU seconds (user + sys of the processes) of running `cmds` one after another."""
    wall, cpu = time.perf_counter(), children_cpu()
    for cmd in cmds:
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - wall, children_cpu() - cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--experiment", default="C3")
    p.add_argument("--k", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch threads of every process (the demo's 1)")
    args = p.parse_args()
    study_cfg = yaml.safe_load(Path("config.yaml").read_text())
    study = expand(study_cfg)
    tmp = Path(tempfile.mkdtemp(prefix="iqa-pack-"))
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    py = [sys.executable, "-m", "iqa"]
    spec = study_cfg["dataset"]["synthetic"]
    subprocess.run(py + ["make-synthetic", str(tmp / "data"), "--n", str(spec["n"]), "--seed", str(spec["seed"])],
                   check=True, stdout=subprocess.DEVNULL)
    configs = []
    for k, rid in enumerate(study.run_ids(args.experiment)[:args.k]):
        cfg = study.runs[rid].merged({"data": {"root": str(tmp / "data"), "cache_dir": str(tmp / "cache")}})
        configs.append(tmp / f"{rid}.yaml")
        configs[-1].write_text(yaml.safe_dump(cfg.to_dict()))
    load_parts(config_mod.load(configs[0]), torch.device("cpu"))  # the cache, untimed: both ways read it
    # torch takes its thread count from OMP_NUM_THREADS in every process
    alone = timed([py + ["train", str(c), "--out", str(tmp / "alone" / c.stem)] for c in configs], env)
    packed = timed([py + ["pack", *map(str, configs), *[x for c in configs for x in ("--out", str(tmp / "pack" / c.stem))]]],
                   env)
    same = True
    for c in configs:
        a = json.loads((tmp / "alone" / c.stem / "metrics.json").read_text())
        b = json.loads((tmp / "pack" / c.stem / "metrics.json").read_text())
        same &= a["test"] == b["test"] and a["val"] == b["val"] and a["files"]["predictions.csv"] == b["files"]["predictions.csv"]
        weights = [load_file(str(tmp / way / c.stem / "model.safetensors")) for way in ("alone", "pack")]
        same &= all(torch.equal(w, weights[1][k]) for k, w in weights[0].items())  # not the file: its metadata order varies
        history = [pd.read_csv(tmp / way / c.stem / "history.csv").drop(columns="seconds") for way in ("alone", "pack")]
        same &= history[0].equals(history[1])  # each epoch's losses and validation scores; not its time
    print(f"{args.k} runs of {args.experiment}, {args.threads} torch thread(s), {os.cpu_count()} CPUs, "
          f"load {'/'.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"alone ({args.k} processes): wall {alone[0]:.1f} s, CPU {alone[1]:.1f} s")
    print(f"pack  (1 process):   wall {packed[0]:.1f} s, CPU {packed[1]:.1f} s "
          f"({packed[1] / alone[1]:.0%} of the CPU, {packed[0] / alone[0]:.0%} of the wall)")
    print(f"numbers: {'identical (test and validation metrics, predictions, weights, history)' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
