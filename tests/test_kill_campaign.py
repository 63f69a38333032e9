"""kill -9 at random moments of a real TinyML study, resumed after each kill.

Each segment of the campaign is ``moo run`` (the first) or ``moo resume`` in a process of
its own, killed with SIGKILL while it is proposing, evaluating (training, compressing,
exporting ONNX) or writing a trial's results, at a moment drawn from a seeded generator.
After 20 kills the study is resumed to its end and compared with the same study run
without interruption: no completed trial lost or changed, no config completed twice, and
the same trials and Pareto front.

Processes are forked from a forkserver that has imported moo once, so that a restart
costs a fork, not the 3-5 s of importing torch and BoTorch; the kill is as real.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from moo.keys import METRICS_KEY

STUDY: dict[str, Any] = {
    "study": {"name": "campaign", "seed": 0},
    "objective": {
        "adapter": "objectives.tinyml:Classifier",
        "options": {
            "task": "digits",
            "devices": ["cortex_m0plus", "cortex_m4"],
            "epochs": 2,
            "finetune_epochs": 1,
        },
    },
    "objectives": [
        {"name": "accuracy", "direction": "maximize"},
        {"name": "latency_ms", "direction": "minimize", "scale": "log"},
    ],
    "space": {
        "parameters": {
            "arch": {"type": "categorical", "choices": ["mlp", "cnn"]},
            "depth": {"type": "int", "low": 1, "high": 2},
            "width": {"type": "ordinal", "values": [8, 16, 32]},
            "blocks": {"type": "int", "low": 1, "high": 2},
            "channels": {"type": "ordinal", "values": [4, 8, 16]},
            "bits": {"type": "ordinal", "values": [4, 8]},
            "prune_ratio": {"type": "ordinal", "values": [0.0, 0.5]},
            "device": {"type": "categorical", "choices": ["cortex_m0plus", "cortex_m4"]},
        }
    },
    "sampler": {"n_initial": 6, "known_objectives": False},
    "stop": {"max_trials": 12, "rule": "budget"},
    # Every segment is killed: an operator's kill -9 is no config that kills its process
    # (out of memory), which the default ``max_retry`` of 1 stops retrying.
    "execution": {"heartbeat_interval": 1, "grace_period": 1, "max_retry": 20},
}
KILLS = 20
PHASES = ("proposal", "evaluation", "result write")
# A heartbeat older than the grace period (1 s, timestamps in whole seconds) is stale.
_STALE_AFTER_S = 2.2
# Storage polls while waiting for a phase; the result writes last tens of milliseconds.
_POLL_S = 0.01

Trial = tuple[int, str, bool, bool, Any, Any]
"""number, state, has params, has metrics, params (JSON), values"""


def _moo(args: list[str], folder: str) -> None:
    """A ``moo`` command, as the console script runs it, in ``folder``."""
    import torch

    from moo.cli import main

    os.chdir(folder)
    torch.set_num_threads(1)  # as in the test process: the same floating-point sums
    sys.argv = ["moo", *args]
    main()


def _trials(database: Path) -> list[Trial]:
    """Every trial of the study, read with plain SQLite (the writer may be mid-commit)."""
    if not database.exists():
        return []
    try:
        # Read-write: after a kill the reader rolls back the killed writer's journal.
        with closing(sqlite3.connect(database, timeout=5)) as db:
            rows = db.execute("SELECT trial_id, number, state FROM trials ORDER BY number")
            trials = []
            for trial_id, number, state in rows.fetchall():
                params = db.execute(
                    "SELECT param_name, param_value FROM trial_params WHERE trial_id = ?",
                    (trial_id,),
                ).fetchall()
                metrics = db.execute(
                    "SELECT 1 FROM trial_user_attributes WHERE trial_id = ? AND key = ?",
                    (trial_id, METRICS_KEY),
                ).fetchone()
                values = db.execute(
                    "SELECT objective, value FROM trial_values WHERE trial_id = ?", (trial_id,)
                ).fetchall()
                trials.append(
                    (number, state, bool(params), bool(metrics), sorted(params), sorted(values))
                )
            return trials
    except sqlite3.OperationalError:  # schema not created yet, or locked for a moment
        return []


def _phase(trials: list[Trial]) -> str:
    running = [t for t in trials if t[1] == "RUNNING"]
    if not running:
        return "between trials"
    _, _, has_params, has_metrics, _, _ = running[-1]
    if not has_params:
        return "proposal"
    return "result write" if has_metrics else "evaluation"


def _complete(trials: list[Trial]) -> dict[int, tuple[Any, Any]]:
    return {t[0]: (t[4], t[5]) for t in trials if t[1] == "COMPLETE"}


def _wait_for(
    process: multiprocessing.process.BaseProcess, database: Path, phase: str, seen: set[int]
) -> None:
    """Until the process is in ``phase`` on a trial not yet caught there, or has exited."""
    while process.is_alive():
        trials = _trials(database)
        running = [t for t in trials if t[1] == "RUNNING" and t[0] not in seen]
        if running and _phase(running) == phase:
            seen.add(running[-1][0])
            return
        time.sleep(_POLL_S)


def _front(complete: dict[int, tuple[Any, Any]]) -> set[tuple[Any, Any]]:
    rows = list(complete.values())
    Y = np.array([[v for _, v in values] for _, values in rows])
    Y[:, 0] = -Y[:, 0]  # accuracy is maximized
    keep = [
        i
        for i in range(len(rows))
        if not any((Y[j] <= Y[i]).all() and (Y[j] < Y[i]).any() for j in range(len(rows)))
    ]
    return {(str(rows[i][0]), str(rows[i][1])) for i in keep}


@pytest.mark.slow
def test_twenty_kills_lose_nothing_duplicate_nothing_and_end_on_the_same_front(
    tmp_path: Path,
) -> None:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["moo.cli", "objectives.tinyml", "torch"])
    rng = np.random.default_rng(15)  # the kill moments

    def run_to_end(folder: Path, command: list[str]) -> None:
        process = context.Process(target=_moo, args=(command, str(folder)))
        process.start()
        process.join()
        assert process.exitcode == 0

    whole, killed = tmp_path / "whole", tmp_path / "killed"
    for folder in (whole, killed):
        folder.mkdir()
        (folder / "campaign.yaml").write_text(yaml.safe_dump(STUDY))
    run_to_end(whole, ["run", "campaign.yaml"])
    reference = _complete(_trials(whole / "studies" / "campaign.db"))

    database = killed / "studies" / "campaign.db"
    command = ["run", "campaign.yaml"]
    phases: Counter[str] = Counter()
    ever_complete: dict[int, tuple[Any, Any]] = {}
    caught: dict[str, set[int]] = {phase: set() for phase in PHASES}
    for kill in range(KILLS):
        target = PHASES[kill % len(PHASES)]
        process = context.Process(target=_moo, args=(command, str(killed)))
        process.start()
        _wait_for(process, database, target, caught[target])
        time.sleep(rng.uniform(0.0, {"proposal": 0.2, "evaluation": 0.6}.get(target, 0.0)))
        assert process.is_alive(), f"the study ended before kill {kill + 1}"
        os.kill(process.pid, signal.SIGKILL)
        process.join()
        trials = _trials(database)
        phases[_phase(trials)] += 1
        complete = _complete(trials)
        assert {n: complete.get(n) for n in ever_complete} == ever_complete  # nothing lost
        ever_complete.update(complete)
        command = ["resume", "campaign"]
        time.sleep(_STALE_AFTER_S)
    run_to_end(killed, command)

    final = _complete(_trials(database))
    print(f"\nkills by phase: {dict(phases)}; trials: {len(final)} complete")
    assert sum(phases.values()) == KILLS
    assert all(phases[p] for p in PHASES), phases
    assert {n: final.get(n) for n in ever_complete} == ever_complete  # 0 completed trials lost
    configs = [str(params) for params, _ in final.values()]
    assert len(set(configs)) == len(configs)  # 0 configs completed twice
    # The seeded study resumed 20 times ran the same trials as the uninterrupted one.
    assert sorted(map(str, final.values())) == sorted(map(str, reference.values()))
    assert _front(final) == _front(reference)
