"""Optuna's samplers run from a study YAML get the sampler suite's setup: fair peers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.samplers import GPSampler, NSGAIISampler
from typer.testing import CliRunner

from moo.cli import app
from moo.config import load_study_config
from moo.history import proposed
from moo.study import build_sampler, load_study

optuna.logging.set_verbosity(optuna.logging.WARNING)
WriteStudy = Callable[..., Path]
N_INITIAL = 4


@pytest.mark.parametrize("deterministic", [True, False])
def test_gp_peer_is_told_when_the_objectives_repeat_exactly(
    write_study: WriteStudy, deterministic: bool
) -> None:
    path = write_study("gp", sampler={"name": "gp", "deterministic": deterministic})
    config = load_study_config(path)
    sampler = build_sampler(config, config.search_space(), adapter=None)
    assert isinstance(sampler, GPSampler)
    assert sampler._deterministic is deterministic  # Optuna keeps the flag only there


def test_nsga2_peer_takes_the_design_as_its_first_generation(write_study: WriteStudy) -> None:
    path = write_study("nsga", sampler={"name": "nsga2", "n_initial": 6})
    config = load_study_config(path)
    sampler = build_sampler(config, config.search_space(), adapter=None)
    assert isinstance(sampler, NSGAIISampler)
    assert sampler.population_size == 6


def _first_params(name: str) -> list[dict[str, float]]:
    study, _ = load_study(name)
    trials = sorted(proposed(study.get_trials()), key=lambda t: t.number)
    return [t.params for t in trials[:N_INITIAL]]


@pytest.mark.slow
def test_moo_run_gives_peers_moos_sobol_design(write_study: WriteStudy) -> None:
    runner = CliRunner()
    for name in ("moo", "tpe", "nsga2"):
        path = write_study(
            name,
            sampler={"name": name, "n_initial": N_INITIAL},
            stop={"max_trials": N_INITIAL + (name != "moo"), "rule": "budget"},
        )
        result = runner.invoke(app, ["run", str(path)])
        assert result.exit_code == 0, result.output
    config = load_study_config(path)
    design = config.search_space().sobol(N_INITIAL, config.study.seed)
    assert _first_params("moo") == design
    assert _first_params("tpe") == design
    assert _first_params("nsga2") == design
