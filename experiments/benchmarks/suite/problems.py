"""The benchmark problems: an adapter, its search space, reference point and true max HV.

Every objective is minimized, and the hypervolume of a run is measured against the
problem's own reference point: BoTorch's for the synthetic functions, the per-objective
worst over all 15625 architectures for NAS-Bench-201 (``reference_fronts.json``) and over
all 1080 configs of the reduced digits study (``results/digits_table.csv``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.benchmarks.suite.hypervolume import hypervolume_trace
from moo.pareto import non_dominated_mask
from moo.space import SearchSpace, default_n_initial, row_key
from objectives.protocol import EvalContext
from objectives.synthetic import SyntheticProblem
from objectives.tables import NasBench201, reference_front

__all__ = [
    "DIGITS_OBJECTIVES",
    "PROBLEMS",
    "QUICK_PROBLEMS",
    "BenchProblem",
    "DigitsTable",
    "digits_table",
    "get_problem",
]

_REPO = Path(__file__).resolve().parents[3]
_NB201_SPACE = _REPO / "search_spaces" / "nb201.yaml"
_DIGITS_SPACE = _REPO / "search_spaces" / "digits_reduced.yaml"
# Written by experiments/benchmarks/digits_table.py (real training, about 4 min).
_DIGITS_TABLE = _REPO / "experiments" / "benchmarks" / "results" / "digits_table.csv"
# The quickstart study puts latency and energy on a log scale (they span decades across
# the cores), so its hypervolume is taken on log10 values; error = 1 - accuracy is linear.
DIGITS_OBJECTIVES = ("error", "log10_latency_ms", "log10_energy_mJ")
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


@dataclass(frozen=True)
class DigitsTable:
    """The reduced digits study, every config evaluated (``results/digits_table.csv``).

    Attributes:
        space: ``search_spaces/digits_reduced.yaml``.
        values: `n x 3` objectives ``DIGITS_OBJECTIVES`` of the table's rows (minimized).
        front: Row indices of the non-dominated configs (ties kept), minimization.
        reference_point: Per-objective worst over all rows.
        max_hv: Hypervolume of ``values[front]`` w.r.t. ``reference_point`` (minimization).
    """

    space: SearchSpace
    values: np.ndarray
    front: tuple[int, ...]
    reference_point: tuple[float, ...]
    max_hv: float
    row_of: Mapping[tuple[float, ...], int] = field(repr=False)

    def objectives(self, config: Config) -> tuple[float, ...]:
        """``DIGITS_OBJECTIVES`` of ``config`` (a config of ``space``)."""
        row = self.row_of[row_key(self.space.encode([config])[0])]
        return tuple(map(float, self.values[row]))


@lru_cache(maxsize=1)
def digits_table(path: Path = _DIGITS_TABLE) -> DigitsTable:
    """Read the digits table once: objectives, true front, reference point and max HV.

    Raises:
        ValueError: The table misses or repeats a config of the space, or has an
            infeasible row (the suite's methods know no constraints).
    """
    space = SearchSpace.from_yaml(_DIGITS_SPACE)
    frame = pd.read_csv(path, comment="#")
    if not frame["feasible"].all():
        raise ValueError(
            f"{str(path)!r} has {int((~frame['feasible']).sum())} infeasible rows, but the "
            "digits problem has no constraints; shrink search_spaces/digits_reduced.yaml."
        )
    configs = tuple({name: row[name] for name in space.names} for row in frame.to_dict("records"))
    keys = [row_key(x) for x in space.encode(configs)]
    if len(set(keys)) != len(keys) or len(keys) != space.n_configs():
        raise ValueError(
            f"{str(path)!r} must hold each of the {space.n_configs():.0f} configs of "
            f"{_DIGITS_SPACE.name} once, got {len(keys)} rows ({len(set(keys))} distinct); "
            "rerun experiments/benchmarks/digits_table.py."
        )
    values = np.column_stack(
        [
            1.0 - frame["accuracy"].to_numpy(float),
            np.log10(frame["latency_ms"].to_numpy(float)),
            np.log10(frame["energy_mJ"].to_numpy(float)),
        ]
    )
    # Identical rows (both prune kinds at ratio 0) all stay on the front.
    front = np.flatnonzero(non_dominated_mask(values, ["minimize"] * len(DIGITS_OBJECTIVES)))
    reference_point = tuple(map(float, values.max(axis=0)))
    return DigitsTable(
        space=space,
        values=values,
        front=tuple(map(int, front)),
        reference_point=reference_point,
        max_hv=hypervolume_trace(values[front], reference_point)[-1],
        row_of={key: i for i, key in enumerate(keys)},
    )


def _digits_objective(table: DigitsTable, index: int, config: Config) -> float:
    return table.objectives(config)[index]


def _digits() -> BenchProblem:
    table = digits_table()
    return BenchProblem(
        name="digits",
        space=table.space,
        objective_names=DIGITS_OBJECTIVES,
        reference_point=table.reference_point,
        max_hv=table.max_hv,
        budget=60,
        quick_budget=20,
        metrics=lambda config: dict(zip(DIGITS_OBJECTIVES, table.objectives(config), strict=True)),
        # Latency and energy are the hardware model's exact functions of the config (the
        # adapter's known_metrics); accuracy needs training and is learned.
        known={i: partial(_digits_objective, table, i) for i in (1, 2)},
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
    "digits": _digits,
}
"""Problem name -> factory (the lookup tables are read only when asked for)."""

QUICK_PROBLEMS: tuple[str, ...] = ("branin_currin", "nb201_pi4")


def get_problem(name: str) -> BenchProblem:
    """Build the problem ``name`` (a key of ``PROBLEMS``)."""
    try:
        factory = PROBLEMS[name]
    except KeyError:
        raise ValueError(f"Unknown problem {name!r}; expected one of {list(PROBLEMS)}.") from None
    return factory()
