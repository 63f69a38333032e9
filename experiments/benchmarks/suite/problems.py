"""The benchmark problems: an adapter, its search space, reference point and true max HV.

Every objective is minimized, and the hypervolume of a run is measured against the
problem's own reference point: BoTorch's for the synthetic functions, the per-objective
worst over all 15625 architectures for NAS-Bench-201 (``reference_fronts.json``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from moo.sampler import default_n_initial
from moo.space import SearchSpace
from objectives.protocol import EvalContext
from objectives.synthetic import SyntheticProblem
from objectives.tables import NasBench201, reference_front

__all__ = ["PROBLEMS", "QUICK_PROBLEMS", "BenchProblem", "get_problem"]

_REPO = Path(__file__).resolve().parents[3]
_NB201_SPACE = _REPO / "search_spaces" / "nb201.yaml"
# Lookups and closed-form functions ignore the seed; the adapters still require a context.
_CONTEXT = EvalContext(seed=0, workdir=Path("."))

Config = Mapping[str, Any]


@dataclass(frozen=True)
class BenchProblem:
    """One benchmark problem.

    Attributes:
        name: Key in ``PROBLEMS``.
        space: The typed search space every method samples from.
        objective_names: Metric names of the adapter, all minimized.
        reference_point: Hypervolume reference point (minimization units).
        max_hv: Hypervolume of the true Pareto front w.r.t. ``reference_point``.
        budget: Trials per run, the initial design included.
        quick_budget: Trials per run under ``--quick``.
        metrics: The adapter's evaluation, config -> metric name -> value.
        known: Objective index -> exact function of the config (for moo's known variant).
    """

    name: str
    space: SearchSpace
    objective_names: tuple[str, ...]
    reference_point: tuple[float, ...]
    max_hv: float
    budget: int
    quick_budget: int
    metrics: Callable[[Config], Mapping[str, float]]
    known: Mapping[int, Callable[[Config], float]] = field(default_factory=dict)

    @property
    def n_initial(self) -> int:
        """Size of the shared Sobol design: moo's default, ``2 (d + 1)``."""
        return default_n_initial(self.space.dim)

    def evaluate(self, config: Config) -> tuple[float, ...]:
        """Objective values of ``config`` in ``objective_names`` order."""
        metrics = self.metrics(config)
        return tuple(float(metrics[name]) for name in self.objective_names)


def _synthetic(name: str, problem: str, budget: int, **kwargs: int) -> BenchProblem:
    adapter = SyntheticProblem(problem=problem, **kwargs)
    info = adapter.info
    space = SearchSpace.from_dict(
        {
            "parameters": {
                f"x{i}": {"type": "float", "low": low, "high": high}
                for i, (low, high) in enumerate(info.bounds)
            }
        }
    )
    return BenchProblem(
        name=name,
        space=space,
        objective_names=info.objective_names,
        reference_point=info.reference_point,
        max_hv=info.max_hv,
        budget=budget,
        quick_budget=budget // 2,
        metrics=lambda config: adapter.evaluate(config, _CONTEXT).metrics,
    )


def _known_metric(adapter: NasBench201, name: str, config: Config) -> float:
    return adapter.known_metrics(config)[name]


def _nb201(name: str, reference: str) -> BenchProblem:
    adapter = NasBench201()
    front = reference_front(reference)
    known = {
        i: partial(_known_metric, adapter, metric)
        for i, metric in enumerate(front.objective_names)
        if metric.startswith("lat_ms_")
    }
    return BenchProblem(
        name=name,
        space=SearchSpace.from_yaml(_NB201_SPACE),
        objective_names=front.objective_names,
        reference_point=front.reference_point,
        max_hv=front.max_hv,
        budget=100,
        quick_budget=24,
        metrics=lambda config: adapter.evaluate(config, _CONTEXT).metrics,
        known=known,
    )


PROBLEMS: dict[str, Callable[[], BenchProblem]] = {
    "branin_currin": partial(_synthetic, "branin_currin", "branin_currin", 40),
    "dtlz2": partial(_synthetic, "dtlz2", "dtlz2", 60, dim=6, num_objectives=2),
    "vehicle_safety": partial(_synthetic, "vehicle_safety", "vehicle_safety", 60),
    "zdt1": partial(_synthetic, "zdt1", "zdt1", 60, dim=6),
    "car_side_impact": partial(_synthetic, "car_side_impact", "car_side_impact", 60),
    "nb201_pi4": partial(_nb201, "nb201_pi4", "nb201_c10_raspi4"),
    "nb201_pixel3": partial(_nb201, "nb201_pixel3", "nb201_c10_pixel3"),
    "nb201_eyeriss_fpga": partial(_nb201, "nb201_eyeriss_fpga", "nb201_c10_eyeriss_fpga"),
}
"""Problem name -> factory (NAS-Bench-201 tables are read only when asked for)."""

QUICK_PROBLEMS: tuple[str, ...] = ("branin_currin", "nb201_pi4")


def get_problem(name: str) -> BenchProblem:
    """Build the problem ``name`` (a key of ``PROBLEMS``)."""
    try:
        factory = PROBLEMS[name]
    except KeyError:
        raise ValueError(f"Unknown problem {name!r}; expected one of {list(PROBLEMS)}.") from None
    return factory()
