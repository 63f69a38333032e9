"""Adapters that misbehave on purpose, to test how the engine copes.

They wrap the real BraninCurrin function; only the failure is staged. Loaded by dotted
name from study YAMLs, like any user adapter (``tests.adapters:Flaky``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from objectives.protocol import EvalContext, Sibling, TrialResult
from objectives.synthetic import SyntheticProblem


class Flaky:
    """BraninCurrin that raises, returns NaN or hangs in chosen regions of ``x0``.

    Args:
        raise_below: ``x0`` below this raises ``RuntimeError``.
        nan_above: ``x0`` above this returns ``bad_value`` (NaN) for ``bad_objectives``.
        hang_between: ``(lo, hi)``: ``x0`` in it sleeps ``hang_s`` seconds.
        hang_s: How long a hang lasts.
    """

    def __init__(
        self,
        *,
        raise_below: float = -1.0,
        nan_above: float = 2.0,
        hang_between: tuple[float, float] = (2.0, 2.0),
        hang_s: float = 3600.0,
        bad_value: float = math.nan,
        bad_objectives: tuple[str, ...] = ("f0",),
    ) -> None:
        self._problem = SyntheticProblem(problem="branin_currin")
        self._raise_below, self._nan_above = raise_below, nan_above
        self._hang, self._hang_s = tuple(hang_between), hang_s
        self._bad_value, self._bad_objectives = bad_value, tuple(bad_objectives)

    def evaluate(self, config: Mapping[str, Any], context: EvalContext) -> TrialResult:
        x0 = float(config["x0"])
        if x0 < self._raise_below:
            raise RuntimeError(f"diverged at x0={x0:.3f}")
        if self._hang[0] <= x0 < self._hang[1]:
            time.sleep(self._hang_s)
        result = self._problem.evaluate(config, context)
        if x0 > self._nan_above:
            bad = dict.fromkeys(self._bad_objectives, self._bad_value)
            return TrialResult(metrics={**result.metrics, **bad})
        return result


SPEED = MappingProxyType({"slow": 2.0, "mid": 1.0, "fast": 0.5})
"""Latency factor of each staged device."""


class PerDevice:
    """BraninCurrin whose ``f0`` scales with a categorical ``device``, like a chip's latency.

    One evaluation costs the config on every device (as the TinyML adapters do), so the
    other devices come back as siblings. ``check`` declares ``x1 > limit`` infeasible before
    evaluation, like a model that does not fit in flash.
    """

    def __init__(self, *, limit: float = 2.0) -> None:
        self._problem = SyntheticProblem(problem="branin_currin")
        self._limit = limit
        self.evaluations = 0

    def _metrics(self, config: Mapping[str, Any], device: str, context: EvalContext) -> dict:
        base = self._problem.evaluate(config, context).metrics
        speed = SPEED[device]
        return {"f0": base["f0"] * speed, "f1": base["f1"], "speed": speed}

    def check(self, config: Mapping[str, Any]) -> dict[str, float]:
        return {"flash_excess": float(config["x1"]) - self._limit}

    def evaluate(self, config: Mapping[str, Any], context: EvalContext) -> TrialResult:
        self.evaluations += 1
        others = [d for d in SPEED if d != config["device"]]
        return TrialResult(
            metrics=self._metrics(config, config["device"], context),
            siblings=tuple(
                Sibling(overrides={"device": d}, metrics=self._metrics(config, d, context))
                for d in others
            ),
            attrs={"evaluation": self.evaluations},
        )


class MeasuredOnFast(PerDevice):
    """``PerDevice`` whose ``f0`` is known exactly except on ``fast``, which, like the
    ``host`` device, is measured: its ``known_metrics`` lacks ``f0``."""

    def known_metrics(self, config: Mapping[str, Any]) -> dict[str, float]:
        speed = SPEED[config["device"]]
        return {"speed": speed} if config["device"] == "fast" else {"f0": speed, "speed": speed}


class BrokenInit:
    """An adapter whose constructor fails, as one needing an unreachable licence server."""

    def __init__(self) -> None:
        raise RuntimeError("licence server unreachable")


class RefusingCheck:
    """BraninCurrin whose ``check`` raises for ``x0`` below ``refuse_below`` or returns NaN
    above ``nan_above``: an adapter that rejects some configs outright."""

    def __init__(self, *, refuse_below: float = 0.5, nan_above: float = 2.0) -> None:
        self._problem = SyntheticProblem(problem="branin_currin")
        self._refuse_below, self._nan_above = refuse_below, nan_above

    def check(self, config: Mapping[str, Any]) -> dict[str, float]:
        x0 = float(config["x0"])
        if x0 < self._refuse_below:
            raise ValueError(f"x0={x0:.3f} is below what this adapter accepts")
        return {"excess": math.nan if x0 > self._nan_above else -1.0}

    def evaluate(self, config: Mapping[str, Any], context: EvalContext) -> TrialResult:
        return self._problem.evaluate(config, context)


class Echo:
    """Objectives read straight off the config (``score = x0``, ``cost = x1``), so a test
    can stage any sequence of trials with ``enqueue_trial``."""

    def evaluate(self, config: Mapping[str, Any], context: EvalContext) -> TrialResult:
        return TrialResult(metrics={"score": float(config["x0"]), "cost": float(config["x1"])})


class Interrupting:
    """BraninCurrin whose ``after``-th evaluation is interrupted, as by Ctrl-C."""

    def __init__(self, *, after: int = 3) -> None:
        self._problem = SyntheticProblem(problem="branin_currin")
        self._after, self._calls = after, 0

    def evaluate(self, config: Mapping[str, Any], context: EvalContext) -> TrialResult:
        self._calls += 1
        if self._calls == self._after:
            raise KeyboardInterrupt
        return self._problem.evaluate(config, context)


class WithArtifact:
    """BraninCurrin that stores a small file per trial as the artifact ``model.onnx``."""

    def __init__(self) -> None:
        self._problem = SyntheticProblem(problem="branin_currin")

    def evaluate(self, config: Mapping[str, Any], context: EvalContext) -> TrialResult:
        path = Path(context.workdir) / f"model_{context.trial_number}.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"model of trial {context.trial_number}\n")
        result = self._problem.evaluate(config, context)
        return TrialResult(metrics=result.metrics, artifacts={"model.onnx": path})
