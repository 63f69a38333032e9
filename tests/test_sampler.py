"""QNEHVISampler on real BoTorch test functions, inside plain Optuna studies."""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch
from botorch.exceptions.errors import ModelFittingError
from linear_operator.utils.errors import NotPSDError

from moo.bo import ProposalSettings
from moo.keys import PROPOSAL_ERROR_KEY
from moo.pareto import hypervolume
from moo.sampler import QNEHVISampler
from moo.space import SearchSpace
from objectives.protocol import EvalContext
from objectives.synthetic import SyntheticProblem

FAST = ProposalSettings(num_restarts=2, raw_samples=64)
"""Few restarts: the tests check behaviour, not the optimizer's last digits."""
FASTER = ProposalSettings(num_restarts=2, raw_samples=32)

optuna.logging.set_verbosity(optuna.logging.WARNING)
CONTEXT = EvalContext(seed=0, workdir=Path("."))


def unit_space(d: int) -> SearchSpace:
    return SearchSpace.from_dict(
        {"parameters": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(d)}}
    )


def run(problem: SyntheticProblem, sampler: optuna.samplers.BaseSampler, n: int) -> optuna.Study:
    info = problem.info
    space = unit_space(len(info.bounds))
    study = optuna.create_study(
        directions=["minimize"] * len(info.objective_names), sampler=sampler
    )

    def objective(trial: optuna.Trial) -> list[float]:
        metrics = problem.evaluate(space.suggest(trial), CONTEXT).metrics
        return [metrics[name] for name in info.objective_names]

    study.optimize(objective, n_trials=n)
    return study


def final_hv(study: optuna.Study, problem: SyntheticProblem) -> float:
    Y = np.array([t.values for t in study.trials])
    info = problem.info
    return hypervolume(Y, ["minimize"] * len(info.objective_names), info.reference_point)


def moo_sampler(d: int, seed: int = 0, **kwargs: object) -> QNEHVISampler:
    return QNEHVISampler(search_space=unit_space(d), seed=seed, settings=FAST, **kwargs)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("branin_currin", {}), ("dtlz2", {"dim": 4, "num_objectives": 3})],
)
def test_beats_random_search_at_30_trials(name: str, kwargs: dict) -> None:
    problem = SyntheticProblem(problem=name, **kwargs)
    d = len(problem.info.bounds)
    # The reference point of the HV measure is the study's, as a YAML would give it.
    sampler = moo_sampler(d, reference_point=problem.info.reference_point)
    ours = final_hv(run(problem, sampler, 30), problem)
    random = final_hv(run(problem, optuna.samplers.RandomSampler(seed=0), 30), problem)
    assert ours > random
    assert ours > 1.2 * random  # and not by a hair


@pytest.mark.slow
def test_proposals_are_inside_the_space_and_never_repeat() -> None:
    space = SearchSpace.from_dict(
        {
            "parameters": {
                "x0": {"type": "float", "low": 0.0, "high": 1.0},
                "bits": {"type": "ordinal", "values": [2, 4, 8]},
                "device": {"type": "categorical", "choices": ["a", "b"]},
            }
        }
    )
    sampler = QNEHVISampler(search_space=space, seed=1, n_initial=4, settings=FASTER)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        c = space.suggest(trial)
        penalty = 0.3 if c["device"] == "a" else 0.0
        return c["bits"] / 8 + penalty, 1 - c["x0"] * c["bits"] / 8

    study.optimize(objective, n_trials=14)
    configs = [t.params for t in study.trials]
    assert all(space.validate(c) == c for c in configs)
    keys = {tuple(space.encode([c])[0].tolist()) for c in configs}
    assert len(keys) == len(configs)
    assert {t.system_attrs["moo:proposal"] for t in study.trials} == {"sobol", "bo"}


