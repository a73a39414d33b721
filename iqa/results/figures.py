"""Paper figures (PDF and PNG) drawn from the tables and run outputs, never from typed-in numbers.

Each function takes its catalogue entry (`spec`: name, caption, the table it reads), the table builder
(runs of the study) and the built tables by name, draws in the house style (`iqa.results.plotstyle`), writes the
figure and returns it (`draw` closes it). Comparisons are points with 95% CI whiskers from a zero line,
never bars cut by an axis limit.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

try:
    import matplotlib
except ModuleNotFoundError as missing:  # optional: only figures need it
    raise ModuleNotFoundError("iqa's figures need matplotlib: pip install 'iqa[plots]'",
                              name="matplotlib") from missing

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from matplotlib.transforms import ScaledTranslation  # noqa: E402

from iqa.core import layout  # noqa: E402
from iqa.core.registry import Registry  # noqa: E402
from iqa.core.vocab import INTERVAL_STATS, TABLE_METRICS, FigureBuild, Metric  # noqa: E402
from iqa.results.plotstyle import close, figure, save, style  # noqa: E402
from iqa.stats.cells import paired_delta  # noqa: E402
from iqa.results.tables import Builder  # noqa: E402

__all__ = ["draw", "save"]

FIGURE_BUILDERS = Registry("figure builder")  # FigureBuild name -> function(spec, Builder, built tables)
figure_builder = FIGURE_BUILDERS.register


def draw(spec, b: Builder, built: dict) -> None:
    """Draw and write one catalogued figure, then free it."""
    with style():
        fig = FIGURE_BUILDERS[spec.build](spec, b, built)
    if fig is not None:
        close(fig)


def empty(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no finished runs for {what}", ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()  # no axes for data that is not there


def _out(b: Builder) -> Path:
    return layout.figures_dir(b.results)


def paired_steps(b: Builder, pairs: list[tuple[str, str]], metric: str) -> pd.DataFrame:
    """Paired difference (mean over common splits) of each (experiment, reference) with its 95% CI, by the
    same paired t as the tables' delta columns (`stats.paired_delta`)."""
    out = {}
    for e, ref in pairs:
        a, r = b.split_runs(e), b.split_runs(ref)
        ks = sorted(set(a) & set(r))
        res = paired_delta([b.value(a[k], metric) for k in ks], [b.value(r[k], metric) for k in ks])
        out[(e, ref)] = {stat: res[stat] for stat in INTERVAL_STATS}
    return pd.DataFrame.from_dict(out, orient="index")


def ci_points(ax, y, d: pd.DataFrame, label: str, colour: str, offset: float = 0.0, horizontal: bool = True):
    """Points at each delta with 95% CI whiskers (none where the CI is undefined), and a zero line."""
    y = np.asarray(y, float) + offset
    err = np.abs(np.array([d["delta"] - d["ci_low"], d["ci_high"] - d["delta"]], float))
    kw = dict(fmt="o", color=colour, ecolor=colour, label=label)
    if horizontal:
        ax.errorbar(d["delta"], y, xerr=err, **kw)
        ax.axvline(0, color="black", lw=0.8)
    else:
        ax.errorbar(y, d["delta"], yerr=err, **kw)
        ax.axhline(0, color="black", lw=0.8)


def legend_below(ax, ncol: int = 2) -> None:
    """The legend under the axes and their x label (a fixed 0.42 inch below), where it hides no data."""
    below = ax.transAxes + ScaledTranslation(0, -0.42, ax.figure.dpi_scale_trans)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=below, ncol=ncol)


def wrapped(label: str, width: int = 28) -> str:
    return "\n".join(textwrap.wrap(str(label), width)) or str(label)


@figure_builder(FigureBuild.ABLATION_WATERFALL)
def ablation_waterfall(spec, b: Builder, built: dict):
    """Forward ablation, one step per added component: the paired change in test SRCC (left) and PLCC
    (right) over the previous row, points with 95% CIs; the first row's median is the reference level."""
    rows = [r for r in built[spec.arg].rows]
    steps = list(zip(rows[1:], rows[:-1]))
    fig, axes = figure(2, height=max(1.6, 0.45 * len(steps) + 1.0))
    for ax, m, colour in zip(axes[0], TABLE_METRICS, ("C0", "C1")):
        d = paired_steps(b, steps, m) if steps else pd.DataFrame()
        if d.empty or d["delta"].isna().all():
            empty(ax, "the ablation")
            continue
        ci_points(ax, range(len(steps)), d, "paired difference, mean over splits, with 95% CI", colour)
        ax.set_yticks(range(len(steps)), [f"{ref} -> {e}" for e, ref in steps])
        ax.set_ylim(len(steps) - 0.5, -0.5)
        base = built[spec.arg].rows[rows[0]].get(f"{m}_median", np.nan)
        ax.set(xlabel=f"change in test {m.upper()} over the previous row",
               title=f"{m.upper()}: step by step from {rows[0]} (median {base:.4f})")
        legend_below(ax, 1)
    return save(fig, _out(b), spec.name)


