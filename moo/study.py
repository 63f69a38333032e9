"""Create, run and resume a study on Optuna storage.

Optuna's storage is the single source of truth: the validated YAML, the seed, the frozen
hypervolume reference and every trial live in it, so ``moo resume`` needs nothing but the
storage URL and a study killed mid-trial loses only that trial (its heartbeat goes stale,
Optuna fails it and ``RetryFailedTrialCallback`` re-queues its config).

One trial, as the engine runs it:

1. the sampler proposes a config; the adapter's ``check`` may declare it infeasible from
   the architecture alone, and then it is recorded as PRUNED with its constraint values
   and never evaluated;
2. the evaluator (in process, or in a child process with a timeout) returns metrics;
   a raise, a hang or a NaN objective fails the trial with one line naming the trial, the
   config and the cause, and the study goes on;
3. metrics, constraints, artifacts and the hypervolume so far are stored on the trial, and
   the configs evaluated for free (siblings) are added as completed trials;
4. the stop rule looks at the history and may stop the study, recording why.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.artifacts import FileSystemArtifactStore, upload_artifact
from optuna.exceptions import ExperimentalWarning
from optuna.samplers import BaseSampler, GPSampler, NSGAIISampler, RandomSampler, TPESampler
from optuna.storages import RDBStorage, fail_stale_trials
from optuna.trial import FrozenTrial, create_trial
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from moo.adapters import check_space
from moo.config import (
    HEARTBEAT_INTERVAL_S,
    MAX_RETRY,
    STUDY_NAME,
    Override,
    StudyConfig,
    apply_overrides,
    default_storage,
    load_adapter,
    validate_study_config,
)
from moo.convergence import (
    AnyOf,
    HypervolumeStall,
    MaxTime,
    MaxTrials,
    StopRule,
    default_min_trials,
)
from moo.errors import ConfigError, EvaluationError, StudyNotFoundError, one_line
from moo.executors import Evaluator, make_evaluator
from moo.history import RunStatus, StudyHistory, n_initial
from moo.keys import (
    ARTIFACTS_KEY,
    CONFIG_KEY,
    ERROR_KEY,
    HV_KEY,
    INFEASIBLE_KEY,
    METRICS_KEY,
    REFERENCE_KEY,
    SIBLING_KEY,
    STOP_REASON_KEY,
)
from moo.liveness import recorded_run
from moo.protocol import EvalContext, Sibling, TrialResult
from moo.requeue import HeartbeatStorage, RequeueStaleTrial
from moo.space import CategoricalParam, SearchSpace, row_key
from moo.storage_errors import parse_storage_url, redact, sqlite_path, storage_errors

if TYPE_CHECKING:
    from moo.sampler import QNEHVISampler

__all__ = [
    "CONFIG_KEY",
    "METRICS_KEY",
    "RunStatus",
    "StudyRun",
    "build_adapter",
    "create_study",
    "load_study",
    "open_storage",
    "study_config",
    "workdir_for",
]

_logger = logging.getLogger("moo")


# ---------------------------------------------------------------------- storage and study
_SCHEMA_RACE_ATTEMPTS = 5
"""Opens of a new database that may lose the race to create its tables (see below)."""
_SCHEMA_RACE_MARKERS = ("already exists", "UNIQUE constraint failed", "duplicate key")
"""How SQLite and PostgreSQL say that another process created a table or row first."""


def open_storage(
    url: str,
    *,
    heartbeat_interval: int = HEARTBEAT_INTERVAL_S,
    grace_period: int | None = None,
    max_retry: int = MAX_RETRY,
    checked: bool = False,
) -> RDBStorage:
    """An RDB storage with heartbeats, so that crashed trials are failed and re-queued.

    Args:
        checked: This process opened ``url`` already, so its tables exist and their schema
            version was checked: skip both (Optuna reads its migration scripts for the
            check, a third of a second that every ``moo status`` would pay twice).

    Raises:
        StorageError: One line naming the storage (password masked) and the cause: not a
            URL, no driver, a folder that cannot be made, a database that cannot be read.
    """
    parsed = parse_storage_url(url)
    engine_kwargs: dict[str, Any] = {}
    if parsed.drivername.startswith("sqlite"):
        # Several workers share one file: wait for the lock instead of failing at once.
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        engine_kwargs["pool_pre_ping"] = True
    with storage_errors(url, opening=True), warnings.catch_warnings():
        database = sqlite_path(url)
        if database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
        warnings.simplefilter("ignore", ExperimentalWarning)  # heartbeats: stable since 2.8
        for attempt in range(_SCHEMA_RACE_ATTEMPTS):
            try:
                return HeartbeatStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=RequeueStaleTrial(max_retry=max_retry),
                    skip_compatibility_check=checked,
                    skip_table_creation=checked,
                )
            except DBAPIError as error:
                # SQLAlchemy checks for each table, then creates it, and Optuna then inserts
                # the schema version: two processes opening a new database together (two
                # workers, a run and a `moo status`) both see them missing and the slower one
                # fails. The tables exist now; open again.
                lost_race = any(marker in str(error) for marker in _SCHEMA_RACE_MARKERS)
                if not lost_race or attempt == _SCHEMA_RACE_ATTEMPTS - 1:
                    raise
                time.sleep(0.05 * 2**attempt)  # let the winner commit what it created
    raise AssertionError("unreachable: the last attempt returns or raises")


def _storage_for(config: StudyConfig, url: str | None, *, checked: bool = False) -> RDBStorage:
    execution = config.execution
    return open_storage(
        url or config.storage_url,
        heartbeat_interval=execution.heartbeat_interval,
        grace_period=execution.grace_period,
        max_retry=execution.max_retry,
        checked=checked,
    )


def create_study(config: StudyConfig, *, storage: str | None = None) -> optuna.Study:
    """A new study holding ``config``; an existing study of that name is an error."""
    rdb = _storage_for(config, storage)
    name = config.study.name
    with storage_errors(rdb.url):
        if name in _study_names(rdb):
            raise ConfigError(
                f"study {name!r} already exists in {redact(rdb.url)}; continue it with "
                f"`moo resume {name}` or pick another study.name."
            )
        study = optuna.create_study(study_name=name, storage=rdb, directions=config.directions)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            study.set_metric_names(config.objective_names)
        study.set_user_attr(CONFIG_KEY, config.model_dump(mode="json"))
        reference = config.reference_point()
        if reference is not None and all(math.isfinite(v) for v in reference):
            study.set_user_attr(REFERENCE_KEY, reference)  # else completed when the design is in
        if config.sampler.name != "moo":
            # moo's sampler draws this design itself; a peer evaluates the same configs
            # first, so a comparison through the CLI starts from the same points, as in
            # the sampler suite.
            for params in config.search_space().sobol(n_initial(config), config.study.seed):
                study.enqueue_trial(params)
    return study


def load_study(
    name: str, *, storage: str | None = None, overrides: Sequence[Override] = ()
) -> tuple[optuna.Study, StudyConfig]:
    """Open a study created by moo; its config comes from the storage, not from a file.

    ``overrides`` (``moo resume --max-trials``) are validated, applied and stored. They are
    applied before the stored config is validated, so an invalid stored config (written
    by an older moo, or by hand) is repaired by the resume that sets a valid value.
    """
    if not re.fullmatch(STUDY_NAME, name):  # it becomes part of file paths
        raise StudyNotFoundError(
            f"no study {name!r}: a study name is letters, digits and _ . - "
            "(starting with a letter or digit)."
        )
    url = storage or default_storage(name)
    database = sqlite_path(url)
    if database is not None and not database.exists():
        raise StudyNotFoundError(
            f"no study {name!r}: {database} does not exist; pass --storage if it lives elsewhere."
        )
    probe = open_storage(url)  # the study's own heartbeat settings are in the study
    with storage_errors(url):
        try:
            if name not in _study_names(probe):
                known = ", ".join(sorted(_study_names(probe))) or "none"
                raise StudyNotFoundError(
                    f"no study {name!r} in {redact(url)} (studies there: {known}); "
                    "pass --storage if it lives elsewhere."
                )
            study = optuna.load_study(study_name=name, storage=probe)
            config = study_config(study, overrides)
            if overrides:
                study.set_user_attr(CONFIG_KEY, config.model_dump(mode="json"))
        finally:
            _close(probe)
        rdb = _storage_for(config, url, checked=True)  # the probe checked it
        return optuna.load_study(study_name=name, storage=rdb), config


#: Stored keys a command-line option can set, so that a study whose stored value is
#: invalid names the command that repairs it.
_REPAIRS: dict[tuple[str, ...], str] = {("stop", "max_trials"): "moo resume {name} --max-trials N"}


def study_config(study: optuna.Study, overrides: Sequence[Override] = ()) -> StudyConfig:
    """The validated config stored in ``study``, with ``overrides`` applied first."""
    data = study.user_attrs.get(CONFIG_KEY)
    if not isinstance(data, dict):
        raise ConfigError(f"study {study.study_name!r} was not created by moo (no {CONFIG_KEY}).")
    try:
        return validate_study_config(
            apply_overrides(data, overrides), source=f"study {study.study_name}"
        )
    except ConfigError as e:
        invalid = e.__cause__.errors() if isinstance(e.__cause__, ValidationError) else []
        keys = {tuple(map(str, item["loc"][:2])) for item in invalid}
        repairs = {_REPAIRS[key] for key in keys if key in _REPAIRS}
        if not repairs:
            raise
        commands = " or ".join(f"`{r.format(name=study.study_name)}`" for r in sorted(repairs))
        raise ConfigError(f"{e} (the stored config is invalid; {commands} repairs it)") from e


def _study_names(storage: RDBStorage) -> set[str]:
    return {s.study_name for s in storage.get_all_studies()}


def workdir_for(config: StudyConfig, storage_url: str) -> Path:
    """Caches and artifacts: beside the SQLite file, else ``.moo_cache/<study>``."""
    database = sqlite_path(storage_url)
    if database is not None:
        return database.parent / f"{config.study.name}.work"
    return Path(".moo_cache") / config.study.name


def build_adapter(config: StudyConfig, *, source: str) -> Any:
    """The study's adapter, built and checked against the search space.

    Every refusal (a module off the allow-list, an import or constructor that fails, a
    space with values the adapter can never accept) is one ``ConfigError`` naming
    ``source``, raised before a study is created or a trial runs.
    """
    _logger.info("loading the adapter %s", config.objective.adapter)
    adapter = load_adapter(config.objective, config.workload_spec(), source=source)
    check_space(adapter, config.search_space(), source=source)
    return adapter


# ---------------------------------------------------------------------- samplers
def build_sampler(
    config: StudyConfig,
    space: SearchSpace,
    adapter: Any,
    *,
    sampler_class: type[QNEHVISampler] | None = None,
) -> BaseSampler:
    """The YAML's sampler; Optuna's own ones are there for comparison runs.

    ``sampler_class`` builds ``name: moo`` (default ``QNEHVISampler``): a subclass that
    overrides a hook of the proposal (a GP prior, a reference rule) runs through the
    engine as the default does.
    """
    section, seed = config.sampler, config.study.seed
    if section.name == "moo":
        if sampler_class is None:
            from moo.sampler import QNEHVISampler  # torch and BoTorch: only a run needs them

            sampler_class = QNEHVISampler
        return sampler_class(
            search_space=space,
            seed=seed,
            n_initial=section.n_initial,
            acquisition=section.acquisition,
            reference_point=config.reference_point(),
            log_objectives=config.log_objectives,
            known_objectives=_known_objectives(config, space, adapter)
            if section.known_objectives
            else None,
            deterministic_objectives=section.deterministic,
            settings=section.settings(),
        )
    # A peer gets the setup the sampler suite gives it: model-based work only after the
    # shared Sobol design (``create_study`` enqueues it), which is NSGA-II's first
    # generation, and GPSampler told when the objectives repeat exactly.
    design = n_initial(config)
    if section.name == "tpe":
        return TPESampler(seed=seed, multivariate=True, n_startup_trials=design)
    if section.name == "nsga2":
        # Its crossover needs two parents, so a one-point design cannot be a generation.
        return NSGAIISampler(seed=seed, population_size=max(design, 2))
    if section.name == "gp":
        return GPSampler(
            seed=seed, n_startup_trials=design, deterministic_objective=section.deterministic
        )
    return RandomSampler(seed=seed)


_KNOWN_CACHE_SIZE = 1 << 16
"""Configs whose known metrics a study process keeps: every config of NAS-Bench-201's
space (15,625) and the last proposals' worth of a continuous one."""


