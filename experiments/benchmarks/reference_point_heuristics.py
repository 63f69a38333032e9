"""Which inferred reference point should moo's sampler use when the YAML gives none?

Usage::

    OMP_NUM_THREADS=1 python -m experiments.benchmarks.reference_point_heuristics \\
        HEURISTIC SEEDS PROBLEM [PROBLEM ...]

    e.g. ... reference_point_heuristics front 1,2 dtlz2 zdt1 vehicle_safety

Runs the suite's ``moo-qlognehvi`` (same problems, budgets and Sobol designs as
``sampler_suite``) with ``QNEHVISampler._infer_reference`` overridden by one heuristic,
and appends one row per run (final log10 HV gap to the true front, lower is better) to
``results/reference_point_heuristics.md``. Heuristics, in BoTorch's maximization
convention:

- ``worst``: the worst observation of each objective minus 10% of the observed range
  (moo's default; Optuna's GPSampler does the same in standardized units);
- ``front``: the nadir of the observed front minus 10% of the front's range (BoTorch's
  ``infer_reference_point``, Ax's default);
- ``wide``: the front's nadir minus half its range, but not beyond ``worst``;
- ``alternate``: ``wide`` and ``worst`` on alternate proposals.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
from botorch.utils.multi_objective import is_non_dominated
from torch import Tensor

from experiments.benchmarks.suite.methods import Method, moo_sampler, optuna_method
from experiments.benchmarks.suite.variants import append_gaps
from moo.bo import reference_point
from moo.sampler import QNEHVISampler

OUT = Path(__file__).resolve().parent / "results" / "reference_point_heuristics.md"
HEADER = """# Inferred reference point: final log10 HV gap of moo-qlognehvi (lower is better)

Rows are appended by `OMP_NUM_THREADS=1 python -m
experiments.benchmarks.reference_point_heuristics HEURISTIC SEEDS PROBLEM...` (see the
script's docstring for the heuristics). Same problems, budgets and seeds as the sampler
suite; seed 0 of `worst` is the suite's `moo-qlognehvi` row.

| heuristic | problem | seed | final log10 HV gap |
|---|---|---|---|
"""


def worst(Y: Tensor) -> Tensor:
    return reference_point(Y)


def _front_bounds(Y: Tensor) -> tuple[Tensor, Tensor]:
    front = Y[is_non_dominated(Y)]
    return front.min(dim=0).values, front.max(dim=0).values


def front(Y: Tensor) -> Tensor:
    nadir, ideal = _front_bounds(Y)
    return nadir - 0.1 * (ideal - nadir).clamp_min(1e-9)


def wide(Y: Tensor) -> Tensor:
    nadir, ideal = _front_bounds(Y)
    span = (ideal - nadir).clamp_min(1e-9)
    return torch.maximum(nadir - 0.5 * span, Y.min(dim=0).values - 0.1 * span)


def alternate(Y: Tensor) -> Tensor:
    """``wide`` and ``worst`` on alternate proposals (by the number of observations, so a
    resumed study alternates as the uninterrupted one did)."""
    return wide(Y) if len(Y) % 2 == 0 else worst(Y)


HEURISTICS: dict[str, Callable[[Tensor], Tensor]] = {
    "worst": worst,
    "front": front,
    "wide": wide,
    "alternate": alternate,
}


def sampler_class(heuristic: Callable[[Tensor], Tensor]) -> type[QNEHVISampler]:
    """moo's sampler with ``heuristic`` as its reference rule."""

    class WithHeuristic(QNEHVISampler):
        def _infer_reference(self, Y: Tensor) -> Tensor:
            return heuristic(Y)

    return WithHeuristic


def main(argv: list[str]) -> None:
    name, seeds, problems = argv[0], [int(s) for s in argv[1].split(",")], argv[2:]
    factory = partial(
        moo_sampler, "qlognehvi", False, sampler_class=sampler_class(HEURISTICS[name])
    )
    method = Method(f"moo-{name}", optuna_method(factory))
    append_gaps(OUT, HEADER, name, method, problems, seeds)


if __name__ == "__main__":
    main(sys.argv[1:])
