from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from moo.errors import ConfigError
from moo.pareto import hypervolume, knee_index, non_dominated_mask, parse_condition


def test_non_dominated_mask_respects_directions() -> None:
    Y = np.array([[1.0, 5.0], [2.0, 2.0], [3.0, 3.0], [5.0, 1.0]])
    assert non_dominated_mask(Y, ["minimize", "minimize"]).tolist() == [True, True, False, True]
    # Maximizing the second objective: (1, 5) dominates everything with larger f0.
    assert non_dominated_mask(Y, ["minimize", "maximize"]).tolist() == [True, False, False, False]


def test_hypervolume_of_two_boxes() -> None:
    Y = np.array([[1.0, 3.0], [3.0, 1.0]])
    # Union of [1,4]x[3,4] and [3,4]x[1,4] w.r.t. reference (4, 4): 3 + 3 - 1.
    assert hypervolume(Y, ["minimize", "minimize"], [4.0, 4.0]) == pytest.approx(5.0)
    # The same points as maximized accuracy-like objectives, mirrored.
    assert hypervolume(-Y, ["maximize", "maximize"], [-4.0, -4.0]) == pytest.approx(5.0)


def test_points_beyond_the_reference_add_nothing() -> None:
    Y = np.array([[5.0, 0.0], [np.nan, 1.0]])
    assert hypervolume(Y, ["minimize", "minimize"], [4.0, 4.0]) == 0.0


@settings(max_examples=40, deadline=None)
@given(arrays(float, (8, 2), elements=st.floats(0.0, 1.0)))
def test_adding_a_point_never_lowers_hypervolume(Y: np.ndarray) -> None:
    directions, ref = ["minimize", "minimize"], [1.1, 1.1]
    assert hypervolume(Y, directions, ref) + 1e-12 >= hypervolume(Y[:-1], directions, ref)


def test_knee_is_the_bend_of_the_front() -> None:
    # A front with a sharp bend at (1, 1): the knee by any definition.
    Y = np.array([[0.0, 10.0], [0.5, 3.0], [1.0, 1.0], [3.0, 0.5], [10.0, 0.0], [5.0, 5.0]])
    assert knee_index(Y, ["minimize", "minimize"]) == 2


def test_parse_condition_joins_with_and() -> None:
    accept = parse_condition("energy_mJ<0.5, accuracy>=0.9")
    assert accept({"energy_mJ": 0.4, "accuracy": 0.95})
    assert not accept({"energy_mJ": 0.6, "accuracy": 0.95})
    with pytest.raises(ConfigError, match="unknown metric 'energy_mJ'"):
        accept({"accuracy": 0.95})
    with pytest.raises(ConfigError, match="METRIC OP NUMBER"):
        parse_condition("energy is low")
