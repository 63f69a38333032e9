"""Duty-cycle objectives: the workload reaches the adapter, which reports average power
and battery life per device exactly as ``objectives.hardware`` computes them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from moo.config import load_adapter, load_study_config
from moo.errors import ConfigError
from moo.study import build_sampler
from objectives.hardware import HardwareCost, average_power_mW, battery_life_h
from objectives.protocol import EvalContext, Workload
from objectives.tinyml import Classifier, OptionsError, TinyMLError

REPO = Path(__file__).resolve().parents[1]
DEVICES = ["cortex_m0plus", "cortex_m4", "cortex_m7"]
WORKLOAD = Workload(periods_s=(0.01, 5.0), battery_mAh=220.0, voltage=3.0)
CNN: dict[str, Any] = {
    "arch": "cnn",
    "blocks": 2,
    "channels": 16,
    "kernel": 3,
    "width_mult": 1.0,
    "bits": 8,
    "prune_ratio": 0.0,
    "prune_kind": "structured",
}
WriteStudy = Callable[..., Path]


@pytest.fixture(scope="module")
def adapter() -> Classifier:
    return Classifier(
        task="digits", devices=DEVICES, epochs=2, finetune_epochs=1, workload=WORKLOAD
    )


def _direct(metrics: dict[str, float], device: str, period: float) -> tuple[float, float]:
    """Average power and battery life from ``objectives.hardware`` itself."""
    cost = HardwareCost(device, metrics["latency_ms"], metrics["energy_mJ"], 0, 0, 0, 0)
    period = max(period, metrics["latency_ms"] / 1e3)
    return (
        average_power_mW(cost, device, period),
        battery_life_h(cost, device, period, 220.0, 3.0),
    )


@pytest.mark.parametrize("device", DEVICES)
def test_known_metrics_hold_the_duty_cycle_at_every_period(
    adapter: Classifier, device: str
) -> None:
    known = adapter.known_metrics({**CNN, "device": device})
    for period in WORKLOAD.periods_s:
        power, hours = _direct(known, device, period)
        assert known[f"avg_power_mW@{period:g}s"] == pytest.approx(power, rel=1e-12)
        assert known[f"battery_life_h@{period:g}s"] == pytest.approx(hours, rel=1e-12)
    assert known["avg_power_mW"] == known["avg_power_mW@0.01s"]  # the first, unsuffixed
    # At 5 s the idle current decides: the M4's 0.99 mW beats the M7's 5.3 mW.
    if device == "cortex_m4":
        m7 = adapter.known_metrics({**CNN, "device": "cortex_m7"})
        assert known["avg_power_mW@5s"] < m7["avg_power_mW@5s"]


def test_a_model_slower_than_the_period_is_infeasible_and_runs_back_to_back(
    adapter: Classifier,
) -> None:
    config = {**CNN, "device": "cortex_m0plus"}  # ~16 ms per inference on the M0+
    known = adapter.known_metrics(config)
    excess = adapter.check(config)["period_excess_ms"]
    assert excess == pytest.approx(known["latency_ms"] - 10.0) and excess > 0
    active_mW = known["energy_mJ"] / known["latency_ms"] * 1e3
    assert known["avg_power_mW@0.01s"] == pytest.approx(active_mW)
    assert adapter.check({**CNN, "device": "cortex_m7"})["period_excess_ms"] < 0


def test_evaluate_gives_every_sibling_its_duty_cycle(adapter: Classifier, tmp_path: Path) -> None:
    result = adapter.evaluate({**CNN, "device": "cortex_m4"}, EvalContext(0, tmp_path))
    rows = [("cortex_m4", result.metrics, result.constraints)] + [
        (s.overrides["device"], s.metrics, s.constraints) for s in result.siblings
    ]
    assert sorted(device for device, _, _ in rows) == DEVICES
    for device, metrics, constraints in rows:
        assert metrics["avg_power_mW@5s"] == pytest.approx(_direct(metrics, device, 5.0)[0])
        assert "period_excess_ms" in constraints
        replay = adapter.workload_metrics(
            {**CNN, "device": device}, metrics, WORKLOAD.at(5.0)
        ).metrics
        assert replay["avg_power_mW"] == pytest.approx(metrics["avg_power_mW@5s"])


def test_the_workload_is_a_study_section_not_an_adapter_option(
    write_study: WriteStudy,
) -> None:
    with pytest.raises(OptionsError, match="top-level `workload:` section"):
        Classifier(task="digits", workload={"period_s": 1.0})  # type: ignore[arg-type]
    path = write_study("synthetic", workload={"period_s": 2.0})
    config = load_study_config(path)
    with pytest.raises(ConfigError, match="takes no workload"):
        load_adapter(config.objective, config.workload_spec())


@pytest.mark.parametrize(
    ("workload", "message"),
    [
        ({"period_s": 0}, "workload.period_s"),
        ({"period_s": [1.0, 1.0]}, "distinct periods"),
        ({"period_s": 1.0, "battery_mAh": -5}, "workload.battery_mAh"),
        ({"period_s": 1.0, "volts": 3}, "workload.volts"),
    ],
)
def test_bad_workloads_are_one_line(write_study: WriteStudy, workload: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        load_study_config(write_study("bad", workload=workload))
    assert "\n" not in str(e.value)


def test_the_duty_quickstart_knows_its_power_objectives_and_the_m4_wins_rare_inference() -> None:
    config = load_study_config(REPO / "experiments" / "quickstart_duty.yaml")
    adapter = load_adapter(config.objective, config.workload_spec())
    space = config.search_space()
    sampler = build_sampler(config, space, adapter)
    assert set(sampler.known_objectives) == {1, 2}  # both powers exact; accuracy learned
    for base in space.sobol(8, seed=0):
        try:
            powers = {
                d: adapter.known_metrics({**base, "device": d})["avg_power_mW@2s"] for d in DEVICES
            }
        except TinyMLError:
            continue  # a shape the 8x8 input cannot hold
        assert min(powers, key=powers.__getitem__) == "cortex_m4", (base, powers)
