"""A plain BoTorch qNEHVI loop, as in BoTorch's multi-objective BO tutorial.

The reference that moo must match without Optuna in between: one ``SingleTaskGP`` per
objective in a ``ModelListGP`` on unit-cube inputs, standardized outcomes, qNEHVI
[Daulton2021nehvi]_ with the problem's reference point and 128 quasi-MC samples, and
``optimize_acqf`` with 10 restarts from 512 raw samples. Categorical spaces (NAS-Bench-201)
are one-hot encoded and every unseen config is scored (``optimize_acqf_discrete``), since
the tutorial has no mixed optimizer.

.. [Daulton2021nehvi] S. Daulton, M. Balandat, E. Bakshy. Parallel Bayesian Optimization
   of Multiple Noisy Objectives with Expected Hypervolume Improvement. NeurIPS 2021.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from time import perf_counter
from typing import Any

import torch
from botorch.acquisition.multi_objective.monte_carlo import (
    qNoisyExpectedHypervolumeImprovement,
)
from botorch.fit import fit_gpytorch_mll
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.optim import optimize_acqf, optimize_acqf_discrete
from botorch.sampling import SobolQMCNormalSampler
from gpytorch.mlls import SumMarginalLogLikelihood
from torch import Tensor

from moo.rng import seeded_global_rng
from moo.space import CategoricalParam, FloatParam, SearchSpace

__all__ = ["run_botorch_loop", "supports"]

# The tutorial's settings.
MC_SAMPLES = 128
NUM_RESTARTS = 10
RAW_SAMPLES = 512


def supports(space: SearchSpace) -> bool:
    """The tutorial loop handles all-continuous spaces; here also all-categorical ones."""
    params = space.parameters.values()
    continuous = all(isinstance(p, FloatParam) and p.step is None for p in params)
    return continuous or all(isinstance(p, CategoricalParam) for p in params)


def run_botorch_loop(
    space: SearchSpace,
    evaluate: Callable[[Mapping[str, Any]], tuple[float, ...]],
    reference_point: Sequence[float],
    initial: list[dict[str, Any]],
    budget: int,
    seed: int,
) -> list[tuple[tuple[float, ...], float]]:
    """Evaluate ``initial``, then propose with qNEHVI until ``budget`` trials.

    Args:
        space: An all-continuous or all-categorical space (see ``supports``).
        evaluate: Config -> objective values, all *minimized*.
        reference_point: Hypervolume reference point (minimization units).
        initial: The initial design, evaluated first (counts towards ``budget``).
        budget: Total number of evaluations.
        seed: Seeds the MC sampler and the restarts, which BoTorch draws from torch's
            global RNG: under ``moo.rng.seeded_global_rng``, which restores it.

    Returns:
        ``(objective values, optimizer seconds)`` per trial; 0 s for the initial design.
    """
    if not supports(space):
        raise ValueError(
            f"The plain BoTorch loop needs an all-continuous or all-categorical "
            f"space; got parameters {space.names}."
        )
    configs = initial[:budget]
    results = [(evaluate(config), 0.0) for config in configs]
    X = space.encode(configs)
    ref = [-r for r in reference_point]  # BoTorch maximizes
    with seeded_global_rng(seed):
        while len(results) < budget:
            start = perf_counter()
            Y = -torch.tensor([values for values, _ in results], dtype=torch.double)
            x = _propose(space, X, Y, ref)
            seconds = perf_counter() - start
            config = space.decode(x)[0]
            results.append((evaluate(config), seconds))
            X = torch.cat([X, x])
    return results


def _propose(space: SearchSpace, X: Tensor, Y: Tensor, ref: list[float]) -> Tensor:
    """The qNEHVI maximizer, encoded as ``space.encode`` does (`1 x d`)."""
    features = _features(space, X)
    model = ModelListGP(
        *[
            SingleTaskGP(features, Y[:, i : i + 1], outcome_transform=Standardize(m=1))
            for i in range(Y.shape[-1])
        ]
    )
    fit_gpytorch_mll(SumMarginalLogLikelihood(model.likelihood, model))
    acqf = qNoisyExpectedHypervolumeImprovement(
        model=model,
        ref_point=ref,
        X_baseline=features,
        prune_baseline=True,
        sampler=SobolQMCNormalSampler(sample_shape=torch.Size([MC_SAMPLES])),
    )
    if space.categorical_dims:
        seen = {tuple(row) for row in X.tolist()}
        unseen = torch.stack([g for g in space.grid_points() if tuple(g.tolist()) not in seen])
        choices = _features(space, unseen)
        candidate, _ = optimize_acqf_discrete(acqf, q=1, choices=choices)
        return unseen[(choices == candidate).all(dim=-1)][:1]
    candidate, _ = optimize_acqf(
        acqf,
        bounds=space.bounds,
        q=1,
        num_restarts=NUM_RESTARTS,
        raw_samples=RAW_SAMPLES,
        options={"batch_limit": 5, "maxiter": 200},
    )
    return candidate.detach()


def _features(space: SearchSpace, X: Tensor) -> Tensor:
    """GP inputs: unit-cube coordinates, categoricals one-hot (`n x d'`)."""
    if not space.categorical_dims:
        return X
    columns = [
        torch.nn.functional.one_hot(X[:, i].long(), len(levels)).to(X)
        for i, levels in space.categorical_dims.items()
    ]
    return torch.cat(columns, dim=-1)
