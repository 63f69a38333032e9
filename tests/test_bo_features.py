"""Known objectives as GP inputs (``moo.bo.features``): what they let a GP learn, their
scale, and every acquisition route with them. Real GPs and acquisitions, nothing mocked."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from botorch.models import ModelList, ModelListGP

from moo.bo import (
    KnownFeatures,
    ProposalProblem,
    ProposalSettings,
    build_acquisition,
    fit_model,
    maximize,
)
from moo.bo.known import ExactObjective
from moo.bo.optimize import dedupe, random_pool, unseen
from moo.rng import seeded_global_rng
from moo.space import SearchSpace, row_key

N_KINDS = 40
# An exact "latency" per kind of a categorical parameter, spread over two decades.
_SPREAD = np.logspace(0, 2, N_KINDS)[np.random.default_rng(3).permutation(N_KINDS)]
LATENCY = dict(enumerate(_SPREAD.tolist()))


def kinds_space(*extra: tuple[str, dict]) -> SearchSpace:
    parameters = {"kind": {"type": "categorical", "choices": [f"k{i}" for i in range(N_KINDS)]}}
    return SearchSpace.from_dict({"parameters": {**parameters, **dict(extra)}})


def latency(config: dict) -> float:
    return float(LATENCY[int(config["kind"][1:])] * (1.0 + config.get("x", 0.0)))


def known_latency(space: SearchSpace) -> ExactObjective:
    """``-log10 latency`` (maximized), as the sampler builds it from the adapter."""
    return ExactObjective(space, latency, -1.0, log=True, unusable=-10.0)


def accuracy(config: dict) -> float:
    """Peaks at 10 ms: a function of the latency the GP over ``kind`` alone cannot see."""
    return -((math.log10(latency(config)) - 1.0) ** 2)


def problem_of(space: SearchSpace, X: torch.Tensor, **kwargs: object) -> ProposalProblem:
    configs = space.decode(X)
    Y = torch.tensor([[accuracy(c), -math.log10(latency(c))] for c in configs], dtype=torch.double)
    return ProposalProblem(
        X=X,
        Y=Y,
        bounds=space.bounds,
        categorical_dims=space.categorical_dims,
        discrete_dims=space.discrete_dims,
        known={1: known_latency(space)},
        deterministic=True,
        **kwargs,  # type: ignore[arg-type]
    )


def test_the_features_let_a_gp_predict_kinds_it_never_saw() -> None:
    space = kinds_space()
    grid = space.grid_points()
    train, test = grid[:16], grid[16:]
    problem = problem_of(space, train)
    truth = torch.tensor([accuracy(c) for c in space.decode(test)], dtype=torch.double)
    errors = {}
    for on in (True, False):
        model, order = fit_model(problem, ProposalSettings(known_features=on))
        assert order == [0, 1]
        with torch.no_grad():
            mean = model.posterior(test).mean[:, 0]
        errors[on] = float((mean - truth).pow(2).mean().sqrt())
    # A categorical kernel knows nothing of an unseen kind: it predicts about the mean.
    # Through the latency the GP interpolates between kinds of similar latency.
    assert errors[True] < 0.25 * errors[False], errors


def test_features_span_the_unit_interval_on_the_trials_and_keep_the_gradient() -> None:
    space = kinds_space(("x", {"type": "float", "low": 0.0, "high": 1.0}))
    X = dedupe(random_pool(space, 12, torch.Generator().manual_seed(0)))
    problem = problem_of(space, X)
    features = KnownFeatures([problem.known[1]], problem.Y[:, 1:])
    trained = features.augment(X, problem.Y[:, 1:])
    assert trained.shape == (12, X.shape[-1] + 1)
    assert float(trained[:, -1].min()) == 0.0 and float(trained[:, -1].max()) == 1.0
    # Candidates get the feature the trials got: the same exact function, the same map.
    assert torch.allclose(features.transform(X), trained, atol=1e-12)
    batch = X[:6].reshape(3, 2, -1).clone().requires_grad_(True)
    out = features.transform(batch)
    assert out.shape == (3, 2, X.shape[-1] + 1)
    out.sum().backward()
    assert batch.grad is not None and bool((batch.grad == 1).all())


def test_a_metric_of_one_sign_enters_as_the_log_of_its_magnitude() -> None:
    space = kinds_space()
    X = torch.zeros(3, 1, dtype=torch.double)

    def plain(X: torch.Tensor) -> torch.Tensor:
        return torch.zeros(X.shape[:-1], dtype=X.dtype)

    # -latency (maximized) of 1, 10 and 100 ms: a decade apart, a half apart as features.
    latencies = torch.tensor([[-1.0], [-10.0], [-100.0]], dtype=torch.double)
    logged = KnownFeatures([plain], latencies).augment(X, latencies)[:, -1]
    assert torch.allclose(logged, torch.tensor([0.0, 0.5, 1.0], dtype=torch.double))
    # A value of either sign stays linear; so does one already on a log scale.
    mixed = torch.tensor([[-1.0], [0.0], [3.0]], dtype=torch.double)
    linear = KnownFeatures([plain], mixed).augment(X, mixed)[:, -1]
    assert torch.allclose(linear, torch.tensor([0.0, 0.25, 1.0], dtype=torch.double))
    log_scale = ExactObjective(space, latency, -1.0, log=True, unusable=-10.0)
    values = torch.tensor([[-1.0], [-1.5], [-2.0]], dtype=torch.double)  # -log10 latency
    as_is = KnownFeatures([log_scale], values).augment(X, values)[:, -1]
    assert torch.allclose(as_is, torch.tensor([1.0, 0.5, 0.0], dtype=torch.double))


def test_a_config_whose_known_metric_fails_lies_just_beyond_the_data() -> None:
    def broken(X: torch.Tensor) -> torch.Tensor:
        return torch.full(X.shape[:-1], -1e9, dtype=X.dtype)

    features = KnownFeatures([broken], torch.tensor([[0.0], [2.0]], dtype=torch.double))
    out = features.transform(torch.zeros(3, 2, dtype=torch.double))
    assert torch.equal(out[:, -1], torch.full((3,), -1.0, dtype=torch.double))
    with pytest.raises(ValueError, match="1 functions but 2 columns"):
        KnownFeatures([broken], torch.zeros(2, 2, dtype=torch.double))


def gp_inputs(model: ModelList) -> list[int]:
    """Input columns of each GP member of ``model`` (its training inputs)."""
    members = [m for m in model.models if hasattr(m, "train_inputs")]
    return [int(m.train_inputs[0].shape[-1]) for m in members]


def test_the_features_are_off_by_default() -> None:
    assert not ProposalSettings().known_features


@pytest.mark.parametrize("on", [True, False])
def test_both_gps_see_the_features_only_when_asked(on: bool) -> None:
    space = kinds_space(("x", {"type": "float", "low": 0.0, "high": 1.0}))
    X = dedupe(random_pool(space, 14, torch.Generator().manual_seed(1)))
    C = X[:, -1:] - 0.5  # a learned constraint on x
    problem = problem_of(space, X, X_constraints=X, C=C)
    model, _ = fit_model(problem, ProposalSettings(known_features=on))
    assert isinstance(model, ModelList)
    d = X.shape[-1]
    assert gp_inputs(model) == ([d + 1, d + 1] if on else [d, d])
    with torch.no_grad():  # candidates come in the encoding's d columns either way
        assert model.posterior(X[:4].unsqueeze(-2)).mean.shape == (4, 1, 3)


@pytest.mark.parametrize("warp", [False, True])
def test_a_split_gp_with_features_predicts_as_the_batched_one(warp: bool) -> None:
    # Two learned objectives on a continuous space: the GP that split_after splits.
    space = SearchSpace.from_dict(
        {"parameters": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(2)}}
    )
    X = torch.rand(30, 2, dtype=torch.double, generator=torch.Generator().manual_seed(2))
    size = ExactObjective(space, lambda c: 1.0 + c["x0"] + c["x1"], -1.0, log=False, unusable=-9)
    Y = torch.stack([-(X - 0.3).pow(2).sum(-1), X[:, 0] * X[:, 1], -(1 + X.sum(-1))], dim=-1)
    problem = ProposalProblem(X=X, Y=Y, bounds=space.bounds, known={2: size})
    on = {"known_features": True, "outcome_warp": warp}
    batched, _ = fit_model(problem, ProposalSettings(split_after=None, **on))
    split, _ = fit_model(problem, ProposalSettings(split_after=29, **on))
    assert isinstance(split.models[0], ModelListGP)
    test = torch.rand(16, 1, 2, dtype=torch.double, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        a, b = batched.posterior(test), split.posterior(test)
        assert torch.allclose(a.mean, b.mean, rtol=1e-8, atol=1e-8)


ROUTES = {
    # name: (space, settings): each of moo.bo.optimize.maximize's routes
    "exhaustive": (kinds_space(), ProposalSettings(known_features=True)),
    "screened": (kinds_space(), ProposalSettings(known_features=True, screen_size=8)),
    "local search": (
        kinds_space(("n", {"type": "int", "low": 0, "high": 99})),
        ProposalSettings(known_features=True, max_enumeration=100, local_pool=32, local_steps=3),
    ),
    "mixed": (
        kinds_space(("x", {"type": "float", "low": 0.0, "high": 1.0})),
        ProposalSettings(known_features=True, num_restarts=2, raw_samples=32),
    ),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_every_route_proposes_an_unseen_config_with_the_features(route: str) -> None:
    space, settings = ROUTES[route]
    X = dedupe(random_pool(space, 12, torch.Generator().manual_seed(4)))
    problem = problem_of(space, X)
    seen = {row_key(row) for row in X}
    with seeded_global_rng(0):
        model, order = fit_model(problem, settings)
        assert gp_inputs(model) == [X.shape[-1] + 1]
        acqf = build_acquisition("qlognehvi", model, order, problem, seed=0, settings=settings)
        candidates = None
        if space.n_configs() <= settings.max_enumeration:
            candidates = unseen(space.grid_points(), seen)
        proposal, value = maximize(
            acqf, problem, space, seen, candidates=candidates, seed=0, settings=settings
        )
    assert space.validate(space.decode(proposal)[0])
    assert row_key(proposal[0]) not in seen
    with torch.no_grad():
        assert value == pytest.approx(float(acqf(proposal.unsqueeze(-2))[0]), rel=1e-6)
