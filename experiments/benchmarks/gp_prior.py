"""Which GP prior should moo fit on ordered (non-categorical) spaces?

Usage::

    OMP_NUM_THREADS=1 python -m experiments.benchmarks.gp_prior VARIANT SEEDS PROBLEM...

    e.g. ... gp_prior dim-scaled 0,1 dtlz2_3obj branin_currin zdt1

Variants: ``dim-scaled`` (moo's default, BoTorch 0.18's SingleTaskGP: RBF with a
dimension-scaled log-normal lengthscale prior) and ``matern-gamma`` (Matern-5/2 with
Gamma(3, 6) lengthscale and Gamma noise priors, BoTorch's default before 0.12).
Problems are the sampler suite's (final log10 HV gap, lower is better), ``dtlz2_3obj``
(``experiments/synthetic_dtlz2.yaml`` through the engine for 60 trials: true HV with
respect to 1.1^3 after 34 and 60 trials, max 0.807, higher is better). Appends one row
per run to ``results/gp_prior.md``.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import optuna
import torch
from botorch.models import SingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms.input import InputTransform
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.gpytorch_modules import (
    get_gaussian_likelihood_with_gamma_prior,
    get_matern_kernel_with_gamma_prior,
)
from torch import Tensor

from experiments.benchmarks.suite.methods import Method, moo_sampler, optuna_method
from experiments.benchmarks.suite.variants import append_row, final_gap
from moo.bo import ProposalSettings
from moo.bo.models import fit_hyperparameters
from moo.config import load_study_config
from moo.pareto import hypervolume
from moo.sampler import QNEHVISampler
from moo.study import StudyRun, create_study

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "results" / "gp_prior.md"
HEADER = """# GP prior on ordered spaces: moo-qlognehvi with two priors

Rows are appended by `OMP_NUM_THREADS=1 python -m experiments.benchmarks.gp_prior VARIANT
SEEDS PROBLEM...` (see the script's docstring). Suite problems: final log10 HV gap (lower
is better). dtlz2_3obj: true HV after 34 / 60 trials (higher is better, max 0.807).

| variant | problem | seed | result |
|---|---|---|---|
"""


class MaternGammaSampler(QNEHVISampler):
    """moo's sampler with Matern-5/2 and Gamma priors on ordered spaces."""

    def _fit_gp(
        self,
        X: Tensor,
        Y: Tensor,
        categorical_dims: Sequence[int],
        warm_start: dict | None = None,
        *,
        deterministic: bool = False,
        settings: ProposalSettings,
        input_transform: InputTransform | None = None,
    ) -> Model:
        if categorical_dims:
            return super()._fit_gp(
                X,
                Y,
                categorical_dims,
                warm_start,
                deterministic=deterministic,
                settings=settings,
                input_transform=input_transform,
            )
        batch = torch.Size([Y.shape[-1]]) if Y.shape[-1] > 1 else torch.Size()
        gp = SingleTaskGP(
            X,
            Y,
            covar_module=get_matern_kernel_with_gamma_prior(X.shape[-1], batch_shape=batch),
            likelihood=get_gaussian_likelihood_with_gamma_prior(batch_shape=batch),
            outcome_transform=Standardize(m=Y.shape[-1]),
            input_transform=input_transform,
        )
        fit_hyperparameters(gp, warm_start, settings)
        return gp


SAMPLER_CLASSES: dict[str, type[QNEHVISampler]] = {
    "dim-scaled": QNEHVISampler,
    "matern-gamma": MaternGammaSampler,
}


def dtlz2_3obj(seed: int, sampler_class: type[QNEHVISampler]) -> str:
    config = load_study_config(ROOT / "experiments" / "synthetic_dtlz2.yaml")
    config.study.seed = seed
    config.stop.rule, config.stop.max_trials = "budget", 60
    with tempfile.TemporaryDirectory() as tmp:
        study = create_study(config, storage=f"sqlite:///{tmp}/dtlz2.db")
        StudyRun(study, config, sampler_class=sampler_class).run()
        Y = np.array([t.values for t in study.trials if t.values])
    return " / ".join(f"{hypervolume(Y[:n], ['minimize'] * 3, [1.1] * 3):.3f}" for n in (34, 60))


def main(argv: list[str]) -> None:
    name, seeds, problems = argv[0], [int(s) for s in argv[1].split(",")], argv[2:]
    sampler_class = SAMPLER_CLASSES[name]
    factory = partial(moo_sampler, "qlognehvi", False, sampler_class=sampler_class)
    method = Method(f"moo-{name}", optuna_method(factory))
    warnings.simplefilter("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for problem_name in problems:
        for seed in seeds:
            if problem_name == "dtlz2_3obj":
                result = dtlz2_3obj(seed, sampler_class)
            else:
                result = f"{final_gap(problem_name, seed, method):.3f}"
            append_row(OUT, HEADER, [name, problem_name, seed, result])


if __name__ == "__main__":
    main(sys.argv[1:])
