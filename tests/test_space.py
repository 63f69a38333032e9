from __future__ import annotations

import optuna
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from moo.errors import ConfigError
from moo.space import SearchSpace

MIXED = {
    "parameters": {
        "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        "width": {"type": "int", "low": 8, "high": 64},
        "bits": {"type": "ordinal", "values": [2, 4, 8, 16, 32]},
        "prune_kind": {"type": "categorical", "choices": ["structured", "unstructured"]},
        "device": {"type": "categorical", "choices": ["cortex_m4", "cortex_m7", "ethos_u55"]},
    }
}


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace.from_dict(MIXED)


def test_encoding_round_trips_every_kind(space: SearchSpace) -> None:
    config = {
        "lr": 0.01,
        "width": 33,
        "bits": 4,
        "prune_kind": "unstructured",
        "device": "ethos_u55",
    }
    X = space.encode([config])
    assert X.shape == (1, 5)
    assert ((X >= space.bounds[0]) & (X <= space.bounds[1])).all()
    decoded = space.decode(X)[0]
    assert decoded == {**config, "lr": pytest.approx(0.01)}


def test_categoricals_are_indices_and_ordinals_are_ordered(space: SearchSpace) -> None:
    assert space.categorical_dims == {3: [0.0, 1.0], 4: [0.0, 1.0, 2.0]}
    bits = space.encode([{**_any(space), "bits": b} for b in (2, 4, 8, 16, 32)])[:, 2]
    assert torch.all(bits[1:] > bits[:-1])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=5, max_size=5))
def test_any_unit_point_decodes_to_a_valid_config(u: list[float]) -> None:
    space = SearchSpace.from_dict(MIXED)
    config = space.from_unit_cube(torch.tensor([u], dtype=torch.double))[0]
    assert space.validate(config) == config
    assert space.decode(space.encode([config]))[0] == {**config, "lr": pytest.approx(config["lr"])}


def test_optuna_round_trip_and_suggest(space: SearchSpace) -> None:
    distributions = space.to_optuna()
    assert isinstance(distributions["device"], optuna.distributions.CategoricalDistribution)
    again = SearchSpace.from_optuna(distributions)
    assert again.categorical_dims == space.categorical_dims
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    config = space.suggest(study.ask())
    assert space.validate(config) == config


def test_sobol_is_seeded_and_inside(space: SearchSpace) -> None:
    a, b = space.sobol(8, seed=3), space.sobol(8, seed=3)
    assert a == b and a != space.sobol(8, seed=4)
    assert all(space.validate(c) == c for c in a)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"x": {"type": "float", "low": 1.0, "high": 0.0}}, "parameters.x"),
        ({"x": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}, "parameters.x"),
        ({"x": {"type": "quantum", "low": 0, "high": 1}}, "parameters.x"),
        ({"bits": {"type": "ordinal", "values": [8, 4]}}, "parameters.bits"),
        ({"d": {"type": "categorical", "choices": []}}, "parameters.d"),
    ],
)
def test_bad_definitions_name_the_key(parameters: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        SearchSpace.from_dict({"parameters": parameters}, source="space.yaml")
    assert str(info.value).startswith("space.yaml")
    assert "\n" not in str(info.value)


def test_validate_rejects_out_of_range_values(space: SearchSpace) -> None:
    with pytest.raises(ConfigError, match="`bits` = 3 is outside values"):
        space.validate({**_any(space), "bits": 3})
    with pytest.raises(ConfigError, match="unknown parameters"):
        space.validate({**_any(space), "epochs": 3})


def _any(space: SearchSpace) -> dict:
    return space.sobol(1, seed=0)[0]
