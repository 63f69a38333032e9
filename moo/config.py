"""Study YAML -> validated objects.

Every mistake in a study file is reported as one line per problem that names the file, the
key path and the reason (``quickstart.yaml: stop.window: Input should be greater than
0``), before anything is trained. The validated config is stored in the study itself
(``moo:config``, with the search space inlined), which is what lets ``moo resume`` work
from the storage alone.
"""

from __future__ import annotations

import importlib
import inspect
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from moo.adapters import require_allowed
from moo.bo.settings import ProposalSettings
from moo.errors import ConfigError, one_line
from moo.pareto import Bound, parse_bound
from moo.protocol import Workload
from moo.space import SearchSpace, format_validation_error, read_yaml

__all__ = [
    "HEARTBEAT_INTERVAL_S",
    "MAX_RETRY",
    "STUDY_NAME",
    "ExecutionSection",
    "ObjectiveSpec",
    "Override",
    "SamplerSection",
    "StopSection",
    "StudyConfig",
    "WorkloadSection",
    "apply_overrides",
    "load_adapter",
    "load_study_config",
]

STUDY_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
"""What a study name may be: it becomes a file name (``studies/<name>.db``)."""


HEARTBEAT_INTERVAL_S = 10
"""Seconds between the heartbeats of a running trial. A trial whose process died is failed
(and re-queued) once its heartbeat is two intervals old: seconds lost per crash, against a
storage write per running trial every interval."""
MAX_RETRY = 1
"""Re-evaluations of a config whose process died while evaluating it: one retry survives a
killed worker, and a config that kills its process every time (out of memory) stops."""


class _Section(BaseModel):
    # Assignments are validated too: an invalid value never reaches the storage.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StudySection(_Section):
    name: str = Field(pattern=STUDY_NAME)
    seed: int = 0
    storage: str | None = None
    """SQLAlchemy URL; default ``sqlite:///studies/<name>.db`` (relative to the cwd)."""


class AdapterSection(_Section):
    adapter: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    options: dict[str, Any] = Field(default_factory=dict)


class ObjectiveSpec(_Section):
    name: str
    direction: Literal["minimize", "maximize"]
    scale: Literal["linear", "log"] = "linear"
    """``log``: hypervolume, acquisition and stop rule see ``log10`` of the value. For
    positive objectives spanning decades (energy, latency across an MCU and an NPU): on a
    linear scale the largest values fill the hypervolume and every gain near the front
    looks like nothing. Pareto dominance is the same on both scales."""
    threshold: float | None = Field(default=None, allow_inf_nan=False)
    """The worst value still worth having (Ax's objective threshold): accuracy 0.9. It is
    this objective's hypervolume reference, so the acquisition, the hypervolume and the
    stop rule ignore everything not better than it, and the front lists only configs
    beyond it. A trial short of it is still kept and still teaches the model."""

    @model_validator(mode="after")
    def _positive_log_threshold(self) -> ObjectiveSpec:
        if self.scale == "log" and self.threshold is not None and self.threshold <= 0:
            raise ValueError(
                f"threshold of a log-scale objective must be > 0, got {self.threshold}"
            )
        return self

    def meets_threshold(self, value: float) -> bool:
        """True without a threshold, else whether ``value`` is strictly better than it."""
        if self.threshold is None:
            return True
        return value > self.threshold if self.direction == "maximize" else value < self.threshold


