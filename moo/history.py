"""A study's history as the stop rules and progress displays see it.

Hypervolume is only comparable along a study if its reference point and scale never
move. They are frozen once, when the initial design is in: the reference point is the
YAML's, or ``moo.pareto.inferred_reference`` of the initial design's feasible points
(their worst value pushed out by 10% of their range: the rule the acquisition uses at
every proposal), and every objective is scaled so that the ideal point of the initial
design is 0 and the reference 1. The normalized hypervolume is then about 1
for the initial front and grows as the front improves; a stop rule compares its gains.

An objective threshold (``threshold: 0.9`` on accuracy) is that objective's reference,
whatever the initial design saw: trials not beyond it add no hypervolume, so the stop rule
measures progress among usable configs only, and while none is usable the hypervolume is
0 and the study does not stop by convergence (``max_trials`` and ``max_time`` still do).
The ideal point is then that of the initial trials beyond the thresholds; if none is,
an objective's scale is the initial design's spread, measured back from its reference.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from moo.config import StudyConfig
from moo.convergence import Progress, hypervolume_history
from moo.keys import IDEAL_KEY, INFEASIBLE_KEY, REFERENCE_KEY, RETRY_OF_KEY, SIBLING_KEY
from moo.pareto import (
    hypervolume,
    inferred_reference,
    log_scaled,
    non_dominated_mask,
    to_minimization,
)
from moo.requeue import stand_ins
from moo.space import default_n_initial

__all__ = [
    "RunStatus",
    "StudyHistory",
    "feasible",
    "inferred_scale",
    "initial_design",
    "n_initial",
    "proposed",
    "usable",
]

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def n_initial(config: StudyConfig) -> int:
    """Trials of the initial design: the YAML's, else ``2 (d + 1)``."""
    return config.sampler.n_initial or default_n_initial(len(config.space["parameters"]))


