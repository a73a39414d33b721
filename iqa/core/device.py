"""Where and in what precision a run computes."""
from __future__ import annotations

import contextlib
import platform
from pathlib import Path

import torch

from iqa.core.errors import TrainingError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("train.device is 'cuda' but no CUDA device is available")
    return torch.device(name)


def autocast(device: torch.device, precision: str):
    """bf16 autocast on CUDA when asked; fp32 otherwise (CPU numbers stay exact)."""
    if device.type == "cuda" and precision == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def set_matmul_precision(precision: str) -> None:
    """TF32 tensor cores for fp32 matmuls and convolutions only when `precision` is tf32.

    torch's own defaults differ (matmuls in fp32, cuDNN convolutions in TF32): an fp32 run is fp32
    throughout. Process-wide flags: runs of a pack set them again on every turn. No effect on a CPU.
    """
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Compute with `n` intra-op threads (None: as is), then restore: the count changes summation order."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_model(detail: bool = False) -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo, else what the platform reports). With `detail`, also
    its family and model numbers (a virtual machine may show only a generic name) and the vector
    instructions torch's kernels use on it: runs on another processor may differ in the last bits."""
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())  # the first processor's
    except OSError:
        pass
    name = info.get("model name") or platform.processor() or "unknown CPU"
    if not detail:
        return name
    number = f"family {info['cpu family']} model {info['model']}, " if "cpu family" in info and "model" in info else ""
    return f"{name} ({number}torch {torch.backends.cpu.get_cpu_capability()})"


def device_name(device: torch.device) -> str:
    """What computes on `device`: the GPU's name, or the CPU model."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()


# Dense peak FLOP/s (TFLOP/s) of data-centre GPUs per precision, from the vendors' data sheets: fp32 on the
# CUDA cores, tf32 and bf16 on the tensor cores without sparsity. Matched by a substring of the name.
GPU_PEAK_TFLOPS = (
    ("H200", {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4}),
    ("H100 PCIe", {"fp32": 51.2, "tf32": 378.0, "bf16": 756.0}),
    ("H100", {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4}),
    ("A100", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0}),
)
# fp32 FLOPs per cycle per core of torch's CPU kernels: two fused multiply-add units of the vector width.
CPU_FLOPS_PER_CYCLE = {"AVX512": 64, "AVX2": 32}


def peak_tflops(device: torch.device, precision: str, threads: int) -> tuple[float | None, str]:
    """The device's peak TFLOP/s at `precision` (a CPU computes fp32 whatever is asked), and where it comes
    from; None when the GPU is not in GPU_PEAK_TFLOPS."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, peaks in GPU_PEAK_TFLOPS:
            if key in name:
                return peaks[precision], f"{name} {precision} data-sheet peak"
        return None, f"{name}: no data-sheet peak known (pass --peak-tflops)"
    capability = torch.backends.cpu.get_cpu_capability()
    per_cycle = CPU_FLOPS_PER_CYCLE.get(capability, 8)
    mhz = 0.0
    try:
        mhz = max(float(line.split(":")[1]) for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("cpu MHz"))
    except (OSError, ValueError):
        return None, "CPU clock unknown (pass --peak-tflops)"
    return (threads * mhz * 1e6 * per_cycle / 1e12,
            f"{threads} threads x {mhz / 1000:.2f} GHz x {per_cycle} fp32 FLOP/cycle ({capability})")
