"""The engine end to end on real storage: run, stop, resume, crash, failures, siblings."""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from typer.testing import CliRunner

from moo.cli import app
from moo.config import load_study_config
from moo.keys import (
    ERROR_KEY,
    GP_STATE_KEY,
    HV_KEY,
    INFEASIBLE_KEY,
    REFERENCE_KEY,
    SIBLING_KEY,
    STOP_REASON_KEY,
)
from moo.pareto import hypervolume
from moo.study import StudyRun, build_sampler, create_study, load_study
from tests.adapters import MeasuredOnFast
from tests.conftest import POSTGRES_URL

optuna.logging.set_verbosity(optuna.logging.WARNING)
WriteStudy = Callable[..., Path]
REPO = Path(__file__).resolve().parents[1]
DEVICE_SPACE = {
    "parameters": {
        "x0": {"type": "float", "low": 0.0, "high": 1.0},
        "x1": {"type": "float", "low": 0.0, "high": 1.0},
        "device": {"type": "categorical", "choices": ["slow", "mid", "fast"]},
    }
}
"""BraninCurrin inputs plus the staged devices of ``tests.adapters.PerDevice``."""


def run_file(path: Path, storage: str | None = None) -> optuna.Study:
    config = load_study_config(path)
    study = create_study(config, storage=storage)
    StudyRun(study, config).run()
    return study


def params_and_values(study: optuna.Study) -> list[tuple[dict, list[float] | None]]:
    return [(t.params, t.values) for t in study.get_trials() if t.state == TrialState.COMPLETE]


def test_resume_continues_where_it_stopped_and_proposes_the_same(write_study: WriteStudy) -> None:
    whole = run_file(write_study("whole", stop={"max_trials": 12, "rule": "budget"}))
    part = run_file(write_study("part", stop={"max_trials": 8, "rule": "budget"}))
    before = params_and_values(part)
    assert part.user_attrs[STOP_REASON_KEY] == "max_trials (8) reached"

    result = CliRunner().invoke(app, ["resume", "part", "--max-trials", "12"])
    assert result.exit_code == 0, result.output
    resumed, config = load_study("part")
    trials = resumed.get_trials()
    assert [t.number for t in trials] == list(range(12))
    assert params_and_values(resumed)[:8] == before  # nothing lost or changed
    assert config.stop.max_trials == 12  # the raised budget is stored in the study
    assert [t.params for t in trials] == [t.params for t in whole.get_trials()]


def test_resume_warm_starts_the_gp_exactly_as_the_uninterrupted_run(
    write_study: WriteStudy,
) -> None:
    # Warm starts begin at 48 observations by default; 8 keeps the study small. The
    # hyperparameters live in the storage, so the resumed process must find and use them.
    sampler = {"num_restarts": 2, "raw_samples": 64, "proposal": {"warm_start_after": 8}}
    whole = run_file(
        write_study("whole", sampler=sampler, stop={"max_trials": 14, "rule": "budget"})
    )
    run_file(write_study("part", sampler=sampler, stop={"max_trials": 11, "rule": "budget"}))

    result = CliRunner().invoke(app, ["resume", "part", "--max-trials", "14"])
    assert result.exit_code == 0, result.output
    resumed, _ = load_study("part")
    warm = [t for t in resumed.get_trials() if GP_STATE_KEY in t.system_attrs]
    assert len(warm) >= 14 - 6  # every BO proposal stored its fit
    assert [t.params for t in resumed.get_trials()] == [t.params for t in whole.get_trials()]


@pytest.mark.parametrize("deterministic", [True, False])
def test_a_deterministic_study_interpolates_and_a_default_one_learns_its_noise(
    write_study: WriteStudy, deterministic: bool
) -> None:
    sampler = {"num_restarts": 2, "raw_samples": 64, "deterministic": deterministic}
    study = run_file(write_study(sampler=sampler, stop={"max_trials": 8, "rule": "budget"}))
    fitted = study.trials[-1].system_attrs[GP_STATE_KEY]["objectives"]
    # The stored fit of the last proposal: a learned noise level is one of its parameters.
    assert any("noise" in name for name in fitted) is not deterministic


def test_hypervolume_is_recorded_and_the_stall_rule_stops_the_study(
    write_study: WriteStudy,
) -> None:
    study = run_file(
        write_study(
            "hv",
            stop={"max_trials": 40, "window": 4, "tol": 0.05},
            sampler={
                "reference_point": {"f0": 18.0, "f1": 6.0},
                "num_restarts": 2,
                "raw_samples": 64,
            },
        )
    )
    reason = study.user_attrs[STOP_REASON_KEY]
    assert reason.startswith("converged"), reason
    hvs = [t.user_attrs[HV_KEY] for t in study.get_trials() if HV_KEY in t.user_attrs]
    assert len(hvs) >= len(study.trials) - 6  # every trial after the initial design
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(hvs))
    assert len(study.trials) < 40


