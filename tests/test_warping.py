"""Output warping: the Yeo-Johnson transform, its inverse, the fitted power, and what a
warped GP does with a skewed objective. Real BoTorch models; nothing is mocked."""

from __future__ import annotations

import torch
from botorch.models.transforms.outcome import ChainedOutcomeTransform
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import skew, spearmanr

from moo.acquisition import ProposalProblem, fit_gp, fit_model
from moo.warping import YeoJohnsonWarp, fit_power, inverse_yeo_johnson, yeo_johnson

POWERS = st.floats(min_value=-2.0, max_value=4.0)
VALUES = st.floats(min_value=-20.0, max_value=20.0)


@given(z=VALUES, power=POWERS)
def test_the_inverse_undoes_the_transform(z: float, power: float) -> None:
    z_t, power_t = torch.tensor([z], dtype=torch.double), torch.tensor([power], dtype=torch.double)
    back = inverse_yeo_johnson(yeo_johnson(z_t, power_t), power_t)
    assert torch.allclose(back, z_t, rtol=1e-6, atol=1e-6), (z, power, float(back))


@given(power=POWERS)
def test_the_transform_is_increasing(power: float) -> None:
    z = torch.linspace(-10, 10, 201, dtype=torch.double)
    warped = yeo_johnson(z, torch.tensor([power], dtype=torch.double))
    assert bool((warped.diff() > 0).all())


def test_the_inverse_stays_finite_past_the_range_of_the_transform() -> None:
    # With power -2 the transform of z >= 0 never reaches 0.5, with power 4 that of
    # z <= 0 never reaches -0.5; posterior samples can land there all the same.
    t = torch.tensor([-1e6, -0.6, 0.6, 1e6], dtype=torch.double)
    for power in (-2.0, 4.0):
        assert bool(torch.isfinite(inverse_yeo_johnson(t, torch.tensor([power]))).all())


def test_a_right_skewed_column_gets_a_power_that_removes_its_skew() -> None:
    y = torch.randn(200, generator=torch.Generator().manual_seed(0), dtype=torch.double).exp()
    z = (y - y.mean()) / y.std()
    power = fit_power(z)
    assert power < 1.0  # compresses the long right tail
    warped = yeo_johnson(z, torch.tensor([power], dtype=torch.double))
    assert abs(skew(warped.numpy())) < 0.2 * abs(skew(z.numpy())), power


def test_a_column_without_shape_stays_linear() -> None:
    assert fit_power(torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=torch.double)) == 1.0


def test_the_warp_round_trips_each_column_with_its_own_power() -> None:
    generator = torch.Generator().manual_seed(1)
    skewed = torch.randn(50, generator=generator, dtype=torch.double).exp()
    symmetric = 3.0 + 10.0 * torch.randn(50, generator=generator, dtype=torch.double)
    Y = torch.stack([-skewed, symmetric], dim=-1)
    warp = YeoJohnsonWarp(2)
    warped, _ = warp(Y)
    assert warp.power[0] > 1.0 > warp.power[0] - 3  # -skewed: the mirrored power
    assert abs(float(warp.power[1]) - 1.0) < 0.5
    warp.eval()
    back, _ = warp.untransform(warped)
    assert torch.allclose(back, Y, atol=1e-9)


def nb201_like(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Error of a NAS-Bench-201-like space: a smooth bowl (6-12%), but 90% wherever the
    first input cuts the network off (a tenth of the space). Maximized: ``-error``."""
    X = torch.rand(n, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.double)
    bowl = 6.0 + 6.0 * ((X[:, 1] - 0.3) ** 2 + (X[:, 2] - 0.6) ** 2)
    error = torch.where(X[:, 0] < 0.1, torch.full_like(bowl, 90.0), bowl)
    return X, -error.unsqueeze(-1)


def test_a_warped_gp_ranks_the_good_configs_of_a_skewed_objective_better() -> None:
    X, Y = nb201_like(60, seed=0)
    X_test, Y_test = nb201_like(2000, seed=1)
    good = Y_test[:, 0] > -20
    correlations = {}
    for warp in (False, True):
        gp = fit_gp(X, Y, [], deterministic=True, warp=warp)
        with torch.no_grad():
            mean = gp.posterior(X_test[good]).mean[:, 0]
        correlations[warp] = spearmanr(mean, Y_test[good, 0]).statistic
    # Measured: 0.46 raw, 0.87 warped.
    assert correlations[True] > correlations[False] + 0.2, correlations
    assert correlations[True] > 0.8, correlations


def test_a_warped_deterministic_gp_interpolates_in_the_objectives_own_units() -> None:
    X, Y = nb201_like(40, seed=2)
    gp = fit_gp(X, Y, [], deterministic=True, warp=True)
    assert isinstance(gp.outcome_transform, ChainedOutcomeTransform)
    with torch.no_grad():
        posterior = gp.posterior(X)
        samples = posterior.rsample(torch.Size([16]))
    # Mean (the posterior median) and every sample sit on the data, outliers included
    # (the warp compresses them, so the same warped noise is wider there in raw units).
    assert torch.allclose(posterior.mean, Y, rtol=0.01)
    assert torch.allclose(samples, Y.expand_as(samples), rtol=0.02)


def test_fit_model_warps_the_objectives_only_when_asked() -> None:
    X, Y = nb201_like(20, seed=3)
    for warp in (False, True):
        problem = ProposalProblem(X=X, Y=Y, bounds=torch.tensor([[0.0] * 3, [1.0] * 3]), warp=warp)
        model, _ = fit_model(problem)
        assert isinstance(model.outcome_transform, ChainedOutcomeTransform) is warp


@given(power=st.sampled_from([0.0, 2.0, 1e-9, 2.0 - 1e-9, -2.0, 4.0]))
def test_gradients_through_the_inverse_are_finite_at_every_power(power: float) -> None:
    # The acquisition optimizer differentiates through the inverse warp of its samples.
    t = torch.linspace(-3, 3, 13, dtype=torch.double, requires_grad=True)
    inverse_yeo_johnson(t, torch.tensor([power], dtype=torch.double)).sum().backward()
    assert t.grad is not None and bool(torch.isfinite(t.grad).all()), t.grad
