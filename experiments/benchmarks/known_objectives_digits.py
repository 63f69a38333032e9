"""Issue-6 figure: what exact hardware objectives buy on the digits study.

Usage::

    OMP_NUM_THREADS=1 python -m experiments.benchmarks.known_objectives_digits [--seeds 0 1]
        [--budget 30]

Runs ``experiments/quickstart.yaml`` (real training on scikit-learn's digits) twice per
seed with the stop rule off: once with latency and energy given to the acquisition
exactly by the hardware model (the default), once with them learned by the GP like
accuracy. Both runs of a seed share their Sobol design, so their hypervolumes are
compared on one scale: objectives (latency and energy in log10, as the study sees them)
normalized by the ideal and nadir of both runs' feasible trials together (nadir pushed
out 10%). Writes
``results/known_objectives_digits.md``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import optuna
import torch

from moo.config import StudyConfig, load_study_config
from moo.history import feasible, inferred_scale, objective_rows
from moo.keys import SIBLING_KEY
from moo.pareto import hypervolume, log_scaled, to_minimization
from moo.study import StudyRun, create_study

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "experiments" / "quickstart.yaml"
OUT = ROOT / "experiments" / "benchmarks" / "results" / "known_objectives_digits.md"
COMMAND = "OMP_NUM_THREADS=1 python -m experiments.benchmarks.known_objectives_digits"
CHECKPOINTS = (20, 25, 30, 40)


def run(seed: int, budget: int, known: bool, storage: str) -> optuna.Study:
    config: StudyConfig = load_study_config(QUICKSTART)
    config.study.seed = seed
    config.study.name = f"digits_{'known' if known else 'learned'}_{seed}"
    config.sampler.known_objectives = known
    config.stop.rule, config.stop.max_trials = "budget", budget
    study = create_study(config, storage=storage)
    StudyRun(study, config).run()
    return study


def hv_after(
    study: optuna.Study, n: int, scale: tuple[np.ndarray, np.ndarray], log: Sequence[int]
) -> float:
    """Normalized HV of the first ``n`` proposed trials and their siblings."""
    trials = study.get_trials(deepcopy=False)
    proposed = [t for t in trials if SIBLING_KEY not in t.user_attrs][:n]
    numbers = {t.number for t in proposed}
    group = [t for t in trials if t.number in numbers or t.user_attrs.get(SIBLING_KEY) in numbers]
    Z = _minimized(study, group, log)
    ideal, ref = scale
    m = Z.shape[1]
    return hypervolume((Z - ideal) / (ref - ideal), ["minimize"] * m, [1.0] * m)


def _minimized(study: optuna.Study, trials: list, log: Sequence[int]) -> np.ndarray:
    """Feasible rows, minimized, on the study's scales (latency and energy in log10)."""
    Y = objective_rows([t for t in trials if feasible(t)], len(study.directions))
    directions = [d.name.lower() for d in study.directions]
    return to_minimization(log_scaled(Y, log), directions)


def common_scale(studies: list[optuna.Study], log: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Ideal and reference point of all the studies' rows, as a study infers them."""
    return inferred_scale(
        np.vstack([_minimized(s, s.get_trials(deepcopy=False), log) for s in studies])
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--budget", type=int, default=30)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    points = [n for n in CHECKPOINTS if n <= args.budget]
    log = load_study_config(QUICKSTART).log_objectives
    command = " ".join([COMMAND, *(argv if argv is not None else sys.argv[1:])])
    lines = [
        "# Known hardware objectives on the digits study",
        "",
        f"Command: `{command}`",
        "",
        "Normalized hypervolume (latency and energy in log10; ideal 0, nadir + 10% of the "
        "range 1, both runs of a seed on one scale) after n proposed trials; higher is better.",
        "",
        "| seed | latency/energy | " + " | ".join(f"HV @ {n}" for n in points) + " |",
        "|---|---|" + "---|" * len(points),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            storage = f"sqlite:///{tmp}/seed{seed}.db"
            studies = {known: run(seed, args.budget, known, storage) for known in (True, False)}
            scale = common_scale(list(studies.values()), log)
            for known, study in studies.items():
                values = " | ".join(f"{hv_after(study, n, scale, log):.4f}" for n in points)
                row = f"| {seed} | {'exact (hardware model)' if known else 'learned (GP)'} | "
                lines.append(row + values + " |")
                print(lines[-1], flush=True)
            OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
