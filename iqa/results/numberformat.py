"""How a number reads in print, shared by the tables' .md and .tex (`tables`) and the macros for the
prose (`quoted`): a metric or share with 4 decimals, any other number with 4 significant digits, a
missing number as `--`."""
from __future__ import annotations

import math
import re

from iqa.core.vocab import Metric

MISSING = "--"
# a metric or p anywhere in a column name (`shifted_srcc_std`, `shifted_p_vs_C0`): one format per family
METRIC_TOKEN = re.compile(rf"(^|_)({'|'.join(Metric)}|p)(_|$)")
FIXED_POINT = (*Metric, "val_", "test_", "train_loss", "share", "quoted", "p_")


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fixed_point_column(column: str) -> bool:
    """Does the column hold metrics, shares or p values (4 decimals) rather than costs and settings?"""
    return column.startswith(FIXED_POINT) or METRIC_TOKEN.search(column) is not None


def number_text(value: float, fixed_point: bool) -> str:
    """4 decimals (`0.9378`) for metrics and shares; 4 significant digits (`3e-05`, `240`) otherwise."""
    return f"{value:.4f}" if fixed_point else f"{value:.4g}"
