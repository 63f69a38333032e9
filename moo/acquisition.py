r"""The BoTorch side of a proposal: fit models, build qLogNEHVI, optimize it.

Everything here works on tensors in the *maximization* convention (BoTorch's); the
sampler converts Optuna's directions once before calling in. Inputs are encoded by
``moo.space.SearchSpace``: ordered parameters in ``[0, 1]``, categoricals as indices.

The model is a ``ModelList`` of (i) one batched GP over the objectives that must be
learned, (ii) an exact deterministic model for objectives the adapter knows as functions
of the config (latency or energy from a hardware model, a table lookup), and (iii) one
batched GP over the constraint values. Learning a known function wastes trials; giving it
exactly lets the acquisition spend them on what is unknown (usually accuracy).

.. [Daulton2021nehvi] S. Daulton, M. Balandat, E. Bakshy. Parallel Bayesian Optimization
   of Multiple Noisy Objectives with Expected Hypervolume Improvement. NeurIPS 2021.
.. [Ament2023logei] S. Ament et al. Unexpected Improvements to Expected Improvement for
   Bayesian Optimization. NeurIPS 2023.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import botorch.acquisition.multi_objective.logei as _logei
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.multi_objective import (
    qNoisyExpectedHypervolumeImprovement,
)
from botorch.acquisition.multi_objective.logei import (
    qLogExpectedHypervolumeImprovement,
    qLogNoisyExpectedHypervolumeImprovement,
)
from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
from botorch.acquisition.multi_objective.parego import qLogNParEGO
from botorch.exceptions.warnings import InputDataWarning
from botorch.fit import fit_gpytorch_mll
from botorch.models import GenericDeterministicModel, MixedSingleTaskGP, ModelList, SingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms.outcome import Standardize
from botorch.optim import optimize_acqf, optimize_acqf_mixed_alternating
from botorch.optim.initializers import gen_batch_initial_conditions
from botorch.sampling.get_sampler import get_sampler
from botorch.utils.multi_objective import is_non_dominated
from botorch.utils.multi_objective.box_decompositions import FastNondominatedPartitioning
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from moo.rng import derive_seed, torch_generator

__all__ = [
    "Acquisition",
    "Hyperparameters",
    "KnownObjective",
    "ProposalProblem",
    "best_of",
    "build_acquisition",
    "fit_model",
    "hyperparameters",
    "optimize",
    "reference_point",
]

Acquisition = Literal["qlognehvi", "qnehvi", "qlognparego"]
Hyperparameters = dict[str, dict[str, list]]
"""Fitted GP parameters by member (``objectives``, ``constraints``) and parameter name:
JSON-ready, so they can live in the study's storage and warm-start the next fit."""
KnownObjective = Callable[[Tensor], Tensor]
"""An exact objective: ``batch x d`` encoded points -> ``batch`` values (maximized)."""

# MC samples of the posterior. qNEHVI integrates over the baseline front sample by sample,
# so its cost grows with this number times the box decomposition of each sample; 64 keeps
# the estimate's noise well below the GP's for 2-4 objectives at a quarter of the cost.
_MC_SAMPLES = 64
# Past this many observations qLogNEHVI is replaced by qLogEHVI on the posterior-mean
# front. qLogNEHVI decomposes the box partitioning of every MC sample of the baseline
# front (64 decompositions, 5 s of a 14.7 s proposal at 100 points, 3 objectives, and up
# to 15 s at 30-48 points of a VehicleSafety run whose front is dense); one
# decomposition of the mean front costs ~1/64 of that. With many observations the
# posterior at the baseline is nearly certain, so integrating over it changes little.
_NEHVI_MAX_OBSERVATIONS = 32
# MC samples of qLogEHVI (one proposal, a fixed front): the estimate only has to rank
# candidates, and halving the samples halves the acquisition optimization time.
_EHVI_MC_SAMPLES = 32
# Enumerated spaces larger than this are screened first: every candidate gets the cheap
# hypervolume improvement of its optimistic point (mean + _SCREEN_BETA sd), and only the
# best _SCREEN_KEEP get the MC acquisition. Scoring all 15,625 NAS-Bench-201 cells with
# qLogNEHVI took 7.3 s of an 8.2 s proposal; the screen takes a few milliseconds.
_SCREEN_KEEP = 512
_SCREEN_BETA = 2.0
# Standard deviation of the nudge given to observed front points used as starting points
# of the acquisition optimizer (inputs are encoded in [0, 1]); at the point itself the
# posterior is nearly certain and the improvement's gradient nearly flat.
_FRONT_START_JITTER = 0.01
# Candidate rows scored per forward pass when enumerating a discrete space.
_ENUMERATION_BATCH = 1024
# Purposes of the random streams one proposal derives from its seed (``derive_seed``).
_WEIGHTS_STREAM, _RAW_SAMPLES_STREAM, _FRONT_STARTS_STREAM = 1, 2, 3


