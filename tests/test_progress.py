"""Live output: plain lines when stdout is not a terminal (CI, nohup, a log file)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from moo.cli import app

WriteStudy = Callable[..., Path]


def test_a_run_into_a_pipe_prints_one_line_per_trial(write_study: WriteStudy) -> None:
    path = write_study(
        "piped",
        sampler={"n_initial": 3, "num_restarts": 2, "raw_samples": 32},
        stop={"max_trials": 4, "rule": "budget"},
    )
    result = CliRunner().invoke(app, ["run", str(path)])  # CliRunner's stdout is no tty
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    trials = [line for line in lines if line.startswith("piped: trial ")]
    pattern = (
        r"piped: trial (\d)/4  HV (-|\d\.\d{4})  front \d+  \d+\.\d s complete  elapsed \d+:\d\d"
    )
    assert [int(re.fullmatch(pattern, line)[1]) for line in trials] == [1, 2, 3, 4], trials
    # The reference freezes after the design: HV from then on.
    assert trials[0].split("HV ")[1].startswith("-") and "HV -" not in trials[3]
    # A line before the slow steps, in order.
    adapter = lines.index("loading the adapter objectives.synthetic:SyntheticProblem")
    design = next(i for i, line in enumerate(lines) if line.startswith("initial design done"))
    assert adapter < lines.index(trials[0]) < design < lines.index(trials[3])
    assert lines[-1].startswith("piped: stopped, max_trials (4) reached.")
    assert "━" not in result.output  # no bar