def _known_objectives(
    config: StudyConfig, space: SearchSpace, adapter: Any
) -> dict[int, Callable[[dict[str, Any]], float]]:
    """Objectives the adapter computes exactly from the config, by objective index.

    One ``known_metrics`` call serves every known objective of a config: a hardware model
    costs milliseconds, and the acquisition scores hundreds of configs per proposal. A
    metric counts as known only if the adapter knows it for every choice of every
    categorical parameter: a measured device (``host``) has no exact latency, and a
    model that is exact on the MCUs but missing on the host cannot serve the acquisition.
    """
    known_metrics = getattr(adapter, "known_metrics", None)
    if known_metrics is None:
        return {}
    names = set(config.objective_names)
    for probe in _probes(space, config.study.seed):
        try:
            names &= set(known_metrics(probe))
        except Exception:  # an unrealisable probe says nothing about which names exist
            continue

    # Shared by the objectives, so one call serves them all; bounded, because a continuous
    # parameter makes every L-BFGS step a new config (the sampler memoizes per proposal).
    @functools.lru_cache(maxsize=_KNOWN_CACHE_SIZE)
    def metrics_of(key: tuple[tuple[str, Any], ...]) -> Mapping[str, float]:
        return known_metrics(dict(key))

    def metric(name: str) -> Callable[[dict[str, Any]], float]:
        def value(cfg: dict[str, Any]) -> float:
            return float(metrics_of(tuple(sorted(cfg.items())))[name])

        return value

    return {i: metric(n) for i, n in enumerate(config.objective_names) if n in names}


