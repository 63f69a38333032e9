"""The data of one proposal, in BoTorch's maximization convention.

The sampler converts Optuna's directions once and hands this object to the model
fitting, the acquisition and its optimizer, so none of them knows about Optuna.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from torch import Tensor

__all__ = ["Acquisition", "Hyperparameters", "KnownObjective", "ProposalProblem"]

Acquisition = Literal["qlognehvi", "qnehvi", "qlognparego"]
Hyperparameters = dict[str, dict[str, list]]
"""Fitted GP parameters by member (``objectives``, ``constraints``) and parameter name:
JSON-ready, so they can live in the study's storage and warm-start the next fit."""
KnownObjective = Callable[[Tensor], Tensor]
"""An exact objective: ``batch x d`` encoded points -> ``batch`` values (maximized)."""


@dataclass
class ProposalProblem:
    """The data one proposal is made from (maximization convention).

    Attributes:
        X: ``n x d`` encoded configs of the completed trials.
        Y: ``n x m`` objectives of those trials, maximized; known objectives included.
        bounds: ``2 x d`` bounds of the encoding.
        categorical_dims: ``{dim: choices}`` of categorical parameters.
        discrete_dims: ``{dim: values}`` of ordered parameters with a finite grid.
        known: ``{objective index: exact function}``.
        X_constraints: ``k x d`` configs with constraint values (feasible or not).
        C: ``k x c`` constraint values, feasible when ``<= 0``.
        X_pending: ``p x d`` configs being evaluated right now.
        ref_point: ``m`` reference point (maximized), or ``None`` to infer it from ``Y``
            by ``moo.bo.reference_point`` (the rule of the reported hypervolume).
        warm_start: Hyperparameters of an earlier fit on this study (from its storage)
            to start the fit from, or ``None`` to start from the priors' defaults.
        deterministic: The learned objectives return the same value for the same config
            (closed-form functions, table lookups): their GP interpolates the data
            instead of learning a noise level.
    """

    X: Tensor
    Y: Tensor
    bounds: Tensor
    categorical_dims: dict[int, list[float]] = field(default_factory=dict)
    discrete_dims: dict[int, list[float]] = field(default_factory=dict)
    known: dict[int, KnownObjective] = field(default_factory=dict)
    X_constraints: Tensor | None = None
    C: Tensor | None = None
    X_pending: Tensor | None = None
    ref_point: Tensor | None = None
    warm_start: Hyperparameters | None = None
    deterministic: bool = False

    @property
    def num_objectives(self) -> int:
        return self.Y.shape[-1]
