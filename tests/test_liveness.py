"""A study's runs as ``moo status`` tells them apart: running, stopped, interrupted,
crashed, killed (``moo.liveness``), on real storage and, for signals, real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from moo.cli import app
from moo.config import load_study_config
from moo.keys import STOP_REASON_KEY
from moo.liveness import RunRecord, run_records
from moo.study import StudyRun, create_study, load_study

WriteStudy = Callable[..., Path]
REPO = Path(__file__).resolve().parents[1]
HOST = socket.gethostname()


def status_rows(name: str = "s") -> dict[str, str]:
    """``moo status`` as {row: text}, wrapped cells joined."""
    result = CliRunner().invoke(app, ["status", name], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    rows: dict[str, str] = {}
    for line in result.output.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 2 and cells[0]:
            rows[cells[0]] = cells[1]
    return rows


def test_a_finished_run_is_recorded_as_stopped(write_study: WriteStudy) -> None:
    result = CliRunner().invoke(
        app, ["run", str(write_study("s", stop={"max_trials": 3, "rule": "budget"}))]
    )
    assert result.exit_code == 0, result.output
    [record] = run_records(load_study("s")[0].user_attrs)
    assert (record.host, record.pid, record.state) == (HOST, os.getpid(), "stopped")
    assert record.detail == "max_trials (3) reached"
    rows = status_rows()
    assert rows["stopped"] == "max_trials (3) reached"
    assert rows["last run"].startswith(f"{HOST} pid {os.getpid()}, started ")
    assert ", stopped " in rows["last run"]


def test_ctrl_c_is_recorded_as_interrupted_and_resume_continues(write_study: WriteStudy) -> None:
    path = write_study(
        "s",
        objective={"adapter": "tests.adapters:Interrupting", "options": {"after": 3}},
        stop={"max_trials": 6, "rule": "budget"},
    )
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 130, result.output
    assert result.stderr.strip() == ("s: interrupted after 3 trials; `moo resume s` continues it.")
    rows = status_rows()
    assert rows["stopped"] == "interrupted"
    assert ", interrupted " in rows["last run"]
    # The resumed process builds a fresh adapter (whose third call interrupts again).
    assert CliRunner().invoke(app, ["resume", "s"]).exit_code == 130
    assert CliRunner().invoke(app, ["resume", "s"]).exit_code == 0
    study, _ = load_study("s")
    assert study.user_attrs[STOP_REASON_KEY] == "max_trials (6) reached"
    assert [r.state for r in run_records(study.user_attrs)] == [
        "interrupted",
        "interrupted",
        "stopped",
    ]


def test_a_crash_is_recorded_with_its_one_line(write_study: WriteStudy) -> None:
    config = load_study_config(write_study("s", stop={"max_trials": 4, "rule": "budget"}))

    def display_dies(status: object) -> None:
        raise RuntimeError("the display died\nand took a traceback with it")

    run = StudyRun(create_study(config), config, on_trial=display_dies)
    with pytest.raises(RuntimeError, match="the display died"):
        run.run()
    rows = status_rows()
    assert rows["stopped"] == "crashed: RuntimeError: the display died"
    assert ", crashed " in rows["last run"]


def _stored_record(study: optuna.Study, record: RunRecord) -> None:
    study.set_user_attr(record.key, asdict(record))


def test_a_run_whose_heartbeat_is_stale_is_reported_killed(write_study: WriteStudy) -> None:
    study = create_study(load_study_config(write_study("s")))
    now = time.time()
    # A worker on another machine that stopped beating two hours ago, mid-run.
    _stored_record(study, RunRecord("gpu-7", 4242, now - 9000, now - 7200, 10.0))
    rows = status_rows()
    assert rows["stopped"] == (
        "no stop recorded: the run on gpu-7 pid 4242 was last seen 2.0 h ago (killed, or its "
        "machine is down); `moo resume s` continues the study"
    )
    assert rows["last run"].endswith("last heartbeat 2.0 h ago")


def test_an_interrupt_does_not_stop_another_live_run(write_study: WriteStudy) -> None:
    """The stop reason is a signal to every worker: one interrupted worker must not set it."""
    path = write_study(
        "s",
        objective={"adapter": "tests.adapters:Interrupting", "options": {"after": 2}},
        stop={"max_trials": 6, "rule": "budget"},
    )
    config = load_study_config(path)
    study = create_study(config)
    now = time.time()
    _stored_record(study, RunRecord("gpu-7", 4242, now, now + 3600, 10.0))  # beats for 1 h
    with pytest.raises(KeyboardInterrupt):
        StudyRun(study, config).run()
    assert study.user_attrs[STOP_REASON_KEY] is None
    assert status_rows()["stopped"].startswith("no: running on gpu-7 pid 4242, heartbeat ")
    assert [r.state for r in run_records(study.user_attrs)] == ["running", "interrupted"]


def _start(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "moo", "run", str(path)],
        cwd=path.parent,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_trials(process: subprocess.Popen[str], n: int) -> int:
    """Block until the child's study has ``n`` finished trials; returns its pid."""
    while True:
        time.sleep(0.2)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            study = optuna.load_study(study_name="s", storage="sqlite:///studies/s.db")
        except Exception:  # not created yet, or locked by the child
            continue
        records = run_records(study.user_attrs)
        done = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
        if records and len(done) >= n:
            return records[-1].pid


HANGING = {"adapter": "tests.adapters:Flaky", "options": {"hang_between": [0, 1], "hang_s": 0.3}}


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signalled_run_exits_130_and_is_recorded_interrupted(
    write_study: WriteStudy, sig: signal.Signals
) -> None:
    path = write_study("s", objective=HANGING, stop={"max_trials": 200, "rule": "budget"})
    process = _start(path)
    _wait_for_trials(process, 2)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1].startswith("s: interrupted after ")
    assert status_rows()["stopped"] == "interrupted"


@pytest.mark.slow
def test_status_tells_a_live_run_from_a_killed_one(write_study: WriteStudy) -> None:
    path = write_study("s", objective=HANGING, stop={"max_trials": 200, "rule": "budget"})
    process = _start(path)
    pid = _wait_for_trials(process, 2)
    assert status_rows()["stopped"].startswith(f"no: running on {HOST} pid {pid}, heartbeat ")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert status_rows()["stopped"] == (
        f"no stop recorded: the run on {HOST} pid {pid} is gone (killed, or it died); "
        "`moo resume s` continues the study"
    )