def _probes(space: SearchSpace, seed: int, n_base: int = 8) -> list[dict[str, Any]]:
    """Sobol configs, each also with every choice of every categorical parameter.

    Several bases, because a base the adapter cannot realise (too many pooling blocks for
    the input) answers nothing, and each choice must be asked at least once.
    """
    categoricals = {
        name: param.choices
        for name, param in space.parameters.items()
        if isinstance(param, CategoricalParam)
    }
    return [
        {**base, name: choice}
        for base in space.sobol(n_base, seed)
        for name, choices in categoricals.items()
        for choice in choices
    ] or space.sobol(n_base, seed)


# ---------------------------------------------------------------------- the run
class StudyRun:
    """Runs one study until its stop rule fires: ``StudyRun(study, config).run()``.

    Args:
        study: An Optuna study created by ``create_study`` or opened by ``load_study``.
        config: Its validated config.
        on_trial: Called after every proposed trial with the run's status (progress bars).
        adapter: The objective adapter; default: built from the config.
        sampler_class: The class of the ``moo`` sampler (``build_sampler``).
    """

    def __init__(
        self,
        study: optuna.Study,
        config: StudyConfig,
        *,
        on_trial: Callable[[RunStatus], None] | None = None,
        adapter: Any = None,
        sampler_class: type[QNEHVISampler] | None = None,
    ) -> None:
        self.study, self.config = study, config
        self._log_names = {config.objective_names[i] for i in config.log_objectives}
        self.space = config.search_space()
        if adapter is None:
            adapter = build_adapter(config, source=f"study {config.study.name}")
        self.adapter = adapter
        self.storage_url = _storage_url(study)
        self.workdir = workdir_for(config, self.storage_url)
        self.evaluator: Evaluator = make_evaluator(config, self.adapter)
        self.on_trial = on_trial
        self.study.sampler = build_sampler(
            config, self.space, self.adapter, sampler_class=sampler_class
        )
        self.history = StudyHistory(study, config)
        self._stop_rule = self._make_stop_rule()
        self._artifacts = FileSystemArtifactStore(str(self._artifact_dir()))

    def _artifact_dir(self) -> Path:
        path = self.workdir / "artifacts"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _make_stop_rule(self) -> StopRule:
        stop = self.config.stop
        rules: list[StopRule] = [MaxTrials(stop.max_trials)]
        if stop.max_time is not None:
            rules.append(MaxTime(stop.max_time))
        if stop.rule == "hv_stall":
            min_trials = stop.min_trials or default_min_trials(n_initial(self.config), stop.window)
            rules.append(HypervolumeStall(window=stop.window, tol=stop.tol, min_trials=min_trials))
        return AnyOf(*rules)

    # ------------------------------------------------------------------ public
    def run(self) -> str:
        """Run until the stop rule fires; returns (and stores) the reason.

        The run is recorded in the study (``moo.liveness``): ``moo status`` tells it from
        an interrupted, crashed or killed one.
        """
        beat_s = self.config.execution.heartbeat_interval
        with storage_errors(self.storage_url), recorded_run(self.study, beat_s=beat_s):
            return self._run()

    def _run(self) -> str:
        self.study.set_user_attr(STOP_REASON_KEY, None)
        self.history.freeze_reference()  # a run killed after the design, before freezing
        reason = self._stop_rule.update(self.history.progress())
        if reason is None:
            execution = self.config.execution
            if execution.executor == "dask":
                from moo.cluster import run_on_dask  # imports distributed: Dask runs only

                _logger.info("starting %d Dask workers", execution.n_workers)
                run_on_dask(
                    partial(_dask_worker, self.storage_url, self.config.study.name),
                    n_workers=execution.n_workers,
                    scheduler_address=execution.scheduler_address,
                    poll=self._report,
                )
                reason = self._stop_rule.update(self.history.progress())
            else:
                self.optimize()
                reason = self._stop_rule.reason
        reason = reason or self.study.user_attrs.get(STOP_REASON_KEY) or "interrupted"
        self.study.set_user_attr(STOP_REASON_KEY, reason)
        return reason

    def optimize(self) -> None:
        """This process's ask-evaluate-tell loop, with ``n_workers`` threads."""
        remaining = self.config.stop.max_trials - self.history.progress().n_trials
        try:
            with _quiet_optuna():
                self.study.optimize(
                    self.objective,
                    n_trials=max(remaining, 0),
                    n_jobs=self.config.execution.n_workers,
                    catch=(EvaluationError,),
                    callbacks=[self._after_trial],
                )
        finally:
            self.evaluator.close()

    def _report(self) -> None:
        if self.on_trial is not None:
            self.on_trial(self.history.status())

    # ------------------------------------------------------------------ one trial
    def objective(self, trial: optuna.Trial) -> Sequence[float]:
        config = self.space.suggest(trial)
        try:
            constraints = self._checked(config)
        except Exception as e:  # the adapter refuses the config: this trial fails, not the study
            raise self._failed(trial, config, e) from e
        for name, value in constraints.items():
            trial.set_constraint(name, value)
        violated = {k: v for k, v in constraints.items() if v > 0}
        if violated:
            trial.set_user_attr(INFEASIBLE_KEY, violated)
            raise optuna.TrialPruned(f"infeasible: {violated}")
        context = EvalContext(
            seed=self.config.study.seed, workdir=self.workdir, trial_number=trial.number
        )
        try:
            result = self.evaluator(config, context)
            values = self._objective_values(result.metrics)
            outcome = self._outcome_constraints(result.metrics)
        except Exception as e:
            raise self._failed(trial, config, e) from e
        self._record(trial, config, result, outcome, checked=constraints)
        constraints = {**result.constraints, **outcome}
        hv = self.history.hypervolume_with(
            values if all(v <= 0 for v in constraints.values()) else None
        )
        if hv is not None:
            trial.set_user_attr(HV_KEY, hv)
        return values

    def _checked(self, config: dict[str, Any]) -> dict[str, float]:
        """The adapter's constraints from the config alone (none without ``check``)."""
        check = getattr(self.adapter, "check", None)
        if check is None:
            return {}
        constraints = {k: float(v) for k, v in check(config).items()}
        bad = [k for k, v in constraints.items() if math.isnan(v)]
        if bad:
            raise EvaluationError(f"check() gave NaN for constraints {bad}")
        return constraints

    def _failed(self, trial: optuna.Trial, config: dict[str, Any], error: Exception) -> Exception:
        """The one-line error that fails ``trial``, stored on it and logged."""
        message = f"trial {trial.number} {_short(config)}: {_cause(error)}"
        trial.set_user_attr(ERROR_KEY, message)
        _logger.warning("failed: %s", message)
        return EvaluationError(message)

    def _objective_values(self, metrics: Mapping[str, float]) -> list[float]:
        """The objectives in study order; every unusable one is named in one error line,
        so a user fixing an adapter sees all of its bad outputs at once."""
        values, problems = [], []
        for name in self.config.objective_names:
            if name not in metrics:
                problems.append(
                    f"objective {name!r} missing from the adapter's metrics {sorted(metrics)}"
                )
                continue
            value = float(metrics[name])
            if not math.isfinite(value):
                problems.append(f"objective {name!r} is {value}")
            elif value <= 0 and name in self._log_names:
                problems.append(f"objective {name!r} is {value:g}, but its scale is log")
            values.append(value)
        if problems:
            raise EvaluationError("; ".join(problems))
        return values

    def _outcome_constraints(self, metrics: Mapping[str, float]) -> dict[str, float]:
        """The study's outcome constraints (``accuracy >= 0.9``) as Optuna constraint
        values, ``> 0`` where missed."""
        values = {}
        for bound in self.config.outcome_constraints:
            if bound.metric not in metrics:
                raise EvaluationError(
                    f"constraint {bound.name!r} needs metric {bound.metric!r}, missing from the "
                    f"adapter's metrics {sorted(metrics)}"
                )
            values[bound.name] = bound.violation(metrics[bound.metric])
        return values

    def _record(
        self,
        trial: optuna.Trial,
        config: dict[str, Any],
        result: TrialResult,
        outcome: Mapping[str, float],
        *,
        checked: Mapping[str, float],
    ) -> None:
        """Store the evaluation on ``trial``; constraints already ``checked`` (set from
        ``check`` before the evaluation) are set once, never overwritten."""
        trial.set_user_attr(METRICS_KEY, {k: float(v) for k, v in result.metrics.items()})
        for name, value in {**result.constraints, **outcome}.items():
            if name not in checked:
                trial.set_constraint(name, float(value))
        for key, value in result.attrs.items():
            trial.set_user_attr(key, value)
        if result.artifacts:
            ids = {
                name: upload_artifact(
                    artifact_store=self._artifacts, file_path=str(path), study_or_trial=trial
                )
                for name, path in result.artifacts.items()
            }
            trial.set_user_attr(ARTIFACTS_KEY, ids)
        if result.siblings:
            names = set(self.space.names)
            trials = self.study.get_trials(deepcopy=False)
            # A trial that failed before its params were set (a crash) has none to compare.
            seen = {
                row_key(row)
                for row in self.space.encode(t.params for t in trials if names <= set(t.params))
            }
            for sibling in result.siblings:
                self._add_sibling(trial.number, config, sibling, seen)

    def _add_sibling(
        self,
        parent: int,
        config: dict[str, Any],
        sibling: Sibling,
        seen: set[tuple[float, ...]],
    ) -> None:
        """Add ``sibling`` as a completed trial unless its config is in ``seen`` (updated)."""
        params = {**config, **sibling.overrides}
        space = self.space.parameters
        if not all(n in space and space[n].contains(v) for n, v in sibling.overrides.items()):
            return  # e.g. a device the adapter costs but the study's space leaves out
        key = row_key(self.space.encode([params])[0])
        if key in seen:
            return
        try:
            values = self._objective_values(sibling.metrics)
            constraints = {**sibling.constraints, **self._outcome_constraints(sibling.metrics)}
        except EvaluationError as e:
            _logger.warning("sibling of trial %d %s skipped: %s", parent, sibling.overrides, e)
            return
        self.study.add_trial(
            create_trial(
                values=values,
                params=params,
                distributions=self.space.to_optuna(),
                user_attrs={
                    SIBLING_KEY: parent,
                    METRICS_KEY: {k: float(v) for k, v in sibling.metrics.items()},
                    **sibling.attrs,
                },
                constraints={k: float(v) for k, v in constraints.items()},
            )
        )
        seen.add(key)

    def _after_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if SIBLING_KEY in trial.user_attrs:
            return
        self.history.freeze_reference()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            fail_stale_trials(study)  # a dead worker's trial is no longer running
        status, progress = self.history.snapshot()
        if self.on_trial is not None:
            self.on_trial(status)
        if progress.n_trials == n_initial(self.config) and self.config.sampler.name == "moo":
            _logger.info(
                "initial design done (%d trials): from now on each proposal fits the models "
                "first; the first fit takes longest",
                progress.n_trials,
            )
        reason = self._stop_rule.update(progress)
        if reason is not None:
            study.set_user_attr(STOP_REASON_KEY, reason)  # other workers see it and stop
        if study.user_attrs.get(STOP_REASON_KEY):
            study.stop()


