"""`iqa reproduce`: rerun a finished run from the config it recorded and say whether it came out the same.

Before training: the dataset on disk must have the hash the run recorded (else refuse: other data is
not a reproduction), and the library code the source hash it recorded (else refuse, or with
`code="warn"` rerun under today's code and say so). The run is retrained in a scratch folder with
`train.train`, on the recorded number of torch threads, and every outcome is compared: test and
validation SRCC/PLCC/KRCC/RMSE, the selected epoch, the epochs run and predictions.csv.

Verdicts, by device class (docs/reproducibility.md gives the measurements behind the rule):
  exact class   CPU run, same processor (model and torch's vector instructions), torch version and
                torch threads: every number must be bit-identical, else MISMATCH.
  tolerance     another processor, torch version or thread count, or a GPU (whose kernels are not
                bitwise deterministic): each metric within `SE_FRACTION` of its sampling standard error
                on the images it was measured on (`standard_error`), so the allowance shrinks as the
                test set grows; the test images and MOS must be the same.
"""
from __future__ import annotations

import math
import tempfile
from dataclasses import replace
from pathlib import Path

from iqa.core import layout
from iqa.config import RunConfig
from iqa.core.errors import DataError
from iqa.core.vocab import Metric

# A rerun may differ from the record by this fraction of the number's sampling standard error: a drift
# of half a standard error widens the spread of a metric over splits by at most 12% (sqrt(1.25)).
SE_FRACTION = 0.5


def load_record(results: str | Path, run_id: str) -> tuple[Path, dict]:
    from iqa.training.record import read_metrics

    run_dir = layout.run_dir(results, run_id)
    path = run_dir / layout.METRICS
    if not path.is_file():
        found = sorted(p.name for p in layout.runs_dir(results).glob("*") if (p / layout.METRICS).is_file())
        raise DataError(f"no finished run {run_id!r}: {path} is missing"
                        + (f"; finished runs there: {', '.join(found[:10])}" if found else ""))
    return run_dir, read_metrics(path)


def check_data(cfg: RunConfig, prov: dict) -> tuple[bool, str]:
    """Is the data under the recorded root the data the run trained on?"""
    from iqa.data.dataset import dataset_hash, load_koniq

    root = cfg.data.root
    try:
        now = dataset_hash(load_koniq(root))
    except DataError as e:
        return False, f"data: cannot read the recorded dataset root {root!r} ({e}); refusing"
    if now != prov["dataset_hash"]:
        return False, (f"data CHANGED: {root} hashes to {now[:12]}, the run recorded "
                       f"{prov['dataset_hash'][:12]} "
                       f"(label file, image names and sizes); refusing: other data is not a reproduction")
    return True, f"data: {root} has the recorded dataset hash {now[:12]}"


def check_code(prov: dict, mode: str) -> tuple[bool, str]:
    """Same library code (source hash of iqa/*.py) as the run? A commit alone can hide a dirty tree."""
    from iqa.training.provenance import git_state, source_hash

    now, commit = source_hash(), git_state()
    was = f"commit {(prov.get('git_commit') or 'none')[:10]}{' (dirty)' if prov.get('git_dirty') else ''}"
    is_ = f"commit {(commit['git_commit'] or 'none')[:10]}{' (dirty)' if commit['git_dirty'] else ''}"
    if now == prov.get("source_hash"):
        return True, f"code: same library source hash {now[:12]} (run: {was}; now: {is_})"
    line = (f"code CHANGED: library source hash {now[:12]} now, {str(prov.get('source_hash'))[:12]} recorded "
            f"(run: {was}; now: {is_})")
    if mode == "warn":
        return True, line + "; --code warn: rerunning under today's code"
    return False, line + "; refusing (check out the run's commit, or pass --code warn)"


