import math

import numpy as np
import pytest
import yaml

from iqa.stats import calibration
from iqa.core.errors import ConfigError
from iqa.study.power import comparisons, detectable, power, power_table, splits_needed
from iqa.stats.cells import paired_delta
from iqa.study.spec import expand


def test_power_matches_a_simulated_paired_t_at_the_holm_level():
    # 20,000 studies of 5 normal per-split differences, tested at 0.05 / 10
    rng = np.random.default_rng(0)
    delta, sd, j, m = 0.004, 0.003, 5, 10
    d = rng.normal(delta, sd, (20_000, j))
    rejected = np.mean([paired_delta(row, np.zeros(j))["p"] < 0.05 / m for row in d])
    assert power(delta, sd, j, m) == pytest.approx(rejected, abs=0.015)


def test_detectable_delta_and_splits_needed_agree():
    mdd = detectable(0.003, 10, 45)
    assert power(mdd, 0.003, 10, 45) == pytest.approx(0.8, abs=1e-6)
    assert splits_needed(mdd * 1.001, 0.003, 45) == 10
    assert splits_needed(mdd / 2, 0.003, 45) > 10
    assert detectable(0.003, 10, 45) > detectable(0.003, 10, 1)  # Holm costs power
    # under the population claim the pool's own sd sets a floor that no number of splits passes
    assert splits_needed(0.001, 0.003, 45, pool_sd=0.001) is None
    assert power(0.001, 0.003, 5, 45, pool_sd=0.001) < power(0.001, 0.003, 5, 45)


def test_the_families_are_the_ones_the_tables_count(tmp_path):
    """The comparisons `iqa plan --power` counts are, table by table, the distinct tests the aggregated
    tables adjust for."""
    import json

    from test_tables import fabricated_study

    from iqa.results.aggregate import aggregate

    cfg, study, results = fabricated_study(tmp_path)
    del cfg["cross_dataset"]  # not scored here: the tables would count none of its tests
    aggregate(cfg, results)
    tests = comparisons(cfg, expand(cfg))
    counted = {}
    for sidecar in (results / "tables").glob("*.provenance.json"):
        sizes = {c["family_size"] for c in json.loads(sidecar.read_text())["cells"].values() if c["stat"] == "holm"}
        if sizes:
            counted[sidecar.name.split(".")[0]] = sizes.pop()
    planned = {f: sum(t["family"] == f for t in tests) for f in {t["family"] for t in tests}}
    assert planned == counted


def test_paper_plan_names_the_seeds_steps_and_needs_an_sd():
    cfg = yaml.safe_load(open("config/koniq10k.yaml"))
    table = power_table(cfg, sd=0.003).set_index("comparison")
    assert table.loc["C3 vs C2", "delta"] == pytest.approx(0.9378 - 0.9353)
    assert table.loc["C2 vs C1", "splits_needed"] > table.loc["C3 vs C2", "splits_needed"] > 10
    assert table.loc["C3 vs C0", "splits_needed"] <= 10
    with pytest.raises(ConfigError, match="--sd"):
        power_table(cfg)
    with pytest.raises(ConfigError, match="--pool-sd"):
        power_table({**cfg, "stats": {"claim": "population"}}, sd=0.003)


def test_pilot_runs_give_each_comparison_its_own_sd(tmp_path):
    import json

    from test_tables import fabricated_study

    cfg, study, results = fabricated_study(tmp_path)
    table = power_table(cfg, from_results=results).set_index(["family", "comparison"])
    row = table.loc[("main", "C3 vs C0")]
    srcc = {rid: json.loads((results / "runs" / rid / "metrics.json").read_text())["test"]["srcc"]
            for rid in study.runs}
    d = [srcc[a] - srcc[b] for a, b in zip(study.run_ids("C3"), study.run_ids("C0"))]
    assert row["sd_from"] == "pilot runs" and row["sd"] == pytest.approx(np.std(d, ddof=1))
    assert row["pool_sd"] == 0.0  # the dataset claim has no pool term
    assert table.loc[("contributions", "Shapley multiscale"), "sd_from"] == "no pilot pairs"
