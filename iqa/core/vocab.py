"""The names results are written under, declared once: metrics, the statistics of table cells, the
`row|column` key of a cell, and the builders of tables and figures.

Tables, their provenance sidecars, the numbers for the prose and `iqa audit` all read and write these
names. They are `StrEnum`s, so a member is its text wherever it goes (JSON, CSV, f-strings, dict keys):
`Metric.SRCC == "srcc"` and `f"{Metric.SRCC}_median" == "srcc_median"`.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Metric(StrEnum):
    """Agreement of predictions with MOS (`iqa.core.metrics.correlations`), in the order runs record them."""

    SRCC = "srcc"
    PLCC = "plcc"
    KRCC = "krcc"
    RMSE = "rmse"


# The two a table shows for every experiment (median, spread, quoted); KRCC and RMSE stay in runs.csv.
TABLE_METRICS = (Metric.SRCC, Metric.PLCC)


class Stat(StrEnum):
    """How a table cell was computed: the `stat` of its provenance, which `iqa audit` recomputes by."""

    COUNT = "count"  # number of runs or pairs
    LABEL = "label"  # text, nothing computed
    QUOTED = "quoted"  # a published number, never measured here
    CONFIG = "config"  # a setting read back from the runs
    HISTORY = "history"  # one epoch of a run's history.csv
    MEDIAN = "median"
    MEAN = "mean"
    STD = "std"
    DELTA = "delta"  # paired difference, mean over splits
    CI_LOW = "ci_low"
    CI_HIGH = "ci_high"
    P = "p"
    HOLM = "holm"  # Holm-adjusted p over the table's tests
    TOST_P = "tost_p"  # equivalence (two one-sided tests)
    SHAPLEY_DELTA = "shapley_delta"
    SHAPLEY_CI_LOW = "shapley_ci_low"
    SHAPLEY_CI_HIGH = "shapley_ci_high"
    SHAPLEY_P = "shapley_p"
    SHAPLEY_SHARE = "shapley_share"
    MEASURED = "measured"  # read from a complexity measurement
    MEASURED_RATIO = "measured_ratio"
    CEILING = "ceiling"  # the dataset's label-noise ceiling
    CEILING_SHARE = "ceiling_share"
    GAIN = "gain"  # relative gain in percent (numbers for the prose only)
    RCI_LOW = "rci_low"  # an adaptive study's repeated 95% interval of a paired difference (iqa.results.adaptive)
    RCI_HIGH = "rci_high"


SUMMARY_STATS = (Stat.MEDIAN, Stat.MEAN, Stat.STD)  # of one experiment's runs over splits
INTERVAL_STATS = (Stat.DELTA, Stat.CI_LOW, Stat.CI_HIGH)  # a paired difference with its 95% CI
# beside a paired CI where looks chose the splits: holds at every look at once (not a test: Holm skips it)
REPEATED_INTERVAL_STATS = (Stat.RCI_LOW, Stat.RCI_HIGH)
RAW_P_STATS = (Stat.P, Stat.SHAPLEY_P)  # the tests Holm adjusts
NOT_COMPUTED_STATS = (Stat.LABEL, Stat.QUOTED, Stat.CONFIG, Stat.HISTORY, Stat.COUNT)  # nothing to recompute


class TableBuild(StrEnum):
    """The builder of a catalogued table (`iqa.study.catalogue`): its function in `iqa.results.tables`
    and its paper form in `iqa.results.paperform` are registered under this name."""

    COMPARISON = "comparison"
    FORWARD_PATH = "forward_path"
    CONTROLS = "controls"
    SELECTION_GAP = "selection_gap"
    PRECISION = "precision"
    SWEEP = "sweep"
    CROSS_DATASET = "cross_dataset"
    CONTRIBUTIONS = "contributions"
    COMPLEXITY = "complexity"
    SOTA = "sota"
    HYPERPARAMETERS = "hyperparameters"
    TRAINING_LOG = "training_log"


class FigureBuild(StrEnum):
    """The builder of a catalogued figure, registered under this name in `iqa.results.figures`."""

    ABLATION_WATERFALL = "ablation_waterfall"
    BARS_AND_SCATTER = "bars_and_scatter"
    CONTRIBUTION_CHART = "contribution_chart"
    CROSS_DATASET_HEATMAP = "cross_dataset_heatmap"
    TRAINING_CURVES = "training_curves"
    ATTENTION_WEIGHTS = "attention_weights"
    PRED_VS_MOS = "pred_vs_mos"
    ATTENTION_EXAMPLES = "attention_examples"
    FEATURE_MAP_EXAMPLES = "feature_map_examples"
    SWEEP_CURVE = "sweep_curve"


SEPARATOR = "|"


@dataclass(frozen=True)
class CellKey:
    """Where a cell sits in a table; as text `row|column`, the key of the provenance sidecar's cells.
    The first `|` splits the text, so a row name holds none."""

    row: str
    column: str

    def __str__(self) -> str:
        return f"{self.row}{SEPARATOR}{self.column}"

    @classmethod
    def parse(cls, text: str) -> CellKey:
        row, sep, column = text.partition(SEPARATOR)
        if not sep:
            raise ValueError(f"a cell key is 'row{SEPARATOR}column', got {text!r}")
        return cls(row, column)


def cell_key(row: str, column: str) -> str:
    """The text key `row|column` of a cell."""
    return str(CellKey(row, column))
