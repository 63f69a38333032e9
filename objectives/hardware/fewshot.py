r"""Few-shot calibration of a (core, runtime) profile that does not over-fit.

A user measures a handful of models on their board and runtime. The shipped profile is the
prior; the rows move it only as far as they insist. In log space the calibrated constants are

    log theta = log theta_0 + d_0 + d_p        (p: the six constants of ``runtime_model``)

with ``d_0`` one speed factor of the user's board (the level the rows inform best) and ``d_p``
per-kind corrections, found by

    min  sum_i ((log t_model_i - log t_i) / ROW_SIGMA)^2 + (d_0 / s_0)^2 + sum_p (d_p / (s_1 l_p))^2

(``l_p``: ``runtime_model.LOOSENESS``). How far to move, ``(s_0, s_1)``, is chosen among
``CANDIDATES`` (from "keep the profile" to "fit every constant", each only where the rows
outnumber its free constants, ``FREE``) by leave-one-out on the given rows: each row is
predicted from the others under each candidate, and the candidate with the smallest squared
log error wins (ties go to the stronger shrinkage). With one row
there is nothing to leave out: the board factor is shrunk by the population spread of boards
around the profile (``ONE_ROW``). The error to expect on a new model combines the leave-one-
out residuals with the profile's held-out spread (``PRIOR_ROWS`` rows' worth), so that three
lucky rows do not promise more than the population allows; one row claims no gain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from objectives.hardware.runtime_model import LOOSENESS, PARAMETERS, KindConstants
from objectives.hardware.solver import penalized_log_fit

__all__ = ["CANDIDATES", "ROW_SIGMA", "FewShotFit", "few_shot", "fit_offsets"]

ROW_SIGMA = 0.1
"""Log spread of one measured model around its board's calibrated prediction."""
WIDE = 10.0
CANDIDATES: dict[str, tuple[float, float]] = {
    "profile": (0.0, 0.0),
    "board factor, shrunk": (0.15, 0.0),
    "board factor": (WIDE, 0.0),
    "board factor and kinds, shrunk": (WIDE, 0.1),
    "every constant": (WIDE, WIDE),
}
"""Shrinkage candidates ``(s_0, s_1)``: prior spread of the board factor and of the per-kind
corrections (0: fixed at the profile). 0.15 is the spread of boards around a class."""
FREE = {
    "profile": 0,
    "board factor, shrunk": 0,
    "board factor": 1,
    "board factor and kinds, shrunk": 1,
    "every constant": 1 + len(PARAMETERS),
}
"""Constants a candidate leaves (nearly) unshrunk. A candidate is tried only when each
leave-one-out fit has at least that many rows: two rows say nothing about seven free constants,
and a lucky leave-one-out score would say they do."""
ONE_ROW = "board factor, shrunk"
PRIOR_ROWS = 4
"""Rows' worth of the profile's held-out spread in the expected error after calibration."""


def _predict(base: np.ndarray, features: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Log cycles of rows under ``base + d_0 + d_p``."""
    return np.log(features @ np.exp(base + offsets[0] + offsets[1:]))


def fit_offsets(
    base: np.ndarray, features: np.ndarray, log_cycles: np.ndarray, s0: float, s1: float
) -> np.ndarray:
    """``(d_0, d_p...)`` minimizing the penalized log error (module docstring)."""
    n = len(PARAMETERS)
    if s0 == 0.0 and s1 == 0.0:
        return np.zeros(n + 1)
    spread = np.array([max(s0, 1e-9), *(max(s1 * LOOSENESS[p], 1e-9) for p in PARAMETERS)])
    design = np.hstack([np.ones((n, 1)), np.eye(n)])  # term p: d_0 + d_p
    rows = len(log_cycles)
    return penalized_log_fit(
        features,
        np.broadcast_to(design, (rows, n, n + 1)),
        log_cycles,
        ROW_SIGMA,
        np.zeros(n + 1),
        spread,
        np.broadcast_to(base, (rows, n)),
    )


@dataclass(frozen=True)
class FewShotFit:
    """The calibrated constants and what the calibration knows about its own error.

    Attributes:
        constants: Calibrated constants.
        choice: Name of the chosen candidate (``CANDIDATES``).
        loo_log_errors: Leave-one-out ``log(predicted / measured)`` per row under the
            chosen candidate (empty with one row).
        fitted_log_errors: ``log(predicted / measured)`` per row of the final fit.
        expected_log_sd: Log spread to expect on a model that was not measured.
    """

    constants: KindConstants
    choice: str
    loo_log_errors: np.ndarray
    fitted_log_errors: np.ndarray
    expected_log_sd: float


def few_shot(
    constants: KindConstants,
    graphs_features: np.ndarray,
    log_cycles: np.ndarray,
    prior_log_sd: float,
) -> FewShotFit:
    """Calibrate ``constants`` on rows (features x ``PARAMETERS``, measured log cycles).

    Args:
        constants: The profile's constants (the prior centre).
        graphs_features: ``graph_features`` of each measured model.
        log_cycles: Measured latency of each row, in log cycles at the profile's clock.
        prior_log_sd: The profile's held-out spread (its ``uncertainty.latency_log_sd``).
    """
    base = constants.as_log()
    k = len(log_cycles)
    loo: dict[str, np.ndarray] = {}
    if k >= 2:
        for name, (s0, s1) in CANDIDATES.items():
            if FREE[name] > k - 1:
                continue
            errors = []
            for held in range(k):
                rest = np.arange(k) != held
                d = fit_offsets(base, graphs_features[rest], log_cycles[rest], s0, s1)
                errors.append(_predict(base, graphs_features[[held]], d)[0] - log_cycles[held])
            loo[name] = np.asarray(errors)
        choice = min(loo, key=lambda c: round(float(np.sum(loo[c] ** 2)), 12))
    else:
        choice = ONE_ROW
    d = fit_offsets(base, graphs_features, log_cycles, *CANDIDATES[choice])
    fitted = _predict(base, graphs_features, d) - log_cycles
    chosen = loo.get(choice, np.array([]))
    if len(chosen):
        variance = (np.sum(chosen**2) + PRIOR_ROWS * prior_log_sd**2) / (len(chosen) + PRIOR_ROWS)
    else:  # one row says little about the next model: no gain is claimed
        variance = prior_log_sd**2
    return FewShotFit(
        constants=KindConstants.from_log(base + d[0] + d[1:]),
        choice=choice,
        loo_log_errors=chosen,
        fitted_log_errors=fitted,
        # never below one row's own noise, unless the profile's held-out spread already is
        expected_log_sd=math.sqrt(max(variance, min(ROW_SIGMA, prior_log_sd) ** 2)),
    )
