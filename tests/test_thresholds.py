"""Objective thresholds (the HV reference of one objective) and outcome constraints."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState
from typer.testing import CliRunner

from moo.cli import app
from moo.config import load_study_config
from moo.errors import ConfigError
from moo.history import StudyHistory
from moo.keys import HV_KEY, REFERENCE_KEY, STOP_REASON_KEY
from moo.results import front_trials
from moo.sampler import QNEHVISampler
from moo.study import StudyRun, create_study

WriteStudy = Callable[..., Path]

ECHO = {"adapter": "tests.adapters:Echo"}
# Four initial trials with one usable model (score 0.95), then six trials that only
# improve cost among useless models (score 0.3): progress that a threshold on score
# ignores and an unthresholded study counts.
DESIGN = [(0.95, 0.9), (0.5, 0.5), (0.3, 0.4), (0.92, 0.8)]
USELESS_GAINS = [(0.3, 0.3), (0.3, 0.2), (0.3, 0.1), (0.3, 0.05), (0.3, 0.03), (0.3, 0.01)]
STOP = {"max_trials": 10, "rule": "hv_stall", "window": 2, "tol": 0.001, "min_trials": 6}


def objectives(threshold: float | None) -> list[dict]:
    score = {"name": "score", "direction": "maximize"}
    if threshold is not None:
        score["threshold"] = threshold
    return [score, {"name": "cost", "direction": "minimize"}]


def staged_run(write_study: WriteStudy, name: str, threshold: float | None) -> optuna.Study:
    path = write_study(
        name,
        objective=ECHO,
        objectives=objectives(threshold),
        sampler={"n_initial": 4},
        stop=STOP,
    )
    config = load_study_config(path)
    study = create_study(config)
    for x0, x1 in DESIGN + USELESS_GAINS:
        study.enqueue_trial({"x0": x0, "x1": x1})
    StudyRun(study, config).run()
    return study


@pytest.mark.slow
def test_a_threshold_is_the_reference_of_its_objective_only(write_study: WriteStudy) -> None:
    plain = staged_run(write_study, "plain", None)
    gated = staged_run(write_study, "gated", 0.9)
    ref_plain, ref_gated = plain.user_attrs[REFERENCE_KEY], gated.user_attrs[REFERENCE_KEY]
    # Inferred: the design's worst score (0.3) pushed out by 10% of its range (0.65).
    assert ref_plain[0] == pytest.approx(0.3 - 0.065)
    assert ref_gated[0] == 0.9
    assert ref_gated[1] == pytest.approx(ref_plain[1])  # cost is inferred in both


@pytest.mark.slow
def test_a_threshold_hides_useless_progress_from_the_stop_rule(write_study: WriteStudy) -> None:
    plain = staged_run(write_study, "plain", None)
    gated = staged_run(write_study, "gated", 0.9)
    # Without the threshold every cheaper useless model adds hypervolume: no stall.
    assert plain.user_attrs[STOP_REASON_KEY] == "max_trials (10) reached"
    plain_hv = [t.user_attrs[HV_KEY] for t in plain.trials[4:]]
    assert all(b > a for a, b in itertools.pairwise(plain_hv))
    # With it the front of usable models never moves: converged at min_trials.
    assert gated.user_attrs[STOP_REASON_KEY].startswith("converged"), gated.user_attrs
    done = gated.get_trials(states=[TrialState.COMPLETE])
    assert len(done) == STOP["min_trials"]  # the rest of the queue never ran
    config = load_study_config(Path("gated.yaml"))
    assert [t.number for t in front_trials(gated, config)] == [0, 3]  # score > 0.9 only
    assert StudyHistory(gated, config).status().front_size == 2


def test_a_threshold_nothing_beats_never_converges(write_study: WriteStudy) -> None:
    study = staged_run(write_study, "unreachable", 0.99)
    assert study.user_attrs[STOP_REASON_KEY] == "max_trials (10) reached"
    assert all(t.user_attrs.get(HV_KEY, 0.0) == 0.0 for t in study.trials)
    # The score's scale is the design's spread back from the threshold, not a zero span.
    config = load_study_config(Path("unreachable.yaml"))
    ref, ideal = StudyHistory(study, config).reference()
    assert ref[0] - ideal[0] == pytest.approx(1.1 * (0.95 - 0.3))


def test_pareto_marks_the_thresholds(write_study: WriteStudy) -> None:
    staged_run(write_study, "gated", 0.9)
    result = CliRunner().invoke(app, ["pareto", "gated"])
    assert result.exit_code == 0, result.output
    assert "threshold score > 0.9" in result.output
    assert "4 usable trials" not in result.output and "left out" in result.output


@pytest.mark.slow
def test_outcome_constraints_make_trials_infeasible_and_train_the_model(
    write_study: WriteStudy,
) -> None:
    path = write_study(
        "constrained",
        constraints=["f0 <= 30"],
        sampler={"n_initial": 4, "num_restarts": 2, "raw_samples": 32},
        stop={"max_trials": 7, "rule": "budget"},
    )
    config = load_study_config(path)
    study = create_study(config)
    StudyRun(study, config).run()
    trials = study.get_trials()
    assert len(trials) == 7
    for t in trials:
        assert t.constraints == {"f0<=30": pytest.approx(t.values[0] - 30)}
    front = {t.number for t in front_trials(study, config)}
    assert front and all(trials[n].values[0] <= 30 for n in front)
    # Some trial missed the constraint, so the BO proposals fitted a constraint model.
    assert any(t.values[0] > 30 for t in trials)
    bo = [t for t in trials if t.system_attrs.get("moo:proposal") == "bo"]
    assert bo and all("constraints" in t.system_attrs["moo:gp_hyperparameters"] for t in bo)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"constraints": ["f0 ~ 3"]}, "constraints: Cannot read condition .f0 ~ 3."),
        ({"constraints": ["f0 == 3"]}, "needs <, <=, > or >="),
        (
            {
                "objectives": [
                    {"name": "f0", "direction": "minimize", "scale": "log", "threshold": 0},
                    {"name": "f1", "direction": "minimize"},
                ]
            },
            "threshold of a log-scale objective must be > 0",
        ),
        (
            {
                "objectives": [
                    {"name": "f0", "direction": "minimize", "threshold": 3},
                    {"name": "f1", "direction": "minimize"},
                ],
                "sampler": {"reference_point": {"f0": 1, "f1": 1}},
            },
            "not both",
        ),
    ],
)
def test_bad_thresholds_and_constraints_are_one_line(
    write_study: WriteStudy, change: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        load_study_config(write_study("bad", **change))
    assert "\n" not in str(e.value)


class RecordingSampler(QNEHVISampler):
    """moo's sampler, keeping the reference point of each proposal's acquisition."""

    references: list[list[float]]

    def _reference(self, Y: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
        ref = super()._reference(Y, signs)
        type(self).references.append((ref * signs).tolist())  # back to study units
        return ref


@pytest.mark.slow
@pytest.mark.parametrize("threshold", [None, 0.9])
def test_the_acquisition_and_the_reported_hypervolume_share_one_reference(
    write_study: WriteStudy, threshold: float | None
) -> None:
    path = write_study(
        "shared",
        objective=ECHO,
        objectives=objectives(threshold),
        sampler={"n_initial": 4, "num_restarts": 2, "raw_samples": 32},
        stop={"max_trials": 5, "rule": "budget"},
    )
    config = load_study_config(path)
    study = create_study(config)
    for x0, x1 in DESIGN:
        study.enqueue_trial({"x0": x0, "x1": x1})
    RecordingSampler.references = []
    StudyRun(study, config, sampler_class=RecordingSampler).run()
    # The one BO proposal saw exactly the initial design, which froze the HV reference.
    assert RecordingSampler.references == [pytest.approx(study.user_attrs[REFERENCE_KEY])]
    assert (study.user_attrs[REFERENCE_KEY][0] == 0.9) is (threshold is not None)
