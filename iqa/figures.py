"""Paper figures (PDF and PNG) drawn from the tables and run outputs, never from typed-in numbers.

Each function takes its catalogue entry (`spec`: name, caption, the table it reads), the table builder
(runs of the study) and the built tables by name.
"""
from __future__ import annotations

from pathlib import Path

try:
    import matplotlib
except ModuleNotFoundError as missing:  # optional: only figures need it
    raise ModuleNotFoundError("iqa's figures need matplotlib: pip install 'iqa[plots]'",
                              name="matplotlib") from missing

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .tables import Builder, Table  # noqa: E402


def save(fig, out: Path, name: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    for ext in ("pdf", "png"):
        fig.savefig(out / f"{name}.{ext}", dpi=150)
    plt.close(fig)


def empty(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no finished runs for {what}", ha="center", va="center", transform=ax.transAxes)


def _out(b: Builder) -> Path:
    return b.results / "figures"


def _best_of(b: Builder) -> str:
    return (b.cfg.get("tables") or {}).get("best_of") or next(iter(b.study.cells))


def ablation_waterfall(spec, b: Builder, built: dict) -> None:
    """SRCC and PLCC panels: bars from the first row's mean, one step per added component, paired 95% CIs."""
    df = built[spec.arg].frame()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, m in zip(axes, ("srcc", "plcc")):
        if df.empty or df[f"{m}_mean"].isna().all():
            empty(ax, "the ablation")
            continue
        labels = list(df.index)
        level = df[f"{m}_mean"].iloc[0]
        ax.bar(0, level, color="grey")
        for i, row in enumerate(labels[1:], start=1):
            d = df.loc[row, f"{m}_mean"] - df[f"{m}_mean"].iloc[i - 1]
            if m == "srcc":  # the paired delta and its CI (PLCC steps are shown as differences of means)
                d = df.loc[row, "srcc_delta_vs_prev"]
                err = np.nan_to_num([[d - df.loc[row, "srcc_ci_low_vs_prev"]], [df.loc[row, "srcc_ci_high_vs_prev"] - d]])
            else:
                err = None
            ax.bar(i, d, bottom=level, color="tab:green" if d >= 0 else "tab:red", yerr=err, capsize=4)
            level += d
        ax.set_xticks(range(len(labels)), labels)
        lo, hi = np.nanmin(df[f"{m}_mean"]), np.nanmax(df[f"{m}_mean"])
        ax.set_ylim(max(lo - 0.05, -1), min(hi + 0.05, 1))
        ax.set_ylabel(f"test {m.upper()} (mean over splits)")
    fig.suptitle("Forward ablation")
    save(fig, _out(b), spec.name)


def bars_and_scatter(spec, b: Builder, built: dict) -> None:
    """Left: test SRCC and PLCC per row (median, bars) with the paired 95% CI of SRCC vs the first row;
    right: SRCC against PLCC of every run, one colour per row."""
    df = built[spec.arg].frame()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    if df.empty or df["srcc_median"].isna().all():
        empty(a1, spec.arg)
    else:
        x = np.arange(len(df))
        a1.bar(x - 0.2, df["srcc_median"], 0.4, label="SRCC")
        a1.bar(x + 0.2, df["plcc_median"], 0.4, label="PLCC")
        a1.set_xticks(x, df.index, rotation=20)
        lo = np.nanmin(df[["srcc_median", "plcc_median"]].to_numpy())
        a1.set_ylim(max(lo - 0.1, -1), 1)
        a1.legend(fontsize=7)
        for row in df.index:
            ids = list(b.split_runs(row).values()) if row in b.study.cells else []
            a2.scatter([b.value(r, "srcc") for r in ids], [b.value(r, "plcc") for r in ids], label=row, s=18)
        a2.legend(fontsize=7)
    a1.set_ylabel("test correlation (median over splits)")
    a2.set(xlabel="test SRCC", ylabel="test PLCC", title="one point per run")
    save(fig, _out(b), spec.name)


def sweep_curve(spec, b: Builder, built: dict) -> None:
    """Test SRCC and PLCC (mean ± std) and validation SRCC across the swept values; the value chosen on
    validation is circled. Numeric values spanning a decade or more get a log axis."""
    df = built[spec.arg].frame()
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    if df.empty or df["srcc_mean"].isna().all():
        empty(ax, spec.name)
    else:
        try:
            x = df.index.astype(float).to_numpy()
            log = x.min() > 0 and x.max() / x.min() >= 10
        except ValueError:
            x, log = np.arange(len(df)), False
            ax.set_xticks(x, df.index)
        ax.errorbar(x, df["srcc_mean"], yerr=df["srcc_std"].fillna(0), marker="o", capsize=3, label="test SRCC")
        ax.errorbar(x, df["plcc_mean"], yerr=df["plcc_std"].fillna(0), marker="s", capsize=3, label="test PLCC")
        ax.plot(x, df["val_srcc_median"], "k--", marker=".", label="validation SRCC (median)")
        chosen = (df["chosen"] == "yes").to_numpy()
        ax.scatter(x[chosen], df["val_srcc_median"][chosen], s=150, facecolors="none", edgecolors="red",
                   label="chosen on validation")
        if log:
            ax.set_xscale("log")
        ax.legend(fontsize=7)
    ax.set_xlabel(b.cfg["sweeps"][spec.source.split(".")[1]]["key"])
    ax.set_ylabel("correlation with MOS")
    save(fig, _out(b), spec.name)


def training_curves(spec, b: Builder, built: dict) -> None:
    experiment = _best_of(b)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3.5))
    ids = b.split_runs(experiment) if experiment in b.study.cells else {}
    for k, rid in ids.items():
        h = pd.read_csv(b.results / "runs" / rid / "history.csv")
        a1.plot(h["epoch"], h["train_loss"], marker=".", label=f"split {k}")
        a2.plot(h["epoch"], h["val_srcc"], marker=".", label=f"split {k}")
    if not ids:
        empty(a1, experiment)
    a1.set(xlabel="epoch", ylabel="train loss", title=f"{experiment}: training loss")
    a2.set(xlabel="epoch", ylabel="validation SRCC", title=f"{experiment}: validation SRCC")
    a2.legend(fontsize=7)
    save(fig, _out(b), spec.name)