def _pure_pytorch_hypervolume_kernel() -> None:
    """Keep BoTorch from compiling its fused qLogEHVI C++ kernel; use the PyTorch path.

    BoTorch 0.18 JIT-compiles ``csrc/logei_fused.cpp`` (``torch.utils.cpp_extension``)
    the first time a process builds a qLog(N)EHVI: 55 s to 4 min on 2 cores, silently,
    after every fresh install and in every new extensions cache, under a lock file that a
    process killed mid-compile leaves behind and that every later process then waits on
    forever (its trial's heartbeat keeps the trial alive meanwhile). BoTorch has no
    switch for it; marking the load as attempted makes it take the pure-PyTorch path it
    falls back to when a compile fails, which computes the same values
    (``experiments/benchmarks/results/first_proposal.md`` measures both).
    """
    _logei._load_attempted = True


_pure_pytorch_hypervolume_kernel()


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
        ref_point: ``m`` reference point (maximized), or ``None`` to infer it.
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


# L-BFGS iterations of a hyperparameter fit. The marginal likelihood is flat near its
# optimum; past ~100 steps the fit changes the proposal little and costs seconds
# (MixedSingleTaskGP on 60 points ran 500 steps, 20 s, on the quickstart study).
_FIT_MAXITER = 100
# From a warm start (last proposal's optimum, one point less) the optimum has moved little,
# yet L-BFGS still ran all 100 steps in that flat valley (2.4 s of a 4.7 s proposal at 100
# points, 3 objectives); 20 steps reach the same proposals.
_WARM_FIT_MAXITER = 20
# Below this many observations every fit starts cold: early hyperparameters are poorly
# determined, and a warm start kept the GP in a bad valley (DTLZ2 d=4 M=3, 30 trials: HV
# 0.30 warm vs 0.47 cold), while a cold fit of a few dozen points costs a fraction of a
# second anyway.
_WARM_START_MIN_OBSERVATIONS = 48
# Raw (unconstrained) hyperparameters of outcome-standardized GPs on unit-cube or index
# inputs stay within a few hundred in a fit from the defaults; values far beyond mean a
# warm-start chain drifted off (see ``fit_gp``).
_WARM_START_MAX_ABS = 1e3
# Observation noise variance, as a share of the outcome's variance, of a GP over
# deterministic objectives: just above GPyTorch's floor of 1e-6 (below it, it warns and
# rounds up). A learned noise level settles near 1e-3 under BoTorch's prior even on
# noiseless data: on BraninCurrin that is a noise sd of ~1.5 on Branin, whose
# Pareto-relevant values lie below 18 of its 0-300 span, and the front gets blurred
# (``results/sampler_ablation.md``).
_DETERMINISTIC_NOISE = 1.01e-6


def fit_gp(
    X: Tensor,
    Y: Tensor,
    categorical_dims: Sequence[int],
    warm_start: dict[str, list] | None = None,
    *,
    deterministic: bool = False,
) -> Model:
    """A batched GP with one output per column of ``Y``, outcomes standardized.

    Categorical dimensions get MixedSingleTaskGP's categorical kernel instead of being
    treated as numbers; everything else is already scaled to ``[0, 1]`` by the encoding.
    A warm start (the previous proposal's optimum, one point less) puts L-BFGS next to
    the new optimum: the fit takes a few steps instead of a hundred. Parameters whose
    shape changed (another number of outputs) start from the defaults. ``deterministic``
    fixes the noise at ``_DETERMINISTIC_NOISE`` of each outcome's variance.

    A chain of warm starts can drift where the likelihood is flat and no fit moves: on
    NAS-Bench-201, after 35 warm-started fits (83 observations), the outputscale of the
    standardized error was ~1e6 and the lengthscales sat at 1e-6 and 1e7; the next fit
    failed every retry and the study stopped. A warm start with any parameter beyond
    ``_WARM_START_MAX_ABS`` (raw) is therefore dropped and the fit starts cold.
    """
    if warm_start and not _plausible(warm_start):
        warm_start = None
    noise = {}
    if deterministic:
        variance = Y.var(dim=0).clamp_min(1e-12)
        noise["train_Yvar"] = (_DETERMINISTIC_NOISE * variance).expand_as(Y).clone()
    with warnings.catch_warnings():
        # Categorical indices lie outside [0, 1] by design.
        warnings.simplefilter("ignore", InputDataWarning)
        outcome_transform = Standardize(m=Y.shape[-1])
        if categorical_dims:
            gp: Model = MixedSingleTaskGP(
                X,
                Y,
                cat_dims=list(categorical_dims),
                outcome_transform=outcome_transform,
                **noise,
            )
        else:
            gp = SingleTaskGP(X, Y, outcome_transform=outcome_transform, **noise)
        _load(gp, warm_start or {})
        fit_gpytorch_mll(
            ExactMarginalLogLikelihood(gp.likelihood, gp),
            optimizer_kwargs={
                "options": {"maxiter": _WARM_FIT_MAXITER if warm_start else _FIT_MAXITER}
            },
        )
    return gp


