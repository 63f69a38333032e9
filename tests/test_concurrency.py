"""Several workers on one study: the budget, the frozen reference, the seed contract."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from moo.config import load_study_config
from moo.history import initial_design, proposed
from moo.keys import PROPOSAL_SEED_KEY
from moo.rng import derive_seed
from moo.study import StudyRun, create_study, load_study, open_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)
WriteStudy = Callable[..., Path]


def _resume(name: str, folder: str) -> None:
    """``moo resume name`` in a process of its own."""
    from moo.cli import main

    os.chdir(folder)
    sys.argv = ["moo", "resume", name]
    main()


def _open_together(url: str, *, workers: int) -> list[BaseException]:
    """Open ``url`` from ``workers`` threads released at the same moment; their errors."""
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def open_at_once() -> None:
        start.wait()
        try:
            open_storage(url).get_all_studies()
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=open_at_once) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_workers_opening_a_new_database_together_all_get_a_storage(tmp_path: Path) -> None:
    """Each checked for Optuna's tables, then created them: of six workers opening a new
    SQLite file at once, the slower ones failed with "table studies already exists" or a
    duplicate schema version (every one of 10 tries before the fix; seen in CI when a test
    polled a study its `moo run` child was creating)."""
    for attempt in range(5):
        errors = _open_together(f"sqlite:///{tmp_path / f'new{attempt}.db'}", workers=6)
        assert errors == [], f"try {attempt}: {errors[0]}"


@pytest.mark.slow
def test_two_writer_processes_on_sqlite_stop_at_max_trials(write_study: WriteStudy) -> None:
    """Each worker stopped when the trials *it saw finished* reached the budget, so two
    workers on one SQLite file both started the last trial: 31 of 30."""
    path = write_study(
        "two",
        objective={
            "adapter": "tests.adapters:Flaky",
            "options": {"hang_between": [0.0, 1.0], "hang_s": 0.4},
        },
        stop={"max_trials": 10, "rule": "budget"},
    )
    config = load_study_config(path)
    create_study(config)
    context = multiprocessing.get_context("forkserver")
    workers = [context.Process(target=_resume, args=("two", str(path.parent))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [w.exitcode for w in workers] == [0, 0]
    study, _ = load_study("two")
    own = proposed(study.get_trials())
    assert len(own) == 10 and all(t.state == TrialState.COMPLETE for t in own)
    assert len({t.datetime_start for t in own}) == 10  # and they did run side by side:
    assert any(a.datetime_complete > b.datetime_start for a, b in itertools.pairwise(own))


def test_the_reference_freezes_from_the_first_design_trials_whatever_finished_since() -> None:
    """Two workers finishing the initial design together each froze the reference from
    the trials they happened to read; it is now fixed by proposal order alone."""
    x = FloatDistribution(0.0, 1.0)

    def trial(number: int, state: TrialState) -> optuna.trial.FrozenTrial:
        done = state == TrialState.COMPLETE
        frozen = create_trial(
            state=state,
            values=[float(number), -float(number)] if done else None,
            params={"x": number / 10},
            distributions={"x": x},
        )
        frozen.number = number
        return frozen

    complete, running = TrialState.COMPLETE, TrialState.RUNNING
    trials = [trial(n, complete) for n in range(8)]
    trials[2] = trial(2, running)  # a slow trial of the design, still running
    assert initial_design(trials, 6) is None
    trials[2] = trial(2, complete)
    assert [t.number for t in initial_design(trials, 6) or []] == [0, 1, 2, 3, 4, 5]


def test_two_worker_threads_run_the_seeded_design_and_seeded_proposals(
    write_study: WriteStudy,
) -> None:
    def run(name: str, n_workers: int) -> list[optuna.trial.FrozenTrial]:
        path = write_study(
            name,
            stop={"max_trials": 9, "rule": "budget"},
            execution={"n_workers": n_workers, "heartbeat_interval": 1, "grace_period": 2},
        )
        config = load_study_config(path)
        study = create_study(config)
        StudyRun(study, config).run()
        return sorted(study.get_trials(), key=lambda t: t.number)

    one, two, again = run("one", 1), run("two", 2), run("again", 2)
    design = [t.params for t in one[:6]]
    assert [t.params for t in two[:6]] == design == [t.params for t in again[:6]]
    for trials in (two, again):
        assert len(trials) == 9 and len({tuple(t.params.values()) for t in trials}) == 9
        seeds = [t.system_attrs[PROPOSAL_SEED_KEY] for t in trials[6:]]
        assert seeds == [derive_seed(0, index) for index in range(6, 9)]
