"""The BoTorch side of a proposal (``moo.bo``): the GPs, the acquisitions and every route
of their optimization. Real BoTorch models on real test functions; nothing is mocked."""

from __future__ import annotations

from pathlib import Path

import botorch.acquisition.multi_objective.logei as logei
import numpy as np
import pytest
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.multi_objective.logei import (
    qLogExpectedHypervolumeImprovement,
    qLogNoisyExpectedHypervolumeImprovement,
)
from botorch.models import ModelListGP
from botorch.test_functions.multi_objective import BraninCurrin
from botorch.utils.multi_objective import is_non_dominated
from botorch.utils.multi_objective.hypervolume import Hypervolume

from moo.bo import (
    ProposalProblem,
    ProposalSettings,
    acquisition_name,
    build_acquisition,
    fit_gp,
    fit_model,
    reference_point,
)
from moo.bo.acquisitions import mean_front
from moo.bo.models import hyperparameters, split_outputs
from moo.bo.optimize import (
    dedupe,
    local_search,
    maximize,
    random_pool,
    screen,
    starting_points,
    unseen,
)
from moo.pareto import inferred_reference
from moo.rng import seeded_global_rng, torch_generator
from moo.space import SearchSpace, row_key


def branin_currin_data(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random inputs in ``[0, 1]^2`` and BraninCurrin's objectives there, maximized."""
    X = torch.rand(n, 2, dtype=torch.double, generator=torch.Generator().manual_seed(seed))
    return X, BraninCurrin(negate=True)(X)


def test_a_deterministic_gp_interpolates_what_a_learned_noise_smooths() -> None:
    X, Y = branin_currin_data(30)
    learned = fit_gp(X, Y, [])
    exact = fit_gp(X, Y, [], deterministic=True)
    with torch.no_grad():
        learned_error = (learned.posterior(X).mean - Y).abs().max(dim=0).values
        exact_error = (exact.posterior(X).mean - Y).abs().max(dim=0).values
    # Branin spans ~300: the interpolating GP is off by far less than one unit at the
    # data, the learned noise level lets the mean miss the data by more.
    assert bool((exact_error < 0.05 * learned_error).all()), (exact_error, learned_error)
    assert bool((exact_error < 0.1).all())


def test_fit_model_passes_deterministic_to_the_objectives_gp_only() -> None:
    X, Y = branin_currin_data(12)
    C = X[:, :1] - 0.5  # a learned constraint: keeps its noise level
    problem = ProposalProblem(
        X=X,
        Y=Y,
        bounds=torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.double),
        X_constraints=X,
        C=C,
        deterministic=True,
    )
    state = hyperparameters(fit_model(problem)[0], problem)
    assert not any("noise" in name for name in state["objectives"])
    assert any("noise" in name for name in state["constraints"])


def test_the_optimizer_also_starts_next_to_the_observed_front() -> None:
    X, Y = branin_currin_data(16)
    problem = ProposalProblem(
        X=X, Y=Y, bounds=torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.double)
    )
    model, order = fit_model(problem)
    acqf = build_acquisition("qlognehvi", model, order, problem, seed=0)
    starts = starting_points(acqf, problem, ProposalSettings(num_restarts=3, raw_samples=32), 0)
    front = X[is_non_dominated(Y)]
    n_front = min(len(front), 3)
    assert starts.shape == (3 + n_front, 1, 2)
    assert bool(((starts >= 0) & (starts <= 1)).all())
    # The last ones are front points nudged by ~0.01, the first ones are not tied to them.
    distance = torch.cdist(starts[:, 0], front).min(dim=-1).values
    assert bool((distance[3:] < 0.05).all())
    assert len({tuple(row) for row in starts[3:, 0].tolist()}) == n_front


