"""The compared methods: moo's variants, Optuna's samplers and a plain BoTorch loop.

Fairness rules, applied to all: the same Sobol design (enqueued into every Optuna study,
evaluated first by the plain loop), the same budget, model-based work only after that
design (``n_startup_trials`` = design size; NSGA-II's first generation is the design),
and one proposal at a time. Each Optuna sampler gets the settings that suit these
problems best where they have one (``deterministic_objective`` for GPSampler: every
problem here is noiseless). Optimizer time is the wall time of ``ask`` plus ``tell``,
which is all the sampler work (evaluation excluded).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from time import perf_counter
from typing import Any

import optuna
from optuna.samplers import BaseSampler, GPSampler, NSGAIISampler, RandomSampler, TPESampler
from optuna_integration import BoTorchSampler

from experiments.benchmarks.suite.botorch_loop import run_botorch_loop, supports
from experiments.benchmarks.suite.problems import BenchProblem
from moo.bo import ProposalSettings
from moo.keys import PROPOSE_SECONDS_KEY
from moo.sampler import QNEHVISampler

__all__ = [
    "METHODS",
    "SAMPLERS",
    "Method",
    "Step",
    "moo_sampler",
    "new_study",
    "optuna_method",
    "run_optuna",
]


@dataclass(frozen=True)
class Step:
    """One trial of a run.

    Attributes:
        values: Objective values (minimized).
        propose_s: Optimizer wall seconds spent on this trial (evaluation excluded).
        reported_s: The sampler's own account of them (moo's ``moo:propose_s``), or NaN.
    """

    values: tuple[float, ...]
    propose_s: float
    reported_s: float = math.nan


RunFn = Callable[[BenchProblem, int, list[dict[str, Any]], int], list[Step]]


@dataclass(frozen=True)
class Method:
    """A named optimizer: ``run(problem, seed, initial_design, budget) -> steps``."""

    name: str
    run: RunFn
    applies: Callable[[BenchProblem], bool] = lambda problem: True


def new_study(sampler: BaseSampler, problem: BenchProblem) -> optuna.Study:
    """An in-memory study that minimizes every objective of ``problem``."""
    return optuna.create_study(
        directions=["minimize"] * len(problem.objective_names), sampler=sampler
    )


def run_optuna(
    study: optuna.Study, problem: BenchProblem, budget: int, batch: int = 1
) -> list[Step]:
    """Ask, evaluate and tell ``budget`` trials (enqueued configs are asked first).

    With ``batch > 1``, ``batch`` trials are asked before any is told, as parallel workers
    would: each later ask sees the earlier ones as RUNNING (moo passes them as pending).
    """
    distributions = problem.space.to_optuna()
    steps = []
    while len(steps) < budget:
        asked = []
        for _ in range(min(batch, budget - len(steps))):
            start = perf_counter()
            trial = study.ask(distributions)
            # Optuna computes the relative proposal lazily and skips it for a fully
            # enqueued trial; NSGA-II assigns generations there, so without this the
            # shared design would not be its first generation. Other samplers return {}
            # during the design.
            _ = trial.relative_params
            asked.append((trial, perf_counter() - start))
        for trial, ask_s in asked:
            values = problem.evaluate(trial.params)
            telling = perf_counter()
            frozen = study.tell(trial, values)
            told = perf_counter()
            reported = frozen.system_attrs.get(PROPOSE_SECONDS_KEY, math.nan)
            steps.append(Step(values, ask_s + (told - telling), reported))
    return steps


SamplerFactory = Callable[[BenchProblem, int], BaseSampler]


def optuna_method(factory: SamplerFactory, batch: int = 1) -> RunFn:
    def run(
        problem: BenchProblem, seed: int, initial: list[dict[str, Any]], budget: int
    ) -> list[Step]:
        study = new_study(factory(problem, seed), problem)
        for config in initial:
            study.enqueue_trial(config)
        return run_optuna(study, problem, budget, batch)

    return run


def moo_sampler(
    acquisition: str,
    known: bool,
    problem: BenchProblem,
    seed: int,
    *,
    given_ref: bool = False,
    deterministic: bool = True,
    settings: ProposalSettings | None = None,
    sampler_class: type[QNEHVISampler] = QNEHVISampler,
) -> BaseSampler:
    """moo's sampler on ``problem``. Every problem here is noiseless, so, like GPSampler's
    ``deterministic_objective``, its GPs interpolate unless told otherwise. ``settings``
    and ``sampler_class`` (a subclass overriding a hook) make the ablation variants."""
    return sampler_class(
        search_space=problem.space,
        seed=seed,
        n_initial=problem.n_initial,
        acquisition=acquisition,  # type: ignore[arg-type]
        known_objectives=problem.known if known else None,
        reference_point=problem.reference_point if given_ref else None,
        deterministic_objectives=deterministic,
        settings=settings,
    )


def _has_known(problem: BenchProblem) -> bool:
    return bool(problem.known)


def _loop(
    problem: BenchProblem, seed: int, initial: list[dict[str, Any]], budget: int
) -> list[Step]:
    results = run_botorch_loop(
        problem.space, problem.evaluate, problem.reference_point, initial, budget, seed
    )
    return [Step(values, seconds) for values, seconds in results]


SAMPLERS: Mapping[str, SamplerFactory] = {
    "moo-qlognehvi": partial(moo_sampler, "qlognehvi", False),
    "moo-qnehvi": partial(moo_sampler, "qnehvi", False),
    "random": lambda problem, seed: RandomSampler(seed=seed),
    "nsga2": lambda problem, seed: NSGAIISampler(population_size=problem.n_initial, seed=seed),
    "tpe": lambda problem, seed: TPESampler(
        multivariate=True, n_startup_trials=problem.n_initial, seed=seed
    ),
    "gp": lambda problem, seed: GPSampler(
        n_startup_trials=problem.n_initial, deterministic_objective=True, seed=seed
    ),
    "botorch-sampler": lambda problem, seed: BoTorchSampler(
        n_startup_trials=problem.n_initial, seed=seed
    ),
}

"""Name -> ``factory(problem, seed)`` of the Optuna-interfaced methods without options."""

METHODS: dict[str, Method] = {
    **{name: Method(name, optuna_method(factory)) for name, factory in SAMPLERS.items()},
    "moo-qlognehvi-known": Method(
        "moo-qlognehvi-known", optuna_method(partial(moo_sampler, "qlognehvi", True)), _has_known
    ),
    "moo-qnehvi-known": Method(
        "moo-qnehvi-known", optuna_method(partial(moo_sampler, "qnehvi", True)), _has_known
    ),
    # The known objectives as GP inputs too (``ProposalSettings.known_features``, opt-in).
    "moo-qlognehvi-known-features": Method(
        "moo-qlognehvi-known-features",
        optuna_method(
            partial(
                moo_sampler,
                "qlognehvi",
                True,
                settings=ProposalSettings(known_features=True),
            )
        ),
        _has_known,
    ),
    # Told the problem's reference point, as the tutorial loop is (a YAML can give one).
    "moo-qlognehvi-ref": Method(
        "moo-qlognehvi-ref",
        optuna_method(partial(moo_sampler, "qlognehvi", False, given_ref=True)),
    ),
    "moo-qlognehvi-q4": Method(
        "moo-qlognehvi-q4", optuna_method(partial(moo_sampler, "qlognehvi", False), batch=4)
    ),
    "botorch-loop": Method("botorch-loop", _loop, lambda problem: supports(problem.space)),
}
"""Method name -> method. ``-known`` variants run only where the problem has known
objectives (the NAS-Bench-201 latencies); ``-q4`` asks 4 trials before telling them."""
