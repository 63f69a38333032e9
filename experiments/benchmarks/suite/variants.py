"""One-off variant studies of moo's sampler (a heuristic or a prior swapped in): the
suite's runs, reported as markdown rows appended to a results page as they finish, so a
stopped study keeps what it measured."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from experiments.benchmarks.suite.methods import METHODS, Method
from experiments.benchmarks.suite.problems import get_problem
from experiments.benchmarks.suite.runner import run_one

__all__ = ["append_gaps", "append_row", "final_gap", "paired_summary", "read_gaps"]


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


def read_gaps(page: Path) -> pd.DataFrame:
    """The rows of a page ``append_gaps`` wrote: ``variant, problem, seed, gap``.

    A run repeated later (after a change to the sampler) supersedes the earlier row of the
    same variant, problem and seed, so a page accumulates history but reports current code.
    """
    rows = []
    for line in page.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[2].isdigit():
            rows.append((cells[0], cells[1], int(cells[2]), float(cells[3])))
    frame = pd.DataFrame(rows, columns=["variant", "problem", "seed", "gap"])
    return frame.drop_duplicates(["variant", "problem", "seed"], keep="last")


def paired_summary(gaps: pd.DataFrame, base: str) -> str:
    """Markdown table of every variant against ``base`` on the seeds both ran.

    Seeds share the Sobol design, so a paired difference (variant minus base, in log10
    HV gap) removes most of the seed-to-seed spread; ``worse`` counts the seeds on which
    the variant ended with a larger gap. A positive mean change means the part the variant
    takes out was paying for itself on that problem.
    """
    pivot = gaps.pivot_table(index=["problem", "seed"], columns="variant", values="gap")
    lines = [
        f"| variant | problem | seeds | variant gap | {base} gap | change (mean ± sd) | worse |",
        "|---|---|---|---|---|---|---|",
    ]
    for variant in dict.fromkeys(gaps["variant"]):
        if variant == base:
            continue
        for problem in dict.fromkeys(gaps["problem"]):
            if problem not in pivot.index.get_level_values(0):
                continue
            pair = pivot.loc[problem, [variant, base]].dropna()
            if pair.empty:
                continue
            change = pair[variant] - pair[base]
            sd = f" ± {change.std(ddof=1):.2f}" if len(pair) > 1 else ""
            lines.append(
                f"| {variant} | {problem} | {len(pair)} | {pair[variant].mean():.2f} | "
                f"{pair[base].mean():.2f} | {change.mean():+.2f}{sd} | "
                f"{int((change > 0).sum())}/{len(pair)} |"
            )
    return "\n".join(lines) + "\n"
