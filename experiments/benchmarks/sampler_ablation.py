"""What do the sampler's interpolating GPs and front starting points each buy?

Usage::

    OMP_NUM_THREADS=1 python -m experiments.benchmarks.sampler_ablation VARIANT SEEDS PROBLEM...

    e.g. ... sampler_ablation learned-noise 0,1,2 branin_currin zdt1 dtlz2 vehicle_safety

Runs the suite's ``moo-qlognehvi`` (same problems, budgets and Sobol designs as
``sampler_suite``) with one part taken out, and appends one row per run (final log10 HV
gap to the true front, lower is better) to ``results/sampler_ablation.md``. Variants:

- ``default``: both parts, as the suite runs it;
- ``learned-noise``: the GPs learn a noise level (``deterministic_objectives=False``);
- ``random-starts``: the acquisition optimizer starts only from BoTorch's raw-sample
  restarts, not from observed front points;
- ``neither``: both taken out (the sampler before the two changes).
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.optim.initializers import gen_batch_initial_conditions
from torch import Tensor

import moo.acquisition
from experiments.benchmarks.suite.methods import Method, moo_sampler, optuna_method
from experiments.benchmarks.suite.variants import append_row, final_gap

OUT = Path(__file__).resolve().parent / "results" / "sampler_ablation.md"
HEADER = """# Sampler ablation: final log10 HV gap of moo-qlognehvi without one part

Rows are appended by `OMP_NUM_THREADS=1 python -m experiments.benchmarks.sampler_ablation
VARIANT SEEDS PROBLEM...` (see the script's docstring for the variants). Same problems,
budgets, seeds and Sobol designs as the sampler suite; `default` is the suite's
`moo-qlognehvi`. Lower is better.

| variant | problem | seed | final log10 HV gap |
|---|---|---|---|
"""


def random_starts(
    acqf: AcquisitionFunction, problem: moo.acquisition.ProposalProblem, restarts: int, raw: int
) -> Tensor:
    """BoTorch's restarts alone, as many as the default's random part plus front part."""
    front = int(moo.acquisition.is_non_dominated(problem.Y).sum())
    n = restarts + min(front, restarts)
    return gen_batch_initial_conditions(acqf, problem.bounds, q=1, num_restarts=n, raw_samples=raw)


VARIANTS: dict[str, tuple[bool, bool]] = {
    # name: (deterministic objectives, front starting points)
    "default": (True, True),
    "learned-noise": (False, True),
    "random-starts": (True, False),
    "neither": (False, False),
}


def main(argv: list[str]) -> None:
    name, seeds, problems = argv[0], [int(s) for s in argv[1].split(",")], argv[2:]
    deterministic, front_starts = VARIANTS[name]
    if not front_starts:
        moo.acquisition._starting_points = random_starts  # read at each proposal
    factory = partial(moo_sampler, "qlognehvi", False, deterministic=deterministic)
    method = Method(f"moo-{name}", optuna_method(factory))
    torch.set_num_threads(1)
    for problem_name in problems:
        for seed in seeds:
            gap = final_gap(problem_name, seed, method)
            append_row(OUT, HEADER, [name, problem_name, seed, f"{gap:.3f}"])


if __name__ == "__main__":
    main(sys.argv[1:])
