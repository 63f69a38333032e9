"""Search spaces: typed parameters <-> Optuna distributions <-> tensors for BoTorch.

A study's parameters live in three worlds. The YAML names them with types a user thinks
in (``ordinal`` bits, ``categorical`` device); Optuna stores them as distributions; BoTorch
models them as a tensor. This module is the one place that converts between the three, so
the sampler and the study never disagree about what a value means.

Encoding (``n x d`` tensors, ``torch.double``): floats and ints map to ``[0, 1]`` (in log
space when ``log: true``), ordinals to ``index / (k - 1)``, categoricals to their integer
index ``0 .. k-1`` (their dimensions are listed in ``categorical_dims`` so the GP treats
them with a categorical kernel instead of as numbers).

torch is imported on first use of a tensor method, not with the module: the study schema
(``moo.config``) is built from these parameter classes, and reading a study (``moo
status``, ``pareto``, ``export``) must not pay torch's seconds of import.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import optuna
import yaml
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from moo.errors import ConfigError, printable

if TYPE_CHECKING:
    import torch
    from torch import Tensor
else:
    from optuna._imports import _LazyImport

    torch = _LazyImport("torch")  # loaded by the first tensor method; see the docstring

__all__ = [
    "CategoricalParam",
    "FloatParam",
    "IntParam",
    "OrdinalParam",
    "Parameter",
    "SearchSpace",
    "default_n_initial",
    "format_validation_error",
]

Choice = str | int | float | bool

# Beyond this many grid points an int or stepped float is optimized as continuous and
# rounded; listing every value to the mixed optimizer would cost more than it helps.
_MAX_LISTED_VALUES = 256
# Integers beyond this are not exact in the double-precision encoding.
_MAX_EXACT_INT = 2**53


class _Param(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def grid(self) -> list[float] | None:
        """Encoded values the parameter can take, or ``None`` when continuous."""
        return None


class FloatParam(_Param):
    """A real number in ``[low, high]``; ``log`` searches orders of magnitude evenly."""

    type: Literal["float"]
    low: float
    high: float
    log: bool = False
    step: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> FloatParam:
        _check_bounds(self.low, self.high, self.log)
        if self.log and self.step is not None:
            raise ValueError("`step` and `log` cannot be combined")
        if self.step is not None and self.step > self.high - self.low:
            raise ValueError(
                f"`step` ({self.step}) is larger than the range [{self.low}, {self.high}]: "
                "the parameter could take only `low`"
            )
        return self

    def _n_steps(self) -> int | None:
        if self.step is None:
            return None
        return math.floor((self.high - self.low) / self.step + 1e-9) + 1

    def encode(self, value: Any) -> float:
        return _unit(float(value), self.low, self.high, self.log)

    def decode(self, u: float) -> float:
        value = _from_unit(u, self.low, self.high, self.log)
        if self.step is not None:
            value = self.low + round((value - self.low) / self.step) * self.step
            # Round away binary noise so 0.6 is stored as 0.6, not 0.6000000000000001 (to
            # 15 significant digits: a grid of tiny steps keeps them), then clamp, so that
            # rounding never leaves [low, high].
            value = min(max(float(f"{value:.15g}"), self.low), self.high)
        return float(value)

    def grid(self) -> list[float] | None:
        n = self._n_steps()
        if n is None or n > _MAX_LISTED_VALUES:
            return None
        return [self.encode(self.low + i * self.step) for i in range(n)]  # type: ignore[operator]

    def to_optuna(self) -> BaseDistribution:
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def contains(self, value: Any) -> bool:
        return _is_number(value) and self.low <= value <= self.high


class IntParam(_Param):
    """An integer in ``[low, high]`` (both included)."""

    type: Literal["int"]
    low: int
    high: int
    log: bool = False

    @model_validator(mode="after")
    def _check(self) -> IntParam:
        _check_bounds(self.low, self.high, self.log)
        if max(abs(self.low), abs(self.high)) > _MAX_EXACT_INT:
            raise ValueError(
                f"`low` and `high` must be within +-2**53 (integers a double holds exactly), "
                f"got [{self.low}, {self.high}]"
            )
        return self

    def encode(self, value: Any) -> float:
        return _unit(float(value), self.low, self.high, self.log)

    def decode(self, u: float) -> int:
        value = round(_from_unit(u, self.low, self.high, self.log))
        return int(min(max(value, self.low), self.high))

    def grid(self) -> list[float] | None:
        if self.high - self.low + 1 > _MAX_LISTED_VALUES:
            return None
        return [self.encode(v) for v in range(self.low, self.high + 1)]

    def to_optuna(self) -> BaseDistribution:
        return IntDistribution(self.low, self.high, log=self.log)

    def contains(self, value: Any) -> bool:
        return _is_number(value) and float(value).is_integer() and self.low <= value <= self.high


class OrdinalParam(_Param):
    """Ordered values such as bit widths ``[2, 4, 8, 16, 32]``: neighbours behave alike."""

    type: Literal["ordinal"]
    values: list[float | int] = Field(min_length=2)

    @model_validator(mode="after")
    def _check(self) -> OrdinalParam:
        if not all(math.isfinite(v) for v in self.values):
            raise ValueError(f"`values` must be finite numbers, got {self.values}")
        if list(self.values) != sorted(set(self.values)):
            raise ValueError("`values` must be strictly increasing")
        return self

    def encode(self, value: Any) -> float:
        return _index_of(self.values, value) / (len(self.values) - 1)

    def decode(self, u: float) -> float | int:
        index = round(min(max(u, 0.0), 1.0) * (len(self.values) - 1))
        return self.values[index]

    def grid(self) -> list[float] | None:
        return [i / (len(self.values) - 1) for i in range(len(self.values))]

    def to_optuna(self) -> BaseDistribution:
        return CategoricalDistribution(self.values)

    def contains(self, value: Any) -> bool:
        return _is_member(self.values, value)


class CategoricalParam(_Param):
    """Unordered choices such as the target device: the GP uses a categorical kernel."""

    type: Literal["categorical"]
    choices: list[Choice] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> CategoricalParam:
        if any(isinstance(c, float) and not math.isfinite(c) for c in self.choices):
            raise ValueError(f"`choices` must not hold NaN or infinity, got {self.choices}")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError("`choices` must not repeat")
        return self

    def encode(self, value: Any) -> float:
        return float(_index_of(self.choices, value))

    def decode(self, u: float) -> Choice:
        return self.choices[int(min(max(round(u), 0), len(self.choices) - 1))]

    def grid(self) -> list[float] | None:
        return [float(i) for i in range(len(self.choices))]

    def to_optuna(self) -> BaseDistribution:
        return CategoricalDistribution(self.choices)

    def contains(self, value: Any) -> bool:
        return _is_member(self.choices, value)


AnyParam = FloatParam | IntParam | OrdinalParam | CategoricalParam
Parameter = Annotated[AnyParam, Field(discriminator="type")]


class _SpaceModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parameters: dict[str, Parameter] = Field(min_length=1)


class SearchSpace:
    """An ordered set of named, typed parameters.

    Example:
        >>> space = SearchSpace.from_dict({"parameters": {
        ...     "bits": {"type": "ordinal", "values": [2, 4, 8]},
        ...     "device": {"type": "categorical", "choices": ["m4", "m7"]}}})
        >>> space.decode(space.encode([{"bits": 4, "device": "m7"}]))
        [{'bits': 4, 'device': 'm7'}]
    """

    def __init__(self, parameters: Mapping[str, AnyParam]) -> None:
        self.parameters = dict(parameters)
        self.names = list(self.parameters)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(
        cls, data: Any, *, source: str = "search space", key_prefix: str = ""
    ) -> SearchSpace:
        """Validate a ``{"parameters": {...}}`` mapping; errors name ``source`` and the key.

        ``key_prefix`` is where the mapping sits in its file (``"space."`` in a study YAML).
        """
        try:
            model = _SpaceModel.model_validate(data)
        except ValidationError as e:
            raise ConfigError(format_validation_error(e, source, key_prefix)) from e
        return cls(model.parameters)

    @classmethod
    def from_yaml(cls, path: str | Path) -> SearchSpace:
        return cls.from_dict(read_yaml(path, what="search-space file"), source=str(path))

    @classmethod
    def from_optuna(cls, distributions: Mapping[str, BaseDistribution]) -> SearchSpace:
        """Best-effort inverse of ``to_optuna`` for samplers used without a SearchSpace.

        A categorical distribution whose choices are all numbers is read as ordinal,
        which is what bit widths and similar knobs are.
        """
        params: dict[str, AnyParam] = {}
        for name, dist in distributions.items():
            if isinstance(dist, FloatDistribution):
                params[name] = FloatParam(
                    type="float", low=dist.low, high=dist.high, log=dist.log, step=dist.step
                )
            elif isinstance(dist, IntDistribution):
                params[name] = IntParam(type="int", low=dist.low, high=dist.high, log=dist.log)
            elif isinstance(dist, CategoricalDistribution):
                choices: list[Any] = list(dist.choices)  # the param models validate them
                numbers = [c for c in choices if _is_number(c)]
                if len(numbers) == len(choices) > 1 and numbers == sorted(set(numbers)):
                    params[name] = OrdinalParam(type="ordinal", values=numbers)
                else:
                    params[name] = CategoricalParam(type="categorical", choices=choices)
            else:
                raise ConfigError(f"Parameter {name!r}: unsupported distribution {dist!r}.")
        return cls(params)

    # ------------------------------------------------------------------ views
    @property
    def dim(self) -> int:
        return len(self.names)

    def to_optuna(self) -> dict[str, BaseDistribution]:
        return {name: p.to_optuna() for name, p in self.parameters.items()}

    @property
    def categorical_dims(self) -> dict[int, list[float]]:
        """``{dim: [0, 1, .., k-1]}`` for every categorical parameter."""
        return {
            i: p.grid()  # type: ignore[misc]
            for i, p in enumerate(self.parameters.values())
            if isinstance(p, CategoricalParam)
        }

    @property
    def discrete_dims(self) -> dict[int, list[float]]:
        """``{dim: encoded values}`` for ordered parameters with a finite, listed grid."""
        dims = {}
        for i, p in enumerate(self.parameters.values()):
            grid = p.grid()
            if grid is not None and not isinstance(p, CategoricalParam):
                dims[i] = grid
        return dims

    @property
    def bounds(self) -> Tensor:
        """``2 x d`` bounds of the encoding."""
        upper = [
            float(len(p.choices) - 1) if isinstance(p, CategoricalParam) else 1.0
            for p in self.parameters.values()
        ]
        return torch.tensor([[0.0] * self.dim, upper], dtype=torch.double)

    def n_configs(self) -> float:
        """How many distinct configs exist (``inf`` when some parameter is continuous)."""
        total = 1.0
        for p in self.parameters.values():
            grid = p.grid()
            if grid is None:
                return math.inf
            total *= len(grid)
        return total

    def grid_points(self) -> Tensor:
        """Every config, encoded (``N x d``). Only for spaces with finite ``n_configs``."""
        grids = [g for p in self.parameters.values() if (g := p.grid()) is not None]
        if len(grids) < self.dim:
            raise ValueError("grid_points() needs a space without continuous parameters.")
        return torch.tensor(list(itertools.product(*grids)), dtype=torch.double)

    def neighbours(self, X: Tensor) -> Tensor:
        """Encoded configs one step from each row of ``X``: on one parameter, the next or
        previous listed value, or any other category (local search in discrete spaces)."""
        grids = [p.grid() for p in self.parameters.values()]
        rows = []
        for x in X:
            for i, grid in enumerate(grids):
                if grid is None:
                    continue
                if i in self.categorical_dims:
                    options = [g for g in grid if g != float(x[i])]
                else:
                    at = min(range(len(grid)), key=lambda k: abs(grid[k] - float(x[i])))
                    options = [grid[k] for k in (at - 1, at + 1) if 0 <= k < len(grid)]
                for value in options:
                    row = x.clone()
                    row[i] = value
                    rows.append(row)
        return torch.stack(rows) if rows else X[:0]

    # ------------------------------------------------------------------ conversions
    def encode(self, configs: Iterable[Mapping[str, Any]]) -> Tensor:
        """Configs -> ``n x d`` tensor."""
        rows = [
            [p.encode(config[name]) for name, p in self.parameters.items()] for config in configs
        ]
        return torch.tensor(rows, dtype=torch.double).reshape(-1, self.dim)

    def decode(self, X: Tensor) -> list[dict[str, Any]]:
        """``n x d`` tensor -> configs, rounding each coordinate to a legal value."""
        params = list(self.parameters.values())
        return [
            {name: p.decode(float(u)) for name, p, u in zip(self.names, params, row, strict=True)}
            for row in X.tolist()
        ]

    def round(self, X: Tensor) -> Tensor:
        """Snap encoded points onto legal values (``decode`` then ``encode``)."""
        return self.encode(self.decode(X))

    def sobol(self, n: int, seed: int) -> list[dict[str, Any]]:
        """The first ``n`` points of a scrambled Sobol sequence, mapped to configs.

        Unit-cube coordinates become configs through the parameters' own scale, so a log
        parameter is spread over orders of magnitude and a categorical over its choices.
        """
        u = torch.quasirandom.SobolEngine(self.dim, scramble=True, seed=seed).draw(
            n, dtype=torch.double
        )
        return self.from_unit_cube(u)

    def from_unit_cube(self, U: Tensor) -> list[dict[str, Any]]:
        """``n x d`` points of ``[0, 1]^d`` -> configs (categoricals by equal-width bins)."""
        X = U.clone()
        for i, p in enumerate(self.parameters.values()):
            if isinstance(p, CategoricalParam):
                X[:, i] = torch.clamp(torch.floor(U[:, i] * len(p.choices)), max=len(p.choices) - 1)
            elif isinstance(p, OrdinalParam):
                k = len(p.values)
                X[:, i] = torch.clamp(torch.floor(U[:, i] * k), max=k - 1) / (k - 1)
        return self.decode(X)

    def suggest(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
        """Ask ``trial`` for every parameter; the sampler's relative proposal fills them."""
        return {name: _suggest(trial, name, p) for name, p in self.parameters.items()}

    def validate(self, config: Mapping[str, Any], *, source: str = "config") -> dict[str, Any]:
        """Check a full config (e.g. an enqueued or exported one) against the space."""
        missing = [n for n in self.names if n not in config]
        if missing:
            raise ConfigError(f"{source}: missing parameters {missing}.")
        extra = sorted(set(config) - set(self.names))
        if extra:
            raise ConfigError(f"{source}: unknown parameters {extra}; expected {self.names}.")
        for name, p in self.parameters.items():
            if not p.contains(config[name]):
                raise ConfigError(
                    f"{source}: `{name}` = {config[name]!r} is outside {_describe(p)}."
                )
        return {name: config[name] for name in self.names}


