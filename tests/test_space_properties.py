"""Properties of the space layer over generated spaces (hypothesis).

Any valid space: every config it allows survives encode -> decode unchanged, its encoding
lies inside ``bounds``, and every point of the unit cube decodes to a config it allows.
Any invalid parameter: ``SearchSpace.from_dict`` raises ``ConfigError`` whose lines all
read ``<source>: parameters.<name>...: <reason>`` (the documented format), never another
exception.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from moo.errors import ConfigError
from moo.space import SearchSpace

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
width = st.floats(1e-3, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def float_params(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(finite)
    high = low + draw(width)
    if low > 0 and draw(st.booleans()):
        return {"type": "float", "low": low, "high": high, "log": True}
    if draw(st.booleans()):
        return {
            "type": "float",
            "low": low,
            "high": high,
            "step": (high - low) / draw(st.integers(1, 50)),
        }
    return {"type": "float", "low": low, "high": high}


@st.composite
def int_params(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(st.integers(-1000, 1000))
    high = low + draw(st.integers(1, 1000))
    return {"type": "int", "low": low, "high": high, "log": low >= 1 and draw(st.booleans())}


ordinal_params = st.builds(
    lambda values: {"type": "ordinal", "values": sorted(values)},
    st.one_of(
        st.lists(st.integers(-(10**6), 10**6), min_size=2, max_size=8, unique=True),
        st.lists(finite, min_size=2, max_size=8, unique=True),
    ),
)
categorical_params = st.builds(
    lambda choices: {"type": "categorical", "choices": choices},
    st.one_of(
        st.lists(st.text(max_size=8), min_size=1, max_size=6, unique=True),
        st.lists(st.integers(-100, 100), min_size=1, max_size=6, unique=True),
        st.lists(finite, min_size=1, max_size=6, unique=True),
        st.lists(st.booleans(), min_size=1, max_size=2, unique=True),
    ),
)
parameters = st.one_of(float_params(), int_params(), ordinal_params, categorical_params)
spaces = st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True), parameters, min_size=1, max_size=6
)


def _value(draw: st.DrawFn, p: dict[str, Any]) -> Any:
    if p["type"] == "ordinal":
        return draw(st.sampled_from(p["values"]))
    if p["type"] == "categorical":
        return draw(st.sampled_from(p["choices"]))
    if p["type"] == "int":
        return draw(st.integers(p["low"], p["high"]))
    if p.get("step"):
        n = math.floor((p["high"] - p["low"]) / p["step"] + 1e-9)
        return min(p["low"] + draw(st.integers(0, n)) * p["step"], p["high"])
    return draw(st.floats(p["low"], p["high"]))


@st.composite
def spaces_and_configs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    space = draw(spaces)
    return space, {name: _value(draw, p) for name, p in space.items()}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and not isinstance(b, bool):
        return b == pytest.approx(a, rel=1e-9, abs=1e-9)
    return a == b and type(a) is type(b)


@settings(max_examples=200, deadline=None)
@given(spaces_and_configs())
def test_every_allowed_config_round_trips_and_encodes_inside_the_bounds(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    parameters, config = case
    space = SearchSpace.from_dict({"parameters": parameters})
    config = space.validate(config)
    X = space.encode([config])
    assert X.shape == (1, space.dim) and torch.isfinite(X).all()
    assert ((X >= space.bounds[0] - 1e-12) & (X <= space.bounds[1] + 1e-12)).all()
    decoded = space.decode(X)[0]
    assert all(_same(config[n], decoded[n]) for n in space.names), (config, decoded)
    assert space.validate(decoded) == decoded


@settings(max_examples=100, deadline=None)
@given(spaces, st.integers(0, 2**31 - 1))
def test_every_point_of_the_unit_cube_decodes_to_an_allowed_config(
    parameters: dict[str, Any], seed: int
) -> None:
    space = SearchSpace.from_dict({"parameters": parameters})
    U = torch.rand(8, space.dim, generator=torch.Generator().manual_seed(seed), dtype=torch.double)
    for config in [*space.from_unit_cube(U), *space.decode(U)]:
        assert space.validate(config) == config


nan_or_inf = st.sampled_from([math.nan, math.inf, -math.inf])
bad_parameters = st.one_of(
    # bounds: swapped, equal, not finite, a range that overflows
    st.builds(
        lambda lo, d: {"type": "float", "low": lo, "high": lo - d}, finite, st.floats(0, 1e6)
    ),
    st.builds(
        lambda lo, d: {"type": "int", "low": lo, "high": lo - d},
        st.integers(-99, 99),
        st.integers(0, 99),
    ),
    st.builds(lambda v: {"type": "float", "low": 0.0, "high": v}, nan_or_inf),
    st.builds(lambda v: {"type": "float", "low": v, "high": 1.0}, nan_or_inf),
    st.just({"type": "float", "low": -1.7e308, "high": 1.7e308}),
    st.just({"type": "int", "low": 0, "high": 2**60}),
    # log with a non-positive low; log with step; a step that is not positive or too large
    st.builds(
        lambda lo: {"type": "float", "low": lo, "high": 10.0, "log": True}, st.floats(-1e6, 0)
    ),
    st.builds(lambda lo: {"type": "int", "low": lo, "high": 10, "log": True}, st.integers(-99, 0)),
    st.just({"type": "float", "low": 1.0, "high": 10.0, "log": True, "step": 1.0}),
    st.builds(lambda s: {"type": "float", "low": 0.0, "high": 1.0, "step": s}, st.floats(-1, 0)),
    st.builds(
        lambda s: {"type": "float", "low": 0.0, "high": 1.0, "step": s}, st.floats(1.01, 1e6)
    ),
    # ordinals: fewer than two, not increasing, repeated, not finite, not numbers
    st.builds(lambda v: {"type": "ordinal", "values": [v]}, finite),
    st.builds(
        lambda vs: {"type": "ordinal", "values": sorted(vs, reverse=True)},
        st.lists(st.integers(), min_size=2, max_size=6, unique=True),
    ),
    st.builds(lambda v: {"type": "ordinal", "values": [v, v]}, finite),
    st.builds(lambda v: {"type": "ordinal", "values": [1.0, v]}, nan_or_inf),
    st.builds(lambda t: {"type": "ordinal", "values": ["x" + t, "y"]}, st.text(max_size=4)),
    # categoricals: empty, repeated, NaN
    st.just({"type": "categorical", "choices": []}),
    st.builds(lambda c: {"type": "categorical", "choices": [c, c]}, st.text(max_size=4)),
    st.builds(lambda v: {"type": "categorical", "choices": ["a", v]}, nan_or_inf),
    # unknown type, unknown key, missing key, wrong value types
    st.builds(
        lambda t: {"type": t, "low": 0, "high": 1},
        st.text(max_size=8).filter(lambda t: t not in ("float", "int", "ordinal", "categorical")),
    ),
    st.just({"type": "float", "low": 0.0, "high": 1.0, "scale": "log"}),
    st.just({"type": "int", "low": 0}),
    st.builds(lambda t: {"type": "float", "low": "x" + t, "high": 1.0}, st.text(max_size=4)),
    st.just({"type": "int", "low": 0.5, "high": 3}),
    st.builds(lambda v: v, st.one_of(st.none(), st.integers(), st.text(max_size=4))),
)


@settings(max_examples=300, deadline=None)
@given(parameters, bad_parameters)
def test_any_invalid_parameter_is_a_config_error_naming_its_key(
    good: dict[str, Any], bad: Any
) -> None:
    with pytest.raises(ConfigError) as raised:
        SearchSpace.from_dict({"parameters": {"ok": good, "bad": bad}}, source="s.yaml")
    lines = str(raised.value).splitlines()
    assert lines, "an empty message"
    for line in lines:
        assert line.startswith("s.yaml: parameters.bad"), line
        assert line.split(": ", 2)[2].strip(), line  # a reason after the key


@pytest.mark.parametrize(
    "data",
    [None, [], "parameters", {"parameters": {}}, {"parameters": []}, {"params": {}}],
    ids=["none", "list", "text", "empty", "list-of-parameters", "misspelt"],
)
def test_a_space_that_is_not_a_mapping_of_parameters_is_a_config_error(data: Any) -> None:
    with pytest.raises(ConfigError) as raised:
        SearchSpace.from_dict(data, source="s.yaml")
    assert all(line.startswith("s.yaml: ") for line in str(raised.value).splitlines())