class SamplerSection(_Section):
    name: Literal["moo", "tpe", "nsga2", "random", "gp"] = "moo"
    """``moo`` is QNEHVISampler; the others are Optuna's, for comparison runs."""
    acquisition: Literal["qlognehvi", "qnehvi", "qlognparego"] = "qlognehvi"
    n_initial: int | None = Field(default=None, ge=1)
    reference_point: dict[str, float] | None = None
    known_objectives: bool = True
    """Model the objectives the adapter knows exactly (``known_metrics``) without a GP."""
    deterministic: bool = False
    """The objectives repeat exactly for a config (functions, lookups): interpolate them."""
    num_restarts: int | None = Field(default=None, ge=1)
    """Shorthand for ``proposal: {num_restarts: ...}``."""
    raw_samples: int | None = Field(default=None, ge=1)
    """Shorthand for ``proposal: {raw_samples: ...}``."""
    proposal: dict[str, Any] = Field(default_factory=dict)
    """Heuristics of each proposal by name (``moo.bo.ProposalSettings``): screen size,
    warm-start threshold, the NEHVI-to-EHVI switch, ...; unnamed ones keep moo's defaults."""

    @field_validator("proposal")
    @classmethod
    def _known_settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        allowed = set(ProposalSettings.__dataclass_fields__)
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise ValueError(f"unknown setting {unknown[0]!r}; expected one of {sorted(allowed)}")
        try:
            ProposalSettings(**value)  # values out of range raise here, named
        except TypeError as e:
            raise ValueError(str(e)) from e
        return value

    def settings(self) -> ProposalSettings:
        """The proposal's ``ProposalSettings``: ``proposal`` plus the shorthands."""
        shorthand = {"num_restarts": self.num_restarts, "raw_samples": self.raw_samples}
        given = {k: v for k, v in shorthand.items() if v is not None}
        return ProposalSettings(**{**self.proposal, **given})


class StopSection(_Section):
    max_trials: int = Field(default=100, ge=1)
    """Proposed trials (siblings added for free do not count)."""
    max_time: float | None = Field(default=None, gt=0)
    """Seconds of wall-clock time for one ``moo run`` / ``moo resume``."""
    rule: Literal["hv_stall", "budget"] = "hv_stall"
    window: int = Field(default=15, ge=1)
    tol: float = Field(default=5e-3, ge=0)
    """Stop when the hypervolume gained over ``window`` trials is below ``tol`` x HV.

    Replayed on the sampler suite's runs (``sampler_summary.md``): the former window 10,
    tol 0.001 stopped NAS-Bench-201 (Pixel 3) at trial 44 of 100 with 97.7% of the final
    hypervolume. Window 15, tol 0.005 keeps on average at least 99% on 7 of the 9
    problems, 98.8% on that one, and 89.5% on DTLZ2 (whose inferred reference hides gains
    inside the true box), and still stops near half the budget where the front has
    settled (NAS-Bench-201: trials 48-63 of 100; ZDT1: 44 of 60). A longer window
    alone stopped later for the same share."""
    min_trials: int | None = Field(default=None, ge=1)
    """No convergence stop before this many trials; default: initial design + 2 windows."""


class ExecutionSection(_Section):
    executor: Literal["local", "process", "dask"] = "local"
    n_workers: int = Field(default=1, ge=1)
    trial_timeout: float | None = Field(default=None, gt=0)
    """Seconds before an evaluation is abandoned and its trial failed (process/dask)."""
    heartbeat_interval: int = Field(default=HEARTBEAT_INTERVAL_S, ge=1)
    grace_period: int | None = Field(default=None, ge=1)
    max_retry: int = Field(default=MAX_RETRY, ge=0)
    """Re-queue a crashed trial's config this many times."""
    scheduler_address: str | None = None
    """Dask scheduler to connect to; default: a ``LocalCluster`` with ``n_workers``."""


