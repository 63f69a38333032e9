"""``moo recommend``: which config on which chip at an inference period, checked against
``objectives.hardware.average_power_mW`` on a small study with real training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from moo.cli import app
from moo.errors import ConfigError
from moo.keys import METRICS_KEY
from moo.recommend import format_period, parse_period
from moo.study import load_study
from objectives.hardware import HardwareCost, average_power_mW, load_device

REPO = Path(__file__).resolve().parents[1]
DEVICES = ["cortex_m0plus", "cortex_m4", "cortex_m7"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("100ms", 0.1),
        ("2s", 2.0),
        ("5min", 300.0),
        ("1h", 3600.0),
        ("0.5", 0.5),
        ("250us", 250e-6),
        (" 1.5 s ", 1.5),
        ("1e-3s", 1e-3),
    ],
)
def test_periods_read_as_people_write_them(text: str, seconds: float) -> None:
    assert parse_period(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["10parsecs", "-1s", "0s", "", "1 h h", "s"])
def test_a_bad_period_is_one_clear_line(text: str) -> None:
    with pytest.raises(ConfigError, match="--period") as e:
        parse_period(text)
    assert "\n" not in str(e.value)


def test_periods_print_in_their_unit() -> None:
    assert [format_period(s) for s in (2e-4, 0.0507, 1.1, 300.0, 7200.0)] == [
        "200 µs",
        "50.7 ms",
        "1.1 s",
        "5 min",
        "2 h",
    ]


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A quickstart-like study: digits, three Cortex-M cores, 4 trained models."""
    folder = tmp_path_factory.mktemp("recommend")
    study = {
        "study": {"name": "small", "seed": 0},
        "objective": {
            "adapter": "objectives.tinyml:Classifier",
            "options": {"task": "digits", "devices": DEVICES, "epochs": 2, "finetune_epochs": 1},
        },
        "objectives": [
            {"name": "accuracy", "direction": "maximize"},
            {"name": "latency_ms", "direction": "minimize", "scale": "log"},
            {"name": "energy_mJ", "direction": "minimize", "scale": "log"},
        ],
        "space": str(REPO / "search_spaces" / "tinyml_digits.yaml"),
        "sampler": {"n_initial": 4},
        "stop": {"max_trials": 4, "rule": "budget"},
    }
    path = folder / "small.yaml"
    path.write_text(yaml.safe_dump(study))
    url = f"sqlite:///{folder / 'small.db'}"
    result = CliRunner().invoke(app, ["run", str(path), "--storage", url])
    assert result.exit_code == 0, result.output
    return url


