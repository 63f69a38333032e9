"""One benchmark run, and the results CSV that collects runs as they finish.

A full suite takes hours on a small machine, so every finished run is appended at once
and a restarted suite skips the runs already in the file. The file's comment header
holds every command that wrote to it.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.benchmarks.suite.hypervolume import hypervolume_trace, log10_gap
from experiments.benchmarks.suite.methods import Method
from experiments.benchmarks.suite.problems import BenchProblem

__all__ = ["COLUMNS", "ResultsFile", "commands", "read_results", "run_one"]

COLUMNS: tuple[str, ...] = (
    "method",
    "problem",
    "seed",
    "trial",
    "initial",
    "hypervolume",
    "log10_hv_gap",
    "propose_s",
    "reported_s",
    "values",
)
"""``trial`` counts from 0 and equals the observations the proposal saw; ``initial``
marks the shared Sobol design; ``propose_s`` is optimizer wall time, ``reported_s`` the
sampler's own account (moo only); ``values`` the objectives, ``;``-joined."""


def run_one(problem: BenchProblem, method: Method, seed: int, budget: int) -> list[dict[str, Any]]:
    """Run ``method`` on ``problem`` from the seed's Sobol design; one row per trial."""
    initial = problem.space.sobol(problem.n_initial, seed)
    steps = method.run(problem, seed, initial, budget)
    trace = hypervolume_trace([step.values for step in steps], problem.reference_point)
    return [
        {
            "method": method.name,
            "problem": problem.name,
            "seed": seed,
            "trial": trial,
            "initial": trial < problem.n_initial,
            "hypervolume": hv,
            "log10_hv_gap": log10_gap(hv, problem.max_hv),
            "propose_s": step.propose_s,
            "reported_s": step.reported_s,
            "values": ";".join(f"{v:.10g}" for v in step.values),
        }
        for trial, (step, hv) in enumerate(zip(steps, trace, strict=True))
    ]


class ResultsFile:
    """The results CSV: a ``# command:`` header per writer, then one row per trial."""

    def __init__(self, path: Path, command: str) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not path.exists()
        with path.open("a", newline="") as f:
            f.write(f"# command: {command}\n")
            if fresh:
                csv.writer(f).writerow(COLUMNS)

    def done(self) -> set[tuple[str, str, int]]:
        """``(method, problem, seed)`` of the runs already in the file."""
        frame = read_results(self.path)
        return set(zip(frame["method"], frame["problem"], frame["seed"], strict=True))

    def merge(self, other: Path, *, supersede: bool = False) -> int:
        """Append the runs of another results CSV that this one lacks, and its commands.

        Lets several suite processes write to their own files (no interleaved appends)
        and be collected into one. With ``supersede``, the other file's runs replace every
        run of this one with the same method and problem, whatever its seed (a re-run on
        newer code: the older runs measured other code); the comment lines (commands) are
        kept. Returns the number of runs added.
        """
        frame = read_results(other)
        if supersede:
            self._drop(set(zip(frame["method"], frame["problem"], strict=True)))
        done = self.done()
        keys = zip(frame["method"], frame["problem"], frame["seed"], strict=True)
        new = frame[[key not in done for key in keys]]
        known = set(commands(self.path))
        with self.path.open("a", newline="") as f:
            for command in commands(other):
                if command not in known:
                    f.write(f"# command: {command}\n")
            new.to_csv(f, header=False, index=False, columns=list(COLUMNS))
        return new.groupby(["method", "problem", "seed"]).ngroups

    def _drop(self, cells_of: set[tuple[str, str]]) -> None:
        """Rewrite the file without the rows of these ``(method, problem)`` cells, comment
        lines in place."""
        kept = []
        for line in self.path.read_text().splitlines(keepends=True):
            cells = line.split(",", 3)
            is_row = not line.startswith("#") and len(cells) == 4 and cells[2].isdigit()
            if not is_row or (cells[0], cells[1]) not in cells_of:
                kept.append(line)
        self.path.write_text("".join(kept))

    def append(self, rows: list[dict[str, Any]]) -> None:
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=COLUMNS).writerows(rows)


def read_results(path: Path) -> pd.DataFrame:
    """The rows of a results CSV (comment lines skipped)."""
    return pd.read_csv(path, comment="#")


def commands(path: Path) -> list[str]:
    """The distinct commands recorded in the header comments of a results CSV, in order."""
    prefix = "# command: "
    with path.open() as f:
        lines = [line[len(prefix) :].rstrip("\n") for line in f if line.startswith(prefix)]
    return list(dict.fromkeys(lines))