_Period = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class WorkloadSection(_Section):
    """How the deployed model runs: ``{period_s: 2.0, battery_mAh: 220, voltage: 3.0}``.

    Passed to the adapter, which adds duty-cycle metrics (``avg_power_mW``,
    ``battery_life_h``) that a study can optimize; ``moo recommend`` and ``moo report``
    take their defaults from it.
    """

    period_s: list[_Period] = Field(min_length=1)
    """Seconds between inferences; a list reports the metrics at each period."""
    battery_mAh: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    voltage: float = Field(default=3.3, gt=0, allow_inf_nan=False)

    @field_validator("period_s", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return value if isinstance(value, list) else [value]

    @field_validator("period_s")
    @classmethod
    def _distinct_periods(cls, value: list[float]) -> list[float]:
        if len(set(value)) != len(value):
            raise ValueError(f"period_s must be distinct periods, got {value}")
        return value

    @property
    def periods(self) -> tuple[float, ...]:
        return tuple(self.period_s)

    def to_workload(self) -> Workload:
        return Workload(self.periods, self.battery_mAh, self.voltage)


class StudyConfig(_Section):
    """A study file, validated. ``space`` is always inlined after loading."""

    study: StudySection
    objective: AdapterSection
    objectives: list[ObjectiveSpec] = Field(min_length=2)
    space: dict[str, Any]
    sampler: SamplerSection = Field(default_factory=SamplerSection)
    stop: StopSection = Field(default_factory=StopSection)
    execution: ExecutionSection = Field(default_factory=ExecutionSection)
    workload: WorkloadSection | None = None
    constraints: list[str] = Field(default_factory=list)
    """Outcome constraints on any metric, ``["accuracy >= 0.9"]``: learned by a
    constraint model, and a trial missing one is infeasible (off the front, no HV)."""

    @field_validator("constraints")
    @classmethod
    def _readable_constraints(cls, value: list[str]) -> list[str]:
        for text in value:
            bound = parse_bound(text)
            if bound.op == "==":
                raise ValueError(f"{text!r}: an outcome constraint needs <, <=, > or >=")
        return value

    @field_validator("objectives")
    @classmethod
    def _unique_objectives(cls, value: list[ObjectiveSpec]) -> list[ObjectiveSpec]:
        names = [o.name for o in value]
        if len(set(names)) != len(names):
            raise ValueError(f"objective names must be unique, got {names}")
        return value

    @model_validator(mode="after")
    def _check_reference_point(self) -> StudyConfig:
        ref = self.sampler.reference_point
        if ref is not None and set(ref) != set(self.objective_names):
            raise ValueError(
                f"sampler.reference_point must name every objective {self.objective_names}, "
                f"got {sorted(ref)}"
            )
        both = [o.name for o in self.objectives if o.threshold is not None and ref is not None]
        if both:
            raise ValueError(
                f"objective thresholds ({', '.join(both)}) are reference-point entries: "
                "give them in sampler.reference_point or as thresholds, not both"
            )
        return self

    @property
    def objective_names(self) -> list[str]:
        return [o.name for o in self.objectives]

    @property
    def directions(self) -> list[Literal["minimize", "maximize"]]:
        return [o.direction for o in self.objectives]

    @property
    def log_objectives(self) -> list[int]:
        """Indices of the objectives on a log scale."""
        return [i for i, o in enumerate(self.objectives) if o.scale == "log"]

    @property
    def storage_url(self) -> str:
        return self.study.storage or default_storage(self.study.name)

    def search_space(self) -> SearchSpace:
        return SearchSpace.from_dict(self.space, source=self.study.name, key_prefix="space.")

    @property
    def outcome_constraints(self) -> list[Bound]:
        return [parse_bound(text) for text in self.constraints]

    def reference_point(self) -> list[float] | None:
        """The HV reference in study units: the YAML's, or the thresholds with NaN for
        the objectives whose reference is inferred; ``None`` when all are inferred."""
        ref = self.sampler.reference_point
        if ref is not None:
            return [ref[name] for name in self.objective_names]
        if all(o.threshold is None for o in self.objectives):
            return None
        return [math.nan if o.threshold is None else o.threshold for o in self.objectives]

    def meets_thresholds(self, values: list[float] | tuple[float, ...]) -> bool:
        """Whether objective ``values`` (study order) are beyond every threshold."""
        return all(o.meets_threshold(v) for o, v in zip(self.objectives, values, strict=True))

    def workload_spec(self) -> Workload | None:
        """The workload handed to the adapter, if the study states one."""
        return None if self.workload is None else self.workload.to_workload()


def default_storage(study_name: str) -> str:
    """The embedded default: one SQLite file per study under ``./studies``."""
    return f"sqlite:///studies/{study_name}.db"


def load_study_config(path: str | Path) -> StudyConfig:
    """Read and validate a study YAML; a ``space:`` path is resolved next to the file."""
    path = Path(path)
    data = read_yaml(path, what="study file")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with study, objective, objectives, space.")
    space = data.get("space")
    if isinstance(space, str):
        data["space"] = read_yaml((path.parent / space).resolve(), what=f"space of {path}")
    return validate_study_config(data, source=str(path))


def validate_study_config(data: Any, *, source: str) -> StudyConfig:
    try:
        config = StudyConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, source)) from e
    SearchSpace.from_dict(config.space, source=source, key_prefix="space.")
    return config


