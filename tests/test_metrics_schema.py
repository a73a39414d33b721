"""metrics.json: one writer, a declared schema, refused on read when a key is missing or of another type."""
import json

import pytest

from iqa import config
from iqa.core import layout
from iqa.core.errors import DataError
from iqa.results.runs import load_runs
from iqa.study.spec import expand
from iqa.training.record import content_hash, read_metrics, write_metrics
from fake_runs import small_study, write_run


@pytest.fixture
def run(tmp_path):
    cfg = config.load(None, ["name=t"])
    out = tmp_path / "runs" / config.run_id(cfg)
    return out, write_run(out, cfg)


def rewrite(path, edit):
    """The record edited and its content hash recomputed: what a writer other than `write_metrics` would leave."""
    m = json.loads(path.read_text())
    edit(m)
    m["content_sha256"] = content_hash(m)
    path.write_text(json.dumps(m, indent=2))


def test_the_writer_hashes_every_run_file_and_writes_what_the_reader_returns(run):
    out, metrics = run
    path = out / layout.METRICS
    assert path.read_text() == json.dumps(metrics, indent=2)  # the bytes a real run writes
    assert read_metrics(path) == json.loads(path.read_text())
    assert set(metrics["files"]) == {layout.PREDICTIONS, layout.HISTORY}  # no model: a fake run has none
    assert metrics["content_sha256"] == content_hash(metrics)


@pytest.mark.parametrize("key, edit, message", [
    ("best_epoch", lambda m: m.pop("best_epoch"), "key 'best_epoch' is missing"),
    ("test.srcc", lambda m: m["test"].update(srcc="0.93"), "key 'test.srcc' is a string ('0.93'), not float"),
    ("provenance.config_hash", lambda m: m["provenance"].pop("config_hash"),
     "key 'provenance.config_hash' is missing"),
    ("val", lambda m: m.update(val=[0.7, 0.7]), "key 'val' is a list, not an object"),
    ("epochs_run", lambda m: m.update(epochs_run=2.5), "key 'epochs_run' is float (2.5), not int"),
])
def test_a_record_with_a_missing_or_mistyped_key_is_refused_naming_file_and_key(run, key, edit, message):
    out, _ = run
    path = out / layout.METRICS
    rewrite(path, edit)
    with pytest.raises(DataError) as e:
        read_metrics(path)
    assert str(e.value) == f"{path}: {message} (RunMetrics in iqa/training/metrics_schema.py)"


def test_the_writer_refuses_an_incomplete_record_and_writes_nothing(tmp_path):
    metrics = {"run_id": "x", "config": {}, "test": {"srcc": 0.9, "plcc": 0.9, "krcc": 0.8, "n_images": 10},
               "val": {"srcc": 0.8, "plcc": 0.8}, "selected_on": "val", "best_epoch": 1, "epochs_run": 1}
    with pytest.raises(DataError, match=f"{tmp_path / layout.METRICS}: key 'provenance' is missing"):
        write_metrics(tmp_path, metrics)
    assert not (tmp_path / layout.METRICS).exists()


def test_a_score_is_checked_against_the_score_schema(tmp_path):
    metrics = {"model_run_id": "t-0123456789", "model_path": "m", "dataset_kind": "spaq", "dataset_root": "r",
               "dataset_options": {}, "dataset_hash": "d" * 64, "n_images": 10, "plcc": "raw",
               "test": {"srcc": 0.9, "plcc": 0.9, "krcc": 0.8, "n_images": 10}, "provenance": {}}
    with pytest.raises(DataError, match="key 'model_sha256' is missing .ScoreMetrics"):
        write_metrics(tmp_path, metrics)
    write_metrics(tmp_path, {**metrics, "model_sha256": "a" * 64})
    assert read_metrics(tmp_path / layout.METRICS)["model_sha256"] == "a" * 64


def test_aggregation_refuses_an_intact_record_of_another_writer_by_file_and_key(tmp_path):
    # An edit that breaks the content hash is tampering (tests/test_tables.py); a record whose hash matches
    # but whose keys do not is another writer's, named before any table reads it.
    study_cfg = small_study()
    study = expand(study_cfg)
    rid = next(iter(study.runs))
    write_run(layout.run_dir(tmp_path, rid), study.runs[rid])
    path = layout.run_file(tmp_path, rid)
    rewrite(path, lambda m: m.pop("selected_on"))
    with pytest.raises(DataError, match=f"^{path}: key 'selected_on' is missing"):
        load_runs(study, tmp_path, {}, needed={rid})

