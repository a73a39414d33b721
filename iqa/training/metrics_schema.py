"""The schema of metrics.json, the record a finished training run or cross-dataset score writes last.

Declared as TypedDicts: the keys every record must have and their JSON types (a record may hold more:
its provenance grows with the machine it ran on). `check` refuses a record that lacks a key or holds
another type, in one line naming the file and the key, so that no reader meets a KeyError deep in a
table builder. `record.write_metrics` checks before it writes, `record.read_metrics` after it reads.
"""
from __future__ import annotations

import functools
import types
import typing
from pathlib import Path
from typing import TypedDict

from iqa.core.errors import DataError


class TestMetrics(TypedDict):
    srcc: float
    plcc: float
    krcc: float
    n_images: int


class ValMetrics(TypedDict):  # NaN when nothing was held out for validation
    srcc: float
    plcc: float


class RunProvenance(TypedDict):
    config_hash: str
    dataset_hash: str
    seed: int


class Recorded(TypedDict):
    """What `write_metrics` adds to every record: the SHA-256 of each file the run wrote, and of the
    record's own content."""
    files: dict
    content_sha256: str


class RunMetrics(Recorded):
    """A training run's record (`iqa.training.train`)."""
    run_id: str
    config: dict
    test: TestMetrics
    val: ValMetrics
    selected_on: str
    best_epoch: int
    epochs_run: int
    provenance: RunProvenance


class ScoreMetrics(Recorded):
    """A cross-dataset score's record (`iqa.training.score`): no RMSE (two label scales) and no training."""
    model_run_id: str | None
    model_sha256: str
    model_path: str
    dataset_kind: str
    dataset_root: str
    dataset_options: dict
    dataset_hash: str
    n_images: int
    plcc: str
    test: TestMetrics
    provenance: dict


def schema_of(metrics: dict) -> type:
    """A score names the run whose model it scored; a training run does not."""
    return ScoreMetrics if "model_run_id" in metrics else RunMetrics


def check(metrics: dict, path: str | Path) -> dict:
    """`metrics` as it is, or a DataError naming `path` and the first key missing or of another type."""
    schema = schema_of(metrics)
    problem = _problem(metrics, schema, "")
    if problem:
        raise DataError(f"{path}: {problem} ({schema.__name__} in iqa/training/metrics_schema.py)")
    return metrics


def _problem(record: dict, schema: type, prefix: str) -> str | None:
    for key, kind in _keys(schema).items():
        name = f"{prefix}{key}"
        if key not in record:
            return f"key {name!r} is missing"
        value = record[key]
        if typing.is_typeddict(kind):
            if not isinstance(value, dict):
                return f"key {name!r} is {_json_type(value)}, not an object"
            inner = _problem(value, kind, f"{name}.")
            if inner:
                return inner
        elif not _fits(value, kind):
            return f"key {name!r} is {_json_type(value)} ({value!r:.40}), not {_type_name(kind)}"
    return None


@functools.cache
def _keys(schema: type) -> dict:
    return typing.get_type_hints(schema)


def _fits(value, kind) -> bool:
    """Is `value`, as JSON decodes it, of the declared type? A float may be written without a fraction
    (an int); a boolean is neither."""
    kinds = typing.get_args(kind) if isinstance(kind, types.UnionType) else (kind,)
    accepted = tuple(t for k in kinds for t in ((int, float) if k is float else (k,)))
    return isinstance(value, accepted) and not isinstance(value, bool)


def _type_name(kind) -> str:
    return str(kind) if isinstance(kind, types.UnionType) else kind.__name__


def _json_type(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), type(value).__name__)
