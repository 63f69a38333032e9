"""``moo report``: an HTML page that works offline, PNGs with the declared log axes."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moo.cli import app
from moo.config import load_study_config
from moo.plots import pairs_plot
from moo.report import front_table
from moo.results import trials_frame
from moo.study import StudyRun, create_study, load_study
from tests.test_study import DEVICE_SPACE

WriteStudy = Callable[..., Path]
OBJECTIVES = [
    {"name": "f0", "direction": "minimize", "scale": "log"},
    {"name": "f1", "direction": "minimize", "threshold": 10.0},
    {"name": "speed", "direction": "maximize"},
]


@pytest.fixture
def study_path(write_study: WriteStudy) -> Path:
    """Three objectives (one log, one thresholded), three staged devices as siblings."""
    path = write_study(
        "rep",
        objective={"adapter": "tests.adapters:PerDevice"},
        objectives=OBJECTIVES,
        space=DEVICE_SPACE,
        sampler={"n_initial": 4, "num_restarts": 2, "raw_samples": 32},
        stop={"max_trials": 5, "rule": "budget"},
    )
    config = load_study_config(path)
    StudyRun(create_study(config), config).run()
    return path


@pytest.mark.slow
def test_the_report_works_offline_and_marks_what_the_study_declares(
    study_path: Path, in_tmp: Path
) -> None:
    result = CliRunner().invoke(app, ["report", "rep", "--out", "out"])
    assert result.exit_code == 0, result.output
    page = (in_tmp / "out" / "report.html").read_text()
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts and not any("src" in tag for tag in scripts)  # nothing fetched
    assert "plotly.js v" in page  # the library itself is inline
    assert page.count('"type":"log"') >= 2  # f0's axis in its 2-D pairs
    assert '"type":"scatter3d"' in page and '"type":"parcoords"' in page
    assert "threshold 10" in page and "f1 &lt; 10" in page
    assert "initial design | model-based" in page
    for name in ("pareto.png", "hv_history.png"):
        assert (in_tmp / "out" / name).read_bytes()[:4] == b"\x89PNG"
    assert not (in_tmp / "out" / "duty_cycle.png").exists()  # no workload_metrics hook


def test_the_pngs_use_log_axes_where_declared(study_path: Path) -> None:
    config = load_study_config(study_path)
    study, _ = load_study("rep")
    frame = trials_frame(study, config)
    fig = pairs_plot(frame[frame["feasible"]], config, "device")
    scales = [(ax.get_xlabel().split()[0], ax.get_xscale(), ax.get_yscale()) for ax in fig.axes]
    assert scales == [
        ("f0", "log", "linear"),  # f0 vs f1
        ("f0", "log", "linear"),  # f0 vs speed
        ("f1", "linear", "linear"),  # f1 vs speed
    ]


def test_the_front_table_shows_every_device_of_each_front_model(study_path: Path) -> None:
    config = load_study_config(study_path)
    study, _ = load_study("rep")
    frame = trials_frame(study, config)
    table = front_table(frame, config)
    front_models = set(frame[frame["on_front"]]["sibling_of"].fillna(frame["trial"]).astype(int))
    assert set(table["model"]) == front_models
    for _, rows in table.groupby("model"):
        assert sorted(rows["device"]) == ["fast", "mid", "slow"]
    assert {"f0", "f1", "speed", "on_front", "feasible"} <= set(table.columns)
    assert table["on_front"].sum() == frame["on_front"].sum()
