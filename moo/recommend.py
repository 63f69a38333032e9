"""Which evaluated config, on which device, draws the least power at an inference rate.

A study ranks configs by energy per inference; a deployed model runs once every ``T``
seconds and idles in between, so what a battery sees is the average power over a period.
The answer flips with ``T`` (DESIGN.md, "Recommend"): a fast core with a high idle current
wins frequent inference, a slow one with a low idle current rare inference. This module
re-ranks every evaluated config (siblings included: each device of a trained model) at a
period, under floors on any metric (``accuracy >= 0.95``) and the study's objective
thresholds, and sweeps the period over a log grid to find where the winner changes.

The engine knows nothing about chips: the adapter's ``workload_metrics`` hook (see
``objectives.protocol``) turns a stored trial into ``avg_power_mW`` (and, with a battery,
``battery_life_h``) at a period, with constraints ``> 0`` where the config cannot keep up.
Crossover periods are refined by bisection on the log period to 0.01%.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from moo.config import StudyConfig
from moo.errors import ConfigError
from moo.keys import METRICS_KEY, SIBLING_KEY
from moo.pareto import Bound
from moo.protocol import Workload

__all__ = [
    "POWER",
    "SWEEP_S",
    "Crossover",
    "DutyCycleRanking",
    "Ranked",
    "Recommendation",
    "Segment",
    "format_period",
    "parse_bound_option",
    "parse_period",
    "recommend",
]

POWER = "avg_power_mW"
"""The metric ranked (lower is better); ``battery_life_h`` comes with it given a battery."""
BATTERY = "battery_life_h"
SWEEP_S = (1e-3, 3600.0)
"""The swept periods: 1 ms (a 1 kHz sensor) to 1 h (a daily-ish wake-up)."""
_PER_DECADE = 20
_BISECTIONS = 20  # 1.12x grid step / 2^20: the crossover to 1e-7 relative
_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0}
_PERIOD = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zµ]*)\s*$")


def parse_period(text: str) -> float:
    """``"100ms"``, ``"2s"``, ``"5min"``, ``"1h"`` (or plain seconds) -> seconds.

    Raises:
        ConfigError: Not a positive number with a known unit.
    """
    match = _PERIOD.match(text)
    unit = match.group(2) if match else ""
    if match is None or unit not in {"", *_UNITS}:
        raise ConfigError(
            f"--period {text!r}: expected a number and a unit of "
            f"{', '.join(sorted(set(_UNITS) - {'µs', 'sec'}))}, e.g. 100ms, 2s, 5min, 1h."
        )
    seconds = float(match.group(1)) * _UNITS.get(unit, 1.0)
    if not seconds > 0:
        raise ConfigError(f"--period {text!r}: the period must be longer than 0.")
    return seconds


def format_period(seconds: float) -> str:
    """Seconds in the unit people use for them: ``250 ms``, ``1.1 s``, ``5 min``, ``2 h``."""
    for unit, scale in (("h", 3600.0), ("min", 60.0), ("s", 1.0), ("ms", 1e-3)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e6:.3g} µs"


def parse_bound_option(text: str, op: str, option: str) -> Bound:
    """``--min accuracy=0.95`` -> ``Bound("accuracy", ">=", 0.95)``."""
    name, _, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not name.strip() or not math.isfinite(number):
        raise ConfigError(f"{option} {text!r}: expected METRIC=NUMBER, e.g. accuracy=0.95.")
    return Bound(name.strip(), op, number)


@dataclass(frozen=True)
class Candidate:
    """An evaluated config as stored: its trial, device, params and metrics."""

    trial: int
    device: str
    params: Mapping[str, Any]
    metrics: Mapping[str, float]
    constraints: Mapping[str, float]
    sibling_of: int | None


@dataclass(frozen=True)
class Ranked:
    """A candidate with its duty-cycle metrics at one period."""

    candidate: Candidate
    duty: Mapping[str, float]

    @property
    def power_mW(self) -> float:
        return float(self.duty[POWER])

    def record(self) -> dict[str, Any]:
        """JSON-ready: trial, device, metrics (duty cycle at this period last), config."""
        c = self.candidate
        return {
            "trial": c.trial,
            "device": c.device,
            "sibling_of": c.sibling_of,
            **dict(c.metrics),
            **dict(self.duty),
            "config": dict(c.params),
        }


@dataclass(frozen=True)
class Segment:
    """A period range over which one config wins (``trial`` ``None``: nothing keeps up)."""

    from_period_s: float
    to_period_s: float
    trial: int | None
    device: str | None


@dataclass(frozen=True)
class Crossover:
    """Where the winning device changes as the period grows."""

    period_s: float
    before: Segment
    after: Segment

    def record(self) -> dict[str, Any]:
        return {
            "period_s": self.period_s,
            "from": self.before.device,
            "to": self.after.device,
            "from_trial": self.before.trial,
            "to_trial": self.after.trial,
        }


@dataclass
class Recommendation:
    """``moo recommend``'s answer: the ranking at one period and the period sweep."""

    study: str
    period_s: float
    workload: Workload
    floors: list[str]
    ranking: list[Ranked]
    segments: list[Segment]
    crossovers: list[Crossover]
    grid_s: np.ndarray = field(repr=False)
    curves: dict[str, np.ndarray] = field(repr=False)
    """Per device, the least average power of its eligible configs at each grid period
    (NaN where none keeps up): the lower envelope plotted against the period."""

    @property
    def winner(self) -> Ranked | None:
        return self.ranking[0] if self.ranking else None

    def per_device(self, n: int = 2) -> dict[str, list[Ranked]]:
        """The ``n`` best configs of each device, devices in order of their best."""
        groups: dict[str, list[Ranked]] = {}
        for ranked in self.ranking:
            group = groups.setdefault(ranked.candidate.device, [])
            if len(group) < n:
                group.append(ranked)
        return groups

    def to_json(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "period_s": self.period_s,
            "battery_mAh": self.workload.battery_mAh,
            "voltage": self.workload.voltage,
            "floors": self.floors,
            "winner": None if self.winner is None else self.winner.record(),
            "devices": {
                device: [r.record() for r in ranked] for device, ranked in self.per_device().items()
            },
            "crossovers": [c.record() for c in self.crossovers],
            "sweep": [
                {
                    "from_period_s": s.from_period_s,
                    "to_period_s": s.to_period_s,
                    "trial": s.trial,
                    "device": s.device,
                }
                for s in self.segments
            ],
        }