@figure_builder(FigureBuild.BARS_AND_SCATTER)
def bars_and_scatter(spec, b: Builder, built: dict):
    """Left: paired change in test SRCC and PLCC of each row against the first, with 95% CIs; right:
    SRCC against PLCC of every run (one colour per row, named in the legend) with the identity line."""
    rows = list(built[spec.arg].rows)
    fig, axes = figure(2, height=max(2.4, 0.4 * len(rows) + 1.2))
    a1, a2 = axes[0]
    pairs = [(e, rows[0]) for e in rows[1:]]
    if not pairs or all(not b.split_runs(e) for e in rows):
        empty(a1, spec.arg)
    else:
        for i, m in enumerate(TABLE_METRICS):
            ci_points(a1, range(len(pairs)), paired_steps(b, pairs, m), f"test {m.upper()}", f"C{i}",
                      offset=0.15 * (2 * i - 1))
        a1.set_yticks(range(len(pairs)), [e for e, _ in pairs])
        a1.set_ylim(len(pairs) - 0.5, -0.5)
        legend_below(a1)
        a1.set(xlabel=f"paired change against {rows[0]} (95% CI)", title=f"each row against {rows[0]}")
    lims = []
    for row in rows:
        ids = list(b.split_runs(row).values()) if row in b.study.cells else []
        x, y = [b.value(r, Metric.SRCC) for r in ids], [b.value(r, Metric.PLCC) for r in ids]
        a2.scatter(x, y, label=row, s=18)
        lims += x + y
    finite = [v for v in lims if np.isfinite(v)]
    if finite:
        lo, hi = min(finite), max(finite)
        pad = 0.05 * (hi - lo or 1)
        a2.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8, label="SRCC = PLCC")
        legend_below(a2, 3)
    a2.set(xlabel="test SRCC", ylabel="test PLCC", title="one point per run (split)")
    return save(fig, _out(b), spec.name)


def log_axis(key: str, x: np.ndarray) -> bool:
    """Learning rates, and any positive setting spanning a decade, are read on a log axis."""
    positive = x.size and (x > 0).all()
    return bool(positive and (key.split(".")[-1].startswith("lr") or x.max() / x.min() >= 10))


@figure_builder(FigureBuild.SWEEP_CURVE)
def sweep_curve(spec, b: Builder, built: dict):
    """Left: median test SRCC and PLCC and validation SRCC across the swept values, every split's test
    SRCC as a dot, the value chosen on validation circled; right: paired change in test SRCC against the
    sweep's origin with 95% CIs."""
    t = built[spec.arg]
    df = t.frame()
    sweep = b.cfg["sweeps"][spec.source.split(".")[1]]
    key = sweep["key"]
    fig, axes = figure(2)
    a1, a2 = axes[0]
    if df.empty or df["srcc_median"].isna().all():
        empty(a1, spec.name)
        return save(fig, _out(b), spec.name)
    try:
        x = df.index.astype(float).to_numpy()
    except ValueError:
        x = np.arange(len(df), dtype=float)
        for ax in (a1, a2):
            ax.set_xticks(x, df.index)
    a1.plot(x, df["srcc_median"], "o-", label="test SRCC (median)")
    a1.plot(x, df["plcc_median"], "s-", label="test PLCC (median)")
    a1.plot(x, df["val_srcc_median"], "k--", marker=".", label="validation SRCC (median)")
    from iqa.study.spec import sweep_name

    for xi, v in zip(x, sweep["values"]):
        e = sweep_name(spec.source.split(".")[1], v)
        vals = [b.value(r, Metric.SRCC) for r in b.split_runs(e).values()]
        a1.scatter([xi] * len(vals), vals, s=8, color="C0", alpha=0.5,
                   label="test SRCC, one split" if xi == x[0] else None)
    chosen = (df["chosen"] == "yes").to_numpy()
    a1.scatter(x[chosen], df["val_srcc_median"][chosen], s=150, facecolors="none", edgecolors="C3",
               label="chosen on validation")
    ref = sweep.get("of")
    cols = [f"{Metric.SRCC}_{s}_vs_{ref}" for s in INTERVAL_STATS]
    if ref and set(cols) <= set(df.columns):
        d = df[cols].set_axis([str(s) for s in INTERVAL_STATS], axis=1)
        ci_points(a2, x, d, f"test SRCC minus {ref}'s, 95% CI", "C0", horizontal=False)
        legend_below(a2, 1)
    else:
        empty(a2, f"a paired comparison (the sweep has no origin)")
    for ax in (a1, a2):
        ax.margins(x=0.12)  # room for the circle around an end value
        if log_axis(key, x):
            ax.set_xscale("log")
        ax.set_xlabel(f"{key} ({'log scale' if log_axis(key, x) else 'linear'})")
    a1.set(ylabel="correlation with MOS", title=f"{key}: accuracy")
    a2.set(ylabel="paired change in test SRCC", title=f"{key}: against {ref}" if ref else key)
    legend_below(a1)
    return save(fig, _out(b), spec.name)