def device_class(prov: dict, now: dict, precision: str = "fp32") -> tuple[bool, str]:
    """(exact expected, why): exact only for a CPU run on the same processor, torch and thread count."""
    why = []
    if now["device"] != "cpu" or prov.get("device") != "cpu":
        was, is_ = prov.get("gpu_model") or prov.get("device"), now["gpu_model"] or now["device"]
        why.append(f"device {was} -> {is_}")
    # a CPU computes in fp32 whatever the config says
    arithmetic = [({"bf16": "bf16 autocast", "tf32": "TF32"}.get(precision, "fp32") if str(d).startswith("cuda")
                   else "fp32") for d in (prov.get("device"), now["device"])]
    if arithmetic[0] != arithmetic[1]:
        why.append(f"arithmetic {arithmetic[0]} -> {arithmetic[1]}")
    for key in ("cpu_model", "torch_threads"):
        if prov.get(key) != now[key]:
            why.append(f"{key} {prov.get(key)} -> {now[key]}")
    torch_was, torch_now = (prov.get("versions") or {}).get("torch"), now["versions"]["torch"]
    if torch_was != torch_now:
        why.append(f"torch {torch_was} -> {torch_now}")
    if not why:
        return True, (f"same machine type ({now['cpu_model']}, {now['torch_threads']} threads, "
                      f"torch {torch_now}): exact")
    return False, "tolerance class: " + "; ".join(why)


def standard_error(metric: str, value: float, n: int) -> float:
    """Sampling standard error of a metric measured on n images. Correlations through Fisher's z, with
    the variances of Fieller, Hartley & Pearson (1957) for Spearman (1.06/(n-3)) and Kendall
    (0.437/(n-4)); RMSE as the standard deviation of n normal residuals, RMSE/sqrt(2n)."""
    if metric == Metric.RMSE:
        return abs(value) / math.sqrt(2 * n)
    if n <= 4:
        return math.inf
    var_z = {Metric.PLCC: 1.0 / (n - 3), Metric.SRCC: 1.06 / (n - 3), Metric.KRCC: 0.437 / (n - 4)}[metric]
    return (1 - value * value) * math.sqrt(var_z)


def within(metric: str, old: float, new: float, n: int) -> bool:
    if math.isnan(old) or math.isnan(new):
        return math.isnan(old) and math.isnan(new)
    return abs(new - old) <= SE_FRACTION * standard_error(metric, old, n)


def metric_rows(old: dict, new: dict) -> list[tuple[str, str, float, float, int]]:
    """(label, metric, recorded, rerun, images) for every metric of the test and validation parts."""
    rows = []
    for part in ("test", "val"):
        a, b = old.get(part) or {}, new.get(part) or {}
        n = int(a.get("n_images") or b.get("n_images") or 0)
        rows += [(f"{part} {m}", m, float(a.get(m, math.nan)), float(b.get(m, math.nan)), n)
                 for m in Metric if m in a or m in b]
    return rows


def compare_predictions(old_dir: Path, new_dir: Path) -> tuple[bool, bool, str]:
    """(bit-identical, same images and MOS, description) of two predictions.csv."""
    import pandas as pd
    from scipy.stats import spearmanr

    from iqa.training.record import sha256_file

    a_path, b_path = old_dir / layout.PREDICTIONS, new_dir / layout.PREDICTIONS
    if sha256_file(a_path) == sha256_file(b_path):
        return True, True, "predictions.csv: identical bytes"
    a, b = pd.read_csv(a_path), pd.read_csv(b_path)
    if list(a["image"]) != list(b["image"]) or not a["mos"].equals(b["mos"]):
        return False, False, "predictions.csv: OTHER TEST IMAGES OR MOS (a different split or data)"
    gap = (a["pred"] - b["pred"]).abs()
    rho = spearmanr(a["pred"], b["pred"]).statistic
    return False, True, (f"predictions.csv: same {len(a)} images and MOS; |pred delta| max {gap.max():.4g}, "
                         f"median {gap.median():.4g} (MOS scale); SRCC between the two runs' predictions "
                         f"{rho:.4f}")


