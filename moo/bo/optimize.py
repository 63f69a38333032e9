"""Acquisition optimization: where a proposal looks, by the kind of search space.

Four routes, chosen by ``maximize`` from the space alone:

- a discrete space of at most ``max_enumeration`` configs is scored exhaustively (exact,
  and on a CPU faster than a gradient search once the posterior is cached), after a
  cheap optimistic ``screen`` when it has more than ``screen_size`` unseen configs;
- a larger discrete space gets a ``local_search``: a random pool plus the observed
  front's neighbours, then hill-climbing;
- a mixed space with infinitely many configs goes to BoTorch's
  ``optimize_acqf_mixed_alternating``;
- a continuous space gets L-BFGS from BoTorch's restarts and from observed front points
  (``starting_points``).

A proposal that rounds to an evaluated config is replaced by the best unseen config of
a random pool (the dedupe fallback): a study never proposes a config twice. Everything is
maximized; inputs are encoded by ``moo.space.SearchSpace``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.optim import optimize_acqf, optimize_acqf_mixed_alternating
from botorch.optim.initializers import gen_batch_initial_conditions
from botorch.utils.multi_objective import is_non_dominated
from botorch.utils.multi_objective.box_decompositions import FastNondominatedPartitioning
from torch import Tensor

from moo.bo.acquisitions import mean_front
from moo.bo.problem import ProposalProblem
from moo.bo.settings import ProposalSettings
from moo.rng import derive_seed, torch_generator
from moo.space import SearchSpace, row_key

__all__ = [
    "Screen",
    "StartingPoints",
    "best_of",
    "dedupe",
    "local_search",
    "maximize",
    "random_pool",
    "screen",
    "starting_points",
    "unseen",
]

Seen = set[tuple[float, ...]]
Screen = Callable[[AcquisitionFunction, ProposalProblem, Tensor, ProposalSettings], Tensor]
"""``screen(acqf, problem, candidates, settings) -> kept candidates``."""
StartingPoints = Callable[[AcquisitionFunction, ProposalProblem, ProposalSettings, int], Tensor]
"""``starting_points(acqf, problem, settings, seed) -> restarts x 1 x d``."""

# Candidate rows scored per forward pass when enumerating a discrete space.
_ENUMERATION_BATCH = 1024
# Purposes of the random streams one proposal derives from its seed (``derive_seed``);
# 1 is ParEGO's weights (``moo.bo.acquisitions``).
_RAW_SAMPLES_STREAM, _FRONT_STARTS_STREAM = 2, 3


def best_of(acqf: AcquisitionFunction, candidates: Tensor) -> tuple[Tensor, float]:
    """The candidate row with the highest acquisition value (``1 x d``), scored in batches."""
    best_value, best_row = -math.inf, candidates[:1]
    with torch.no_grad():
        for chunk in candidates.split(_ENUMERATION_BATCH):
            values = acqf(chunk.unsqueeze(-2))
            i = int(values.argmax())
            if float(values[i]) > best_value:
                best_value, best_row = float(values[i]), chunk[i : i + 1]
    return best_row, best_value


def screen(
    acqf: AcquisitionFunction,
    problem: ProposalProblem,
    candidates: Tensor,
    settings: ProposalSettings,
) -> Tensor:
    """The ``screen_size`` candidates whose optimistic objectives (mean + ``screen_beta``
    sd) add the most hypervolume to the posterior-mean front; constraints are left to
    ``acqf``. Scoring every cell of NAS-Bench-201 (15,625) with the MC acquisition took
    most of a proposal; this takes milliseconds."""
    assert settings.screen_size is not None
    m = problem.num_objectives
    ref = acqf.ref_point.to(candidates)  # type: ignore[union-attr]
    model = acqf.model  # type: ignore[union-attr]
    cells = FastNondominatedPartitioning(
        ref_point=ref, Y=mean_front(model, problem.X, m)
    ).get_hypercell_bounds()  # `2 x cells x m`
    scores = []
    with torch.no_grad():
        for chunk in candidates.split(_ENUMERATION_BATCH):
            # `chunk x 1 x d`: marginals only, not the `chunk x chunk` joint covariance.
            posterior = model.posterior(chunk.unsqueeze(-2))
            sd = posterior.variance[:, 0, :m].clamp_min(0).nan_to_num().sqrt()
            optimistic = posterior.mean[:, 0, :m] + settings.screen_beta * sd
            sides = torch.minimum(optimistic.unsqueeze(-2), cells[1]) - cells[0]
            scores.append(sides.clamp_min(0).prod(dim=-1).sum(dim=-1))
    keep = torch.cat(scores).topk(settings.screen_size).indices.sort().values
    return candidates[keep]


def starting_points(
    acqf: AcquisitionFunction,
    problem: ProposalProblem,
    settings: ProposalSettings,
    seed: int,
) -> Tensor:
    """BoTorch's restarts (the best of ``raw_samples`` random points) plus, with
    ``front_starts``, up to ``num_restarts`` observed front points nudged by
    ``front_start_jitter``: ``restarts x 1 x d``.

    Past a few inputs random points rarely fall next to the front, where improvements are
    small but likely; without starts there L-BFGS kept proposing far from it (ZDT1, whose
    optimal inputs lie on a face of the box). Optuna's GPSampler starts its local
    searches from front points for the same reason.
    """
    n = settings.num_restarts
    random_starts = gen_batch_initial_conditions(
        acqf,
        problem.bounds,
        q=1,
        num_restarts=n,
        raw_samples=settings.raw_samples,
        options={"seed": derive_seed(seed, _RAW_SAMPLES_STREAM)},
    )
    if not settings.front_starts:
        return random_starts
    generator = torch_generator(derive_seed(seed, _FRONT_STARTS_STREAM))
    front = problem.X[is_non_dominated(problem.Y)]
    chosen = front[torch.randperm(len(front), generator=generator)[:n]]
    noise = torch.randn(chosen.shape, generator=generator, dtype=chosen.dtype)
    nudged = chosen + settings.front_start_jitter * noise
    nudged = nudged.clamp(problem.bounds[0], problem.bounds[1])
    return torch.cat([random_starts, nudged.unsqueeze(-2)])


def local_search(
    acqf: AcquisitionFunction,
    space: SearchSpace,
    problem: ProposalProblem,
    seen: Seen,
    generator: torch.Generator,
    settings: ProposalSettings,
) -> tuple[Tensor, float]:
    """Best unseen config of a large discrete space: score a random pool of
    ``local_pool`` configs plus the neighbours of the observed front, then climb from the
    best for up to ``local_steps`` steps to a better unseen neighbour.

    Exhaustive scoring is impossible past ``max_enumeration`` configs, and BoTorch's
    mixed optimizer spends most of its time on starting points that a batched pool
    scores in one posterior call; with known objectives (a Python hardware model per
    config) the pool also keeps their evaluations few.
    """
    pool = random_pool(space, settings.local_pool, generator)
    front = problem.X[is_non_dominated(problem.Y)] if len(problem.Y) else problem.X[:0]
    candidates = unseen(dedupe(torch.cat([pool, space.neighbours(front)])), seen)
    best, value = best_of(acqf, candidates)
    for _ in range(settings.local_steps):
        step = unseen(dedupe(space.neighbours(best)), seen)
        if len(step) == 0:
            break
        X, v = best_of(acqf, step)
        if v <= value:
            break
        best, value = X, v
    return best, value


def maximize(
    acqf: AcquisitionFunction,
    problem: ProposalProblem,
    space: SearchSpace,
    seen: Seen,
    *,
    candidates: Tensor | None,
    seed: int,
    settings: ProposalSettings,
    screen: Screen = screen,
    starting_points: StartingPoints = starting_points,
) -> tuple[Tensor, float]:
    """The unseen config (``1 x d``, rounded to the space) that maximizes ``acqf``, and
    its value, by the route the space calls for (see the module docstring).

    Args:
        candidates: ``N x d`` every unseen config of a space small enough to enumerate,
            else ``None``.
        seed: Seed of the proposal's random draws. BoTorch's mixed optimizer takes none
            and draws from torch's global RNG: call this under
            ``moo.rng.seeded_global_rng``.
        screen, starting_points: The hooks of the enumerated and continuous routes.
    """
    generator = torch_generator(seed)
    if candidates is not None:
        if (
            settings.screen_size is not None
            and len(candidates) > settings.screen_size
            and hasattr(acqf, "ref_point")
        ):
            candidates = screen(acqf, problem, candidates, settings)
        X, value = best_of(acqf, candidates)
    elif math.isfinite(space.n_configs()):
        X, value = local_search(acqf, space, problem, seen, generator, settings)
    elif problem.categorical_dims or problem.discrete_dims:
        X, value = optimize_acqf_mixed_alternating(
            acq_function=acqf,
            bounds=problem.bounds,
            discrete_dims=problem.discrete_dims or None,
            cat_dims=problem.categorical_dims or None,
            q=1,
            num_restarts=settings.num_restarts,
            raw_samples=settings.raw_samples,
        )
        X, value = X.reshape(1, -1), float(value.max())
    else:
        starts = starting_points(acqf, problem, settings, seed)
        X, value = optimize_acqf(
            acq_function=acqf,
            bounds=problem.bounds,
            q=1,
            num_restarts=len(starts),
            batch_initial_conditions=starts,
        )
        X, value = X.reshape(1, -1), float(value.max())
    X = space.round(X)
    if row_key(X[0]) in seen:
        X, value = best_of(acqf, unseen(random_pool(space, settings.dedupe_pool, generator), seen))
    return X, value


def random_pool(space: SearchSpace, n: int, generator: torch.Generator) -> Tensor:
    """``n x d`` encoded configs drawn uniformly (categoricals by equal-width bins)."""
    U = torch.rand(n, space.dim, generator=generator, dtype=torch.double)
    return space.encode(space.from_unit_cube(U))


def dedupe(X: Tensor) -> Tensor:
    """The rows of ``X`` without repeats, in their first order."""
    keys: dict[tuple[float, ...], int] = {}
    for i, row in enumerate(X):
        keys.setdefault(row_key(row), i)
    return X[list(keys.values())]


def unseen(X: Tensor, seen: Seen) -> Tensor:
    """The rows of ``X`` whose config is not in ``seen``."""
    keep = [i for i, row in enumerate(X) if row_key(row) not in seen]
    return X[keep]