def _predictions(b: Builder, experiment: str) -> pd.DataFrame:
    ids = b.split_runs(experiment) if experiment in b.study.cells else {}
    frames = [pd.read_csv(b.results / "runs" / rid / "predictions.csv").assign(split=k) for k, rid in ids.items()]
    return pd.concat(frames) if frames else pd.DataFrame()


def attention_weights(spec, b: Builder, built: dict) -> None:
    """Mean scale weight per MOS quintile: which stage the model trusts at each quality level."""
    experiment = _best_of(b)
    p = _predictions(b, experiment)
    cols = [c for c in p.columns if c.startswith("attention_stage")]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    if p.empty or not cols:
        empty(ax, f"attention weights of {experiment}")
    else:
        p["quality"] = pd.qcut(p["mos"], 5, labels=["lowest", "low", "mid", "high", "highest"])
        means = p.groupby("quality", observed=True)[cols].mean()
        means.columns = [c.replace("attention_", "") for c in cols]
        means.plot(kind="bar", ax=ax, rot=0)
        ax.set_xlabel("MOS quintile (test images, all splits)")
        ax.set_ylabel("mean attention weight")
    ax.set_title(f"{experiment}: scale attention by quality")
    save(fig, _out(b), spec.name)


def pred_vs_mos(spec, b: Builder, built: dict) -> None:
    experiment = _best_of(b)
    p = _predictions(b, experiment)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    if p.empty:
        empty(ax, experiment)
    else:
        for k, g in p.groupby("split"):
            ax.scatter(g["mos"], g["pred"], s=8, alpha=0.6, label=f"split {k}")
        ax.legend(fontsize=7)
    ax.set(xlabel="MOS", ylabel="predicted score (MOS scale)", title=f"{experiment}: test predictions")
    save(fig, _out(b), spec.name)


