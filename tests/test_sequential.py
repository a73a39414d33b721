import numpy as np
import pytest

from iqa.stats import calibration
from iqa.stats.sequential import Schedule, expected_splits, nominal_level, repeated_interval, run, stopping_splits

SCHEDULE = Schedule(3, 2, 10)


def test_schedule_looks_and_bad_schedules():
    assert SCHEDULE.looks == (3, 5, 7, 9, 10)
    with pytest.raises(ValueError, match="k0"):
        Schedule(1, 2, 10)


def test_optional_stopping_keeps_type_one_error_at_five_percent_for_normal_differences():
    # an independent draw from the one nominal_level was calibrated on; stop at the first finding
    d = np.random.default_rng(11).normal(0.0, 0.003, (20_000, 10))
    r = run(d, SCHEDULE, margin=0.0)
    assert 0.04 <= r["finding"].mean() <= 0.06
    assert 0 < nominal_level(SCHEDULE) < 0.05 / 2  # stricter than one look, looser than Bonferroni over 5 looks
    assert nominal_level(SCHEDULE) > 0.05 / len(SCHEDULE.looks)
    mean, low, high = repeated_interval(d[0], nominal_level(SCHEDULE))
    assert low < mean < high


def test_stopped_intervals_cover_the_simulated_srcc_difference():
    """Two different models of equal accuracy, one 1,000-image pool: the interval where each study
    stopped covers the pool's true difference at least 95% of the time."""
    d = calibration.SCENARIOS["1,000 images, one pool, equal accuracy"]
    truth = calibration.true_delta(d, 1)
    a, b, _ = calibration.simulated_studies(d, 10, 2000, 1)
    for margin in (0.0, 0.005):
        r = run(b - a, SCHEDULE, margin)
        assert np.mean((r["low"] <= truth) & (truth <= r["high"])) >= 0.95


def test_large_steps_stop_early_and_null_comparisons_run_to_the_end():
    assert stopping_splits(0.03, 0.003, SCHEDULE).mean() == pytest.approx(3, abs=0.1)
    assert stopping_splits(0.0, 0.003, SCHEDULE).mean() > 9.5
    tests = [{"runs": ["a"], "ref_runs": ["b"], "delta": 0.03}, {"runs": ["a"], "ref_runs": ["c"], "delta": 0.0},
             {"runs": ["d"], "ref_runs": ["b"], "delta": 0.03}, {"runs": None, "ref_runs": None, "cells": [["e"]]}]
    splits = expected_splits(tests, 0.003, SCHEDULE)
    assert splits[("d",)] < 4 and splits[("a",)] > 9.5 and splits[("b",)] < 4 and splits[("e",)] == 10