class DutyCycleRanking:
    """Ranks a study's evaluated configs by average power at any period.

    Args:
        study: The study.
        config: Its config (objective thresholds apply as floors).
        adapter: An adapter with ``workload_metrics`` (built from the stored options).
        battery_mAh: Battery for ``battery_life_h``; ``None``: no battery life.
        voltage: Battery voltage.
        floors: Bounds on stored metrics a config must meet (``accuracy >= 0.95``).

    Raises:
        ConfigError: The adapter has no ``workload_metrics``, or a floor names a metric
            the trials do not have.
    """

    def __init__(
        self,
        study: optuna.Study,
        config: StudyConfig,
        adapter: Any,
        *,
        battery_mAh: float | None = None,
        voltage: float = 3.3,
        floors: Sequence[Bound] = (),
    ) -> None:
        hook = getattr(adapter, "workload_metrics", None)
        if hook is None:
            raise ConfigError(
                f"study {study.study_name!r}: its adapter {config.objective.adapter} has no "
                "workload_metrics, so it cannot say how much power a config draws at a period."
            )
        self._hook = hook
        self.workload = Workload((1.0,), battery_mAh, voltage)
        self.floors = list(floors)
        self.candidates = self._candidates(study, config)

    def _candidates(self, study: optuna.Study, config: StudyConfig) -> list[Candidate]:
        candidates, known = [], set()
        for t in study.get_trials(deepcopy=False):
            if t.state != TrialState.COMPLETE or t.values is None:
                continue
            values = dict(zip(config.objective_names, t.values, strict=True))
            metrics = {**t.user_attrs.get(METRICS_KEY, {}), **values}
            known |= set(metrics)
            if not config.meets_thresholds(t.values):
                continue
            if not all(b.metric in metrics and b.holds(metrics[b.metric]) for b in self.floors):
                continue
            candidates.append(
                Candidate(
                    trial=t.number,
                    device=_device_label(t.params),
                    params=dict(t.params),
                    metrics=metrics,
                    constraints=dict(t.constraints),
                    sibling_of=t.user_attrs.get(SIBLING_KEY),
                )
            )
        unknown = sorted({b.metric for b in self.floors} - known)
        if unknown and known:
            raise ConfigError(
                f"floor on unknown metric {unknown[0]!r}; the trials have {sorted(known)}."
            )
        return candidates

    def rank(self, period_s: float) -> list[Ranked]:
        """The configs that keep up with ``period_s`` and meet every other constraint
        (memory, outcome constraints), by average power, lowest first."""
        workload = self.workload.at(period_s)
        ranked = []
        for c in self.candidates:
            result = self._hook(c.params, c.metrics, workload)
            # The hook's constraints (period excess) replace those stored for the
            # study's own workload; the others (memory, outcome floors) still hold.
            constraints = {**c.constraints, **result.constraints}
            if all(v <= 0 for v in constraints.values()) and math.isfinite(result.metrics[POWER]):
                ranked.append(Ranked(c, dict(result.metrics)))
        return sorted(ranked, key=lambda r: (r.power_mW, r.candidate.trial))

    def _winner(self, period_s: float) -> Ranked | None:
        ranking = self.rank(period_s)
        return ranking[0] if ranking else None

    def sweep(
        self, lo: float = SWEEP_S[0], hi: float = SWEEP_S[1]
    ) -> tuple[np.ndarray, dict[str, np.ndarray], list[Segment]]:
        """Grid, per-device least power on it, and the winner's segments over ``[lo, hi]``."""
        n = round(_PER_DECADE * math.log10(hi / lo)) + 1
        grid = np.geomspace(lo, hi, n)
        devices = sorted({c.device for c in self.candidates})
        curves = {d: np.full(n, np.nan) for d in devices}
        winners: list[Ranked | None] = []
        for i, period in enumerate(grid):
            ranking = self.rank(float(period))
            for r in reversed(ranking):  # the first (least power) of each device wins
                curves[r.candidate.device][i] = r.power_mW
            winners.append(ranking[0] if ranking else None)
        boundaries: list[tuple[float, Ranked | None]] = [(float(grid[0]), winners[0])]
        for i in range(1, n):
            if _key(winners[i]) != _key(winners[i - 1]):
                boundaries += self._boundaries(float(grid[i - 1]), float(grid[i]), winners[i])
        segments = [
            Segment(
                start,
                boundaries[k + 1][0] if k + 1 < len(boundaries) else float(grid[-1]),
                None if w is None else w.candidate.trial,
                None if w is None else w.candidate.device,
            )
            for k, (start, w) in enumerate(boundaries)
        ]
        return grid, curves, segments

    def _boundaries(
        self, lo: float, hi: float, last: Ranked | None
    ) -> list[tuple[float, Ranked | None]]:
        """Every winner change in ``(lo, hi]``, found by bisection on the log period."""
        found: list[tuple[float, Ranked | None]] = []
        current = self._winner(lo)
        for _ in range(8):  # a grid step holds at most a few changes
            if _key(current) == _key(last):
                break
            a, b = lo, hi
            for _ in range(_BISECTIONS):
                mid = math.sqrt(a * b)
                if _key(self._winner(mid)) == _key(current):
                    a = mid
                else:
                    b = mid
            current = self._winner(b)
            found.append((b, current))
            lo = b
        return found


