"""What becomes of a trial whose process died: failed when its heartbeat goes stale, and
re-queued as a copy that stands for it.

A process can die at any moment of a trial (``kill -9``, out of memory, a power cut).
Optuna fails the trial at the next trial start once its heartbeat is older than the grace
period, and calls ``RequeueStaleTrial``, which adds a WAITING copy that the next worker
runs first:

- killed before the trial had its config (during the proposal): the copy has no params,
  and the sampler proposes for it at the crashed trial's index, a config nobody has
  tried (the one the uninterrupted run would have), however many processes die there;
- killed with its config (during training, export or the result writes): the copy
  evaluates that config again, at most ``max_retry`` times, so that a config that kills
  its process every time (out of memory) does not do so forever.

The copy carries Optuna's ``failed_trial`` (the first trial of the chain) and
``retry_history`` (every crashed trial of the chain), so ``proposed`` trials, budgets and
the hypervolume history count the chain once, as its last copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import optuna
import sqlalchemy
import sqlalchemy.orm
from optuna.storages import RDBStorage
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.trial import FrozenTrial, TrialState

from moo.keys import EVALUATION_CRASHES_KEY, RETRY_HISTORY_KEY, RETRY_OF_KEY

__all__ = [
    "HeartbeatStorage",
    "RequeueStaleTrial",
    "stand_ins",
]


class HeartbeatStorage(RDBStorage):
    """Optuna's ``RDBStorage``, where a trial that never had a heartbeat can go stale too.

    A worker creates its trial, then starts the thread that records its heartbeats; a
    process killed between the two leaves a RUNNING trial without any, which Optuna
    never fails: it stayed RUNNING for good, a pending point in every later proposal and
    a slot of ``max_trials`` (seen in the kill campaign). Such a trial counts as stale
    once it started longer than the grace period ago (by the clock of the machine that
    checks, which is also the one that wrote ``datetime_start`` on a single machine).
    """

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        """Optuna's stale trials (heartbeat older than the grace period, by the database's
        clock) plus those without a heartbeat that started longer than the grace period
        ago, from one query: it runs twice per trial of every worker."""
        assert self.heartbeat_interval is not None
        grace = timedelta(seconds=self.grace_period or 2 * self.heartbeat_interval)
        with _create_scoped_session(self.scoped_session, True) as session:
            database_now = session.execute(sqlalchemy.func.now()).scalar_one()
            running = (
                session.query(models.TrialModel)
                .options(sqlalchemy.orm.selectinload(models.TrialModel.heartbeats))
                .filter(models.TrialModel.study_id == study_id)
                .filter(models.TrialModel.state == TrialState.RUNNING)
                .all()
            )
            # Naive like SQLite's, as Optuna does (PostgreSQL's now() carries a zone).
            database_now = database_now.replace(tzinfo=None)
            now = datetime.now()
            return [
                trial.trial_id
                for trial in running
                if (
                    database_now - trial.heartbeats[0].heartbeat > grace
                    if trial.heartbeats
                    else trial.datetime_start is not None and now - trial.datetime_start > grace
                )
            ]


class RequeueStaleTrial:
    """The heartbeat-stale callback of moo's storages: re-queue a copy of a crashed trial.

    Optuna's ``RetryHeartbeatStaleTrialCallback`` gives up on a chain after ``max_retry``
    copies whether or not a config was ever tried, and copies the crashed trial's results
    and sampler attributes into the copy; a chain killed twice in its proposal was lost.

    Args:
        max_retry: How often a config whose evaluation was killed is evaluated again.
    """

    def __init__(self, max_retry: int) -> None:
        self._max_retry = max_retry

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        crashes = int(trial.system_attrs.get(EVALUATION_CRASHES_KEY, 0)) + bool(trial.params)
        if crashes > self._max_retry:
            return
        chain = [*trial.system_attrs.get(RETRY_HISTORY_KEY, []), trial.number]
        study.add_trial(
            optuna.create_trial(
                state=TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                system_attrs={
                    RETRY_OF_KEY: trial.system_attrs.get(RETRY_OF_KEY, trial.number),
                    RETRY_HISTORY_KEY: chain,
                    EVALUATION_CRASHES_KEY: crashes,
                },
            )
        )


def stand_ins(trials: Sequence[FrozenTrial]) -> dict[int, int]:
    """Crashed trial number -> number of the last copy that stands for it."""
    return {
        crashed: t.number
        for t in sorted(trials, key=lambda t: t.number)
        for crashed in t.system_attrs.get(RETRY_HISTORY_KEY, ())
    }
