"""The shared names: cell keys, enums that serialize as their text, builder registries, and the
choices the CLI and the workflow's schema take from the library."""
import json

import numpy as np
import pytest
import yaml

from iqa.core.choices import COMPLEXITY_DEFAULTS, COMPLEXITY_PRECISIONS, DEVICES
from iqa.core.registry import Registry
from iqa.core.vocab import CellKey, FigureBuild, Metric, Stat, TableBuild, cell_key
from iqa.stats.cells import mean_difference, shapley_share
from iqa.study.spec import SCHEMA


def test_a_cell_key_reads_back_as_the_row_and_column_it_was_written_from():
    key = CellKey("total C0 -> C3", "srcc_ci_low_x100")
    assert str(key) == "total C0 -> C3|srcc_ci_low_x100" == cell_key(key.row, key.column)
    assert CellKey.parse(str(key)) == key
    assert CellKey.parse("C3|a|b") == CellKey("C3", "a|b")  # the first separator splits
    with pytest.raises(ValueError, match="a cell key is 'row|column'"):
        CellKey.parse("no separator")


def test_names_serialize_as_their_text():
    assert json.dumps({Metric.SRCC: Stat.MEDIAN}) == '{"srcc": "median"}'
    assert f"{Metric.PLCC}_{Stat.CI_LOW}" == "plcc_ci_low"
    assert [str(m) for m in Metric] == ["srcc", "plcc", "krcc", "rmse"]


def test_a_registry_refuses_a_second_function_under_one_name():
    builders = Registry("table builder")
    builders.register("main")(len)
    with pytest.raises(ValueError, match="table builder 'main' is registered twice"):
        builders.register("main")(max)
    with pytest.raises(KeyError, match="no table builder 'other'; registered: \\['main'\\]"):
        builders["other"]


def test_every_builder_name_has_its_builder_and_nothing_else_is_registered():
    from iqa.results.figures import FIGURE_BUILDERS
    from iqa.results.paperform import PAPER_FORMS
    from iqa.results.tables import TABLE_BUILDERS

    assert TABLE_BUILDERS.names() == PAPER_FORMS.names() == sorted(TableBuild)
    assert FIGURE_BUILDERS.names() == sorted(FigureBuild)


def test_a_shapley_share_is_given_only_when_the_total_is_a_finding():
    per = np.array([0.010, 0.012, 0.011])
    finding = mean_difference(np.array([0.020, 0.022, 0.021]))
    assert shapley_share(per, finding) == pytest.approx(0.011 / 0.021)
    assert np.isnan(shapley_share(per, mean_difference(np.array([0.02, -0.02, 0.001]))))


def _schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())["properties"]


def test_the_study_schema_offers_the_librarys_dataset_kinds_mixes_and_claims():
    from iqa.data.external import LOADERS
    from iqa.data.synthetic import MIXES
    from iqa.stats.claim import CLAIMS

    assert _schema()["stats"]["properties"]["claim"]["enum"] == list(CLAIMS)
    dataset = _schema()["cross_dataset"]["properties"]["datasets"]["additionalProperties"]["properties"]
    assert dataset["kind"]["enum"] == list(LOADERS)
    assert dataset["synthetic"]["properties"]["mix"]["enum"] == list(MIXES)


def test_complexity_choices_and_defaults_are_the_same_in_schema_and_cli():
    from iqa.cli import build_parser

    schema = _schema()["complexity"]["properties"]
    assert schema["device"]["enum"] == list(DEVICES)
    assert schema["precision"]["enum"] == list(COMPLEXITY_PRECISIONS)
    assert {k: schema[k]["default"] for k in ("device", "precision", "batch")} == {
        k: COMPLEXITY_DEFAULTS[k] for k in ("device", "precision", "batch")}
    args = build_parser().parse_args(["complexity", "--model", "swin_hyperiqa"])
    assert {k: getattr(args, k) for k in COMPLEXITY_DEFAULTS} == COMPLEXITY_DEFAULTS