@figure_builder(FigureBuild.TRAINING_CURVES)
def training_curves(spec, b: Builder, built: dict):
    experiment = b.best_of()
    fig, axes = figure(2)
    a1, a2 = axes[0]
    ids = b.split_runs(experiment) if experiment in b.study.cells else {}
    for k, rid in ids.items():
        h = pd.read_csv(layout.run_file(b.results, rid, layout.HISTORY))
        a1.plot(h["epoch"], h["train_loss"], marker="o", label=f"split {k}")
        a2.plot(h["epoch"], h["val_srcc"], marker="o", label=f"split {k}")
    if not ids:
        empty(a1, experiment)
    for ax in (a1, a2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
    a1.set(xlabel="epoch", ylabel="training loss", title=f"{experiment}: training loss")
    a2.set(xlabel="epoch", ylabel="validation SRCC", title=f"{experiment}: validation SRCC")
    if ids:
        legend_below(a1, 3)
        legend_below(a2, 3)
    return save(fig, _out(b), spec.name)


def _predictions(b: Builder, experiment: str) -> pd.DataFrame:
    ids = b.split_runs(experiment) if experiment in b.study.cells else {}
    frames = [pd.read_csv(layout.run_file(b.results, rid, layout.PREDICTIONS)).assign(split=k)
              for k, rid in ids.items()]
    return pd.concat(frames) if frames else pd.DataFrame()


QUINTILES = ["lowest", "low", "mid", "high", "highest"]


@figure_builder(FigureBuild.ATTENTION_WEIGHTS)
def attention_weights(spec, b: Builder, built: dict):
    """Mean scale weight per MOS quintile with its 95% CI over images: which stage the model trusts at
    each quality level. One colour per backbone stage (legend beside the axes)."""
    experiment = b.best_of()
    p = _predictions(b, experiment)
    cols = [c for c in p.columns if c.startswith("attention_stage")]
    fig, axes = figure(1, width=5.0)
    ax = axes[0, 0]
    if p.empty or not cols:
        empty(ax, f"attention weights of {experiment}")
    else:
        p["quality"] = pd.qcut(p["mos"], 5, labels=QUINTILES)
        g = p.groupby("quality", observed=True)[cols]
        means, half = g.mean(), 1.96 * g.sem()
        width = 0.8 / len(cols)
        for i, c in enumerate(cols):
            x = np.arange(len(means)) + (i - (len(cols) - 1) / 2) * width
            ax.bar(x, means[c], width, yerr=half[c], label=c.replace("attention_stage", "stage "))
        ax.set_xticks(range(len(means)), means.index)
        ax.axhline(1 / len(cols), color="black", ls="--", lw=0.8, label="uniform weight")
        ax.set(xlabel="MOS quintile (test images, all splits)", ylabel="mean attention weight (95% CI)",
               ylim=(0, None))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_title(f"{experiment}: scale attention by quality")
    return save(fig, _out(b), spec.name)


@figure_builder(FigureBuild.PRED_VS_MOS)
def pred_vs_mos(spec, b: Builder, built: dict):
    experiment = b.best_of()
    p = _predictions(b, experiment)
    fig, axes = figure(1, width=3.6, height=3.4)
    ax = axes[0, 0]
    if p.empty:
        empty(ax, experiment)
    else:
        for k, g in p.groupby("split"):
            ax.scatter(g["mos"], g["pred"], s=6, alpha=0.6, label=f"split {k}")
        lo = float(min(p["mos"].min(), p["pred"].min()))
        hi = float(max(p["mos"].max(), p["pred"].max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="prediction = MOS")
        ax.set_aspect("equal")
        legend_below(ax, 2)
    ax.set(xlabel="MOS", ylabel="predicted score (MOS scale)", title=f"{experiment}: test predictions")
    return save(fig, _out(b), spec.name)


CONTRIBUTION_GROUPS = (("Shapley", "Shapley value of each component"),
                       ("total", "Total: full model minus all components off"),
                       ("interaction", "Interaction of the components"),
                       ("one at a time", "One at a time: full model minus one setting changed"))


def contribution_groups(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The contributions table's rows by kind (Shapley, total, interaction, one at a time), in that order."""
    kind = df["kind"].fillna("").astype(str)
    out = []
    for prefix, title in CONTRIBUTION_GROUPS:
        part = df[kind.str.startswith(prefix)].dropna(subset=["srcc_delta_x100"])
        if not part.empty:
            out.append((title, part))
    return out


@figure_builder(FigureBuild.CONTRIBUTION_CHART)
def contribution_chart(spec, b: Builder, built: dict):
    """One titled panel per kind of contribution, each a point with its 95% CI, on one shared axis."""
    df = built[spec.arg].frame()
    groups = contribution_groups(df) if "srcc_delta_x100" in df and "kind" in df else []
    if not groups:
        fig, axes = figure(1)
        empty(axes[0, 0], "contributions")
        return save(fig, _out(b), spec.name)
    fig, axes = figure(1, nrows=len(groups), height=1.0, sharex=True,
                       gridspec_kw={"height_ratios": [len(g) for _, g in groups]})
    for ax, (title, g) in zip(axes[:, 0], groups):
        d = g.rename(columns={"srcc_delta_x100": "delta", "srcc_ci_low_x100": "ci_low",
                              "srcc_ci_high_x100": "ci_high"})
        ci_points(ax, range(len(g)), d, "mean over splits, 95% CI", "C0")
        ax.set_yticks(range(len(g)), [wrapped(r) for r in g.index])
        ax.set_ylim(len(g) - 0.5, -0.5)
        ax.set_title(title, loc="left")
    legend_below(axes[-1, 0], 1)
    axes[-1, 0].set_xlabel("change in test SRCC (points x100)")
    fig.set_figheight(0.3 * len(df) + 0.5 * len(groups) + 1.0)
    return save(fig, _out(b), spec.name)


@figure_builder(FigureBuild.CROSS_DATASET_HEATMAP)
def cross_dataset_heatmap(spec, b: Builder, built: dict):
    """Median SRCC over splits, one cell per experiment and external dataset, annotated."""
    df = built[spec.arg].frame()
    datasets = list(b.cfg["cross_dataset"]["datasets"])
    experiments = b.cfg["cross_dataset"]["experiments"]
    values = np.array([[df.loc[e, f"{d}_srcc_median"] if e in df.index else np.nan for d in datasets]
                       for e in experiments], dtype=float)
    fig, axes = figure(1, width=1.8 + 1.4 * len(datasets), height=1.0 + 0.5 * len(values))
    ax = axes[0, 0]
    ax.grid(False)
    vmin = np.nanmin(values) if np.isfinite(values).any() else 0
    im = ax.imshow(values, cmap="viridis", vmin=vmin, vmax=1)
    for (i, j), v in np.ndenumerate(values):
        # dark text on the light end of the colour map, light text on the dark end
        light = np.isfinite(v) and (v - vmin) / max(1 - vmin, 1e-9) > 0.6
        ax.text(j, i, "--" if np.isnan(v) else f"{v:.4f}", ha="center", va="center",
                color="black" if light else "white")
    ax.set_xticks(range(len(datasets)), datasets)
    ax.set_yticks(range(len(values)), experiments)
    ax.set(xlabel="scored on (no retraining)", ylabel="trained as")
    fig.colorbar(im, ax=ax, label="median test SRCC")
    return save(fig, _out(b), spec.name)


def _inspectable(spec, b: Builder) -> tuple[Path, Path] | None:
    """The best-validation run's folder and data root, or None (after drawing why) when it has no
    saved model or its data is not on this machine."""
    rid = b.best_run(b.best_of())
    run_dir = layout.run_dir(b.results, rid) if rid else None
    root = Path(b.study.runs[rid].data.root) if rid else None
    if rid and (run_dir / layout.MODEL).is_file() and root.is_dir():
        return run_dir, root
    fig, axes = figure(1)
    empty(axes[0, 0], f"{b.best_of()} (no saved model or its data is not here)")
    save(fig, _out(b), spec.name)
    close(fig)
    return None


@figure_builder(FigureBuild.ATTENTION_EXAMPLES)
def attention_examples(spec, b: Builder, built: dict) -> None:
    """Low, medium and high-quality test images of the best-validation run, with their attention weights."""
    from iqa.results import diagnostics  # imports torch: only for these two figures

    found = _inspectable(spec, b)
    if found:
        return diagnostics.per_image_attention(*found, _out(b), spec.name)


@figure_builder(FigureBuild.FEATURE_MAP_EXAMPLES)
def feature_map_examples(spec, b: Builder, built: dict) -> None:
    """Per-stage feature activations of a high- and a low-quality test image of the best-validation run."""
    from iqa.results import diagnostics  # imports torch: only for these two figures

    found = _inspectable(spec, b)
    if found:
        return diagnostics.feature_maps(*found, _out(b), spec.name)