def _suggest(
    trial: optuna.trial.BaseTrial,
    name: str,
    p: AnyParam,
) -> Any:
    if isinstance(p, FloatParam):
        return trial.suggest_float(name, p.low, p.high, log=p.log, step=p.step)
    if isinstance(p, IntParam):
        return trial.suggest_int(name, p.low, p.high, log=p.log)
    if isinstance(p, OrdinalParam):
        return trial.suggest_categorical(name, p.values)
    return trial.suggest_categorical(name, p.choices)


def _describe(p: AnyParam) -> str:
    if isinstance(p, OrdinalParam):
        return f"values {p.values}"
    if isinstance(p, CategoricalParam):
        return f"choices {p.choices}"
    return f"[{p.low}, {p.high}]"


def _check_bounds(low: float, high: float, log: bool) -> None:
    if not (math.isfinite(low) and math.isfinite(high) and math.isfinite(high - low)):
        raise ValueError(f"`low` and `high` must be finite, with a finite range; got {low}, {high}")
    if not low < high:
        raise ValueError(f"`low` ({low}) must be below `high` ({high}); swapped bounds?")
    if log and low <= 0:
        raise ValueError(f"`log: true` needs `low` > 0, got {low}")


def _unit(value: float, low: float, high: float, log: bool) -> float:
    if log:
        return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
    return (value - low) / (high - low)


