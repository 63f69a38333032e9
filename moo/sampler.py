"""``QNEHVISampler``: Optuna's sampler interface over BoTorch's qLogNEHVI.

Optuna owns the study (storage, trials, parallel workers, resume); BoTorch owns the
model and the acquisition. This class is the bridge: it reads the study's history,
converts Optuna's directions to BoTorch's maximization once, and returns one config.

Reproducibility is a contract, not a hope: every random choice is seeded from the
sampler seed and the *history* of the study (how many of its own trials came before),
never from the wall clock or a global RNG. A study stopped and resumed, or crashed and
resumed (the crashed trial re-queued), therefore proposes exactly what the uninterrupted
run would have.
"""

from __future__ import annotations

import logging
import math
import random
import time
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from botorch.exceptions.warnings import OptimizationWarning
from botorch.utils.multi_objective import is_non_dominated
from linear_operator.utils.warnings import NumericalWarning
from optuna.samplers import BaseSampler, RandomSampler
from optuna.samplers._base import _process_constraints_after_trial
from optuna.search_space import IntersectionSearchSpace
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState
from torch import Tensor

from moo.acquisition import (
    Acquisition,
    Hyperparameters,
    ProposalProblem,
    best_of,
    build_acquisition,
    fit_model,
    hyperparameters,
    optimize,
    reference_point,
)
from moo.errors import one_line
from moo.keys import (
    ACQ_VALUE_KEY,
    GP_STATE_KEY,
    PROPOSAL_ERROR_KEY,
    PROPOSAL_SEED_KEY,
    PROPOSE_SECONDS_KEY,
    RETRY_OF_KEY,
    SIBLING_KEY,
)
from moo.pareto import log_scaled
from moo.rng import derive_seed, seeded_global_rng, torch_generator
from moo.space import SearchSpace, default_n_initial, row_key

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.study import Study

__all__ = [
    "QNEHVISampler",
]

_logger = logging.getLogger(__name__)

# Set by ``Study.enqueue_trial``: the params are given, nothing to propose.
_FIXED_PARAMS_KEY = "fixed_params"

# Discrete spaces up to this size are scored exhaustively: exact, and on a CPU faster than
# a gradient-based search once the posterior is cached (NAS-Bench-201 has 15,625 cells).
_MAX_ENUMERATION = 20_000
# Large discrete spaces: random configs scored per proposal, and hill-climbing steps.
_LOCAL_POOL = 256
_LOCAL_STEPS = 4
# Fallback pool when the optimizer lands on an already evaluated config.
_DEDUP_POOL = 2048
# torch threads of a proposal. Its GPs are small (tens to hundreds of points), and more
# OpenMP threads than free cores spin instead of working: with torch's default (one per
# core) the median proposal of a 2-s-trial study on a busy 2-core machine took 4.6 s in
# one process and 11.5 s in each of two, against 0.6-0.7 s in Dask workers, whose nanny
# sets OMP_NUM_THREADS=1 (``results/dask_throughput.md``).
_PROPOSAL_THREADS = 1


