"""Does the screen of large enumerated spaces starve the acquisition of exploitation?

Usage::

    OMP_NUM_THREADS=1 python -m experiments.benchmarks.screen_neighbours SEEDS PROBLEM...

    e.g. ... screen_neighbours 0,1,2 nb201_pixel3 nb201_pi4

On NAS-Bench-201 (15,625 cells) moo scores every unseen cell by the hypervolume
improvement of its optimistic point (mean + 2 sd) and gives the 512 best to qLogEHVI
(``moo.bo.optimize.screen``, the sampler's ``_screen`` hook). Far from the data a
categorical GP is uncertain everywhere, so the optimistic screen can fill its 512 with
distant cells and leave out the cells one operation away from the observed front, where
TPE finds its gains. This variant keeps the screen's 512 *plus* every unseen cell that
differs from an observed front cell in one coordinate, and appends one row per run
(final log10 HV gap, lower is better) to ``results/screen_neighbours.md``. Same
problems, budgets and Sobol designs as ``sampler_suite``; compare with the suite's
``moo-qlognehvi`` rows of the same seeds.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.utils.multi_objective import is_non_dominated
from torch import Tensor

from experiments.benchmarks.suite.methods import Method, moo_sampler, optuna_method
from experiments.benchmarks.suite.variants import append_gaps
from moo.bo import ProposalProblem, ProposalSettings
from moo.sampler import QNEHVISampler

OUT = Path(__file__).resolve().parent / "results" / "screen_neighbours.md"
HEADER = """# Screen plus front neighbours: final log10 HV gap of moo-qlognehvi (lower is better)

Rows are appended by `OMP_NUM_THREADS=1 python -m experiments.benchmarks.screen_neighbours
SEEDS PROBLEM...` (see the script's docstring). Same problems, budgets and seeds as the
sampler suite; the default's gaps are the suite's `moo-qlognehvi` rows.

| variant | problem | seed | final log10 HV gap |
|---|---|---|---|
"""


class ScreenAndNeighbours(QNEHVISampler):
    """The optimistic screen's rows plus every candidate one coordinate from the front."""

    def _screen(
        self,
        acqf: AcquisitionFunction,
        problem: ProposalProblem,
        candidates: Tensor,
        settings: ProposalSettings,
    ) -> Tensor:
        front = problem.X[is_non_dominated(problem.Y)]
        differing = (candidates.unsqueeze(1) != front.unsqueeze(0)).sum(dim=-1).min(dim=1).values
        kept = [super()._screen(acqf, problem, candidates, settings), candidates[differing <= 1]]
        return torch.cat(kept).unique(dim=0)


def main(argv: list[str]) -> None:
    seeds, problems = [int(s) for s in argv[0].split(",")], argv[1:]
    factory = partial(moo_sampler, "qlognehvi", False, sampler_class=ScreenAndNeighbours)
    method = Method("moo-screen+neighbours", optuna_method(factory))
    append_gaps(OUT, HEADER, "screen+neighbours", method, problems, seeds)


if __name__ == "__main__":
    main(sys.argv[1:])
