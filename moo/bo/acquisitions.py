r"""Acquisition functions of a proposal: one typed constructor per acquisition.

As in BoTorch's ``input_constructors.py``, each acquisition has a small constructor that
takes what it needs by name; ``build_acquisition`` only chooses one. ``qlognehvi`` (the
default) becomes qLogEHVI on the posterior-mean front past
``ProposalSettings.ehvi_after`` observations: qLogNEHVI decomposes the box partitioning
of every MC sample of the baseline front, qLogEHVI one front, and with many observations
the posterior at the baseline is nearly certain. ``acquisition_name`` names the one
built, and the sampler logs the switch.

Everything is maximized (BoTorch's convention); model outputs are ordered ``[learned
objectives, known objectives, constraints]`` (``moo.bo.models.fit_model``).

.. [Daulton2021nehvi] S. Daulton, M. Balandat, E. Bakshy. Parallel Bayesian Optimization
   of Multiple Noisy Objectives with Expected Hypervolume Improvement. NeurIPS 2021.
.. [Ament2023logei] S. Ament et al. Unexpected Improvements to Expected Improvement for
   Bayesian Optimization. NeurIPS 2023.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import botorch.acquisition.multi_objective.logei as _logei
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.multi_objective import qNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.logei import (
    qLogExpectedHypervolumeImprovement,
    qLogNoisyExpectedHypervolumeImprovement,
)
from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
from botorch.acquisition.multi_objective.parego import qLogNParEGO
from botorch.models import ModelList
from botorch.models.model import Model
from botorch.sampling.base import MCSampler
from botorch.sampling.get_sampler import get_sampler
from botorch.utils.multi_objective import is_non_dominated
from botorch.utils.multi_objective.box_decompositions import FastNondominatedPartitioning
from torch import Tensor

from moo.bo.problem import Acquisition, ProposalProblem
from moo.bo.settings import ProposalSettings
from moo.pareto import REFERENCE_MARGIN, inferred_reference
from moo.rng import derive_seed, torch_generator

__all__ = [
    "AcquisitionName",
    "acquisition_name",
    "build_acquisition",
    "construct_qlogehvi",
    "construct_qlognehvi",
    "construct_qlognparego",
    "construct_qnehvi",
    "mean_front",
    "reference_point",
]

AcquisitionName = Literal["qlognehvi", "qlogehvi", "qnehvi", "qlognparego"]
"""The acquisition a proposal builds: the requested one, or ``qlogehvi`` past the switch."""
Constraint = Callable[[Tensor], Tensor]
# Purpose of the random stream of ParEGO's weights under a proposal's seed.
_WEIGHTS_STREAM = 1


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


def reference_point(Y: Tensor, margin: float = REFERENCE_MARGIN) -> Tensor:
    """``moo.pareto.inferred_reference`` of the maximized rows ``Y`` (``n x m``): ``m``."""
    minimized = -Y.detach().cpu().numpy()
    return -torch.from_numpy(inferred_reference(minimized, margin)).to(Y)


def acquisition_name(
    kind: Acquisition, n_observations: int, settings: ProposalSettings
) -> AcquisitionName:
    """The acquisition ``build_acquisition`` makes for ``kind`` at ``n_observations``."""
    after = settings.ehvi_after
    if kind == "qlognehvi" and after is not None and n_observations > after:
        return "qlogehvi"
    return kind


def construct_qlognehvi(
    model: Model,
    problem: ProposalProblem,
    *,
    ref_point: list[float],
    sampler: MCSampler,
    constraints: list[Constraint] | None,
) -> qLogNoisyExpectedHypervolumeImprovement:
    """qLogNEHVI over the observed configs as the noisy baseline [Ament2023logei]."""
    return qLogNoisyExpectedHypervolumeImprovement(
        ref_point=ref_point, **_noisy_inputs(model, problem, sampler, constraints)
    )


def construct_qnehvi(
    model: Model,
    problem: ProposalProblem,
    *,
    ref_point: list[float],
    sampler: MCSampler,
    constraints: list[Constraint] | None,
) -> qNoisyExpectedHypervolumeImprovement:
    """qNEHVI [Daulton2021nehvi], without the log transform (for comparison runs)."""
    return qNoisyExpectedHypervolumeImprovement(
        ref_point=ref_point, **_noisy_inputs(model, problem, sampler, constraints)
    )


def construct_qlognparego(
    model: Model,
    problem: ProposalProblem,
    *,
    weights: Tensor,
    sampler: MCSampler,
    constraints: list[Constraint] | None,
) -> qLogNParEGO:
    """qLogNParEGO with the scalarization ``weights`` (``m``): hypervolume-free, for
    many objectives."""
    return qLogNParEGO(
        scalarization_weights=weights, **_noisy_inputs(model, problem, sampler, constraints)
    )


def construct_qlogehvi(
    model: Model,
    problem: ProposalProblem,
    *,
    ref_point: list[float],
    sampler: MCSampler,
    constraints: list[Constraint] | None,
) -> qLogExpectedHypervolumeImprovement:
    """qLogEHVI over the posterior-mean front of the observed configs: one box
    decomposition, where qLogNEHVI makes one per MC sample of the baseline."""
    m = problem.num_objectives
    partitioning = FastNondominatedPartitioning(
        ref_point=torch.tensor(ref_point, dtype=problem.Y.dtype),
        Y=mean_front(model, problem.X, m),
    )
    return qLogExpectedHypervolumeImprovement(
        model=model,
        ref_point=ref_point,
        partitioning=partitioning,
        sampler=sampler,
        objective=IdentityMCMultiOutputObjective(outcomes=list(range(m))),
        constraints=constraints,
        X_pending=problem.X_pending,
    )


def _noisy_inputs(
    model: Model,
    problem: ProposalProblem,
    sampler: MCSampler,
    constraints: list[Constraint] | None,
) -> dict[str, object]:
    """The arguments the noisy acquisitions share."""
    return {
        "model": model,
        "X_baseline": problem.X,
        "sampler": sampler,
        "objective": IdentityMCMultiOutputObjective(outcomes=list(range(problem.num_objectives))),
        "constraints": constraints,
        "X_pending": problem.X_pending,
        "prune_baseline": True,
        # Root caching needs one joint posterior; a model list has a list of them.
        "cache_root": not isinstance(model, ModelList),
    }


def build_acquisition(
    kind: Acquisition,
    model: Model,
    order: list[int],
    problem: ProposalProblem,
    *,
    seed: int,
    settings: ProposalSettings | None = None,
) -> AcquisitionFunction:
    """The acquisition ``acquisition_name(kind, ...)`` on the fitted model list.

    Args:
        kind: The requested acquisition.
        model: ``fit_model``'s model; ``order[j]`` is the objective of its output ``j``.
        problem: The proposal's data; its ``ref_point``, or the inferred one.
        seed: Seed of the MC samples (and of ParEGO's weights).
        settings: MC sample counts, the switch and the reference margin.
    """
    settings = settings or ProposalSettings()
    name = acquisition_name(kind, len(problem.X), settings)
    m = problem.num_objectives
    ref = problem.ref_point
    if ref is None:
        ref = reference_point(problem.Y, settings.reference_margin)
    n_constraints = 0 if problem.C is None else problem.C.shape[-1]
    constraints = [_constraint(m + j) for j in range(n_constraints)] or None
    # A model list with a deterministic member has a list of posteriors, each needing its
    # own sampler kind (quasi-MC normal for GPs, index for exact models): ask BoTorch.
    n_samples = settings.ehvi_mc_samples if name == "qlogehvi" else settings.mc_samples
    sampler = get_sampler(
        model.posterior(problem.X[:1]), sample_shape=torch.Size([n_samples]), seed=seed
    )
    inputs = {"sampler": sampler, "constraints": constraints}
    if name == "qlognparego":
        weights = _simplex_point(m, torch_generator(derive_seed(seed, _WEIGHTS_STREAM)))
        return construct_qlognparego(model, problem, weights=weights, **inputs)
    constructor = _HYPERVOLUME_CONSTRUCTORS[name]
    return constructor(model, problem, ref_point=ref[order].tolist(), **inputs)


_HYPERVOLUME_CONSTRUCTORS: dict[str, Callable[..., AcquisitionFunction]] = {
    "qlognehvi": construct_qlognehvi,
    "qnehvi": construct_qnehvi,
    "qlogehvi": construct_qlogehvi,
}


def _simplex_point(m: int, generator: torch.Generator) -> Tensor:
    """A point drawn uniformly from the probability simplex in ``m`` dimensions.

    Normalized exponential variates (a flat Dirichlet); BoTorch's ``sample_simplex``
    seeds torch's global RNG instead of taking a generator.
    """
    w = -torch.rand(m, generator=generator, dtype=torch.double).log()
    return w / w.sum()


def mean_front(model: Model, X: Tensor, m: int) -> Tensor:
    """Posterior means of the objectives at ``X`` whose constraint means are feasible
    (``k x m``, model output order), or all rows when none is."""
    with torch.no_grad():
        mean = model.posterior(X).mean
    feasible = (mean[:, m:] <= 0).all(dim=-1)
    Y = mean[feasible, :m] if bool(feasible.any()) else mean[:, :m]
    return Y[is_non_dominated(Y)]


def _constraint(column: int) -> Constraint:
    return lambda Z: Z[..., column]