@dataclass(frozen=True)
class Override:
    """A command-line value that replaces one key of a study config.

    Attributes:
        key: Dotted path in the study config, ``section.field`` (``stop.max_trials``).
        value: The new value, as typed.
        option: The option it came from (``--max-trials``), to name it in errors.
    """

    key: str
    value: Any
    option: str


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[Override]) -> dict[str, Any]:
    """``data`` (a study config as stored or read) with ``overrides`` applied.

    Each value is validated on its own first, so a bad one is reported as the option the
    user typed (``--max-trials -5: stop.max_trials: Input should be greater than or equal
    to 1``) and never reaches the storage. ``data`` itself is not validated here: a stored
    config that an override repairs must still load.
    """
    result = dict(data)
    for override in overrides:
        section, field = override.key.split(".")
        model = StudyConfig.model_fields[section].annotation
        assert isinstance(model, type) and issubclass(model, _Section), override.key
        try:
            setattr(model.model_construct(), field, override.value)  # validate_assignment
        except ValidationError as e:
            source = f"{override.option} {override.value}"
            raise ConfigError(format_validation_error(e, source, f"{section}.")) from e
        stored = result.get(section)
        result[section] = {**(stored if isinstance(stored, dict) else {}), field: override.value}
    return result


def _adapter_class(section: AdapterSection, *, source: str | None = None) -> type:
    """Import ``module:Class`` (for hooks that need no constructed adapter).

    The module must be on the allow-list (``moo.adapters``): it is checked before the
    import, which is where a module's code runs.
    """
    where = _where(source)
    module_name, class_name = section.adapter.split(":")
    require_allowed(section.adapter, where=f"{where}.adapter")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"{where}.adapter: cannot import module {module_name!r} ({e}).") from e
    except Exception as e:
        raise ConfigError(
            f"{where}.adapter: importing {module_name!r} failed ({one_line(e)})."
        ) from e
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise ConfigError(f"{where}.adapter: module {module_name!r} has no {class_name!r}.")
    return cls


def load_adapter(
    section: AdapterSection, workload: Workload | None = None, *, source: str | None = None
) -> Any:
    """Import ``module:Class`` and construct it with the YAML options (and the workload).

    Every failure is one ``ConfigError`` line that starts with ``source`` (the file or the
    study) and the key.
    """
    where = _where(source)
    cls = _adapter_class(section, source=source)
    options = dict(section.options)
    if workload is not None:
        parameters = inspect.signature(cls).parameters.values()
        if not any(p.name == "workload" or p.kind == p.VAR_KEYWORD for p in parameters):
            raise ConfigError(
                f"{f'{source}: ' if source else ''}workload: the adapter {section.adapter} "
                "takes no workload, so it has no duty-cycle metrics; remove the section or use "
                "an adapter that costs devices."
            )
        options["workload"] = workload
    try:
        adapter = cls(**options)
    except TypeError as e:
        raise ConfigError(f"{where}.options: {_clean_type_error(e)}") from e
    except (ValueError, OSError) as e:  # a bad option; a data folder that is not there
        raise ConfigError(f"{where}.options: {str(e).strip().splitlines()[0]}") from e
    except Exception as e:
        raise ConfigError(
            f"{where}.adapter: {section.adapter}(**options) failed ({one_line(e)})."
        ) from e
    if not callable(getattr(adapter, "evaluate", None)):
        raise ConfigError(f"{where}.adapter: {section.adapter} has no evaluate(config, context).")
    return adapter


def _where(source: str | None) -> str:
    return f"{source}: objective" if source else "objective"


def _clean_type_error(error: TypeError) -> str:
    return re.sub(r"^\w+\.__init__\(\) ", "", str(error))