def test_exhausts_a_small_discrete_space_without_repeating() -> None:
    space = SearchSpace.from_dict(
        {
            "parameters": {
                "a": {"type": "ordinal", "values": [1, 2, 3]},
                "b": {"type": "categorical", "choices": ["x", "y"]},
            }
        }
    )
    sampler = QNEHVISampler(search_space=space, seed=0, n_initial=2)
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    study.optimize(lambda t: (space.suggest(t)["a"], float(t.params["b"] == "x")), n_trials=6)
    assert len({(t.params["a"], t.params["b"]) for t in study.trials}) == 6


def test_pending_trials_change_the_proposal() -> None:
    problem = SyntheticProblem(problem="branin_currin")
    space = unit_space(2)
    study = run(problem, moo_sampler(2, seed=3), 8)
    first = space.suggest(study.ask())  # RUNNING: the next proposal must account for it
    second = space.suggest(study.ask())
    assert first != second
    alone = optuna.create_study(directions=["minimize", "minimize"], sampler=moo_sampler(2, seed=3))
    for t in study.trials:
        if t.state == optuna.trial.TrialState.COMPLETE:
            alone.add_trial(t)
    without_pending = space.suggest(alone.ask())
    assert without_pending == first  # same history, same seed: same proposal
    assert without_pending != second


def test_the_asks_of_a_batch_are_seeded_apart() -> None:
    """Asks made while others are pending see the same completed trials; seeded by the
    data alone they would share restarts and MC samples and crowd one region."""
    space = unit_space(2)
    study = run(SyntheticProblem(problem="branin_currin"), moo_sampler(2, seed=3), 8)
    batch = [study.ask() for _ in range(3)]
    for trial in batch:
        space.suggest(trial)
    seeds = [study.trials[t.number].system_attrs["moo:proposal_seed"] for t in batch]
    assert len(set(seeds)) == 3


class _FailingProposal(QNEHVISampler):
    """A sampler whose every BO proposal raises ``error``, as BoTorch did on real studies."""

    def __init__(self, error: Exception, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.error = error

    def _propose(self, *args: object, **kwargs: object) -> tuple:
        raise self.error


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        # NAS-Bench-201, after a chain of warm starts drifted.
        (
            ModelFittingError("All attempts to fit the model have failed."),
            "ModelFittingError: All attempts to fit the model have failed.",
        ),
        (
            NotPSDError("Matrix not positive definite after repeatedly adding jitter up to 1e-6."),
            "NotPSDError: Matrix not positive definite after repeatedly adding jitter up to 1e-6.",
        ),
        # optimize_acqf_mixed_alternating, its message running to several lines.
        (
            RuntimeError("Optimization failed.\nAll restarts ended in NaN."),
            "RuntimeError: Optimization failed.",
        ),
    ],
    ids=["model-fitting", "not-psd", "optimizer"],
)
def test_a_failed_proposal_gives_a_quasi_random_trial_not_a_crash(
    caplog: pytest.LogCaptureFixture, error: Exception, reason: str
) -> None:
    space = unit_space(2)
    sampler = _FailingProposal(error, search_space=space, seed=0, n_initial=4)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    with caplog.at_level(logging.WARNING, logger="moo.sampler"):
        study.optimize(lambda t: tuple(space.suggest(t).values()), n_trials=6)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 6
    assert {t.system_attrs["moo:proposal"] for t in study.trials} == {"sobol"}
    assert len({tuple(t.params.values()) for t in study.trials}) == 6
    warnings = [r.getMessage() for r in caplog.records if r.name == "moo.sampler"]
    assert [w.split(":")[0] for w in warnings] == ["trial 4", "trial 5"]
    assert (
        warnings[1] == f"trial 5: no model-based proposal ({reason}); a quasi-random config instead"
    )
    assert study.trials[5].system_attrs[PROPOSAL_ERROR_KEY] == reason


LATENCY = {"m0": 8.0, "m4": 2.0, "m7": 1.0}
"""Latency factor per core of the known-metric test: exact, like a hardware model."""