class QNEHVISampler(BaseSampler):
    """Multi-objective BO with qLogNEHVI, for Optuna studies.

    Args:
        search_space: The typed space (ordinals, categoricals). Without it the space is
            read from the study's distributions, numeric categoricals taken as ordinal.
        seed: Seed of every random choice; the same seed and history give the same
            proposal.
        n_initial: Scrambled-Sobol trials before BO. Default ``2 (d + 1)``.
        acquisition: ``"qlognehvi"`` (default), ``"qnehvi"`` or ``"qlognparego"``
            (better past 4 objectives, where hypervolume gets expensive).
        reference_point: In the study's units and directions. Default: inferred from the
            observed front at each proposal; so is each NaN entry (an objective without
            a threshold, when others have one).
        log_objectives: Indices of positive objectives modeled and scored on a log10
            scale (energy, latency spanning decades); trials with a value ``<= 0`` there
            are left out of the model.
        known_objectives: ``{objective index: f(config) -> value}`` for objectives that
            are exact, cheap functions of the config; modeled exactly, not learned.
        constraints_func: Optuna's ``constraints_func``: values ``<= 0`` are feasible.
            Trials may also carry named constraints (``trial.set_constraint``; moo's
            engine records infeasible configs that way).
        deterministic_objectives: The objectives return the same values for the same
            config (closed-form functions, table lookups, a hardware model): the GP
            interpolates them instead of learning a noise level, which blurs a front
            that spans a small part of an objective's range. Leave off when a config's
            score varies from run to run (training with random seeds).
        num_restarts: Restarts of the acquisition optimizer (non-enumerated spaces).
        raw_samples: Raw samples to pick the restarts from.

    Example:
        >>> sampler = QNEHVISampler(seed=0)
        >>> study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    """

    def __init__(
        self,
        *,
        search_space: SearchSpace | None = None,
        seed: int | None = None,
        n_initial: int | None = None,
        acquisition: Acquisition = "qlognehvi",
        reference_point: Sequence[float] | None = None,
        log_objectives: Sequence[int] = (),
        known_objectives: Mapping[int, Callable[[dict[str, Any]], float]] | None = None,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        deterministic_objectives: bool = False,
        num_restarts: int = 8,
        raw_samples: int = 256,
    ) -> None:
        if acquisition not in ("qlognehvi", "qnehvi", "qlognparego"):
            raise ValueError(
                f"`acquisition` must be one of qlognehvi, qnehvi, qlognparego; got {acquisition!r}."
            )
        self._space = search_space
        self._seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
        self._n_initial = n_initial
        self._acquisition: Acquisition = acquisition
        self._reference_point = None if reference_point is None else list(reference_point)
        self._known = dict(known_objectives or {})
        self._log = sorted(set(log_objectives))
        self._constraints_func = constraints_func
        self._deterministic = deterministic_objectives
        self._num_restarts = num_restarts
        self._raw_samples = raw_samples
        self._intersection = IntersectionSearchSpace()

    @property
    def known_objectives(self) -> Mapping[int, Callable[[dict[str, Any]], float]]:
        """The objectives the acquisition takes exactly instead of learning them."""
        return MappingProxyType(self._known)

    def _scaled(self, rows: Sequence[Sequence[float]], m: int) -> Tensor:
        """Objective rows (study units) as an ``n x m`` tensor on the objectives' scales."""
        return torch.from_numpy(log_scaled(np.array(rows, dtype=float).reshape(-1, m), self._log))

    # ------------------------------------------------------------------ BaseSampler
    def reseed_rng(self) -> None:
        """Keep the seed: Optuna calls this in every worker thread (``n_jobs > 1``).

        The hook exists for samplers whose RNG state is copied into each thread. This one
        keeps no state: every draw is seeded from the study seed and the trial's index,
        so threads already differ, and a new master seed would break the seed contract
        (the initial design would no longer be one Sobol sequence).
        """

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        if self._space is not None:
            return self._space.to_optuna()
        return {
            name: dist
            for name, dist in self._intersection.calculate(study).items()
            if not dist.single()
        }

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        given = {**trial.params, **trial.system_attrs.get(_FIXED_PARAMS_KEY, {})}
        if not search_space or set(search_space) <= set(given):
            return {}  # an enqueued config, or a re-queued crash whose config is known
        space = self._space or SearchSpace.from_optuna(search_space)
        started = time.perf_counter()
        history = _History(study, space, exclude_number=trial.number)
        n_initial = self._n_initial or default_n_initial(space.dim)
        # A re-queued crash that never got its config (killed mid-proposal) proposes at its
        # original's index: a fresh config, the one the uninterrupted run would have tried.
        index = history.n_proposed_before(trial.system_attrs.get(RETRY_OF_KEY, trial.number))
        storage = study._storage
        config: dict[str, Any] | None = None
        kind, acq_value = "sobol", math.nan
        if index >= n_initial and len(history.complete) >= 2:
            # Seeded by the proposal's index, not by the data: the asks of a batch see the
            # same completed trials, and seeded by those they would all start from the
            # same random restarts and MC samples.
            seed = derive_seed(self._seed, index)
            try:
                with warnings.catch_warnings():
                    # Jitter and restarted L-BFGS runs are BoTorch coping, not user news.
                    warnings.simplefilter("ignore", NumericalWarning)
                    warnings.simplefilter("ignore", OptimizationWarning)
                    warnings.simplefilter("ignore", RuntimeWarning)
                    config, acq_value, state = self._propose(
                        space, history, study.directions, seed, trial.number
                    )
            except Exception as e:
                # An unfittable model, a covariance that is not positive definite, an
                # optimizer that gives up: one failed proposal must not end a study of
                # expensive trials.
                reason = one_line(e)
                _logger.warning(
                    "trial %d: no model-based proposal (%s); a quasi-random config instead",
                    trial.number,
                    reason,
                )
                storage.set_trial_system_attr(trial._trial_id, PROPOSAL_ERROR_KEY, reason)
            else:
                kind = "bo"
                storage.set_trial_system_attr(trial._trial_id, GP_STATE_KEY, state)
                storage.set_trial_system_attr(trial._trial_id, PROPOSAL_SEED_KEY, seed)
        if config is None:
            config = _first_unseen(space.sobol(index + _DEDUP_POOL, self._seed)[index:], history)
        storage.set_trial_system_attr(
            trial._trial_id, PROPOSE_SECONDS_KEY, time.perf_counter() - started
        )
        storage.set_trial_system_attr(trial._trial_id, ACQ_VALUE_KEY, acq_value)
        storage.set_trial_system_attr(trial._trial_id, "moo:proposal", kind)
        return {name: config[name] for name in search_space}

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        # Only parameters outside the relative space get here (without a typed space, the
        # first trials of a study): seeded by trial and name like every other draw.
        seed = derive_seed(self._seed, trial.number, zlib.crc32(param_name.encode()))
        return RandomSampler(seed=seed).sample_independent(
            study, trial, param_name, param_distribution
        )

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        if self._constraints_func is not None:
            _process_constraints_after_trial(self._constraints_func, study, trial, state)

    def _reference(self, Y: Tensor, signs: Tensor) -> Tensor | None:
        """The given reference point (maximized, on the objectives' scales); NaN entries
        (objectives without a threshold) are inferred from ``Y`` as with no reference."""
        if self._reference_point is None:
            return None
        given = self._scaled([self._reference_point], len(signs))[0] * signs
        return torch.where(torch.isnan(given), reference_point(Y), given)

    # ------------------------------------------------------------------ BO proposal
    def _propose(
        self,
        space: SearchSpace,
        history: _History,
        directions: Sequence[StudyDirection],
        seed: int,
        number: int,
    ) -> tuple[dict[str, Any], float, Hyperparameters]:
        signs = torch.tensor(
            [1.0 if d == StudyDirection.MAXIMIZE else -1.0 for d in directions],
            dtype=torch.double,
        )
        X_c, C = history.constraint_data()
        Y = self._scaled([t.values for t in history.complete], len(directions))
        usable = torch.isfinite(Y).all(dim=-1)
        Y = Y[usable] * signs
        ref_point = self._reference(Y, signs)
        known = {
            i: _ExactObjective(
                space, f, float(signs[i]), log=i in self._log, unusable=_unusable(Y, ref_point, i)
            )
            for i, f in self._known.items()
        }
        problem = ProposalProblem(
            X=space.encode(t.params for t in history.complete)[usable],
            Y=Y,
            bounds=space.bounds,
            categorical_dims=space.categorical_dims,
            discrete_dims=space.discrete_dims,
            known=dict(known),
            X_constraints=X_c,
            C=C,
            X_pending=history.pending(),
            ref_point=ref_point,
            warm_start=history.latest(GP_STATE_KEY),
            deterministic=self._deterministic,
        )
        seen = history.seen_keys()
        candidates = None
        if space.n_configs() <= _MAX_ENUMERATION:
            candidates = _unseen(space.grid_points(), seen)
            if len(candidates) == 0:
                _logger.warning("Every config of the search space was evaluated; repeating one.")
                return space.decode(space.grid_points()[:1])[0], math.nan, {}
        generator = torch_generator(seed)
        with seeded_global_rng(seed), _torch_threads(_PROPOSAL_THREADS):
            model, order = fit_model(problem)
            state = hyperparameters(model, problem)
            acqf = build_acquisition(self._acquisition, model, order, problem, seed=seed)
            if candidates is None and math.isfinite(space.n_configs()):
                X, value = _local_search(acqf, space, problem, seen, generator)
            else:
                X, value = optimize(
                    acqf,
                    problem,
                    candidates=candidates,
                    num_restarts=self._num_restarts,
                    raw_samples=self._raw_samples,
                    seed=seed,
                )
            X = space.round(X)
            if row_key(X[0]) in seen:
                X, value = best_of(acqf, _unseen(_random_pool(space, _DEDUP_POOL, generator), seen))
        _warn_known_failures(number, known.values())
        return space.decode(X)[0], value, state