def inferred_scale(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ideal point and inferred reference point (``inferred_reference``) of the minimized
    rows ``Z`` (``n x m``)."""
    return Z.min(axis=0), inferred_reference(Z)


def proposed(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """Trials the sampler proposed (or a user enqueued): not siblings added for free, nor
    crashed trials that a re-queued copy stands for (the chain counts once)."""
    replaced = stand_ins(trials)
    return [t for t in trials if SIBLING_KEY not in t.user_attrs and t.number not in replaced]


def initial_design(trials: Sequence[FrozenTrial], n_feasible: int) -> list[FrozenTrial] | None:
    """The trials the HV reference is frozen from, or ``None`` while they are not all in.

    The shortest run of proposed trials, in the order they were proposed (a re-queued
    copy in its crashed trial's place), that holds ``n_feasible`` feasible ones, once
    every one of them has finished, with their siblings. Not "the feasible trials in
    storage when the count is reached": two workers finishing the design together read
    different sets, and each froze its own reference.
    """
    own = sorted(proposed(trials), key=lambda t: t.system_attrs.get(RETRY_OF_KEY, t.number))
    n = 0
    for k, trial in enumerate(own):
        if trial.state not in FINISHED:
            return None
        n += feasible(trial)
        if n >= n_feasible:
            chosen = {t.number for t in own[: k + 1]}
            replaced = stand_ins(trials)
            owner = [int(t.user_attrs.get(SIBLING_KEY, t.number)) for t in trials]
            return [t for t, o in zip(trials, owner, strict=True) if replaced.get(o, o) in chosen]
    return None


def feasible(trial: FrozenTrial) -> bool:
    return trial.state == TrialState.COMPLETE and all(v <= 0 for v in trial.constraints.values())


def usable(trial: FrozenTrial, config: StudyConfig) -> bool:
    """Feasible and beyond every objective threshold: a config worth deploying."""
    return feasible(trial) and trial.values is not None and config.meets_thresholds(trial.values)


def objective_rows(trials: Sequence[FrozenTrial], m: int) -> np.ndarray:
    """Objective rows; NaN for trials that are not feasible and complete."""
    return np.array(
        [t.values if feasible(t) and t.values is not None else [math.nan] * m for t in trials],
        dtype=float,
    ).reshape(len(trials), m)


@dataclass(frozen=True)
class RunStatus:
    """What a progress display shows after each trial."""

    n_trials: int
    max_trials: int
    hypervolume: float | None
    front_size: int
    n_failed: int
    n_infeasible: int
    elapsed_s: float
    last: FrozenTrial | None = None


class StudyHistory:
    """Reads a study's trials for hypervolume, progress and status; freezes the reference.

    Args:
        study: The Optuna study.
        config: Its validated config.
        started: ``time.monotonic()`` at the start of this run (for ``max_time`` and ETA).
    """

    def __init__(
        self, study: optuna.Study, config: StudyConfig, *, started: float | None = None
    ) -> None:
        self.study, self.config = study, config
        self._started = time.monotonic() if started is None else started
        # Frozen once, never changed (see the module docstring): read until then.
        self._frozen: tuple[np.ndarray, np.ndarray] | None = None

    def snapshot(self) -> tuple[RunStatus, Progress]:
        """Status and progress from one read of the trials: one storage query per trial
        instead of two (the read dominates with many trials on a remote database).

        Read between two trials of a running worker, the progress also counts the other
        workers' running trials, which take their share of ``max_trials``.
        """
        trials = self.study.get_trials(deepcopy=False)
        progress = self._progress(trials)
        progress.n_running = sum(t.state == TrialState.RUNNING for t in proposed(trials))
        return self._status(trials), progress

    def progress(self) -> Progress:
        return self._progress(self.study.get_trials(deepcopy=False))

    def status(self) -> RunStatus:
        return self._status(self.study.get_trials(deepcopy=False))

    def _progress(self, trials: Sequence[FrozenTrial]) -> Progress:
        finished = [t for t in proposed(trials) if t.state in FINISHED]
        return Progress(
            n_trials=len(finished),
            hv_history=self.hypervolume_history(trials),
            started=self._started,
        )

    def hypervolume_history(self, trials: Sequence[FrozenTrial]) -> list[float]:
        """Normalized HV after each finished proposed trial (with its siblings), in order."""
        reference = self.reference()
        if reference is None:
            return []
        finished = [t for t in trials if t.state in FINISHED]
        # A crashed trial, and the siblings it left, belong to the copy that stands for it.
        replaced = stand_ins(trials)
        group = [int(t.user_attrs.get(SIBLING_KEY, t.number)) for t in finished]
        group = [replaced.get(g, g) for g in group]
        order = sorted(range(len(finished)), key=lambda i: (group[i], finished[i].number))
        m = len(self.config.objectives)
        Z = self._normalized(objective_rows([finished[i] for i in order], m), reference)
        running = hypervolume_history(Z, ["minimize"] * m, [1.0] * m)
        # A group's value is the HV once its last trial (the proposal or a sibling) is in.
        ends = [
            k
            for k in range(len(order))
            if k + 1 == len(order) or group[order[k + 1]] != group[order[k]]
        ]
        return [running[k] for k in ends]

    def _status(self, trials: Sequence[FrozenTrial]) -> RunStatus:
        own = [t for t in proposed(trials) if t.state in FINISHED]
        ref = self.reference()
        Y = objective_rows(trials, len(self.config.objectives))
        Y_usable = objective_rows([t for t in trials if usable(t, self.config)], Y.shape[1])
        return RunStatus(
            n_trials=len(own),
            max_trials=self.config.stop.max_trials,
            hypervolume=None if ref is None else self._normalized_hv(Y, ref),
            front_size=int(non_dominated_mask(Y_usable, self.config.directions).sum()),
            n_failed=sum(t.state == TrialState.FAIL for t in own),
            n_infeasible=sum(INFEASIBLE_KEY in t.user_attrs for t in own),
            elapsed_s=time.monotonic() - self._started,
            last=own[-1] if own else None,
        )

    def hypervolume_with(self, values: Sequence[float] | None) -> float | None:
        """Normalized HV of the finished trials plus ``values`` (this trial, if feasible)."""
        reference = self.reference()
        if reference is None:
            return None
        Y = objective_rows(self.study.get_trials(deepcopy=False), len(self.config.objectives))
        if values is not None:
            Y = np.vstack([Y, np.asarray(values, dtype=float)[None]])
        return self._normalized_hv(Y, reference)

    def freeze_reference(self) -> None:
        """Fix the HV reference once the initial design is in: comparable HV from then on."""
        if self.reference() is not None:
            return  # frozen: nothing to read on every later trial
        attrs = self.study.user_attrs
        design = initial_design(
            self.study.get_trials(deepcopy=False), max(2, n_initial(self.config))
        )
        if design is None:
            return
        Y = objective_rows(design, len(self.config.objectives))
        Z = self._minimized(Y[np.isfinite(Y).all(axis=1)])
        ideal, ref_z = inferred_scale(Z)
        span = ref_z - ideal
        if REFERENCE_KEY in attrs:
            ref_z = self._minimized(np.array([attrs[REFERENCE_KEY]]))[0]
        else:
            given = self.config.reference_point()  # thresholds; NaN where inferred
            if given is not None:
                given_z = self._minimized(np.array([given]))[0]
                ref_z = np.where(np.isnan(given_z), ref_z, given_z)
            self.study.set_user_attr(REFERENCE_KEY, self._study_units(ref_z))
        # The ideal of the points that count (beyond every threshold), so that the initial
        # front's normalized HV is about 1 with thresholds too. An objective no initial
        # trial beats is scaled by the design's spread back from its reference.
        counted = Z[(Z < ref_z).all(axis=1)]
        if len(counted):
            ideal = counted.min(axis=0)
        ideal = np.where(ideal < ref_z, ideal, ref_z - span)
        self.study.set_user_attr(IDEAL_KEY, self._study_units(ideal))

    def reference(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Reference and ideal point, minimized and on the objectives' scales."""
        if self._frozen is None:
            attrs = self.study.user_attrs
            if IDEAL_KEY not in attrs:
                return None
            ref = self._minimized(np.array([attrs[REFERENCE_KEY]]))[0]
            ideal = self._minimized(np.array([attrs[IDEAL_KEY]]))[0]
            self._frozen = ref, ideal
        return self._frozen

    def _minimized(self, Y: np.ndarray) -> np.ndarray:
        """Study values minimized, log objectives in ``log10`` (NaN where not positive)."""
        return to_minimization(log_scaled(Y, self.config.log_objectives), self.config.directions)

    def _study_units(self, z: np.ndarray) -> list[float]:
        """The inverse of ``_minimized`` for one point: JSON-ready study units."""
        y = to_minimization(z[None], self.config.directions)[0]
        log = self.config.log_objectives
        y[log] = 10.0 ** y[log]
        return y.tolist()

    def _normalized(self, Y: np.ndarray, reference: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """``Y`` minimized and scaled so that ideal -> 0 and reference -> 1 per objective."""
        ref, ideal = reference
        return (self._minimized(Y) - ideal) / (ref - ideal)

    def _normalized_hv(self, Y: np.ndarray, reference: tuple[np.ndarray, np.ndarray]) -> float:
        m = Y.shape[1]
        return hypervolume(self._normalized(Y, reference), ["minimize"] * m, [1.0] * m)
