from __future__ import annotations

import itertools

import numpy as np

from moo.convergence import AnyOf, HypervolumeStall, MaxTrials, Progress, hypervolume_history


def test_stall_fires_only_after_the_window_is_flat() -> None:
    rule = HypervolumeStall(window=3, tol=0.01, min_trials=4)
    rising = Progress(n_trials=6, hv_history=[0.1, 0.5, 0.8, 0.9, 1.0, 1.1])
    assert rule.update(rising) is None
    flat = Progress(n_trials=8, hv_history=[0.1, 0.5, 0.8, 1.0, 1.0, 1.0, 1.005, 1.005])
    assert rule.update(flat) is not None and "converged" in rule.update(flat)


def test_stall_waits_for_min_trials_and_a_positive_hypervolume() -> None:
    rule = HypervolumeStall(window=2, tol=0.01, min_trials=10)
    assert rule.update(Progress(n_trials=5, hv_history=[1.0] * 5)) is None
    assert rule.update(Progress(n_trials=12, hv_history=[0.0] * 12)) is None


def test_any_of_reports_the_rule_that_fired() -> None:
    rule = AnyOf(MaxTrials(5), HypervolumeStall(window=2, tol=0.0, min_trials=1))
    assert rule.update(Progress(n_trials=5, hv_history=[0.1, 0.2, 0.3])) == "max_trials (5) reached"


def test_hypervolume_history_is_monotone_and_skips_failed_rows() -> None:
    Y = np.array([[3.0, 3.0], [np.nan, np.nan], [1.0, 3.5], [2.0, 2.0], [3.5, 3.5]])
    history = hypervolume_history(Y, ["minimize", "minimize"], [4.0, 4.0])
    assert history[0] == 1.0 and history[1] == 1.0
    assert all(b >= a for a, b in itertools.pairwise(history))
    assert history[-1] == history[-2]  # a dominated point adds nothing