def _device_label(params: Mapping[str, Any]) -> str:
    """``cortex_m7``, or ``cortex_m7/plumerai`` where the study searches the runtime: a
    core under another runtime is another deployment, with its own curve."""
    device = str(params.get("device", "-"))
    return f"{device}/{params['runtime']}" if "runtime" in params else device


def _key(ranked: Ranked | None) -> int | None:
    return None if ranked is None else ranked.candidate.trial


def crossovers(segments: Sequence[Segment]) -> list[Crossover]:
    """Segment boundaries where the winning device changes (and something wins both)."""
    return [
        Crossover(after.from_period_s, before, after)
        for before, after in itertools.pairwise(segments)
        if before.device != after.device and before.device and after.device
    ]


def recommend(
    study: optuna.Study,
    config: StudyConfig,
    adapter: Any,
    *,
    period_s: float,
    battery_mAh: float | None = None,
    voltage: float = 3.3,
    floors: Sequence[Bound] = (),
) -> Recommendation:
    """Rank at ``period_s`` and sweep ``SWEEP_S``; see the module docstring."""
    ranking = DutyCycleRanking(
        study, config, adapter, battery_mAh=battery_mAh, voltage=voltage, floors=floors
    )
    grid, curves, segments = ranking.sweep(min(SWEEP_S[0], period_s), max(SWEEP_S[1], period_s))
    thresholds = [
        f"{o.name}{'>' if o.direction == 'maximize' else '<'}{o.threshold:g}"
        for o in config.objectives
        if o.threshold is not None
    ]
    return Recommendation(
        study=study.study_name,
        period_s=period_s,
        workload=ranking.workload.at(period_s),
        floors=[b.name for b in floors] + thresholds,
        ranking=ranking.rank(period_s),
        segments=segments,
        crossovers=crossovers(segments),
        grid_s=grid,
        curves=curves,
    )
