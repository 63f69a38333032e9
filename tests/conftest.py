"""Shared fixtures: a study YAML writer and single-threaded torch (2-core CI machines)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

torch.set_num_threads(1)

# The adapters that misbehave on purpose live in tests/; workers load only allowed modules.
os.environ.setdefault("MOO_ADAPTER_ALLOW", "objectives,tests.adapters")

POSTGRES_URL = os.environ.get("MOO_TEST_POSTGRES_URL")
"""A PostgreSQL URL to run the ``postgres`` tests against (``.ci/run`` starts a server)."""

BRANIN_SPACE = {
    "parameters": {
        "x0": {"type": "float", "low": 0.0, "high": 1.0},
        "x1": {"type": "float", "low": 0.0, "high": 1.0},
    }
}


def study_dict(name: str, **sections: Any) -> dict[str, Any]:
    """A BraninCurrin study definition; keyword sections replace the defaults."""
    data: dict[str, Any] = {
        "study": {"name": name, "seed": 0},
        "objective": {
            "adapter": "objectives.synthetic:SyntheticProblem",
            "options": {"problem": "branin_currin"},
        },
        "objectives": [
            {"name": "f0", "direction": "minimize"},
            {"name": "f1", "direction": "minimize"},
        ],
        "space": BRANIN_SPACE,
        "sampler": {"num_restarts": 2, "raw_samples": 64},
        "stop": {"max_trials": 10, "rule": "budget"},
        "execution": {"heartbeat_interval": 1, "grace_period": 2},
    }
    data.update(sections)
    return data


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a fresh directory: the default storage ``studies/`` lands there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def write_study(in_tmp: Path) -> Callable[..., Path]:
    def write(name: str = "s", **sections: Any) -> Path:
        path = in_tmp / f"{name}.yaml"
        path.write_text(yaml.safe_dump(study_dict(name, **sections)))
        return path

    return write
