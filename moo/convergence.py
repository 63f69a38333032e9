"""Hypervolume history and the rules that decide when a study has converged.

A study stops when its Pareto front stops moving, not after a blind trial count: the
default rule stops when the hypervolume gained over the last ``window`` proposed trials
is below ``tol`` times the current hypervolume. ``max_trials`` and ``max_time`` always
apply too. Rules are small classes in the pymoo style (``Termination.update`` ->
``_update``): the public method records the reason, the subclass decides.

Hypervolume is measured against a reference point fixed once per study (the YAML's, or
inferred from the initial design), so values along the history are comparable.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from moo.pareto import hypervolume, non_dominated_mask

__all__ = [
    "AnyOf",
    "HypervolumeStall",
    "MaxTime",
    "MaxTrials",
    "Progress",
    "StopRule",
    "default_min_trials",
    "hypervolume_history",
]


@dataclass
class Progress:
    """What stop rules look at.

    Attributes:
        n_trials: Finished proposed trials (siblings excluded), this run and earlier ones.
        hv_history: Hypervolume after each of those trials, in order.
        started: ``time.monotonic()`` at the start of this run.
        n_running: Proposed trials other workers are running now; they count against
            ``max_trials``, or two workers each start the last trial (31 of 30).
    """

    n_trials: int
    hv_history: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    n_running: int = 0


class StopRule:
    """Base class: ``update(progress)`` returns why to stop, or ``None`` to go on."""

    reason: str | None = None

    def update(self, progress: Progress) -> str | None:
        self.reason = self._update(progress)
        return self.reason

    def _update(self, progress: Progress) -> str | None:
        raise NotImplementedError


class MaxTrials(StopRule):
    def __init__(self, n: int) -> None:
        self.n = n

    def _update(self, progress: Progress) -> str | None:
        started = progress.n_trials + progress.n_running
        return f"max_trials ({self.n}) reached" if started >= self.n else None


class MaxTime(StopRule):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def _update(self, progress: Progress) -> str | None:
        elapsed = time.monotonic() - progress.started
        return f"max_time ({self.seconds:g} s) reached" if elapsed >= self.seconds else None


def default_min_trials(n_initial: int, window: int) -> int:
    """No convergence stop before the initial design plus two windows of BO trials.

    Right after a space-filling design the front often sits still for a window while the
    GP learns where to go (DTLZ2: the rule fired at trial 24 of 60 with 7% of the final
    hypervolume when one window was allowed); a second window lets BO show it can move.
    """
    return n_initial + 2 * window


class HypervolumeStall(StopRule):
    """Converged when ``HV[n] - HV[n - window] <= tol * HV[n]`` after ``min_trials``.

    A zero hypervolume never counts as converged: nothing beats the reference point yet.
    """

    def __init__(self, *, window: int, tol: float, min_trials: int) -> None:
        self.window, self.tol, self.min_trials = window, tol, min_trials

    def _update(self, progress: Progress) -> str | None:
        hv = progress.hv_history
        if progress.n_trials < self.min_trials or len(hv) <= self.window or hv[-1] <= 0:
            return None
        gain = (hv[-1] - hv[-1 - self.window]) / hv[-1]
        if gain <= self.tol:
            return (
                f"converged: hypervolume gained {gain:.2%} over the last {self.window} trials "
                f"(tol {self.tol:.2%})"
            )
        return None


class AnyOf(StopRule):
    def __init__(self, *rules: StopRule) -> None:
        self.rules = rules

    def _update(self, progress: Progress) -> str | None:
        for rule in self.rules:
            reason = rule.update(progress)
            if reason is not None:
                return reason
        return None


def hypervolume_history(
    Y: np.ndarray, directions: Sequence[str], reference_point: Sequence[float]
) -> list[float]:
    """Hypervolume of the first ``i + 1`` rows of ``Y`` (``n x m``), for each ``i``.

    Rows are in trial order; a NaN row (failed or infeasible trial) adds nothing. Only the
    running front is kept, so each step costs one hypervolume of the front.
    """
    history: list[float] = []
    front = np.empty((0, Y.shape[1]))
    for row in np.asarray(Y, dtype=float):
        if np.isfinite(row).all():
            front = np.vstack([front, row])
            front = front[non_dominated_mask(front, directions)]
        history.append(hypervolume(front, directions, reference_point) if len(front) else 0.0)
    return history
