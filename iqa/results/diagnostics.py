"""Per-image figures of one trained run: what it predicts, which stages it weighs, where its features fire.

Images are chosen from the run's test predictions (predictions.csv) by a fixed rule, `choose_images`:
for each target percentile p of the test MOS (10, 50, 90 by default), among the images whose MOS
percentile rank lies within p +- 5, the one predicted best (smallest |pred - MOS|), ties broken by
name. An image's percentile rank is 100 (r - 1/2) / n for its MOS rank r (1 = lowest, ties averaged)
among n images; when no image lies in the window (tiny test sets) the nearest-ranked one is taken.

Images are shown as the model saw them: decoded at the run's `data.resize`. Both figure functions
check that `data_root` holds the dataset the run was trained on (same dataset hash) and that
predictions.csv is the file the run recorded (same SHA-256).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from iqa.data.crops import test_positions  # noqa: E402
from iqa.data.dataset import Dataset, dataset_hash, load_image, load_koniq  # noqa: E402
from iqa.core import layout  # noqa: E402
from iqa.core.errors import DataError  # noqa: E402
from iqa.results.plotstyle import save  # noqa: E402
from iqa.data.pipeline import normalize  # noqa: E402
from iqa.models.saved import load_model  # noqa: E402
from iqa.training.record import read_metrics, sha256_file  # noqa: E402

PERCENTILES = (10, 50, 90)
WINDOW = 5  # percentile points either side of each target


def choose_images(pred: pd.DataFrame, percentiles=PERCENTILES, window: float = WINDOW) -> pd.DataFrame:
    """One row of `pred` (columns image, mos, pred, ...) per target percentile, by the module's rule.

    The result keeps `pred`'s columns and adds `percentile` (the target) and `rank_pct` (the image's).
    """
    rank = 100 * (pred["mos"].rank(method="average") - 0.5) / len(pred)
    table = pred.assign(rank_pct=rank, abs_error=(pred["pred"] - pred["mos"]).abs())
    rows = []
    for p in percentiles:
        near = table[(table["rank_pct"] - p).abs() <= window]
        if near.empty:
            near = table.assign(dist=(table["rank_pct"] - p).abs()).sort_values(["dist", "image"]).head(1)
        best = near.sort_values(["abs_error", "image"]).iloc[0]
        rows.append(best.drop(["abs_error", "dist"], errors="ignore").to_dict() | {"percentile": p})
    return pd.DataFrame(rows)


def open_run(run_dir: Path, data_root: Path) -> tuple[dict, pd.DataFrame, Dataset]:
    """The run's metrics.json, its test predictions and its dataset, each checked against the run's record."""
    run_dir = Path(run_dir)
    done = run_dir / layout.METRICS
    if not done.is_file():
        raise DataError(f"{run_dir}: no {layout.METRICS}; is it a finished run folder?")
    metrics = read_metrics(done)
    pred_file = run_dir / layout.PREDICTIONS
    if not pred_file.is_file() or sha256_file(pred_file) != metrics["files"].get(layout.PREDICTIONS):
        raise DataError(f"{pred_file}: missing or not the file the run recorded in {done}")
    ds = load_koniq(data_root)
    if dataset_hash(ds) != metrics["provenance"]["dataset_hash"]:
        raise DataError(f"{data_root}: not the dataset run {metrics['run_id']} was trained on "
                        f"(dataset hash differs from {done})")
    return metrics, pd.read_csv(pred_file, dtype={"image": str}), ds


def decoded(ds: Dataset, name: str, resize: tuple[int, int]) -> np.ndarray:
    """One image as the run saw it: (H, W, 3) uint8 at its `data.resize`."""
    if name not in ds.names:
        raise DataError(f"{ds.label_file}: image {name} of the run's predictions is not listed")
    return load_image(ds.image_dir / name, tuple(resize))


def per_image_attention(run_dir: Path, data_root: Path, out: Path, name: str) -> None:
    """Figure `<out>/per_image_attention.{pdf,png}`: chosen test images, MOS, prediction, scale weights."""
    metrics, pred, ds = open_run(run_dir, data_root)
    chosen = choose_images(pred)
    stages = [c for c in pred.columns if c.startswith("attention_stage")]
    fig, axes = plt.subplots(2, len(chosen), figsize=(3.4 * len(chosen), 5.2), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 2]})
    for (ax_img, ax_bar), (_, row) in zip(axes.T, chosen.iterrows()):
        ax_img.imshow(decoded(ds, row["image"], metrics["config"]["data"]["resize"]))
        ax_img.set_axis_off()
        ax_img.set_title(f"near MOS p{row['percentile']}: {row['image']}\n"
                         f"MOS {row['mos']:.1f}, predicted {row['pred']:.1f}", fontsize=8)
        if not stages:
            ax_bar.text(0.5, 0.5, "no scale attention\nin this model", ha="center", va="center",
                        transform=ax_bar.transAxes)
            ax_bar.set_axis_off()
            continue
        bars = ax_bar.bar(range(1, len(stages) + 1), row[stages].to_numpy(float), color="tab:blue")
        ax_bar.bar_label(bars, fmt="%.2f", fontsize=7)
        ax_bar.axhline(1 / len(stages), color="grey", ls="--", lw=0.8)
        ax_bar.set(ylim=(0, 1), xticks=range(1, len(stages) + 1), xlabel="backbone stage")
        ax_bar.set_ylabel("attention weight (dashed: uniform)", fontsize=7)
    fig.suptitle(f"{metrics['run_id']}: test images near the 10th, 50th and 90th MOS percentile", fontsize=9)
    return save(fig, Path(out), name)


@torch.inference_mode()
def stage_activations(model, patch: np.ndarray) -> list[tuple[np.ndarray, tuple[int, int]]]:
    """Mean absolute activation over channels of each backbone stage for one (p, p, 3) uint8 patch,
    upsampled (bilinear) to p x p, with the stage's own grid (h, w); one per stage, shallowest first."""
    x = normalize(torch.from_numpy(np.ascontiguousarray(patch))[None])
    device = next(model.parameters()).device
    feats = model.backbone.forward_intermediates(x.to(device), indices=4, intermediates_only=True)
    side = patch.shape[0]
    return [(F.interpolate(f.float().abs().mean(1, keepdim=True), size=(side, side), mode="bilinear",
                           align_corners=False)[0, 0].cpu().numpy(), tuple(f.shape[2:])) for f in feats]