def _plausible(values: dict[str, list]) -> bool:
    """Whether every raw hyperparameter of a warm start lies within ``_WARM_START_MAX_ABS``."""
    return all(
        bool((torch.tensor(v, dtype=torch.double).abs() <= _WARM_START_MAX_ABS).all())
        for v in values.values()
    )


def _load(gp: Model, values: dict[str, list]) -> None:
    with torch.no_grad():
        for name, parameter in gp.named_parameters():
            if name in values:
                value = torch.tensor(values[name], dtype=parameter.dtype)
                if value.shape == parameter.shape and bool(torch.isfinite(value).all()):
                    parameter.copy_(value)


def _parameters(gp: Model) -> dict[str, list]:
    return {name: p.detach().tolist() for name, p in gp.named_parameters()}


def hyperparameters(model: Model, problem: ProposalProblem) -> Hyperparameters:
    """The fitted GP parameters of ``fit_model(problem)``'s model, for the next warm start."""
    members = list(model.models) if isinstance(model, ModelList) else [model]
    gps = [g for g in members if not isinstance(g, GenericDeterministicModel)]
    learned = len(problem.known) < problem.num_objectives
    names = (["objectives"] if learned else []) + ["constraints"]
    return {name: _parameters(gp) for name, gp in zip(names, gps, strict=False)}


def fit_model(problem: ProposalProblem) -> tuple[Model, list[int]]:
    """Fit the model list; return it and the objective order of its outputs.

    Returns:
        The model, whose outputs are ``[learned objectives, known objectives,
        constraints]``, and ``order`` such that output ``j`` is objective ``order[j]``.
    """
    warm: Hyperparameters = {}
    if problem.warm_start and len(problem.X) > _WARM_START_MIN_OBSERVATIONS:
        warm = problem.warm_start
    m = problem.num_objectives
    learned = [i for i in range(m) if i not in problem.known]
    known = [i for i in range(m) if i in problem.known]
    cat_dims = list(problem.categorical_dims)
    models: list[Model] = []
    if learned:
        models.append(
            fit_gp(
                problem.X,
                problem.Y[:, learned],
                cat_dims,
                warm.get("objectives"),
                deterministic=problem.deterministic,
            )
        )
    if known:
        functions = [problem.known[i] for i in known]

        def exact(X: Tensor) -> Tensor:
            flat = X.reshape(-1, X.shape[-1])
            values = torch.stack([f(flat) for f in functions], dim=-1)
            return values.reshape(*X.shape[:-1], len(functions)).to(X)

        models.append(GenericDeterministicModel(exact, num_outputs=len(known)))
    if problem.C is not None and problem.X_constraints is not None and problem.C.numel():
        models.append(fit_gp(problem.X_constraints, problem.C, cat_dims, warm.get("constraints")))
    model = models[0] if len(models) == 1 else ModelList(*models)
    return model, learned + known


def reference_point(Y: Tensor) -> Tensor:
    """The worst observed value of each objective, pushed 10% of its observed range out.

    BoTorch's heuristic takes the nadir of the observed *front* instead. Early on that
    front is a few points, its nadir box is small, and a point that extends the front
    beyond it scores nothing: proposals then crowd one region (VehicleSafety stalled at
    log10 gap 1.35 after 60 trials, ZDT1 at 0.51, against 0.47 and -0.84 for Optuna's
    GPSampler, whose reference is likewise the worst observation). Maximization.
    """
    worst, best = Y.min(dim=0).values, Y.max(dim=0).values
    return worst - 0.1 * (best - worst).clamp_min(1e-9)


