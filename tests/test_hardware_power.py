"""Duty cycle: average power, battery life, and the Cortex-M paper's M7/M4 crossover."""

from __future__ import annotations

import pytest

from objectives.hardware import (
    HardwareError,
    average_power_mW,
    battery_life_h,
    cost_on_devices,
    load_device,
    reference_graph,
)


@pytest.fixture(scope="module")
def kws_costs() -> dict:
    return cost_on_devices(reference_graph("kws"), ["cortex_m4", "cortex_m7"])


def crossover_s(kws_costs: dict) -> float:
    """Period where both boards draw the same average power (closed form)."""
    m4, m7 = load_device("cortex_m4"), load_device("cortex_m7")
    c4, c7 = kws_costs["cortex_m4"], kws_costs["cortex_m7"]
    fixed4 = c4.energy_mJ - m4.idle_power_mW * c4.latency_ms / 1e3
    fixed7 = c7.energy_mJ - m7.idle_power_mW * c7.latency_ms / 1e3
    return (fixed4 - fixed7) / (m7.idle_power_mW - m4.idle_power_mW)


@pytest.mark.parametrize("period_s", [0.1, 0.25, 0.5])
def test_m7_wins_at_frequent_inference(kws_costs: dict, period_s: float) -> None:
    m4 = average_power_mW(kws_costs["cortex_m4"], "cortex_m4", period_s)
    m7 = average_power_mW(kws_costs["cortex_m7"], "cortex_m7", period_s)
    assert m7 < m4


@pytest.mark.parametrize("period_s", [2.5, 5.0, 60.0])
def test_m4_wins_at_rare_inference(kws_costs: dict, period_s: float) -> None:
    m4 = average_power_mW(kws_costs["cortex_m4"], "cortex_m4", period_s)
    m7 = average_power_mW(kws_costs["cortex_m7"], "cortex_m7", period_s)
    assert m4 < m7


def test_the_crossover_lies_between_half_a_second_and_two_and_a_half(kws_costs: dict) -> None:
    t_star = crossover_s(kws_costs)
    assert 0.5 < t_star < 2.5
    m4 = average_power_mW(kws_costs["cortex_m4"], "cortex_m4", t_star)
    m7 = average_power_mW(kws_costs["cortex_m7"], "cortex_m7", t_star)
    assert m4 == pytest.approx(m7, rel=1e-9)


def test_average_power_tends_to_idle_power_for_long_periods(kws_costs: dict) -> None:
    power = average_power_mW(kws_costs["cortex_m7"], "cortex_m7", 1e6)
    assert power == pytest.approx(load_device("cortex_m7").idle_power_mW, rel=1e-6)


def test_average_power_at_back_to_back_inference_is_active_power(kws_costs: dict) -> None:
    cost = kws_costs["cortex_m4"]
    power = average_power_mW(cost, "cortex_m4", cost.latency_ms / 1e3)
    assert power == pytest.approx(load_device("cortex_m4").active_power_mW)


def test_battery_life_is_capacity_over_average_power(kws_costs: dict) -> None:
    cost = kws_costs["cortex_m4"]
    hours = battery_life_h(cost, "cortex_m4", 1.0, battery_mAh=1000, voltage=3.0)
    assert hours == pytest.approx(3000 / average_power_mW(cost, "cortex_m4", 1.0))


def test_period_shorter_than_an_inference_is_an_error(kws_costs: dict) -> None:
    with pytest.raises(HardwareError, match=r"`period_s` must be at least the inference latency"):
        average_power_mW(kws_costs["cortex_m4"], "cortex_m4", 0.001)


def test_battery_needs_a_positive_capacity(kws_costs: dict) -> None:
    with pytest.raises(HardwareError, match=r"`battery_mAh` and `voltage` must be > 0"):
        battery_life_h(kws_costs["cortex_m4"], "cortex_m4", 1.0, battery_mAh=0)
