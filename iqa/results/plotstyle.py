"""One look for every figure of the study: sizes, fonts, colours, and how a figure is written (vector PDF
plus a PNG preview). `iqa.results.figures` and `iqa.results.diagnostics` draw inside `style()` and write with `save()`."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from iqa.core import layout  # noqa: E402

# Colour-blind-safe (Okabe-Ito); every colour a figure uses is named in its legend or axis label.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
RC = {
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "lines.markersize": 4,
    "errorbar.capsize": 3,
    "legend.frameon": False,
    "axes.prop_cycle": matplotlib.cycler(color=COLOURS),
    "pdf.fonttype": 42,  # TrueType in the PDF: text stays text in the paper
}
WIDTH = 6.5  # inches: a full text width (17 cm); panels share it


@contextmanager
def style():
    with plt.rc_context(RC):
        yield


def figure(ncols: int = 1, nrows: int = 1, height: float = 2.6, width: float = WIDTH, **kw):
    """A figure of `nrows x ncols` panels in the house style (call inside `style()`)."""
    return plt.subplots(nrows, ncols, figsize=(width, height * nrows), squeeze=False, **kw)


def save(fig, out: Path, name: str):
    """`<out>/<name>.pdf` (vector, for the paper) and `.png` (preview); the figure stays open for callers
    that inspect it, so `close(fig)` is theirs."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    for ext in layout.FIGURE_FILES:
        fig.savefig(out / f"{name}.{ext}", bbox_inches="tight")
    return fig


def close(fig) -> None:
    plt.close(fig)
