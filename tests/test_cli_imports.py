"""Reading a study needs no torch: the commands that only read storage stay fast.

torch and BoTorch take seconds to import; ``moo status`` on a running study is a command
people type again and again, and ``moo report`` / ``moo recommend`` on a TinyML study
re-rank its stored trials without training anything. Each command runs in a fresh
interpreter under ``-X importtime``, which lists every module it imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from moo.cli import app
from tests.conftest import study_dict

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "botorch", "gpytorch", "linear_operator")
"""Top-level packages that a command which only reads a study must not import."""


def _imported(args: list[str], cwd: Path) -> tuple[set[str], str]:
    """Top-level packages a fresh ``python <args>`` imported, and its stdout."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return names, done.stdout


def _stored(folder: Path, data: dict[str, Any]) -> Path:
    """``folder``, its default storage holding the finished study ``data`` (run here)."""
    name = data["study"]["name"]
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    storage = f"sqlite:///{folder}/studies/{name}.db"  # what `moo status <name>` opens there
    result = CliRunner().invoke(app, ["run", str(path), "--storage", storage])
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose default storage holds a finished 3-trial BraninCurrin study."""
    data = study_dict("read", sampler={"n_initial": 3}, stop={"max_trials": 3, "rule": "budget"})
    return _stored(tmp_path_factory.mktemp("read"), data)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "shows"),
    [
        (["-m", "moo", "status", "read"], "3 of max 3"),
        (["-m", "moo", "pareto", "read", "--csv"], "trial,x0,x1,f0,f1"),
        (["-c", "import moo; print(moo.load_study(name='read')[1].study.name)"], "read"),
    ],
    ids=["status", "pareto", "public-api"],
)
def test_reading_a_study_imports_neither_torch_nor_botorch(
    study_dir: Path, args: list[str], shows: str
) -> None:
    names, out = _imported(args, study_dir)
    assert shows in out  # the command did its work, not an early exit
    assert "optuna" in names  # the import list was read
    assert names.isdisjoint(HEAVY), sorted(names & set(HEAVY))


@pytest.fixture(scope="module")
def tinyml_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose default storage holds a finished 2-trial TinyML study on digits (real
    training, one epoch): 4 costed configs, each model on both devices."""
    data = study_dict(
        "tiny",
        objective={
            "adapter": "objectives.tinyml:Classifier",
            "options": {
                "task": "digits",
                "devices": ["cortex_m4", "cortex_m7"],
                "epochs": 1,
                "finetune_epochs": 0,
            },
        },
        objectives=[
            {"name": "accuracy", "direction": "maximize"},
            {"name": "latency_ms", "direction": "minimize"},
        ],
        space={
            "parameters": {
                "arch": {"type": "categorical", "choices": ["mlp"]},
                "depth": {"type": "int", "low": 1, "high": 2},
                "width": {"type": "int", "low": 8, "high": 32},
                "bits": {"type": "ordinal", "values": [8, 32]},
                "device": {"type": "categorical", "choices": ["cortex_m4", "cortex_m7"]},
            }
        },
        workload={"period_s": 1.0, "battery_mAh": 220, "voltage": 3.0},
        sampler={"n_initial": 2},
        stop={"max_trials": 2, "rule": "budget"},
    )
    return _stored(tmp_path_factory.mktemp("tinyml"), data)


@pytest.mark.slow
def test_report_and_recommend_on_a_tinyml_study_import_no_torch(tinyml_dir: Path) -> None:
    """The duty-cycle sweep asks the TinyML adapter's ``workload_metrics`` hook, which needs
    the stored latency and energy and the config's device, not a network (nor ``onnx``,
    which the hardware models import only to read a model)."""
    names, out = _imported(["-m", "moo", "report", "tiny", "--out", "report"], tinyml_dir)
    assert names.isdisjoint({*HEAVY, "onnx"}), sorted(names & {*HEAVY, "onnx"})
    assert (tinyml_dir / "report" / "duty_cycle.png").read_bytes()[:4] == b"\x89PNG"
    assert (
        "Which chip at which inference rate" in (tinyml_dir / "report" / "report.html").read_text()
    )
    names, out = _imported(["-m", "moo", "recommend", "tiny", "--period", "500ms"], tinyml_dir)
    assert names.isdisjoint({*HEAVY, "onnx"}), sorted(names & {*HEAVY, "onnx"})
    assert "winner: trial" in out, out


@pytest.mark.slow
def test_the_import_list_shows_torch_where_it_is_imported(study_dir: Path) -> None:
    """The check above can fail: the module that proposes configs shows torch in the list."""
    names, _ = _imported(["-c", "import moo.sampler"], study_dir)
    assert {"torch", "botorch"} <= names