def test_a_drifted_warm_start_is_dropped_for_a_cold_fit() -> None:
    # Warm-started fits chained on NAS-Bench-201 drifted to an outputscale near 1e6, where
    # the likelihood is flat: a fit started there stays there (or fails every retry).
    generator = torch.Generator().manual_seed(0)
    grid = torch.cartesian_prod(*[torch.arange(5.0, dtype=torch.double)] * 3)
    X = grid[torch.randperm(len(grid), generator=generator)[:30]]  # 30 distinct configs
    Y = X.sum(dim=-1, keepdim=True) + torch.rand(30, 1, generator=generator, dtype=torch.double)
    gp = fit_gp(X, Y, [0, 1, 2], {"covar_module.raw_outputscale": 1e30}, deterministic=True)
    assert float(gp.covar_module.outputscale) < 1e3
    with torch.no_grad():
        mean = gp.posterior(X).mean
    assert float((mean - Y).abs().max()) < 0.1 * float(Y.std())


def test_no_proposal_compiles_botorch_kernels_or_waits_on_their_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BoTorch 0.18 JIT-compiles a fused C++ kernel the first time a process builds a
    qLog(N)EHVI: minutes, under a lock file that a process killed mid-compile leaves
    behind and every later process waits on forever. moo takes the PyTorch path."""
    lock = tmp_path / "logei_fused_ext" / "lock"
    lock.parent.mkdir()
    lock.touch()  # a compile killed by kill -9
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    # Checked first: a load still to be attempted would wait on the lock forever.
    assert logei._load_attempted and logei._C is None
    for n in (12, 40):  # qLogNEHVI, and qLogEHVI past ProposalSettings.ehvi_after
        X, Y = branin_currin_data(n)
        problem = ProposalProblem(X=X, Y=Y, bounds=torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
        model, order = fit_model(problem)
        acqf = build_acquisition("qlognehvi", model, order, problem, seed=0)
        assert bool(torch.isfinite(acqf(X[:4].unsqueeze(-2))).all())
    assert logei._C is None
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["lock", "logei_fused_ext"]


# ---------------------------------------------------------------------- the routes
def discrete_space(n_values: int, d: int, *, categorical: bool = False) -> SearchSpace:
    """``d`` integer parameters with ``n_values`` values each (the last one categorical)."""
    parameters: dict[str, dict] = {
        f"x{i}": {"type": "int", "low": 0, "high": n_values - 1} for i in range(d)
    }
    if categorical:
        parameters[f"x{d - 1}"] = {"type": "categorical", "choices": list("abcd")}
    return SearchSpace.from_dict({"parameters": parameters})


def two_objectives(X: torch.Tensor) -> torch.Tensor:
    """A conflicting pair on encoded inputs (maximized): the front is a trade-off."""
    s = X / X.max().clamp_min(1.0)
    return torch.stack([s[:, 0] - (s[:, 1:] - 0.3).pow(2).sum(-1), -s[:, 0] - s[:, 1:].sum(-1)], -1)


def sampled_problem(
    space: SearchSpace, n: int, seed: int = 0
) -> tuple[ProposalProblem, set[tuple[float, ...]]]:
    """``n`` random configs of ``space`` with their objectives, and their keys as seen."""
    generator = torch.Generator().manual_seed(seed)
    X = dedupe(random_pool(space, n, generator))
    problem = ProposalProblem(
        X=X,
        Y=two_objectives(X),
        bounds=space.bounds,
        categorical_dims=space.categorical_dims,
        discrete_dims=space.discrete_dims,
    )
    return problem, {row_key(row) for row in X}


def fitted_acquisition(
    problem: ProposalProblem, kind: str = "qlognehvi", settings: ProposalSettings | None = None
) -> AcquisitionFunction:
    model, order = fit_model(problem, settings)
    return build_acquisition(kind, model, order, problem, seed=0, settings=settings)  # type: ignore[arg-type]


def values_of(acqf: AcquisitionFunction, X: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return acqf(X.unsqueeze(-2))


def test_exhaustive_scoring_returns_the_best_unseen_candidate() -> None:
    space = discrete_space(5, 3)  # 125 configs: enumerated, below the screen
    problem, seen = sampled_problem(space, 12)
    acqf = fitted_acquisition(problem)
    candidates = unseen(space.grid_points(), seen)
    X, value = maximize(
        acqf, problem, space, seen, candidates=candidates, seed=0, settings=ProposalSettings()
    )
    scores = values_of(acqf, candidates)
    assert row_key(X[0]) not in seen
    assert value == pytest.approx(float(scores.max()), rel=1e-9)
    assert torch.equal(X[0], candidates[int(scores.argmax())])


def test_the_screen_keeps_the_largest_optimistic_hypervolume_gains() -> None:
    space = discrete_space(8, 3)  # 512 configs
    problem, seen = sampled_problem(space, 14)
    acqf = fitted_acquisition(problem)
    candidates = unseen(space.grid_points(), seen)
    settings = ProposalSettings(screen_size=20)
    kept = screen(acqf, problem, candidates, settings)
    assert len(kept) == 20
    # Reference implementation: each candidate's optimistic point added to the mean front,
    # the hypervolume gain computed by BoTorch's exact Hypervolume.
    with torch.no_grad():
        posterior = acqf.model.posterior(candidates.unsqueeze(-2))
        optimistic = posterior.mean[:, 0] + settings.screen_beta * posterior.variance[:, 0].sqrt()
    front = mean_front(acqf.model, problem.X, 2)
    hv = Hypervolume(acqf.ref_point)
    base = hv.compute(front)
    gains = torch.tensor([hv.compute(torch.cat([front, y[None]])) - base for y in optimistic])
    expected = {row_key(row) for row in candidates[gains.topk(20).indices]}
    assert {row_key(row) for row in kept} == expected


def test_a_screened_space_scores_only_the_screened_candidates() -> None:
    space = discrete_space(8, 3)
    problem, seen = sampled_problem(space, 14)
    acqf = fitted_acquisition(problem)
    candidates = unseen(space.grid_points(), seen)
    small = ProposalSettings(screen_size=5)
    X, value = maximize(acqf, problem, space, seen, candidates=candidates, seed=0, settings=small)
    kept = screen(acqf, problem, candidates, small)
    assert value == pytest.approx(float(values_of(acqf, kept).max()), rel=1e-9)
    assert row_key(X[0]) in {row_key(row) for row in kept}
    off = ProposalSettings(screen_size=None)  # no screen: the best of all candidates
    _, exact = maximize(acqf, problem, space, seen, candidates=candidates, seed=0, settings=off)
    assert exact == pytest.approx(float(values_of(acqf, candidates).max()), rel=1e-9)
    assert exact >= value


def test_neighbours_differ_from_their_config_in_one_parameter_by_one_step() -> None:
    space = discrete_space(4, 3, categorical=True)
    x = space.encode([{"x0": 0, "x1": 2, "x2": "b"}])
    rows = space.decode(space.neighbours(x))
    # x0: only up; x1: down and up; the categorical: every other choice.
    assert sorted(rows, key=str) == sorted(
        [
            {"x0": 1, "x1": 2, "x2": "b"},
            {"x0": 0, "x1": 1, "x2": "b"},
            {"x0": 0, "x1": 3, "x2": "b"},
            {"x0": 0, "x1": 2, "x2": "a"},
            {"x0": 0, "x1": 2, "x2": "c"},
            {"x0": 0, "x1": 2, "x2": "d"},
        ],
        key=str,
    )


def test_local_search_climbs_to_an_unseen_config_no_neighbour_beats() -> None:
    space = discrete_space(6, 5)  # 7,776 configs: past max_enumeration below
    problem, seen = sampled_problem(space, 16)
    acqf = fitted_acquisition(problem)
    settings = ProposalSettings(max_enumeration=100, local_pool=32, local_steps=50)
    X, value = maximize(acqf, problem, space, seen, candidates=None, seed=1, settings=settings)
    assert row_key(X[0]) not in seen
    assert value == pytest.approx(float(values_of(acqf, X)[0]), rel=1e-9)
    neighbours = unseen(space.neighbours(X), seen)
    assert float(values_of(acqf, neighbours).max()) <= value
    # Without steps it stops at the best of the pool and the front's neighbours, which
    # the climb can only improve on.
    no_steps = ProposalSettings(max_enumeration=100, local_pool=32, local_steps=0)
    _, pool_value = local_search(acqf, space, problem, seen, torch_generator(1), no_steps)
    assert pool_value <= value


@pytest.mark.slow
def test_a_mixed_space_goes_to_the_alternating_optimizer() -> None:
    space = SearchSpace.from_dict(
        {
            "parameters": {
                "x": {"type": "float", "low": 0.0, "high": 1.0},
                "k": {"type": "categorical", "choices": ["a", "b", "c"]},
                "n": {"type": "int", "low": 0, "high": 9},
            }
        }
    )
    problem, seen = sampled_problem(space, 10)
    acqf = fitted_acquisition(problem)
    settings = ProposalSettings(num_restarts=2, raw_samples=32)
    with seeded_global_rng(0):
        proposal, value = maximize(
            acqf, problem, space, seen, candidates=None, seed=0, settings=settings
        )
    assert space.validate(space.decode(proposal)[0])  # a config of the space, rounded
    assert row_key(proposal[0]) not in seen
    assert value == pytest.approx(float(values_of(acqf, proposal)[0]), rel=1e-6)
    # A good proposal: it beats a random pool of the same space.
    pool = random_pool(space, 64, torch.Generator().manual_seed(1))
    assert value >= float(values_of(acqf, pool).max())


def test_lbfgs_starts_from_raw_samples_only_without_front_starts() -> None:
    X, Y = branin_currin_data(16)
    problem = ProposalProblem(
        X=X, Y=Y, bounds=torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.double)
    )
    acqf = fitted_acquisition(problem)
    off = ProposalSettings(num_restarts=3, raw_samples=32, front_starts=False)
    on = ProposalSettings(num_restarts=3, raw_samples=32)
    assert starting_points(acqf, problem, off, 0).shape == (3, 1, 2)
    assert starting_points(acqf, problem, on, 0).shape[0] > 3
    space = SearchSpace.from_dict(
        {"parameters": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(2)}}
    )
    proposal, value = maximize(acqf, problem, space, set(), candidates=None, seed=0, settings=on)
    # L-BFGS polishes its best start: the proposal beats every starting point.
    starts = starting_points(acqf, problem, on, 0)
    assert value == pytest.approx(float(values_of(acqf, proposal)[0]), rel=1e-6)
    assert value >= float(values_of(acqf, starts[:, 0]).max()) - 1e-9


def test_a_proposal_that_rounds_to_a_seen_config_is_replaced_from_the_dedupe_pool() -> None:
    space = discrete_space(5, 3)
    problem, seen = sampled_problem(space, 12)
    acqf = fitted_acquisition(problem)
    settings = ProposalSettings(dedupe_pool=64)
    # The only candidate is a config already evaluated: the optimizer lands on it.
    X, value = maximize(
        acqf, problem, space, seen, candidates=problem.X[:1], seed=3, settings=settings
    )
    pool = unseen(random_pool(space, 64, torch_generator(3)), seen)
    assert row_key(X[0]) not in seen
    assert value == pytest.approx(float(values_of(acqf, pool).max()), rel=1e-9)


@pytest.mark.parametrize(
    ("ehvi_after", "expected", "samples"),
    [
        (10, qLogExpectedHypervolumeImprovement, 32),
        (None, qLogNoisyExpectedHypervolumeImprovement, 64),
    ],
)
def test_qlognehvi_becomes_qlogehvi_past_ehvi_after(
    ehvi_after: int | None, expected: type, samples: int
) -> None:
    X, Y = branin_currin_data(12)
    problem = ProposalProblem(X=X, Y=Y, bounds=torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    settings = ProposalSettings(ehvi_after=ehvi_after)
    acqf = fitted_acquisition(problem, settings=settings)
    assert type(acqf) is expected
    assert acqf.sampler.sample_shape == torch.Size([samples])
    name = "qlogehvi" if ehvi_after else "qlognehvi"
    assert acquisition_name("qlognehvi", len(X), settings) == name
    assert acquisition_name("qnehvi", len(X), settings) == "qnehvi"  # only qlognehvi switches


def test_the_acquisition_infers_the_reference_of_the_reported_hypervolume() -> None:
    # One rule (moo.pareto.inferred_reference): minimized study rows vs maximized tensors.
    Z = np.array([[1.0, 5.0], [3.0, 2.0], [2.0, 2.0]])
    assert inferred_reference(Z).tolist() == pytest.approx([3.2, 5.3])
    Y = -torch.from_numpy(Z)
    assert reference_point(Y).tolist() == pytest.approx([-3.2, -5.3])
    # An objective that did not vary: pushed out by 10% of its value (at least 1).
    assert inferred_reference(np.array([[4.0, 0.0], [4.0, 1.0]])).tolist() == pytest.approx(
        [4.4, 1.1]
    )


def test_settings_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"screen_size must be >= 0, got -1"):
        ProposalSettings(screen_size=-1)
    with pytest.raises(ValueError, match=r"num_restarts must be >= 1, got 0"):
        ProposalSettings(num_restarts=0)
    with pytest.raises(TypeError, match=r"ehvi_after must be a number, got 'x'"):
        ProposalSettings(ehvi_after="x")  # type: ignore[arg-type]


def test_a_split_gp_predicts_and_warm_starts_as_the_batched_one() -> None:
    X, Y = branin_currin_data(40)
    problem = ProposalProblem(X=X, Y=Y, bounds=torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    batched, _ = fit_model(problem, ProposalSettings(split_after=None))
    split, _ = fit_model(problem, ProposalSettings(split_after=39))
    assert isinstance(split, ModelListGP) and not isinstance(batched, ModelListGP)
    test = torch.rand(64, 1, 2, generator=torch.Generator().manual_seed(1), dtype=torch.double)
    with torch.no_grad():
        a, b = batched.posterior(test), split.posterior(test)
        assert torch.allclose(a.mean, b.mean, rtol=1e-9, atol=1e-9)
        assert torch.allclose(a.variance, b.variance, rtol=1e-9, atol=1e-12)
    # The next fit warm-starts from the stored state whichever form the model took.
    assert hyperparameters(split, problem) == hyperparameters(batched, problem)


def test_a_gp_that_cannot_be_split_stays_batched() -> None:
    space = discrete_space(4, 3, categorical=True)
    problem, _ = sampled_problem(space, 12)
    gp = fit_gp(problem.X, problem.Y, list(problem.categorical_dims))
    assert split_outputs(gp) is gp  # MixedSingleTaskGP has no subset_output


@pytest.mark.parametrize(("n", "held"), [(21, True), (22, False)])
def test_past_hold_after_a_warm_start_is_refit_on_every_second_observation_count(
    n: int, held: bool
) -> None:
    X, Y = branin_currin_data(n)
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.double)
    earlier = ProposalProblem(X=X[:-3], Y=Y[:-3], bounds=bounds)
    warm = hyperparameters(fit_model(earlier)[0], earlier)
    settings = ProposalSettings(warm_start_after=10, hold_after=20, refit_every=2)
    problem = ProposalProblem(X=X, Y=Y, bounds=bounds, warm_start=warm)
    model, _ = fit_model(problem, settings)
    assert (hyperparameters(model, problem) == warm) is held
    with torch.no_grad():  # held or not, the GP is conditioned on every observation
        assert float((model.posterior(X).mean - Y).abs().max()) < 0.1 * float(Y.std())
