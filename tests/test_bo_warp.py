"""The outcome warp (``moo.bo.warp.YeoJohnson``): the map, its inverse, the posterior it
hands the acquisition, and what it buys on NAS-Bench-201's errors. Real GPs on real data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from botorch.sampling import SobolQMCNormalSampler
from scipy.stats import spearmanr

from moo.bo import ProposalProblem, ProposalSettings, fit_gp, fit_model
from moo.bo.warp import YeoJohnson


def skewed(n: int, seed: int = 0) -> torch.Tensor:
    """Two outputs: errors piled up near the best with a few at chance level (maximized),
    and a plain normal one."""
    rng = np.random.default_rng(seed)
    error = np.where(rng.random(n) < 0.1, 0.9, rng.gamma(2.0, 0.03, n) + 0.05)
    return torch.tensor(np.column_stack([-error, rng.normal(size=n)]), dtype=torch.double)


def fitted(Y: torch.Tensor) -> YeoJohnson:
    transform = YeoJohnson(Y.shape[-1])
    transform(Y)  # train mode: fits
    transform.eval()
    return transform


def test_the_warp_is_monotone_standardized_and_undone_exactly() -> None:
    Y = skewed(40)
    transform = fitted(Y)
    W, _ = transform(Y)
    assert torch.allclose(W.mean(dim=0), torch.zeros(2, dtype=torch.double), atol=1e-9)
    assert torch.allclose(W.std(dim=0, unbiased=False), torch.ones(2, dtype=torch.double))
    order = Y[:, 0].argsort()
    assert bool((W[order, 0].diff() >= 0).all())
    back, _ = transform.untransform(W)
    assert torch.allclose(back, Y, atol=1e-10)
    # Far beyond the data too: the exponents stay where the map covers the real line.
    far = torch.tensor([[-50.0, -50.0], [50.0, 50.0]], dtype=torch.double)
    assert torch.allclose(transform.untransform(transform(far)[0])[0], far, atol=1e-6)
    assert bool(((transform.exponent >= 0) & (transform.exponent <= 2)).all())
    # The pile-up near the best is spread, the chance-level tail pulled in; the normal
    # output is left almost as it is.
    assert float(transform.exponent[0]) > 1.5
    assert abs(float(transform.exponent[1]) - 1.0) < 0.3


def test_units_and_offsets_do_not_change_the_warp() -> None:
    Y = skewed(40)
    W, _ = fitted(Y)(Y)
    W_other_units, _ = fitted(100.0 * Y - 7.0)(100.0 * Y - 7.0)
    assert torch.allclose(W, W_other_units, atol=1e-9)


def test_a_noise_level_keeps_its_share_of_the_outcome_variance() -> None:
    Y = skewed(40)
    transform = fitted(Y)
    Yvar = 1e-6 * Y.var(dim=0, unbiased=False).expand_as(Y)
    _, Yvar_tf = transform(Y, Yvar)
    assert Yvar_tf is not None
    assert torch.allclose(Yvar_tf, torch.full_like(Y, 1e-6))
    with warnings.catch_warnings():  # GPyTorch warns when a noise is below its floor
        warnings.simplefilter("error")
        fit_gp(
            torch.rand(40, 1, dtype=torch.double),
            Y,
            [],
            deterministic=True,
            settings=ProposalSettings(outcome_warp=True),
        )


def test_the_posterior_is_mapped_back_samples_exactly() -> None:
    X = torch.linspace(0, 1, 25, dtype=torch.double)[:, None]
    Y = skewed(25)
    gp = fit_gp(X, Y, [], deterministic=True, settings=ProposalSettings(outcome_warp=True))
    with torch.no_grad():
        posterior = gp.posterior(X)
        # An interpolating GP returns the data on the data, on the objectives' own scale.
        assert torch.allclose(posterior.mean, Y, atol=1e-3 * float(Y.abs().max()))
        between = gp.posterior(X[:-1] + 0.02)
        warped = between._posterior  # the GP's posterior on the warped scale
        samples = SobolQMCNormalSampler(torch.Size([64]), seed=0)(between)
        warped_samples = SobolQMCNormalSampler(torch.Size([64]), seed=0)(warped)
    # The acquisition's samples are the warped GP's, each mapped back; its mean is the
    # mapped-back median, between the data as the warped GP's is.
    undo = gp.outcome_transform.untransform
    assert torch.allclose(samples, undo(warped_samples)[0], atol=1e-12)
    assert torch.allclose(between.mean, undo(warped.mean)[0], atol=1e-12)
    assert bool((between.variance > 0).all())


def test_the_warp_is_a_setting_off_by_default() -> None:
    X = torch.rand(20, 2, dtype=torch.double, generator=torch.Generator().manual_seed(0))
    problem = ProposalProblem(X=X, Y=skewed(20), bounds=torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    on, _ = fit_model(problem, ProposalSettings(outcome_warp=True))
    off, _ = fit_model(problem)
    assert isinstance(on.outcome_transform, YeoJohnson)
    assert not isinstance(off.outcome_transform, YeoJohnson)


@pytest.mark.slow
def test_the_warp_ranks_nas_bench_201_errors_better() -> None:
    from experiments.benchmarks.suite.problems import get_problem

    problem = get_problem("nb201_pi4")
    grid = problem.space.grid_points()
    rng = np.random.default_rng(0)
    rho = {True: [], False: []}
    for _ in range(3):
        rows = torch.as_tensor(rng.permutation(len(grid))[:560])
        X = grid[rows]
        error = torch.tensor(
            [problem.evaluate(c)[0] for c in problem.space.decode(X)], dtype=torch.double
        )
        train, test = slice(0, 60), slice(60, None)
        for on in (True, False):
            gp = fit_gp(
                X[train],
                -error[train, None],
                list(problem.space.categorical_dims),
                deterministic=True,
                settings=ProposalSettings(outcome_warp=on),
            )
            with torch.no_grad():
                mean = gp.posterior(X[test]).mean[:, 0]
            rho[on].append(spearmanr(mean, -error[test]).statistic)
    # Measured in experiments/benchmarks/known_features.py: 0.42 -> 0.61 at 60 configs.
    assert np.mean(rho[True]) > np.mean(rho[False]) + 0.1, rho
