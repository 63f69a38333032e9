"""Crashed trials on real SQLite storage: failed when stale, re-queued, proposed afresh."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import optuna
import pytest
from optuna.exceptions import ExperimentalWarning
from optuna.storages import fail_stale_trials
from optuna.trial import TrialState

from moo.bo import ProposalSettings
from moo.keys import RETRY_OF_KEY
from moo.requeue import RequeueStaleTrial
from moo.sampler import QNEHVISampler
from moo.space import SearchSpace
from moo.study import open_storage
from objectives.protocol import EvalContext
from objectives.synthetic import SyntheticProblem

FASTER = ProposalSettings(num_restarts=2, raw_samples=32)

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = SearchSpace.from_dict(
    {"parameters": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(2)}}
)
PROBLEM = SyntheticProblem(problem="branin_currin")


def objective(trial: optuna.Trial) -> list[float]:
    metrics = PROBLEM.evaluate(SPACE.suggest(trial), EvalContext(seed=0, workdir=Path(".")))
    return list(metrics.metrics.values())


def new_process(storage: optuna.storages.RDBStorage) -> optuna.Study:
    """The study as a new process opens it: a new sampler, the same seed."""
    sampler = QNEHVISampler(search_space=SPACE, seed=0, n_initial=6, settings=FASTER)
    return optuna.load_study(study_name="s", storage=storage, sampler=sampler)


def new_study(path: Path) -> optuna.storages.RDBStorage:
    storage = open_storage(f"sqlite:///{path}")
    optuna.create_study(study_name="s", storage=storage, directions=["minimize"] * 2)
    return storage


def kill_in_proposal(study: optuna.Study) -> None:
    """What a process killed mid-proposal leaves, once its heartbeat is stale: its trial
    (a new one, or a waiting copy it took) without params, failed, and re-queued by the
    storage's callback."""
    trial = study.ask()
    study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    RequeueStaleTrial(max_retry=1)(study, study._storage.get_trial(trial._trial_id))


def completed_configs(study: optuna.Study) -> list[dict]:
    """Configs of the completed trials in proposal order (a copy in its original's place)."""
    complete = [t for t in study.get_trials() if t.state == TrialState.COMPLETE]
    complete.sort(key=lambda t: t.system_attrs.get(RETRY_OF_KEY, t.number))
    return [t.params for t in complete]


@pytest.mark.slow
def test_trials_killed_in_their_proposal_get_fresh_configs_not_duplicates(
    tmp_path: Path,
) -> None:
    """Issue 15: after 9 kills mid-proposal, 4 completed trials had one config, drawn by a
    RandomSampler seeded alike in every process. The copies must propose what the
    uninterrupted run did at their index: fresh configs, and the same study in the end."""
    whole = new_process(new_study(tmp_path / "whole.db"))
    whole.optimize(objective, n_trials=14)

    storage = new_study(tmp_path / "killed.db")
    for kill in range(9):
        study = new_process(storage)
        kill_in_proposal(study)
        if kill % 3 == 2:
            kill_in_proposal(study)  # the copy's process is killed in its proposal too
        study.optimize(objective, n_trials=1 + kill % 2)
    while sum(t.state == TrialState.COMPLETE for t in study.get_trials()) < 14:
        new_process(storage).optimize(objective, n_trials=1)

    study = new_process(storage)
    assert sum(t.state == TrialState.FAIL for t in study.get_trials()) == 12
    configs = completed_configs(study)
    assert len({tuple(c.values()) for c in configs}) == len(configs) == 14
    assert configs == completed_configs(whole)


def test_a_config_killed_in_its_evaluation_is_retried_at_most_max_retry_times(
    tmp_path: Path,
) -> None:
    storage = open_storage(f"sqlite:///{tmp_path}/s.db")
    study = optuna.create_study(study_name="s", storage=storage, directions=["minimize"] * 2)
    requeue = RequeueStaleTrial(max_retry=1)
    trial = study.ask()
    config = SPACE.suggest(trial)  # killed after its config was stored
    storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    requeue(study, storage.get_trial(trial._trial_id))
    copy = study.ask()
    assert SPACE.suggest(copy) == config and copy.number == trial.number + 1
    storage.set_trial_state_values(copy._trial_id, TrialState.FAIL)  # killed again
    requeue(study, storage.get_trial(copy._trial_id))
    assert not study.get_trials(states=(TrialState.WAITING,))  # a config that kills, twice
    retried = storage.get_trial(copy._trial_id).system_attrs
    assert retried["failed_trial"] == trial.number and retried["retry_history"] == [trial.number]


@pytest.mark.slow
def test_a_trial_killed_before_its_first_heartbeat_goes_stale_too(tmp_path: Path) -> None:
    """A process killed between creating its trial and recording the trial's first
    heartbeat left it RUNNING for good: Optuna only fails trials with a stale heartbeat."""
    storage = open_storage(f"sqlite:///{tmp_path}/s.db", heartbeat_interval=1, grace_period=1)
    study = optuna.create_study(study_name="s", storage=storage, directions=["minimize"] * 2)
    orphan = storage.create_new_trial(study._study_id)  # no heartbeat ever
    beating = storage.create_new_trial(study._study_id)
    time.sleep(2.2)  # past the grace period (timestamps in whole seconds)
    storage.record_heartbeat(beating)  # alive
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        fail_stale_trials(study)
    assert storage.get_trial(orphan).state == TrialState.FAIL
    assert storage.get_trial(beating).state == TrialState.RUNNING
    (copy,) = study.get_trials(states=(TrialState.WAITING,))
    assert copy.system_attrs[RETRY_OF_KEY] == storage.get_trial(orphan).number
