"""One-off variant studies of moo's sampler (a heuristic or a prior swapped in): the
suite's runs, reported as markdown rows appended to a results page as they finish, so a
stopped study keeps what it measured."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from experiments.benchmarks.suite.methods import METHODS, Method
from experiments.benchmarks.suite.problems import get_problem
from experiments.benchmarks.suite.runner import run_one

__all__ = ["append_gaps", "append_row", "final_gap"]


def final_gap(problem_name: str, seed: int, method: Method | None = None) -> float:
    """Final log10 HV gap of ``method`` (default: the suite's moo-qlognehvi) with the
    suite's budget and Sobol design."""
    problem = get_problem(problem_name)
    rows = run_one(problem, method or METHODS["moo-qlognehvi"], seed, problem.budget)
    return float(rows[-1]["log10_hv_gap"])


def append_row(page: Path, header: str, cells: Sequence[object]) -> None:
    """Print one table row and append it to ``page`` (created with ``header``)."""
    if not page.exists():
        page.write_text(header)
    line = "| " + " | ".join(str(c) for c in cells) + " |"
    print(line, flush=True)
    with page.open("a") as out:
        out.write(line + "\n")


def append_gaps(
    page: Path,
    header: str,
    name: str,
    method: Method,
    problems: Sequence[str],
    seeds: Sequence[int],
) -> None:
    """Run ``method`` on every problem and seed, one row ``name | problem | seed | gap`` each,
    appended as it finishes."""
    for problem_name in problems:
        for seed in seeds:
            gap = final_gap(problem_name, seed, method)
            append_row(page, header, [name, problem_name, seed, f"{gap:.3f}"])