def _from_unit(u: float, low: float, high: float, log: bool) -> float:
    u = min(max(u, 0.0), 1.0)
    if log:
        value = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    else:
        value = low + u * (high - low)
    return min(max(value, low), high)  # exp(log(high)) can overshoot high by an ulp


def _index_of(options: Sequence[Any], value: Any) -> int:
    # ``True == 1`` in Python; a bool only matches a bool.
    for i, option in enumerate(options):
        if option == value and isinstance(option, bool) == isinstance(value, bool):
            return i
    raise ValueError(f"{value!r} is not one of {list(options)}")


def _is_member(options: Sequence[Any], value: Any) -> bool:
    try:
        _index_of(options, value)
    except ValueError:
        return False
    return True


def default_n_initial(dim: int) -> int:
    """Sobol points before the first GP: ``2 (d + 1)``, enough to fit d lengthscales."""
    return 2 * (dim + 1)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def row_key(row: Tensor) -> tuple[float, ...]:
    """Hashable identity of one encoded config, blind to float noise in the encoding."""
    return row_keys(row[None])[0]


def row_keys(X: Tensor) -> list[tuple[float, ...]]:
    """``row_key`` of every row of ``X`` (``n x d``), in one conversion from torch: a
    proposal keys every candidate of an enumerated space several times."""
    return [tuple(round(v, 9) for v in row) for row in X.tolist()]


def read_yaml(path: str | Path, *, what: str) -> Any:
    """Parse a YAML file; a missing file or a syntax error is one line naming the place."""
    try:
        return yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found.") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a {what}.") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not a text file ({e.reason} at byte {e.start}).") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the {what} ({e.strerror}).") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({_yaml_problem(e)}).") from e


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else problem


def format_validation_error(error: ValidationError, source: str, key_prefix: str = "") -> str:
    """One line per problem: ``source: key.path: reason``, the first problem first.

    Pydantic puts the tag of a discriminated union into the location
    (``parameters.width.int.low``); it is dropped so the path is the YAML path.
    """
    lines = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        if loc[:1] == ["parameters"] and len(loc) > 2 and loc[2] in _PARAM_TAGS:
            del loc[2]
        message = item["msg"].removeprefix("Value error, ")
        line = f"{source}: {key_prefix}{'.'.join(loc) or '<root>'}: {message}"
        lines.append(printable(line))
    return "\n".join(lines)


_PARAM_TAGS = frozenset({"float", "int", "ordinal", "categorical"})
