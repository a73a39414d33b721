"""Paper figures (PDF and PNG) drawn from the tables and run outputs, never from typed-in numbers."""
from __future__ import annotations

from pathlib import Path

import matplotlib

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


def ablation_waterfall(t: Table, out: Path) -> None:
    """Bars from the first row's SRCC, one step per added component, with paired 95% CIs."""
    df = t.frame()
    fig, ax = plt.subplots(figsize=(6, 4))
    if df.empty or df["srcc_mean"].isna().all():
        empty(ax, "the ablation")
    else:
        labels = list(df.index)
        level = df["srcc_mean"].iloc[0]
        ax.bar(0, level, color="grey")
        for i, row in enumerate(labels[1:], start=1):
            d = df.loc[row, "srcc_delta_vs_prev"]
            err = [[d - df.loc[row, "srcc_ci_low_vs_prev"]], [df.loc[row, "srcc_ci_high_vs_prev"] - d]]
            ax.bar(i, d, bottom=level, color="tab:green" if d >= 0 else "tab:red",
                   yerr=np.nan_to_num(err), capsize=4)
            level += d
        ax.set_xticks(range(len(labels)), labels)
        lo = np.nanmin(df["srcc_mean"]) - 0.05
        ax.set_ylim(max(lo, -1), min(np.nanmax(df["srcc_mean"]) + 0.05, 1))
    ax.set_ylabel("test SRCC (mean over splits)")
    ax.set_title("Forward ablation")
    save(fig, out, "ablation_waterfall")


def lr_sensitivity(t: Table, out: Path) -> None:
    df = t.frame()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    if df.empty or df["srcc_mean"].isna().all():
        empty(ax, "the lr sweep")
    else:
        lrs = df.index.astype(float)
        ax.errorbar(lrs, df["srcc_mean"], yerr=df["srcc_std"].fillna(0), marker="o", capsize=3)
        ax.set_xscale("log")
    ax.set_xlabel("backbone learning rate")
    ax.set_ylabel("test SRCC (mean ± std)")
    save(fig, out, "lr_sensitivity")


def model_size(t: Table, out: Path) -> None:
    df = t.frame()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    if df.empty or df["srcc_mean"].isna().all():
        empty(ax, "the size sweep")
    else:
        ax.errorbar(df["params_m"], df["srcc_mean"], yerr=df["srcc_std"].fillna(0), fmt="o", capsize=3)
        for name, row in df.iterrows():
            ax.annotate(name, (row["params_m"], row["srcc_mean"]), textcoords="offset points", xytext=(5, 5))
    ax.set_xlabel("parameters (M)")
    ax.set_ylabel("test SRCC (mean ± std)")
    save(fig, out, "model_size")


def training_curves(b: Builder, experiment: str, results: Path, out: Path) -> None:
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3.5))
    ids = b.split_runs(experiment) if experiment in b.study.cells else {}
    for k, rid in ids.items():
        h = pd.read_csv(results / "runs" / rid / "history.csv")
        a1.plot(h["epoch"], h["train_loss"], marker=".", label=f"split {k}")
        a2.plot(h["epoch"], h["val_srcc"], marker=".", label=f"split {k}")
    if not ids:
        empty(a1, experiment)
    a1.set(xlabel="epoch", ylabel="train L1 loss", title=f"{experiment}: training loss")
    a2.set(xlabel="epoch", ylabel="validation SRCC", title=f"{experiment}: validation SRCC")
    a2.legend(fontsize=7)
    save(fig, out, "training_curves")


def _predictions(b: Builder, experiment: str, results: Path) -> pd.DataFrame:
    ids = b.split_runs(experiment) if experiment in b.study.cells else {}
    frames = [pd.read_csv(results / "runs" / rid / "predictions.csv").assign(split=k) for k, rid in ids.items()]
    return pd.concat(frames) if frames else pd.DataFrame()


def attention_weights(b: Builder, experiment: str, results: Path, out: Path) -> None:
    """Mean scale weight per MOS quintile: which stage the model trusts at each quality level."""
    p = _predictions(b, experiment, results)
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
    save(fig, out, "attention_weights")


def pred_vs_mos(b: Builder, experiment: str, results: Path, out: Path) -> None:
    p = _predictions(b, experiment, results)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    if p.empty:
        empty(ax, experiment)
    else:
        for k, g in p.groupby("split"):
            ax.scatter(g["mos"], g["pred"], s=8, alpha=0.6, label=f"split {k}")
        ax.legend(fontsize=7)
    ax.set(xlabel="MOS", ylabel="predicted score", title=f"{experiment}: test predictions")
    save(fig, out, "pred_vs_mos")


def contribution_chart(t: Table, out: Path) -> None:
    df = t.frame()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if df.empty or "srcc_delta_x100" not in df or df["srcc_delta_x100"].isna().all():
        empty(ax, "contributions")
    else:
        d = df["srcc_delta_x100"].dropna()
        ax.barh(d.index, d.values, color=["tab:blue" if v >= 0 else "tab:red" for v in d.values])
        ax.axvline(0, color="black", lw=0.8)
        ax.invert_yaxis()
    ax.set_xlabel("SRCC change (points x100)")
    save(fig, out, "contributions")
