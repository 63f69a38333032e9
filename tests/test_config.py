from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from moo.bo import ProposalSettings
from moo.cli import app
from moo.config import load_study_config
from moo.errors import ConfigError
from tests.conftest import study_dict


def test_a_valid_file_loads_with_its_space_inlined(in_tmp: Path) -> None:
    (in_tmp / "space.yaml").write_text(yaml.safe_dump(study_dict("a")["space"]))
    data = {**study_dict("a"), "space": "space.yaml"}
    (in_tmp / "a.yaml").write_text(yaml.safe_dump(data))
    config = load_study_config(in_tmp / "a.yaml")
    assert config.space["parameters"]["x0"]["high"] == 1.0
    assert config.storage_url == "sqlite:///studies/a.db"


def test_bad_yaml_says_where(in_tmp: Path) -> None:
    (in_tmp / "bad.yaml").write_text("study: {name: x\nobjectives: [\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML \(line \d+, column \d+") as e:
        load_study_config(in_tmp / "bad.yaml")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"space": {"parameters": {"x0": {"type": "quantum"}}}}, "space.parameters.x0"),
        ({"stop": {"window": 0}}, "stop.window"),
        ({"objectives": [{"name": "f0", "direction": "minimize"}]}, "objectives"),
        ({"sampler": {"acquisition": "ei"}}, "sampler.acquisition"),
        (
            {"sampler": {"proposal": {"screen": 3}}},
            "sampler.proposal: unknown setting 'screen'",
        ),
        (
            {"sampler": {"proposal": {"ehvi_after": -1}}},
            "sampler.proposal: ProposalSettings.ehvi_after must be >= 0",
        ),
        ({"execution": {"executor": "slurm"}}, "execution.executor"),
        ({"stop": {"max_trails": 3}}, "stop.max_trails"),
    ],
)
def test_invalid_values_name_file_and_key(in_tmp: Path, change: dict, key: str) -> None:
    (in_tmp / "s.yaml").write_text(yaml.safe_dump(study_dict("s", **change)))
    with pytest.raises(ConfigError) as e:
        load_study_config(in_tmp / "s.yaml")
    message = str(e.value)
    assert message.startswith(f"{in_tmp / 's.yaml'}") and key in message
    assert "\n" not in message


def test_sampler_settings_come_from_the_yaml_once(in_tmp: Path) -> None:
    sampler = {"num_restarts": 3, "proposal": {"screen_size": None, "raw_samples": 16}}
    (in_tmp / "s.yaml").write_text(yaml.safe_dump(study_dict("s", sampler=sampler)))
    settings = load_study_config(in_tmp / "s.yaml").sampler.settings()
    assert (settings.num_restarts, settings.raw_samples, settings.screen_size) == (3, 16, None)
    assert settings.ehvi_after == ProposalSettings().ehvi_after  # unnamed: moo's default


def test_cli_prints_one_line_and_exits_2(write_study: Callable[..., Path]) -> None:
    path = write_study("s", stop={"max_trials": -1})
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "stop.max_trials" in lines[0] and lines[0].startswith("error:")
    assert not (path.parent / "studies").exists()  # nothing was created


def test_unknown_adapter_and_bad_options_are_config_errors(
    write_study: Callable[..., Path],
) -> None:
    runner = CliRunner()
    path = write_study("s", objective={"adapter": "objectives.nowhere:Thing", "options": {}})
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2 and "cannot import module 'objectives.nowhere'" in result.output
    path = write_study(
        "t",
        objective={"adapter": "objectives.synthetic:SyntheticProblem", "options": {"problem": "x"}},
    )
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2 and "Unknown synthetic problem 'x'" in result.output


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for command in (
        "run",
        "resume",
        "status",
        "pareto",
        "export",
        "report",
        "devices",
        "calibrate",
    ):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, command
