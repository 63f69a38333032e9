"""Bad input, bad storage and bad files: one line on stderr, exit code 2, nothing lost.

Each case asserts its exact message (``docs/reliability.md`` lists them by guarantee).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from moo.cli import app
from moo.keys import CONFIG_KEY
from moo.study import load_study

WriteStudy = Callable[..., Path]


def fails(*args: str) -> str:
    """Run ``moo *args``; it must exit 2 with one line ``error: ...``; returns the rest."""
    result = CliRunner().invoke(app, list(args))
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), result.output
    return lines[0].removeprefix("error: ")


def succeeds(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


# ---------------------------------------------------------------------- overrides (item 1)
@pytest.mark.parametrize("value", ["0", "-5"])
def test_an_invalid_max_trials_on_run_is_refused_and_creates_nothing(
    write_study: WriteStudy, value: str
) -> None:
    path = write_study("s")
    assert fails("run", str(path), "--max-trials", value) == (
        f"--max-trials {value}: stop.max_trials: Input should be greater than or equal to 1"
    )
    assert not (path.parent / "studies").exists()


def test_an_invalid_max_trials_on_resume_is_refused_and_not_stored(
    write_study: WriteStudy,
) -> None:
    succeeds("run", str(write_study("s", stop={"max_trials": 2, "rule": "budget"})))
    assert fails("resume", "s", "--max-trials", "-5") == (
        "--max-trials -5: stop.max_trials: Input should be greater than or equal to 1"
    )
    study, config = load_study("s")  # still loads: nothing invalid was stored
    assert config.stop.max_trials == 2 and len(study.trials) == 2


def test_a_study_with_an_invalid_stored_config_is_repaired_by_resume(
    write_study: WriteStudy,
) -> None:
    succeeds("run", str(write_study("s", stop={"max_trials": 2, "rule": "budget"})))
    # What an older moo stored after `--max-trials -5`: every command refused the study.
    study = optuna.load_study(study_name="s", storage="sqlite:///studies/s.db")
    stored = study.user_attrs[CONFIG_KEY]
    study.set_user_attr(CONFIG_KEY, {**stored, "stop": {**stored["stop"], "max_trials": -5}})
    assert fails("status", "s") == (
        "study s: stop.max_trials: Input should be greater than or equal to 1 "
        "(the stored config is invalid; `moo resume s --max-trials N` repairs it)"
    )
    succeeds("resume", "s", "--max-trials", "3")
    study, config = load_study("s")
    assert config.stop.max_trials == 3 and len(study.trials) == 3
    assert study.user_attrs[CONFIG_KEY]["stop"]["max_trials"] == 3
