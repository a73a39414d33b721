"""Where a run came from: code version, environment, machine and scheduler."""
from __future__ import annotations

import hashlib
import os
import platform
import re
import socket
import subprocess
from importlib import metadata
from pathlib import Path

import torch

from iqa.config import RunConfig, config_hash
from iqa.core.device import cpu_model

PACKAGES = ("iqa", "torch", "torchvision", "timm", "numpy", "pandas", "scipy", "pillow", "snakemake")
SOURCE_DIR = Path(__file__).resolve().parents[2]
LOCK_FILE = SOURCE_DIR / "requirements.lock"


def git_state(path: Path = SOURCE_DIR) -> dict:
    """Commit of the checkout the code runs from, and whether tracked files differ from it."""
    def git(*args):
        return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, timeout=30)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"git_commit": None, "git_dirty": None}
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip() != ""
        return {"git_commit": head.stdout.strip(), "git_dirty": dirty}
    except (OSError, subprocess.TimeoutExpired):
        return {"git_commit": None, "git_dirty": None}


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def environment(lock: Path = LOCK_FILE) -> dict:
    """sha256 of the lock the checkout installs from (None without one) and every installed distribution.

    Distribution names are in the form package indexes compare (PEP 503), so they match the lock's;
    where a name is installed twice, the one import finds first (earlier on sys.path) is recorded.
    """
    lock_sha256 = hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else None
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        if dist.metadata["Name"]:  # a half-removed install leaves a folder without a name: not installed
            found.setdefault(re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower(), dist.version)
    return {"lock_sha256": lock_sha256, "distributions": dict(sorted(found.items()))}


def machine(device: torch.device) -> dict:
    """Host, processor, torch threads (they set the summation order on a CPU), device and, under SLURM,
    the job id and node."""
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {
        "host": socket.gethostname(),
        "cpu_model": cpu_model(detail=True),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "gpu_model": gpu,
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "slurm_node": os.environ.get("SLURMD_NODENAME"),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }


def source_hash(package: Path = SOURCE_DIR / "iqa") -> str:
    """sha256 over the library's .py files (path and bytes): the code that ran, even in a dirty tree."""
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        h.update(f"{path.relative_to(package)}\n".encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def code_and_machine(device: torch.device) -> dict:
    """What ran where: commit, library source hash, package versions, the environment (lock hash and
    installed distributions) and the machine. Every job's record starts with it."""
    return {**git_state(), "source_hash": source_hash(), "versions": versions(), "environment": environment(),
            **machine(device)}


def run_provenance(cfg: RunConfig, model, device: torch.device, data_info: dict, history: list[dict],
                   steps: int, started) -> dict:
    """The record of where a finished run came from and what it cost."""
    import datetime as dt

    from iqa.models.cost import gflops_per_patch, parameters

    ended = dt.datetime.now(dt.timezone.utc)
    train_seconds = sum(h["seconds"] for h in history)
    patches = steps * cfg.train.batch_size * len(history)
    return {
        **code_and_machine(device), "config_hash": config_hash(cfg), **data_info, "seed": cfg.seed,
        "parameters": parameters(model),
        "gflops_per_patch": gflops_per_patch(model, cfg.data.patch_size, device),
        "train_patches_per_second": round(patches / max(train_seconds, 1e-9), 2),
        "start_time": started.isoformat(), "end_time": ended.isoformat(),
        "wall_seconds": round((ended - started).total_seconds(), 3), "train_seconds": round(train_seconds, 3),
    }