LOG_F0 = [
    {"name": "f0", "direction": "minimize", "scale": "log"},
    {"name": "f1", "direction": "minimize"},
]


def test_a_log_objective_is_normalized_and_scored_in_log10(write_study: WriteStudy) -> None:
    study = run_file(write_study("log", objectives=LOG_F0))
    trials = [t for t in study.get_trials() if t.state == TrialState.COMPLETE]
    Z = np.array([t.values for t in trials])
    Z[:, 0] = np.log10(Z[:, 0])
    # The frozen reference is in study units; on the log scale it is the initial design's
    # nadir pushed out by 10% of its range, as for a linear objective.
    design = Z[:6]
    span = design.max(axis=0) - design.min(axis=0)
    ref = np.array(study.user_attrs[REFERENCE_KEY])
    assert np.log10(ref[0]) == pytest.approx(design[:, 0].max() + 0.1 * span[0])
    assert ref[1] == pytest.approx(design[:, 1].max() + 0.1 * span[1])
    ideal = design.min(axis=0)
    expected = hypervolume(
        (Z - ideal) / (np.array([np.log10(ref[0]), ref[1]]) - ideal), ["minimize"] * 2, [1, 1]
    )
    assert trials[-1].user_attrs[HV_KEY] == pytest.approx(expected)


def test_a_non_positive_log_objective_fails_the_trial_in_one_line(
    write_study: WriteStudy,
) -> None:
    path = write_study(
        "zero",
        objective={
            "adapter": "tests.adapters:Flaky",
            "options": {"nan_above": 0.5, "bad_value": 0.0},
        },
        objectives=LOG_F0,
    )
    failed = [t for t in run_file(path).get_trials() if t.state == TrialState.FAIL]
    assert failed
    assert all(
        t.user_attrs[ERROR_KEY].endswith("objective 'f0' is 0, but its scale is log")
        for t in failed
    )


def test_every_bad_objective_is_named_in_the_one_line(write_study: WriteStudy) -> None:
    options = {"nan_above": 0.5, "bad_value": 0.0, "bad_objectives": ["f0", "f1"]}
    path = write_study(
        "both",
        objective={"adapter": "tests.adapters:Flaky", "options": options},
        objectives=[{**objective, "scale": "log"} for objective in LOG_F0],
    )
    failed = [t for t in run_file(path).get_trials() if t.state == TrialState.FAIL]
    assert failed
    for t in failed:
        message = t.user_attrs[ERROR_KEY]
        assert "\n" not in message
        assert message.endswith(
            "objective 'f0' is 0, but its scale is log; objective 'f1' is 0, but its scale is log"
        )


def test_failures_are_one_line_and_the_study_goes_on(write_study: WriteStudy) -> None:
    path = write_study(
        "flaky",
        objective={
            "adapter": "tests.adapters:Flaky",
            "options": {"raise_below": 0.25, "nan_above": 0.8},
        },
        stop={"max_trials": 12, "rule": "budget"},
    )
    study = run_file(path)
    trials = study.get_trials()
    failed = [t for t in trials if t.state == TrialState.FAIL]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(trials) == 12 and failed and complete
    messages = [t.user_attrs[ERROR_KEY] for t in failed]
    assert all(
        "\n" not in m and m.startswith(f"trial {t.number} {{x0=")
        for m, t in zip(messages, failed, strict=True)
    )
    assert any("RuntimeError: diverged at x0=" in m for m in messages)
    assert any("objective 'f0' is nan" in m for m in messages)
    assert all(0.25 <= t.params["x0"] <= 0.8 for t in complete)


@pytest.mark.slow
def test_a_hanging_evaluation_is_killed_after_the_timeout(write_study: WriteStudy) -> None:
    path = write_study(
        "hang",
        objective={
            "adapter": "tests.adapters:Flaky",
            "options": {"hang_between": [0.0, 0.3], "hang_s": 3600},
        },
        stop={"max_trials": 8, "rule": "budget"},
        execution={"trial_timeout": 3, "heartbeat_interval": 1, "grace_period": 2},
    )
    study = run_file(path)
    trials = study.get_trials()
    timed_out = [t for t in trials if "timed out after 3 s" in t.user_attrs.get(ERROR_KEY, "")]
    assert len(trials) == 8 and timed_out
    assert all(t.params["x0"] < 0.3 for t in timed_out)
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 8 - len(timed_out)