def build_acquisition(
    kind: Acquisition,
    model: Model,
    order: list[int],
    problem: ProposalProblem,
    *,
    seed: int,
) -> AcquisitionFunction:
    """qLogNEHVI (default), qNEHVI or qLogNParEGO on the fitted model list.

    ``qlognehvi`` becomes qLogEHVI over the posterior-mean front past
    ``_NEHVI_MAX_OBSERVATIONS`` observations (see there why).
    """
    m = problem.num_objectives
    ref = problem.ref_point if problem.ref_point is not None else reference_point(problem.Y)
    objective = IdentityMCMultiOutputObjective(outcomes=list(range(m)))
    n_constraints = 0 if problem.C is None else problem.C.shape[-1]
    constraints = [_constraint(m + j) for j in range(n_constraints)] or None
    # A model list with a deterministic member has a list of posteriors, each needing its
    # own sampler kind (quasi-MC normal for GPs, index for exact models): ask BoTorch.
    large = kind == "qlognehvi" and len(problem.X) > _NEHVI_MAX_OBSERVATIONS
    n_samples = _EHVI_MC_SAMPLES if large else _MC_SAMPLES
    sampler = get_sampler(
        model.posterior(problem.X[:1]), sample_shape=torch.Size([n_samples]), seed=seed
    )
    common = {
        "model": model,
        "X_baseline": problem.X,
        "sampler": sampler,
        "objective": objective,
        "constraints": constraints,
        "X_pending": problem.X_pending,
        "prune_baseline": True,
        # Root caching needs one joint posterior; a model list has a list of them.
        "cache_root": not isinstance(model, ModelList),
    }
    if kind == "qlognparego":
        weights = _simplex_point(m, torch_generator(derive_seed(seed, _WEIGHTS_STREAM)))
        return qLogNParEGO(scalarization_weights=weights, **common)
    ref_ordered = ref[order].tolist()
    if large:
        partitioning = FastNondominatedPartitioning(
            ref_point=torch.tensor(ref_ordered, dtype=problem.Y.dtype),
            Y=_mean_front(model, problem.X, m),
        )
        return qLogExpectedHypervolumeImprovement(
            model=model,
            ref_point=ref_ordered,
            partitioning=partitioning,
            sampler=sampler,
            objective=objective,
            constraints=constraints,
            X_pending=problem.X_pending,
        )
    if kind == "qnehvi":
        return qNoisyExpectedHypervolumeImprovement(ref_point=ref_ordered, **common)
    return qLogNoisyExpectedHypervolumeImprovement(ref_point=ref_ordered, **common)


def _simplex_point(m: int, generator: torch.Generator) -> Tensor:
    """A point drawn uniformly from the probability simplex in ``m`` dimensions.

    Normalized exponential variates (a flat Dirichlet); BoTorch's ``sample_simplex``
    seeds torch's global RNG instead of taking a generator.
    """
    w = -torch.rand(m, generator=generator, dtype=torch.double).log()
    return w / w.sum()


def _mean_front(model: Model, X: Tensor, m: int) -> Tensor:
    """Posterior means of the objectives at ``X`` whose constraint means are feasible
    (``k x m``, model output order), or all rows when none is."""
    with torch.no_grad():
        mean = model.posterior(X).mean
    feasible = (mean[:, m:] <= 0).all(dim=-1)
    Y = mean[feasible, :m] if bool(feasible.any()) else mean[:, :m]
    return Y[is_non_dominated(Y)]


def _constraint(column: int) -> Callable[[Tensor], Tensor]:
    return lambda Z: Z[..., column]


