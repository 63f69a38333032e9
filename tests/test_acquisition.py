"""The BoTorch side of a proposal: noise handling of the GPs and where the acquisition
optimizer starts. Real BoTorch models on BraninCurrin data; nothing is mocked."""

from __future__ import annotations

from pathlib import Path

import botorch.acquisition.multi_objective.logei as logei
import pytest
import torch
from botorch.test_functions.multi_objective import BraninCurrin
from botorch.utils.multi_objective import is_non_dominated

from moo.acquisition import (
    ProposalProblem,
    _starting_points,
    build_acquisition,
    fit_gp,
    fit_model,
    hyperparameters,
)


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
    starts = _starting_points(acqf, problem, num_restarts=3, raw_samples=32, seed=0)
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
    for n in (12, 40):  # qLogNEHVI, and qLogEHVI past _NEHVI_MAX_OBSERVATIONS
        X, Y = branin_currin_data(n)
        problem = ProposalProblem(X=X, Y=Y, bounds=torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
        model, order = fit_model(problem)
        acqf = build_acquisition("qlognehvi", model, order, problem, seed=0)
        assert bool(torch.isfinite(acqf(X[:4].unsqueeze(-2))).all())
    assert logei._C is None
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["lock", "logei_fused_ext"]