def _recommend(storage: str, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["recommend", "small", "--storage", storage, "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _direct_powers(storage: str, period: float) -> dict[int, tuple[str, float]]:
    """Trial -> (device, average power), from the stored costs and the hardware library."""
    study, _ = load_study("small", storage=storage)
    powers = {}
    for t in study.get_trials():
        metrics = t.user_attrs[METRICS_KEY]
        device = t.params["device"]
        fits = all(v <= 0 for v in t.constraints.values())
        if fits and metrics["latency_ms"] / 1e3 <= period:
            cost = HardwareCost(device, metrics["latency_ms"], metrics["energy_mJ"], 0, 0, 0, 0)
            powers[t.number] = (device, average_power_mW(cost, device, period))
    return powers


@pytest.mark.slow
@pytest.mark.parametrize("period", [0.1, 10.0])
def test_the_winner_is_the_least_average_power(storage: str, period: float) -> None:
    answer = _recommend(storage, "--period", f"{period}s", "--battery-mAh", "220")
    powers = _direct_powers(storage, period)
    best = min(powers, key=lambda n: powers[n][1])
    winner = answer["winner"]
    assert (winner["trial"], winner["device"]) == (best, powers[best][0])
    assert winner["avg_power_mW"] == pytest.approx(powers[best][1], rel=1e-9)
    assert winner["battery_life_h"] == pytest.approx(220 * 3.0 / powers[best][1], rel=1e-9)
    assert answer["period_s"] == period and {"accuracy", "latency_ms"} <= set(winner)
    # Winner and runner-up of every device, each the device's least power.
    for device, ranked in answer["devices"].items():
        mine = sorted(p for d, p in powers.values() if d == device)
        assert [r["avg_power_mW"] for r in ranked] == pytest.approx(mine[:2], rel=1e-9)


@pytest.mark.slow
def test_the_sweep_finds_the_crossover_where_the_powers_cross(storage: str) -> None:
    answer = _recommend(storage, "--period", "2s")
    assert answer["crossovers"], answer["sweep"]
    for crossover in answer["crossovers"]:
        period = crossover["period_s"]
        before = _direct_powers(storage, period * 0.999)
        after = _direct_powers(storage, period * 1.001)
        assert before[crossover["from_trial"]][0] == crossover["from"]
        assert min(before, key=lambda n: before[n][1]) == crossover["from_trial"]
        assert min(after, key=lambda n: after[n][1]) == crossover["to_trial"]
    # At an hour the idle power decides: the winner idles lowest of the study's devices.
    assert answer["sweep"][-1]["device"] == min(DEVICES, key=lambda d: load_device(d).idle_power_mW)


@pytest.mark.slow
def test_floors_plot_and_errors(storage: str, tmp_path: Path) -> None:
    accuracies = [
        r["accuracy"]
        for ranked in _recommend(storage, "--period", "1s")["devices"].values()
        for r in ranked
    ]
    floor = sorted(set(accuracies))[-1]
    answer = _recommend(storage, "--period", "1s", "--min", f"accuracy={floor}")
    assert answer["winner"]["accuracy"] >= floor and answer["floors"] == [f"accuracy>={floor:g}"]
    plot = tmp_path / "duty.png"
    runner = CliRunner()
    result = runner.invoke(
        app, ["recommend", "small", "--storage", storage, "--period", "5s", "--plot", str(plot)]
    )
    assert result.exit_code == 0, result.output
    assert "winner: trial" in result.output and "crossover at" in result.output
    assert plot.read_bytes()[:4] == b"\x89PNG"
    for args, message in [
        (["--period", "fast"], "--period 'fast'"),
        ([], "states no workload: pass --period"),
        (["--period", "1s", "--min", "acc=0.9"], "unknown metric 'acc'"),
        (["--period", "1s", "--min", "accuracy"], "expected METRIC=NUMBER"),
    ]:
        result = runner.invoke(app, ["recommend", "small", "--storage", storage, *args])
        assert result.exit_code == 2 and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_report_draws_the_duty_cycle(storage: str, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", "small", "--storage", storage, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "duty_cycle.png").read_bytes()[:4] == b"\x89PNG"
    page = (out / "report.html").read_text()
    crossover = _recommend(storage, "--period", "1s")["crossovers"][0]
    assert "Which chip at which inference rate" in page
    assert json.dumps(f"{crossover['from']} → {crossover['to']}")[1:-1] in page  # plotly JSON


@pytest.mark.slow
def test_a_searched_runtime_is_part_of_the_deployment(tmp_path: Path) -> None:
    space = yaml.safe_load((REPO / "search_spaces" / "tinyml_digits.yaml").read_text())
    space["parameters"]["device"] = {"type": "categorical", "choices": ["cortex_m4", "cortex_m7"]}
    space["parameters"]["runtime"] = {"type": "categorical", "choices": ["x_cube_ai", "plumerai"]}
    study = {
        "study": {"name": "rt", "seed": 0},
        "objective": {
            "adapter": "objectives.tinyml:Classifier",
            "options": {
                "task": "digits",
                "devices": ["cortex_m4", "cortex_m7"],
                "runtimes": ["x_cube_ai", "plumerai"],
                "epochs": 2,
                "finetune_epochs": 1,
            },
        },
        "objectives": [
            {"name": "accuracy", "direction": "maximize"},
            {"name": "energy_mJ", "direction": "minimize", "scale": "log"},
        ],
        "space": space,
        "sampler": {"n_initial": 2},
        "stop": {"max_trials": 2, "rule": "budget"},
    }
    (tmp_path / "rt.yaml").write_text(yaml.safe_dump(study))
    url = f"sqlite:///{tmp_path / 'rt.db'}"
    runner = CliRunner()
    assert runner.invoke(app, ["run", str(tmp_path / "rt.yaml"), "--storage", url]).exit_code == 0
    result = runner.invoke(app, ["recommend", "rt", "--storage", url, "--period", "50ms", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert set(answer["devices"]) == {
        f"{d}/{r}" for d in ("cortex_m4", "cortex_m7") for r in ("x_cube_ai", "plumerai")
    }
    winner = answer["winner"]
    cost = HardwareCost(winner["device"], winner["latency_ms"], winner["energy_mJ"], 0, 0, 0, 0)
    assert winner["avg_power_mW"] == pytest.approx(average_power_mW(cost, winner["device"], 0.05))
