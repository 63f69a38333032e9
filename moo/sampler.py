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
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.exceptions.warnings import OptimizationWarning
from botorch.models.model import Model
from botorch.models.transforms.input import InputTransform
from linear_operator.utils.warnings import NumericalWarning
from optuna.samplers import BaseSampler, RandomSampler
from optuna.samplers._base import _process_constraints_after_trial
from optuna.search_space import IntersectionSearchSpace
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState
from torch import Tensor

from moo.bo import optimize as bo_optimize
from moo.bo.acquisitions import acquisition_name, build_acquisition, reference_point
from moo.bo.known import ExactObjective, unusable_value, warn_known_failures
from moo.bo.models import fit_gp, fit_model, hyperparameters
from moo.bo.problem import Acquisition, Hyperparameters, ProposalProblem
from moo.bo.settings import ProposalSettings
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
from moo.rng import derive_seed, seeded_global_rng
from moo.space import SearchSpace, default_n_initial, row_key
from moo.threads import torch_threads

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.study import Study

__all__ = [
    "QNEHVISampler",
]

_logger = logging.getLogger(__name__)

# Set by ``Study.enqueue_trial``: the params are given, nothing to propose.
_FIXED_PARAMS_KEY = "fixed_params"


class QNEHVISampler(BaseSampler):
    """Multi-objective BO with qLogNEHVI, for Optuna studies.

    The BO itself lives in ``moo.bo``; this class reads the study, converts directions
    once and calls it. Its heuristics are ``settings``; the steps a user may want to
    change are methods to override, as Optuna's GPSampler does with ``_optimize_acqf``:
    ``_infer_reference`` (the reference rule), ``_fit_gp`` (the GP),
    ``_screen`` and ``_starting_points`` (where the optimizer looks), and
    ``_optimize_acqf`` (the whole route).

    Args:
        search_space: The typed space (ordinals, categoricals). Without it the space is
            read from the study's distributions, numeric categoricals taken as ordinal.
        seed: Seed of every random choice; the same seed and history give the same
            proposal.
        n_initial: Scrambled-Sobol trials before BO. Default ``2 (d + 1)``.
        acquisition: ``"qlognehvi"`` (default), ``"qnehvi"`` or ``"qlognparego"``
            (better past 4 objectives, where hypervolume gets expensive).
        reference_point: In the study's units and directions. Default: inferred from the
            observations at each proposal (``_infer_reference``); so is each NaN entry
            (an objective without a threshold, when others have one).
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
        settings: Every heuristic of a proposal (restarts, raw samples, the
            NEHVI-to-EHVI switch, enumeration and screen sizes, warm starts, ...);
            ``ProposalSettings()`` if ``None``.

    Example:
        >>> sampler = QNEHVISampler(seed=0, settings=ProposalSettings(num_restarts=4))
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
        settings: ProposalSettings | None = None,
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
        self._settings = settings or ProposalSettings()
        self._intersection = IntersectionSearchSpace()
        self._switch_logged = False

    @property
    def known_objectives(self) -> Mapping[int, Callable[[dict[str, Any]], float]]:
        """The objectives the acquisition takes exactly instead of learning them."""
        return MappingProxyType(self._known)

    @property
    def settings(self) -> ProposalSettings:
        """The heuristics of every proposal (frozen; ``dataclasses.replace`` to vary)."""
        return self._settings

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
            pool = space.sobol(index + self._settings.dedupe_pool, self._seed)[index:]
            config = _first_unseen(pool, history)
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

    # ------------------------------------------------------------------ hooks
    def _infer_reference(self, Y: Tensor) -> Tensor:
        """The reference point (``m``, maximized) of objectives without a given one.

        moo's rule (``moo.pareto.inferred_reference``), the one the reported hypervolume
        freezes after the initial design. Override to try another rule.
        """
        return reference_point(Y, self._settings.reference_margin)

    def _fit_gp(
        self,
        X: Tensor,
        Y: Tensor,
        categorical_dims: Sequence[int],
        warm_start: dict[str, list] | None = None,
        *,
        deterministic: bool = False,
        settings: ProposalSettings,
        input_transform: InputTransform | None = None,
    ) -> Model:
        """One batched GP over the columns of ``Y`` (``moo.bo.models.fit_gp``'s contract).
        Override to try another kernel or prior."""
        return fit_gp(
            X,
            Y,
            categorical_dims,
            warm_start,
            deterministic=deterministic,
            settings=settings,
            input_transform=input_transform,
        )

    def _screen(
        self,
        acqf: AcquisitionFunction,
        problem: ProposalProblem,
        candidates: Tensor,
        settings: ProposalSettings,
    ) -> Tensor:
        """The enumerated candidates worth the MC acquisition (``moo.bo.optimize.screen``)."""
        return bo_optimize.screen(acqf, problem, candidates, settings)

    def _starting_points(
        self,
        acqf: AcquisitionFunction,
        problem: ProposalProblem,
        settings: ProposalSettings,
        seed: int,
    ) -> Tensor:
        """L-BFGS starts on continuous spaces (``moo.bo.optimize.starting_points``)."""
        return bo_optimize.starting_points(acqf, problem, settings, seed)

    def _optimize_acqf(
        self,
        acqf: AcquisitionFunction,
        problem: ProposalProblem,
        space: SearchSpace,
        seen: set[tuple[float, ...]],
        candidates: Tensor | None,
        seed: int,
    ) -> tuple[Tensor, float]:
        """The unseen config (``1 x d``) that maximizes ``acqf``, and its value.

        Advanced users can override this to change the whole search; the default takes
        the route of ``moo.bo.optimize.maximize`` with this sampler's hooks.
        """
        return bo_optimize.maximize(
            acqf,
            problem,
            space,
            seen,
            candidates=candidates,
            seed=seed,
            settings=self._settings,
            screen=self._screen,
            starting_points=self._starting_points,
        )

    def _reference(self, Y: Tensor, signs: Tensor) -> Tensor:
        """The acquisition's reference point (maximized, on the objectives' scales): the
        given one, its NaN entries (objectives without a threshold) and all entries
        without one inferred from ``Y`` by ``_infer_reference``."""
        inferred = self._infer_reference(Y)
        if self._reference_point is None:
            return inferred
        given = self._scaled([self._reference_point], len(signs))[0] * signs
        return torch.where(torch.isnan(given), inferred, given)

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
            i: ExactObjective(
                space,
                f,
                float(signs[i]),
                log=i in self._log,
                unusable=unusable_value(Y, ref_point, i),
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
        if space.n_configs() <= self._settings.max_enumeration:
            candidates = bo_optimize.unseen(space.grid_points(), seen)
            if len(candidates) == 0:
                _logger.warning("Every config of the search space was evaluated; repeating one.")
                return space.decode(space.grid_points()[:1])[0], math.nan, {}
        self._log_switch(len(problem.X))
        with seeded_global_rng(seed), torch_threads(self._settings.threads):
            model, order = fit_model(problem, self._settings, gp=self._fit_gp)
            state = hyperparameters(model, problem)
            acqf = build_acquisition(
                self._acquisition, model, order, problem, seed=seed, settings=self._settings
            )
            X, value = self._optimize_acqf(acqf, problem, space, seen, candidates, seed)
        warn_known_failures(number, known.values())
        return space.decode(X)[0], value, state

    def _log_switch(self, n_observations: int) -> None:
        """Say once per sampler when ``qlognehvi`` gives way to qLogEHVI (``ehvi_after``)."""
        name = acquisition_name(self._acquisition, n_observations, self._settings)
        if name != self._acquisition and not self._switch_logged:
            self._switch_logged = True
            _logger.info(
                "%s -> %s past %s observations (ProposalSettings.ehvi_after)",
                self._acquisition,
                name,
                self._settings.ehvi_after,
            )


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


def _first_unseen(configs: list[dict[str, Any]], history: _History) -> dict[str, Any]:
    seen = history.seen_keys()
    for config in configs:
        if row_key(history._space.encode([config])[0]) not in seen:
            return config
    return configs[0]
