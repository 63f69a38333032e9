"""How the benchmark scores the ranking of board + runtime choices (Kendall tau with ties)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from experiments.benchmarks.hardware_eval import kendall_by_benchmark, repeatability


def systems(latency_ms: list[float], **columns: list[object]) -> pd.DataFrame:
    return pd.DataFrame({"benchmark": "kws", "latency_ms": latency_ms, **columns})


def test_without_a_tolerance_tau_is_the_textbook_tau_b() -> None:
    rng = np.random.default_rng(3)
    measured = rng.uniform(1.0, 100.0, 12)
    predicted = measured * rng.lognormal(0.0, 0.5, 12)
    tau, n = kendall_by_benchmark(systems(list(measured)), predicted)["kws"]
    assert n == 12
    assert tau == pytest.approx(kendalltau(measured, predicted)[0])


def test_measured_near_ties_are_neither_right_nor_wrong() -> None:
    measured = [10.0, 10.2, 20.0, 40.0]  # the first two: one rerun could swap them
    predicted = np.array([11.0, 10.0, 19.0, 45.0])  # orders them the other way
    frame = systems(measured)
    strict, _ = kendall_by_benchmark(frame, predicted)["kws"]
    tied, _ = kendall_by_benchmark(frame, predicted, tie=1.05)["kws"]
    assert strict == pytest.approx(4 / 6)  # 5 concordant, 1 discordant of 6 pairs
    assert tied == pytest.approx(5 / math.sqrt(5 * 6))  # tau-b: the tie leaves one side
    assert kendall_by_benchmark(frame, predicted, apart=1.05)["kws"][0] == 1.0


def test_repeatability_comes_from_systems_measured_twice() -> None:
    frame = systems(
        [100.0, 104.0, 50.0, 80.0],
        board_id=["B", "B", "B", "C"],
        clock_mhz=[100.0] * 4,
        family=["x", "x", "y", "x"],
        generation=["1"] * 4,
    )
    assert repeatability(frame, quantile=1.0) == pytest.approx(1.04)
    assert repeatability(frame.iloc[[0, 2, 3]]) == 1.0  # nothing measured twice