def compare(old_dir: Path, old: dict, new_dir: Path, new: dict, exact: bool) -> tuple[bool, list[str]]:
    """Every recorded outcome against the rerun's: (reproduced, lines ending with the verdict)."""
    lines, failed, differs = [], [], False
    for label, m, a, b, n in metric_rows(old, new):
        same = a == b or (math.isnan(a) and math.isnan(b))
        ok = same or (not exact and within(m, a, b, n))
        allowed = "0 (exact class)" if exact else f"{SE_FRACTION * standard_error(m, a, n):.2e}"
        lines.append(f"  {label:<10} {a:.6f} -> {b:.6f}  delta {b - a:+.2e}  allowed {allowed} ({n} images)  "
                     f"{'same' if same else 'within tolerance' if ok else 'OUT OF TOLERANCE'}")
        differs |= not same
        failed += [] if ok else [label]
    for key in ("best_epoch", "epochs_run"):
        same = old.get(key) == new.get(key)
        lines.append(f"  {key:<10} {old.get(key)} -> {new.get(key)}  {'same' if same else 'differs'}")
        differs |= not same
        failed += [key] if exact and not same else []
    identical, same_images, text = compare_predictions(old_dir, new_dir)
    lines.append("  " + text)
    failed += [] if same_images and (identical or not exact) else [layout.PREDICTIONS]
    weights = weights_difference(old_dir / layout.MODEL, new_dir / layout.MODEL)
    lines.append(f"  model.safetensors: {weights}")
    if failed:
        lines.append(f"verdict: MISMATCH ({', '.join(failed)}"
                     f"{'; expected bit-identical on the same machine type' if exact else ''})")
    elif not differs and identical:
        lines.append("verdict: identical (every metric, the selected epoch and predictions.csv, bit for bit)")
    else:
        lines.append(f"verdict: within tolerance (every metric within {SE_FRACTION:g} x its sampling "
                     f"standard error on its images)")
    return not failed, lines


def weights_difference(a: Path, b: Path) -> str:
    """The selected weights compared tensor by tensor (the file's metadata holds the config, whose
    train.device a rerun may change)."""
    from safetensors.torch import load_file

    x, y = load_file(str(a)), load_file(str(b))
    if x.keys() != y.keys() or any(x[k].shape != y[k].shape for k in x):
        return "DIFFERENT TENSORS (names or shapes)"
    gap = max(float((x[k].double() - y[k].double()).abs().max()) if x[k].numel() else 0.0 for k in x)
    return "bit-identical weights" if gap == 0 else f"weights differ, largest |delta| {gap:.3g}"


def scratch_folder(scratch: str | Path | None, run_dir: Path, run_id: str) -> Path:
    if scratch is None:
        return Path(tempfile.mkdtemp(prefix=f"iqa-reproduce-{run_id}-"))
    out = Path(scratch)
    if out.resolve() == run_dir.resolve():
        raise DataError(f"--scratch {out} is the run's own folder; give an empty folder")
    if (out / layout.METRICS).is_file():
        raise DataError(f"--scratch {out} already holds a finished run (metrics.json); give an empty folder")
    return out


def reproduce(run_id: str, results: str | Path = layout.RESULTS, scratch: str | Path | None = None,
              code: str = "refuse", device: str | None = None, say=print) -> int:
    """Check data and code, retrain the run in `scratch`, compare, print a verdict; 0 when reproduced."""
    from iqa.core.device import torch_threads
    from iqa.training.provenance import source_hash
    from iqa.results.runs import tampering
    from iqa.training.train import train

    run_dir, record = load_record(results, run_id)
    prov, cfg = record["provenance"], RunConfig.from_dict(record["config"], where=str(run_dir / layout.METRICS))
    if device:  # not hashed: the same run on another device
        cfg = replace(cfg, train=replace(cfg.train, device=device))
    say(f"reproducing {run_id}: recorded {prov.get('end_time')} on "
        f"{prov.get('gpu_model') or prov.get('device')}, "
        f"{prov.get('cpu_model') or 'processor not recorded'}, "
        f"{prov.get('torch_threads') or '?'} torch threads")
    problem = tampering(run_dir, record)
    state = f"TAMPERED: {problem}" if problem else "match their recorded SHA-256 and metrics"
    say(f"recorded files: {state}")
    for ok, line in (check_data(cfg, prov), check_code(prov, code)):
        say(line)
        if not ok:
            return 1
    out = scratch_folder(scratch, run_dir, run_id)
    say(f"training in {out} ...")
    with torch_threads(prov.get("torch_threads")):
        new = train(cfg, out)
    exact, why = device_class(prov, new["provenance"], cfg.train.precision)
    say(why)
    reproduced, lines = compare(run_dir, record, out, new, exact)
    for line in lines:
        say(line)
    if code == "warn" and source_hash() != prov.get("source_hash"):
        say("note: rerun under other library code than the run's (--code warn)")
    if problem:
        say("the recorded run's files were altered after it finished: not a reproduction of what it recorded")
    return 0 if reproduced and not problem else 1