class _History:
    """The study's trials, split the way a proposal needs them."""

    def __init__(self, study: Study, space: SearchSpace, *, exclude_number: int) -> None:
        self._space = space
        self._exclude = exclude_number
        # One read of the storage per proposal (a remote database answers each in several
        # round trips).
        self._all = study.get_trials(deepcopy=False)
        names = set(space.names)
        self.trials = [
            t for t in self._all if t.number != exclude_number and names <= set(t.params)
        ]
        self.complete = [
            t
            for t in self.trials
            if t.state == TrialState.COMPLETE
            and t.values is not None
            and all(math.isfinite(v) for v in t.values)
        ]

    def n_proposed_before(self, number: int) -> int:
        """Proposals made before trial ``number``: own trials, not re-queued crash copies."""
        return sum(
            1
            for t in self._all
            if t.number < number
            and SIBLING_KEY not in t.user_attrs
            and RETRY_OF_KEY not in t.system_attrs
        )

    def latest(self, key: str) -> Any:
        """System attribute ``key`` of the highest-numbered other trial that has it."""
        for t in sorted(self._all, key=lambda t: t.number, reverse=True):
            if key in t.system_attrs and t.number != self._exclude:
                return t.system_attrs[key]
        return None

    def pending(self) -> Tensor | None:
        running = [t for t in self.trials if t.state == TrialState.RUNNING]
        return self._space.encode(t.params for t in running) if running else None

    def constraint_data(self) -> tuple[Tensor | None, Tensor | None]:
        """Configs and values of every finished trial with constraints, if any violated."""
        finished = [t for t in self.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        names = sorted({name for t in finished for name in t.constraints})
        # Only trials that report every constraint can train the constraint models.
        rows = [t for t in finished if names and set(t.constraints) == set(names)]
        if not rows:
            return None, None
        C = torch.tensor([[t.constraints[n] for n in names] for t in rows], dtype=torch.double)
        if not bool((C > 0).any()):
            return None, None  # nothing infeasible seen: a constraint model would learn nothing
        return self._space.encode(t.params for t in rows), C

    def seen_keys(self) -> set[tuple[float, ...]]:
        """Encoded configs of every trial (any state): never propose them again."""
        return {row_key(row) for row in self._space.encode(t.params for t in self.trials)}


def _local_search(
    acqf: Any,
    space: SearchSpace,
    problem: ProposalProblem,
    seen: set[tuple[float, ...]],
    generator: torch.Generator,
) -> tuple[Tensor, float]:
    """Best unseen config of a large discrete space: score a random pool plus the
    neighbours of the observed front, then climb from the best few.

    Exhaustive scoring is exact but impossible past ``_MAX_ENUMERATION`` configs, and
    BoTorch's mixed optimizer spends most of its time on starting points that a batched
    pool scores in one posterior call; with known objectives (a Python hardware model per
    config) the pool is also what keeps their evaluations few.
    """
    pool = _random_pool(space, _LOCAL_POOL, generator)
    front = problem.X[is_non_dominated(problem.Y)] if len(problem.Y) else problem.X[:0]
    candidates = _unseen(_dedupe(torch.cat([pool, space.neighbours(front)])), seen)
    best, value = best_of(acqf, candidates)
    for _ in range(_LOCAL_STEPS):
        step = _unseen(_dedupe(space.neighbours(best)), seen)
        if len(step) == 0:
            break
        X, v = best_of(acqf, step)
        if v <= value:
            break
        best, value = X, v
    return best, value


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` for the block (a process-wide setting; the
    proposals of one process already take turns under ``seeded_global_rng``'s lock)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _random_pool(space: SearchSpace, n: int, generator: torch.Generator) -> Tensor:
    """``n x d`` encoded configs drawn uniformly (categoricals by equal-width bins)."""
    U = torch.rand(n, space.dim, generator=generator, dtype=torch.double)
    return space.encode(space.from_unit_cube(U))


def _dedupe(X: Tensor) -> Tensor:
    keys: dict[tuple[float, ...], int] = {}
    for i, row in enumerate(X):
        keys.setdefault(row_key(row), i)
    return X[list(keys.values())]


def _unseen(X: Tensor, seen: set[tuple[float, ...]]) -> Tensor:
    keep = [i for i, row in enumerate(X) if row_key(row) not in seen]
    return X[keep]


def _first_unseen(configs: list[dict[str, Any]], history: _History) -> dict[str, Any]:
    seen = history.seen_keys()
    for config in configs:
        if row_key(history._space.encode([config])[0]) not in seen:
            return config
    return configs[0]


def _unusable(Y: Tensor, ref_point: Tensor | None, i: int) -> float:
    """A value of maximized objective ``i`` far below every observation and the reference
    point: what a config whose known metric cannot be computed scores, so that it adds no
    hypervolume and is chosen last. Finite, unlike ``-inf``, which turns the log-EHVI of
    a whole batch into NaN (and ``argmax`` picks NaN)."""
    low = float(Y[:, i].min()) if len(Y) else 0.0
    if ref_point is not None:
        low = min(low, float(ref_point[i]))
    span = float(Y[:, i].max() - Y[:, i].min()) if len(Y) else 0.0
    return low - 10.0 * max(span, 1.0)


class _ExactObjective:
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
        values = []
        for row in X.detach():
            key = row_key(row)
            if key not in self._cache:
                self._cache[key] = self._value(key, self._space.decode(row[None])[0])
            values.append(self._cache[key])
        return torch.tensor(values, dtype=X.dtype)

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
    def n_scored(self) -> int:
        return len(self._cache)


def _warn_known_failures(number: int, objectives: Iterable[_ExactObjective]) -> None:
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
