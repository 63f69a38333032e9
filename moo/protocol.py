"""The contract between the moo engine and an objective adapter.

It belongs to the engine (the engine defines what it asks of an adapter, as Optuna's
``BaseSampler`` does of a sampler); ``objectives.protocol`` re-exports it for the adapters
that import it from there. It imports nothing beyond the standard library, so an adapter
package that depends on it pulls in no part of the engine.

The engine knows nothing about neural networks or chips: it hands an adapter a config
(parameter name -> value, exactly as the search space defines it) and gets named metrics
back. Everything an adapter needs beyond the config (task, devices, epochs) comes from the
``objective.options`` block of the study YAML, passed to the adapter's constructor.

An adapter is any class with an ``evaluate`` method; optional hooks let it do better:

- ``check(config)`` returns constraint values computed *without* training (flash and SRAM
  excess from the architecture alone). A positive value means infeasible: the engine
  records the trial as infeasible and never calls ``evaluate``.
- ``known_metrics(config)`` returns the metrics that are exact, cheap functions of the
  config (latency and energy from a hardware model, a table lookup). The sampler uses them
  as deterministic models instead of learning them with a GP.
- ``check_space(space)`` gets every parameter's ``Domain`` when the study file is read and
  returns, by parameter name, the values the adapter can never accept (``bits: 1`` for a
  quantizer that knows 2..32), the parameters it needs but the space lacks, and those it
  does not read. The engine refuses the study with one line per problem before any trial
  runs, instead of failing trial after trial. An adapter that leaves the hook out gets
  its refusals one failed trial at a time.

A study that states a ``workload:`` (how often inference runs, from what battery) passes
it to the adapter's constructor as ``workload=Workload(...)``; an adapter that accepts it
adds duty-cycle metrics (``avg_power_mW``, ``battery_life_h``) to its results. To let
``moo recommend`` and ``moo report`` re-rank stored trials at any other period, such an
adapter also has a hook that needs no data and no model (the engine calls it on an
adapter constructed from the stored options, so constructors should load nothing):

- ``workload_metrics(config, metrics, workload) -> TrialResult``: the duty-cycle metrics
  of a config whose per-inference metrics (``metrics``, as stored) are known, with
  constraints ``> 0`` where the config cannot serve that workload (an inference longer
  than the period).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

__all__ = [
    "Adapter",
    "AdapterError",
    "Config",
    "Domain",
    "EvalContext",
    "Sibling",
    "TrialResult",
    "Workload",
    "space_problems",
]

Config = Mapping[str, Any]
"""A config: parameter name -> value, exactly as the search space defines it."""
#: Rejected values a ``space_problems`` message lists before it counts the rest.
_SHOWN = 3


class AdapterError(Exception):
    """Base of the errors an adapter raises on purpose about its input (an unknown device,
    an invalid option): their messages are written for the user, so the command line shows
    one line, not a traceback, without knowing the adapter's package."""


@dataclass(frozen=True)
class Domain:
    """Every value one search-space parameter can produce, as ``check_space`` sees it.

    Attributes:
        values: Every value, in order, when there are few enough to list (ordinal and
            categorical parameters, integers and stepped floats up to ``MAX_LISTED``
            values); ``None`` for a continuous range.
        low: Smallest value of a numeric parameter (``None`` for a categorical one).
        high: Largest value of a numeric parameter.
    """

    values: tuple[Any, ...] | None
    low: float | None = None
    high: float | None = None

    MAX_LISTED: ClassVar[int] = 1024

    def probes(self) -> tuple[Any, ...]:
        """Values to try an adapter's own validation on: every listed value, else the two
        bounds (enough for a rule that accepts an interval, which is what ranges are)."""
        return self.values if self.values is not None else (self.low, self.high)


@dataclass(frozen=True)
class EvalContext:
    """What the engine tells an adapter about the trial it evaluates.

    Attributes:
        seed: Seed for this evaluation, derived from the study seed; the same config and
            seed must give the same metrics on the same machine.
        workdir: A directory the adapter may use for caches and artifacts. It lives next
            to the study storage, so caches survive a resume.
        trial_number: The Optuna trial number, for naming files.
    """

    seed: int
    workdir: Path
    trial_number: int = 0