def feature_maps(run_dir: Path, data_root: Path, out: Path, name: str) -> None:
    """Figure `<out>/feature_maps.{pdf,png}`: per-stage activation maps beside the centre patch of the chosen
    high-quality (near MOS p90) and low-quality (near p10) test images."""
    metrics, pred, ds = open_run(run_dir, data_root)
    model, cfg, _ = load_model(Path(run_dir) / layout.MODEL, ["train.device=cpu"])
    chosen = choose_images(pred, percentiles=(90, 10))
    side = cfg.data.patch_size
    fig, axes = plt.subplots(len(chosen), 6, figsize=(15, 3.3 * len(chosen)), squeeze=False)
    for row_axes, (_, row) in zip(axes, chosen.iterrows()):
        image = decoded(ds, row["image"], cfg.data.resize)
        top, left = test_positions("center", image.shape[0], image.shape[1], side, 0, 0)[0].tolist()
        patch = image[top:top + side, left:left + side]
        row_axes[0].imshow(image)
        row_axes[0].add_patch(Rectangle((left, top), side, side, fill=False, color="yellow", lw=1.5))
        row_axes[0].set_title(f"{row['image']} (near MOS p{row['percentile']})\n"
                              f"MOS {row['mos']:.1f}, predicted {row['pred']:.1f}", fontsize=8)
        row_axes[1].imshow(patch)
        row_axes[1].set_title(f"centre patch ({side}x{side}, yellow box)", fontsize=8)
        for k, (ax, (act, grid)) in enumerate(zip(row_axes[2:], stage_activations(model, patch)), start=1):
            ax.imshow(act, cmap="inferno")
            ax.set_title(f"stage {k} ({grid[0]}x{grid[1]}): mean |activation|\n"
                         f"{act.min():.2g} (dark) to {act.max():.2g} (bright)", fontsize=8)
        for ax in row_axes:
            ax.set_axis_off()
    fig.suptitle(f"{metrics['run_id']}: backbone stage activations, high- and low-quality test image",
                 fontsize=9)
    return save(fig, Path(out), name)