def optimize(
    acqf: AcquisitionFunction,
    problem: ProposalProblem,
    *,
    candidates: Tensor | None,
    num_restarts: int,
    raw_samples: int,
    seed: int,
) -> tuple[Tensor, float]:
    """Maximize ``acqf`` over one point; return it (``1 x d``) and its value.

    Args:
        candidates: ``N x d`` every config still allowed (small discrete spaces): scored
            exactly instead of optimized. ``None`` for spaces too large to list.
        seed: Seed of the restarts. BoTorch's mixed optimizer takes none and draws from
            torch's global RNG: call it under ``moo.rng.seeded_global_rng``.
    """
    if candidates is not None:
        if len(candidates) > _SCREEN_KEEP and hasattr(acqf, "ref_point"):
            candidates = _screen(acqf, problem, candidates)
        return best_of(acqf, candidates)
    if problem.categorical_dims or problem.discrete_dims:
        X, value = optimize_acqf_mixed_alternating(
            acq_function=acqf,
            bounds=problem.bounds,
            discrete_dims=problem.discrete_dims or None,
            cat_dims=problem.categorical_dims or None,
            q=1,
            num_restarts=num_restarts,
            raw_samples=raw_samples,
        )
    else:
        starts = _starting_points(acqf, problem, num_restarts, raw_samples, seed)
        X, value = optimize_acqf(
            acq_function=acqf,
            bounds=problem.bounds,
            q=1,
            num_restarts=len(starts),
            batch_initial_conditions=starts,
        )
    return X.reshape(1, -1), float(value.max())


def _starting_points(
    acqf: AcquisitionFunction,
    problem: ProposalProblem,
    num_restarts: int,
    raw_samples: int,
    seed: int,
) -> Tensor:
    """BoTorch's restarts (the best of ``raw_samples`` random points) plus up to
    ``num_restarts`` observed front points, nudged by ``_FRONT_START_JITTER``.

    Past a few inputs, random points rarely fall next to the front, where the
    improvements are small but likely; without starts there L-BFGS keeps proposing far
    from it (ZDT1, whose optimal inputs lie on a face of the box). Optuna's GPSampler
    starts its local searches from front points for the same reason. ``restarts x 1 x d``.
    """
    random_starts = gen_batch_initial_conditions(
        acqf,
        problem.bounds,
        q=1,
        num_restarts=num_restarts,
        raw_samples=raw_samples,
        options={"seed": derive_seed(seed, _RAW_SAMPLES_STREAM)},
    )
    generator = torch_generator(derive_seed(seed, _FRONT_STARTS_STREAM))
    front = problem.X[is_non_dominated(problem.Y)]
    chosen = front[torch.randperm(len(front), generator=generator)[:num_restarts]]
    noise = torch.randn(chosen.shape, generator=generator, dtype=chosen.dtype)
    nudged = chosen + _FRONT_START_JITTER * noise
    nudged = nudged.clamp(problem.bounds[0], problem.bounds[1])
    return torch.cat([random_starts, nudged.unsqueeze(-2)])


def _screen(acqf: AcquisitionFunction, problem: ProposalProblem, candidates: Tensor) -> Tensor:
    """The ``_SCREEN_KEEP`` candidates whose optimistic objectives add the most hypervolume
    to the posterior-mean front (objectives only; constraints are left to ``acqf``)."""
    m = problem.num_objectives
    ref = acqf.ref_point.to(candidates)  # type: ignore[union-attr]
    model = acqf.model  # type: ignore[union-attr]
    cells = FastNondominatedPartitioning(
        ref_point=ref, Y=_mean_front(model, problem.X, m)
    ).get_hypercell_bounds()  # `2 x cells x m`
    scores = []
    with torch.no_grad():
        for chunk in candidates.split(_ENUMERATION_BATCH):
            # `chunk x 1 x d`: marginals only, not the `chunk x chunk` joint covariance.
            posterior = model.posterior(chunk.unsqueeze(-2))
            sd = posterior.variance[:, 0, :m].clamp_min(0).nan_to_num().sqrt()
            optimistic = posterior.mean[:, 0, :m] + _SCREEN_BETA * sd
            sides = torch.minimum(optimistic.unsqueeze(-2), cells[1]) - cells[0]
            scores.append(sides.clamp_min(0).prod(dim=-1).sum(dim=-1))
    keep = torch.cat(scores).topk(_SCREEN_KEEP).indices.sort().values
    return candidates[keep]


def best_of(acqf: AcquisitionFunction, candidates: Tensor) -> tuple[Tensor, float]:
    """The candidate row with the highest acquisition value, scored in batches."""
    best_value, best_row = -math.inf, candidates[:1]
    with torch.no_grad():
        for chunk in candidates.split(_ENUMERATION_BATCH):
            values = acqf(chunk.unsqueeze(-2))
            i = int(values.argmax())
            if float(values[i]) > best_value:
                best_value, best_row = float(values[i]), chunk[i : i + 1]
    return best_row, best_value