@pytest.mark.parametrize(
    ("objectives", "known"),
    [(["f0", "f1"], set()), (["speed", "f1"], {"speed"})],
    ids=["f0-measured-on-one-device", "speed-known-everywhere"],
)
def test_a_metric_is_known_only_if_every_device_knows_it(
    write_study: WriteStudy, objectives: list[str], known: set[str]
) -> None:
    path = write_study(
        "known",
        objective={"adapter": "tests.adapters:MeasuredOnFast", "options": {}},
        objectives=[{"name": n, "direction": "minimize"} for n in objectives],
        space=DEVICE_SPACE,
    )
    config = load_study_config(path)
    sampler = build_sampler(config, config.search_space(), MeasuredOnFast())
    exact = sampler.known_objectives
    assert {objectives[i] for i in exact} == known
    for i in exact:
        assert exact[i]({"x0": 0.5, "x1": 0.5, "device": "slow"}) == 2.0


def test_siblings_are_free_and_infeasible_configs_are_never_evaluated(
    write_study: WriteStudy,
) -> None:
    path = write_study(
        "devices",
        objective={"adapter": "tests.adapters:PerDevice", "options": {"limit": 0.7}},
        space=DEVICE_SPACE,
        stop={"max_trials": 10, "rule": "budget"},
    )
    study = run_file(path)
    trials = study.get_trials()
    own = [t for t in trials if SIBLING_KEY not in t.user_attrs]
    siblings = [t for t in trials if SIBLING_KEY in t.user_attrs]
    infeasible = [t for t in own if INFEASIBLE_KEY in t.user_attrs]
    evaluated = [t for t in own if t.state == TrialState.COMPLETE]
    assert len(own) == 10 and infeasible and evaluated
    assert all(t.state == TrialState.PRUNED and t.params["x1"] > 0.7 for t in infeasible)
    assert all(t.constraints["flash_excess"] > 0 for t in infeasible)
    # Every evaluation brought the other two devices along, with the device's own metrics.
    assert len(siblings) == 2 * len(evaluated)
    for s in siblings:
        parent = trials[s.user_attrs[SIBLING_KEY]]
        assert {k: v for k, v in s.params.items() if k != "device"} == {
            k: v for k, v in parent.params.items() if k != "device"
        }
        assert s.params["device"] != parent.params["device"]
    # ... and the adapter counted one evaluation per proposed feasible trial.
    assert [t.user_attrs["evaluation"] for t in evaluated] == list(range(1, len(evaluated) + 1))
    keys = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(keys)) == len(keys)  # nothing evaluated twice


def _has_study(database: Path, name: str) -> bool:
    """Whether ``database`` holds a study ``name`` (read-only: creates no schema)."""
    if not database.exists():
        return False
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
            rows = connection.execute("SELECT 1 FROM studies WHERE study_name = ?", (name,))
            return rows.fetchone() is not None
    except sqlite3.OperationalError:  # no `studies` table yet, or locked by the writer
        return False


@pytest.mark.slow
def test_a_killed_study_resumes_with_every_completed_trial(write_study: WriteStudy) -> None:
    path = write_study(
        "killed",
        objective={
            "adapter": "tests.adapters:Flaky",
            "options": {"hang_between": [0.0, 1.0], "hang_s": 0.5},
        },
        stop={"max_trials": 12, "rule": "budget"},
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "moo", "run", str(path)],
        cwd=path.parent,
        env={**os.environ, "PYTHONPATH": str(REPO)},  # for tests.adapters
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = "sqlite:///studies/killed.db"
    completed: list = []
    evaluating: list = []
    # Until some trials are done and one is inside its (0.5 s) evaluation: a kill before
    # the sampler has set a trial's params leaves nothing to re-queue but the proposal.
    while len(completed) < 4 or not evaluating:
        time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        if not _has_study(path.parent / "studies" / "killed.db", "killed"):
            continue  # opening it earlier races the child's schema creation
        study = optuna.load_study(study_name="killed", storage=url)
        completed = params_and_values(study)
        evaluating = [t for t in study.get_trials() if t.state == TrialState.RUNNING and t.params]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = params_and_values(optuna.load_study(study_name="killed", storage=url))
    time.sleep(3)  # past the grace period: the running trial's heartbeat is stale

    result = CliRunner().invoke(app, ["resume", "killed"])
    assert result.exit_code == 0, result.output
    study, _ = load_study("killed")
    after = params_and_values(study)
    assert after[: len(before)] == before
    trials = study.get_trials()
    stale = [t for t in trials if t.state == TrialState.FAIL]
    retried = [t for t in trials if t.system_attrs.get("failed_trial") is not None]
    assert len(stale) == 1 and len(retried) == 1
    assert retried[0].params == stale[0].params and retried[0].state == TrialState.COMPLETE