# ---------------------------------------------------------------------- helpers
def _rdb_storage(study: optuna.Study) -> RDBStorage | None:
    storage = getattr(study._storage, "_backend", study._storage)  # under Optuna's cache
    return storage if isinstance(storage, RDBStorage) else None


def _storage_url(study: optuna.Study) -> str:
    storage = _rdb_storage(study)
    return storage.url if storage is not None else ""


def _dask_worker(storage_url: str, study_name: str) -> str:
    """One Dask worker's share of a study: a local loop on the shared storage.

    The storage's connections are closed before the loop returns: a worker process
    outlives its task (another study may follow on a long-lived cluster), and one that
    exits should not leave closing them to its interpreter's finalization.
    """
    study, config = load_study(study_name, storage=storage_url)
    try:
        execution = config.execution.model_copy(update={"executor": "local", "n_workers": 1})
        run = StudyRun(study, config.model_copy(update={"execution": execution}))
        run.optimize()
        return run._stop_rule.reason or ""
    finally:
        _close(_rdb_storage(study))


def _close(storage: RDBStorage | None) -> None:
    """Close the database connections of ``storage`` (it stays usable: a later query
    opens a new one)."""
    if storage is not None:
        storage.remove_session()
        storage.engine.dispose()


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna logs a traceback per failed trial; moo logs one line instead."""
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def _short(config: Mapping[str, Any]) -> str:
    parts = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in config.items()]
    return "{" + ", ".join(parts) + "}"


def _cause(error: BaseException) -> str:
    if isinstance(error, EvaluationError):  # already the engine's own one line
        return str(error).strip().splitlines()[0] if str(error).strip() else ""
    return one_line(error)
