"""What does each part of moo's sampler buy, switched off (or on) one at a time?

Usage::

    OMP_NUM_THREADS=1 python -m experiments.benchmarks.sampler_ablation VARIANT SEEDS PROBLEM...
    python -m experiments.benchmarks.sampler_ablation summary
    python -m experiments.benchmarks.sampler_ablation import-suite CSV METHOD VARIANT

    e.g. ... sampler_ablation learned-noise 0,1,2 branin_currin zdt1 dtlz2 vehicle_safety

Runs the suite's ``moo-qlognehvi`` (same problems, budgets and Sobol designs as
``sampler_suite``) with one part taken out, and appends one row per run (final log10 HV
gap to the true front, lower is better) to ``results/sampler_ablation.md``; ``summary``
pairs every variant with ``default`` seed by seed in ``results/sampler_ablation_summary.md``;
``import-suite`` takes a suite run of the same sampler as a variant's row.
Variants:

- ``default``: both parts, as the suite runs it;
- ``learned-noise``: the GPs learn a noise level (``deterministic_objectives=False``);
- ``random-starts``: the acquisition optimizer starts only from BoTorch's raw-sample
  restarts, not from observed front points;
- ``neither``: both taken out (the sampler before the two changes);
- ``no-front-starts``, ``no-ehvi-switch``, ``no-screen``, ``no-local-steps``,
  ``no-warm-start``, ``no-split``: one ``ProposalSettings`` heuristic off each (the
  front starts here without RandomStartsSampler's extra random restarts);
- ``warp``: outcomes warped (``outcome_warp``, off by default);
- ``known``: the default told the problem's known objectives (as ``moo run`` is), and
  ``known-features`` / ``known-features-warp``: the same with them as GP inputs too
  (``known_features``) / and the outcome warp, paired with ``known``.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import NamedTuple

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.optim.initializers import gen_batch_initial_conditions
from botorch.utils.multi_objective import is_non_dominated
from torch import Tensor

from experiments.benchmarks.suite.methods import Method, moo_sampler, optuna_method
from experiments.benchmarks.suite.report import final_gaps
from experiments.benchmarks.suite.runner import read_results
from experiments.benchmarks.suite.variants import (
    append_gaps,
    append_row,
    paired_summary,
    read_gaps,
)
from moo.bo import ProposalProblem, ProposalSettings
from moo.sampler import QNEHVISampler

OUT = Path(__file__).resolve().parent / "results" / "sampler_ablation.md"
SUMMARY = OUT.with_name("sampler_ablation_summary.md")
KNOWN_BASE = "known"
HEADER = """# Sampler ablation: final log10 HV gap of moo-qlognehvi without one part

Rows are appended by `OMP_NUM_THREADS=1 python -m experiments.benchmarks.sampler_ablation
VARIANT SEEDS PROBLEM...` (see the script's docstring for the variants). Same problems,
budgets and seeds as the sampler suite; `default` is the suite's `moo-qlognehvi`. Lower
is better.

| variant | problem | seed | final log10 HV gap |
|---|---|---|---|
"""


class RandomStartsSampler(QNEHVISampler):
    """BoTorch's restarts alone, as many as the default's random part plus front part."""

    def _starting_points(
        self,
        acqf: AcquisitionFunction,
        problem: ProposalProblem,
        settings: ProposalSettings,
        seed: int,
    ) -> Tensor:
        front = int(is_non_dominated(problem.Y).sum())
        n = settings.num_restarts + min(front, settings.num_restarts)
        return gen_batch_initial_conditions(
            acqf, problem.bounds, q=1, num_restarts=n, raw_samples=settings.raw_samples
        )


class Variant(NamedTuple):
    """How one variant builds the suite's moo-qlognehvi."""

    deterministic: bool = True
    sampler_class: type[QNEHVISampler] = QNEHVISampler
    settings: ProposalSettings = ProposalSettings()
    known: bool = False  # the problem's known objectives given, as ``moo run`` gives them


def _off(**changes: object) -> Variant:
    """The default with one heuristic of ``ProposalSettings`` changed (switched off, or on
    for one that is off by default)."""
    return Variant(settings=ProposalSettings(**changes))  # type: ignore[arg-type]


VARIANTS: dict[str, Variant] = {
    "default": Variant(),
    "learned-noise": Variant(deterministic=False),
    "random-starts": Variant(sampler_class=RandomStartsSampler),
    "neither": Variant(deterministic=False, sampler_class=RandomStartsSampler),
    # One heuristic off each, by its setting:
    "no-front-starts": _off(front_starts=False),
    "no-ehvi-switch": _off(ehvi_after=None),
    "no-screen": _off(screen_size=None),
    "no-local-steps": _off(local_steps=0),
    "no-warm-start": _off(warm_start_after=None),
    "no-split": _off(split_after=None),
    "warp": _off(outcome_warp=True),
    # With the problem's known objectives (NAS-Bench-201 latencies, digits latency and
    # energy), paired with each other:
    KNOWN_BASE: Variant(known=True),
    "known-features": Variant(known=True, settings=ProposalSettings(known_features=True)),
    "known-features-warp": Variant(
        known=True, settings=ProposalSettings(known_features=True, outcome_warp=True)
    ),
}


def write_summary() -> None:
    """Pair each variant with its base, ``default`` or ``known`` (same seeds, same Sobol
    designs)."""
    gaps = read_gaps(OUT)
    with_known = gaps["variant"].isin([n for n, v in VARIANTS.items() if v.known])
    known_part = (
        "\nWith the problems' known objectives given, paired with `known`:\n\n"
        + paired_summary(gaps[with_known], base=KNOWN_BASE)
        if with_known.any()
        else ""
    )
    SUMMARY.write_text(
        "# Sampler ablation, paired with the default\n\n"
        "Written by `python -m experiments.benchmarks.sampler_ablation summary` from the\n"
        "latest row of each variant, problem and seed in `sampler_ablation.md`. `change` is\n"
        "the variant's final log10 HV gap minus the default's on the same seed: positive\n"
        "means the part the variant switches off pays on that problem (for `warp` and the\n"
        "`known-features` variants, which switch parts on, that those parts hurt).\n\n"
        + paired_summary(gaps[~with_known], base="default")
        + known_part
    )
    print(SUMMARY.read_text())


def import_suite_runs(results_csv: Path, method: str, variant: str) -> None:
    """Append the final gaps of ``method``'s runs in a suite results CSV as ``variant``
    rows: the suite runs a variant's very sampler on the same problems, budgets and Sobol
    designs (``moo-qlognehvi-known-features`` is ``known-features``), so a run need not be
    made twice."""
    gaps = final_gaps(read_results(results_csv))
    for row in gaps[gaps["method"] == method].itertuples():
        append_row(OUT, HEADER, [variant, row.problem, row.seed, f"{row.log10_hv_gap:.3f}"])


def main(argv: list[str]) -> None:
    if argv == ["summary"]:
        write_summary()
        return
    if argv[:1] == ["import-suite"]:
        import_suite_runs(Path(argv[1]), method=argv[2], variant=argv[3])
        return
    name, seeds, problems = argv[0], [int(s) for s in argv[1].split(",")], argv[2:]
    variant = VARIANTS[name]
    factory = partial(
        moo_sampler,
        "qlognehvi",
        variant.known,
        deterministic=variant.deterministic,
        settings=variant.settings,
        sampler_class=variant.sampler_class,
    )
    method = Method(f"moo-{name}", optuna_method(factory))
    torch.set_num_threads(1)
    append_gaps(OUT, HEADER, name, method, problems, seeds)


if __name__ == "__main__":
    main(sys.argv[1:])
