"""Optimizer seconds per proposal at fixed history sizes: moo vs Optuna's GP samplers.

Usage::

    python -m experiments.benchmarks.sampler_overhead                 # 30/100/500, 3 obj.
    python -m experiments.benchmarks.sampler_overhead --sizes 30 100 --methods moo gp

The history is the same for every method: ``n - 1`` VehicleSafety trials (3 objectives,
5 inputs) proposed by a seeded NSGA-II, which puts many points near the front as a long
BO run does (a random history has a far smaller front and flatters box decompositions).
Each method first makes one untimed proposal on it (a cold start: moo stores its GP
hyperparameters in the study, GPSampler caches its kernel parameters), then ``--repeats``
timed ones, each told before the next. Writes ``results/sampler_overhead.md``.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import optuna
import torch
from botorch.exceptions.warnings import NumericsWarning
from optuna.samplers import BaseSampler, GPSampler, NSGAIISampler
from optuna_integration import BoTorchSampler

from experiments.benchmarks.suite.methods import moo_sampler
from experiments.benchmarks.suite.problems import BenchProblem, get_problem
from moo.bo import ProposalSettings

_logger = logging.getLogger("experiments.benchmarks.sampler_overhead")

RESULTS = Path(__file__).resolve().parent / "results" / "sampler_overhead.md"
PROBLEM = "vehicle_safety"

Factory = Callable[[BenchProblem], BaseSampler]
SAMPLERS: dict[str, Factory] = {
    "moo": lambda p: moo_sampler("qlognehvi", False, p, 0),  # as the suite runs it
    # moo before its GPs were split per output and held their hyperparameters on
    # alternate proposals past 200 observations (``split_after``, ``hold_after``).
    "moo-before": lambda p: moo_sampler(
        "qlognehvi", False, p, 0, settings=ProposalSettings(split_after=None, hold_after=None)
    ),
    "gp": lambda p: GPSampler(seed=0, n_startup_trials=p.n_initial, deterministic_objective=True),
    "botorch-sampler": lambda p: BoTorchSampler(seed=0, n_startup_trials=p.n_initial),
}
# optuna-integration's BoTorchSampler takes about a minute per proposal at 60 points here:
# one timed proposal per size, and none past 100 points.
_SLOW = {"botorch-sampler": (1, 100)}


def _history(problem: BenchProblem, n: int) -> list[optuna.trial.FrozenTrial]:
    study = optuna.create_study(
        directions=["minimize"] * len(problem.objective_names),
        sampler=NSGAIISampler(seed=0, population_size=20),
    )
    distributions = problem.space.to_optuna()
    for _ in range(n):
        trial = study.ask(distributions)
        study.tell(trial, problem.evaluate(trial.params))
    return study.trials


def time_proposals(
    problem: BenchProblem, factory: Factory, history: list[optuna.trial.FrozenTrial], repeats: int
) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each of ``repeats`` proposals after one untimed one on
    ``history``. CPU seconds of a one-thread proposal are its work, whatever else runs
    on a shared machine; wall seconds carry the machine's load."""
    study = optuna.create_study(
        directions=["minimize"] * len(problem.objective_names), sampler=factory(problem)
    )
    study.add_trials(history)
    distributions = problem.space.to_optuna()
    seconds, cpu = [], []
    for i in range(repeats + 1):
        start, start_cpu = time.perf_counter(), time.process_time()
        trial = study.ask(distributions)
        _ = trial.relative_params  # the proposal itself, computed lazily by Optuna
        if i:
            seconds.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        study.tell(trial, problem.evaluate(trial.params))
    return seconds, cpu


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.benchmarks.sampler_overhead",
        description=__doc__.split("\n")[0],
    )
    parser.add_argument("--sizes", nargs="+", type=int, default=[30, 100, 500])
    parser.add_argument("--methods", nargs="+", choices=list(SAMPLERS), default=list(SAMPLERS))
    parser.add_argument(
        "--threads",
        nargs="+",
        type=int,
        default=[1, 0],
        help="torch threads; 0 = torch's default (all cores)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    """Time every method at every size and thread count; write and return the rows."""
    argv = sys.argv[1:] if argv is None else argv
    args = _parse(argv)
    problem = get_problem(PROBLEM)
    default_threads = torch.get_num_threads()
    rows: list[dict[str, object]] = []
    for n in args.sizes:
        history = _history(problem, n - 1)
        for threads in args.threads:
            torch.set_num_threads(threads or default_threads)
            for method in args.methods:
                repeats, max_n = _SLOW.get(method, (args.repeats, max(args.sizes)))
                if n > max_n:
                    continue
                seconds, cpu = time_proposals(problem, SAMPLERS[method], history, repeats)
                row = {
                    "method": method,
                    "threads": torch.get_num_threads(),
                    "n": n,
                    "median_s": statistics.median(seconds),
                    "median_cpu_s": statistics.median(cpu),
                    "seconds": seconds,
                }
                _logger.info("%s", row)
                rows.append(row)
    command = shlex.join(["python", "-m", "experiments.benchmarks.sampler_overhead", *argv])
    args.out.write_text(_markdown(rows, command))
    _logger.info("wrote %s", args.out)
    return rows


def _markdown(rows: list[dict[str, object]], command: str) -> str:
    lines = [
        "| method | torch threads | observations | median s / proposal | median CPU s | each (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        each = ", ".join(f"{s:.2f}" for s in r["seconds"])  # type: ignore[attr-defined]
        lines.append(
            f"| {r['method']} | {r['threads']} | {r['n']} | {r['median_s']:.2f} "
            f"| {r['median_cpu_s']:.2f} | {each} |"
        )
    table = "\n".join(lines)
    return f"""# Sampler overhead: optimizer seconds per proposal

Command (from the repository root, on the shared 2-core machine):

    {command}

Problem: {PROBLEM} (3 objectives, 5 inputs), history from a seeded NSGA-II; each method
makes one untimed (cold) proposal, then timed ones told one by one (see the script's
docstring). `botorch-sampler` is optuna-integration's BoTorchSampler with its defaults.
The machine is shared with other jobs, so absolute figures carry their load.

{table}
"""


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", category=NumericsWarning)
    main()
