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

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.multi_objective import (
    qNoisyExpectedHypervolumeImprovement,
)
from botorch.acquisition.multi_objective.logei import (
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
from botorch.sampling.get_sampler import get_sampler
from botorch.utils.multi_objective import infer_reference_point, is_non_dominated
from botorch.utils.sampling import sample_simplex
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

__all__ = [
    "Acquisition",
    "KnownObjective",
    "ProposalProblem",
    "best_of",
    "build_acquisition",
    "fit_model",
    "optimize",
    "reference_point",
]

Acquisition = Literal["qlognehvi", "qnehvi", "qlognparego"]
KnownObjective = Callable[[Tensor], Tensor]
"""An exact objective: ``batch x d`` encoded points -> ``batch`` values (maximized)."""

# MC samples of the posterior. qNEHVI integrates over the baseline front sample by sample,
# so its cost grows with this number times the box decomposition of each sample; 64 keeps
# the estimate's noise well below the GP's for 2-4 objectives at a quarter of the cost.
_MC_SAMPLES = 64
# Candidate rows scored per forward pass when enumerating a discrete space.
_ENUMERATION_BATCH = 1024


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

    @property
    def num_objectives(self) -> int:
        return self.Y.shape[-1]


# L-BFGS iterations of a hyperparameter fit. The marginal likelihood is flat near its
# optimum; past ~100 steps the fit changes the proposal little and costs seconds
# (MixedSingleTaskGP on 60 points ran 500 steps, 20 s, on the quickstart study).
_FIT_MAXITER = 100


def fit_gp(X: Tensor, Y: Tensor, categorical_dims: Sequence[int]) -> Model:
    """A batched GP with one output per column of ``Y``, outcomes standardized.

    Categorical dimensions get MixedSingleTaskGP's categorical kernel instead of being
    treated as numbers; everything else is already scaled to ``[0, 1]`` by the encoding.
    """
    with warnings.catch_warnings():
        # Categorical indices lie outside [0, 1] by design.
        warnings.simplefilter("ignore", InputDataWarning)
        outcome_transform = Standardize(m=Y.shape[-1])
        if categorical_dims:
            gp: Model = MixedSingleTaskGP(
                X, Y, cat_dims=list(categorical_dims), outcome_transform=outcome_transform
            )
        else:
            gp = SingleTaskGP(X, Y, outcome_transform=outcome_transform)
        fit_gpytorch_mll(
            ExactMarginalLogLikelihood(gp.likelihood, gp),
            optimizer_kwargs={"options": {"maxiter": _FIT_MAXITER}},
        )
    return gp


def fit_model(problem: ProposalProblem) -> tuple[Model, list[int]]:
    """Fit the model list; return it and the objective order of its outputs.

    Returns:
        The model, whose outputs are ``[learned objectives, known objectives,
        constraints]``, and ``order`` such that output ``j`` is objective ``order[j]``.
    """
    m = problem.num_objectives
    learned = [i for i in range(m) if i not in problem.known]
    known = [i for i in range(m) if i in problem.known]
    cat_dims = list(problem.categorical_dims)
    models: list[Model] = []
    if learned:
        models.append(fit_gp(problem.X, problem.Y[:, learned], cat_dims))
    if known:
        functions = [problem.known[i] for i in known]

        def exact(X: Tensor) -> Tensor:
            flat = X.reshape(-1, X.shape[-1])
            values = torch.stack([f(flat) for f in functions], dim=-1)
            return values.reshape(*X.shape[:-1], len(functions)).to(X)

        models.append(GenericDeterministicModel(exact, num_outputs=len(known)))
    if problem.C is not None and problem.X_constraints is not None and problem.C.numel():
        models.append(fit_gp(problem.X_constraints, problem.C, cat_dims))
    model = models[0] if len(models) == 1 else ModelList(*models)
    return model, learned + known


def reference_point(Y: Tensor) -> Tensor:
    """BoTorch's heuristic: the nadir of the observed front, pushed 10% of its range out."""
    return infer_reference_point(Y[is_non_dominated(Y)])


def build_acquisition(
    kind: Acquisition,
    model: Model,
    order: list[int],
    problem: ProposalProblem,
    *,
    seed: int,
) -> AcquisitionFunction:
    """qLogNEHVI (default), qNEHVI or qLogNParEGO on the fitted model list."""
    m = problem.num_objectives
    ref = problem.ref_point if problem.ref_point is not None else reference_point(problem.Y)
    objective = IdentityMCMultiOutputObjective(outcomes=list(range(m)))
    n_constraints = 0 if problem.C is None else problem.C.shape[-1]
    constraints = [_constraint(m + j) for j in range(n_constraints)] or None
    # A model list with a deterministic member has a list of posteriors, each needing its
    # own sampler kind (quasi-MC normal for GPs, index for exact models): ask BoTorch.
    sampler = get_sampler(
        model.posterior(problem.X[:1]), sample_shape=torch.Size([_MC_SAMPLES]), seed=seed
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
        generator = torch.Generator().manual_seed(seed)
        weights = sample_simplex(m, generator=generator, dtype=problem.Y.dtype).squeeze(0)
        return qLogNParEGO(scalarization_weights=weights, **common)
    ref_ordered = ref[order].tolist()
    if kind == "qnehvi":
        return qNoisyExpectedHypervolumeImprovement(ref_point=ref_ordered, **common)
    return qLogNoisyExpectedHypervolumeImprovement(ref_point=ref_ordered, **common)


def _constraint(column: int) -> Callable[[Tensor], Tensor]:
    return lambda Z: Z[..., column]


def optimize(
    acqf: AcquisitionFunction,
    problem: ProposalProblem,
    *,
    candidates: Tensor | None,
    num_restarts: int,
    raw_samples: int,
) -> tuple[Tensor, float]:
    """Maximize ``acqf`` over one point; return it (``1 x d``) and its value.

    Args:
        candidates: ``N x d`` every config still allowed (small discrete spaces): scored
            exactly instead of optimized. ``None`` for spaces too large to list.
    """
    if candidates is not None:
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
        X, value = optimize_acqf(
            acq_function=acqf,
            bounds=problem.bounds,
            q=1,
            num_restarts=num_restarts,
            raw_samples=raw_samples,
        )
    return X.reshape(1, -1), float(value.max())


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
