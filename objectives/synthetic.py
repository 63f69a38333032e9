"""BoTorch's multi-objective test problems as a moo adapter.

They let the engine be tested and benchmarked on functions whose true Pareto front and
maximum hypervolume are known, before any network is trained. All objectives are
*minimized* (BoTorch's convention with ``negate=False``); the study YAML says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from botorch.test_functions.multi_objective import (
    DTLZ2,
    ZDT1,
    BraninCurrin,
    CarSideImpact,
    VehicleSafety,
)
from botorch.test_functions.multi_objective import (
    MultiObjectiveTestProblem as _BoTorchProblem,
)

from objectives.protocol import Domain, EvalContext, TrialResult, space_problems

__all__ = ["PROBLEMS", "ProblemInfo", "SyntheticProblem", "make_problem"]

_FACTORIES: dict[str, Callable[..., _BoTorchProblem]] = {
    "branin_currin": lambda **_: BraninCurrin(),
    "dtlz2": lambda dim=6, num_objectives=2: DTLZ2(dim=dim, num_objectives=num_objectives),
    "vehicle_safety": lambda **_: VehicleSafety(),
    "zdt1": lambda dim=6, **_: ZDT1(dim=dim),
    "car_side_impact": lambda **_: CarSideImpact(),
}
PROBLEMS: tuple[str, ...] = tuple(_FACTORIES)


@dataclass(frozen=True)
class ProblemInfo:
    """What a study needs to know about a test problem besides its function.

    Attributes:
        bounds: ``d`` pairs ``(low, high)`` of the inputs ``x0 .. x{d-1}``.
        objective_names: ``f0 .. f{m-1}``, all minimized.
        reference_point: BoTorch's reference point, in minimization units.
        max_hv: The true maximum hypervolume w.r.t. that reference point.
    """

    bounds: tuple[tuple[float, float], ...]
    objective_names: tuple[str, ...]
    reference_point: tuple[float, ...]
    max_hv: float


def make_problem(name: str, **kwargs: int) -> _BoTorchProblem:
    """Build the BoTorch problem ``name`` (see ``PROBLEMS``) in double precision."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(
            f"Unknown synthetic problem {name!r}; expected one of {list(PROBLEMS)}."
        ) from None
    return factory(**kwargs).to(torch.double)


def _check_number(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"`{name}` must be a number, got {value!r}.")


class SyntheticProblem:
    """Adapter: ``config = {x0: ..., x1: ...}`` -> ``{f0: ..., f1: ...}`` (minimized).

    Args:
        problem: One of ``PROBLEMS``.
        dim: Input dimension, for the problems that take one (DTLZ2, ZDT1).
        num_objectives: Number of objectives, for DTLZ2.
        noise_std: Standard deviation of Gaussian noise added to every objective, drawn
            from the evaluation seed so that a config and seed give one answer.

    Example:
        >>> adapter = SyntheticProblem(problem="branin_currin")
        >>> adapter.evaluate({"x0": 0.5, "x1": 0.5}, EvalContext(0, Path("."))).metrics
    """

    def __init__(
        self,
        *,
        problem: str,
        dim: int | None = None,
        num_objectives: int | None = None,
        noise_std: float = 0.0,
    ) -> None:
        kwargs = {k: v for k, v in (("dim", dim), ("num_objectives", num_objectives)) if v}
        self._problem = make_problem(problem, **kwargs)
        self._noise_std = noise_std

    @property
    def info(self) -> ProblemInfo:
        bounds = self._problem.bounds.T.tolist()
        return ProblemInfo(
            bounds=tuple((float(lo), float(hi)) for lo, hi in bounds),
            objective_names=tuple(f"f{i}" for i in range(self._problem.num_objectives)),
            reference_point=tuple(float(r) for r in self._problem.ref_point),
            max_hv=float(self._problem.max_hv),
        )

    def check_space(self, space: Mapping[str, Domain]) -> dict[str, str]:
        """The inputs ``x0 .. x{d-1}`` must be in the space, as numbers."""
        inputs = [f"x{i}" for i in range(self._problem.dim)]
        return space_problems(
            type(self).__name__, space, reads=inputs, needs=inputs, accept=_check_number
        )

    def evaluate(self, config: Mapping[str, Any], context: EvalContext) -> TrialResult:
        x = torch.tensor(
            [[float(config[f"x{i}"]) for i in range(self._problem.dim)]], dtype=torch.double
        )
        y = self._problem(x).squeeze(0)
        if self._noise_std > 0:
            generator = torch.Generator().manual_seed(context.seed)
            y = y + self._noise_std * torch.randn(y.shape, generator=generator, dtype=y.dtype)
        return TrialResult(metrics={f"f{i}": float(v) for i, v in enumerate(y)})
