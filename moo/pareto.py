r"""Non-dominated sets, hypervolume, knee points and constraint picks.

Direction: every function here takes objectives as an ``n x m`` array in the study's own
units plus a ``directions`` list ("minimize"/"maximize") and converts once, internally, to
*minimization* (Optuna's convention, used by its WFG hypervolume). Callers never negate.

The knee is the front point farthest from the hyperplane through the extreme points, in
objectives normalized to ``[0, 1]`` over the front (Das 1999; as in pymoo's "high
trade-off" decision making): the point where improving one objective starts to cost the
most of the others.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from optuna._hypervolume import compute_hypervolume

from moo.errors import ConfigError

__all__ = [
    "REFERENCE_MARGIN",
    "Bound",
    "hypervolume",
    "inferred_reference",
    "knee_index",
    "log_scaled",
    "non_dominated_mask",
    "parse_bound",
    "parse_condition",
    "to_minimization",
]


def to_minimization(Y: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Negate the maximized columns of ``Y`` (``n x m``) so that smaller is better."""
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return np.asarray(Y, dtype=float) * signs


REFERENCE_MARGIN = 0.1
"""Share of each objective's observed range between its worst value and the inferred
reference point: the extreme points of the front then add hypervolume."""


def inferred_reference(Z: np.ndarray, margin: float = REFERENCE_MARGIN) -> np.ndarray:
    """The reference point moo infers from the minimized rows ``Z`` (``n x m``, finite).

    The worst observed value of each objective (of every row, not only the front's),
    pushed out by ``margin`` of the observed range, or of the value itself (at least 1)
    for an objective that did not vary. One rule for the acquisition (at each proposal)
    and the reported hypervolume (frozen after the initial design); an objective
    threshold replaces it for its objective in both.

    BoTorch's ``infer_reference_point`` takes the nadir of the observed *front*. Early on
    that front is a few points, its nadir box is small, and a point that extends the
    front beyond it scores nothing: proposals then crowd one region (figures in
    ``experiments/benchmarks/results/sampler_notes.md``). Optuna's GPSampler likewise
    refers to the worst observation.

    Example:
        >>> inferred_reference(np.array([[0.0, 4.0], [2.0, 0.0]])).tolist()
        [2.2, 4.4]
    """
    ideal, nadir = Z.min(axis=0), Z.max(axis=0)
    span = np.where(nadir > ideal, nadir - ideal, np.maximum(np.abs(nadir), 1.0))
    return nadir + margin * span


def log_scaled(Y: np.ndarray, log_columns: Sequence[int]) -> np.ndarray:
    """A copy of ``Y`` (``n x m``) with ``log_columns`` in log10, NaN where not positive:
    the scale that objectives declared ``scale: log`` are compared and modeled on."""
    Z = np.array(Y, dtype=float)
    columns = list(log_columns)
    with np.errstate(invalid="ignore", divide="ignore"):
        Z[:, columns] = np.where(Z[:, columns] > 0, np.log10(Z[:, columns]), np.nan)
    return Z


