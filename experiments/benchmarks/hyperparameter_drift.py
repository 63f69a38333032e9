"""How far a warm-started GP's hyperparameters move per added observation.

Usage::

    OMP_NUM_THREADS=1 python -m experiments.benchmarks.hyperparameter_drift --sizes 100 300 500

The evidence behind ``ProposalSettings.hold_after``: past it a proposal keeps the last
fit's hyperparameters on odd observation counts. On the ``sampler_overhead`` history
(VehicleSafety, 3 objectives, seeded NSGA-II) moo's objective GP is fitted at ``n``,
then warm-started at ``n + 1 .. n + 4`` as the sampler does (``hold_after=None``); each
row is the largest relative change of a constrained hyperparameter (lengthscales, mean
constants) between consecutive fits. Writes ``results/hyperparameter_drift.md``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import warnings
from pathlib import Path

import optuna
import torch
from torch import Tensor

from experiments.benchmarks.sampler_overhead import PROBLEM, _history
from experiments.benchmarks.suite.problems import get_problem
from moo.bo import ProposalProblem, ProposalSettings, fit_model
from moo.bo.models import hyperparameters

OUT = Path(__file__).resolve().parent / "results" / "hyperparameter_drift.md"
_STEPS = 4


def _positive(raw: list) -> Tensor:
    """GPyTorch's default constraint (softplus) applied to raw values."""
    return torch.nn.functional.softplus(torch.tensor(raw, dtype=torch.double))


def drift(n: int) -> list[float]:
    """Largest relative hyperparameter change at each of ``_STEPS`` added observations."""
    problem = get_problem(PROBLEM)
    trials = _history(problem, n + _STEPS)
    X = problem.space.encode(t.params for t in trials)
    Y = -torch.tensor([t.values for t in trials], dtype=torch.double)  # maximized
    settings = ProposalSettings(hold_after=None)
    previous: dict[str, list] | None = None
    changes = []
    for k in range(n, n + _STEPS + 1):
        warm = None if previous is None else {"objectives": previous}
        data = ProposalProblem(
            X=X[:k], Y=Y[:k], bounds=problem.space.bounds, warm_start=warm, deterministic=True
        )
        state = hyperparameters(fit_model(data, settings)[0], data)["objectives"]
        if previous is not None:
            changes.append(
                max(
                    float(
                        ((_positive(state[p]) - _positive(previous[p])) / _positive(previous[p]))
                        .abs()
                        .max()
                    )
                    for p in state
                    if "raw" in p
                )
            )
        previous = state
    return changes


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m experiments.benchmarks.hyperparameter_drift")
    parser.add_argument("--sizes", nargs="+", type=int, default=[100, 300, 500])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for n in args.sizes:
        changes = drift(n)
        rows.append(f"| {n} | " + " | ".join(f"{100 * c:.2f}%" for c in changes) + " |")
        print(rows[-1], flush=True)
    command = shlex.join(
        ["OMP_NUM_THREADS=1", "python", "-m", "experiments.benchmarks.hyperparameter_drift", *argv]
    )
    steps = " | ".join(f"n+{i}" for i in range(1, _STEPS + 1))
    OUT.write_text(
        f"""# Hyperparameter drift of a warm-started GP per added observation

Command (from the repository root):

    {command}

{PROBLEM} history from `sampler_overhead.py`; largest relative change of any
lengthscale or mean constant between the fit at one observation count and the next
(see the script's docstring).

| observations | {steps} |
|---|{"---|" * _STEPS}
"""
        + "\n".join(rows)
        + "\n"
    )


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    main()