@dataclass(frozen=True)
class Workload:
    """How the deployed model is used: one inference every ``period_s``, on a battery.

    Attributes:
        periods_s: Inference periods in seconds; an adapter reports its duty-cycle metrics
            at each (the first unsuffixed, every one as ``<metric>@<period>s`` when there
            are several), so a study can trade frequent against rare inference.
        battery_mAh: Battery capacity; without it there is no battery life.
        voltage: Battery voltage.
    """

    periods_s: tuple[float, ...]
    battery_mAh: float | None = None
    voltage: float = 3.3

    def at(self, period_s: float) -> Workload:
        """The same battery at one other period (what ``moo recommend`` sweeps)."""
        return Workload((float(period_s),), self.battery_mAh, self.voltage)


@dataclass(frozen=True)
class Sibling:
    """A config evaluated for free alongside the proposed one.

    Training is device-independent, so an adapter that costs one trained model on every
    device of the study returns the other devices' results as siblings. The engine adds
    each as a completed trial (params = proposed config updated with ``overrides``).
    """

    overrides: Mapping[str, Any]
    metrics: Mapping[str, float]
    constraints: Mapping[str, float] = field(default_factory=dict)
    attrs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialResult:
    """The outcome of one evaluation.

    Attributes:
        metrics: Metric name -> value. Must contain every objective of the study; may
            contain more (all are stored as user attributes).
        constraints: Constraint name -> value, feasible when <= 0 (Optuna's convention).
        siblings: Other configs evaluated for free (see ``Sibling``).
        attrs: JSON-serializable extras stored on the trial (timings, versions, notes).
        artifacts: Name -> file to store in the study's artifact store (e.g. the ONNX model).
    """

    metrics: Mapping[str, float]
    constraints: Mapping[str, float] = field(default_factory=dict)
    siblings: tuple[Sibling, ...] = ()
    attrs: Mapping[str, Any] = field(default_factory=dict)
    artifacts: Mapping[str, Path] = field(default_factory=dict)


@runtime_checkable
class Adapter(Protocol):
    """An objective: config in, named metrics out. Constructed as ``cls(**options)``."""

    def evaluate(self, config: Config, context: EvalContext) -> TrialResult:
        """Evaluate one config. Raise to fail the trial; the study goes on."""
        ...


def space_problems(
    adapter: str,
    space: Mapping[str, Domain],
    *,
    reads: Collection[str],
    needs: Collection[str] = (),
    accept: Callable[[str, Any], object],
) -> dict[str, str]:
    """What most ``check_space`` hooks report, by parameter name.

    Args:
        adapter: The adapter's name, for the messages.
        space: The domains ``check_space`` was given.
        reads: Every parameter the adapter reads; others would change nothing.
        needs: The parameters every config must have.
        accept: ``accept(name, value)`` raises ``ValueError`` or ``TypeError`` (with the
            adapter's own message) for a value that no config can have; the adapter's
            own validation, so that the hook and ``evaluate`` never disagree.
    """
    problems = {name: f"missing; {adapter} needs it." for name in needs if name not in space}
    for name, domain in space.items():
        if name not in reads:
            problems[name] = (
                f"{adapter} does not read this parameter, so it would change nothing "
                f"(it reads {', '.join(reads)})."
            )
            continue
        rejected, reason = [], ""
        for value in domain.probes():
            try:
                accept(name, value)
            except (ValueError, TypeError) as e:
                rejected.append(value)
                reason = reason or str(e)
        if rejected:
            shown = ", ".join(map(repr, rejected[:_SHOWN]))
            if len(rejected) > _SHOWN:
                shown += f" and {len(rejected) - _SHOWN} more"
            problems[name] = f"{adapter} cannot evaluate {shown}: {reason}"
    return problems