def test_a_known_metric_that_raises_makes_its_configs_unusable_not_the_study_fail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hardware model that rejects configs the space allows (here: wide models on the
    M0+) must not crash the proposal that scores them; they are simply never proposed."""
    space = SearchSpace.from_dict(
        {
            "parameters": {
                "width": {"type": "ordinal", "values": [1, 2, 3, 4, 5, 6]},
                "core": {"type": "categorical", "choices": list(LATENCY)},
            }
        }
    )

    def latency(config: dict) -> float:
        if config["core"] == "m0" and config["width"] >= 3:
            raise ValueError(f"width {config['width']} does not fit the M0+")
        return config["width"] * LATENCY[config["core"]]

    sampler = QNEHVISampler(
        search_space=space, seed=0, n_initial=4, known_objectives={0: latency}, log_objectives=[0]
    )
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        config = space.suggest(trial)
        accuracy = 1 - 1 / (1 + config["width"])
        try:
            return latency(config), accuracy
        except ValueError:
            return math.nan, accuracy  # the evaluation fails, as a real one would

    with caplog.at_level(logging.WARNING, logger="moo.sampler"):
        study.optimize(objective, n_trials=10)
    bo = [t for t in study.trials if t.system_attrs["moo:proposal"] == "bo"]
    assert len(bo) == 6  # every proposal after the design was model-based
    assert not any(t.params["core"] == "m0" and t.params["width"] >= 3 for t in bo)
    warnings = [r.getMessage() for r in caplog.records if "known metrics failed" in r.getMessage()]
    assert warnings and all("\n" not in w for w in warnings)
    assert "taken as unusable (first {'width': " in warnings[0]
    assert "ValueError: width " in warnings[0] and "does not fit the M0+" in warnings[0]


def test_two_worker_threads_keep_the_seed_and_the_sobol_design() -> None:
    """Optuna calls ``reseed_rng`` in every worker thread; a new master seed there made
    the initial design of a 2-worker study random draws instead of one Sobol design."""
    space = unit_space(3)

    def design(n_jobs: int) -> list[dict]:
        sampler = QNEHVISampler(search_space=space, seed=5, n_initial=8)
        study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
        study.optimize(lambda t: (sum(space.suggest(t).values()), 0.0), n_trials=8, n_jobs=n_jobs)
        assert sampler._seed == 5
        return [t.params for t in sorted(study.trials, key=lambda t: t.number)]

    assert design(2) == design(1) == space.sobol(8, 5)


def test_proposals_made_in_concurrent_threads_are_the_proposals_made_alone() -> None:
    """Worker threads share torch's global RNG: a proposal must not depend on what
    another thread draws or seeds meanwhile."""
    problem = SyntheticProblem(problem="branin_currin")
    space = unit_space(2)
    history = run(problem, moo_sampler(2, seed=3), 8).trials

    def objective(config: dict) -> list[float]:
        return list(problem.evaluate(config, CONTEXT).metrics.values())

    def two_proposals(seed: int) -> list[dict]:
        study = optuna.create_study(
            directions=["minimize", "minimize"], sampler=moo_sampler(2, seed=seed)
        )
        study.add_trials(history)
        configs = []
        for _ in range(2):
            trial = study.ask()
            configs.append(space.suggest(trial))
            study.tell(trial, objective(configs[-1]))
        return configs

    seeds = [11, 12, 13]
    alone = [two_proposals(seed) for seed in seeds]
    with ThreadPoolExecutor(len(seeds)) as pool:
        together = list(pool.map(two_proposals, seeds))
    assert together == alone
    assert len({tuple(c.values()) for run in alone for c in run}) == 6


def test_same_seed_same_proposals() -> None:
    problem = SyntheticProblem(problem="branin_currin")
    a = [t.params for t in run(problem, moo_sampler(2, seed=7), 9).trials]
    b = [t.params for t in run(problem, moo_sampler(2, seed=7), 9).trials]
    c = [t.params for t in run(problem, moo_sampler(2, seed=8), 9).trials]
    assert a == b and a != c


def test_maximized_objectives_and_four_objectives() -> None:
    problem = SyntheticProblem(problem="dtlz2", dim=5, num_objectives=4)
    space = unit_space(5)
    sampler = QNEHVISampler(search_space=space, seed=0, n_initial=6, settings=FASTER)
    study = optuna.create_study(directions=["maximize"] * 4, sampler=sampler)

    def objective(trial: optuna.Trial) -> list[float]:
        metrics = problem.evaluate(space.suggest(trial), CONTEXT).metrics
        return [-metrics[f"f{i}"] for i in range(4)]

    study.optimize(objective, n_trials=9)
    bo = [t for t in study.trials if t.system_attrs["moo:proposal"] == "bo"]
    assert len(bo) == 3 and all(np.isfinite(t.system_attrs["moo:acq_value"]) for t in bo)


def test_constraints_steer_proposals_into_the_feasible_region() -> None:
    problem = SyntheticProblem(problem="branin_currin")
    space = unit_space(2)

    def constraints(trial: optuna.trial.FrozenTrial) -> list[float]:
        return [trial.params["x0"] - 0.5]  # feasible: x0 <= 0.5

    sampler = QNEHVISampler(
        search_space=space,
        seed=0,
        n_initial=6,
        settings=FAST,
        constraints_func=constraints,
    )
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(
        lambda t: list(problem.evaluate(space.suggest(t), CONTEXT).metrics.values()), n_trials=16
    )
    bo = [t for t in study.trials if t.system_attrs["moo:proposal"] == "bo"]
    feasible = sum(t.params["x0"] <= 0.5 for t in bo)
    assert feasible >= 0.8 * len(bo)


@pytest.mark.parametrize("acquisition", ["qlognehvi", "qnehvi", "qlognparego"])
def test_every_acquisition_makes_model_based_proposals(acquisition: str) -> None:
    problem = SyntheticProblem(problem="branin_currin")
    sampler = moo_sampler(2, n_initial=4, acquisition=acquisition)
    study = run(problem, sampler, 6)
    bo = [t for t in study.trials if t.system_attrs["moo:proposal"] == "bo"]
    assert len(bo) == 2 and all(np.isfinite(t.system_attrs["moo:acq_value"]) for t in bo)
    # Seeded: a second run proposes the same configs.
    assert [
        t.params
        for t in run(problem, moo_sampler(2, n_initial=4, acquisition=acquisition), 6).trials
    ] == [t.params for t in study.trials]


def test_the_switch_to_qlogehvi_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    settings = ProposalSettings(num_restarts=2, raw_samples=32, ehvi_after=5)
    sampler = QNEHVISampler(search_space=unit_space(2), seed=0, n_initial=4, settings=settings)
    with caplog.at_level(logging.INFO, logger="moo.sampler"):
        run(SyntheticProblem(problem="branin_currin"), sampler, 8)
    lines = [r.getMessage() for r in caplog.records if r.name == "moo.sampler"]
    assert lines == ["qlognehvi -> qlogehvi past 5 observations (ProposalSettings.ehvi_after)"]


def test_thresholds_are_the_reference_and_the_rest_is_inferred() -> None:
    Y = torch.tensor([[1.0, -5.0], [3.0, -2.0]], dtype=torch.double)  # maximized
    signs = torch.tensor([1.0, -1.0], dtype=torch.double)  # maximize f0, minimize f1
    sampler = QNEHVISampler(reference_point=[math.nan, 4.0])
    assert sampler._reference(Y, signs).tolist() == pytest.approx([0.8, -4.0])
    assert QNEHVISampler()._reference(Y, signs).tolist() == pytest.approx([0.8, -5.3])