def non_dominated_mask(Y: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Boolean ``n`` mask of the Pareto-optimal rows of ``Y``; NaN rows are dominated.

    Duplicated optimal rows are all kept: two trials reaching the same values are both
    on the front.
    """
    Z = to_minimization(Y, directions)
    finite = np.isfinite(Z).all(axis=1)
    mask = np.zeros(len(Z), dtype=bool)
    candidates = np.flatnonzero(finite)
    for i in candidates:
        others = Z[candidates]
        dominated = np.any(np.all(others <= Z[i], axis=1) & np.any(others < Z[i], axis=1))
        mask[i] = not dominated
    return mask


def hypervolume(
    Y: np.ndarray, directions: Sequence[str], reference_point: Sequence[float]
) -> float:
    """Hypervolume dominated by ``Y`` and bounded by ``reference_point`` (study units).

    Points that do not strictly improve on the reference point in every objective add
    nothing. An empty set gives 0.0.
    """
    Z = to_minimization(Y, directions)
    ref = to_minimization(np.asarray(reference_point, dtype=float)[None, :], directions)[0]
    Z = Z[np.isfinite(Z).all(axis=1)]
    Z = Z[(Z < ref).all(axis=1)]
    if len(Z) == 0:
        return 0.0
    Z = Z[non_dominated_mask(Z, ["minimize"] * Z.shape[1])]
    return float(compute_hypervolume(Z, ref, assume_pareto=True))


def knee_index(Y: np.ndarray, directions: Sequence[str]) -> int:
    """Index (into ``Y``) of the knee of the non-dominated rows of ``Y``."""
    mask = non_dominated_mask(Y, directions)
    front_idx = np.flatnonzero(mask)
    if len(front_idx) == 0:
        raise ValueError("knee_index() needs at least one finite row.")
    if len(front_idx) <= 2:
        return int(front_idx[0])
    Z = to_minimization(Y, directions)[front_idx]
    span = Z.max(axis=0) - Z.min(axis=0)
    N = (Z - Z.min(axis=0)) / np.where(span > 0, span, 1.0)
    # The hyperplane through the per-objective minima of a normalized front is
    # sum(z) = 1 in the 2-objective case and, in general, the plane through the m extreme
    # points; the distance below the plane is largest at the knee.
    m = N.shape[1]
    extremes = N[np.argmin(N, axis=0)]
    try:
        normal = np.linalg.solve(extremes, np.ones(m))
    except np.linalg.LinAlgError:
        normal = np.ones(m)
    distance = (1.0 - N @ normal) / np.linalg.norm(normal)
    return int(front_idx[int(np.argmax(distance))])


# Metric names may carry a period suffix (``avg_power_mW@5s``).
_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.@]*)\s*(<=|>=|<|>|==)\s*([-+0-9.eE]+)\s*$")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Bound:
    """One condition on a metric, ``accuracy >= 0.9``: a pick filter or an outcome
    constraint.

    Attributes:
        metric: The metric's name.
        op: ``<``, ``<=``, ``>``, ``>=`` or ``==``.
        value: The bound.
    """

    metric: str
    op: str
    value: float

    @property
    def name(self) -> str:
        """Canonical text, ``accuracy>=0.9``: the constraint's name in the storage."""
        return f"{self.metric}{self.op}{self.value:g}"

    def holds(self, value: float) -> bool:
        return _OPERATORS[self.op](float(value), self.value)

    def violation(self, value: float) -> float:
        """Optuna's constraint convention: ``<= 0`` where the bound holds, else by how much
        it is missed (``0.9 - accuracy`` for ``accuracy >= 0.9``)."""
        if self.op in (">", ">="):
            return self.value - float(value)
        if self.op in ("<", "<="):
            return float(value) - self.value
        return abs(float(value) - self.value)


def parse_bound(text: str) -> Bound:
    """``"accuracy >= 0.9"`` -> ``Bound("accuracy", ">=", 0.9)``.

    Raises:
        ConfigError: Not of the form METRIC OP NUMBER.
    """
    match = _CONDITION.match(text)
    if match is None:
        raise ConfigError(
            f"Cannot read condition {text.strip()!r}; expected METRIC OP NUMBER, "
            "e.g. 'energy_mJ<0.5'."
        )
    name, op, value = match.groups()
    return Bound(name, op, float(value))


def parse_condition(text: str) -> Callable[[Mapping[str, float]], bool]:
    """``"energy_mJ<0.5"`` -> a predicate on a trial's metrics, for constraint picks.

    Several conditions are joined with ``,`` or ``and``: ``"accuracy>=0.9, latency_ms<5"``.
    """
    parts = [p for p in re.split(r",|\band\b", text) if p.strip()]
    if not parts:
        raise ConfigError(f"Empty condition {text!r}; expected e.g. 'energy_mJ<0.5'.")
    bounds = [parse_bound(part) for part in parts]

    def predicate(metrics: Mapping[str, float]) -> bool:
        for bound in bounds:
            if bound.metric not in metrics:
                raise ConfigError(
                    f"Condition uses unknown metric {bound.metric!r}; known: {sorted(metrics)}."
                )
            if not bound.holds(metrics[bound.metric]):
                return False
        return True

    return predicate
