"""Sample-efficiency benchmark: every method on every problem, same seeds and design.

Usage::

    python -m experiments.benchmarks.sampler_suite            # all, 5 seeds (hours)
    python -m experiments.benchmarks.sampler_suite --quick    # 1 seed, small budgets
    python -m experiments.benchmarks.sampler_suite --problems zdt1 --methods gp tpe
    python -m experiments.benchmarks.sampler_suite --report-only
    python -m experiments.benchmarks.sampler_suite --merge /tmp/a/sampler_results.csv
    python -m experiments.benchmarks.sampler_suite --merge /tmp/b/sampler_results.csv --supersede

Writes ``sampler_results.csv`` (one row per trial, appended run by run; a restarted
suite skips the runs already there), ``sampler_summary.md`` and two PNGs into ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
import warnings
from pathlib import Path

import optuna
import torch
from botorch.exceptions.warnings import NumericsWarning

from experiments.benchmarks.suite.methods import METHODS
from experiments.benchmarks.suite.problems import PROBLEMS, QUICK_PROBLEMS, get_problem
from experiments.benchmarks.suite.report import write_report
from experiments.benchmarks.suite.runner import ResultsFile, run_one

_logger = logging.getLogger("experiments.benchmarks.sampler_suite")

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_SEEDS = 5


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.benchmarks.sampler_suite", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"1 seed, small budgets, problems {list(QUICK_PROBLEMS)}",
    )
    parser.add_argument("--problems", nargs="+", choices=list(PROBLEMS))
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument(
        "--seeds", type=int, help=f"seeds 0..N-1 (default {DEFAULT_SEEDS}, quick 1)"
    )
    parser.add_argument(
        "--out", type=Path, help="results folder (default results/, quick results/sampler_quick/)"
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="only rewrite the summary and plots from the existing CSV",
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=[],
        help="collect the runs of these results CSVs (suites run with their own --out) "
        "into this one instead of running anything",
    )
    parser.add_argument(
        "--supersede",
        action="store_true",
        help="with --merge: the merged runs replace every run of this CSV with the same "
        "method and problem (a re-run on newer code)",
    )
    args = parser.parse_args(argv)
    args.problems = args.problems or list(QUICK_PROBLEMS if args.quick else PROBLEMS)
    args.seeds = args.seeds or (1 if args.quick else DEFAULT_SEEDS)
    args.out = args.out or (RESULTS_DIR / "sampler_quick" if args.quick else RESULTS_DIR)
    return args


def main(argv: list[str] | None = None) -> Path:
    """Run the suite (or only its report); returns the results CSV."""
    argv = sys.argv[1:] if argv is None else argv
    args = _parse(argv)
    path = args.out / "sampler_results.csv"
    command = shlex.join(["python", "-m", "experiments.benchmarks.sampler_suite", *argv])
    if args.merge:
        results = ResultsFile(path, command)
        for other in args.merge:
            added = results.merge(other, supersede=args.supersede)
            _logger.info("merged %d runs from %s", added, other)
    elif not args.report_only:
        results = ResultsFile(path, command)
        done = results.done()
        for seed in range(args.seeds):
            for problem_name in args.problems:
                problem = get_problem(problem_name)
                budget = problem.quick_budget if args.quick else problem.budget
                for method in (METHODS[m] for m in args.methods):
                    if (method.name, problem.name, seed) in done or not method.applies(problem):
                        continue
                    start = time.perf_counter()
                    try:
                        rows = run_one(problem, method, seed, budget)
                    except Exception:  # one broken method must not stop a night-long suite
                        _logger.exception(
                            "%s on %s, seed %d failed", method.name, problem.name, seed
                        )
                        continue
                    results.append(rows)
                    _logger.info(
                        "%s on %s, seed %d: %.0f s",
                        method.name,
                        problem.name,
                        seed,
                        time.perf_counter() - start,
                    )
            write_report(path)
    for written in write_report(path):
        _logger.info("wrote %s", written)
    return path


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # TPE's multivariate mode and BoTorchSampler are marked experimental; that is known.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # The tutorial loop and moo-qnehvi use legacy qNEHVI on purpose; its warning is known.
    warnings.filterwarnings("ignore", category=NumericsWarning)
    # Timings are per core: the machine is shared, and peers get the same single thread.
    torch.set_num_threads(1)
    main()