def contribution_chart(spec, b: Builder, built: dict) -> None:
    """Each component's SRCC change with its 95% CI: Shapley values, interaction, total, one-at-a-time."""
    df = built[spec.arg].frame()
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    if df.empty or "srcc_delta_x100" not in df or df["srcc_delta_x100"].isna().all():
        empty(ax, "contributions")
    else:
        d = df.dropna(subset=["srcc_delta_x100"])
        err = np.nan_to_num([d["srcc_delta_x100"] - d["srcc_ci_low_x100"], d["srcc_ci_high_x100"] - d["srcc_delta_x100"]])
        ax.barh(d.index, d["srcc_delta_x100"], xerr=err, capsize=3,
                color=["tab:blue" if v >= 0 else "tab:red" for v in d["srcc_delta_x100"]])
        ax.axvline(0, color="black", lw=0.8)
        ax.invert_yaxis()
    ax.set_xlabel("SRCC change (points x100), 95% CI")
    save(fig, _out(b), spec.name)


def cross_dataset_heatmap(spec, b: Builder, built: dict) -> None:
    """Median SRCC over splits, one cell per experiment and external dataset, annotated."""
    df = built[spec.arg].frame()
    datasets = list(b.cfg["cross_dataset"]["datasets"])
    values = np.array([[df.loc[e, f"{d}_srcc_median"] if e in df.index else np.nan for d in datasets]
                       for e in b.cfg["cross_dataset"]["experiments"]], dtype=float)
    fig, ax = plt.subplots(figsize=(1.8 + 1.4 * len(datasets), 1.2 + 0.6 * len(values)))
    im = ax.imshow(values, cmap="viridis", vmin=np.nanmin(values) if np.isfinite(values).any() else 0, vmax=1)
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, "--" if np.isnan(v) else f"{v:.3f}", ha="center", va="center", color="white")
    ax.set_xticks(range(len(datasets)), datasets)
    ax.set_yticks(range(len(values)), b.cfg["cross_dataset"]["experiments"])
    fig.colorbar(im, ax=ax, label="median test SRCC")
    save(fig, _out(b), spec.name)


def _best_run(b: Builder) -> str | None:
    ids = list(b.split_runs(_best_of(b)).values()) if _best_of(b) in b.study.cells else []
    return max(ids, key=lambda r: np.nan_to_num(b.value(r, "srcc", "val"), nan=-np.inf)) if ids else None


def _inspectable(spec, b: Builder) -> tuple[Path, Path] | None:
    """The best-validation run's folder and data root, or None (after drawing why) when it has no
    saved model or its data is not on this machine."""
    rid = _best_run(b)
    run_dir = b.results / "runs" / rid if rid else None
    root = Path(b.study.runs[rid]["data"]["root"]) if rid else None
    if rid and (run_dir / "model.safetensors").is_file() and root.is_dir():
        return run_dir, root
    fig, ax = plt.subplots()
    empty(ax, f"{_best_of(b)} (no saved model or its data is not here)")
    save(fig, _out(b), spec.name)
    return None


def attention_examples(spec, b: Builder, built: dict) -> None:
    """Low, medium and high-quality test images of the best-validation run, with their attention weights."""
    from . import inspect

    found = _inspectable(spec, b)
    if found:
        inspect.per_image_attention(*found, _out(b), spec.name)


def feature_map_examples(spec, b: Builder, built: dict) -> None:
    """Per-stage feature activations of a high- and a low-quality test image of the best-validation run."""
    from . import inspect

    found = _inspectable(spec, b)
    if found:
        inspect.feature_maps(*found, _out(b), spec.name)
