"""Objectives known exactly as functions of the config, as tensor functions.

The adapter's ``known_metrics`` (a hardware model, a table lookup) works on configs in
the study's units; the acquisition scores encoded points on the objectives' scales,
maximized. ``ExactObjective`` bridges the two, memoized per config for one proposal.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

import torch
from torch import Tensor

from moo.errors import one_line
from moo.space import SearchSpace, row_keys

__all__ = ["ExactObjective", "unusable_value", "warn_known_failures"]

_logger = logging.getLogger("moo.sampler")  # the proposal's one line, beside its others


def unusable_value(Y: Tensor, ref_point: Tensor | None, i: int) -> float:
    """A value of maximized objective ``i`` far below every observation and the reference
    point: what a config whose known metric cannot be computed scores, so that it adds no
    hypervolume and is chosen last. Finite, unlike ``-inf``, which turns the log-EHVI of
    a whole batch into NaN (and ``argmax`` picks NaN)."""
    low = float(Y[:, i].min()) if len(Y) else 0.0
    if ref_point is not None:
        low = min(low, float(ref_point[i]))
    span = float(Y[:, i].max() - Y[:, i].min()) if len(Y) else 0.0
    return low - 10.0 * max(span, 1.0)


class ExactObjective:
    """``f(config)`` as a tensor function on encoded points, memoized per config, on the
    objective's scale (``log10`` for a log objective) and maximized.

    A config whose value cannot be computed (``f`` raises, or returns a value that is
    not finite, or not positive on a log scale) scores ``unusable`` instead of ending the
    proposal: the adapter's hardware model may reject a config that the space allows.
    The failures are counted and reported in one line per proposal.
    """

    def __init__(
        self,
        space: SearchSpace,
        f: Callable[[dict[str, Any]], float],
        sign: float,
        *,
        log: bool,
        unusable: float,
    ) -> None:
        self._space, self._f, self._sign, self._log = space, f, sign, log
        self._unusable = unusable
        self._cache: dict[tuple[float, ...], float] = {}
        self._failures: dict[tuple[float, ...], str] = {}

    def __call__(self, X: Tensor) -> Tensor:
        X = X.detach()
        keys = row_keys(X)
        missing = [i for i, key in enumerate(keys) if key not in self._cache]
        if missing:
            configs = self._space.decode(X[missing])
            for i, config in zip(missing, configs, strict=True):
                self._cache[keys[i]] = self._value(keys[i], config)
        return torch.tensor([self._cache[key] for key in keys], dtype=X.dtype)

    def _value(self, key: tuple[float, ...], config: dict[str, Any]) -> float:
        try:
            value = float(self._f(config))
            if not math.isfinite(value) or (self._log and value <= 0):
                raise ValueError(f"known metric is {value:g}")
        except Exception as e:
            self._failures[key] = f"{config}: {one_line(e)}"
            return self._unusable
        return self._sign * (math.log10(value) if self._log else value)

    @property
    def failures(self) -> Mapping[tuple[float, ...], str]:
        """Configs (encoded) whose value could not be computed, with why."""
        return MappingProxyType(self._failures)

    @property
    def log(self) -> bool:
        """Whether the values are ``log10`` of the metric (the objective's scale is log)."""
        return self._log

    @property
    def n_scored(self) -> int:
        return len(self._cache)


def warn_known_failures(number: int, objectives: Iterable[ExactObjective]) -> None:
    """One line for a proposal whose known metrics failed on some configs."""
    failures: dict[tuple[float, ...], str] = {}
    n_scored = 0
    for objective in objectives:
        failures.update(objective.failures)
        n_scored = max(n_scored, objective.n_scored)
    if failures:
        _logger.warning(
            "trial %d: known metrics failed on %d of %d configs scored, taken as unusable "
            "(first %s)",
            number,
            len(failures),
            n_scored,
            next(iter(failures.values())),
        )
