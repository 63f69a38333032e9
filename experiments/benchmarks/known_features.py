"""How well does the learned objective's GP predict, with and without the known objectives
as inputs (``ProposalSettings.known_features``) and the outcome warp (``outcome_warp``)?

Usage::

    OMP_NUM_THREADS=1 python -m experiments.benchmarks.known_features [--reps 5]

For each suite problem with known objectives (the NAS-Bench-201 latency tables, the
digits table), fits moo's model (``moo.bo.fit_model``, interpolating GPs as the suite
runs them) on ``n`` random configs and predicts the learned objective (error) on up to
3,000 others: Spearman rank correlation over all of them and over the best 10 % (the
configs the front is made of), RMSE, and the mean negative log predictive density.
Writes ``results/known_features.md``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import shlex
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from experiments.benchmarks.suite.problems import BenchProblem, get_problem
from moo.bo import ProposalProblem, ProposalSettings, fit_model
from moo.bo.known import ExactObjective
from moo.space import row_keys

OUT = Path(__file__).resolve().parent / "results" / "known_features.md"
PROBLEMS = ("nb201_pi4", "nb201_pixel3", "nb201_eyeriss_fpga", "digits")
SIZES = (30, 60, 100)
MAX_TEST = 3000


def _table(problem: BenchProblem, rng: np.random.Generator) -> tuple[torch.Tensor, np.ndarray]:
    """Encoded configs of the problem's whole (finite) space, up to ``MAX_TEST + max(SIZES)``
    drawn at random, and their objectives (minimized)."""
    grid = problem.space.grid_points()
    keep = rng.permutation(len(grid))[: MAX_TEST + max(SIZES)]
    X = grid[torch.as_tensor(keep)]
    values = np.array([problem.evaluate(c) for c in problem.space.decode(X)])
    return X, values


def _scores(
    problem: BenchProblem,
    X: torch.Tensor,
    Y: torch.Tensor,
    n: int,
    rep: int,
    settings: ProposalSettings,
) -> tuple[float, float, float, float]:
    """Scores of one fit; ``Y`` holds the objectives as moo's sampler sees them, maximized
    (the suite's known lookups are already on their exact functions' scale)."""
    rng = np.random.default_rng([rep, n])
    order = rng.permutation(len(X))
    train, test = order[:n], order[n:]
    known = {
        i: ExactObjective(problem.space, f, -1.0, log=False, unusable=-1e6)
        for i, f in problem.known.items()
    }
    proposal = ProposalProblem(
        X=X[train],
        Y=Y[train],
        bounds=problem.space.bounds,
        categorical_dims=problem.space.categorical_dims,
        discrete_dims=problem.space.discrete_dims,
        known=dict(known),
        deterministic=True,
    )
    model, order_out = fit_model(proposal, settings)
    column = order_out.index(0)
    with torch.no_grad():
        posterior = model.posterior(X[test])
        mean = posterior.mean[:, column]
        sd = posterior.variance[:, column].clamp_min(1e-12).sqrt()
    truth = Y[test, 0]
    best = truth >= torch.quantile(truth, 0.9)
    nlpd = float((0.5 * ((truth - mean) / sd) ** 2 + sd.log() + 0.5 * math.log(2 * math.pi)).mean())
    return (
        float(spearmanr(mean, truth).statistic),
        float(spearmanr(mean[best], truth[best]).statistic),
        float((mean - truth).pow(2).mean().sqrt()),
        nlpd,
    )


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.benchmarks.known_features")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    command = "OMP_NUM_THREADS=1 python -m experiments.benchmarks.known_features " + shlex.join(
        argv
    )
    lines = [
        "# The learned objective's GP with and without the known objectives as inputs and the "
        "outcome warp",
        "",
        f"Command: `{command.strip()}`",
        "",
        "Error of held-out configs predicted from `n` random ones by `moo.bo.fit_model`",
        f"(interpolating GPs), mean over {args.reps} draws. `rho`: Spearman over all held-out",
        "configs; `rho best 10%`: over the 10 % lowest-error ones; RMSE in the error's units;",
        "NLPD: mean negative log predictive density (lower is better).",
        "",
        "| problem | n | features | warp | rho | rho best 10% | RMSE | NLPD |",
        "|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for name in args.problems:
        problem = get_problem(name)
        X, values = _table(problem, np.random.default_rng(0))
        assert len(set(row_keys(X))) == len(X)
        Y = -torch.as_tensor(values, dtype=torch.double)
        for n in SIZES:
            for features, warp in itertools.product((False, True), repeat=2):
                settings = ProposalSettings(known_features=features, outcome_warp=warp)
                scores = np.array(
                    [_scores(problem, X, Y, n, rep, settings) for rep in range(args.reps)]
                )
                rho, rho_best, rmse, nlpd = scores.mean(axis=0)
                line = (
                    f"| {name} | {n} | {_on(features)} | {_on(warp)} | {rho:.3f} | "
                    f"{rho_best:.3f} | {rmse:.4g} | {nlpd:.3g} |"
                )
                lines.append(line)
                print(line, flush=True)
    OUT.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