def test_cli_run_status_pareto_export(write_study: WriteStudy, in_tmp: Path) -> None:
    runner = CliRunner()
    path = write_study("cli", stop={"max_trials": 8, "rule": "budget"})
    assert runner.invoke(app, ["run", str(path)]).exit_code == 0
    status = runner.invoke(app, ["status", "cli"])
    assert status.exit_code == 0 and "8 of max 8" in status.output
    front = json.loads(runner.invoke(app, ["pareto", "cli", "--json"]).output)
    assert front and {"trial", "x0", "x1", "f0", "f1"} <= set(front[0])
    csv = runner.invoke(app, ["pareto", "cli", "--csv"]).output.splitlines()
    assert csv[0] == "trial,x0,x1,f0,f1" and len(csv) == len(front) + 1

    result = runner.invoke(app, ["export", "cli", "--pick", "knee", "--out", "bundle"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((in_tmp / "bundle" / "MANIFEST.json").read_text())
    assert manifest["study"] == "cli" and manifest["seed"] == 0
    assert manifest["trial"] in {row["trial"] for row in front}
    assert set(manifest["files"]) == {"config.yaml", "metrics.json"}
    assert manifest["packages"]["botorch"] and manifest["packages"]["optuna"]
    result = runner.invoke(app, ["report", "cli", "--out", "report"])
    assert result.exit_code == 0, result.output
    html = (in_tmp / "report" / "report.html").read_text()
    assert "Study cli" in html and f"<td>{front[0]['trial']}</td>" in html
    assert (in_tmp / "report" / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    result = runner.invoke(app, ["export", "cli", "--pick", "f0<0", "--out", "none"])
    assert result.exit_code == 2 and "no trial on the front meets" in result.output


@pytest.mark.slow
@pytest.mark.parametrize(
    "storage",
    [
        None,
        pytest.param(
            POSTGRES_URL,
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(POSTGRES_URL is None, reason="MOO_TEST_POSTGRES_URL not set"),
            ],
        ),
    ],
    ids=["sqlite", "postgres"],
)
def test_dask_workers_share_one_study_and_exit_by_themselves(
    write_study: WriteStudy, in_tmp: Path, storage: str | None
) -> None:
    name = f"dask_{os.getpid()}_{time.monotonic_ns()}"
    path = write_study(
        name,
        stop={"max_trials": 10, "rule": "budget"},
        execution={"executor": "dask", "n_workers": 2},
    )
    # The real command: its Dask workers are spawned from `python -m moo` and import
    # what the CLI imports, as a user's are.
    command = [sys.executable, "-m", "moo", "run", str(path)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run(
        [*command, *(["--storage", storage] if storage else [])],
        cwd=in_tmp,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    # No worker process was killed at shutdown: distributed's nanny warns "Worker
    # process still alive after 4.0 seconds, killing" before it does.
    assert "still alive" not in result.stderr, result.stderr
    study, _ = load_study(name, storage=storage)
    own = [t for t in study.get_trials() if SIBLING_KEY not in t.user_attrs]
    assert 10 <= len(own) <= 11  # workers stop together; one may be mid-trial
    assert all(t.state == TrialState.COMPLETE for t in own)
    assert study.user_attrs[STOP_REASON_KEY].startswith("max_trials")


@pytest.mark.postgres
@pytest.mark.skipif(POSTGRES_URL is None, reason="MOO_TEST_POSTGRES_URL not set")
def test_postgres_storage_runs_and_resumes(write_study: WriteStudy) -> None:
    assert POSTGRES_URL is not None
    name = f"pg_{os.getpid()}_{time.monotonic_ns()}"
    run_file(write_study(name, stop={"max_trials": 6, "rule": "budget"}), storage=POSTGRES_URL)
    result = CliRunner().invoke(
        app, ["resume", name, "--storage", POSTGRES_URL, "--max-trials", "8"]
    )
    assert result.exit_code == 0, result.output
    study, config = load_study(name, storage=POSTGRES_URL)
    assert [t.number for t in study.get_trials()] == list(range(8))
    assert config.study.name == name


def test_siblings_are_added_next_to_a_trial_that_crashed_before_its_params(
    write_study: WriteStudy,
) -> None:
    config = load_study_config(
        write_study(
            "crashed",
            objective={"adapter": "tests.adapters:PerDevice", "options": {}},
            space=DEVICE_SPACE,
            stop={"max_trials": 3, "rule": "budget"},
        )
    )
    study = create_study(config)
    study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL))  # no params at all
    StudyRun(study, config).run()
    assert sum(SIBLING_KEY in t.user_attrs for t in study.get_trials()) == 2 * 2
