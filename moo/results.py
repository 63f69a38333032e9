"""A study's trials as tables, and the pick of one trial from its front.

``moo status``, ``moo pareto``, ``moo export`` and ``moo report`` all read the study the
same way: feasible completed trials (siblings included: they are real evaluations) beyond
every objective threshold are the candidates, the front is their non-dominated subset,
and a *pick* (``knee``, ``trial:N`` or a condition such as
``"energy_mJ<0.5, accuracy>=0.9"``) names one of them.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from moo.config import StudyConfig
from moo.errors import ConfigError
from moo.history import feasible, usable
from moo.keys import HV_KEY, METRICS_KEY, SIBLING_KEY
from moo.pareto import knee_index, log_scaled, non_dominated_mask, parse_condition

__all__ = ["evaluation_group", "front_trials", "pick_trial", "trials_frame"]


def _metrics(trial: FrozenTrial, config: StudyConfig) -> dict[str, float]:
    metrics = dict(trial.user_attrs.get(METRICS_KEY, {}))
    if trial.values is not None:
        metrics.update(zip(config.objective_names, trial.values, strict=True))
    return metrics


def trials_frame(study: optuna.Study, config: StudyConfig) -> pd.DataFrame:
    """One row per trial: number, state, sibling_of, feasible, on_front, params, metrics."""
    trials = study.get_trials(deepcopy=False)
    front = {t.number for t in front_trials(study, config)}
    rows: list[dict[str, Any]] = []
    for t in trials:
        rows.append(
            {
                "trial": t.number,
                "state": t.state.name,
                "sibling_of": t.user_attrs.get(SIBLING_KEY),
                "feasible": feasible(t),
                "on_front": t.number in front,
                "hv": t.user_attrs.get(HV_KEY),
                **t.params,
                **_metrics(t, config),
            }
        )
    return pd.DataFrame(rows)


def front_trials(study: optuna.Study, config: StudyConfig) -> list[FrozenTrial]:
    """The non-dominated usable trials (feasible, beyond the thresholds), in trial order."""
    candidates = [t for t in study.get_trials(deepcopy=False) if usable(t, config)]
    if not candidates:
        return []
    Y = np.array([t.values for t in candidates], dtype=float)
    mask = non_dominated_mask(Y, config.directions)
    return [t for t, keep in zip(candidates, mask, strict=True) if keep]


def pick_trial(study: optuna.Study, config: StudyConfig, pick: str) -> FrozenTrial:
    """``knee``, ``trial:N`` or a metric condition (the knee of the front meeting it)."""
    match = re.fullmatch(r"\s*trial:(\d+)\s*", pick)
    if match:
        number = int(match.group(1))
        trials = study.get_trials(deepcopy=False)
        if number >= len(trials) or trials[number].state != TrialState.COMPLETE:
            raise ConfigError(f"--pick {pick}: trial {number} is not a completed trial.")
        return trials[number]
    front = front_trials(study, config)
    if not front:
        raise ConfigError(f"--pick {pick}: the study has no feasible completed trial yet.")
    if pick.strip() != "knee":
        accept = parse_condition(pick)
        front = [t for t in front if accept(_metrics(t, config))]
        if not front:
            raise ConfigError(f"--pick {pick}: no trial on the front meets the condition.")
    # The knee on the scale the study optimized.
    Y = log_scaled(np.array([t.values for t in front], dtype=float), config.log_objectives)
    return front[knee_index(Y, config.directions)]


def evaluation_group(study: optuna.Study, trial: FrozenTrial) -> list[FrozenTrial]:
    """The trial with the configs evaluated alongside it (e.g. the same model per device)."""
    root = int(trial.user_attrs.get(SIBLING_KEY, trial.number))
    return [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state == TrialState.COMPLETE and int(t.user_attrs.get(SIBLING_KEY, t.number)) == root
    ]
